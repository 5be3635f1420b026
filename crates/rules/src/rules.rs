//! WaveSpeed's input rules for Kling V1 AI Multi-Shot, in one place, and the check that
//! reports every rule an image breaks together with what was measured.
//!
//! From the product page: JPG/JPEG/PNG only; at most 10 MB; width and height at least
//! 300 px; aspect ratio between 1:2.5 and 2.5:1.

use std::fmt;

use crate::sniff::{Dimensions, Format, Sniffed};
use crate::units::{format_bytes, group_thousands};

/// The formats the model accepts, decided by content.
pub const ACCEPTED_FORMATS: [Format; 2] = [Format::Png, Format::Jpeg];

/// The largest file accepted: 10 MB as WaveSpeed counts it, 10 × 1024 × 1024 bytes.
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;

/// The smallest width and the smallest height accepted, in pixels.
pub const MIN_SIDE_PX: u32 = 300;
/// The most pixels the browser is asked to decode (100 megapixels, 10,000 × 10,000). A
/// header that declares more is a decompression bomb or far beyond any photo WaveSpeed
/// takes: refused from the header alone, before anything is allocated for it.
pub const MAX_DECODE_PIXELS: u64 = 100_000_000;

/// Files larger than this are not handed to the browser's decoder: they are refused for
/// their size anyway, and decoding a huge file could exhaust the tab's memory. Their
/// dimensions come from the header alone.
pub const DECODE_BYTE_CAP: u64 = 4 * MAX_FILE_BYTES;

/// Whether the browser is asked to decode a file of `format` and `bytes` whose header
/// gave `facts`: a kind it decodes (PNG, JPEG, GIF, WebP, BMP, AVIF — never text,
/// documents or archives), at most [`DECODE_BYTE_CAP`], and not a decompression bomb.
pub fn may_decode(format: Format, facts: &Facts) -> bool {
    matches!(
        format,
        Format::Png | Format::Jpeg | Format::Gif | Format::WebP | Format::Bmp | Format::Avif
    ) && facts.byte_size.is_none_or(|b| b <= DECODE_BYTE_CAP)
        && !facts.too_many_pixels
}

/// The narrowest shape accepted, width : height = 1 : 2.5 (0.4), as an exact fraction.
pub const MIN_ASPECT: Ratio = Ratio::new(2, 5);

/// The widest shape accepted, width : height = 2.5 : 1, as an exact fraction.
pub const MAX_ASPECT: Ratio = Ratio::new(5, 2);

/// An exact width-to-height ratio `num / den`, so the boundaries are compared without
/// floating point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ratio {
    /// Numerator (the width side).
    pub num: u32,
    /// Denominator (the height side).
    pub den: u32,
}

impl Ratio {
    /// The ratio `num / den`.
    pub const fn new(num: u32, den: u32) -> Self {
        Self { num, den }
    }

    /// The ratio as a decimal, for display.
    pub fn as_f64(self) -> f64 {
        f64::from(self.num) / f64::from(self.den)
    }
}

/// True when `size`'s width/height is at least `ratio` (exact integer arithmetic).
fn at_least(size: Dimensions, ratio: Ratio) -> bool {
    u64::from(size.width) * u64::from(ratio.den) >= u64::from(size.height) * u64::from(ratio.num)
}

/// True when `size`'s width/height is at most `ratio` (exact integer arithmetic).
fn at_most(size: Dimensions, ratio: Ratio) -> bool {
    u64::from(size.width) * u64::from(ratio.den) <= u64::from(size.height) * u64::from(ratio.num)
}

/// Wider than [`MAX_ASPECT`] allows (exactly: 751 × 300 is, 750 × 300 is not).
pub fn too_wide(size: Dimensions) -> bool {
    !at_most(size, MAX_ASPECT)
}

/// Taller than [`MIN_ASPECT`] allows (exactly: 300 × 751 is, 300 × 750 is not).
pub fn too_tall(size: Dimensions) -> bool {
    !at_least(size, MIN_ASPECT)
}

/// One of the input rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rule {
    /// PNG or JPEG by content.
    FileType,
    /// At most [`MAX_FILE_BYTES`].
    FileSize,
    /// The browser can decode the image.
    Readable,
    /// Both sides at least [`MIN_SIDE_PX`].
    Dimensions,
    /// Width/height within [`MIN_ASPECT`]..=[`MAX_ASPECT`].
    AspectRatio,
}

