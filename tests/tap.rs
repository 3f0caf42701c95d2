//! `tap-helpcrunch`, as a Singer target or Meltano runs it: the catalog it discovers, the
//! messages of a sync (every record fitting its stream's schema), a second sync from the last
//! STATE, selections, and the configs it refuses. With a real target and database:
//! `tests/tap_warehouse.rs`.

#[path = "support/cli.rs"]
mod cli;
mod support;
#[path = "support/sync.rs"]
mod sync;
#[path = "support/tap.rs"]
mod tap;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cli::{run, scratch};
use helpcrunch_pager::simulator::{Fault, Simulator};
use helpcrunch_pager::{Collection, SyncState};
use serde_json::{json, Value};
use sync::Copy;
use tap::*;

const LOOKBACK: Duration = Duration::from_secs(60);

fn account() -> Simulator {
    Simulator::builder()
        .departments(25)
        .agents(6)
        .customers(230)
        .chats(140)
        .start()
        .unwrap()
}

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/singer/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The schemas of the catalog's streams, by name.
fn schemas(catalog: &Value) -> BTreeMap<String, Value> {
    catalog["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["stream"].as_str().unwrap().to_owned(),
                s["schema"].clone(),
            )
        })
        .collect()
}

fn discover() -> Value {
    let ran = run(tap(&["--discover"]));
    assert!(ran.status.success(), "{}", ran.stderr);
    serde_json::from_str(&ran.stdout).expect("the catalog is JSON")
}

#[test]
fn the_discovered_catalog_is_a_singer_catalog_of_five_streams() {
    let catalog = discover();
    let singer = jsonschema::draft7::new(&fixture("catalog.schema.json")).unwrap();
    let errors: Vec<String> = singer
        .iter_errors(&catalog)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "not a Singer catalog: {errors:?}");

    let streams = catalog["streams"].as_array().unwrap();
    let names: Vec<&str> = streams
        .iter()
        .map(|s| s["stream"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["departments", "agents", "customers", "chats", "messages"]
    );
    for s in streams {
        let name = s["stream"].as_str().unwrap();
        assert_eq!(s["key_properties"], json!(["id"]), "{name}");
        // Each schema is a schema: Draft 7's meta-schema says so.
        jsonschema::draft7::meta::validate(&s["schema"])
            .unwrap_or_else(|e| panic!("{name}'s schema is not a Draft 7 schema: {e}"));
        assert!(
            !s["schema"].to_string().contains("$ref"),
            "{name}: inline, no $ref"
        );
        let method = &s["metadata"][0]["metadata"]["forced-replication-method"];
        let (want_method, want_key) = match name {
            "departments" | "agents" => ("FULL_TABLE", Value::Null),
            "chats" => ("INCREMENTAL", json!("updatedAt")),
            "customers" => ("INCREMENTAL", json!("lastSeen")),
            _ => ("INCREMENTAL", json!("createdAt")),
        };
        assert_eq!(
            (method, &s["replication_method"]),
            (&json!(want_method), &json!(want_method))
        );
        assert_eq!(
            s.get("replication_key").cloned().unwrap_or(Value::Null),
            want_key,
            "{name}"
        );
    }
}

#[test]
fn the_schemas_take_the_forms_the_api_sends_and_type_the_rest() {
    let schemas = schemas(&discover());
    let chats = jsonschema::draft7::new(&schemas["chats"]).unwrap();
    for created in [
        json!(1594139170),
        json!("1594139170"),
        json!("1594139170.913"),
        Value::Null,
    ] {
        let chat = json!({"id": 7, "createdAt": created, "status": "archived", "agents": [{"id": 3}],
                          "somethingNew": [1, 2]});
        assert!(chats.is_valid(&chat), "{chat}");
    }
    assert!(chats.is_valid(&json!({"id": 7, "status": 3, "agents": null, "department": null})));
    // Forms the tap puts into these shapes before it sends a record (see the next test).
    for odd in [
        json!({"createdAt": 1}),
        json!({"id": "seven"}),
        json!({"id": 7, "createdAt": true}),
        json!({"id": 7, "agents": {"id": 3}}),
        json!({"id": 7, "customer": []}),
        json!({"id": 7, "applicationId": "one"}),
    ] {
        assert!(!chats.is_valid(&odd), "{odd} fits the chats' schema");
    }
}

