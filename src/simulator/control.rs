//! What a test does to a running simulator's data and clock from outside, between requests or
//! while they are served: read and move the server's clock, add a message, see a customer,
//! append records, apply a [`Mutation`], and take a snapshot to compare an export with.

use std::sync::MutexGuard;
use std::time::Duration;

use serde_json::Value;

use super::account::Account;
use super::handle::Simulator;
use super::mutation::Mutation;
use super::read::Read;
use super::records::Kind;

impl Simulator {
    /// The server's clock now, in UNIX seconds: the system clock shifted by
    /// [`clock_offset`](super::SimulatorBuilder::clock_offset) and moved on by
    /// [`advance_clock`](Self::advance_clock). Every answer's `Date` header tells it, and every
    /// change stamps records with it.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::Simulator;
    /// let sim = Simulator::builder().clock_offset(3_600).start()?;
    /// let ahead = Simulator::builder().clock_offset(7_200).start()?;
    /// assert!((3_599..=3_601).contains(&(ahead.now() - sim.now())));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn now(&self) -> u64 {
        self.state.clock.now()
    }

    /// Moves the server's clock on by `by`, for every answer and change from now on, so a test
    /// can step past a client's lookback without sleeping.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::Simulator;
    /// use std::time::Duration;
    /// let sim = Simulator::builder().start()?;
    /// let before = sim.now();
    /// sim.advance_clock(Duration::from_secs(600));
    /// assert!((before + 600..=before + 601).contains(&sim.now()));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn advance_clock(&self, by: Duration) {
        self.state.clock.advance(by);
    }

    /// Applies `mutation` now, between requests, to the collection at `path` (as the builder
    /// names it: `"chats"`, `"chats/7/messages"`), as if before a request at offset `cursor`;
    /// recorded in [`changes`](Self::changes) like the mutations the builder schedules. A
    /// query on `path` chooses the order `cursor` counts in, as a request's would
    /// (`"chats?sort=chats.lastMessageAt&order=desc"`); without one it is the default order.
    /// A test can change the data this way between an exporter's crash and its resume, or
    /// delete a customer between two runs of a sync (`Mutation::Delete(id)`).
    ///
    /// # Panics
    ///
    /// When there is no collection at `path`, or its query is one the API refuses: a test that
    /// names the wrong one should fail, not pass on unchanged data.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::{Mutation, Simulator};
    /// let sim = Simulator::builder().customers(100).departments(10).start()?;
    /// sim.mutate("customers", Mutation::Touch(2), 90);
    /// sim.mutate("customers?sort=customers.lastSeen&order=desc", Mutation::Touch(1), 0);
    /// sim.mutate("departments", Mutation::DeleteBefore(3), 5);
    /// let changes = sim.changes();
    /// assert_eq!(changes.touched.len(), 3);
    /// assert!(changes.touched[..2].iter().all(|&id| id > 90), "past the cursor");
    /// assert!(changes.deleted.iter().all(|&id| id <= 5), "before the cursor");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn mutate(&self, path: &str, mutation: Mutation, cursor: u64) {
        let (key, query) = split(path);
        let now = self.now();
        let mut account = self.account();
        let kind = kind_at(&mut account, key);
        let read = Read::list(kind, query)
            .unwrap_or_else(|e| panic!("the API refuses {path:?}: {e:?}"))
            .at(cursor);
        let mut changes = self.state.changes.lock().unwrap_or_else(|p| p.into_inner());
        let (log, rng) = &mut *changes;
        account.apply(key, mutation, &read, (rng, log), now);
    }

    /// A new message in chat `chat_id`, created at the server's time now ([`now`](Self::now)):
    /// first among the chat's messages, and the chat's `lastMessageAt`,
    /// `lastCustomerMessageAt`, `updatedAt` and `lastMessageId` show it (the chat is touched,
    /// listed in [`Changes::touched`](super::Changes::touched), and moves in the order of activity). Returns the
    /// message's id, the next in the chat's id space.
    ///
    /// # Panics
    ///
    /// When there is no chat `chat_id`.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::Simulator;
    /// let sim = Simulator::builder().chats(10).start()?;
    /// let before = sim.now();
    /// let id = sim.add_message(7);
    /// assert_eq!(id, 7_000_004, "chat 7 had 1 + 7 % 5 messages");
    /// let chat = sim.snapshot("chats").remove(6);
    /// assert_eq!(chat["lastMessageId"], id);
    /// let updated = chat["updatedAt"].as_u64().unwrap(); // chat 7's times are integers
    /// assert!((before..=sim.now()).contains(&updated));
    /// assert_eq!(sim.snapshot("chats/7/messages")[0]["id"], id);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn add_message(&self, chat_id: u64) -> u64 {
        let now = self.now();
        let mut account = self.account();
        let mut changes = self.state.changes.lock().unwrap_or_else(|p| p.into_inner());
        account
            .add_message(chat_id, &mut changes.0, now)
            .unwrap_or_else(|| panic!("the simulator has no chat {chat_id} to add a message to"))
    }

    /// A new message in chat `chat_id` as [`add_message`](Self::add_message) makes it, but
    /// committed `late`: it carries the server's time `late` ago, and shows only from now on,
    /// as a write that took that long does. A read that began in between could not see it,
    /// and only a next read that looks back at least `late` before that read's start finds it.
    ///
    /// # Panics
    ///
    /// When there is no chat `chat_id`.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::Simulator;
    /// use std::time::Duration;
    /// let sim = Simulator::builder().chats(10).start()?;
    /// let now = sim.now();
    /// sim.add_message_committed_late(3, Duration::from_secs(30));
    /// let chat = sim.snapshot("chats").remove(2);
    /// let updated = chat["updatedAt"].as_str().map_or_else(
    ///     || chat["updatedAt"].as_f64().unwrap(),
    ///     |s| s.parse::<f64>().unwrap(),
    /// ) as u64;
    /// assert!(updated + 29 <= now, "stamped half a minute back");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn add_message_committed_late(&self, chat_id: u64, late: Duration) -> u64 {
        let at = self.now().saturating_sub(late.as_secs());
        let mut account = self.account();
        let mut changes = self.state.changes.lock().unwrap_or_else(|p| p.into_inner());
        account
            .add_message(chat_id, &mut changes.0, at)
            .unwrap_or_else(|| panic!("the simulator has no chat {chat_id} to add a message to"))
    }

    /// Customer `id` is back: its `lastSeen` becomes the server's time now, and it moves in the
    /// order of activity (listed in [`Changes::touched`](super::Changes::touched)).
    ///
    /// # Panics
    ///
    /// When there is no customer `id`.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::Simulator;
    /// let sim = Simulator::builder().customers(10).start()?;
    /// let before = sim.now();
    /// sim.see_customer(3);
    /// let seen = &sim.snapshot("customers")[2]["lastSeen"]; // customer 3's are strings
    /// let seen: u64 = seen.as_str().unwrap().parse().unwrap();
    /// assert!((before..=sim.now()).contains(&seen));
    /// assert_eq!(sim.changes().touched, [3]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn see_customer(&self, id: u64) {
        let now = self.now();
        let mut account = self.account();
        let mut changes = self.state.changes.lock().unwrap_or_else(|p| p.into_inner());
        if !account.touch("customers", id, &mut changes.0, now) {
            panic!("the simulator has no customer {id} to see");
        }
    }

    /// Creates `n` records at the end of the creation order of the collection at `path`, with
    /// the next ids, and returns them (listed in [`Changes::inserted`](super::Changes::inserted)). New chats and
    /// customers are new at the server's time now: touched as they are created (their
    /// `lastMessageAt`, `updatedAt` and `lastSeen` show it), and a new chat has one message,
    /// created then. New messages (`"chats/7/messages"`) are the newest, first in the list,
    /// and touch their chat. The same as [`Mutation::Append`] (for messages,
    /// [`Mutation::InsertFront`]).
    ///
    /// # Panics
    ///
    /// When there is no collection at `path`.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::Simulator;
    /// let sim = Simulator::builder().chats(10).customers(5).start()?;
    /// assert_eq!(sim.append("customers", 2), [6, 7]);
    /// assert_eq!(sim.append("chats", 1), [11]);
    /// assert_eq!(sim.snapshot("chats/11/messages").len(), 1);
    /// assert_eq!(sim.append("chats/11/messages", 2), [11_000_002, 11_000_003]);
    /// assert_eq!(sim.snapshot("chats/11/messages")[0]["id"], 11_000_003);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn append(&self, path: &str, n: usize) -> Vec<u64> {
        let (key, _) = split(path);
        let now = self.now();
        let mut account = self.account();
        let mutation = match kind_at(&mut account, key) {
            Kind::Message => Mutation::InsertFront(n),
            _ => Mutation::Append(n),
        };
        let mut changes = self.state.changes.lock().unwrap_or_else(|p| p.into_inner());
        let (log, rng) = &mut *changes;
        let from = log.inserted.len();
        account.apply(key, mutation, &Read::from_offset(0), (rng, log), now);
        let mut ids = log.inserted[from..].to_vec();
        ids.sort_unstable();
        ids
    }

    /// Begins creating a record in the collection at `path` that commits only at
    /// [`commit`](Self::commit): it takes the next id now, so records created in the meantime
    /// get higher ones, but no answer shows it until then. Committed, it stands in the
    /// creation order by its id, behind records a read may already have passed: a creation
    /// that took longer than one begun after it. It is not touched: a customer so created reads
    /// as one never active (a `lastSeen` from long ago), whom no search by activity finds.
    ///
    /// # Panics
    ///
    /// When there is no collection at `path`, or it is a chat's messages
    /// ([`add_message_committed_late`](Self::add_message_committed_late) makes a late one).
    ///
    /// ```
    /// use helpcrunch_pager::simulator::Simulator;
    /// let sim = Simulator::builder().customers(5).start()?;
    /// let late = sim.begin_create("customers");
    /// assert_eq!((late, sim.append("customers", 2)), (6, vec![7, 8]));
    /// assert_eq!(sim.snapshot("customers").len(), 7, "not committed yet");
    /// sim.commit("customers", late);
    /// let ids: Vec<_> = sim.snapshot("customers").iter().map(|c| c["id"].as_u64().unwrap()).collect();
    /// assert_eq!(ids, [1, 2, 3, 4, 5, 6, 7, 8]);
    /// assert_eq!(sim.changes().inserted, [7, 8, 6]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn begin_create(&self, path: &str) -> u64 {
        let (key, _) = split(path);
        let mut account = self.account();
        if kind_at(&mut account, key) == Kind::Message {
            panic!(
                "a message committed late is made by add_message_committed_late, not at {path:?}"
            );
        }
        let collection = account.get(key).expect("found above");
        let id = collection.next_id;
        collection.next_id += 1;
        collection.uncommitted.insert(id);
        id
    }

    /// Commits the record [`begin_create`](Self::begin_create) began in the collection at
    /// `path`: from now on it is listed, in its place by id in the creation order, and in
    /// [`Changes::inserted`](super::Changes::inserted).
    ///
    /// # Panics
    ///
    /// When no creation of record `id` was begun there, or it was committed already, or the
    /// collection is not in id order (records were inserted at its front).
    pub fn commit(&self, path: &str, id: u64) {
        let (key, _) = split(path);
        let mut account = self.account();
        kind_at(&mut account, key);
        let collection = account.get(key).expect("found above");
        // Records inserted at the front (Mutation::InsertFront) leave no place by id.
        assert!(
            collection.ids.is_sorted(),
            "a record committed late stands by its id, in a collection kept in id order, \
             which {path:?} is not"
        );
        if !collection.uncommitted.remove(&id) {
            panic!("no creation of record {id} at {path:?} is waiting to commit");
        }
        let at = collection.ids.partition_point(|&other| other < id);
        collection.ids.insert(at, id);
        collection.reordered(None);
        let mut changes = self.state.changes.lock().unwrap_or_else(|p| p.into_inner());
        changes.0.inserted.push(id);
    }

    /// The records of the collection at `path` as the API would render them now, every one,
    /// in its default order (a chat's messages newest first), or in the order a query on
    /// `path` asks for (`"chats?sort=chats.lastMessageAt&order=desc"`). Rendering is
    /// deterministic: a record reads the same here and in every answer until it changes, so
    /// a test can compare what an exporter merged with this.
    ///
    /// # Panics
    ///
    /// When there is no collection at `path`, or its query is one the API refuses.
    ///
    /// ```
    /// use helpcrunch_pager::simulator::Simulator;
    /// let sim = Simulator::builder().chats(3).start()?;
    /// let chats = sim.snapshot("chats");
    /// assert_eq!(chats.len(), 3);
    /// assert_eq!(chats[2]["id"], 3);
    /// let newest_first = sim.snapshot("chats/3/messages");
    /// assert_eq!(newest_first.iter().map(|m| &m["id"]).collect::<Vec<_>>(), [3_000_004, 3_000_003, 3_000_002, 3_000_001]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn snapshot(&self, path: &str) -> Vec<Value> {
        let (key, query) = split(path);
        let mut account = self.account();
        let kind = kind_at(&mut account, key);
        let read =
            Read::list(kind, query).unwrap_or_else(|e| panic!("the API refuses {path:?}: {e:?}"));
        let collection = account.get(key).expect("found above");
        let mut out = String::new();
        read.every(collection)
            .into_iter()
            .map(|id| {
                out.clear();
                collection
                    .render(id, &mut out)
                    .expect("writing to a String cannot fail");
                serde_json::from_str(&out).expect("the simulator's records are JSON")
            })
            .collect()
    }

    fn account(&self) -> MutexGuard<'_, Account> {
        self.state.account.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A path as a test gives it: the collection's key and the query, if any.
