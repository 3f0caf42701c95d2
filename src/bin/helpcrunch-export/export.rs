//! The export itself: pages in offset order, each written whole and flushed before the
//! checkpoint moves past it, until the collection ends, an error, or a signal.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::pin::pin;

use futures::TryStreamExt;
use helpcrunch_pager::simulator::Simulator;
use helpcrunch_pager::{Client, Error, RecordId, ScanPosition};
use serde_json::value::RawValue;

use crate::args::{Job, Source};
use crate::checkpoint::{Checkpoint, Identity};
use crate::output::{Output, Written};
use crate::progress::{Outcome, Progress};
use crate::shared::client::Redacted;
use crate::shared::signal::stop_signal;
use crate::{shared, simulate, Failure};

/// Runs `job` to the end; the summary line on success.
pub(crate) async fn run(job: Job) -> Result<String, Failure> {
    // The simulated account, if any, lives until the export is over.
    let (client, _account) = connect(&job)?;
    if let Some(sync) = &job.sync {
        return crate::sync::run(&job, sync, &client).await;
    }
    let mut state = State::open(&job)?;
    let start = state.records_at_start;
    let progress = Progress::new(
        !job.quiet && std::io::stderr().is_terminal(),
        start,
        job.requests_per_minute,
    );

    let paginator = match &job.filter {
        Some(body) => client.search::<Box<RawValue>>(job.collection.clone(), body.clone()),
        None => client.paginate::<Box<RawValue>>(job.collection.clone()),
    };
    // The library reads raw records' ids (and sort keys) itself, as `line_id` reads them back.
    let paginator = paginator
        .page_size(job.page_size)
        .concurrency(job.concurrency);
    let mut pages = match state.resume.take() {
        Some((position, written)) => paginator.resume(position, written.into_ids()),
        None => paginator,
    }
    .pages();
    let mut signal = pin!(stop_signal());
    let mut total = None;

    let ended = loop {
        let next = tokio::select! {
            biased;
            number = &mut signal => break Ended::Signal(number),
            next = pages.try_next() => next,
        };
        let page = match next {
            Ok(Some(page)) => page,
            Ok(None) => break Ended::Done,
            Err(e) => break Ended::Failed(e),
        };
        let total = *total.get_or_insert(page.total);
        state.write_page(&page.items, pages.position())?;
        progress.update(state.records, total, client.stats());
    };
    let scan = pages.report();
    drop(pages);

    let outcome = |verb| Outcome {
        verb,
        collection: &job.collection,
        records: state.records,
        total,
        resumed_from: state.resumed_from,
        stats: client.stats(),
        scan,
    };
    match ended {
        Ended::Done => {
            let summary = progress.finish(outcome("exported"));
            state.complete()?;
            Ok(summary)
        }
        Ended::Signal(number) => {
            let summary = progress.finish(outcome("interrupted after"));
            Err(Failure::signal(
                number,
                format!("{summary}. {}", state.how_to_resume()),
            ))
        }
        Ended::Failed(e) => {
            progress.finish(outcome("failed after"));
            Err(Failure::run(format!(
                "error: {} ({} records written. {})",
                describe(&e),
                state.records,
                state.how_to_resume()
            )))
        }
    }
}

enum Ended {
    Done,
    Signal(u8),
    Failed(Error),
}

fn connect(job: &Job) -> Result<(Client, Option<Simulator>), Failure> {
    let (base_url, api_key, account) = match &job.source {
        Source::Api { base_url, api_key } => (base_url.clone(), api_key.clone(), None),
        Source::Simulated => {
            let account = simulate::account()?;
            (
                account.base_url(),
                account.api_key().to_owned(),
                Some(account),
            )
        }
    };
    let settings = shared::client::Settings {
        base_url,
        api_key: Redacted(api_key),
        requests_per_minute: job.requests_per_minute,
        adaptive: job.adaptive,
        rate_window: job.rate_window,
        redis_url: job.redis_url.clone(),
        retry_for: job.retry_for,
        first_contact: job.first_contact,
    };
    let client = shared::client::connect(&settings, IN_CLI_TERMS)?;
    Ok((client, account))
}

/// The output and the checkpoint, kept in step: the checkpoint only ever names bytes that are
/// already in the output.
struct State {
    output: Output,
    checkpoint: Option<(PathBuf, Checkpoint)>,
    next_offset: u64,
    records: u64,
    records_at_start: u64,
    resumed_from: u64,
    /// Where an interrupted export's scan stood, and the ids it had written.
    resume: Option<(ScanPosition, Written)>,
}

