//! The files of a drop that holds folders: every file inside them, read through the
//! browser's entries API (a dropped folder is no `File` in `DataTransfer.files`), in
//! name order, at most [`crate::core::batch::MAX_ITEMS`]. The page takes the entries
//! during the drop ([`entries`]: the list empties after it); the batch's module reads
//! them ([`files`]).

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::core::batch::MAX_ITEMS;

/// The dropped items' entries (taken during the drop event: the list empties after it).
pub fn entries(data: &web_sys::DataTransfer) -> Vec<web_sys::FileSystemEntry> {
    let items = data.items();
    (0..items.length())
        .filter_map(|i| items.get(i)?.webkit_get_as_entry().ok().flatten())
        .collect()
}

/// Whether any entry is a folder.
pub fn has_folder(entries: &[web_sys::FileSystemEntry]) -> bool {
    entries.iter().any(web_sys::FileSystemEntry::is_directory)
}

/// A callback-style call made a promise: `call` gets the success and error callbacks.
async fn promised(call: impl FnOnce(&js_sys::Function, &js_sys::Function)) -> Option<JsValue> {
    let mut call = Some(call);
    let promise = js_sys::Promise::new(&mut |resolve, reject| {
        if let Some(call) = call.take() {
            call(&resolve, &reject);
        }
    });
    JsFuture::from(promise).await.ok()
}

/// Every file under `entries`, folders opened (hidden files left out).
pub async fn files(entries: Vec<web_sys::FileSystemEntry>) -> Vec<web_sys::File> {
    let mut files = Vec::new();
    let mut queue = entries;
    while let Some(entry) = queue.pop() {
        if files.len() >= MAX_ITEMS {
            break;
        }
        if entry.name().starts_with('.') {
            continue;
        }
        if entry.is_file() {
            let entry: web_sys::FileSystemFileEntry = entry.unchecked_into();
            let file = promised(|ok, err| entry.file_with_callback_and_callback(ok, err)).await;
            if let Some(file) = file.and_then(|f| f.dyn_into().ok()) {
                files.push(file);
            }
        } else if entry.is_directory() {
            let folder: web_sys::FileSystemDirectoryEntry = entry.unchecked_into();
            let reader = folder.create_reader();
            // A reader gives its entries a part at a time, then an empty list.
            loop {
                let part = promised(|ok, err| {
                    let _ = reader.read_entries_with_callback_and_callback(ok, err);
                })
                .await
                .map(|list| js_sys::Array::from(&list))
                .unwrap_or_default();
                if part.length() == 0 {
                    break;
                }
                queue.extend(part.iter().filter_map(|e| e.dyn_into().ok()));
            }
        }
    }
    files.sort_by_key(web_sys::File::name);
    files
}
