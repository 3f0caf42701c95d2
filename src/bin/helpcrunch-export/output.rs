//! The JSON Lines output: one record per line, exactly as the API sent it, written a page at a
//! time and counted in bytes so a checkpoint can say where the last whole page ends.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use helpcrunch_pager::RecordId;
use roaring::RoaringTreemap;

use crate::Failure;

pub(crate) struct Output {
    sink: Sink,
    bytes: u64,
    /// The output file's lock, held for as long as the export runs (see [`lock`]).
    _lock: Option<fd_lock::RwLock<File>>,
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
        Self {
            sink: Sink::Stdout(BufWriter::with_capacity(BUFFER, io::stdout())),
            bytes: 0,
            _lock: None,
        }
    }

    /// A new, empty output file (an existing one is emptied, once it is ours).
    pub(crate) fn create(path: &Path) -> Result<Self, Failure> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| cannot("create", path, e))?;
        let lock = lock(&file, path)?;
        file.set_len(0).map_err(|e| cannot("empty", path, e))?;
        Ok(Self::file(file, 0, lock))
    }

    /// The output of an interrupted export, cut back to the end of its last whole page: a
    /// torn line or a page written after the last checkpoint is dropped, to be fetched again.
    pub(crate) fn resume(path: &Path, whole_pages_end: u64) -> Result<Self, Failure> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| cannot("reopen", path, e))?;
        let lock = lock(&file, path)?;
        let len = file.metadata().map_err(|e| cannot("read", path, e))?.len();
        if len < whole_pages_end {
            return Err(Failure::run(format!(
                "{} is shorter ({len} bytes) than the checkpoint says it was ({whole_pages_end}): \
                 it was changed since. Delete the checkpoint to start over",
                path.display()
            )));
        }
        file.set_len(whole_pages_end)
            .and_then(|()| file.seek(SeekFrom::End(0)).map(drop))
            .map_err(|e| cannot("truncate", path, e))?;
        Ok(Self::file(file, whole_pages_end, lock))
    }

    fn file(file: File, bytes: u64, lock: fd_lock::RwLock<File>) -> Self {
        Self {
            sink: Sink::File(BufWriter::with_capacity(BUFFER, file)),
            bytes,
            _lock: Some(lock),
        }
    }

    /// The ids of the records in the output file at `path`, as `id_of` reads them from each
    /// line: what an interrupted export had yielded, for its scan to resume with.
    pub(crate) fn written_ids(
        &mut self,
        path: &Path,
        id_of: impl Fn(&str) -> Option<RecordId>,
    ) -> Result<Written, Failure> {
        let file = File::open(path).map_err(|e| cannot("read", path, e))?;
        let mut lines = BufReader::with_capacity(BUFFER, file.take(self.bytes));
        let mut ids = Written::default();
        let mut line = String::new();
        loop {
            line.clear();
            if lines
                .read_line(&mut line)
                .map_err(|e| cannot("read", path, e))?
                == 0
            {
                return Ok(ids);
            }
            match id_of(line.trim_end()) {
                Some(RecordId::Number(n)) => {
                    ids.numbers.insert(n);
                }
                Some(RecordId::Text(s)) => ids.texts.push(s),
                None => {}
            }
        }
    }

    /// Writes one record and its line end. A record's JSON can only hold a raw line break as
    /// whitespace between tokens (inside a string it is escaped), so one is turned into a space.
    pub(crate) fn write_record(&mut self, raw: &str) -> io::Result<()> {
        let w: &mut dyn Write = match &mut self.sink {
            Sink::File(w) => w,
            Sink::Stdout(w) => w,
        };
        if raw.contains(['\n', '\r']) {
            w.write_all(raw.replace(['\n', '\r'], " ").as_bytes())?;
        } else {
            w.write_all(raw.as_bytes())?;
        }
        w.write_all(b"\n")?;
        self.bytes += raw.len() as u64 + 1;
        Ok(())
    }

    /// Flushes what was written; with `durable`, to the disk itself, so that a checkpoint
    /// written next never claims bytes a power cut could lose.
    pub(crate) fn end_page(&mut self, durable: bool) -> io::Result<()> {
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

    /// Bytes in the output, including what an interrupted export had written.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }
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

fn cannot(what: &str, path: &Path, e: io::Error) -> Failure {
    Failure::run(format!("cannot {what} the output {}: {e}", path.display()))
}
