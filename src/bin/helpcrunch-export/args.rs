//! The command line, as scripts already use it, and the checks that turn it into a [`Job`].

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use helpcrunch_pager::Collection;
use serde_json::Value;

use crate::shared::client::Redacted;
use crate::Failure;

/// Streams a whole HelpCrunch collection into a JSON Lines file, one record per line as the
/// API sent it, as fast as the account's rate limit allows; resumes after a crash with
/// --checkpoint.
// No Debug: it would print the key.
#[derive(Parser)]
#[command(name = "helpcrunch-export", version)]
pub(crate) struct Args {
    // As an attribute, not a doc comment, so that rustdoc does not read <id> as HTML.
    #[arg(
        value_name = "COLLECTION",
        help = "departments | agents | customers | chats | messages (every chat's) | all (every \
                collection, with --output-dir) | chats/<id>/messages | customers/search | \
                chats/search | any other list path"
    )]
    collection: String,

    /// The account's API key.
    #[arg(
        long,
        value_name = "KEY",
        env = "HELPCRUNCH_API_KEY",
        hide_env_values = true
    )]
    api_key: Option<String>,

    /// The API's base URL.
    #[arg(
        long,
        value_name = "URL",
        env = "HELPCRUNCH_BASE_URL",
        default_value = helpcrunch_pager::DEFAULT_BASE_URL,
        conflicts_with = "simulate"
    )]
    base_url: String,

    /// The account's rate limit; the export keeps 2 % under it.
    #[arg(long, value_name = "N", default_value_t = helpcrunch_pager::DEFAULT_REQUESTS_PER_MINUTE,
          value_parser = clap::value_parser!(u32).range(1..))]
    requests_per_minute: u32,

    /// Keep the rate at --requests-per-minute whatever the server answers. By default the rate
    /// adapts: it drops after a 429 to a little under the pace that tripped it and climbs back
    /// over about two of the server's windows.
    #[arg(long)]
    fixed_rate: bool,

    /// The window the server counts its limit in, in seconds (HelpCrunch: per minute); the
    /// adaptive rate takes its time in these.
    #[arg(long, value_name = "SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    rate_window: u64,

    /// Share the rate budget with every other export, worker or replica on the same key through
    /// this Redis (redis://host:port/db): a single one, or any node of a Redis Cluster (several
    /// nodes separated by commas, so that one down does not matter). If Redis stops answering,
    /// each export keeps its share of the rate until it answers again.
    #[arg(
        long,
        value_name = "URL",
        env = "HELPCRUNCH_REDIS_URL",
        hide_env_values = true
    )]
    redis_url: Option<String>,

    /// Records per request, 1 to 100.
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    page_size: u32,

    /// Pages in flight at once (the rate limit, not this, sets the pace).
    #[arg(long, value_name = "N", default_value_t = helpcrunch_pager::DEFAULT_CONCURRENCY as u32,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    concurrency: u32,

    /// Where to write the records, as JSON Lines [default: stdout].
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// Where to keep the export's progress; running the same command again after a crash or
    /// Ctrl-C continues from there. Needs --output. Deleted when the export completes.
    #[arg(long, value_name = "FILE", requires = "output")]
    checkpoint: Option<PathBuf>,

    /// The whole JSON body for a search endpoint (its filter, comparison, sort and order), such
    /// as '{"filter":[{"field":"chats.status","operator":"=","value":"3"}]}' (offset and limit
    /// are added by the export). Also accepted as --filter, its earlier name.
    #[arg(long, value_name = "JSON", alias = "filter")]
    body: Option<String>,

    /// Keep a copy current: the first run reads everything and writes this state file; a later
    /// run reads only what changed since (chats, customers, messages; departments and agents
    /// whole) and writes each changed record's latest version, for an upsert by id downstream.
    /// The state is replaced only once the output is on disk. For departments, agents,
    /// customers, chats, messages and all.
    #[arg(long, value_name = "FILE", conflicts_with = "checkpoint")]
    state: Option<PathBuf>,

    /// With COLLECTION all: the directory to write one file a collection into, named after it
    /// (departments.jsonl, agents.jsonl, customers.jsonl, chats.jsonl, messages.jsonl).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["output", "checkpoint"])]
    output_dir: Option<PathBuf>,

    /// With --state: how far before the last run's start to read again, in seconds (at least
    /// 10), so that a record the server commits a little late is not skipped.
    #[arg(long, value_name = "SECONDS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(10..=86_400 * 30))]
    lookback: u64,

    /// Export from an embedded simulated account over loopback, with HelpCrunch's real
    /// 120-a-minute limit: no key, no network.
    #[arg(long)]
    simulate: bool,

    /// No progress bar.
    #[arg(long)]
    quiet: bool,

    /// How long one page may keep retrying (429s, 5xx, network faults) before the export gives
    /// up, in seconds, the attempts included, however many that takes. A server asking to wait
    /// longer fails the page at once; no rate-limit pause lasts longer.
    #[arg(long, value_name = "SECONDS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..))]
    retry_for: u64,

    /// How long to wait, in seconds, for a server that has not answered once in this run
    /// (a refused connection, a name that does not resolve, a host that stays silent) before
    /// the export gives up: a wrong --base-url fails in seconds, not minutes.
    #[arg(long, value_name = "SECONDS", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(1..))]
    first_contact: u64,
}

