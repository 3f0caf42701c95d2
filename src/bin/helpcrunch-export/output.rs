//! The JSON Lines output: one record per line, exactly as the API sent it, written a page at a
//! time and counted in bytes so a checkpoint can say where the last whole page ends.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use helpcrunch_pager::RecordId;
use roaring::RoaringTreemap;
use sha2::{Digest, Sha256};

use crate::Failure;

pub(crate) struct Output {
    sink: Sink,
    bytes: u64,
    /// Lines in the output, including what an interrupted export had written.
    lines: u64,
    /// SHA-256 of the output's bytes so far, which a checkpoint seals itself with; kept only
    /// for an export with a checkpoint (see [`Output::digested`]).
    digest: Option<Sha256>,
    /// Where the file is to be cut before the first write: what an earlier run left past it
    /// (a previous export, a torn page) stays untouched until a page has arrived to replace it,
    /// so that a run that fails at its start leaves the file as it found it.
    cut_at: Option<u64>,
    /// The output file's lock, held for as long as the export runs (see [`lock`]); none for
    /// standard output or a device.
    _lock: Option<fd_lock::RwLock<File>>,
    /// The output as messages name it.
    name: String,
}

/// The ids an interrupted export had written: numbers compressed, as the scan keeps them,
/// and strings as they were sent.
#[derive(Debug, Default)]
pub(crate) struct Written {
    numbers: RoaringTreemap,
    texts: Vec<String>,
}

impl Written {
    pub(crate) fn into_ids(self) -> impl Iterator<Item = RecordId> {
        let texts = self.texts.into_iter().map(RecordId::Text);
        self.numbers.into_iter().map(RecordId::Number).chain(texts)
    }
}

enum Sink {
    File(BufWriter<File>),
    Stdout(BufWriter<io::Stdout>),
}

const BUFFER: usize = 64 << 10;

impl Output {
    pub(crate) fn stdout() -> Self {
        Self::new(
            Sink::Stdout(BufWriter::with_capacity(BUFFER, io::stdout())),
            None,
            "standard output".into(),
        )
    }

