//! The files of a batch's items, kept until each item's task is done: in memory for this
//! tab (a `File` from the picker is the browser's handle on the file, not its bytes) and
//! in the page's Cache Storage, so that a reload, a closed tab or a crash finds them
//! again. Where Cache Storage is missing (an insecure origin, some private windows) they
//! are kept for this tab only, and the page says so ([`durable`]).

use std::cell::RefCell;
use std::collections::HashMap;

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// The cache that holds them.
const CACHE: &str = "multishot-batch";

thread_local! {
    /// This tab's files, by batch and item.
    static FILES: RefCell<HashMap<(String, u32), web_sys::File>> = RefCell::new(HashMap::new());
}

/// The address an item's file is kept under (never fetched: a key).
fn key(batch: &str, number: u32) -> String {
    format!("/multishot-batch/{batch}/{number}")
}

async fn cache() -> Option<web_sys::Cache> {
    let caches = crate::browser::window()?.caches().ok()?;
    JsFuture::from(caches.open(CACHE))
        .await
        .ok()?
        .dyn_into()
        .ok()
}

/// Files outlive the tab here.
pub fn durable() -> bool {
    crate::browser::window().is_some_and(|w| w.caches().is_ok())
}

/// Keeps `file` as item `number`'s of batch `batch`: at once for this tab, and in Cache
/// Storage (which this awaits). `false` when it is kept for this tab only.
pub async fn keep(batch: &str, number: u32, file: &web_sys::File) -> bool {
    FILES.with_borrow_mut(|f| f.insert((batch.to_owned(), number), file.clone()));
    let Some(cache) = cache().await else {
        return false;
    };
    let Ok(response) = web_sys::Response::new_with_opt_blob(Some(file)) else {
        return false;
    };
    JsFuture::from(cache.put_with_str(&key(batch, number), &response))
        .await
        .is_ok()
}

/// Item `number`'s file, named `name` (from this tab, else from Cache Storage).
pub async fn read(batch: &str, number: u32, name: &str) -> Option<web_sys::File> {
    if let Some(file) = FILES.with_borrow(|f| f.get(&(batch.to_owned(), number)).cloned()) {
        return Some(file);
    }
    let cache = cache().await?;
    let found = JsFuture::from(cache.match_with_str(&key(batch, number)))
        .await
        .ok()?;
    let response: web_sys::Response = found.dyn_into().ok()?;
    let blob: web_sys::Blob = JsFuture::from(response.blob().ok()?)
        .await
        .ok()?
        .dyn_into()
        .ok()?;
    let parts = js_sys::Array::of1(&blob);
    let options = web_sys::FilePropertyBag::new();
    options.set_type(&blob.type_());
    let file = web_sys::File::new_with_blob_sequence_and_options(&parts, name, &options).ok()?;
    FILES.with_borrow_mut(|f| f.insert((batch.to_owned(), number), file.clone()));
    Some(file)
}

/// Lets go of item `number`'s file.
pub fn discard(batch: &str, number: u32) {
    FILES.with_borrow_mut(|f| f.remove(&(batch.to_owned(), number)));
    let key = key(batch, number);
    wasm_bindgen_futures::spawn_local(async move {
        if let Some(cache) = cache().await {
            let _ = JsFuture::from(cache.delete_with_str(&key)).await;
        }
    });
}

/// Lets go of every kept file (the batch was closed).
pub fn forget_all() {
    FILES.with_borrow_mut(HashMap::clear);
    if let Some(caches) = crate::browser::window().and_then(|w| w.caches().ok()) {
        let deleted = caches.delete(CACHE);
        wasm_bindgen_futures::spawn_local(async move {
            let _ = JsFuture::from(deleted).await;
        });
    }
}
