//! The Redis Cluster harness itself (`support/redis_cluster.rs`), against real nodes: that keys
//! land where it says they do, and that a killed primary's replica takes over with its data.
//! Without `redis-server` and `redis-cli` these tests skip with a notice.

mod support;

use std::time::Instant;

use support::redis_cluster::RedisCluster;

/// Keys with hashtags that fall on slots of all three primaries (`{a}` 15495, `{b}` 3300,
/// `{c}` 7365, `{user:1}` 10778, `{user:2}` 6777), and one without a hashtag.
const KEYS: [&str; 6] = [
    "{a}one",
    "{b}two",
    "{c}three",
    "{user:1}x",
    "{user:2}y",
    "plain",
];

#[test]
fn keys_live_on_the_primary_that_serves_their_slot() {
    let started = Instant::now();
    let Some(cluster) = RedisCluster::start("keys_live_on_the_primary_that_serves_their_slot", 0)
    else {
        return;
    };
    eprintln!("3 primaries up in {:?}", started.elapsed());
    let urls = cluster.urls();
    assert_eq!(urls.len(), 3);
    let mut primaries = cluster.primaries();
    primaries.sort();
    let mut all = urls.clone();
    all.sort();
    assert_eq!(primaries, all, "without replicas every node is a primary");

    // Written through one node, following its redirects as a cluster client does.
    for key in KEYS {
        let answer = cluster.cli(&urls[0], &["-c", "SET", key, &format!("value of {key}")]);
        assert_eq!(answer.trim(), "OK", "SET {key}");
    }
    let mut expected: Vec<String> = KEYS.iter().map(|k| k.to_string()).collect();
    expected.sort();
    assert_eq!(cluster.keys(), expected);

    let mut owners = std::collections::HashSet::new();
    for key in KEYS {
        let owner = cluster.primary_for(key);
        // Asked without redirects, the owner has the key itself ...
        assert_eq!(
            cluster.cli(&owner, &["GET", key]).trim(),
            format!("value of {key}"),
            "GET {key} on {owner}, its slot's primary"
        );
        // ... and sends a client elsewhere nowhere else has it: the others redirect to it.
        let slot = cluster.cli(&owner, &["CLUSTER", "KEYSLOT", key]);
        for other in urls.iter().filter(|url| **url != owner) {
            let answer = cluster.cli(other, &["GET", key]);
            assert!(
                answer.contains(&format!("MOVED {}", slot.trim())),
                "GET {key} on {other}, not its slot's primary, answered {answer:?}"
            );
        }
        assert_ne!(cluster.cli(&owner, &["DBSIZE"]).trim(), "0");
        owners.insert(owner);
    }
    assert_eq!(
        owners.len(),
        3,
        "the hashtags spread the keys over every primary"
    );
}

#[test]
fn a_replica_takes_over_a_killed_primary_with_its_data() {
    let started = Instant::now();
    let Some(cluster) =
        RedisCluster::start("a_replica_takes_over_a_killed_primary_with_its_data", 1)
    else {
        return;
    };
    eprintln!("3 primaries and 3 replicas up in {:?}", started.elapsed());
    assert_eq!(cluster.urls().len(), 6);
    let before = cluster.primaries();
    assert_eq!(before.len(), 3, "{before:?}");

    let key = "{failover}key";
    let owner = cluster.primary_for(key);
    assert_eq!(cluster.cli(&owner, &["SET", key, "kept"]).trim(), "OK");
    // The write is on the replica before the primary dies, or the failover may lose it.
    assert_eq!(cluster.cli(&owner, &["WAIT", "1", "1000"]).trim(), "1");

    let killed = Instant::now();
    cluster.kill(&owner);
    eprintln!("failover after the kill in {:?}", killed.elapsed());

    let after = cluster.primaries();
    assert_eq!(after.len(), 3, "a replica was promoted: {after:?}");
    assert!(!after.contains(&owner), "{owner} was killed: {after:?}");
    let promoted = cluster.primary_for(key);
    assert_ne!(promoted, owner);
    assert!(!before.contains(&promoted), "the new owner was a replica");
    assert_eq!(cluster.cli(&promoted, &["GET", key]).trim(), "kept");
    // Any live node leads a cluster client to it.
    let other = after.iter().find(|url| **url != promoted).unwrap();
    assert_eq!(cluster.cli(other, &["-c", "GET", key]).trim(), "kept");
    assert_eq!(cluster.keys(), vec![key.to_owned()]);
}
