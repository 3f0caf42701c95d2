//! The simulated account: its collections by path, and the rules that tie one to another,
//! which no collection can keep alone.
//!
//! - Every chat has messages, `chats/{id}/messages`: made on first access, so that 200,000
//!   chats cost nothing until their messages are read, with the count
//!   [`SimulatorBuilder::chat_messages`](super::SimulatorBuilder::chat_messages) set or else
//!   1 to 5.
//! - A chat changes only with a message: a touched chat gets a new message, created at its
//!   stamp and first among its messages, and a message inserted into a chat's messages touches
//!   the chat. Either way the chat names it as its newest (`lastMessageId`).
//! - Chats and customers created while the server runs are touched as they are created, and a
//!   new chat has one message, created then.
//! - A deleted chat's messages go with it.

use std::collections::BTreeMap;

use hyper::Method;

use super::chats::default_messages;
use super::data::Collection;
use super::mutation::{Changes, Mutation};
use super::read::Read;
use super::records::Kind;
use super::single;

const CHATS: &str = "chats";

/// The collections of the simulated account, as they are now.
#[derive(Debug)]
pub(crate) struct Account {
    collections: BTreeMap<String, Collection>,
}

/// How far the log of changes had come before an operation: what comes after is its doing.
struct Mark {
    inserted: usize,
    deleted: usize,
    touched: usize,
}

impl Mark {
    fn of(changes: &Changes) -> Self {
        Self {
            inserted: changes.inserted.len(),
            deleted: changes.deleted.len(),
            touched: changes.touched.len(),
        }
    }
}

/// The chat whose messages are at `path` (`chats/7/messages`: 7).
fn chat_of(path: &str) -> Option<u64> {
    let digits = path.strip_prefix("chats/")?.strip_suffix("/messages")?;
    let chat: u64 = digits.parse().ok()?;
    // One path a chat: `chats/007/messages` is not another copy of chat 7's.
    (chat.to_string() == digits).then_some(chat)
}

/// Whether `ids` (a creation order) holds `id`. The order is by id unless records were
/// inserted at the front: a binary search finds an id at once, a scan only what it misses.
fn holds(ids: &[u64], id: u64) -> bool {
    ids.binary_search(&id).is_ok() || ids.contains(&id)
}

fn messages_path(chat: u64) -> String {
    format!("chats/{chat}/messages")
}

impl Account {
    /// The account with `collections` as configured: a chat whose messages were set up names
    /// the newest of them.
    pub(crate) fn new(mut collections: BTreeMap<String, Collection>) -> Self {
        let set_up: Vec<(u64, Option<u64>)> = collections
            .iter()
            .filter_map(|(path, c)| Some((chat_of(path)?, c.ids.iter().max().copied())))
            .collect();
        if let Some(chats) = collections.get_mut(CHATS) {
            chats.newest_messages.extend(set_up);
        }
        Self { collections }
    }

    /// The paths of the collections made so far.
    pub(crate) fn paths(&self) -> Vec<&str> {
        self.collections.keys().map(String::as_str).collect()
    }

    /// Whether there is a collection at `path`: one made, or the messages of a chat there is.
    pub(crate) fn has(&self, path: &str) -> bool {
        self.collections.contains_key(path) || chat_of(path).is_some_and(|c| self.holds_chat(c))
    }

    fn holds_chat(&self, chat: u64) -> bool {
        self.collections.get(CHATS).is_some_and(|chats| {
            // The creation order is by id unless records were inserted at the front: a
            // binary search finds a chat at once, a scan only what it misses.
            chats.kind == Kind::Chat && holds(&chats.ids, chat)
        })
    }

    /// The collection at `path`; a chat's messages are made here, on first access.
    pub(crate) fn get(&mut self, path: &str) -> Option<&mut Collection> {
        if !self.collections.contains_key(path) {
            let chat = chat_of(path).filter(|&c| self.holds_chat(c))?;
            let messages = Collection::messages(chat, default_messages(chat));
            self.collections.insert(path.to_owned(), messages);
        }
        self.collections.get_mut(path)
    }

    /// Applies `mutation` to the collection at `path` just before `read`, at the server's time
    /// `now`, and what follows from it; `false` where there is no such collection.
    pub(crate) fn apply(
        &mut self,
        path: &str,
        mutation: Mutation,
        read: &Read,
        (rng, changes): (&mut fastrand::Rng, &mut Changes),
        now: u64,
    ) -> bool {
        let mark = Mark::of(changes);
        let Some(collection) = self.get(path) else {
            return false;
        };
        collection.apply(mutation, read, rng, changes, now);
        self.settle(path, &mark, changes, now);
        true
    }

    /// Answers `method` on record `id` of the collection at `path` (see `single.rs`), and
    /// does what follows from it.
    ///
    /// # Panics
    ///
    /// Where there is no collection at `path`: the request was routed to one.
    pub(crate) fn answer(
        &mut self,
        path: &str,
        (method, id, body): (&Method, Option<u64>, &[u8]),
        changes: &mut Changes,
        now: u64,
    ) -> (u16, String) {
        let mark = Mark::of(changes);
        let collection = self.get(path).expect("routed to a collection");
        let answer = single::answer(collection, method, id, body, changes);
        self.settle(path, &mark, changes, now);
        answer
    }

