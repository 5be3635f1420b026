//! The camera moves over a still shot: a slow push-in, pull-out, pan or tilt, eased in
//! and out, that fills the frame's shape and never shows past the image's edge.

use crate::shape::cover;

/// How much closer the camera is at the tight end of a push-in or pull-out.
pub const ZOOM: f64 = 1.15;
/// How much closer the camera is during a pan or tilt (room to move when the image is
/// already in the frame's shape).
pub const PAN_ZOOM: f64 = 1.1;
/// The longest pan or tilt, as a share of the view's own width or height.
pub const PAN_TRAVEL: f64 = 0.25;

/// One camera move over one still shot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Move {
    /// From the whole view to a closer one, centred.
    PushIn,
    /// From a closer view out to the whole one.
    PullOut,
    /// Left to right.
    PanRight,
    /// Right to left.
    PanLeft,
    /// Top to bottom.
    TiltDown,
    /// Bottom to top.
    TiltUp,
}

/// The part of an image the camera sees, in the image's pixels (`x`, `y` its top left).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct View {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

/// The move for the shot at `index` (from 0) of an image of `size`, in a frame of the
/// proportion `ratio`: push-in, then a pan (or a tilt, when the image has more room
/// up and down than across), then pull-out, then a pan (tilt) the other way, and so on.
pub fn move_for(index: usize, size: (u32, u32), ratio: (u32, u32)) -> Move {
    let (cw, ch) = cover(size, ratio);
    let across = f64::from(size.0) - cw >= f64::from(size.1) - ch;
    match (index % 4, across) {
        (0, _) => Move::PushIn,
        (1, true) => Move::PanRight,
        (1, false) => Move::TiltDown,
        (2, _) => Move::PullOut,
        (_, true) => Move::PanLeft,
        (_, false) => Move::TiltUp,
    }
}