impl Rule {
    /// Every rule, in the order they are reported.
    pub const ALL: [Rule; 5] = [
        Rule::FileType,
        Rule::FileSize,
        Rule::Readable,
        Rule::Dimensions,
        Rule::AspectRatio,
    ];

    /// The rule's machine-readable name (`file_type`, `file_size`, `readable`,
    /// `dimensions`, `aspect_ratio`): the `data-rule` of its alert on the page.
    pub fn code(self) -> &'static str {
        match self {
            Rule::FileType => "file_type",
            Rule::FileSize => "file_size",
            Rule::Readable => "readable",
            Rule::Dimensions => "dimensions",
            Rule::AspectRatio => "aspect_ratio",
        }
    }

    /// The rule's short name, shown as the heading of its message.
    pub fn name(self) -> &'static str {
        match self {
            Rule::FileType => "File type",
            Rule::FileSize => "File size",
            Rule::Readable => "Readable image",
            Rule::Dimensions => "Minimum size",
            Rule::AspectRatio => "Aspect ratio",
        }
    }

    /// The rule as the product page states it, for the help text.
    pub fn requirement(self) -> String {
        match self {
            Rule::FileType => "PNG or JPEG (checked by content, not by file name)".into(),
            Rule::FileSize => format!("at most 10 MB ({} bytes)", group_thousands(MAX_FILE_BYTES)),
            Rule::Readable => "an image the browser can open".into(),
            Rule::Dimensions => format!("width and height at least {MIN_SIDE_PX} px"),
            Rule::AspectRatio => "between 1:2.5 (tall) and 2.5:1 (wide)".into(),
        }
    }
}

/// Every rule in one short line, for a place with no room for the list.
pub fn in_one_line() -> String {
    format!("JPG or PNG · up to 10 MB · at least {MIN_SIDE_PX} × {MIN_SIDE_PX} px · from 1:2.5 (tall) to 2.5:1 (wide)")
}

/// What is known about an image so far. `None` means "not measured (yet)".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// The format by content.
    pub format: Option<Format>,
    /// The file size in bytes.
    pub byte_size: Option<u64>,
    /// The displayed size: as decoded by the browser (the verdict), or from the header
    /// while the decode is under way.
    pub dimensions: Option<Dimensions>,
    /// The browser tried and failed to decode the image.
    pub undecodable: bool,
    /// The header declares more than [`MAX_DECODE_PIXELS`]: it is not decoded at all.
    pub too_many_pixels: bool,
}

impl Facts {
    /// What a file's leading bytes tell, with its size in bytes when known: the format,
    /// the dimensions the header declares, and whether those are more pixels than
    /// [`MAX_DECODE_PIXELS`] (a decompression bomb, refused without decoding).
    pub fn from_head(sniffed: &Sniffed, byte_size: Option<u64>) -> Self {
        let dimensions = sniffed.header.ok();
        Self {
            format: Some(sniffed.format),
            byte_size,
            dimensions,
            undecodable: false,
            too_many_pixels: dimensions
                .is_some_and(|d| u64::from(d.width) * u64::from(d.height) > MAX_DECODE_PIXELS),
        }
    }
}

/// A broken rule with what was measured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// Not PNG or JPEG; says what it is instead.
    FileType {
        /// What the bytes are.
        found: Format,
    },
    /// Over [`MAX_FILE_BYTES`].
    FileSize {
        /// The file's size in bytes.
        bytes: u64,
    },
    /// The browser could not decode it.
    Readable {
        /// The format the bytes claim, if known.
        claimed: Option<Format>,
    },
    /// Its header declares more pixels than are safe to decode.
    TooManyPixels {
        /// The size the header declares.
        size: Dimensions,
    },
    /// A side under [`MIN_SIDE_PX`].
    Dimensions {
        /// The displayed size.
        size: Dimensions,
    },
    /// Narrower than [`MIN_ASPECT`] or wider than [`MAX_ASPECT`].
    AspectRatio {
        /// The displayed size.
        size: Dimensions,
    },
}

impl Violation {
    /// The rule this breaks.
    pub fn rule(&self) -> Rule {
        match self {
            Violation::FileType { .. } => Rule::FileType,
            Violation::FileSize { .. } => Rule::FileSize,
            Violation::Readable { .. } | Violation::TooManyPixels { .. } => Rule::Readable,
            Violation::Dimensions { .. } => Rule::Dimensions,
            Violation::AspectRatio { .. } => Rule::AspectRatio,
        }
    }
}