#[test]
fn the_forms_the_models_read_leniently_are_sent_in_the_shape_of_the_schema() {
    let sim = account();
    write_odd_forms(&sim);
    let dir = scratch("tap-odd-forms");
    let config = config_for(&sim, 600_000, &dir, json!({}));
    let ran = run(tap(&["--config", config.to_str().unwrap()]));
    assert!(ran.status.success(), "{}", ran.stderr);
    let messages = messages(&ran.stdout);
    let mut schemas = BTreeMap::new();
    let mut sent = BTreeMap::new();
    for m in &messages {
        let stream = m["stream"].as_str().unwrap_or_default();
        match m["type"].as_str().unwrap() {
            "SCHEMA" => {
                schemas.insert(
                    stream.to_owned(),
                    jsonschema::draft7::new(&m["schema"]).unwrap(),
                );
            }
            "RECORD" => {
                let record = &m["record"];
                if let Err(e) = schemas[stream].validate(record) {
                    panic!("a {stream} record does not fit its schema ({e}): {record}");
                }
                sent.insert(
                    (stream.to_owned(), record["id"].as_u64().unwrap()),
                    record.clone(),
                );
            }
            _ => {}
        }
    }
    let chat = &sent[&("chats".to_owned(), 3)];
    assert_eq!(chat["agents"], json!([{"id": 3, "name": "Agent 3"}]));
    assert_eq!(
        (&chat["lastMessageId"], &chat["customer"]),
        (&json!(123), &Value::Null)
    );
    assert_eq!(chat["applicationId"], json!(7));
    let customer = &sent[&("customers".to_owned(), 4)];
    assert_eq!(
        (&customer["blocked"], &customer["unsubscribed"]),
        (&json!(false), &json!(true))
    );
    assert_eq!(
        (&customer["phone"], &customer["location"]),
        (&json!("5551234"), &Value::Null)
    );
    assert_eq!(customer["tags"], json!([{"name": "vip"}]));
    // A record with nothing odd goes as the server sent it.
    let plain = &sent[&("chats".to_owned(), 4)];
    assert_eq!(plain, &sync::truth(&sim).table(Collection::Chats)[&4]);
}

#[test]
fn every_record_of_a_sync_fits_its_streams_schema_and_every_record_is_sent_once() {
    let sim = account();
    let dir = scratch("tap-every-record");
    let config = config_for(&sim, 600_000, &dir, json!({}));
    let ran = run(tap(&["--config", config.to_str().unwrap()]));
    assert!(ran.status.success(), "{}", ran.stderr);
    let messages = messages(&ran.stdout);

    let singer = jsonschema::draft7::new(&fixture("message.schema.json")).unwrap();
    let mut schemas: BTreeMap<String, jsonschema::Validator> = BTreeMap::new();
    let mut order = Vec::new();
    let mut forms = BTreeMap::<&str, u64>::new();
    let mut states = 0;
    for m in &messages {
        if let Err(e) = singer.validate(m) {
            panic!("not a Singer message ({e}): {m}");
        }
        let stream = m["stream"].as_str().unwrap_or_default().to_owned();
        match m["type"].as_str().unwrap() {
            "SCHEMA" => {
                schemas.insert(
                    stream.clone(),
                    jsonschema::draft7::new(&m["schema"]).unwrap(),
                );
                order.push(stream);
            }
            "RECORD" => {
                let schema = schemas
                    .get(&stream)
                    .unwrap_or_else(|| panic!("a {stream} RECORD before its SCHEMA"));
                let record = &m["record"];
                if let Err(e) = schema.validate(record) {
                    panic!("a {stream} record does not fit its schema ({e}): {record}");
                }
                let form = match &record["createdAt"] {
                    Value::Number(_) => "integer",
                    Value::String(s) if s.contains('.') => "fractional string",
                    Value::String(_) => "string",
                    Value::Null => "null",
                    _ => "absent",
                };
                *forms.entry(form).or_default() += 1;
            }
            "STATE" => states += 1,
            other => panic!("a {other} message, not asked for: {m}"),
        }
        assert!(m.get("version").is_none(), "a version, not asked for: {m}");
    }
    assert_eq!(
        order,
        ["departments", "agents", "customers", "chats", "messages"]
    );
    assert_eq!(states, 5, "a STATE after each stream");
    for form in ["integer", "string", "fractional string"] {
        assert!(
            forms.contains_key(form),
            "no timestamp as {form} was checked: {forms:?}"
        );
    }

    // Every record once, as the server holds it.
    let mut copy = Copy::default();
    upsert_records(&mut copy, &messages);
    let sent = messages.iter().filter(|m| m["type"] == "RECORD").count();
    let held: usize = copy.collections.values().map(BTreeMap::len).sum();
    assert_eq!(sent, held, "a record sent twice");
    assert_same_records(&copy, &sim);
    let state: SyncState = serde_json::from_value(last_state(&messages).unwrap()).unwrap();
    for &c in Collection::ALL {
        assert!(state.bookmark(c).is_some(), "{c} has no bookmark");
    }
}

