//! Making a refused image fit, planned in plain arithmetic: which repairs apply to a
//! chosen image and, for each, the exact geometry and encoding that the browser's canvas
//! then carries out ([`crate::canvas`]). Every plan's output keeps every rule — the type
//! (PNG or JPEG), both sides at least 300 px, the shape between 1:2.5 and 2.5:1, at most
//! 100 megapixels — and the file size is reached by [`QualitySearch`] and, only when
//! the lowest quality is still too heavy, [`fit_bytes`]. The repaired file is checked by
//! the same rules again before anything is sent.

use multishot_rules::rules::{
    too_tall, too_wide, MAX_ASPECT, MAX_DECODE_PIXELS, MAX_FILE_BYTES, MIN_ASPECT, MIN_SIDE_PX,
};
use multishot_rules::sniff::{Dimensions, Format};

/// What a repair does, and the first word of its button's accessible name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    /// A type WaveSpeed refuses, re-encoded as PNG or JPEG.
    Convert,
    /// More than 10 MiB, re-encoded (and only if needed, scaled down) to fit.
    Shrink,
    /// A side under 300 px, enlarged to 300 px on the short side.
    Enlarge,
    /// Out of shape: cut to the nearest allowed shape, centred.
    Crop,
    /// Out of shape: the whole image on a blurred copy of itself or a colour.
    Pad,
}

/// What fills a padded canvas around the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backdrop {
    /// Nothing: the image covers the canvas.
    None,
    /// The whole image, blurred and a little darker, covering the canvas.
    Blurred,
    /// One colour, red, green and blue.
    Colour([u8; 3]),
}

impl Backdrop {
    /// The colour as CSS writes it, `#rrggbb`, for a [`Backdrop::Colour`].
    pub fn css(self) -> Option<String> {
        match self {
            Backdrop::Colour([r, g, b]) => Some(format!("#{r:02x}{g:02x}{b:02x}")),
            _ => None,
        }
    }
}

/// The colour of a colour input's value, `#rrggbb` (what `<input type=color>` gives);
/// `None` for anything else.
pub fn parse_colour(value: &str) -> Option<[u8; 3]> {
    let hex = value
        .strip_prefix('#')
        .filter(|h| h.len() == 6 && h.bytes().all(|b| b.is_ascii_hexdigit()))?;
    let channel = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
    Some([channel(0)?, channel(2)?, channel(4)?])
}

impl Verb {
    /// The verb as the button starts with it.
    pub fn word(self) -> &'static str {
        match self {
            Verb::Convert => "Convert",
            Verb::Shrink => "Shrink",
            Verb::Enlarge => "Enlarge",
            Verb::Crop => "Crop",
            Verb::Pad => "Pad",
        }
    }
}

/// The repaired file's encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Lossless, for drawings, screenshots and small images.
    Png,
    /// For photos, and whenever the weight matters.
    Jpeg,
}

impl Encoding {
    /// The media type the canvas is asked for.
    pub fn mime(self) -> &'static str {
        match self {
            Encoding::Png => "image/png",
            Encoding::Jpeg => "image/jpeg",
        }
    }

    /// The file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            Encoding::Png => "png",
            Encoding::Jpeg => "jpg",
        }
    }
}

/// A rectangle in whole pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

impl Rect {
    /// The rectangle's size.
    pub fn size(self) -> Dimensions {
        Dimensions::new(self.width, self.height)
    }
}

/// One repair, ready for a canvas: draw `source` (a part of the decoded image, EXIF
/// orientation applied) into `place` on a canvas of `canvas` pixels — over its
/// `backdrop` — and encode it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The repair's verb.
    pub verb: Verb,
    /// The part of the image kept.
    pub source: Rect,
    /// The output's size.
    pub canvas: Dimensions,
    /// Where the kept part goes on the output.
    pub place: Rect,
    /// What fills the canvas behind it (Pad).
    pub backdrop: Backdrop,
    /// The output's type.
    pub encoding: Encoding,
}

impl Plan {
    /// The button's accessible name, starting with its verb: "Convert to JPEG", "Shrink
    /// to under 10 MB", "Enlarge to 300 px", "Crop to 2.5:1", "Pad to 1:2.5 on a blurred
    /// copy", "Pad to 2.5:1 on a colour".
    pub fn label(&self) -> String {
        let shape = if self.canvas.width >= self.canvas.height {
            "2.5:1"
        } else {
            "1:2.5"
        };
        match self.verb {
            Verb::Convert => format!(
                "Convert to {}",
                match self.encoding {
                    Encoding::Png => "PNG",
                    Encoding::Jpeg => "JPEG",
                }
            ),
            Verb::Shrink => "Shrink to under 10 MB".to_owned(),
            Verb::Enlarge => format!("Enlarge to {MIN_SIDE_PX} px"),
            Verb::Crop => format!("Crop to {shape}"),
            Verb::Pad => match self.backdrop {
                Backdrop::Colour(_) => format!("Pad to {shape} on a colour"),
                _ => format!("Pad to {shape} on a blurred copy"),
            },
        }
    }

    /// What the repair will do, in a sentence under its button.
    pub fn explain(&self) -> String {
        let size = self.canvas;
        match self.verb {
            Verb::Convert => format!("Re-encoded as {} at {size}.", self.encoding.mime()),
            Verb::Shrink => format!("Re-encoded as JPEG at {size}, at the best quality that fits."),
            Verb::Enlarge => format!("Enlarged to {size}; fine detail will look soft."),
            Verb::Crop => format!("The part in the box kept, {size}; drag the box to choose it."),
            Verb::Pad => match self.backdrop {
                Backdrop::Colour(_) => {
                    format!("The whole image on the colour chosen here, {size}.")
                }
                _ => format!("The whole image on a blurred copy of itself, {size}."),
            },
        }
    }
}