impl State {
    fn open(job: &Job) -> Result<Self, Failure> {
        let Some(output_path) = &job.output else {
            return Ok(Self::fresh(Output::stdout(), None));
        };
        let Some(checkpoint_path) = &job.checkpoint else {
            return Ok(Self::fresh(Output::create(output_path)?, None));
        };
        if same_file(output_path, checkpoint_path) {
            return Err(Failure::usage(
                "--output and --checkpoint name the same file",
            ));
        }
        let identity = Identity {
            collection: job.collection.clone(),
            filter: job.filter.clone(),
            source: match &job.source {
                Source::Api { base_url, .. } => base_url.trim_end_matches('/').to_owned(),
                Source::Simulated => "the simulated account".to_owned(),
            },
            output: std::path::absolute(output_path)
                .map_err(|e| Failure::usage(format!("--output {}: {e}", output_path.display())))?,
        };
        // Refused before it is opened: opening a named pipe for writing waits for a reader.
        if std::fs::metadata(output_path).is_ok_and(|m| !m.is_file()) {
            return Err(Failure::usage(format!(
                "--checkpoint needs --output to be a regular file, and {} is not one; \
                 leave out --checkpoint",
                output_path.display()
            )));
        }
        match Checkpoint::load(checkpoint_path, &identity)? {
            Some(found) => {
                let id_of = found.position.is_some().then_some(line_id as fn(&str) -> _);
                let (output, written) = Output::resume(output_path, found.output_bytes, id_of)?;
                found.check(checkpoint_path, &output)?;
                let resume = found.position.clone().map(|position| (position, written));
                Ok(Self {
                    output,
                    next_offset: found.next_offset,
                    records: found.records,
                    records_at_start: found.records,
                    resumed_from: found.next_offset,
                    checkpoint: Some((checkpoint_path.clone(), found)),
                    resume,
                })
            }
            None => {
                let output = Output::create(output_path)?.digested();
                let mut start = Checkpoint::start(identity);
                start.save(checkpoint_path, output.digest())?;
                Ok(Self::fresh(output, Some((checkpoint_path.clone(), start))))
            }
        }
    }

    fn fresh(output: Output, checkpoint: Option<(PathBuf, Checkpoint)>) -> Self {
        Self {
            output,
            checkpoint,
            next_offset: 0,
            records: 0,
            records_at_start: 0,
            resumed_from: 0,
            resume: None,
        }
    }

    /// Writes a whole page and flushes it, then moves the checkpoint past it, to where the
    /// scan stands after it.
    fn write_page(
        &mut self,
        items: &[Box<RawValue>],
        position: Option<ScanPosition>,
    ) -> Result<(), Failure> {
        let durable = self.checkpoint.is_some();
        let output = &mut self.output;
        let written = items
            .iter()
            .try_for_each(|raw| output.write_record(raw.get()))
            .and_then(|()| output.end_page(durable));
        written.map_err(|e| self.write_failed(e))?;
        self.records += items.len() as u64;
        if let Some(position) = &position {
            self.next_offset = position.offset();
        }
        if let Some((path, checkpoint)) = &mut self.checkpoint {
            checkpoint.next_offset = self.next_offset;
            checkpoint.position = position;
            checkpoint.output_bytes = self.output.bytes();
            checkpoint.records = self.records;
            checkpoint.save(path, self.output.digest())?;
        }
        Ok(())
    }

    /// The export is whole: its output ends with its last page, and its checkpoint has nothing
    /// left to say.
    fn complete(mut self) -> Result<(), Failure> {
        let finished = self.output.finish();
        finished.map_err(|e| self.write_failed(e))?;
        if let Some((path, _)) = self.checkpoint {
            std::fs::remove_file(&path).map_err(|e| {
                Failure::run(format!(
                    "the export is complete, but the checkpoint {} could not be removed: {e}",
                    path.display()
                ))
            })?;
        }
        Ok(())
    }

    /// What a failed write of the output means.
    fn write_failed(&self, e: std::io::Error) -> Failure {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            crate::reader_gone(format!(
                "stopped after {} records: the reader closed the output",
                self.records
            ))
        } else {
            Failure::run(format!("cannot write {}: {e}", self.output.name()))
        }
    }

    fn how_to_resume(&self) -> String {
        match &self.checkpoint {
            Some((path, _)) => format!(
                "The checkpoint {} is kept at offset {}: run the same command to resume",
                path.display(),
                self.next_offset
            ),
            None => "Without --checkpoint this export cannot resume".to_owned(),
        }
    }
}

/// A record's `id` as a line of the output holds it, read as the library reads the ids of raw
/// records (a number and a string are different ids): the ids an interrupted export had
/// written.
fn line_id(record: &str) -> Option<RecordId> {
    #[derive(serde::Deserialize)]
    struct Id {
        id: Option<serde_json::Value>,
    }
    RecordId::from_json(&serde_json::from_str::<Id>(record).ok()?.id?)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::path::absolute(a), std::path::absolute(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The error in the command line's terms.
pub(crate) fn describe(e: &Error) -> String {
    shared::describe::describe(e, IN_CLI_TERMS)
}

/// What the library's messages call the settings the exporter makes from its flags, and the
/// flags: the library tells a program what to change in its builder, the exporter tells the
/// user what to change on the command line.
const IN_CLI_TERMS: &[(&str, &str)] = &[
    (shared::describe::RATE_SETTING, "--requests-per-minute"),
    ("the base URL", "--base-url"),
    ("base URL", "--base-url"),
    (
        ", or allow_insecure_http(true) to send the key in clear text",
        " (the exporter sends the key over plain http to a loopback address only)",
    ),
    (
        " (a proxy's credentials belong in a brought http_client)",
        " (--api-key)",
    ),
    ("path \"", "COLLECTION \""),
    (
        ": pass parameters with .query(key, value)",
        ": COLLECTION is a path alone (a search's body goes in --body)",
    ),
];
