//! Carries out a repair [`Plan`] on a canvas: the image decoded with its EXIF
//! orientation applied ([`bitmap_of_blob`], the same decode the rules measure), the
//! kept part drawn where the plan says — over a blurred copy of the whole image for
//! **Pad** — and encoded as PNG or as JPEG at the highest quality that fits 10 MiB
//! ([`QualitySearch`]), scaled down ([`fit_bytes`]) only when the lowest quality is still
//! too heavy. What a canvas encodes carries no metadata: EXIF, GPS included, is gone.
//!
//! The decode and the encode (`toBlob`) run off the main thread in Chromium; what runs
//! on it is the drawing (`make bench` measures a 6000 × 4000 photo and a 4000 × 1000
//! panorama).

use js_sys::{Array, Promise};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use multishot_rules::rules::MAX_FILE_BYTES;
use multishot_rules::sniff::Dimensions;

use crate::decode::{bitmap_of_blob, js_error_text, DecodeError};
use crate::plan::{fit_bytes, repaired_name, Encoding, Plan, QualitySearch, Rect};

/// The width of the blurred copy behind a padded image, before it is stretched: small
/// enough that its blur costs nothing, wide enough to stretch smoothly.
const BACKDROP_WIDTH: u32 = 160;

/// The blur of that copy, in its own pixels.
const BACKDROP_BLUR: f64 = 3.0;

/// A repaired image, ready to be checked by the rules like any chosen file.
#[derive(Clone, Debug)]
pub struct Repaired {
    /// The new file (named after the original, `-fit.jpg` / `-fit.png`).
    pub file: web_sys::File,
    /// Its size in pixels.
    pub size: Dimensions,
    /// Its type.
    pub encoding: Encoding,
    /// Its weight in bytes.
    pub bytes: u64,
    /// The JPEG quality used, in percent.
    pub quality: Option<u8>,
}

/// Why a repair could not be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RepairError {
    /// The browser could not decode the image (the same decode the rules measure).
    #[error(transparent)]
    Undecodable(#[from] DecodeError),
    /// The canvas refused (out of memory, a size it does not draw).
    #[error("the browser could not draw the repaired image ({0})")]
    Canvas(String),
    /// Even scaled down to the smallest size the rules allow, it stays over 10 MiB.
    #[error("it cannot be made lighter than 10 MB")]
    TooHeavy,
}

fn canvas_error(e: JsValue) -> RepairError {
    RepairError::Canvas(js_error_text(&e))
}

/// A canvas of `size` and its 2D context.
fn new_canvas(
    size: Dimensions,
) -> Result<
    (
        web_sys::HtmlCanvasElement,
        web_sys::CanvasRenderingContext2d,
    ),
    RepairError,
> {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| RepairError::Canvas("no document".into()))?;
    let canvas: web_sys::HtmlCanvasElement = document
        .create_element("canvas")
        .map_err(canvas_error)?
        .unchecked_into();
    canvas.set_width(size.width);
    canvas.set_height(size.height);
    let context = canvas
        .get_context("2d")
        .map_err(canvas_error)?
        .ok_or_else(|| RepairError::Canvas("no 2D context".into()))?
        .unchecked_into();
    Ok((canvas, context))
}

/// Draws the plan at `size` (the plan's canvas, or smaller when scaled down to fit).
fn draw(
    bitmap: &web_sys::ImageBitmap,
    plan: &Plan,
    size: Dimensions,
) -> Result<web_sys::HtmlCanvasElement, RepairError> {
    let (canvas, context) = new_canvas(size)?;
    let scale = |v: u32, to: u32, from: u32| f64::from(v) * f64::from(to) / f64::from(from);
    let place = |r: Rect| {
        (
            scale(r.x, size.width, plan.canvas.width),
            scale(r.y, size.height, plan.canvas.height),
            scale(r.width, size.width, plan.canvas.width),
            scale(r.height, size.height, plan.canvas.height),
        )
    };
    if plan.encoding == Encoding::Jpeg {
        // JPEG has no transparency: a transparent part would turn black.
        context.set_fill_style_str("#fff");
        context.fill_rect(0.0, 0.0, f64::from(size.width), f64::from(size.height));
    }
    if plan.backdrop {
        // The whole image covering the canvas, drawn small, blurred and a little darker
        // there (cheap: the filter works on a few thousand pixels), then stretched: a soft
        // backdrop the image itself stands out from.
        let small = Dimensions::new(
            BACKDROP_WIDTH,
            (BACKDROP_WIDTH * size.height / size.width.max(1)).max(1),
        );
        let (tiny, tiny_context) = new_canvas(small)?;
        let (w, h) = (f64::from(bitmap.width()), f64::from(bitmap.height()));
        // Past the small canvas's edges by the blur's reach, so they do not fade out.
        let reach = 2.0 * BACKDROP_BLUR;
        let cover = ((f64::from(small.width) + 2.0 * reach) / w)
            .max((f64::from(small.height) + 2.0 * reach) / h);
        let (cw, ch) = (w * cover, h * cover);
        tiny_context.set_filter(&format!("blur({BACKDROP_BLUR}px) brightness(0.85)"));
        tiny_context
            .draw_image_with_image_bitmap_and_dw_and_dh(
                bitmap,
                (f64::from(small.width) - cw) / 2.0,
                (f64::from(small.height) - ch) / 2.0,
                cw,
                ch,
            )
            .map_err(canvas_error)?;
        context
            .draw_image_with_html_canvas_element_and_dw_and_dh(
                &tiny,
                0.0,
                0.0,
                f64::from(size.width),
                f64::from(size.height),
            )
            .map_err(canvas_error)?;
    }
    let (dx, dy, dw, dh) = place(plan.place);
    let source = plan.source;
    context
        .draw_image_with_image_bitmap_and_sw_and_sh_and_dx_and_dy_and_dw_and_dh(
            bitmap,
            f64::from(source.x),
            f64::from(source.y),
            f64::from(source.width),
            f64::from(source.height),
            dx,
            dy,
            dw,
            dh,
        )
        .map_err(canvas_error)?;
    Ok(canvas)
}