fn split(path: &str) -> (&str, &str) {
    let (key, query) = path.split_once('?').unwrap_or((path, ""));
    (key.trim_matches('/'), query)
}

/// The kind of the collection at `key`.
///
/// # Panics
///
/// When there is none, naming those there are.
fn kind_at(account: &mut Account, key: &str) -> Kind {
    if let Some(collection) = account.get(key) {
        return collection.kind;
    }
    let paths = account.paths();
    let shown = &paths[..paths.len().min(20)];
    let more = if paths.len() > shown.len() {
        " and more"
    } else {
        ""
    };
    panic!("the simulator has no collection at {key:?}; it has {shown:?}{more}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mutation_from_outside_counts_its_cursor_in_the_order_its_query_names() {
        let sim = Simulator::builder().chats(50).start().unwrap();
        let newest_first = "/chats?sort=chats.lastMessageAt&order=desc";
        sim.mutate(newest_first, Mutation::Touch(5), 40);
        let touched = sim.changes().touched;
        assert_eq!(touched.len(), 5);
        assert!(
            touched.iter().all(|&id| id <= 10),
            "not read yet: {touched:?}"
        );
        sim.mutate("chats", Mutation::InsertFront(1), 0);
        assert_eq!(sim.changes().inserted, [51]);
    }

    #[test]
    #[should_panic(expected = "no collection at \"chat\"")]
    fn a_mutation_of_a_collection_that_is_not_there_fails_the_test() {
        let sim = Simulator::builder().chats(5).start().unwrap();
        sim.mutate("chat", Mutation::Touch(1), 0);
    }

    #[test]
    #[should_panic(expected = "no chat 6")]
    fn a_message_in_a_chat_that_is_not_there_fails_the_test() {
        let sim = Simulator::builder().chats(5).start().unwrap();
        sim.add_message(6);
    }

    #[test]
    #[should_panic(expected = "no customer 6")]
    fn seeing_a_customer_who_is_not_there_fails_the_test() {
        let sim = Simulator::builder().customers(5).start().unwrap();
        sim.see_customer(6);
    }

    #[test]
    fn a_record_committed_late_stands_by_its_id_behind_later_ones() {
        let sim = Simulator::builder().customers(3).start().unwrap();
        let late = sim.begin_create("customers");
        sim.append("customers", 2);
        sim.mutate("customers", Mutation::Delete(2), 0);
        sim.commit("/customers", late);
        let ids: Vec<u64> = sim
            .snapshot("customers")
            .iter()
            .map(|c| c["id"].as_u64().unwrap())
            .collect();
        assert_eq!(ids, [1, 3, 4, 5, 6]);
        let seen = |id: u64| -> u64 {
            let customers = sim.snapshot("customers");
            let c = customers.iter().find(|c| c["id"] == id).unwrap();
            let v = &c["lastSeen"];
            v.as_str()
                .map_or_else(|| v.as_f64().unwrap(), |s| s.parse().unwrap()) as u64
        };
        assert!(
            seen(late) + 86_400 < sim.now(),
            "never active: {}",
            seen(late)
        );
        assert!(
            sim.now() - seen(6) < 60,
            "the appended ones were active when created"
        );
    }

    #[test]
    #[should_panic(expected = "no creation of record 4")]
    fn committing_what_was_not_begun_fails_the_test() {
        let sim = Simulator::builder().customers(3).start().unwrap();
        sim.commit("customers", 4);
    }

    #[test]
    #[should_panic(expected = "add_message_committed_late")]
    fn a_late_message_is_begun_elsewhere() {
        let sim = Simulator::builder().chats(3).start().unwrap();
        sim.begin_create("chats/1/messages");
    }

    #[test]
    fn a_snapshot_follows_a_query_and_every_change() {
        let sim = Simulator::builder().chats(5).start().unwrap();
        let ids = |records: Vec<Value>| -> Vec<u64> {
            records.iter().map(|r| r["id"].as_u64().unwrap()).collect()
        };
        sim.add_message(2);
        let inbox = "chats?sort=chats.lastMessageAt&order=desc";
        assert_eq!(ids(sim.snapshot(inbox)), [2, 5, 4, 3, 1]);
        assert_eq!(
            sim.snapshot("chats"),
            sim.snapshot("chats"),
            "deterministic"
        );
        sim.mutate("chats", Mutation::Delete(2), 0);
        assert_eq!(ids(sim.snapshot("chats")), [1, 3, 4, 5]);
    }
}