    /// A new message in chat `chat`, created at the server's time `now`, first among its
    /// messages; the chat is touched. `None` where there is no such chat.
    pub(crate) fn add_message(
        &mut self,
        chat: u64,
        changes: &mut Changes,
        now: u64,
    ) -> Option<u64> {
        if !self.has(&messages_path(chat)) {
            return None;
        }
        let at = self.touch_chat(chat, changes, now);
        Some(self.post_message(chat, at))
    }

    /// Touches record `id` of the collection at `path` at the server's time `now`; `false`
    /// where the collection does not hold it or its records have no activity.
    pub(crate) fn touch(&mut self, path: &str, id: u64, changes: &mut Changes, now: u64) -> bool {
        if path == CHATS {
            return self.holds_chat(id) && self.add_message(id, changes, now).is_some();
        }
        match self.collections.get_mut(path) {
            Some(c) if c.has_activity() && holds(&c.ids, id) => {
                c.touch(id, now);
                changes.touched.push(id);
                true
            }
            _ => false,
        }
    }

    /// Touches chat `chat`, where the chats hold it, and returns its stamp; else `now`.
    fn touch_chat(&mut self, chat: u64, changes: &mut Changes, now: u64) -> u64 {
        match self.collections.get_mut(CHATS) {
            Some(chats) if chats.kind == Kind::Chat && holds(&chats.ids, chat) => {
                chats.touch(chat, now);
                changes.touched.push(chat);
                chats.stamp(chat).unwrap_or(now)
            }
            _ => now,
        }
    }

    /// Adds a message created at `at` to the front of chat `chat`'s messages (made where
    /// there are none yet) and names it the chat's newest; returns its id.
    fn post_message(&mut self, chat: u64, at: u64) -> u64 {
        let path = messages_path(chat);
        if !self.has(&path) {
            self.collections
                .insert(path.clone(), Collection::messages(chat, 0));
        }
        let messages = self.get(&path).expect("made above");
        let id = messages.next_id;
        messages.next_id += 1;
        messages.ids.insert(0, id);
        messages.born.insert(id, at);
        messages.reordered(None);
        if let Some(chats) = self.collections.get_mut(CHATS) {
            chats.newest_messages.insert(chat, Some(id));
        }
        id
    }

