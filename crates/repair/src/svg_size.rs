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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
