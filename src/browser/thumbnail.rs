//! A small thumbnail of the input for the history: the image drawn onto a canvas at most
//! `THUMBNAIL_SIDE` pixels wide or high, as a JPEG data URI of a few KB.

use std::time::Duration;

use futures::future::{select, Either};
use gloo_timers::future::sleep;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::core::history::{is_thumbnail, thumbnail_size, THUMBNAIL_SIDE};

/// Draws the image at `src` (a `blob:` URL of a local file, or a web address that must
/// allow CORS) as a thumbnail. `None` when it cannot be loaded, drawn or read back (a
/// cross-origin image without CORS taints the canvas) within a few seconds.
pub async fn thumbnail(src: &str, cross_origin: bool) -> Option<String> {
    let image = web_sys::HtmlImageElement::new().ok()?;
    if cross_origin {
        image.set_cross_origin(Some("anonymous"));
    }
    image.set_src(src);
    let loaded = select(
        Box::pin(JsFuture::from(image.decode())),
        Box::pin(sleep(Duration::from_secs(5))),
    )
    .await;
    if !matches!(loaded, Either::Left((Ok(_), _))) {
        image.set_src("");
        return None;
    }
    let drawn = draw(
        image.natural_width(),
        image.natural_height(),
        |context, w, h| {
            context.draw_image_with_html_image_element_and_dw_and_dh(&image, 0.0, 0.0, w, h)
        },
    );
    image.set_src("");
    drawn
}

/// A thumbnail of an image decoded already (a batch's photo, measured by the same
/// decode).
pub fn thumbnail_of_bitmap(bitmap: &web_sys::ImageBitmap) -> Option<String> {
    draw(bitmap.width(), bitmap.height(), |context, w, h| {
        context.draw_image_with_image_bitmap_and_dw_and_dh(bitmap, 0.0, 0.0, w, h)
    })
}

/// Draws an image of `width` × `height` by `paint` (context, width and height drawn) at
/// most `THUMBNAIL_SIDE` a side, as a small JPEG data URI.
fn draw(
    width: u32,
    height: u32,
    paint: impl FnOnce(
        &web_sys::CanvasRenderingContext2d,
        f64,
        f64,
    ) -> Result<(), wasm_bindgen::JsValue>,
) -> Option<String> {
    let (width, height) = thumbnail_size(width, height, THUMBNAIL_SIDE);
    let canvas: web_sys::HtmlCanvasElement = crate::browser::window()?
        .document()?
        .create_element("canvas")
        .ok()?
        .dyn_into()
        .ok()?;
    canvas.set_width(width);
    canvas.set_height(height);
    let context: web_sys::CanvasRenderingContext2d =
        canvas.get_context("2d").ok()??.dyn_into().ok()?;
    paint(&context, f64::from(width), f64::from(height)).ok()?;
    let uri = canvas
        .to_data_url_with_type_and_encoder_options("image/jpeg", &0.7.into())
        .ok()?;
    is_thumbnail(&uri).then_some(uri)
}