/// The canvas encoded as `mime` (at `quality`, 0–1, for JPEG).
async fn encode(
    canvas: &web_sys::HtmlCanvasElement,
    mime: &str,
    quality: Option<u8>,
) -> Result<web_sys::Blob, RepairError> {
    let quality = quality.map_or(JsValue::UNDEFINED, |q| {
        JsValue::from_f64(f64::from(q) / 100.0)
    });
    let mut failed = None;
    let promise = Promise::new(&mut |resolve, _reject| {
        if let Err(e) = canvas.to_blob_with_type_and_encoder_options(&resolve, mime, &quality) {
            failed = Some(e);
        }
    });
    if let Some(e) = failed {
        return Err(canvas_error(e));
    }
    JsFuture::from(promise)
        .await
        .map_err(canvas_error)?
        .dyn_into()
        .map_err(|_| RepairError::Canvas("the canvas gave no image".into()))
}

/// Repairs `image` (named `name`) as `plan` says.
pub async fn repair(
    image: &web_sys::Blob,
    name: &str,
    plan: &Plan,
) -> Result<Repaired, RepairError> {
    let bitmap = bitmap_of_blob(web_sys::window(), image).await?;
    let result = encode_to_fit(&bitmap, plan).await;
    bitmap.close();
    let (blob, size, encoding, quality) = result?;
    let type_options = web_sys::FilePropertyBag::new();
    type_options.set_type(encoding.mime());
    let file = web_sys::File::new_with_blob_sequence_and_options(
        &Array::of1(&blob),
        &repaired_name(name, encoding),
        &type_options,
    )
    .map_err(canvas_error)?;
    Ok(Repaired {
        bytes: file.size() as u64,
        file,
        size,
        encoding,
        quality,
    })
}

/// The plan drawn and encoded within 10 MiB: PNG when asked and light enough, else JPEG
/// at the highest quality that fits, at the plan's size or, only if need be, smaller.
async fn encode_to_fit(
    bitmap: &web_sys::ImageBitmap,
    plan: &Plan,
) -> Result<(web_sys::Blob, Dimensions, Encoding, Option<u8>), RepairError> {
    let mut size = plan.canvas;
    let mut drawn = draw(bitmap, plan, size)?;
    // The plan drawn for JPEG (on white) at a size.
    let as_jpeg = Plan {
        encoding: Encoding::Jpeg,
        ..*plan
    };
    if plan.encoding == Encoding::Png {
        let png = encode(&drawn, Encoding::Png.mime(), None).await?;
        if png.size() as u64 <= MAX_FILE_BYTES {
            return Ok((png, size, Encoding::Png, None));
        }
        // Too heavy as PNG: JPEG.
        drawn = draw(bitmap, &as_jpeg, size)?;
    }
    // At most three sizes: the plan's, and twice smaller when even 50 % is too heavy.
    for _ in 0..3 {
        let mut search = QualitySearch::default();
        let mut best = None;
        let mut lightest = u64::MAX;
        while let Some(quality) = search.next() {
            let jpeg = encode(&drawn, Encoding::Jpeg.mime(), Some(quality)).await?;
            let bytes = jpeg.size() as u64;
            lightest = lightest.min(bytes);
            search.record(quality, bytes);
            if search.best == Some(quality) {
                best = Some(jpeg);
            }
        }
        if let (Some(jpeg), Some(quality)) = (best, search.best) {
            return Ok((jpeg, size, Encoding::Jpeg, Some(quality)));
        }
        size = fit_bytes(size, lightest).ok_or(RepairError::TooHeavy)?;
        drawn = draw(bitmap, &as_jpeg, size)?;
    }
    Err(RepairError::TooHeavy)
}