/// Which way a crop's box moves, and how far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CropRange {
    /// Along the width (a panorama cut at the sides), else along the height.
    pub across: bool,
    /// The box's offset from the left (or top) edge, in the image's pixels.
    pub offset: u32,
    /// The largest offset: the image's length less the box's.
    pub max: u32,
    /// The image's length along the way the box moves.
    pub length: u32,
}

impl CropRange {
    /// The offset after a drag of `moved` CSS pixels (signed) over the image shown
    /// `shown` CSS pixels long, from `from`: in proportion, within `0..=max`.
    pub fn dragged(&self, from: u32, moved: i32, shown: u32) -> u32 {
        let delta = i64::from(moved) * i64::from(self.length) / i64::from(shown.max(1));
        (i64::from(from) + delta).clamp(0, i64::from(self.max)) as u32
    }

    /// The offset after an arrow key (one step of about 2 % of the image, `steps` signed),
    /// or Home/End (`to_end`: `Some(false)` is 0, `Some(true)` is the max).
    pub fn stepped(&self, steps: i32, to_end: Option<bool>) -> u32 {
        match to_end {
            Some(end) => {
                if end {
                    self.max
                } else {
                    0
                }
            }
            None => {
                let step = (self.length / 50).max(1);
                (i64::from(self.offset) + i64::from(steps) * i64::from(step))
                    .clamp(0, i64::from(self.max)) as u32
            }
        }
    }

    /// The box's place in percent of the image's length, in hundredths: (start, length).
    pub fn percent(&self, box_length: u32) -> (u32, u32) {
        let hundredths = |v: u32| (u64::from(v) * 10_000 / u64::from(self.length.max(1))) as u32;
        (hundredths(self.offset), hundredths(box_length))
    }
}

impl Plan {
    /// For a **Crop**, where its box is and how far it moves; `None` for other repairs.
    pub fn crop_range(&self, image: Dimensions) -> Option<CropRange> {
        if self.verb != Verb::Crop {
            return None;
        }
        let across = self.source.width < image.width;
        let (offset, kept, length) = if across {
            (self.source.x, self.source.width, image.width)
        } else {
            (self.source.y, self.source.height, image.height)
        };
        Some(CropRange {
            across,
            offset,
            max: length.saturating_sub(kept),
            length,
        })
    }

    /// The crop with its box moved to `offset` (kept within the image).
    pub fn crop_at(&self, image: Dimensions, offset: u32) -> Plan {
        let Some(range) = self.crop_range(image) else {
            return *self;
        };
        let offset = offset.min(range.max);
        let source = if range.across {
            Rect {
                x: offset,
                ..self.source
            }
        } else {
            Rect {
                y: offset,
                ..self.source
            }
        };
        Plan { source, ..*self }
    }
}

/// What is known of the chosen image when a repair is planned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chosen {
    /// Its type, from its bytes.
    pub format: Format,
    /// Its size as decoded and shown (EXIF orientation applied).
    pub decoded: Dimensions,
    /// Its weight.
    pub bytes: u64,
}

/// The widest width allowed for `height`: ⌊height × 5/2⌋.
fn widest(height: u32) -> u32 {
    (u64::from(height) * u64::from(MAX_ASPECT.num) / u64::from(MAX_ASPECT.den)) as u32
}

/// The tallest height allowed for `width`: ⌊width × 5/2⌋.
fn tallest(width: u32) -> u32 {
    (u64::from(width) * u64::from(MIN_ASPECT.den) / u64::from(MIN_ASPECT.num)) as u32
}

fn pixels(size: Dimensions) -> u64 {
    u64::from(size.width) * u64::from(size.height)
}

/// The repairs that make this image fit, in the order offered: for a shape out of range
/// **Crop** and **Pad** (on a blurred copy, and on a colour); else **Convert** for a type WaveSpeed refuses, **Shrink** for
/// more than 10 MiB, **Enlarge** for a side under 300 px. Each also mends whatever
/// else is broken (a small panorama cropped is enlarged too). None for an image that
/// already fits, or one too large to be decoded at all (a decompression bomb is never
/// drawn).
pub fn offers(chosen: &Chosen) -> Vec<Plan> {
    let size = chosen.decoded;
    if size.width == 0 || size.height == 0 || pixels(size) > MAX_DECODE_PIXELS {
        return Vec::new();
    }
    let accepted = matches!(chosen.format, Format::Png | Format::Jpeg);
    let heavy = chosen.bytes > MAX_FILE_BYTES;
    let small = size.width.min(size.height) < MIN_SIDE_PX;
    let encoding = match chosen.format {
        // Photos and lossy sources stay JPEG; drawings, GIF, BMP, SVG become PNG.
        Format::Png | Format::Gif | Format::Bmp | Format::Svg => Encoding::Png,
        _ => Encoding::Jpeg,
    };
    let encoding = if heavy { Encoding::Jpeg } else { encoding };
    let whole = Rect {
        x: 0,
        y: 0,
        width: size.width,
        height: size.height,
    };
    let plan = |verb, source: Rect, canvas: Dimensions, place: Rect| {
        enlarged(Plan {
            verb,
            source,
            canvas,
            place,
            backdrop: if verb == Verb::Pad {
                Backdrop::Blurred
            } else {
                Backdrop::None
            },
            encoding,
        })
    };
    if too_wide(size) || too_tall(size) {
        let (crop, padded) = if too_wide(size) {
            // The widest allowed: width = ⌊height × 5/2⌋ cut from the middle; or the
            // height raised to ⌈width × 2/5⌉ around the whole image.
            let width = widest(size.height);
            let height = (u64::from(size.width) * u64::from(MAX_ASPECT.den))
                .div_ceil(u64::from(MAX_ASPECT.num)) as u32;
            (
                Rect {
                    x: (size.width - width) / 2,
                    y: 0,
                    width,
                    height: size.height,
                },
                (
                    Dimensions::new(size.width, height),
                    Rect {
                        x: 0,
                        y: (height - size.height) / 2,
                        ..whole
                    },
                ),
            )
        } else {
            let height = tallest(size.width);
            let width = (u64::from(size.height) * u64::from(MIN_ASPECT.num))
                .div_ceil(u64::from(MIN_ASPECT.den)) as u32;
            (
                Rect {
                    x: 0,
                    y: (size.height - height) / 2,
                    width: size.width,
                    height,
                },
                (
                    Dimensions::new(width, size.height),
                    Rect {
                        x: (width - size.width) / 2,
                        y: 0,
                        ..whole
                    },
                ),
            )
        };
        let cropped = Rect { x: 0, y: 0, ..crop };
        let pad = plan(Verb::Pad, whole, padded.0, padded.1);
        return [
            plan(Verb::Crop, crop, crop.size(), cropped),
            pad,
            // White until a colour is chosen beside the button.
            pad.map(|p| Plan {
                backdrop: Backdrop::Colour([255, 255, 255]),
                ..p
            }),
        ]
        .into_iter()
        .flatten()
        .collect();
    }
    let verb = if !accepted {
        Verb::Convert
    } else if heavy {
        Verb::Shrink
    } else if small {
        Verb::Enlarge
    } else {
        return Vec::new();
    };
    plan(verb, whole, size, whole).into_iter().collect()
}