#[test]
fn a_sync_from_the_last_state_reads_only_what_changed() {
    let sim = account();
    let dir = scratch("tap-second-sync");
    let config = config_for(&sim, 600_000, &dir, json!({}));
    let config = config.to_str().unwrap();
    let mut copy = Copy::default();
    let first = run(tap(&["--config", config]));
    assert!(first.status.success(), "{}", first.stderr);
    let first = messages(&first.stdout);
    upsert_records(&mut copy, &first);
    change_a_little(&sim, LOOKBACK);

    let before = sim.stats().requests;
    let second = sync_from(config, &dir, &first);
    let requests = sim.stats().requests - before;
    upsert_records(&mut copy, &second);
    assert_same_records(&copy, &sim);
    assert_eq!(
        (
            records_of(&second, "chats"),
            records_of(&second, "messages")
        ),
        (4, 4),
        "the changed chats, their new messages"
    );
    // Departments and agents whole (a page each), a page or two for each of the others, and
    // one for each changed chat's messages.
    assert!(requests <= 12, "{requests} requests for a few changes");
    assert!(
        second.iter().all(|m| m["type"] != "RECORD"
            || m["stream"] != "customers"
            || [5, 231, 232, 233].contains(&m["record"]["id"].as_u64().unwrap())
            || m["record"]["id"].as_u64().unwrap() > 180),
        "customers: only new, seen, or the last 50 checked again"
    );
}

#[test]
fn only_the_selected_streams_and_fields_are_read() {
    let sim = account();
    let dir = scratch("tap-selection");
    let config = config_for(&sim, 600_000, &dir, json!({}));
    let mut catalog = discover();
    for entry in catalog["streams"].as_array_mut().unwrap() {
        let chats = entry["stream"] == "chats";
        for m in entry["metadata"].as_array_mut().unwrap() {
            if m["breadcrumb"] == json!([]) {
                m["metadata"]["selected"] = json!(chats);
            } else if m["breadcrumb"] == json!(["properties", "lastMessageText"]) {
                m["metadata"]["selected"] = json!(false);
            }
        }
        // A field inside an object, as Meltano writes `!chats.customer.email`.
        entry["metadata"].as_array_mut().unwrap().push(json!({
            "breadcrumb": ["properties", "customer", "properties", "email"],
            "metadata": {"selected": false},
        }));
    }
    let path = dir.join("catalog.json");
    std::fs::write(&path, catalog.to_string()).unwrap();
    let before = sim.stats().requests;
    for flag in ["--catalog", "--properties"] {
        let ran = run(tap(&[
            "--config",
            config.to_str().unwrap(),
            flag,
            path.to_str().unwrap(),
        ]));
        assert!(ran.status.success(), "{}", ran.stderr);
        let messages = messages(&ran.stdout);
        let streams: std::collections::BTreeSet<&str> = messages
            .iter()
            .filter_map(|m| m["stream"].as_str())
            .collect();
        assert_eq!(streams.into_iter().collect::<Vec<_>>(), ["chats"]);
        let records: Vec<&Value> = messages.iter().filter(|m| m["type"] == "RECORD").collect();
        assert_eq!(records.len(), 140);
        assert!(records
            .iter()
            .all(|m| m["record"].get("lastMessageText").is_none()));
        assert!(records
            .iter()
            .all(|m| m["record"]["customer"].get("email").is_none()
                && m["record"]["customer"].get("name").is_some()));
        assert!(records
            .iter()
            .all(|m| m["record"].get("lastMessageAt").is_some()));
        let schema = &messages[0]["schema"]["properties"];
        assert!(schema.get("lastMessageText").is_none() && schema.get("id").is_some());
        assert!(schema["customer"]["properties"].get("email").is_none());
    }
    let paths: std::collections::BTreeSet<String> = sim.requests()[before as usize..]
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert!(
        !paths.is_empty() && paths.iter().all(|p| p.ends_with("/chats")),
        "only chats were asked for: {paths:?}"
    );
}

