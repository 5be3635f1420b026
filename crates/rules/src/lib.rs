//! The input rules of WaveSpeed's Kling V1 AI Multi-Shot model and the image-header
//! parser, in one crate that the page (`multishot-studio`, in the browser) and the site
//! owner's proxy (`multishot-proxy`, on a server) both use: nothing is checked by two
//! copies of code.
//!
//! - [`sniff`]: the type of a file by its first bytes; PNG IHDR / JPEG SOF dimensions;
//! - [`rules`]: the rules as named constants, and [`rules::check`], which lists every
//!   broken rule with what was measured;
//! - [`check_file`]: the verdict on a whole file from its bytes alone, as a server that
//!   does not decode images gives it;
//! - [`units`]: "10.0 MB" and "10,485,760" for the messages;
//! - [`money`]: amounts of dollars as whole micro-dollars, parsed from WaveSpeed's
//!   JSON numbers without floating point (the page's price line, the proxy's budgets);
//! - [`task_id`]: what a task id is, and the shape of the proxy's token around one.
//!
//! Plain Rust with no I/O: it builds for the browser (wasm32) and natively alike.
//!
//! ```
//! use multishot_rules::{check_file, sniff::test_headers::png_head};
//!
//! // A header-only PNG of 1000 × 300 px is wider than 2.5:1.
//! let report = check_file(&png_head(1000, 300));
//! assert_eq!(report.violations.len(), 1);
//! assert!(report.violations[0].to_string().contains("3.33:1"));
//! ```

#![warn(missing_docs)]

pub mod money;
pub mod rules;
pub mod sniff;
pub mod task_id;
pub mod turnstile;
pub mod units;

use rules::{check, Facts, Report};
use sniff::sniff;

/// The verdict on a whole file from its bytes alone — type by content, byte size, and
/// the dimensions its header declares (EXIF orientation applied) — as a server gives it,
/// with no decoder: a PNG or JPEG whose header gives no size is reported unreadable.
///
/// The page checks the same [`rules::Facts`], with the browser's decode as the verdict
/// on dimensions; a header that lies about its size passes here and is caught there.
pub fn check_file(bytes: &[u8]) -> Report {
    let sniffed = sniff(bytes);
    let mut facts = Facts::from_head(&sniffed, Some(bytes.len() as u64));
    facts.undecodable = sniffed.format.is_accepted() && sniffed.header.is_err();
    check(&facts)
}

#[cfg(test)]
mod tests {
    use super::check_file;
    use crate::rules::{Rule, Violation, MAX_FILE_BYTES};
    use crate::sniff::test_headers::{exif, jpeg_head, png_head};
    use crate::sniff::{Dimensions, Format};

    fn rules_broken(bytes: &[u8]) -> Vec<Rule> {
        check_file(bytes)
            .violations
            .iter()
            .map(Violation::rule)
            .collect()
    }

    #[test]
    fn a_file_within_every_rule_passes_with_nothing_unchecked() {
        for bytes in [png_head(300, 300), png_head(750, 300), png_head(300, 750)] {
            let report = check_file(&bytes);
            assert!(report.passes(), "{report:?}");
            assert!(report.unchecked.is_empty(), "{report:?}");
        }
        assert!(check_file(&jpeg_head(1920, 1080, None)).passes());
    }

    #[test]
    fn each_rule_is_judged_from_the_bytes() {
        assert_eq!(rules_broken(&png_head(299, 600)), [Rule::Dimensions]);
        assert_eq!(rules_broken(&png_head(751, 300)), [Rule::AspectRatio]);
        assert_eq!(
            rules_broken(&png_head(100, 1000)),
            [Rule::Dimensions, Rule::AspectRatio]
        );
        assert_eq!(rules_broken(b"RIFF\0\0\0\0WEBPVP8 "), [Rule::FileType]);
        assert_eq!(rules_broken(b""), [Rule::FileType]);
        assert_eq!(rules_broken(b"<svg onload=alert(1)>"), [Rule::FileType]);
        // A PNG cut short before its size: unreadable, with no size to check.
        assert_eq!(rules_broken(b"\x89PNG\r\n\x1a\n\0\0"), [Rule::Readable]);
    }

    #[test]
    fn the_byte_limit_is_exact() {
        let mut bytes = png_head(800, 600);
        bytes.resize(MAX_FILE_BYTES as usize, 0);
        assert!(check_file(&bytes).passes());
        bytes.push(0);
        assert_eq!(rules_broken(&bytes), [Rule::FileSize]);
    }

    #[test]
    fn a_decompression_bomb_is_refused_from_its_header() {
        let report = check_file(&png_head(20_000, 20_000));
        assert_eq!(
            report.violations,
            [Violation::TooManyPixels {
                size: Dimensions::new(20_000, 20_000)
            }]
        );
    }

    #[test]
    fn exif_orientation_turns_the_size_the_rules_see() {
        // Stored 1000 × 300 (too wide), shown turned a quarter: 300 × 1000 (too tall).
        let turned = jpeg_head(1000, 300, Some(&exif(6, false)));
        let report = check_file(&turned);
        assert_eq!(
            report.violations,
            [Violation::AspectRatio {
                size: Dimensions::new(300, 1000)
            }]
        );
        assert_eq!(crate::sniff::sniff(&turned).format, Format::Jpeg);
        assert_eq!(crate::sniff::jpeg_orientation(&turned), Some(6));
        assert_eq!(
            crate::sniff::jpeg_orientation(&jpeg_head(1000, 300, None)),
            Some(1)
        );
        assert_eq!(crate::sniff::jpeg_orientation(b"\x89PNG\r\n\x1a\n"), None);
    }
}
