//! Carries out a repair [`Plan`] on a canvas: the image decoded with its EXIF
//! orientation applied ([`bitmap_of_blob`], the same decode the rules measure), the
//! kept part placed where the plan says — over a blurred copy of the whole image or a
//! colour for **Pad** — and encoded as PNG or as JPEG at the highest quality that fits
//! 10 MiB ([`QualitySearch`]), scaled down ([`fit_bytes`]) only when the lowest quality
//! is still too heavy. What a canvas encodes carries no metadata: EXIF, GPS included, is
//! gone.
//!
//! Off the main thread in Chromium: the decode, a crop or resize (`createImageBitmap`
//! with a rectangle and a size) and the encodes (`toBlob`). An upright JPEG that covers
//! its canvas is never drawn: the bitmap is handed to a `bitmaprenderer` canvas as it
//! is ([`may_skip_drawing`]). Other images (padded, turned by EXIF, or perhaps
//! transparent) are drawn on the main thread. A large JPEG's quality is
//! searched on a [`Sample`] of its blocks (~30 times quicker to encode), and the image
//! encoded once at the quality found (`make bench` measures a 6000 × 4000 shrink and a
//! 4000 × 1000 pad).

use js_sys::{Array, Promise};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use multishot_rules::rules::MAX_FILE_BYTES;
use multishot_rules::sniff::Dimensions;

use crate::decode::{bitmap_of_blob, js_error_text, DecodeError};
use crate::plan::{fit_bytes, repaired_name, Backdrop, Encoding, Plan, Rect};
use crate::quality::{QualitySearch, Sample, QUALITY_RANGE, SAMPLE_LIMIT, SAMPLE_TILE};

/// The width of the blurred copy behind a padded image, before it is stretched: small
/// enough that its blur costs nothing, wide enough to stretch smoothly.
const BACKDROP_WIDTH: u32 = 160;

/// The blur of that copy, in its own pixels.
const BACKDROP_BLUR: f64 = 3.0;

/// The filter that blurs it ([`BACKDROP_BLUR`]) and darkens it a little, written out: a
/// float formatted at run time would bring the float printer into the module.
const BACKDROP_FILTER: &str = "blur(3px) brightness(0.85)";

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
pub(crate) fn new_canvas(
    size: Dimensions,
) -> Result<
    (
        web_sys::HtmlCanvasElement,
        web_sys::CanvasRenderingContext2d,
    ),
    RepairError,
> {
    new_canvas_with(size, "2d")
}

/// A canvas of `size` and its context of `kind` ("2d", "bitmaprenderer").
fn new_canvas_with<C: JsCast>(
    size: Dimensions,
    kind: &str,
) -> Result<(web_sys::HtmlCanvasElement, C), RepairError> {
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
        .get_context(kind)
        .map_err(canvas_error)?
        .ok_or_else(|| RepairError::Canvas(format!("no {kind} context")))?
        .unchecked_into();
    Ok((canvas, context))
}

/// Lets the canvas carry out what it was asked to draw now, as a task of its own (a
/// canvas draws lazily: reading one pixel makes it draw), then lets the page run: a
/// large drawing is two main-thread tasks instead of one twice as long.
async fn settle(context: &web_sys::CanvasRenderingContext2d) {
    let _ = context.get_image_data(0.0, 0.0, 1.0, 1.0);
    gloo_timers::future::TimeoutFuture::new(0).await;
}