/// What to do with a refused image no repair here can help, when there is advice: a
/// HEIC photo (which Chromium cannot open) is exported as JPEG on the phone.
pub fn advice(format: Format) -> Option<&'static str> {
    (format == Format::Heic).then_some(
        "This browser cannot open HEIC photos, so it cannot convert this one. On an iPhone, share the photo and choose Options → Most Compatible (or set Settings → Camera → Formats → Most Compatible), or export it from Photos on a Mac as JPEG, then choose the JPEG here.",
    )
}

/// `plan` with its canvas scaled so that its short side is at least 300 px (exactly 300
/// when enlarged, the long side rounded down so the shape stays in range) and its area
/// at most 100 megapixels; `None` when no size does both.
fn enlarged(plan: Plan) -> Option<Plan> {
    let canvas = plan.canvas;
    let short = canvas.width.min(canvas.height);
    let scaled = if short < MIN_SIDE_PX {
        let long = |side: u32| (u64::from(side) * u64::from(MIN_SIDE_PX) / u64::from(short)) as u32;
        if canvas.width <= canvas.height {
            Dimensions::new(MIN_SIDE_PX, long(canvas.height))
        } else {
            Dimensions::new(long(canvas.width), MIN_SIDE_PX)
        }
    } else {
        canvas
    };
    let scaled = within_pixels(scaled)?;
    let scale =
        |v: u32, to: u32, from: u32| (u64::from(v) * u64::from(to) / u64::from(from)) as u32;
    let place = Rect {
        x: scale(plan.place.x, scaled.width, canvas.width),
        y: scale(plan.place.y, scaled.height, canvas.height),
        width: scale(plan.place.width, scaled.width, canvas.width).max(1),
        height: scale(plan.place.height, scaled.height, canvas.height).max(1),
    };
    Some(Plan {
        canvas: scaled,
        place,
        ..plan
    })
}

/// `size` scaled down (shape kept, sides rounded down) to at most 100 megapixels, or
/// `None` if its short side would fall under 300 px.
fn within_pixels(size: Dimensions) -> Option<Dimensions> {
    let fitted = scaled_to_pixels(size, MAX_DECODE_PIXELS);
    (fitted.width.min(fitted.height) >= MIN_SIDE_PX).then_some(fitted)
}

/// `size` scaled down uniformly so that it has at most `limit` pixels (unchanged if it
/// has no more already); sides are rounded down, and then the long one once more if the
/// rounding took the shape past a limit (750 × 300 → 749 × 299 would be wider than
/// 2.5:1; it becomes 747 × 299).
fn scaled_to_pixels(size: Dimensions, limit: u64) -> Dimensions {
    let fitted = scaled_down(size, limit);
    if too_wide(fitted) && !too_wide(size) {
        Dimensions::new(widest(fitted.height), fitted.height)
    } else if too_tall(fitted) && !too_tall(size) {
        Dimensions::new(fitted.width, tallest(fitted.width))
    } else {
        fitted
    }
}

fn scaled_down(size: Dimensions, limit: u64) -> Dimensions {
    if pixels(size) <= limit {
        return size;
    }
    // The largest factor f (in 1/65536ths) with ⌊w·f⌋ × ⌊h·f⌋ ≤ limit.
    let (mut lo, mut hi) = (0u64, 65_536u64);
    let at = |f: u64| {
        Dimensions::new(
            (u64::from(size.width) * f / 65_536) as u32,
            (u64::from(size.height) * f / 65_536) as u32,
        )
    };
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if pixels(at(mid)) <= limit {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    at(lo)
}

/// The JPEG qualities tried for a repaired file, in percent: the highest that fits.
pub const QUALITY_RANGE: (u8, u8) = (50, 95);

/// A search for the highest JPEG quality whose file fits a limit (10 MiB unless said):
/// the top first (most images fit at once), then halving the range down to 50 % — at
/// most seven encodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QualitySearch {
    low: u8,
    high: u8,
    top: u8,
    limit: u64,
    /// The highest quality seen to fit.
    pub best: Option<u8>,
}

