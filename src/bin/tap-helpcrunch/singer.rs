//! The Singer messages on standard output, a line each. A tap killed mid-sync leaves whole
//! lines behind it: the lines are written in blocks of whole lines of at most `PIPE_BUF`
//! bytes, which a pipe takes whole or not at all, so a target never reads half a line (it
//! would fail on it, losing the records it had not yet loaded). A line longer than that (a
//! long record, the chats' SCHEMA) goes alone, in one write, which a kill in the middle of
//! could still cut.

use std::io::{self, BufWriter, Stdout, Write};
use std::time::SystemTime;

use helpcrunch_pager::SyncState;
use serde_json::{json, Value};

use crate::shared::time::rfc3339;

/// The most a write to a pipe takes whole (POSIX's least `PIPE_BUF`, Linux's own).
const PIPE_BUF: usize = 4096;

/// Standard output, as Singer messages.
pub(crate) struct Messages {
    out: BufWriter<Stdout>,
    line: Vec<u8>,
    /// `time_extracted`, remade once a second.
    now: (u64, String),
}

impl Messages {
    pub(crate) fn stdout() -> Self {
        Self {
            out: BufWriter::with_capacity(PIPE_BUF, io::stdout()),
            line: Vec::with_capacity(1 << 12),
            now: (u64::MAX, String::new()),
        }
    }

    /// `SCHEMA`: what the stream's records hold, before the first of them.
    pub(crate) fn schema(
        &mut self,
        stream: &str,
        schema: &Value,
        key: &str,
        bookmark: Option<&str>,
    ) -> io::Result<()> {
        let mut message = json!({
            "type": "SCHEMA",
            "stream": stream,
            "schema": schema,
            "key_properties": [key],
        });
        if let Some(bookmark) = bookmark {
            message["bookmark_properties"] = json!([bookmark]);
        }
        self.value(&message)
    }

    /// `RECORD`: one record, as JSON text, with the time it was read, and the table version
    /// it belongs to where the stream is sent as one (see [`activate_version`](Self::activate_version)).
    pub(crate) fn record(
        &mut self,
        stream: &str,
        record: &str,
        version: Option<u64>,
    ) -> io::Result<()> {
        let secs = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if self.now.0 != secs {
            self.now = (secs, rfc3339(SystemTime::now()));
        }
        self.line.clear();
        // The stream's name and the time are the tap's own words: plain text, no escapes.
        write!(
            self.line,
            r#"{{"type":"RECORD","stream":"{stream}","time_extracted":"{}","#,
            self.now.1
        )?;
        if let Some(version) = version {
            write!(self.line, r#""version":{version},"#)?;
        }
        self.line.extend_from_slice(br#""record":"#);
        self.line.extend_from_slice(record.as_bytes());
        self.line.extend_from_slice(b"}\n");
        self.out.write_all(&self.line)
    }

    /// `ACTIVATE_VERSION`: every record of the stream's table version `version` has been
    /// sent, so a target may drop (or mark deleted) the rows of older versions: the records
    /// the read did not find.
    pub(crate) fn activate_version(&mut self, stream: &str, version: u64) -> io::Result<()> {
        self.value(&json!({"type": "ACTIVATE_VERSION", "stream": stream, "version": version}))
    }

    /// `STATE`: the sync's state, from which a run started again loses nothing; everything
    /// before it reaches standard output first.
    pub(crate) fn state(&mut self, state: &SyncState) -> io::Result<()> {
        self.value(&json!({"type": "STATE", "value": state}))?;
        self.out.flush()
    }

    /// Everything written reaches standard output.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn value(&mut self, message: &Value) -> io::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, message)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)
    }
}
