//! `--state`, `messages` and `all`: an incremental sync. Each collection's records go into a
//! temporary file beside its output; only once every collection of the run has been read
//! whole are the files synced to disk and renamed into place, and then the state replaced
//! (written, synced and renamed). A run stopped anywhere before leaves the state as it was, so
//! the next run reads again from there and nothing is lost.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use helpcrunch_pager::{Changes, Client, Collection, SyncState};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::value::RawValue;
use tempfile::NamedTempFile;

use crate::args::{Job, SyncJob};
use crate::export::describe;
use crate::shared::signal::stop_signal;
use crate::shared::summary::{summary, thousands, what};
use crate::Failure;

/// Runs the sync `job` asks for; the summary, a line a collection, on success.
pub(crate) async fn run(job: &Job, sync: &SyncJob, client: &Client) -> Result<String, Failure> {
    // Held until the run ends: a second run on the same state waits for none of this one's
    // files, and could replace the state with an older one after it.
    let _held = sync.state.as_deref().map(hold).transpose()?;
    let before = match &sync.state {
        Some(path) => load(path)?,
        None => SyncState::default(),
    };
    let mut state = before.clone();
    let run = client
        .sync(&before)
        .lookback(sync.lookback)
        .page_size(job.page_size);
    let show = !job.quiet && std::io::stderr().is_terminal();
    let mut done = Vec::new();
    let mut lines = Vec::new();
    let mut signal = pin!(stop_signal());
    for &collection in &sync.collections {
        let mut out = Sink::open(job, sync, collection)?;
        let mut changes = run.read::<Box<RawValue>>(collection);
        let started = Instant::now();
        let sent = client.stats().requests;
        let bar = bar(show, &changes);
        let mut records = 0u64;
        loop {
            let next = tokio::select! {
                biased;
                number = &mut signal => {
                    bar.finish_and_clear();
                    return Err(Failure::signal(number, format!(
                        "interrupted while reading {collection}: nothing was replaced{}; run \
                         the same command again",
                        if sync.state.is_some() { " and the state is as it was" } else { "" }
                    )));
                }
                next = changes.try_next() => next,
            };
            match next {
                Ok(Some(record)) => {
                    out.write(record.get()).map_err(|e| out.failed(e))?;
                    records += 1;
                    if records.is_multiple_of(100) {
                        bar.set_message(progress(&changes, records, client, sent));
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    bar.finish_and_clear();
                    return Err(Failure::run(format!(
                        "error reading {collection}: {} ({records} records read; nothing was \
                         replaced{}, so running the same command again repeats this run)",
                        describe(&e),
                        if sync.state.is_some() {
                            " and the state is as it was"
                        } else {
                            ""
                        }
                    )));
                }
            }
        }
        bar.finish_and_clear();
        out.flush().map_err(|e| out.failed(e))?;
        lines.push(summary(
            &changes,
            records,
            client.stats().requests - sent,
            started.elapsed(),
        ));
        changes
            .finish(&mut state)
            .map_err(|e| Failure::run(describe(&e)))?;
        done.push(out);
    }
    // Every collection was read whole: the outputs go into place, then the state.
    for out in done {
        out.commit()?;
    }
    if let Some(path) = &sync.state {
        save(path, &state)?;
        lines.push(format!("state written to {}", path.display()));
    }
    Ok(lines.join("\n"))
}

/// Takes the lock of the state in `path` (a file `<state>.lock` beside it, kept, as the state
/// itself is replaced by a rename), or says another run holds it.
fn hold(path: &Path) -> Result<fd_lock::RwLock<File>, Failure> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let failed =
        |e: io::Error| Failure::run(format!("cannot lock --state {}: {e}", path.display()));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(failed)?;
    let mut lock = fd_lock::RwLock::new(file);
    match lock.try_write() {
        // The lock belongs to the open file and lasts as long as it, not as long as the guard.
        Ok(guard) => std::mem::forget(guard),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            return Err(Failure::run(format!(
                "another run is using the state {} right now; wait for it to end",
                path.display()
            )))
        }
        Err(e) => return Err(failed(e)),
    }
    Ok(lock)
}

/// The state in `path`, or a fresh one (a first run, which reads everything) where there is
/// no such file.
fn load(path: &Path) -> Result<SyncState, Failure> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(SyncState::default()),
        Err(e) => return Err(Failure::run(format!("--state {}: {e}", path.display()))),
    };
    serde_json::from_str(&text).map_err(|e| {
        Failure::usage(format!(
            "--state {} is not a sync state this version reads: {e}",
            path.display()
        ))
    })
}

