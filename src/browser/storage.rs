//! The one place the app writes to `localStorage` in this version: the API key, and only
//! when the user ticks "Remember key on this device".

/// The storage entry that holds a remembered key.
pub const KEY_ENTRY: &str = "multishot.api_key";

fn local() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
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
