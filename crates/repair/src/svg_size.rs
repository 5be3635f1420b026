//! The size an SVG drawing is made into pixels at, read from its root element (plain
//! text work; the drawing itself is [`crate::svg`]'s).

use multishot_rules::sniff::Dimensions;

/// The short side an SVG drawing is rasterised at, at least: a drawing is sharp at any
/// size, so it is drawn large enough for the model rather than at its nominal size.
pub const SVG_SHORT_SIDE: u32 = 1024;

/// The longest side an SVG drawing is rasterised at.
const SVG_LONG_SIDE: u32 = 8192;

/// The size to rasterise an SVG drawing at, from its root element's `width`, `height`
/// (plain numbers or px) and `viewBox`: its own shape, scaled up so that the short side
/// is at least [`SVG_SHORT_SIDE`] and the long one at most 8192 px. A drawing that gives
/// neither is taken as 300 × 150, as browsers take it. (Lengths are read as thousandths
/// in integers: no float parser in the module.)
pub fn svg_raster_size(svg: &str) -> Dimensions {
    let root = svg
        .find("<svg")
        .and_then(|at| svg[at..].split_once('>'))
        .map_or("", |(tag, _)| tag);
    let length = |name| {
        let value = attribute(root, name)?;
        thousandths(value.trim().strip_suffix("px").unwrap_or(value.trim()))
    };
    let view_box = attribute(root, "viewBox").and_then(|v| {
        let parts: Vec<&str> = v
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|p| !p.is_empty())
            .collect();
        match parts[..] {
            [_, _, w, h] => Some((thousandths(w)?, thousandths(h)?)),
            _ => None,
        }
    });
    // Each side in thousandths of a pixel (at most 10^13: the products below fit u128).
    let (width, height): (u64, u64) = match (length("width"), length("height"), view_box) {
        (Some(w), Some(h), _) => (w, h),
        (Some(w), None, Some((vw, vh))) => (w, w.saturating_mul(vh) / vw),
        (None, Some(h), Some((vw, vh))) => (h.saturating_mul(vw) / vh, h),
        (_, _, Some(view)) => view,
        _ => (300_000, 150_000),
    };
    let (width, height) = (width.max(1), height.max(1));
    let (short, long) = (width.min(height), width.max(height));
    // side = v × num / den: up to the short side's minimum, else as it is; then down to
    // the long side's maximum.
    let (mut num, mut den) = if short < u64::from(SVG_SHORT_SIDE) * 1000 {
        (u128::from(SVG_SHORT_SIDE), u128::from(short))
    } else {
        (1, 1000)
    };
    if u128::from(long) * num / den > u128::from(SVG_LONG_SIDE) {
        (num, den) = (u128::from(SVG_LONG_SIDE), u128::from(long));
    }
    let side = |v: u64| {
        let scaled = (u128::from(v) * num * 2 + den) / (den * 2);
        scaled.clamp(1, u128::from(SVG_LONG_SIDE)) as u32
    };
    Dimensions::new(side(width), side(height))
}

/// A positive decimal number (`12`, `12.5`, `.5`) in thousandths, up to 10 digits before
/// the point and 3 after (more are cut); `None` for anything else, or for zero.
fn thousandths(text: &str) -> Option<u64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.len() > 10 || !digits(whole) || !digits(fraction) || whole.len() + fraction.len() == 0
    {
        return None;
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let fraction: u64 = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0, |n, b| n * 10 + u64::from(b - b'0'));
    Some(whole * 1000 + fraction).filter(|&v| v > 0)
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lengths_are_read_exactly_as_thousandths() {
        assert_eq!(thousandths("12"), Some(12_000));
        assert_eq!(thousandths("12.5"), Some(12_500));
        assert_eq!(thousandths(".25"), Some(250));
        assert_eq!(thousandths("0.0004"), None, "under a thousandth is zero");
        assert_eq!(thousandths("1.23456"), Some(1_234));
        for bad in [
            "",
            ".",
            "-5",
            "+5",
            "1e3",
            "5%",
            "1.2.3",
            "abc",
            "12345678901",
            "0",
        ] {
            assert_eq!(thousandths(bad), None, "{bad}");
        }
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

    proptest! {
        /// Any text gives a size within the raster limits.
        #[test]
        fn any_svg_text_gets_a_bounded_size(text in ".{0,200}", w in any::<f64>(), h in any::<f64>()) {
            for svg in [text.clone(), format!("<svg width=\"{w}\" height=\"{h}\" {text}>"), format!("<svg viewBox=\"0 0 {w} {h}\">")] {
                let size = svg_raster_size(&svg);
                prop_assert!((1..=8192).contains(&size.width) && (1..=8192).contains(&size.height), "{svg}: {size:?}");
            }
        }
    }
}