#[test]
fn a_failed_sync_exits_non_zero_after_the_last_state_that_holds() {
    // Departments (a page), agents (a page), the customers' first page, then their second
    // fails for good: the first page's records are sent as a table version that is never
    // activated, so a target drops no row.
    let sim = Simulator::builder()
        .departments(25)
        .agents(6)
        // Two pages: no window but the second's after the first, whichever the server answers
        // first.
        .customers(150)
        .fault(4, Fault::Status(401))
        .start()
        .unwrap();
    let dir = scratch("tap-failed");
    let config = activating(&sim, &dir, json!({}));
    let ran = run(tap(&["--config", config.to_str().unwrap()]));
    assert_eq!(ran.status.code(), Some(1), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("error reading customers"),
        "{}",
        ran.stderr
    );
    assert!(
        !ran.stderr.contains(sim.api_key()),
        "the key in {}",
        ran.stderr
    );
    let messages = messages(&ran.stdout);
    let at = messages.iter().rposition(|m| m["type"] == "STATE").unwrap();
    // After the last STATE, nothing but the SCHEMA of the stream that failed and the records
    // read before the failure: no ACTIVATE_VERSION.
    let after: Vec<(&Value, &Value)> = messages[at + 1..]
        .iter()
        .map(|m| (&m["type"], &m["stream"]))
        .collect();
    assert_eq!(after[0], (&json!("SCHEMA"), &json!("customers")));
    assert_eq!(after.len(), 101, "the first page's records: {after:?}");
    assert!(
        after[1..]
            .iter()
            .all(|&m| m == (&json!("RECORD"), &json!("customers"))),
        "{after:?}"
    );
    assert!(
        messages[at - 1]["type"] == "ACTIVATE_VERSION",
        "agents' was activated"
    );
    let state: SyncState = serde_json::from_value(messages[at]["value"].clone()).unwrap();
    assert!(state.bookmark(Collection::Agents).is_some());
    assert!(state.bookmark(Collection::Customers).is_none());
}

/// The messages of a sync with `config` from the last `STATE` of `before` (written into
/// `dir`), which must succeed.
fn sync_from(config: &str, dir: &Path, before: &[Value]) -> Vec<Value> {
    let state = dir.join("state.json");
    std::fs::write(&state, last_state(before).unwrap().to_string()).unwrap();
    let ran = run(tap(&[
        "--config",
        config,
        "--state",
        state.to_str().unwrap(),
    ]));
    assert!(ran.status.success(), "{}", ran.stderr);
    messages(&ran.stdout)
}

/// A config for `sim` with `emit_activate_version_messages` on, and `more` settings.
fn activating(sim: &Simulator, dir: &Path, mut more: Value) -> PathBuf {
    more["emit_activate_version_messages"] = json!(true);
    config_for(sim, 600_000, dir, more)
}

/// Each stream's messages of a sync, in order, with the `version` of its records (all one)
/// and whether an `ACTIVATE_VERSION` of that version came after the last record and before
/// the stream's `STATE`.
fn versions(messages: &[Value]) -> BTreeMap<String, (usize, Option<u64>, bool)> {
    let mut streams = BTreeMap::new();
    let mut current: Option<String> = None;
    for m in messages {
        match m["type"].as_str().unwrap() {
            "SCHEMA" => {
                let name = m["stream"].as_str().unwrap().to_owned();
                streams.insert(name.clone(), (0, None, false));
                current = Some(name);
            }
            "RECORD" => {
                let (records, version, activated) = streams
                    .get_mut(m["stream"].as_str().unwrap())
                    .expect("a RECORD after its SCHEMA");
                assert!(!*activated, "a RECORD after its ACTIVATE_VERSION: {m}");
                let this = m["version"].as_u64();
                if *records > 0 {
                    assert_eq!(this, *version, "one version a stream: {m}");
                }
                *records += 1;
                *version = this;
            }
            "ACTIVATE_VERSION" => {
                let (_, version, activated) =
                    streams.get_mut(m["stream"].as_str().unwrap()).unwrap();
                assert!(!*activated, "activated twice: {m}");
                if version.is_some() {
                    assert_eq!(m["version"].as_u64(), *version, "{m}");
                }
                *version = m["version"].as_u64();
                *activated = true;
            }
            "STATE" => current = None,
            other => panic!("{other}"),
        }
        if m["type"] != "SCHEMA" && m["type"] != "STATE" {
            assert_eq!(
                current.as_deref(),
                m["stream"].as_str(),
                "after its stream's STATE: {m}"
            );
        }
    }
    streams
}