impl Default for QualitySearch {
    fn default() -> Self {
        Self::within(MAX_FILE_BYTES)
    }
}

impl QualitySearch {
    /// A search over the whole [`QUALITY_RANGE`] for files of at most `limit` bytes.
    pub fn within(limit: u64) -> Self {
        Self {
            low: QUALITY_RANGE.0,
            high: QUALITY_RANGE.1,
            top: QUALITY_RANGE.1,
            limit,
            best: None,
        }
    }

    /// The same search starting at `quality` (a prediction) instead of the top: one
    /// encode when the prediction fits, a search below it when it does not.
    pub fn from(self, quality: u8) -> Self {
        let top = quality.clamp(QUALITY_RANGE.0, QUALITY_RANGE.1);
        Self {
            high: top,
            top,
            ..self
        }
    }

    /// The next quality to try, or `None` when the search is over (then [`best`](Self::best)
    /// is the answer, or none fits).
    pub fn next(&self) -> Option<u8> {
        (self.low <= self.high).then(|| {
            if self.best.is_none() && self.high == self.top {
                // The top first: most images fit at once.
                self.high
            } else {
                self.low + (self.high - self.low).div_ceil(2)
            }
        })
    }

    /// What quality `quality` gave: a file of `bytes`.
    pub fn record(&mut self, quality: u8, bytes: u64) {
        if bytes <= self.limit {
            self.best = Some(self.best.map_or(quality, |b| b.max(quality)));
            self.low = quality + 1;
        } else {
            self.high = quality.saturating_sub(1);
        }
    }
}

/// The side of a sample's tiles, in pixels: a whole number of a JPEG's 16-pixel blocks
/// (4:2:0), so each tile encodes as the same blocks as in the whole image.
pub const SAMPLE_TILE: u32 = 64;

/// The distance between the tiles' corners, about `SAMPLE_TILE` × √32: a sample holds
/// about 1/32 of the image.
const SAMPLE_STEP: u32 = 362;

/// From how many pixels a JPEG's quality is chosen on a [`Sample`] first: below it, a
/// whole encode takes a few tens of milliseconds and the search runs on the image.
pub const SAMPLE_FROM_PIXELS: u64 = 4_000_000;

/// How much lighter than 10 MiB a sample must predict the file, for the error of the
/// prediction (under 1 % on photos, measured by `make bench`'s image).
pub const SAMPLE_LIMIT: u64 = MAX_FILE_BYTES / 50 * 49;

/// Tiles of an image, spread evenly over it and put side by side: JPEG encodes it ~30
/// times faster than the image, and its size per pixel predicts the image's (same
/// blocks, same tables), so the quality search runs on it and the image is encoded once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    /// The sample's size.
    pub size: Dimensions,
    /// Each tile's place in the image; it goes to `(column, row) × SAMPLE_TILE` in the
    /// sample, in the order given (rows of `columns`).
    pub tiles: Vec<Rect>,
    /// Tiles per row.
    pub columns: u32,
    /// The image's size.
    pub image: Dimensions,
}

impl Sample {
    /// The sample of an image of size `image`, or `None` when the image has under
    /// [`SAMPLE_FROM_PIXELS`] (encoded whole, it is quick enough) or is so narrow that the
    /// sample would be over a 20th of it.
    pub fn of(image: Dimensions) -> Option<Sample> {
        if pixels(image) < SAMPLE_FROM_PIXELS || image.width.min(image.height) < SAMPLE_TILE {
            return None;
        }
        let along = |side: u32| {
            let count = (side / SAMPLE_STEP).max(1);
            // The tile's corner in the middle of each of `count` equal spans, on a
            // 16-pixel block boundary, and inside the image.
            (0..count)
                .map(move |i| {
                    let span = side / count;
                    let middle = i * span + span.saturating_sub(SAMPLE_TILE) / 2;
                    (middle.min(side - SAMPLE_TILE)) / 16 * 16
                })
                .collect::<Vec<u32>>()
        };
        let (xs, ys) = (along(image.width), along(image.height));
        let tiles = ys
            .iter()
            .flat_map(|&y| {
                xs.iter().map(move |&x| Rect {
                    x,
                    y,
                    width: SAMPLE_TILE,
                    height: SAMPLE_TILE,
                })
            })
            .collect();
        let columns = xs.len() as u32;
        let size = Dimensions::new(columns * SAMPLE_TILE, ys.len() as u32 * SAMPLE_TILE);
        // A sliver of an image (under the tile's step across) gains little: encoded whole.
        if pixels(size) * 20 > pixels(image) {
            return None;
        }
        Some(Sample {
            size,
            tiles,
            columns,
            image,
        })
    }

    /// The image's predicted file size when the sample encodes to `bytes`.
    pub fn predict(&self, bytes: u64) -> u64 {
        (u128::from(bytes) * u128::from(pixels(self.image)) / u128::from(pixels(self.size).max(1)))
            as u64
    }
}

/// The size to scale an image of `size` to when even the lowest quality gave `bytes`
/// (over 10 MiB): its area cut in proportion, with 10 % to spare, never under 300 px
/// on the short side (`None`: it cannot get light enough that way).
pub fn fit_bytes(size: Dimensions, bytes: u64) -> Option<Dimensions> {
    let target = (pixels(size) as u128 * u128::from(MAX_FILE_BYTES) * 9
        / 10
        / u128::from(bytes.max(1))) as u64;
    let fitted = scaled_to_pixels(size, target);
    (fitted.width.min(fitted.height) >= MIN_SIDE_PX && fitted != size).then_some(fitted)
}