/// `1000 × 300` → `"3.33:1"`; `300 × 1000` → `"1:3.33"`.
fn shape(size: Dimensions) -> String {
    let (w, h) = (u64::from(size.width), u64::from(size.height));
    if w >= h {
        format!("{}:1", two_decimals(w, h))
    } else {
        format!("1:{}", two_decimals(h, w))
    }
}

/// `num / den` with two decimals, rounded half up, in integers: formatting a float would
/// bring the float printer (about 9 KB of the page's wasm) for this one line.
fn two_decimals(num: u64, den: u64) -> String {
    let hundredths = (num * 200 + den) / (2 * den.max(1));
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

impl fmt::Display for Violation {
    /// The message a person reads: the measured value, then the rule.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::FileType { found: Format::Empty } => {
                write!(f, "The file is empty (0 bytes); choose a PNG or JPEG image.")
            }
            Violation::FileType { found: Format::Unknown } => write!(
                f,
                "The file is not a recognised image; only PNG and JPEG images are accepted."
            ),
            Violation::FileType { found } => write!(
                f,
                "The file is {found}, whatever its name says; only PNG and JPEG images are accepted."
            ),
            Violation::FileSize { bytes } => write!(
                f,
                "The file is {} ({} bytes); the limit is {} ({} bytes).",
                format_bytes(*bytes),
                group_thousands(*bytes),
                format_bytes(MAX_FILE_BYTES),
                group_thousands(MAX_FILE_BYTES)
            ),
            Violation::Readable { claimed: Some(format) } => write!(
                f,
                "The file starts like {format}, but the browser cannot decode it: it is damaged or cut short."
            ),
            Violation::Readable { claimed: None } => {
                write!(f, "The browser cannot open this as an image.")
            }
            Violation::TooManyPixels { size } => write!(
                f,
                "The file declares {} × {} px ({} megapixels): too large to open safely, so it is not opened; photos up to {} megapixels are checked.",
                group_thousands(u64::from(size.width)),
                group_thousands(u64::from(size.height)),
                group_thousands(u64::from(size.width) * u64::from(size.height) / 1_000_000),
                MAX_DECODE_PIXELS / 1_000_000
            ),
            Violation::Dimensions { size } => write!(
                f,
                "The image is {size}; both sides must be at least {MIN_SIDE_PX} px."
            ),
            Violation::AspectRatio { size } => write!(
                f,
                "The image is {size}, a shape of {}; it must be between 1:2.5 (tall) and 2.5:1 (wide).",
                shape(*size)
            ),
        }
    }
}

/// The outcome of checking what is known about an image.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Every broken rule, in [`Rule::ALL`] order.
    pub violations: Vec<Violation>,
    /// Rules that could not be checked from what is known.
    pub unchecked: Vec<Rule>,
}

