//! An image decoded as the browser shows it (EXIF orientation applied), with a time
//! limit: the page measures the verdict on dimensions with it, and a repair draws from it.

use std::time::Duration;

use futures::future::{select, Either};
use gloo_timers::future::sleep;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// How long a decode or an image load may take before it is given up.
pub const DECODE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why an image has no decoded size.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The browser could not decode the bytes (damaged, cut short, not an image), or
    /// could not load the URL.
    #[error("the browser could not decode the image ({0})")]
    Undecodable(String),
    /// Decoding or loading took longer than [`DECODE_TIMEOUT`].
    #[error("the image took too long to load")]
    TimedOut,
    /// The page has no `window` (not in a browser).
    #[error("no browser window")]
    NoWindow,
}

/// A JavaScript exception or rejection as readable text: an `Error`'s message, a
/// string as it is, anything else "unknown error".
pub fn js_error_text(value: &JsValue) -> String {
    if let Some(error) = value.dyn_ref::<js_sys::Error>() {
        return String::from(error.message());
    }
    value
        .as_string()
        .unwrap_or_else(|| "unknown error".to_owned())
}

/// `work`, or [`DecodeError::TimedOut`] after [`DECODE_TIMEOUT`].
pub async fn with_timeout<T>(
    work: impl std::future::Future<Output = Result<T, DecodeError>>,
) -> Result<T, DecodeError> {
    match select(Box::pin(work), Box::pin(sleep(DECODE_TIMEOUT))).await {
        Either::Left((result, _)) => result,
        Either::Right(_) => Err(DecodeError::TimedOut),
    }
}

/// Decodes a blob with `createImageBitmap`, EXIF orientation applied: the image as it
/// is shown. The caller closes the bitmap when done with it. `window` is the page's
/// (`None` off the browser: [`DecodeError::NoWindow`]).
pub async fn bitmap_of_blob(
    window: Option<web_sys::Window>,
    blob: &web_sys::Blob,
) -> Result<web_sys::ImageBitmap, DecodeError> {
    let window = window.ok_or(DecodeError::NoWindow)?;
    let options = web_sys::ImageBitmapOptions::new();
    options.set_image_orientation(web_sys::ImageOrientation::FromImage);
    let promise = window
        .create_image_bitmap_with_blob_and_image_bitmap_options(blob, &options)
        .map_err(|e| DecodeError::Undecodable(js_error_text(&e)))?;
    with_timeout(async move {
        JsFuture::from(promise)
            .await
            .map_err(|e| DecodeError::Undecodable(js_error_text(&e)))?
            .dyn_into()
            .map_err(|_| DecodeError::Undecodable("not an image bitmap".into()))
    })
    .await
}
