//! A sync: the selected streams in order, each as `SCHEMA`, its records, then the `STATE` from
//! which a run started again loses nothing.

use std::io;
use std::pin::pin;
use std::time::Instant;

use futures::TryStreamExt;
use helpcrunch_pager::{Bookmark, Client, Collection, SyncState};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::catalog::{Selected, KEY};
use crate::config::Checked;
use crate::shared::signal::stop_signal;
use crate::shared::summary::summary;
use crate::singer::Messages;
use crate::{describe, Failure};

/// Reads `chosen` from `state` onwards through `client`, the messages on standard output and
/// a line a stream on stderr.
pub(crate) async fn run(
    client: &Client,
    config: &Checked,
    chosen: &[Selected],
    mut state: SyncState,
) -> Result<(), Failure> {
    let mut out = Messages::stdout();
    let mut before = state.clone();
    if let Some(start) = config.start_date {
        // Chats and messages (found through chats) have a time a search reads from; a first
        // read of customers finds new ones by id, and so reads them all.
        for s in chosen {
            let c = s.stream.collection;
            if c.is_incremental() && c != Collection::Customers && before.bookmark(c).is_none() {
                before.set_bookmark(c, Bookmark::new(start));
            }
        }
    }
    let run = client
        .sync(&before)
        .lookback(config.lookback)
        .page_size(config.page_size);
    let mut signal = pin!(stop_signal());
    let written = |e: io::Error| Failure::run(format!("cannot write to standard output: {e}"));
    for selected in chosen {
        let stream = &selected.stream;
        let name = stream.name();
        out.schema(name, &selected.schema(), KEY, stream.replication_key)
            .map_err(written)?;
        let mut changes = run.read::<Box<RawValue>>(stream.collection);
        let (started, sent) = (Instant::now(), client.stats().requests);
        let mut records = 0u64;
        loop {
            let next = tokio::select! {
                biased;
                number = &mut signal => {
                    let _ = out.flush();
                    return Err(Failure::signal(number, format!(
                        "interrupted while reading {name}; the last STATE holds"
                    )));
                }
                next = changes.try_next() => next,
            };
            match next {
                Ok(Some(record)) => {
                    if selected.left_out.is_empty() {
                        out.record(name, record.get())
                    } else {
                        out.record(name, &without(record.get(), &selected.left_out))
                    }
                    .map_err(written)?;
                    records += 1;
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = out.flush();
                    return Err(Failure::run(format!(
                        "error reading {name}: {} ({records} records sent; the last STATE \
                         holds, and a run from it reads them again)",
                        describe(&e)
                    )));
                }
            }
        }
        let requests = client.stats().requests - sent;
        eprintln!(
            "{}",
            summary(&changes, records, requests, started.elapsed())
        );
        changes
            .finish(&mut state)
            .map_err(|e| Failure::run(describe(&e)))?;
        out.state(&state).map_err(written)?;
    }
    out.flush().map_err(written)
}

/// `record` without the fields `left_out`.
fn without(record: &str, left_out: &[String]) -> String {
    match serde_json::from_str::<Map<String, Value>>(record) {
        Ok(mut fields) => {
            for field in left_out {
                fields.remove(field);
            }
            Value::Object(fields).to_string()
        }
        // Not an object: nothing to leave out (the scan has read its id already).
        Err(_) => record.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_left_out_are_removed_and_the_rest_kept_as_sent() {
        let record = r#"{"id":7,"notes":"x","createdAt":"1594139170.913"}"#;
        let kept = without(record, &["notes".to_owned()]);
        let kept: Value = serde_json::from_str(&kept).unwrap();
        assert_eq!(
            kept,
            serde_json::json!({"id": 7, "createdAt": "1594139170.913"})
        );
    }
}