#[test]
fn streams_read_whole_are_sent_as_table_versions_activated_after_their_last_record() {
    let sim = account();
    let dir = scratch("tap-activate-version");
    let config = activating(&sim, &dir, json!({}));
    let config = config.to_str().unwrap();
    let before = sim.now() * 1_000;
    let first = run(tap(&["--config", config]));
    assert!(first.status.success(), "{}", first.stderr);
    let first = messages(&first.stdout);
    let singer = jsonschema::draft7::new(&fixture("message.schema.json")).unwrap();
    for m in &first {
        if let Err(e) = singer.validate(m) {
            panic!("not a Singer message ({e}): {m}");
        }
    }
    // A first sync reads every stream whole.
    let streams = versions(&first);
    assert_eq!(streams.len(), 5);
    let mut first_versions = BTreeMap::new();
    for (name, &(records, version, activated)) in &streams {
        assert!(records > 0 && activated, "{name}: {:?}", streams[name]);
        let version = version.unwrap();
        assert!(
            version >= before,
            "{name}: {version} is not the time of the run"
        );
        first_versions.insert(name.clone(), version);
    }

    // From the state: departments and agents whole again, at a later version; the rest only
    // what changed, which says nothing of the rows not sent.
    change_a_little(&sim, LOOKBACK);
    let streams = versions(&sync_from(config, &dir, &first));
    assert_versions(
        &streams,
        &["departments", "agents"],
        &["customers", "chats", "messages"],
    );
    for name in ["departments", "agents"] {
        assert!(
            streams[name].1 > Some(first_versions[name]),
            "{name}: not later"
        );
    }
}

/// Asserts that each stream of `whole` was sent as a version activated after its records,
/// and each of `changed` as records with no version.
fn assert_versions(
    streams: &BTreeMap<String, (usize, Option<u64>, bool)>,
    whole: &[&str],
    changed: &[&str],
) {
    for &name in whole {
        let (records, version, activated) = streams[name];
        assert!(records > 0 && version.is_some() && activated, "{name}");
    }
    for &name in changed {
        let (records, version, activated) = streams[name];
        assert!(records > 0, "{name}: records sent");
        assert_eq!((version, activated), (None, false), "{name}");
    }
}

#[test]
fn with_a_start_date_chats_and_messages_are_never_activated() {
    // Read from start_date, chats and messages are not whole: a version activated would
    // drop every older row.
    let sim = account();
    let dir = scratch("tap-activate-start-date");
    let config = activating(&sim, &dir, json!({"start_date": "2020-01-01"}));
    let ran = run(tap(&["--config", config.to_str().unwrap()]));
    assert!(ran.status.success(), "{}", ran.stderr);
    assert_versions(
        &versions(&messages(&ran.stdout)),
        &["departments", "agents", "customers"],
        &["chats", "messages"],
    );
}

#[test]
fn a_stream_read_whole_with_no_record_is_activated_with_a_warning() {
    // No agents left: their table is emptied, and the log says so.
    let sim = Simulator::builder()
        .departments(3)
        .agents(0)
        .start()
        .unwrap();
    let dir = scratch("tap-activate-empty");
    let config = activating(&sim, &dir, json!({}));
    let path = dir.join("catalog.json");
    std::fs::write(
        &path,
        r#"{"streams":[{"tap_stream_id":"departments","selected":true},
                       {"tap_stream_id":"agents","selected":true}]}"#,
    )
    .unwrap();
    let ran = run(tap(&[
        "--config",
        config.to_str().unwrap(),
        "--catalog",
        path.to_str().unwrap(),
    ]));
    assert!(ran.status.success(), "{}", ran.stderr);
    let streams = versions(&messages(&ran.stdout));
    assert!(
        streams["agents"].1.is_some() && streams["agents"].2,
        "{streams:?}"
    );
    assert_eq!(streams["agents"].0, 0);
    assert!(
        ran.stderr
            .contains("agents was read whole and holds no record"),
        "{}",
        ran.stderr
    );
    assert!(
        !ran.stderr.contains("departments was read whole"),
        "{}",
        ran.stderr
    );
}