/// Where the records come from.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Source {
    Api { base_url: String, api_key: String },
    Simulated,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Api { base_url, .. } => f
                .debug_struct("Api")
                .field("base_url", base_url)
                .field("api_key", &"<redacted>")
                .finish(),
            Source::Simulated => f.write_str("Simulated"),
        }
    }
}

/// A checked command line.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) collection: String,
    pub(crate) source: Source,
    pub(crate) requests_per_minute: u32,
    pub(crate) adaptive: bool,
    pub(crate) rate_window: Duration,
    /// The Redis sharing the budget; may carry a password, so never shown.
    pub(crate) redis_url: Option<Redacted>,
    pub(crate) page_size: u32,
    pub(crate) concurrency: usize,
    pub(crate) output: Option<PathBuf>,
    pub(crate) checkpoint: Option<PathBuf>,
    /// The search body, for a path ending in `/search`.
    pub(crate) filter: Option<Value>,
    pub(crate) quiet: bool,
    pub(crate) retry_for: Duration,
    pub(crate) first_contact: Duration,
    /// `Some` for an incremental sync (`--state`, `messages`, `all`): what it reads and where
    /// it keeps its state.
    pub(crate) sync: Option<SyncJob>,
}

/// What an incremental sync reads and where it keeps its state.
#[derive(Debug)]
pub(crate) struct SyncJob {
    pub(crate) collections: Vec<Collection>,
    /// `None`: every run reads everything (`messages` or `all` without `--state`).
    pub(crate) state: Option<PathBuf>,
    /// Where `all` writes its files.
    pub(crate) output_dir: Option<PathBuf>,
    pub(crate) lookback: Duration,
}

