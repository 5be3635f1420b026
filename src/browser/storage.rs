//! The one place the app touches `localStorage`: the job history (one entry per task,
//! see [`crate::core::history`]), the open batch ([`crate::core::batch`]) and the API
//! key, the latter only when the user ticks "Remember key on this device".
//!
//! In a cross-site frame whose browser blocks third-party storage, the history is kept
//! by the host page instead, when it runs `frame.js` ([`open_host`]): the entries are
//! read from it once and every change is sent to it; the key never is.

use std::cell::RefCell;

use crate::core::api::TaskId;
use crate::core::batch::{self, Batch, BatchError};
use crate::core::embed::EmbedEvent;
use crate::core::history::{self, entry_name, Record, Skipped, ENTRY_PREFIX};

/// The storage entry that holds a remembered key.
pub const KEY_ENTRY: &str = "multishot.api_key";

/// Why the history could not be read or written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// No storage (private mode, storage disabled, a sandboxed frame).
    #[error(
        "this browser does not let the page save anything (private mode or storage turned off)"
    )]
    Unavailable,
    /// The storage quota is used up.
    #[error("the browser’s storage for this page is full")]
    Full,
}

fn local() -> Option<web_sys::Storage> {
    crate::browser::window()?.local_storage().ok().flatten()
}

/// The history entries the host page keeps for this frame.
struct HostStore {
    /// The host's origins (`embed_parent_origins`): changes go only there.
    origins: Vec<String>,
    /// Every entry, as the host has it plus this page's changes (a list: a map would
    /// cost the first load more than the 50 entries it ever holds).
    entries: Vec<(String, String)>,
    /// Changes made before the host answered, sent once it has.
    unsent: Vec<EmbedEvent>,
    /// The host has answered.
    answered: bool,
}

impl HostStore {
    fn get(&self, name: &str) -> Option<&String> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    fn set(&mut self, name: String, value: String) {
        self.entries.retain(|(n, _)| *n != name);
        self.entries.push((name, value));
    }

    fn change(&mut self, event: EmbedEvent) {
        if self.answered {
            crate::browser::embed::post_to_parent(&self.origins, &event);
        } else {
            self.unsent.push(event);
        }
    }
}

thread_local! {
    static HOST: RefCell<Option<HostStore>> = const { RefCell::new(None) };
}

/// The page has storage of its own.
pub fn has_own() -> bool {
    local().is_some()
}

/// Asks the host page (its `frame.js`, on one of `origins`) for the history it keeps
/// for this frame; until [`host_answered`], entries written are held here.
pub fn open_host(origins: Vec<String>) {
    crate::browser::embed::post_to_parent(&origins, &EmbedEvent::StorageOpen);
    HOST.with_borrow_mut(|host| {
        *host = Some(HostStore {
            origins,
            entries: Vec::new(),
            unsent: Vec::new(),
            answered: false,
        });
    });
}

/// The host's answer: the entries it keeps (`None`: it has no storage either, and the
/// history is kept nowhere). What this page wrote meanwhile wins and is sent on.
pub fn host_answered(entries: Option<Vec<(String, String)>>) {
    HOST.with_borrow_mut(|slot| {
        let Some(host) = slot.as_mut().filter(|h| !h.answered) else {
            return;
        };
        let Some(entries) = entries else {
            *slot = None;
            return;
        };
        // Only what the host may keep ([`history::kept_by_host`]) is taken from it.
        let taken = entries
            .into_iter()
            .filter(|(name, raw)| host_may_give(name, raw))
            .collect();
        let written = std::mem::replace(&mut host.entries, taken);
        for (name, value) in written {
            host.set(name, value);
        }
        host.answered = true;
        for event in std::mem::take(&mut host.unsent) {
            if let EmbedEvent::StorageRemove { name } = &event {
                host.entries.retain(|(n, _)| n != name);
            }
            host.change(event);
        }
    });
}

/// The host never answered: nothing is kept.
pub fn host_silent() {
    HOST.with_borrow_mut(|slot| {
        if slot.as_ref().is_some_and(|h| !h.answered) {
            *slot = None;
        }
    });
}

/// An entry the host page gives back is a readable record of a task sent through a
/// proxy ([`history::kept_by_host`]).
fn host_may_give(name: &str, raw: &str) -> bool {
    history::decode(name, raw).is_ok_and(|r| history::kept_by_host(&r))
}

/// Another tab of the host page changed entry `name` (`None`: removed). False when the
/// change is not taken (no host storage, or an entry the host may not give).
pub fn host_changed(name: &str, value: Option<&str>) -> bool {
    if value.is_some_and(|raw| !host_may_give(name, raw)) {
        return false;
    }
    HOST.with_borrow_mut(|slot| {
        let Some(host) = slot.as_mut().filter(|h| h.answered) else {
            return false;
        };
        match value {
            Some(value) => host.set(name.to_owned(), value.to_owned()),
            None => host.entries.retain(|(n, _)| n != name),
        }
        true
    })
}

