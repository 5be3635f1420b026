//! An SVG drawing made into pixels: loaded as an `<img>` — which runs none of its
//! scripts and fetches nothing it links to — and drawn on a canvas at the size
//! [`svg_raster_size`] gives (its own shape, large enough for the model), then taken as
//! a bitmap like any decoded image. (`createImageBitmap` does not open SVG files, and
//! draws a drawing without its own size empty.)

use js_sys::Array;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::canvas::new_canvas;
use crate::decode::{js_error_text, with_timeout, DecodeError};
use crate::svg_size::svg_raster_size;

/// The heaviest SVG file drawn, in bytes: a drawing is drawn on the page's main thread,
/// and one of a few megabytes of paths could hold it for seconds (a logo or an
/// illustration is well under this).
pub const SVG_BYTE_CAP: u64 = 2 * 1024 * 1024;

/// The drawing in `file` as a bitmap at [`svg_raster_size`]'s size. The caller closes it.
pub async fn bitmap_of_svg(file: &web_sys::Blob) -> Result<web_sys::ImageBitmap, DecodeError> {
    let undecodable = |e: wasm_bindgen::JsValue| DecodeError::Undecodable(js_error_text(&e));
    let window = web_sys::window().ok_or(DecodeError::NoWindow)?;
    let text = JsFuture::from(file.text())
        .await
        .map_err(undecodable)?
        .as_string()
        .unwrap_or_default();
    let size = svg_raster_size(&text);
    // As a drawing whatever type the file claims (an `<img>` reads a blob by its type).
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("image/svg+xml");
    let drawing = web_sys::Blob::new_with_blob_sequence_and_options(&Array::of1(file), &options)
        .map_err(undecodable)?;
    let url = web_sys::Url::create_object_url_with_blob(&drawing).map_err(undecodable)?;
    let image = web_sys::HtmlImageElement::new().map_err(undecodable)?;
    image.set_src(&url);
    let loaded = with_timeout(async {
        JsFuture::from(image.decode())
            .await
            .map(drop)
            .map_err(undecodable)
    })
    .await;
    let _ = web_sys::Url::revoke_object_url(&url);
    loaded?;
    let (canvas, context) =
        new_canvas(size).map_err(|e| DecodeError::Undecodable(e.to_string()))?;
    context
        .draw_image_with_html_image_element_and_dw_and_dh(
            &image,
            0.0,
            0.0,
            f64::from(size.width),
            f64::from(size.height),
        )
        .map_err(undecodable)?;
    let promise = window
        .create_image_bitmap_with_html_canvas_element(&canvas)
        .map_err(undecodable)?;
    JsFuture::from(promise)
        .await
        .map_err(undecodable)?
        .dyn_into()
        .map_err(|_| DecodeError::Undecodable("not an image bitmap".into()))
}
