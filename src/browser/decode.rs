//! The size of an image as the browser decodes and shows it (EXIF orientation applied):
//! the verdict on dimensions, whatever the header says.

use std::time::Duration;

use futures::future::{select, Either};
use gloo_timers::future::sleep;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::js_error_text;
use crate::core::sniff::Dimensions;

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

async fn with_timeout<T>(
    work: impl std::future::Future<Output = Result<T, DecodeError>>,
) -> Result<T, DecodeError> {
    match select(Box::pin(work), Box::pin(sleep(DECODE_TIMEOUT))).await {
        Either::Left((result, _)) => result,
        Either::Right(_) => Err(DecodeError::TimedOut),
    }
}

/// Decodes a blob with `createImageBitmap`, EXIF orientation applied: the image as it
/// is shown. The caller closes the bitmap when done with it.
pub async fn bitmap_of_blob(blob: &web_sys::Blob) -> Result<web_sys::ImageBitmap, DecodeError> {
    let window = crate::browser::window().ok_or(DecodeError::NoWindow)?;
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

/// Decodes a blob ([`bitmap_of_blob`]) and returns the displayed size. The bitmap is
/// closed at once.
pub async fn decoded_size_of_blob(blob: &web_sys::Blob) -> Result<Dimensions, DecodeError> {
    let bitmap = bitmap_of_blob(blob).await?;
    let size = Dimensions::new(bitmap.width(), bitmap.height());
    bitmap.close();
    Ok(size)
}

/// Loads a URL as an `<img>` (no CORS needed) and returns its displayed size.
pub async fn decoded_size_of_url(url: &str) -> Result<Dimensions, DecodeError> {
    let image = web_sys::HtmlImageElement::new().map_err(|_| DecodeError::NoWindow)?;
    image.set_decoding("async");
    image.set_src(url);
    let result = with_timeout(async {
        JsFuture::from(image.decode())
            .await
            .map_err(|e| DecodeError::Undecodable(js_error_text(&e)))?;
        Ok(Dimensions::new(
            image.natural_width(),
            image.natural_height(),
        ))
    })
    .await;
    // Stop a load still under way (timeout).
    image.set_src("");
    result
}