impl Args {
    pub(crate) fn into_job(self) -> Result<Job, Failure> {
        let collection = self.collection.trim().trim_matches('/').to_owned();
        if collection.is_empty() {
            return Err(Failure::usage(
                "COLLECTION is empty: name one, such as departments",
            ));
        }
        let sync = sync_job(
            &collection,
            self.state,
            self.output_dir,
            self.output.is_some(),
            self.body.is_some() || self.checkpoint.is_some(),
            Duration::from_secs(self.lookback),
        )?;
        let is_search = collection.ends_with("/search");
        let filter = match (self.body, is_search) {
            (Some(_), false) => {
                return Err(Failure::usage(format!(
                    "--body applies to the search endpoints (customers/search, chats/search), \
                     not to {collection}"
                )))
            }
            (Some(text), true) => Some(parse_filter(&text)?),
            (None, true) => Some(Value::Object(Default::default())),
            (None, false) => None,
        };
        let source = if self.simulate {
            Source::Simulated
        } else {
            let api_key = self
                .api_key
                .filter(|k| !k.trim().is_empty())
                .ok_or_else(|| {
                    Failure::usage(
                        "no API key: pass --api-key or set HELPCRUNCH_API_KEY (or try --simulate)",
                    )
                })?;
            Source::Api {
                base_url: self.base_url,
                api_key,
            }
        };
        Ok(Job {
            collection,
            source,
            requests_per_minute: self.requests_per_minute,
            adaptive: !self.fixed_rate,
            rate_window: Duration::from_secs(self.rate_window),
            redis_url: self
                .redis_url
                .filter(|u| !u.trim().is_empty())
                .map(Redacted),
            page_size: self.page_size,
            concurrency: self.concurrency as usize,
            output: self.output,
            checkpoint: self.checkpoint,
            filter,
            quiet: self.quiet,
            retry_for: Duration::from_secs(self.retry_for),
            first_contact: Duration::from_secs(self.first_contact),
            sync,
        })
    }
}

/// The sync a command line asks for: `messages` and `all` always read as a sync does (chat by
/// chat, or collection by collection), with or without `--state`; the other collections only
/// with it.
fn sync_job(
    collection: &str,
    state: Option<PathBuf>,
    output_dir: Option<PathBuf>,
    has_output: bool,
    // --body or --checkpoint, neither of which a sync takes.
    has_filter: bool,
    lookback: Duration,
) -> Result<Option<SyncJob>, Failure> {
    let all = collection == "all";
    let collections = match collection.parse::<Collection>() {
        _ if all => Collection::ALL.to_vec(),
        Ok(Collection::Messages) => vec![Collection::Messages],
        Ok(one) if state.is_some() => vec![one],
        _ if state.is_some() => {
            return Err(Failure::usage(format!(
                "--state keeps a copy of departments, agents, customers, chats, messages or all \
                 current, not of {collection}"
            )))
        }
        _ if output_dir.is_some() => {
            return Err(Failure::usage(
                "--output-dir is for COLLECTION all, which writes one file a collection",
            ))
        }
        _ => return Ok(None),
    };
    if has_filter {
        return Err(Failure::usage(format!(
            "--body and --checkpoint are for a plain export; {collection} is read as a sync \
             (a failed or stopped run is repeated from its state, losing nothing)"
        )));
    }
    match (all, &output_dir) {
        (true, None) => {
            return Err(Failure::usage(
                "COLLECTION all writes one file a collection: give --output-dir DIR",
            ))
        }
        (false, Some(_)) => {
            return Err(Failure::usage(
                "--output-dir is for COLLECTION all; for one collection give --output FILE",
            ))
        }
        _ if all && has_output => unreachable!("clap refuses --output with --output-dir"),
        _ => {}
    }
    if state.is_some() && !all && !has_output {
        return Err(Failure::usage(
            "--state needs --output FILE: the state moves on only once the output is on disk, \
             which standard output cannot promise",
        ));
    }
    Ok(Some(SyncJob {
        collections,
        state,
        output_dir,
        lookback,
    }))
}

fn parse_filter(text: &str) -> Result<Value, Failure> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(body)) if body.contains_key("offset") || body.contains_key("limit") => {
            Err(Failure::usage(
                "--body must not set offset or limit: the export pages by itself \
                 (use --page-size)",
            ))
        }
        Ok(body @ Value::Object(_)) => Ok(body),
        Ok(_) => Err(Failure::usage(
            "--body must be a JSON object, such as '{\"filter\":[...]}'",
        )),
        Err(e) => Err(Failure::usage(format!("--body is not JSON: {e}"))),
    }
}