    /// A new output: a file is emptied once the first page has arrived (or the export ends
    /// with none), and anything else that can be opened for writing, such as `/dev/null`, is
    /// written to as it is.
    pub(crate) fn create(path: &Path) -> Result<Self, Failure> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| cannot("open", path, e))?;
        if !is_regular(&file, path)? {
            return Ok(Self::new(
                Sink::File(BufWriter::with_capacity(BUFFER, file)),
                None,
                name(path),
            ));
        }
        let lock = lock(&file, path)?;
        let mut output = Self::new(
            Sink::File(BufWriter::with_capacity(BUFFER, file)),
            Some(lock),
            name(path),
        );
        output.cut_at = Some(0);
        Ok(output)
    }

    /// The output of an interrupted export, to be cut back to the end of its last whole page
    /// when the next page arrives: a torn line or a page written after the last checkpoint is
    /// dropped, to be fetched again. What it keeps (all of it, if the file is shorter than
    /// that) is read once here for its length, lines and digest, which the checkpoint is
    /// checked against before anything is written, and, with `id_of`, for the ids of its
    /// records, which the resumed scan takes as yielded.
    pub(crate) fn resume(
        path: &Path,
        whole_pages_end: u64,
        id_of: Option<fn(&str) -> Option<RecordId>>,
    ) -> Result<(Self, Written), Failure> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| cannot("reopen", path, e))?;
        // A pipe or device was refused before it was opened (`State::open`).
        let lock = lock(&file, path)?;
        let len = file.metadata().map_err(|e| cannot("read", path, e))?.len();
        let kept_len = len.min(whole_pages_end);
        let (mut digest, mut lines, mut ids) = (Sha256::new(), 0, Written::default());
        let mut kept = BufReader::with_capacity(BUFFER, (&file).take(kept_len));
        let mut line = Vec::new();
        loop {
            line.clear();
            if kept
                .read_until(b'\n', &mut line)
                .map_err(|e| cannot("read", path, e))?
                == 0
            {
                break;
            }
            digest.update(&line);
            lines += u64::from(line.ends_with(b"\n"));
            let id = id_of.and_then(|id_of| id_of(std::str::from_utf8(&line).ok()?.trim_end()));
            match id {
                Some(RecordId::Number(n)) => {
                    ids.numbers.insert(n);
                }
                Some(RecordId::Text(s)) => ids.texts.push(s),
                // No other kind of id exists yet; one added later must be kept here too, or its
                // records would be written again by the resumed scan.
                _ => {}
            }
        }
        let output = Self {
            bytes: kept_len,
            lines,
            digest: Some(digest),
            cut_at: Some(kept_len),
            ..Self::new(
                Sink::File(BufWriter::with_capacity(BUFFER, file)),
                Some(lock),
                name(path),
            )
        };
        Ok((output, ids))
    }

    fn new(sink: Sink, lock: Option<fd_lock::RwLock<File>>, name: String) -> Self {
        Self {
            sink,
            bytes: 0,
            lines: 0,
            digest: None,
            cut_at: None,
            _lock: lock,
            name,
        }
    }

    /// Writes one record, on one line, and its line end.
    pub(crate) fn write_record(&mut self, raw: &str) -> io::Result<()> {
        self.cut()?;
        let line = crate::shared::record::one_line(raw);
        let w: &mut dyn Write = match &mut self.sink {
            Sink::File(w) => w,
            Sink::Stdout(w) => w,
        };
        w.write_all(line.as_bytes())?;
        w.write_all(b"\n")?;
        if let Some(digest) = &mut self.digest {
            digest.update(line.as_bytes());
            digest.update(b"\n");
        }
        self.bytes += line.len() as u64 + 1;
        self.lines += 1;
        Ok(())
    }

    /// Flushes what was written; with `durable`, to the disk itself, so that a checkpoint
    /// written next never claims bytes a power cut could lose.
    pub(crate) fn end_page(&mut self, durable: bool) -> io::Result<()> {
        // No cut here: a page with no record (an empty list's, or one the scan dropped whole)
        // has not replaced anything yet, and the export may still fail.
        match &mut self.sink {
            Sink::File(w) => {
                w.flush()?;
                if durable {
                    w.get_ref().sync_data()?;
                }
                Ok(())
            }
            Sink::Stdout(w) => w.flush(),
        }
    }

    /// The export is whole: a file it wrote no page into is cut now, as one would have been.
    pub(crate) fn finish(&mut self) -> io::Result<()> {
        self.cut()?;
        self.end_page(false)
    }

    /// Cuts the file where it was to be cut, once, before the first byte goes in.
    fn cut(&mut self) -> io::Result<()> {
        if let (Some(at), Sink::File(w)) = (self.cut_at.take(), &mut self.sink) {
            let file = w.get_mut();
            file.set_len(at)?;
            file.seek(SeekFrom::Start(at))?;
        }
        Ok(())
    }

    /// Bytes in the output, including what an interrupted export had written.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Lines in the output, including what an interrupted export had written.
    pub(crate) fn lines(&self) -> u64 {
        self.lines
    }

    /// The output as messages name it: `the output FILE`, or `standard output`.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// A new output that keeps the digest of what it writes, for a checkpoint to be sealed
    /// with (a resumed one always does).
    pub(crate) fn digested(mut self) -> Self {
        self.digest = Some(Sha256::new());
        self
    }

    /// The SHA-256 of the output so far, to go on hashing from.
    pub(crate) fn digest(&self) -> Sha256 {
        self.digest
            .clone()
            .expect("an output with a checkpoint is digested")
    }
}

/// Whether `file` is a regular file, which the export empties, locks and can resume; anything
/// else (`/dev/null`, a pipe) is written to as it is.
fn is_regular(file: &File, path: &Path) -> Result<bool, Failure> {
    Ok(file
        .metadata()
        .map_err(|e| cannot("open", path, e))?
        .is_file())
}

/// Takes the output file's lock, so that a second export into the same file (the same command
/// run twice, on the same checkpoint) is refused before it changes anything, instead of
/// interleaving with the first. The lock is released when the export ends, however it ends.
fn lock(file: &File, path: &Path) -> Result<fd_lock::RwLock<File>, Failure> {
    let handle = file.try_clone().map_err(|e| cannot("lock", path, e))?;
    let mut lock = fd_lock::RwLock::new(handle);
    match lock.try_write() {
        // The lock belongs to the open file and lasts as long as it, not as long as the guard.
        Ok(guard) => std::mem::forget(guard),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            return Err(Failure::run(format!(
                "another export is writing {} right now; wait for it to end (or stop it) \
                 before running this one",
                path.display()
            )))
        }
        Err(e) => return Err(cannot("lock", path, e)),
    }
    Ok(lock)
}

fn name(path: &Path) -> String {
    format!("the output {}", path.display())
}

fn cannot(what: &str, path: &Path, e: io::Error) -> Failure {
    Failure::run(format!("cannot {what} {}: {e}", name(path)))
}
