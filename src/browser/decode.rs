//! The size of an image as the browser decodes and shows it (EXIF orientation applied):
//! the verdict on dimensions, whatever the header says.

use wasm_bindgen_futures::JsFuture;

pub use multishot_repair::decode::{bitmap_of_blob, DecodeError, DECODE_TIMEOUT};
use multishot_repair::decode::{js_error_text, with_timeout};

use crate::core::sniff::Dimensions;

/// Decodes a blob ([`bitmap_of_blob`]) and returns the displayed size. The bitmap is
/// closed at once.
pub async fn decoded_size_of_blob(blob: &web_sys::Blob) -> Result<Dimensions, DecodeError> {
    let bitmap = bitmap_of_blob(super::window(), blob).await?;
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