/// Draws the plan at `size` (the plan's canvas, or smaller when scaled down to fit): the
/// backdrop, then the image, each drawn in a task of its own ([`settle`]).
async fn draw(
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
    // JPEG has no transparency: a transparent part would turn black, so it goes on white
    // (under a blurred backdrop, the small copy does).
    let white = (plan.encoding == Encoding::Jpeg).then(|| "#fff".to_owned());
    let fill = match plan.backdrop {
        Backdrop::Blurred => None,
        Backdrop::Colour(_) => plan.backdrop.css(),
        Backdrop::None => white.clone(),
    };
    if let Some(fill) = &fill {
        context.set_fill_style_str(fill);
        context.fill_rect(0.0, 0.0, f64::from(size.width), f64::from(size.height));
    }
    if plan.backdrop == Backdrop::Blurred {
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
        if let Some(white) = &white {
            tiny_context.set_fill_style_str(white);
            tiny_context.fill_rect(0.0, 0.0, f64::from(small.width), f64::from(small.height));
        }
        tiny_context.set_filter(BACKDROP_FILTER);
        tiny_context
            .draw_image_with_image_bitmap_and_dw_and_dh(
                bitmap,
                (f64::from(small.width) - cw) / 2.0,
                (f64::from(small.height) - ch) / 2.0,
                cw,
                ch,
            )
            .map_err(canvas_error)?;
        // The blur in a task of its own, the stretch in the next.
        settle(&tiny_context).await;
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
    if fill.is_some() || plan.backdrop == Backdrop::Blurred {
        settle(&context).await;
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
    settle(&context).await;
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

/// Whether an image whose file starts with `head` may be handed to the canvas undrawn
/// (when its plan covers the canvas): a JPEG (no transparency to put white under) stored
/// upright — Chromium's `bitmaprenderer` drops an EXIF turn that drawing applies.
pub fn may_skip_drawing(head: &[u8]) -> bool {
    multishot_rules::sniff::jpeg_orientation(head) == Some(1)
}

/// Repairs `image` (named `name`) as `plan` says. `decoded` is the image already
/// decoded (the offer's decode, handed over; closed here), else it is decoded now.
/// `undrawn`: what [`may_skip_drawing`] says of the image.
pub async fn repair(
    image: &web_sys::Blob,
    name: &str,
    plan: &Plan,
    decoded: Option<web_sys::ImageBitmap>,
    undrawn: bool,
) -> Result<Repaired, RepairError> {
    let bitmap = match decoded {
        Some(bitmap) => bitmap,
        None => bitmap_of_blob(web_sys::window(), image).await?,
    };
    let result = encode_to_fit(&bitmap, plan, undrawn).await;
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

/// The plan at `size`, ready to encode, and what its pixels can be read from (for a
/// [`Sample`]).
struct Rendered {
    canvas: web_sys::HtmlCanvasElement,
    /// The output as a bitmap when it was never drawn (closed on drop).
    bitmap: Option<web_sys::ImageBitmap>,
}

impl Drop for Rendered {
    fn drop(&mut self) {
        if let Some(bitmap) = &self.bitmap {
            bitmap.close();
        }
    }
}

/// A bitmap of `bitmap`'s `source` part at `size` (a copy when it is the whole at its
/// own size), made off the main thread.
async fn part_of(
    bitmap: &web_sys::ImageBitmap,
    source: Rect,
    size: Dimensions,
) -> Result<web_sys::ImageBitmap, RepairError> {
    let window = web_sys::window().ok_or(RepairError::Canvas("no window".into()))?;
    let whole = source == Rect::covering(Dimensions::new(bitmap.width(), bitmap.height()))
        && source.size() == size;
    let int = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
    let promise = if whole {
        window.create_image_bitmap_with_image_bitmap(bitmap)
    } else {
        let options = web_sys::ImageBitmapOptions::new();
        options.set_resize_width(size.width);
        options.set_resize_height(size.height);
        options.set_resize_quality(web_sys::ResizeQuality::High);
        window.create_image_bitmap_with_image_bitmap_and_a_sx_and_a_sy_and_a_sw_and_a_sh_and_a_options(
            bitmap,
            int(source.x),
            int(source.y),
            int(source.width),
            int(source.height),
            &options,
        )
    }
    .map_err(canvas_error)?;
    JsFuture::from(promise)
        .await
        .map_err(canvas_error)?
        .dyn_into()
        .map_err(|_| RepairError::Canvas("not an image bitmap".into()))
}

/// The plan at `size`: handed over undrawn when the image covers the canvas and may be
/// ([`may_skip_drawing`]: `undrawn`), else drawn ([`draw`]).
async fn render(
    bitmap: &web_sys::ImageBitmap,
    plan: &Plan,
    size: Dimensions,
    undrawn: bool,
) -> Result<Rendered, RepairError> {
    if !plan.covers_canvas() || !undrawn {
        return Ok(Rendered {
            canvas: draw(bitmap, plan, size).await?,
            bitmap: None,
        });
    }
    let (canvas, context) =
        new_canvas_with::<web_sys::ImageBitmapRenderingContext>(size, "bitmaprenderer")?;
    let rendered = Rendered {
        canvas,
        bitmap: Some(part_of(bitmap, plan.source, size).await?),
    };
    let whole = Rect::covering(size);
    // The renderer takes its bitmap for itself: it gets a copy (the pixels are shared),
    // and the part stays readable for a sample.
    if let Some(part) = &rendered.bitmap {
        let handed = part_of(part, whole, size).await?;
        context.transfer_from_image_bitmap(&handed);
    }
    Ok(rendered)
}

/// The sample's tiles of `rendered`, side by side on a canvas of their own.
fn draw_sample(
    rendered: &Rendered,
    sample: &Sample,
) -> Result<web_sys::HtmlCanvasElement, RepairError> {
    let (canvas, context) = new_canvas(sample.size)?;
    let tile = f64::from(SAMPLE_TILE);
    for (i, at) in (0u32..).zip(&sample.tiles) {
        let (dx, dy) = (
            f64::from(i % sample.columns) * tile,
            f64::from(i / sample.columns) * tile,
        );
        let (sx, sy) = (f64::from(at.x), f64::from(at.y));
        match &rendered.bitmap {
            Some(bitmap) => context
                .draw_image_with_image_bitmap_and_sw_and_sh_and_dx_and_dy_and_dw_and_dh(
                    bitmap, sx, sy, tile, tile, dx, dy, tile, tile,
                ),
            None => context
                .draw_image_with_html_canvas_element_and_sw_and_sh_and_dx_and_dy_and_dw_and_dh(
                    &rendered.canvas,
                    sx,
                    sy,
                    tile,
                    tile,
                    dx,
                    dy,
                    tile,
                    tile,
                ),
        }
        .map_err(canvas_error)?;
    }
    Ok(canvas)
}

/// The JPEG quality to start from for `rendered`: for a large image, the highest whose
/// [`Sample`] predicts a file within [`SAMPLE_LIMIT`] (`Err` with the predicted weight at
/// the lowest quality when none does); for a small one, the top of the range.
async fn predicted_quality(
    rendered: &Rendered,
    size: Dimensions,
) -> Result<Result<u8, u64>, RepairError> {
    let Some(sample) = Sample::of(size) else {
        return Ok(Ok(QUALITY_RANGE.1));
    };
    let canvas = draw_sample(rendered, &sample)?;
    let mut search = QualitySearch::within(SAMPLE_LIMIT);
    let mut lightest = u64::MAX;
    while let Some(quality) = search.next() {
        let bytes = sample.predict(
            encode(&canvas, Encoding::Jpeg.mime(), Some(quality))
                .await?
                .size() as u64,
        );
        lightest = lightest.min(bytes);
        search.record(quality, bytes);
    }
    Ok(search.best.ok_or(lightest))
}

/// The plan drawn and encoded within 10 MiB: PNG when asked and light enough, else JPEG
/// at the highest quality that fits, at the plan's size or, only if need be, smaller.
async fn encode_to_fit(
    bitmap: &web_sys::ImageBitmap,
    plan: &Plan,
    undrawn: bool,
) -> Result<(web_sys::Blob, Dimensions, Encoding, Option<u8>), RepairError> {
    let mut size = plan.canvas;
    let mut rendered = render(bitmap, plan, size, undrawn).await?;
    // The plan for JPEG (on white where transparent).
    let as_jpeg = Plan {
        encoding: Encoding::Jpeg,
        ..*plan
    };
    if plan.encoding == Encoding::Png {
        let png = encode(&rendered.canvas, Encoding::Png.mime(), None).await?;
        if png.size() as u64 <= MAX_FILE_BYTES {
            return Ok((png, size, Encoding::Png, None));
        }
        // Too heavy as PNG: JPEG.
        rendered = render(bitmap, &as_jpeg, size, undrawn).await?;
    }
    // At most three sizes: the plan's, and smaller when even 50 % is too heavy.
    for _ in 0..3 {
        let lightest = match predicted_quality(&rendered, size).await? {
            Ok(start) => {
                let mut search = QualitySearch::default().from(start);
                let mut best = None;
                let mut lightest = u64::MAX;
                while let Some(quality) = search.next() {
                    let jpeg =
                        encode(&rendered.canvas, Encoding::Jpeg.mime(), Some(quality)).await?;
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
                lightest
            }
            // Predicted too heavy even at the lowest quality: smaller at once.
            Err(predicted) => predicted,
        };
        size = fit_bytes(size, lightest).ok_or(RepairError::TooHeavy)?;
        rendered = render(bitmap, &as_jpeg, size, undrawn).await?;
    }
    Err(RepairError::TooHeavy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backdrop_filter_blurs_by_the_blur_used_in_its_arithmetic() {
        assert!(BACKDROP_FILTER.starts_with(&format!("blur({BACKDROP_BLUR}px) ")));
    }
}
