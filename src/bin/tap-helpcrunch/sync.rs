//! A sync: the selected streams in order, each as `SCHEMA`, its records, then the `STATE` from
//! which a run started again loses nothing.

use std::io;
use std::pin::pin;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use futures::TryStreamExt;
use helpcrunch_pager::{Bookmark, Client, Collection, SyncState};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use std::borrow::Cow;

use crate::catalog::{remove_from_record, Selected, KEY};
use crate::config::Checked;
use crate::conform::conform_fields;
use crate::shared::record::one_line;
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
        let schema = selected.schema();
        out.schema(name, &schema, KEY, stream.replication_key)
            .map_err(written)?;
        let mut changes = run.read::<Box<RawValue>>(stream.collection);
        let (started, sent) = (Instant::now(), client.stats().requests);
        let mut records = 0u64;
        // A whole read finds every record there is: sent as a table version, a target drops
        // the rows it did not find.
        let whole = config.activate_version && changes.is_whole();
        let mut version = None;
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
                    if whole && version.is_none() {
                        version = Some(table_version(changes.began()));
                    }
                    out.record(
                        name,
                        &shaped(record.get(), &schema, &selected.left_out),
                        version,
                    )
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
        let began = changes.began();
        changes
            .finish(&mut state)
            .map_err(|e| Failure::run(describe(&e)))?;
        if whole {
            // Only now, the read having ended whole: a run that failed or was stopped before
            // leaves every row where it was.
            if records == 0 {
                tracing::warn!(
                    "{name} was read whole and holds no record: its ACTIVATE_VERSION empties \
                     the table"
                );
            }
            let version = version.unwrap_or_else(|| table_version(began));
            out.activate_version(name, version).map_err(written)?;
        }
        out.state(&state).map_err(written)?;
    }
    out.flush().map_err(written)
}

/// The table version of a stream read whole: the later of the server's clock when the read
/// began and this machine's, in milliseconds, so that a later run's is the higher even where
/// one of the clocks lags. (Were it ever lower, a target would keep rows of the version
/// before: stale rows, never lost ones.)
fn table_version(began: Option<SystemTime>) -> u64 {
    let millis = |t: SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    };
    millis(SystemTime::now()).max(began.map_or(0, millis))
}

/// `record` as the stream's `schema` says (see [`conform`](crate::conform)), without the
/// fields `left_out`, on one line; as the server sent it where nothing needs changing.
fn shaped<'r>(record: &'r str, schema: &Value, left_out: &[Vec<String>]) -> Cow<'r, str> {
    let Ok(mut fields) = serde_json::from_str::<Map<String, Value>>(record) else {
        // Not an object: the scan has read its id, so it is one; sent as it came.
        return one_line(record);
    };
    let mut changed = conform_fields(&mut fields, schema);
    let mut record_value = Value::Object(fields);
    for path in left_out {
        changed |= remove_from_record(&mut record_value, path);
    }
    if changed {
        Cow::Owned(record_value.to_string())
    } else {
        one_line(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_version_is_the_later_clock_in_milliseconds() {
        let ahead = UNIX_EPOCH + std::time::Duration::from_secs(4_000_000_000);
        assert_eq!(table_version(Some(ahead)), 4_000_000_000_000);
        let behind = UNIX_EPOCH + std::time::Duration::from_secs(1_000);
        let local = table_version(None);
        assert!(table_version(Some(behind)) >= local && local > 1_700_000_000_000);
    }

    #[test]
    fn fields_left_out_are_removed_and_the_rest_kept_as_sent() {
        let schema = serde_json::json!({"properties": {"id": {"type": "integer"}}});
        let record = r#"{"id":7,"notes":"x","createdAt":"1594139170.913"}"#;
        let kept = shaped(record, &schema, &[vec!["notes".to_owned()]]);
        let kept: Value = serde_json::from_str(&kept).unwrap();
        assert_eq!(
            kept,
            serde_json::json!({"id": 7, "createdAt": "1594139170.913"})
        );
        assert_eq!(shaped("{\n \"id\": 7\n}", &schema, &[]), "{  \"id\": 7 }");
        assert_eq!(shaped(r#"{"id":"7"}"#, &schema, &[]), r#"{"id":7}"#);
    }
}