/// Replaces the state in `path`: written beside it, synced, renamed over it, and the
/// directory synced, so that a crash leaves either the old state or the new one whole.
fn save(path: &Path, state: &SyncState) -> Result<(), Failure> {
    let failed = |e: io::Error| Failure::run(format!("--state {}: {e}", path.display()));
    let dir = parent(path);
    let mut file = partial(path, true).map_err(failed)?;
    let json = serde_json::to_string_pretty(state).expect("a sync state serializes");
    file.write_all(json.as_bytes()).map_err(failed)?;
    file.write_all(b"\n").map_err(failed)?;
    file.as_file().sync_all().map_err(failed)?;
    file.persist(path).map_err(|e| failed(e.error))?;
    sync_dir(dir).map_err(failed)
}

/// A temporary file beside `path`, named after it (`.chats.jsonl.partial-XXXXXX`), created as
/// a plain file would be (not private to its owner, as temporary files are). With `clean`,
/// where the state's lock says no other run writes them, the ones a killed run left behind are
/// removed first.
fn partial(path: &Path, clean: bool) -> io::Result<NamedTempFile> {
    let dir = parent(path);
    let prefix = format!(
        ".{}.partial-",
        path.file_name().unwrap_or_default().to_string_lossy()
    );
    let entries = if clean {
        std::fs::read_dir(dir).ok()
    } else {
        None
    };
    if let Some(entries) = entries {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(dir)
}

/// The directory a path's file is in (`.` for a bare name).
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Makes a rename in `dir` durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Where one collection's records go: standard output, or a temporary file renamed over the
/// output once the whole run has been read.
struct Sink {
    name: String,
    to: Option<(NamedTempFile, PathBuf)>,
    writer: BufWriter<Box<dyn Write + Send>>,
}

impl Sink {
    fn open(job: &Job, sync: &SyncJob, collection: Collection) -> Result<Self, Failure> {
        let path = match (&sync.output_dir, &job.output) {
            (Some(dir), _) => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| Failure::run(format!("--output-dir {}: {e}", dir.display())))?;
                dir.join(format!("{collection}.jsonl"))
            }
            (None, Some(path)) => path.clone(),
            (None, None) => {
                return Ok(Self {
                    name: "standard output".into(),
                    to: None,
                    writer: BufWriter::new(Box::new(io::stdout())),
                })
            }
        };
        let name = path.display().to_string();
        if std::fs::metadata(&path).is_ok_and(|m| !m.is_file()) {
            return Err(Failure::usage(format!(
                "{name} is not a regular file: a sync replaces its output whole"
            )));
        }
        let temp = partial(&path, sync.state.is_some())
            .map_err(|e| Failure::run(format!("{name}: cannot write beside it: {e}")))?;
        let file = temp
            .reopen()
            .map_err(|e| Failure::run(format!("{name}: {e}")))?;
        Ok(Self {
            name,
            to: Some((temp, path)),
            writer: BufWriter::with_capacity(1 << 16, Box::new(file)),
        })
    }

    /// Writes one record, on one line (a pretty-printed answer's too).
    fn write(&mut self, record: &str) -> io::Result<()> {
        self.writer
            .write_all(crate::shared::record::one_line(record).as_bytes())?;
        self.writer.write_all(b"\n")
    }

    /// Everything written reaches the file (or standard output), and the file the disk.
    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()?;
        if let Some((temp, _)) = &self.to {
            temp.as_file().sync_all()?;
        }
        Ok(())
    }

    /// The output goes into place.
    fn commit(self) -> Result<(), Failure> {
        let Some((temp, path)) = self.to else {
            return Ok(());
        };
        let failed = |e: io::Error| Failure::run(format!("{}: {e}", path.display()));
        temp.persist(&path).map_err(|e| failed(e.error))?;
        sync_dir(parent(&path)).map_err(failed)
    }

    fn failed(&self, e: io::Error) -> Failure {
        if e.kind() == io::ErrorKind::BrokenPipe {
            return crate::reader_gone(format!(
                "the reader of {} closed it; the state is as it was",
                self.name
            ));
        }
        Failure::run(format!(
            "cannot write {}: {e}; the state is as it was",
            self.name
        ))
    }
}

fn bar<T>(show: bool, changes: &Changes<T>) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = crate::shared::logging::bars().add(ProgressBar::with_draw_target(
        None,
        ProgressDrawTarget::stderr(),
    ));
    bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("a valid template"));
    bar.set_message(format!("{}: {}", changes.collection(), what(changes)));
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn progress<T>(changes: &Changes<T>, records: u64, client: &Client, sent: u64) -> String {
    let stats = client.stats();
    format!(
        "{}: {} records {}, {} requests, {} 429s",
        changes.collection(),
        thousands(records),
        what(changes),
        stats.requests - sent,
        stats.rate_limited
    )
}