/// Writes entry `name` where the host keeps the history (false: it keeps none).
fn host_set(name: &str, value: &str) -> bool {
    HOST.with_borrow_mut(|slot| {
        let Some(host) = slot.as_mut() else {
            return false;
        };
        host.set(name.to_owned(), value.to_owned());
        host.change(EmbedEvent::StorageSet {
            name: name.to_owned(),
            value: value.to_owned(),
        });
        true
    })
}

/// Removes the entries whose names `which` picks from where the host keeps them.
fn host_remove(which: impl Fn(&str) -> bool) {
    HOST.with_borrow_mut(|slot| {
        if let Some(host) = slot.as_mut() {
            let (gone, kept) = std::mem::take(&mut host.entries)
                .into_iter()
                .partition(|(n, _)| which(n));
            host.entries = kept;
            for (name, _) in gone {
                host.change(EmbedEvent::StorageRemove { name });
            }
        }
    });
}

/// Every history entry the host keeps, once it has answered.
fn host_entries() -> Option<Vec<(String, String)>> {
    HOST.with_borrow(|slot| {
        let host = slot.as_ref().filter(|h| h.answered)?;
        Some(host.entries.clone())
    })
}

/// The remembered key, if any (storage unavailable counts as none).
pub fn remembered_key() -> Option<String> {
    local()?
        .get_item(KEY_ENTRY)
        .ok()
        .flatten()
        .filter(|k| !k.is_empty())
}

/// Stores the key (`Some`) or deletes it (`None`). Returns false when storage is
/// unavailable or full, so the page can say so.
pub fn remember_key(key: Option<&str>) -> bool {
    let Some(storage) = local() else { return false };
    match key {
        Some(key) if !key.is_empty() => storage.set_item(KEY_ENTRY, key).is_ok(),
        _ => storage.remove_item(KEY_ENTRY).is_ok(),
    }
}

/// The names of every history entry.
fn history_entries(storage: &web_sys::Storage) -> Vec<String> {
    let count = storage.length().unwrap_or(0);
    (0..count)
        .filter_map(|i| storage.key(i).ok().flatten())
        .filter(|name| name.starts_with(ENTRY_PREFIX))
        .collect()
}

/// Every readable job record, newest first, and the entries that were skipped.
pub fn load_history() -> Result<(Vec<Record>, Vec<Skipped>), StoreError> {
    let pairs: Vec<(String, String)> = match local() {
        Some(storage) => history_entries(&storage)
            .into_iter()
            .filter_map(|name| {
                let raw = storage.get_item(&name).ok().flatten()?;
                Some((name, raw))
            })
            .collect(),
        None => host_entries().ok_or(StoreError::Unavailable)?,
    };
    Ok(history::load(
        pairs.iter().map(|(n, r)| (n.as_str(), r.as_str())),
    ))
}

/// One task's stored record, if it is there and readable.
pub fn read_record(id: &TaskId) -> Option<Record> {
    let name = entry_name(id);
    let raw = match local() {
        Some(storage) => storage.get_item(&name).ok().flatten()?,
        None => HOST.with_borrow(|h| h.as_ref()?.get(&name).cloned())?,
    };
    history::decode(&name, &raw).ok()
}

/// Writes a record (replacing the task's earlier one).
pub fn save_record(record: &Record) -> Result<(), StoreError> {
    let Some(storage) = local() else {
        if !history::kept_by_host(record) {
            return Err(StoreError::Unavailable);
        }
        return match host_set(&entry_name(&record.id), &record.to_json()) {
            true => Ok(()),
            false => Err(StoreError::Unavailable),
        };
    };
    storage
        .set_item(&entry_name(&record.id), &record.to_json())
        .map_err(|e| {
            let name = js_sys::Reflect::get(&e, &"name".into())
                .ok()
                .and_then(|n| n.as_string());
            if name.as_deref() == Some("QuotaExceededError") {
                StoreError::Full
            } else {
                StoreError::Unavailable
            }
        })
}

/// Deletes one task's record.
pub fn delete_record(id: &TaskId) {
    let name = entry_name(id);
    match local() {
        Some(storage) => {
            let _ = storage.remove_item(&name);
        }
        None => host_remove(|n| n == name),
    }
}

/// Deletes every history entry, readable or not (the key entry stays).
pub fn clear_history() {
    match local() {
        Some(storage) => {
            for name in history_entries(&storage) {
                let _ = storage.remove_item(&name);
            }
        }
        None => host_remove(|n| n.starts_with(ENTRY_PREFIX)),
    }
}

/// The saved batch, if there is one: read, or why it cannot be (the entry is left as it
/// is, so a newer page can still read it).
pub fn load_batch() -> Option<Result<Batch, BatchError>> {
    let raw = local()?.get_item(batch::ENTRY).ok().flatten()?;
    Some(batch::decode(&raw))
}

/// Saves the batch (replacing the one saved before).
pub fn save_batch(saved: &Batch) -> Result<(), StoreError> {
    let storage = local().ok_or(StoreError::Unavailable)?;
    storage
        .set_item(batch::ENTRY, &saved.to_json())
        .map_err(|_| StoreError::Full)
}

/// Removes the saved batch.
pub fn remove_batch() {
    if let Some(storage) = local() {
        let _ = storage.remove_item(batch::ENTRY);
    }
}
