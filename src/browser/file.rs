//! Reading a local file's bytes.

use wasm_bindgen_futures::JsFuture;

use super::js_error_text;

/// Why a file's bytes could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FileReadError {
    /// The browser refused or failed (the file vanished, permissions changed, …).
    #[error("the browser could not read the file ({0})")]
    Read(String),
}

/// The first `len` bytes of a blob (all of it when it is shorter), without reading the
/// rest: a 10 MB file costs no more than a small one.
pub async fn read_head(blob: &web_sys::Blob, len: usize) -> Result<Vec<u8>, FileReadError> {
    let end = (len as f64).min(blob.size());
    let part = blob
        .slice_with_f64_and_f64(0.0, end)
        .map_err(|e| FileReadError::Read(js_error_text(&e)))?;
    let buffer = JsFuture::from(part.array_buffer())
        .await
        .map_err(|e| FileReadError::Read(js_error_text(&e)))?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}