/// The short side an SVG drawing is rasterised at, at least: a drawing is sharp at any
/// size, so it is drawn large enough for the model rather than at its nominal size.
pub const SVG_SHORT_SIDE: u32 = 1024;

/// The longest side an SVG drawing is rasterised at.
const SVG_LONG_SIDE: u32 = 8192;

/// The size to rasterise an SVG drawing at, from its root element's `width`, `height`
/// (plain numbers or px) and `viewBox`: its own shape, scaled up so that the short side
/// is at least [`SVG_SHORT_SIDE`] and the long one at most 8192 px. A drawing that gives
/// neither is taken as 300 × 150, as browsers take it.
pub fn svg_raster_size(svg: &str) -> Dimensions {
    let root = svg
        .find("<svg")
        .and_then(|at| svg[at..].split_once('>'))
        .map_or("", |(tag, _)| tag);
    let length = |name| {
        let value = attribute(root, name)?;
        let number = value.strip_suffix("px").unwrap_or(value).trim();
        number
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v > 0.0)
    };
    let view_box = attribute(root, "viewBox").and_then(|v| {
        let numbers: Vec<f64> = v
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|p| !p.is_empty())
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
        match numbers[..] {
            [_, _, w, h] if w.is_finite() && h.is_finite() && w > 0.0 && h > 0.0 => Some((w, h)),
            _ => None,
        }
    });
    let (width, height) = match (length("width"), length("height"), view_box) {
        (Some(w), Some(h), _) => (w, h),
        (Some(w), None, Some((vw, vh))) => (w, w * vh / vw),
        (None, Some(h), Some((vw, vh))) => (h * vw / vh, h),
        (_, _, Some(view)) => view,
        _ => (300.0, 150.0),
    };
    let short = width.min(height);
    let long = width.max(height);
    let scale = (f64::from(SVG_SHORT_SIDE) / short)
        .max(1.0)
        .min(f64::from(SVG_LONG_SIDE) / long);
    let side = |v: f64| ((v * scale).round() as u32).clamp(1, SVG_LONG_SIDE);
    Dimensions::new(side(width), side(height))
}

/// The value of attribute `name` in an element's start tag (`<svg a="1" b='2'`).
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = tag;
    while let Some(at) = rest.find(name) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + name.len()..].trim_start();
        rest = &rest[at + name.len()..];
        if !before.is_some_and(char::is_whitespace) {
            continue;
        }
        let Some(value) = after.strip_prefix('=') else {
            continue;
        };
        let value = value.trim_start();
        let quote = value.chars().next().filter(|q| *q == '"' || *q == '\'')?;
        return value[1..].split(quote).next();
    }
    None
}

/// The repaired file's name: the original's stem (its last extension dropped, anything
/// but letters, digits, `-` and `_` made `-`, at most 60 characters) and `-fit` with the
/// new extension — `holiday.webp` → `holiday-fit.jpg`.
pub fn repaired_name(original: &str, encoding: Encoding) -> String {
    let stem = original.rsplit_once('.').map_or(original, |(stem, _)| stem);
    let mut clean: String = stem
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(60)
        .collect();
    if clean.trim_matches('-').is_empty() {
        clean = "image".into();
    }
    format!("{clean}-fit.{}", encoding.extension())
}

#[cfg(test)]
mod tests {
    use super::*;
    use multishot_rules::rules::{check, Facts};
    use proptest::prelude::*;

    fn chosen(format: Format, width: u32, height: u32, bytes: u64) -> Chosen {
        Chosen {
            format,
            decoded: Dimensions::new(width, height),
            bytes,
        }
    }

    fn verbs(c: &Chosen) -> Vec<Verb> {
        offers(c).iter().map(|p| p.verb).collect()
    }

    /// The output keeps every rule that geometry decides.
    fn fits(plan: &Plan) -> bool {
        let c = plan.canvas;
        c.width.min(c.height) >= MIN_SIDE_PX
            && !too_wide(c)
            && !too_tall(c)
            && pixels(c) <= MAX_DECODE_PIXELS
            && plan.place.x + plan.place.width <= c.width
            && plan.place.y + plan.place.height <= c.height
    }

    #[test]
    fn each_broken_rule_gets_its_verb() {
        assert_eq!(verbs(&chosen(Format::Jpeg, 1200, 800, 1_000_000)), []);
        assert_eq!(
            verbs(&chosen(Format::WebP, 1200, 800, 1_000_000)),
            [Verb::Convert]
        );
        assert_eq!(
            verbs(&chosen(Format::Jpeg, 6000, 4000, 12_000_000)),
            [Verb::Shrink]
        );
        assert_eq!(
            verbs(&chosen(Format::Png, 200, 200, 40_000)),
            [Verb::Enlarge]
        );
        assert_eq!(
            verbs(&chosen(Format::Jpeg, 4000, 1000, 900_000)),
            [Verb::Crop, Verb::Pad, Verb::Pad]
        );
        assert_eq!(
            verbs(&chosen(Format::Jpeg, 1000, 4000, 900_000)),
            [Verb::Crop, Verb::Pad, Verb::Pad]
        );
        assert_eq!(
            verbs(&chosen(Format::Jpeg, 20_000, 20_000, 1_000)),
            [],
            "a decompression bomb is never drawn"
        );
    }