/// Eased progress: slow at both ends (smoothstep), `t` clamped to 0–1.
pub fn ease(t: f64) -> f64 {
    let t = t.clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// What the camera sees at `t` (0 at the move's start, 1 at its end) of `mv` over an
/// image of `size`, in a frame of the proportion `ratio`.
pub fn view_at(mv: Move, t: f64, size: (u32, u32), ratio: (u32, u32)) -> View {
    let (iw, ih) = (f64::from(size.0.max(1)), f64::from(size.1.max(1)));
    let (cw, ch) = cover(size, ratio);
    let e = ease(t);
    let lerp = |a: f64, b: f64, e: f64| a + (b - a) * e;
    let centred = |w: f64, h: f64, dx: f64, dy: f64| View {
        x: (iw - w) / 2.0 + dx,
        y: (ih - h) / 2.0 + dy,
        w,
        h,
    };
    let view = match mv {
        Move::PushIn | Move::PullOut => {
            let k = if mv == Move::PushIn { e } else { 1.0 - e };
            let scale = lerp(1.0, 1.0 / ZOOM, k);
            centred(cw * scale, ch * scale, 0.0, 0.0)
        }
        Move::PanRight | Move::PanLeft | Move::TiltDown | Move::TiltUp => {
            let (w, h) = (cw / PAN_ZOOM, ch / PAN_ZOOM);
            let sideways = matches!(mv, Move::PanRight | Move::PanLeft);
            let room = if sideways { iw - w } else { ih - h };
            let travel = room.min(PAN_TRAVEL * if sideways { w } else { h });
            let forward = matches!(mv, Move::PanRight | Move::TiltDown);
            let d = travel * (if forward { e } else { 1.0 - e } - 0.5);
            if sideways {
                centred(w, h, d, 0.0)
            } else {
                centred(w, h, 0.0, d)
            }
        }
    };
    // Never past the edge, whatever the rounding.
    View {
        x: view.x.clamp(0.0, iw - view.w),
        y: view.y.clamp(0.0, ih - view.h),
        ..view
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MOVES: [Move; 6] = [
        Move::PushIn,
        Move::PullOut,
        Move::PanRight,
        Move::PanLeft,
        Move::TiltDown,
        Move::TiltUp,
    ];

    #[test]
    fn the_moves_go_round_with_the_room_the_image_has() {
        let wide = (1920, 1080);
        let moves: Vec<_> = (0..5).map(|i| move_for(i, wide, (9, 16))).collect();
        assert_eq!(
            moves,
            [
                Move::PushIn,
                Move::PanRight,
                Move::PullOut,
                Move::PanLeft,
                Move::PushIn
            ]
        );
        let tall = (1080, 1920);
        assert_eq!(move_for(1, tall, (16, 9)), Move::TiltDown);
        assert_eq!(move_for(3, tall, (16, 9)), Move::TiltUp);
    }

    #[test]
    fn a_push_in_starts_on_the_whole_view_and_ends_closer() {
        let start = view_at(Move::PushIn, 0.0, (1000, 1000), (1, 1));
        assert_eq!(
            start,
            View {
                x: 0.0,
                y: 0.0,
                w: 1000.0,
                h: 1000.0
            }
        );
        let end = view_at(Move::PushIn, 1.0, (1000, 1000), (1, 1));
        assert!((end.w - 1000.0 / ZOOM).abs() < 1e-9);
        assert!((end.x - (1000.0 - end.w) / 2.0).abs() < 1e-9);
        assert_eq!(view_at(Move::PullOut, 1.0, (1000, 1000), (1, 1)), start);
    }

    #[test]
    fn a_pan_travels_across_and_back() {
        let size = (1920, 1080);
        let a = view_at(Move::PanRight, 0.0, size, (1, 1));
        let b = view_at(Move::PanRight, 1.0, size, (1, 1));
        assert!(b.x > a.x && a.y == b.y && a.w == b.w);
        assert!((b.x - a.x - PAN_TRAVEL * a.w).abs() < 1e-9);
        assert_eq!(view_at(Move::PanLeft, 0.0, size, (1, 1)), b);
    }

    #[test]
    fn the_move_is_eased() {
        assert_eq!(ease(0.0), 0.0);
        assert_eq!(ease(1.0), 1.0);
        assert_eq!(ease(0.5), 0.5);
        // Slow at the ends: the first and last tenths move less than a tenth.
        assert!(ease(0.1) < 0.05 && ease(0.9) > 0.95);
        assert_eq!(ease(-1.0), 0.0);
        assert_eq!(ease(2.0), 1.0);
    }

    proptest! {
        #[test]
        fn the_camera_never_shows_past_the_edge_and_keeps_the_shape(
            w in 1u32..9000, h in 1u32..9000, pick in 0usize..6, t in -0.5f64..1.5,
            ratio in prop::sample::select(vec![(9u32, 16u32), (1, 1), (16, 9), (4, 3), (1000, 2501)]),
        ) {
            let v = view_at(MOVES[pick], t, (w, h), ratio);
            let eps = 1e-6;
            prop_assert!(v.x >= -eps && v.y >= -eps, "{v:?}");
            prop_assert!(v.x + v.w <= f64::from(w) + eps && v.y + v.h <= f64::from(h) + eps, "{v:?}");
            prop_assert!(v.w > 0.0 && v.h > 0.0);
            let want = f64::from(ratio.0) / f64::from(ratio.1);
            prop_assert!((v.w / v.h - want).abs() / want < 1e-9);
        }

        #[test]
        fn the_camera_moves_steadily(w in 300u32..4000, h in 300u32..4000, pick in 0usize..6) {
            // No jumps: between two frames a tenth of a second apart, the view moves
            // less than a twentieth of its size.
            for step in 0..30 {
                let a = view_at(MOVES[pick], f64::from(step) / 30.0, (w, h), (9, 16));
                let b = view_at(MOVES[pick], f64::from(step + 1) / 30.0, (w, h), (9, 16));
                prop_assert!((a.x - b.x).abs() < a.w / 20.0 && (a.w - b.w).abs() < a.w / 20.0);
            }
        }
    }
}
