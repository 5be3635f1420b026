//! Making a refused image fit, planned in plain arithmetic: which repairs apply to a
//! chosen image and, for each, the exact geometry and encoding that the browser's canvas
//! then carries out ([`crate::canvas`]). Every plan's output keeps every rule — the type
//! (PNG or JPEG), both sides at least 300 px, the shape between 1:2.5 and 2.5:1, at most
//! 100 megapixels — and the file size is reached by [`crate::quality`] and, only when
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
    /// The whole of an image or canvas of `size`, from its top-left corner.
    pub fn covering(size: Dimensions) -> Rect {
        Rect {
            x: 0,
            y: 0,
            width: size.width,
            height: size.height,
        }
    }

    /// The rectangle's size.
    pub fn size(self) -> Dimensions {
        Dimensions::new(self.width, self.height)
    }
}

/// The repair worth making as soon as it is offered, before its button is pressed: the
/// only one offered, when it leaves the person nothing to choose (a Crop waits for its
/// box, a Pad on a colour for the colour). Making it then is work the press would do
/// anyway (a refused image has nothing else to be done with it), and the press shows
/// it at once.
pub fn made_at_once(plans: &[Plan]) -> Option<Plan> {
    match plans {
        [plan] if plan.verb != Verb::Crop && !matches!(plan.backdrop, Backdrop::Colour(_)) => {
            Some(*plan)
        }
        _ => None,
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

    /// Whether the kept part alone fills the output: no backdrop, placed over the whole
    /// canvas (Convert, Shrink, Enlarge, Crop; not Pad).
    pub fn covers_canvas(&self) -> bool {
        self.backdrop == Backdrop::None && self.place == Rect::covering(self.canvas)
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

/// The kind of repair a person chose, as words another image's offers are matched
/// against ([`like`]): the verb, and for a pad its backdrop — "Crop", "Pad", "Pad
/// #1a2b3c", "Convert", "Shrink", "Enlarge". Not the geometry: another image has its
/// own (a crop of it is centred).
pub fn choice(plan: &Plan) -> String {
    match (plan.verb, plan.backdrop.css()) {
        (Verb::Pad, Some(colour)) => format!("Pad {colour}"),
        (verb, _) => verb.word().to_owned(),
    }
}

/// Among an image's `plans`, the one of the kind [`choice`] wrote: the same verb, and
/// for a pad the same backdrop (the colour set on it). `None` when the image has no such
/// repair (it is refused for something else) or the words are not a choice.
pub fn like(plans: &[Plan], choice: &str) -> Option<Plan> {
    let (word, colour) = match choice.split_once(' ') {
        Some((word, colour)) => (word, Some(parse_colour(colour)?)),
        None => (choice, None),
    };
    let mut plan = *plans.iter().find(|p| {
        p.verb.word() == word && (colour.is_some() == matches!(p.backdrop, Backdrop::Colour(_)))
    })?;
    if let Some(rgb) = colour {
        plan.backdrop = Backdrop::Colour(rgb);
    }
    Some(plan)
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

pub(crate) fn pixels(size: Dimensions) -> u64 {
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
    let whole = Rect::covering(size);
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
    fn a_choice_made_on_one_image_is_made_alike_on_another() {
        let wide = offers(&chosen(Format::Jpeg, 4000, 1000, 900_000));
        let other = offers(&chosen(Format::Png, 3000, 600, 400_000));
        let mut coloured = wide[2];
        coloured.backdrop = Backdrop::Colour([0x1a, 0x2b, 0x3c]);
        assert_eq!(choice(&wide[0]), "Crop");
        assert_eq!(choice(&wide[1]), "Pad");
        assert_eq!(choice(&coloured), "Pad #1a2b3c");
        // The other image's own geometry, the same kind of repair.
        assert_eq!(like(&other, "Crop"), Some(other[0]));
        assert_eq!(like(&other, "Pad"), Some(other[1]));
        let padded = like(&other, &choice(&coloured)).expect("a colour pad");
        assert_eq!(padded.backdrop, Backdrop::Colour([0x1a, 0x2b, 0x3c]));
        assert_eq!(padded.canvas, other[2].canvas);
        // An image refused for something else has no such repair.
        let small = offers(&chosen(Format::Png, 200, 200, 40_000));
        assert_eq!(like(&small, "Crop"), None);
        assert_eq!(like(&small, "Enlarge"), Some(small[0]));
        for nonsense in ["", "crop", "Pad red", "Pad #12345", "Enlarge #000000 x"] {
            assert_eq!(like(&wide, nonsense), None, "{nonsense:?}");
        }
    }

    #[test]
    fn only_a_lone_repair_without_choices_is_made_at_once() {
        let at_once = |c: &Chosen| made_at_once(&offers(c)).map(|p| p.verb);
        assert_eq!(
            at_once(&chosen(Format::WebP, 1200, 800, 1_000_000)),
            Some(Verb::Convert)
        );
        assert_eq!(
            at_once(&chosen(Format::Jpeg, 6000, 4000, 12_000_000)),
            Some(Verb::Shrink)
        );
        assert_eq!(
            at_once(&chosen(Format::Png, 200, 200, 40_000)),
            Some(Verb::Enlarge)
        );
        // A choice to make (the box, the colour, which one): nothing before the press.
        assert_eq!(at_once(&chosen(Format::Jpeg, 4000, 1000, 900_000)), None);
        assert_eq!(at_once(&chosen(Format::Jpeg, 1200, 800, 1_000_000)), None);
        let pads = offers(&chosen(Format::Jpeg, 4000, 1000, 900_000));
        assert_eq!(made_at_once(&pads[1..2]).map(|p| p.verb), Some(Verb::Pad));
        assert_eq!(
            made_at_once(&pads[2..3]),
            None,
            "a pad waits for its colour"
        );
        assert_eq!(made_at_once(&pads[..1]), None, "a crop waits for its box");
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
    fn only_a_pad_leaves_part_of_the_canvas_to_its_backdrop() {
        let covering = |c: &Chosen| {
            offers(c)
                .iter()
                .map(Plan::covers_canvas)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            covering(&chosen(Format::Jpeg, 4000, 1000, 1)),
            [true, false, false]
        );
        assert_eq!(covering(&chosen(Format::WebP, 800, 600, 1)), [true]);
        assert_eq!(covering(&chosen(Format::Png, 200, 250, 1)), [true]);
        assert_eq!(
            covering(&chosen(Format::Jpeg, 600, 100, 1)),
            [true, false, false]
        );
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
        /// Every repair offered, written as a choice and read back against the same
        /// image's offers, is that repair (a crop as offered: centred).
        #[test]
        fn a_choice_reads_back_as_itself(
            width in 1u32..12_000,
            height in 1u32..12_000,
            bytes in 1u64..30_000_000,
            png in any::<bool>(),
        ) {
            let plans = offers(&chosen(if png { Format::Png } else { Format::Jpeg }, width, height, bytes));
            for plan in &plans {
                prop_assert_eq!(like(&plans, &choice(plan)), Some(*plan));
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
