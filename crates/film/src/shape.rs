//! The film's **Shape** and its frame size: the four shapes a person picks from, and the
//! size every frame is made at — even on both sides (4:2:0), at most [`LONG_SIDE`] on the
//! long side and [`MAX_AREA`] in all, never enlarged past the shots' own resolution by
//! more than [`MAX_ENLARGE`]×.

/// The shape of the film: the camera moves inside each image to fill it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Shape {
    /// The first shot's own shape.
    #[default]
    Original,
    /// 9:16, upright: Reels, Shorts, TikTok.
    Portrait,
    /// 1:1.
    Square,
    /// 16:9, wide.
    Landscape,
}

/// The longest side of a frame, in pixels.
pub const LONG_SIDE: u32 = 1920;
/// The most pixels in a frame: H.264 level 4.0's largest frame (8,192 macroblocks of
/// 16 × 16), which every H.264 encoder that offers 1080p takes.
pub const MAX_AREA: u32 = 8192 * 256;
/// How far a frame may enlarge the smallest shot's own pixels.
pub const MAX_ENLARGE: f64 = 2.0;

impl Shape {
    /// Every shape, in the order the choice lists them.
    pub const ALL: [Shape; 4] = [
        Shape::Original,
        Shape::Portrait,
        Shape::Square,
        Shape::Landscape,
    ];

    /// The shape's name, as the choice **Shape** shows it and the page passes it on.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Original => "Original",
            Shape::Portrait => "9:16",
            Shape::Square => "1:1",
            Shape::Landscape => "16:9",
        }
    }

    /// The shape named `name` ([`Shape::name`]).
    pub fn from_name(name: &str) -> Option<Shape> {
        Shape::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Width and height in proportion, given the first shot's size.
    pub fn ratio(self, first: (u32, u32)) -> (u32, u32) {
        match self {
            Shape::Original => (first.0.max(1), first.1.max(1)),
            Shape::Portrait => (9, 16),
            Shape::Square => (1, 1),
            Shape::Landscape => (16, 9),
        }
    }

    /// The film's file name part for the shape (`multi-shot-sequence-9x16.mp4`).
    pub fn file_tag(self) -> &'static str {
        match self {
            Shape::Original => "",
            Shape::Portrait => "-9x16",
            Shape::Square => "-1x1",
            Shape::Landscape => "-16x9",
        }
    }
}

/// The largest part of an image of `size` in the proportion `ratio`, centred: what the
/// camera sees when it shows as much of the image as the frame's shape allows.
pub fn cover(size: (u32, u32), ratio: (u32, u32)) -> (f64, f64) {
    let (w, h) = (f64::from(size.0.max(1)), f64::from(size.1.max(1)));
    let r = f64::from(ratio.0.max(1)) / f64::from(ratio.1.max(1));
    if w / h > r {
        (h * r, h)
    } else {
        (w, w / r)
    }
}

/// The size every frame of a film of `shape` is made at, for shots of these sizes (the
/// first decides Original's shape); `None` without shots.
pub fn frame_size(shape: Shape, shots: &[(u32, u32)]) -> Option<(u32, u32)> {
    let first = *shots.first()?;
    let ratio = shape.ratio(first);
    let r = f64::from(ratio.0) / f64::from(ratio.1);
    // The smallest shot's view in that shape: the film's own resolution.
    let base_w = shots
        .iter()
        .map(|&s| cover(s, ratio).0)
        .fold(f64::INFINITY, f64::min);
    let base_h = base_w / r;
    let scale = MAX_ENLARGE
        .min(f64::from(LONG_SIDE) / base_w.max(base_h))
        .min((f64::from(MAX_AREA) / (base_w * base_h)).sqrt());
    let even = |x: f64| ((x.floor() as u32) & !1).max(2);
    Some((even(base_w * scale), even(base_h * scale)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_shape_is_found_by_its_name() {
        for shape in Shape::ALL {
            assert_eq!(Shape::from_name(shape.name()), Some(shape));
        }
        assert_eq!(Shape::from_name("4:3"), None);
        let names: Vec<_> = Shape::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(names, ["Original", "9:16", "1:1", "16:9"]);
    }

    #[test]
    fn the_bench_s_films_are_full_hd() {
        let upright = [(1080, 1920); 3];
        assert_eq!(frame_size(Shape::Original, &upright), Some((1080, 1920)));
        assert_eq!(frame_size(Shape::Portrait, &upright), Some((1080, 1920)));
        let wide = [(1920, 1080); 3];
        assert_eq!(frame_size(Shape::Landscape, &wide), Some((1920, 1080)));
        // Square from a wide shot: its height, within the level's area.
        let (w, h) = frame_size(Shape::Square, &wide).unwrap();
        assert_eq!(w, h);
        assert!(w * h <= MAX_AREA && w <= 1080 * 2);
    }

    #[test]
    fn a_small_shot_is_enlarged_at_most_twice() {
        assert_eq!(frame_size(Shape::Original, &[(320, 180)]), Some((640, 360)));
        assert_eq!(frame_size(Shape::Portrait, &[(320, 180)]), Some((202, 360)));
    }

    #[test]
    fn no_shots_no_size() {
        assert_eq!(frame_size(Shape::Square, &[]), None);
    }

    proptest! {
        #[test]
        fn a_frame_is_even_bounded_and_in_shape(
            shots in prop::collection::vec((300u32..8000, 300u32..8000), 1..4),
            pick in 0usize..4,
        ) {
            let shape = Shape::ALL[pick];
            let (w, h) = frame_size(shape, &shots).unwrap();
            prop_assert!(w % 2 == 0 && h % 2 == 0 && w >= 2 && h >= 2);
            prop_assert!(w.max(h) <= LONG_SIDE);
            prop_assert!(w * h <= MAX_AREA);
            let (rw, rh) = shape.ratio(shots[0]);
            let want = f64::from(rw) / f64::from(rh);
            let got = f64::from(w) / f64::from(h);
            // Within the rounding down to even pixels (under 2 px a side).
            let slack = 2.0 / f64::from(w) + 2.0 / f64::from(h) + 1e-9;
            prop_assert!((got - want).abs() / want <= slack, "{got} for {want}");
            // Never more than twice the smallest shot's view.
            let smallest = shots.iter().map(|&s| cover(s, (rw, rh)).0).fold(f64::INFINITY, f64::min);
            prop_assert!(f64::from(w) <= smallest * MAX_ENLARGE + 1.0);
        }
    }
}