    #[test]
    fn convert_keeps_photos_jpeg_and_drawings_png() {
        let encoding = |format| offers(&chosen(format, 800, 600, 10_000))[0].encoding;
        assert_eq!(encoding(Format::WebP), Encoding::Jpeg);
        assert_eq!(encoding(Format::Avif), Encoding::Jpeg);
        assert_eq!(encoding(Format::Gif), Encoding::Png);
        assert_eq!(encoding(Format::Bmp), Encoding::Png);
        assert_eq!(encoding(Format::Svg), Encoding::Png);
        // Too heavy: JPEG whatever it was.
        assert_eq!(
            offers(&chosen(Format::Png, 4000, 3000, 11 * 1024 * 1024))[0].encoding,
            Encoding::Jpeg
        );
    }

    #[test]
    fn a_panorama_is_cropped_to_exactly_2_5_to_1_or_padded_around() {
        let plans = offers(&chosen(Format::Jpeg, 4000, 1000, 900_000));
        let crop = plans[0];
        assert_eq!(
            crop.source,
            Rect {
                x: 750,
                y: 0,
                width: 2500,
                height: 1000
            }
        );
        assert_eq!(crop.canvas, Dimensions::new(2500, 1000));
        assert_eq!(crop.backdrop, Backdrop::None);
        let pad = plans[1];
        assert_eq!(
            pad.source,
            Rect {
                x: 0,
                y: 0,
                width: 4000,
                height: 1000
            }
        );
        assert_eq!(pad.canvas, Dimensions::new(4000, 1600));
        assert_eq!(
            pad.place,
            Rect {
                x: 0,
                y: 300,
                width: 4000,
                height: 1000
            }
        );
        assert_eq!(pad.backdrop, Backdrop::Blurred);
        assert_eq!(
            Plan {
                backdrop: Backdrop::Colour([255, 255, 255]),
                ..pad
            },
            plans[2]
        );
    }

    #[test]
    fn a_small_panorama_is_cropped_and_enlarged_in_one() {
        let crop = offers(&chosen(Format::Png, 600, 100, 9_000))[0];
        assert_eq!(
            crop.source,
            Rect {
                x: 175,
                y: 0,
                width: 250,
                height: 100
            }
        );
        assert_eq!(crop.canvas, Dimensions::new(750, 300));
        assert_eq!(
            crop.place,
            Rect {
                x: 0,
                y: 0,
                width: 750,
                height: 300
            }
        );
    }

    #[test]
    fn the_boundaries_are_exact() {
        // 2.5:1 and 1:2.5 exactly are allowed; one pixel more is not.
        assert_eq!(verbs(&chosen(Format::Jpeg, 750, 300, 1)), []);
        assert_eq!(verbs(&chosen(Format::Jpeg, 300, 750, 1)), []);
        assert_eq!(
            verbs(&chosen(Format::Jpeg, 751, 300, 1)),
            [Verb::Crop, Verb::Pad, Verb::Pad]
        );
        assert_eq!(
            verbs(&chosen(Format::Jpeg, 300, 751, 1)),
            [Verb::Crop, Verb::Pad, Verb::Pad]
        );
        let crop = offers(&chosen(Format::Jpeg, 751, 300, 1))[0];
        assert_eq!(crop.canvas, Dimensions::new(750, 300));
        let pad = offers(&chosen(Format::Jpeg, 751, 300, 1))[1];
        assert_eq!(pad.canvas, Dimensions::new(751, 301));
        // 299 px is enlarged to 300 exactly, the long side rounded down.
        let plan = offers(&chosen(Format::Png, 299, 700, 1))[0];
        assert_eq!(plan.canvas, Dimensions::new(300, 702));
        assert_eq!(verbs(&chosen(Format::Png, 300, 300, MAX_FILE_BYTES)), []);
        assert_eq!(
            verbs(&chosen(Format::Png, 300, 300, MAX_FILE_BYTES + 1)),
            [Verb::Shrink]
        );
    }

    #[test]
    fn the_quality_search_finds_the_highest_that_fits_in_seven_encodes() {
        for limit in [0u8, 50, 51, 72, 94, 95] {
            let mut search = QualitySearch::default();
            let mut tries = 0;
            while let Some(q) = search.next() {
                tries += 1;
                assert!((50..=95).contains(&q));
                let bytes = if q <= limit {
                    MAX_FILE_BYTES
                } else {
                    MAX_FILE_BYTES + 1
                };
                search.record(q, bytes);
            }
            assert!(tries <= 7, "{limit}: {tries} encodes");
            if limit == 95 {
                assert_eq!(tries, 1, "one encode when the best quality fits");
            }
            assert_eq!(search.best, (limit >= 50).then_some(limit), "limit {limit}");
        }
    }

    #[test]
    fn a_predicted_quality_costs_one_encode_when_it_fits_and_a_search_below_when_not() {
        let mut search = QualitySearch::default().from(88);
        assert_eq!(search.next(), Some(88));
        search.record(88, MAX_FILE_BYTES);
        assert_eq!((search.next(), search.best), (None, Some(88)));
        // The prediction was too high: the highest below it that fits.
        for limit in [50u8, 61, 86, 87] {
            let mut search = QualitySearch::default().from(88);
            let mut tries = 0;
            while let Some(q) = search.next() {
                tries += 1;
                assert!((50..=88).contains(&q));
                search.record(q, if q <= limit { 1 } else { MAX_FILE_BYTES + 1 });
            }
            assert_eq!(search.best, Some(limit));
            assert!(tries <= 7, "{limit}: {tries}");
        }
        assert_eq!(QualitySearch::default().from(120).next(), Some(95));
        assert_eq!(QualitySearch::default().from(10).next(), Some(50));
        let mut within = QualitySearch::within(SAMPLE_LIMIT);
        within.record(95, SAMPLE_LIMIT + 1);
        assert_eq!(within.best, None);
    }

