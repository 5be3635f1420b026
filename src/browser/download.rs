//! Saving a shot without leaving the page. Browsers ignore `<a download>` for a file on
//! another origin and navigate to it instead (in an iframe: the frame), so a shot at a
//! web address is read into a Blob first (where its server allows a CORS read) and saved
//! from this page's origin; where it does not, a proxy that passes the task's shots on
//! (`multishot-proxy`) is asked, and without one the shot opens in a new tab.

use gloo_timers::future::TimeoutFuture;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::object_url::ObjectUrl;
use super::AbortOnDrop;
use crate::core::batch::ResultFile;
use crate::core::zip::{crc32, zip, ZipWriter};

/// Reads `url` (CORS) into a Blob; `None` when the server does not allow it or fails.
pub async fn read_blob(url: &str) -> Option<web_sys::Blob> {
    let controller = AbortOnDrop::new();
    let response = gloo_net::http::Request::get(url)
        .mode(web_sys::RequestMode::Cors)
        .credentials(web_sys::RequestCredentials::Omit)
        .abort_signal(controller.signal().as_ref())
        .send()
        .await
        .ok()?;
    if !response.ok() {
        return None;
    }
    let raw: web_sys::Response = response.into();
    let blob = JsFuture::from(raw.blob().ok()?).await.ok()?;
    blob.dyn_into().ok()
}

/// Reads a shot at `url`, or, where its server allows no read, from `relay` (a proxy
/// that passes the task's shots on from its own origin), when there is one.
async fn read_shot(url: &str, relay: Option<&str>) -> Option<web_sys::Blob> {
    match read_blob(url).await {
        Some(blob) => Some(blob),
        None => read_blob(relay?).await,
    }
}

/// Hands the file at `url` (this page's `blob:`) to the browser's downloads as `name`.
fn save_url(url: ObjectUrl, name: &str) -> Option<()> {
    let link: web_sys::HtmlAnchorElement = crate::browser::window()?
        .document()?
        .create_element("a")
        .ok()?
        .dyn_into()
        .ok()?;
    link.set_href(url.as_str());
    link.set_download(name);
    link.click();
    // The browser reads the Blob after the click; free it a little later.
    wasm_bindgen_futures::spawn_local(async move {
        TimeoutFuture::new(10_000).await;
        drop(url);
    });
    Some(())
}

/// Reads every shot (`(number, src, file name, relay)`) and saves them as one zip named `name`.
/// `false` when a shot cannot be read from this page (its server allows no CORS read and
/// there is no relay that can pass it on) or the archive cannot be made; nothing is
/// saved then.
pub async fn save_all(shots: &[(usize, String, String, Option<String>)], name: &str) -> bool {
    let mut files = Vec::new();
    for (_, src, file_name, relay) in shots {
        let Some(blob) = read_shot(src, relay.as_deref()).await else {
            return false;
        };
        let Ok(buffer) = JsFuture::from(blob.array_buffer()).await else {
            return false;
        };
        files.push((file_name.clone(), js_sys::Uint8Array::new(&buffer).to_vec()));
    }
    let archive = match zip(&files) {
        Ok(archive) => archive,
        Err(_) => return false,
    };
    ObjectUrl::from_bytes(&archive, "application/zip")
        .and_then(|url| save_url(url, name))
        .is_some()
}

/// A zip made a file at a time: each is read, its CRC taken and its bytes let go, and the
/// archive is a `Blob` of the headers and the files' own `Blob`s (the browser keeps
/// those, on disk when large), so the results of 200 photos never sit in the page's
/// memory at once.
#[derive(Default)]
pub struct ZipBlob {
    parts: Vec<js_sys::Object>,
    writer: ZipWriter,
}

impl ZipBlob {
    /// An empty archive.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `blob` at `path`.
    pub async fn add(&mut self, path: &str, blob: &web_sys::Blob) -> Result<(), String> {
        let unread = || format!("{path} could not be read from this page");
        let buffer = JsFuture::from(blob.array_buffer())
            .await
            .map_err(|_| unread())?;
        let crc = crc32(&js_sys::Uint8Array::new(&buffer).to_vec());
        let header = self
            .writer
            .entry(path, crc, blob.size() as u64)
            .map_err(|e| e.to_string())?;
        self.parts
            .push(js_sys::Uint8Array::from(&header[..]).into());
        self.parts.push(blob.clone().into());
        Ok(())
    }

    /// Reads a batch's shot and adds it at its path; `Err` names it when it cannot be
    /// read from this page.
    pub async fn add_shot(&mut self, file: &ResultFile) -> Result<(), String> {
        let blob = read_shot(&file.src, file.relay.as_deref())
            .await
            .ok_or_else(|| format!("{} could not be read from this page", file.path))?;
        self.add(&file.path, &blob).await
    }

    /// Ends the archive and saves it as `name`.
    pub fn save(self, name: &str) -> Result<(), String> {
        let mut parts = self.parts;
        let end = self.writer.finish().map_err(|e| e.to_string())?;
        parts.push(js_sys::Uint8Array::from(&end[..]).into());
        let sequence: js_sys::Array = parts.into_iter().collect();
        let options = web_sys::BlobPropertyBag::new();
        options.set_type("application/zip");
        let archive = web_sys::Blob::new_with_u8_array_sequence_and_options(&sequence, &options)
            .map_err(|_| "the archive could not be made".to_owned())?;
        ObjectUrl::new(&archive)
            .and_then(|url| save_url(url, name))
            .ok_or_else(|| "the archive could not be saved".to_owned())
    }
}

/// Saves a batch's results as one zip named `name`, a shot at a time ([`ZipBlob`]).
/// `Err` names the first shot that cannot be read from this page.
pub async fn save_results(files: &[ResultFile], name: &str) -> Result<(), String> {
    let mut zip = ZipBlob::new();
    for file in files {
        zip.add_shot(file).await?;
    }
    zip.save(name)
}

/// Saves the file at `url` as `name` without leaving the page: handed to the browser's
/// downloads from this page's origin (where `download` is honoured) — read from its
/// server, or from `relay` where that server does not let this page read it —, or else
/// opened in a new tab.
pub async fn save(url: &str, name: &str, relay: Option<&str>) {
    let saved = read_shot(url, relay)
        .await
        .and_then(|blob| ObjectUrl::new(&blob))
        .and_then(|blob_url| save_url(blob_url, name));
    if saved.is_none() {
        if let Some(window) = crate::browser::window() {
            let _ = window.open_with_url_and_target_and_features(url, "_blank", "noopener");
        }
    }
}