#[test]
fn configs_that_cannot_work_are_refused_without_quoting_a_setting() {
    let sim = account();
    let dir = scratch("tap-bad-configs");
    let secret = "s3cr3t-k3y-that-must-not-show";
    let cases = [
        (
            json!({"api_key": null, "base_url": sim.base_url()}),
            "no API key",
        ),
        (
            json!({"api_key": 12345678, "base_url": sim.base_url()}),
            "api_key must be text",
        ),
        (
            json!({"api_key": secret, "page_size": 500}),
            "page_size must be 1 to 100",
        ),
        (
            json!({"api_key": secret, "requests_per_minute": "fast"}),
            "requests_per_minute must be",
        ),
        (
            json!({"api_key": secret, "lookback": 1}),
            "lookback is in seconds",
        ),
        (
            json!({"api_key": secret, "start_date": "last week"}),
            "start_date \"last week\"",
        ),
        (
            json!({"api_key": secret, "redis_url": ["x"]}),
            "redis_url must be text",
        ),
        (
            json!({"api_key": secret, "emit_activate_version_messages": "yes"}),
            "emit_activate_version_messages must be true or false",
        ),
    ];
    for (config, says) in cases {
        let path = dir.join("config.json");
        std::fs::write(&path, config.to_string()).unwrap();
        let ran = run(tap(&["--config", path.to_str().unwrap()]));
        assert_eq!(ran.status.code(), Some(2), "{config}: {}", ran.stderr);
        assert!(ran.stderr.contains(says), "{config}: {}", ran.stderr);
        assert!(
            !ran.stderr.contains(secret) && !ran.stderr.contains("12345678"),
            "{}",
            ran.stderr
        );
        assert!(ran.stdout.is_empty(), "{config}: {}", ran.stdout);
    }
    let ran = run(tap(&[]));
    assert_eq!(ran.status.code(), Some(2));
    assert!(ran.stderr.contains("--config"), "{}", ran.stderr);
    assert_eq!(sim.stats().requests, 0, "nothing was asked of the server");
}

#[test]
fn about_lists_every_setting_and_the_capabilities() {
    let ran = run(tap(&["--about", "--format", "json"]));
    assert!(ran.status.success(), "{}", ran.stderr);
    let about: Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(about["name"], "tap-helpcrunch");
    for capability in ["catalog", "discover", "state", "about"] {
        assert!(about["capabilities"]
            .as_array()
            .unwrap()
            .contains(&json!(capability)));
    }
    let settings = about["settings"]["properties"].as_object().unwrap();
    for name in [
        "api_key",
        "base_url",
        "requests_per_minute",
        "start_date",
        "lookback",
        "redis_url",
        "page_size",
    ] {
        assert!(settings[name]["description"].is_string(), "{name}");
    }
    assert_eq!(settings["api_key"]["secret"], true);
    let text = run(tap(&["--about"]));
    assert!(
        text.stdout.contains("start_date (string)"),
        "{}",
        text.stdout
    );
}

#[test]
fn warnings_reach_stderr_with_rust_log_unset_and_stdout_stays_singer() {
    let sim = Simulator::builder().departments(3).start().unwrap();
    let dir = scratch("tap-warnings");
    let config = config_for(&sim, 600_000, &dir, json!({"api_token": "x"}));
    let path = dir.join("catalog.json");
    std::fs::write(
        &path,
        r#"{"streams":[{"tap_stream_id":"departments","selected":true}]}"#,
    )
    .unwrap();
    let args = [
        "--config",
        config.to_str().unwrap(),
        "--catalog",
        path.to_str().unwrap(),
    ];
    let ran = run(tap(&args));
    assert!(ran.status.success(), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("WARN") && ran.stderr.contains("api_token"),
        "{}",
        ran.stderr
    );
    assert_eq!(
        messages(&ran.stdout).len(),
        5,
        "SCHEMA, three RECORDs, STATE: {}",
        ran.stdout
    );
    let mut quiet = tap(&args);
    quiet.env("RUST_LOG", "error");
    let ran = run(quiet);
    assert!(!ran.stderr.contains("WARN"), "{}", ran.stderr);
    // Python's (and Meltano's) name for the level.
    let mut python = tap(&args);
    python.env("RUST_LOG", "warning");
    let ran = run(python);
    assert!(ran.stderr.contains("api_token"), "{}", ran.stderr);
}
