//! `blob:` URLs that are revoked when no longer shown.

use std::sync::Arc;

/// A `blob:` URL for a blob, revoked when the last clone of it is dropped, so a replaced
/// preview frees its memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectUrl(Arc<Revoking>);

#[derive(Debug, PartialEq, Eq)]
struct Revoking(String);

impl Drop for Revoking {
    fn drop(&mut self) {
        let _ = web_sys::Url::revoke_object_url(&self.0);
    }
}

impl ObjectUrl {
    /// Creates a URL for `blob`; `None` if the browser refuses.
    pub fn new(blob: &web_sys::Blob) -> Option<Self> {
        web_sys::Url::create_object_url_with_blob(blob)
            .ok()
            .map(|url| Self(Arc::new(Revoking(url))))
    }

    /// The `blob:` URL.
    pub fn as_str(&self) -> &str {
        &self.0 .0
    }
}

impl ObjectUrl {
    /// Creates a URL for bytes of a known type (an inline output); `None` if the browser
    /// refuses.
    pub fn from_bytes(bytes: &[u8], mime: &str) -> Option<Self> {
        let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
        let options = web_sys::BlobPropertyBag::new();
        options.set_type(mime);
        let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options).ok()?;
        Self::new(&blob)
    }
}