impl Report {
    /// No rule is known to be broken.
    pub fn passes(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Checks every rule against what is known and lists each broken one with its measured
/// value, and each rule that could not be checked.
///
/// A refused format is not also reported as unreadable, and an unreadable image has no
/// size to check.
pub fn check(facts: &Facts) -> Report {
    let mut report = Report::default();
    match facts.format {
        Some(found) if !ACCEPTED_FORMATS.contains(&found) => {
            report.violations.push(Violation::FileType { found });
        }
        Some(_) => {}
        None => report.unchecked.push(Rule::FileType),
    }
    match facts.byte_size {
        Some(bytes) if bytes > MAX_FILE_BYTES => {
            report.violations.push(Violation::FileSize { bytes })
        }
        Some(_) => {}
        None => report.unchecked.push(Rule::FileSize),
    }
    let refused_type = report.violations.iter().any(|v| v.rule() == Rule::FileType);
    if facts.too_many_pixels && !refused_type {
        if let Some(size) = facts.dimensions {
            report.violations.push(Violation::TooManyPixels { size });
        }
    } else if facts.undecodable && !refused_type {
        report.violations.push(Violation::Readable {
            claimed: facts.format,
        });
    }
    match facts.dimensions {
        Some(size) => {
            if size.width < MIN_SIDE_PX || size.height < MIN_SIDE_PX {
                report.violations.push(Violation::Dimensions { size });
            }
            if too_tall(size) || too_wide(size) {
                report.violations.push(Violation::AspectRatio { size });
            }
        }
        None if facts.undecodable || refused_type => {}
        None => report
            .unchecked
            .extend([Rule::Dimensions, Rule::AspectRatio]),
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn facts(format: Format, bytes: u64, w: u32, h: u32) -> Facts {
        Facts {
            format: Some(format),
            byte_size: Some(bytes),
            dimensions: Some(Dimensions::new(w, h)),
            undecodable: false,
            too_many_pixels: false,
        }
    }

    fn rules(report: &Report) -> Vec<Rule> {
        report.violations.iter().map(Violation::rule).collect()
    }

    #[test]
    fn every_rule_has_its_own_code_and_the_one_line_states_each() {
        let codes: std::collections::HashSet<_> = Rule::ALL.iter().map(|r| r.code()).collect();
        assert_eq!(codes.len(), Rule::ALL.len());
        assert!(codes
            .iter()
            .all(|c| c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')));
        let line = in_one_line();
        for part in ["JPG or PNG", "10 MB", "300 × 300 px", "1:2.5", "2.5:1"] {
            assert!(line.contains(part), "{line}");
        }
    }

    #[test]
    fn shapes_are_written_with_two_decimals_rounded_half_up() {
        let shape_of = |width, height| shape(Dimensions { width, height });
        assert_eq!(shape_of(1000, 300), "3.33:1");
        assert_eq!(shape_of(300, 1000), "1:3.33");
        assert_eq!(shape_of(500, 200), "2.50:1");
        assert_eq!(shape_of(2000, 300), "6.67:1");
        assert_eq!(shape_of(400, 400), "1.00:1");
        // 2.505 exactly: half up (a float printer would say 2.50 or 2.51 by its binary).
        assert_eq!(shape_of(501, 200), "2.51:1");
        assert!(!shape_of(7, 0).is_empty(), "no panic on a zero side");
    }

    #[test]
    fn a_good_image_passes() {
        let r = check(&facts(Format::Jpeg, 2_000_000, 1920, 1080));
        assert!(r.passes());
        assert!(r.unchecked.is_empty());
    }

    #[test]
    fn size_boundary_is_exact() {
        assert!(check(&facts(Format::Png, 10_485_760, 500, 500)).passes());
        let r = check(&facts(Format::Png, 10_485_761, 500, 500));
        assert_eq!(rules(&r), [Rule::FileSize]);
        assert_eq!(
            r.violations[0].to_string(),
            "The file is 10.0 MB (10,485,761 bytes); the limit is 10.0 MB (10,485,760 bytes)."
        );
    }

    #[test]
    fn side_boundary_is_exact() {
        assert!(check(&facts(Format::Png, 1, 300, 300)).passes());
        assert_eq!(
            rules(&check(&facts(Format::Png, 1, 299, 300))),
            [Rule::Dimensions]
        );
        assert_eq!(
            rules(&check(&facts(Format::Png, 1, 300, 299))),
            [Rule::Dimensions]
        );
    }

    #[test]
    fn ratio_boundaries_are_exact() {
        // Exactly 1:2.5 and 2.5:1 pass.
        assert!(check(&facts(Format::Png, 1, 400, 1000)).passes());
        assert!(check(&facts(Format::Png, 1, 1000, 400)).passes());
        assert!(check(&facts(Format::Png, 1, 300, 750)).passes());
        assert!(check(&facts(Format::Png, 1, 750, 300)).passes());
        // One pixel further fails.
        assert_eq!(
            rules(&check(&facts(Format::Png, 1, 399, 1000))),
            [Rule::AspectRatio]
        );
        assert_eq!(
            rules(&check(&facts(Format::Png, 1, 1001, 400))),
            [Rule::AspectRatio]
        );
        assert_eq!(
            rules(&check(&facts(Format::Png, 1, 300, 751))),
            [Rule::AspectRatio]
        );
    }

    #[test]
    fn every_broken_rule_is_listed_with_its_measure() {
        let r = check(&facts(Format::Jpeg, 12_000_000, 280, 900));
        assert_eq!(
            rules(&r),
            [Rule::FileSize, Rule::Dimensions, Rule::AspectRatio]
        );
        assert_eq!(
            r.violations[1].to_string(),
            "The image is 280 × 900 px; both sides must be at least 300 px."
        );
        assert_eq!(
            r.violations[2].to_string(),
            "The image is 280 × 900 px, a shape of 1:3.21; it must be between 1:2.5 (tall) and 2.5:1 (wide)."
        );
    }

    #[test]
    fn a_refused_type_says_what_the_file_is() {
        let r = check(&Facts {
            format: Some(Format::Gif),
            byte_size: Some(1000),
            ..Facts::default()
        });
        assert_eq!(rules(&r), [Rule::FileType]);
        assert!(r.unchecked.is_empty());
        assert!(r.violations[0].to_string().contains("a GIF image"));
        let empty = check(&Facts {
            format: Some(Format::Empty),
            byte_size: Some(0),
            ..Facts::default()
        });
        assert_eq!(
            empty.violations[0].to_string(),
            "The file is empty (0 bytes); choose a PNG or JPEG image."
        );
    }

    #[test]
    fn a_decompression_bomb_is_refused_from_its_header() {
        let r = check(&Facts {
            format: Some(Format::Png),
            byte_size: Some(2_000),
            dimensions: Some(Dimensions::new(100_000, 100_000)),
            undecodable: false,
            too_many_pixels: true,
        });
        assert_eq!(
            r.violations,
            [Violation::TooManyPixels {
                size: Dimensions::new(100_000, 100_000)
            }]
        );
        assert_eq!(r.violations[0].rule(), Rule::Readable);
        assert_eq!(
            r.violations[0].to_string(),
            "The file declares 100,000 × 100,000 px (10,000 megapixels): too large to open safely, so it is not opened; photos up to 100 megapixels are checked."
        );
    }

    #[test]
    fn an_undecodable_image_is_refused_and_has_no_size_to_check() {
        let r = check(&Facts {
            format: Some(Format::Png),
            byte_size: Some(1000),
            dimensions: None,
            undecodable: true,
            too_many_pixels: false,
        });
        assert_eq!(rules(&r), [Rule::Readable]);
        assert!(r.unchecked.is_empty());
        assert!(r.violations[0].to_string().contains("a PNG image"));
    }

    #[test]
    fn unknown_facts_are_unchecked_not_failed() {
        let r = check(&Facts {
            dimensions: Some(Dimensions::new(800, 600)),
            ..Facts::default()
        });
        assert!(r.passes());
        assert_eq!(r.unchecked, [Rule::FileType, Rule::FileSize]);
    }

    proptest! {
        #[test]
        fn dimensions_rule_matches_its_definition(w in 1u32..5000, h in 1u32..5000) {
            let r = check(&facts(Format::Png, 1, w, h));
            let broken = rules(&r);
            prop_assert_eq!(broken.contains(&Rule::Dimensions), w < 300 || h < 300);
            let ratio = f64::from(w) / f64::from(h);
            // Away from the boundary floating point agrees with the exact check.
            if (ratio - 0.4).abs() > 1e-9 && (ratio - 2.5).abs() > 1e-9 {
                prop_assert_eq!(broken.contains(&Rule::AspectRatio), !(0.4..=2.5).contains(&ratio));
            }
        }

        #[test]
        fn size_rule_matches_its_definition(bytes in any::<u64>()) {
            let r = check(&facts(Format::Jpeg, bytes, 1000, 1000));
            prop_assert_eq!(r.passes(), bytes <= MAX_FILE_BYTES);
        }

        /// From k = 150 both sides are at least 300 px, so only the ratio is at stake
        /// (from 120, as this once said, a 240 px side failed one run in thirteen).
        #[test]
        fn any_multiple_of_the_boundary_ratios_passes(k in 150u32..100_000) {
            prop_assert!(check(&facts(Format::Png, 1, 2 * k, 5 * k)).passes());
            prop_assert!(check(&facts(Format::Png, 1, 5 * k, 2 * k)).passes());
            prop_assert_eq!(rules(&check(&facts(Format::Png, 1, 2 * k - 1, 5 * k))), [Rule::AspectRatio]);
            prop_assert_eq!(rules(&check(&facts(Format::Png, 1, 5 * k + 1, 2 * k))), [Rule::AspectRatio]);
        }

        #[test]
        fn check_never_panics(
            w in any::<u32>(), h in any::<u32>(), bytes in any::<u64>(), undecodable in any::<bool>(),
            too_many_pixels in any::<bool>()
        ) {
            let r = check(&Facts {
                format: Some(Format::Jpeg),
                byte_size: Some(bytes),
                dimensions: Some(Dimensions::new(w, h)),
                undecodable,
                too_many_pixels,
            });
            for v in &r.violations {
                prop_assert!(!v.to_string().is_empty());
            }
        }
    }
}