    #[test]
    fn a_sample_is_whole_blocks_spread_over_the_image_and_about_a_32nd_of_it() {
        assert_eq!(Sample::of(Dimensions::new(1999, 2000)), None);
        let sample = Sample::of(Dimensions::new(6000, 4000)).expect("a sample");
        assert_eq!(sample.columns, 16);
        assert_eq!(sample.tiles.len(), 16 * 11);
        assert_eq!(sample.size, Dimensions::new(16 * 64, 11 * 64));
        let ratio = pixels(sample.image) / pixels(sample.size);
        assert!((28..=36).contains(&ratio), "1/{ratio}");
        for tile in &sample.tiles {
            assert_eq!((tile.x % 16, tile.y % 16), (0, 0));
            assert!(tile.x + tile.width <= 6000 && tile.y + tile.height <= 4000);
        }
        assert_eq!(sample.predict(1000), 1000 * 24_000_000 / (1024 * 704));
    }

    #[test]
    fn too_heavy_at_the_lowest_quality_is_scaled_down_but_not_below_300() {
        let smaller = fit_bytes(Dimensions::new(6000, 4000), 20 * 1024 * 1024).expect("a size");
        assert!(pixels(smaller) * 20 <= pixels(Dimensions::new(6000, 4000)) * 10 * 9 / 10 + 20);
        assert_eq!(fit_bytes(Dimensions::new(300, 300), 20 * 1024 * 1024), None);
    }

    #[test]
    fn a_crop_box_moves_within_the_image_by_drag_and_keys() {
        let image = Dimensions::new(4000, 1000);
        let crop = offers(&chosen(Format::Jpeg, 4000, 1000, 1))[0];
        let range = crop.crop_range(image).expect("a crop");
        assert_eq!(
            range,
            CropRange {
                across: true,
                offset: 750,
                max: 1500,
                length: 4000
            }
        );
        // Shown 400 px wide: a 10 px drag is 100 image pixels; never past either edge.
        assert_eq!(range.dragged(750, 10, 400), 850);
        assert_eq!(range.dragged(750, -100, 400), 0);
        assert_eq!(range.dragged(750, 1000, 400), 1500);
        assert_eq!(range.dragged(750, 10, 0), 1500);
        assert_eq!(
            (range.stepped(1, None), range.stepped(-2, None)),
            (830, 590)
        );
        assert_eq!(
            (range.stepped(0, Some(false)), range.stepped(0, Some(true))),
            (0, 1500)
        );
        assert_eq!(range.percent(2500), (1875, 6250));
        let moved = crop.crop_at(image, 9999);
        assert_eq!(
            moved.source,
            Rect {
                x: 1500,
                y: 0,
                width: 2500,
                height: 1000
            }
        );
        assert_eq!((moved.canvas, moved.place), (crop.canvas, crop.place));
        // A tall image's box moves down; other repairs have no box.
        let tall = offers(&chosen(Format::Jpeg, 300, 1000, 1));
        let range = tall[0]
            .crop_range(Dimensions::new(300, 1000))
            .expect("a crop");
        assert_eq!((range.across, range.offset, range.max), (false, 125, 250));
        assert_eq!(tall[0].crop_at(Dimensions::new(300, 1000), 0).source.y, 0);
        assert_eq!(tall[1].crop_range(Dimensions::new(300, 1000)), None);
    }

    #[test]
    fn a_colour_input_s_value_is_read_exactly() {
        assert_eq!(parse_colour("#ff8000"), Some([255, 128, 0]));
        assert_eq!(parse_colour("#FFFFFF"), Some([255, 255, 255]));
        for bad in [
            "", "#", "#fff", "ff8000", "#ff80001", "#gg0000", "#+f8000", "#ff80é",
        ] {
            assert_eq!(parse_colour(bad), None, "{bad}");
        }
        assert_eq!(
            Backdrop::Colour([255, 128, 0]).css().as_deref(),
            Some("#ff8000")
        );
        assert_eq!(Backdrop::Blurred.css(), None);
    }

