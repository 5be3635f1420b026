//! The one place the app touches `localStorage`: the job history (one entry per task,
//! see [`crate::core::history`]) and the API key, the latter only when the user ticks
//! "Remember key on this device".

use crate::core::api::TaskId;
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
    let storage = local().ok_or(StoreError::Unavailable)?;
    let pairs: Vec<(String, String)> = history_entries(&storage)
        .into_iter()
        .filter_map(|name| {
            let raw = storage.get_item(&name).ok().flatten()?;
            Some((name, raw))
        })
        .collect();
    Ok(history::load(
        pairs.iter().map(|(n, r)| (n.as_str(), r.as_str())),
    ))
}

/// One task's stored record, if it is there and readable.
pub fn read_record(id: &TaskId) -> Option<Record> {
    let name = entry_name(id);
    let raw = local()?.get_item(&name).ok().flatten()?;
    history::decode(&name, &raw).ok()
}

/// Writes a record (replacing the task's earlier one).
pub fn save_record(record: &Record) -> Result<(), StoreError> {
    let storage = local().ok_or(StoreError::Unavailable)?;
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
    if let Some(storage) = local() {
        let _ = storage.remove_item(&entry_name(id));
    }
}

/// Deletes every history entry, readable or not (the key entry stays).
pub fn clear_history() {
    if let Some(storage) = local() {
        for name in history_entries(&storage) {
            let _ = storage.remove_item(&name);
        }
    }
}