    /// What follows, in other collections, from what an operation on the collection at `path`
    /// did since `mark`.
    fn settle(&mut self, path: &str, mark: &Mark, changes: &mut Changes, now: u64) {
        let kind = match self.collections.get(path) {
            Some(c) => c.kind,
            None => return,
        };
        let inserted = changes.inserted[mark.inserted..].to_vec();
        let deleted = changes.deleted[mark.deleted..].to_vec();
        let touched = changes.touched[mark.touched..].to_vec();
        match kind {
            Kind::Chat if path == CHATS => {
                for chat in deleted {
                    self.collections.remove(&messages_path(chat));
                }
                for &chat in &inserted {
                    let chats = self.collections.get_mut(CHATS).expect("just read");
                    chats.touch(chat, now);
                    let at = chats.stamp(chat).unwrap_or(now);
                    // New: whatever messages were set up for a chat of this id are not its.
                    let none = Collection::messages(chat, 0);
                    self.collections.insert(messages_path(chat), none);
                    self.post_message(chat, at);
                }
                for chat in touched {
                    let at = self.collections[CHATS].stamp(chat).unwrap_or(now);
                    self.post_message(chat, at);
                }
            }
            Kind::Customer => {
                let customers = self.collections.get_mut(path).expect("just read");
                for id in inserted {
                    customers.touch(id, now);
                }
            }
            Kind::Message if !inserted.is_empty() => {
                let Some(chat) = chat_of(path) else { return };
                let at = self.touch_chat(chat, changes, now);
                let messages = self.collections.get_mut(path).expect("just read");
                for &id in &inserted {
                    messages.born.insert(id, at);
                }
                let newest = inserted.iter().max().copied();
                if let Some(chats) = self.collections.get_mut(CHATS) {
                    chats.newest_messages.insert(chat, newest);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::data::TotalStyle;

    const NOW: u64 = 1_750_000_000;

    fn account(chats: u64) -> Account {
        let mut collections = BTreeMap::new();
        let ids = (1..=chats).collect();
        collections.insert(
            CHATS.into(),
            Collection::new(Kind::Chat, TotalStyle::Meta, ids),
        );
        collections.insert(messages_path(2), Collection::messages(2, 40));
        Account::new(collections)
    }

    fn apply(a: &mut Account, path: &str, m: Mutation, changes: &mut Changes) {
        let mut rng = fastrand::Rng::with_seed(7);
        assert!(a.apply(path, m, &Read::from_offset(0), (&mut rng, changes), NOW));
    }

    #[test]
    fn a_chats_messages_are_made_on_first_access_and_only_for_a_chat_there_is() {
        let mut a = account(200_000);
        assert_eq!(a.paths(), ["chats", "chats/2/messages"]);
        assert!(a.has("chats/7/messages") && !a.has("chats/200001/messages"));
        assert_eq!(
            a.get("chats/7/messages").unwrap().ids,
            [7_000_003, 7_000_002, 7_000_001]
        );
        assert!(a.get("chats/200001/messages").is_none());
        assert_eq!(a.paths().len(), 3);
        assert_eq!(a.collections[CHATS].newest_message(2), Some(2_000_040));
    }

    #[test]
    fn a_new_message_touches_its_chat_and_comes_first_at_the_chats_stamp() {
        let mut a = account(10);
        let mut changes = Changes::default();
        let id = a.add_message(7, &mut changes, NOW).unwrap();
        assert_eq!(id, 7_000_004);
        let messages = a.get("chats/7/messages").unwrap();
        assert_eq!((messages.ids[0], messages.born[&id]), (id, NOW));
        let chats = &a.collections[CHATS];
        assert_eq!(
            (chats.stamp(7), chats.newest_message(7)),
            (Some(NOW), Some(id))
        );
        assert_eq!(changes.touched, [7]);
        assert_eq!(a.add_message(11, &mut changes, NOW), None);
    }

    #[test]
    fn a_touched_chat_gets_a_message_and_a_deleted_one_loses_them_all() {
        let mut a = account(10);
        let mut changes = Changes::default();
        apply(&mut a, CHATS, Mutation::Touch(3), &mut changes);
        for &chat in &changes.touched {
            let newest = a.collections[CHATS].newest_message(chat).unwrap();
            assert_eq!(a.get(&messages_path(chat)).unwrap().ids[0], newest);
            assert_eq!(a.get(&messages_path(chat)).unwrap().born[&newest], NOW);
        }
        apply(&mut a, CHATS, Mutation::Delete(2), &mut changes);
        assert!(!a.has("chats/2/messages"));
        assert!(a.get("chats/2/messages").is_none());
    }

    #[test]
    fn new_chats_are_touched_with_one_message_created_then() {
        let mut a = account(10);
        let mut changes = Changes::default();
        apply(&mut a, CHATS, Mutation::Append(2), &mut changes);
        assert_eq!(changes.inserted, [11, 12]);
        assert!(changes.touched.is_empty(), "created, not touched");
        assert_eq!(a.collections[CHATS].stamp(12), Some(NOW));
        let messages = a.get("chats/12/messages").unwrap();
        assert_eq!(
            (messages.ids.clone(), messages.born[&12_000_001]),
            (vec![12_000_001], NOW)
        );
        let posted = a.answer(CHATS, (&Method::POST, None, b"{}"), &mut changes, NOW);
        assert_eq!(posted.0, 200);
        assert_eq!(a.collections[CHATS].stamp(13), Some(NOW), "written too");
        assert_eq!(a.get("chats/13/messages").unwrap().ids, [13_000_001]);
    }

    #[test]
    fn a_message_inserted_into_a_chat_touches_it() {
        let mut a = account(10);
        let mut changes = Changes::default();
        apply(
            &mut a,
            "chats/2/messages",
            Mutation::InsertFront(1),
            &mut changes,
        );
        assert_eq!(
            (changes.inserted.clone(), changes.touched.clone()),
            (vec![2_000_041], vec![2])
        );
        assert_eq!(a.collections[CHATS].newest_message(2), Some(2_000_041));
        assert_eq!(a.get("chats/2/messages").unwrap().born[&2_000_041], NOW);
    }

    #[test]
    fn a_chat_is_touched_with_a_message_a_customer_without() {
        let mut collections = BTreeMap::new();
        let ids: Vec<u64> = (1..=5).collect();
        let customers = Collection::new(Kind::Customer, TotalStyle::TopLevel, ids.clone());
        collections.insert("customers".to_owned(), customers);
        collections.insert(
            CHATS.into(),
            Collection::new(Kind::Chat, TotalStyle::Meta, ids),
        );
        let mut a = Account::new(collections);
        let mut changes = Changes::default();
        assert!(a.touch("customers", 3, &mut changes, NOW));
        assert!(a.touch(CHATS, 4, &mut changes, NOW));
        assert!(!a.touch("customers", 6, &mut changes, NOW));
        assert!(!a.touch(CHATS, 6, &mut changes, NOW));
        assert_eq!(changes.touched, [3, 4]);
        assert_eq!(
            a.get("chats/4/messages").unwrap().ids.len(),
            6,
            "1 + 4 % 5, and one"
        );
        assert!(a.collections.keys().all(|path| !path.contains("/3/")));
    }

    #[test]
    fn a_chat_deleted_through_the_api_loses_its_messages() {
        let mut a = account(10);
        let mut changes = Changes::default();
        let deleted = a.answer(CHATS, (&Method::DELETE, Some(2), b""), &mut changes, NOW);
        assert_eq!(deleted.0, 204);
        assert!(!a.has("chats/2/messages"));
    }
}