    #[test]
    fn an_svg_is_rasterised_in_its_own_shape_large_enough() {
        let size = |svg: &str| svg_raster_size(svg);
        // Its width and height; small ones scaled up to 1024 on the short side.
        assert_eq!(
            size(r#"<svg width="40" height="20">"#),
            Dimensions::new(2048, 1024)
        );
        assert_eq!(
            size(r#"<svg width="1600px" height='1200px'>"#),
            Dimensions::new(1600, 1200)
        );
        // The viewBox's shape when a side is missing or not in pixels.
        assert_eq!(
            size(
                r#"<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 50" stroke-width="3">"#
            ),
            Dimensions::new(2048, 1024)
        );
        assert_eq!(
            size(r#"<svg width="200" viewBox="0,0,100,400">"#),
            Dimensions::new(1024, 4096)
        );
        assert_eq!(
            size(r#"<svg width="100%" height="100%" viewBox="0 0 3 2">"#),
            Dimensions::new(1536, 1024)
        );
        // Neither: as browsers take it. Nonsense: the same.
        assert_eq!(size("<svg>"), Dimensions::new(2048, 1024));
        assert_eq!(
            size(r#"<svg width="-5" height="nan" viewBox="0 0 0 0">"#),
            Dimensions::new(2048, 1024)
        );
        assert_eq!(size("no svg at all"), Dimensions::new(2048, 1024));
        // Very long: the long side capped.
        assert_eq!(
            size(r#"<svg width="100" height="10000">"#),
            Dimensions::new(82, 8192)
        );
        // stroke-width is not width.
        assert_eq!(
            size(r#"<svg stroke-width="9" height="10" width="30">"#),
            Dimensions::new(3072, 1024)
        );
    }

    #[test]
    fn only_a_heic_photo_gets_advice() {
        assert!(advice(Format::Heic).is_some_and(|a| a.contains("JPEG")));
        assert_eq!(advice(Format::Png), None);
        assert_eq!(advice(Format::WebP), None);
    }

    #[test]
    fn each_repair_is_named_by_its_verb() {
        let labels = |c| offers(&c).iter().map(Plan::label).collect::<Vec<_>>();
        assert_eq!(
            labels(chosen(Format::WebP, 800, 600, 1)),
            ["Convert to JPEG"]
        );
        assert_eq!(labels(chosen(Format::Gif, 800, 600, 1)), ["Convert to PNG"]);
        assert_eq!(
            labels(chosen(Format::Jpeg, 800, 600, MAX_FILE_BYTES + 1)),
            ["Shrink to under 10 MB"]
        );
        assert_eq!(
            labels(chosen(Format::Png, 200, 250, 1)),
            ["Enlarge to 300 px"]
        );
        assert_eq!(
            labels(chosen(Format::Jpeg, 4000, 1000, 1)),
            [
                "Crop to 2.5:1",
                "Pad to 2.5:1 on a blurred copy",
                "Pad to 2.5:1 on a colour"
            ]
        );
        assert_eq!(
            labels(chosen(Format::Jpeg, 1000, 4000, 1)),
            [
                "Crop to 1:2.5",
                "Pad to 1:2.5 on a blurred copy",
                "Pad to 1:2.5 on a colour"
            ]
        );
        assert_eq!(
            offers(&chosen(Format::Png, 200, 250, 1))[0].explain(),
            "Enlarged to 300 × 375 px; fine detail will look soft."
        );
    }

    #[test]
    fn repaired_files_get_a_sensible_name() {
        assert_eq!(
            repaired_name("holiday.webp", Encoding::Jpeg),
            "holiday-fit.jpg"
        );
        assert_eq!(
            repaired_name("a b/c.d.gif", Encoding::Png),
            "a-b-c-d-fit.png"
        );
        assert_eq!(repaired_name(".png", Encoding::Png), "image-fit.png");
        assert_eq!(repaired_name("", Encoding::Jpeg), "image-fit.jpg");
    }

    proptest! {
        /// Any text gives a size within the raster limits.
        #[test]
        fn any_svg_text_gets_a_bounded_size(text in ".{0,200}", w in any::<f64>(), h in any::<f64>()) {
            for svg in [text.clone(), format!("<svg width=\"{w}\" height=\"{h}\" {text}>"), format!("<svg viewBox=\"0 0 {w} {h}\">")] {
                let size = svg_raster_size(&svg);
                prop_assert!((1..=8192).contains(&size.width) && (1..=8192).contains(&size.height), "{svg}: {size:?}");
            }
        }

        /// A sample's tiles are whole blocks inside the image, apart, and fill the sample.
        #[test]
        fn a_sample_stays_inside_the_image(width in 1u32..20_000, height in 1u32..20_000) {
            let size = Dimensions::new(width, height);
            if let Some(sample) = Sample::of(size) {
                prop_assert_eq!(sample.tiles.len() as u64 * u64::from(SAMPLE_TILE).pow(2), pixels(sample.size));
                prop_assert!(pixels(sample.size) * 20 <= pixels(size));
                for pair in sample.tiles.windows(2) {
                    let (a, b) = (pair[0], pair[1]);
                    prop_assert!(a.y < b.y || a.x + SAMPLE_TILE <= b.x);
                }
                for tile in &sample.tiles {
                    prop_assert_eq!((tile.x % 16, tile.y % 16), (0, 0));
                    prop_assert!(tile.x + SAMPLE_TILE <= width && tile.y + SAMPLE_TILE <= height);
                }
            } else {
                prop_assert!(pixels(size) < SAMPLE_FROM_PIXELS || width.min(height) < 2 * SAMPLE_STEP);
            }
        }

        /// Scaled down to get lighter, a size within the rules stays within them.
        #[test]
        fn scaling_down_keeps_the_rules(
            width in 300u32..12_000,
            height in 300u32..12_000,
            bytes in (MAX_FILE_BYTES + 1)..(40 * MAX_FILE_BYTES),
        ) {
            let size = Dimensions::new(width, height);
            prop_assume!(!too_wide(size) && !too_tall(size) && pixels(size) <= MAX_DECODE_PIXELS);
            if let Some(smaller) = fit_bytes(size, bytes) {
                prop_assert!(pixels(smaller) < pixels(size));
                prop_assert!(smaller.width.min(smaller.height) >= MIN_SIDE_PX);
                prop_assert!(!too_wide(smaller) && !too_tall(smaller), "{:?} → {:?}", size, smaller);
            }
        }

        /// Whatever the image, every plan offered gives an output within the rules, the
        /// rules' own check agrees, and a part of the image is always drawn.
        #[test]
        fn every_plan_fits(width in 1u32..12_000, height in 1u32..12_000, webp in any::<bool>()) {
            let c = chosen(if webp { Format::WebP } else { Format::Jpeg }, width, height, 1_000);
            for plan in offers(&c) {
                prop_assert!(fits(&plan), "{:?} → {:?}", c, plan);
                let facts = Facts {
                    format: Some(Format::Png),
                    byte_size: Some(1_000),
                    dimensions: Some(plan.canvas),
                    ..Facts::default()
                };
                prop_assert!(check(&facts).passes(), "{:?}", plan);
                prop_assert!(plan.source.x + plan.source.width <= width);
                prop_assert!(plan.source.y + plan.source.height <= height);
                prop_assert!(plan.source.width > 0 && plan.source.height > 0);
            }
        }
    }
}
