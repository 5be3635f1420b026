//! The film's timeline: which shot (or two, in a cross-fade) each frame shows, and where
//! in its move or clip. Still shots last [`STILL_FRAMES`] each and are joined by
//! cross-fades of [`FADE_FRAMES`] centred on their cut, so a film of still shots lasts
//! exactly shots × [`STILL_SECONDS`]; clips play whole, in order, cut to the next.

/// Frames per second.
pub const FPS: u32 = 30;
/// How long a still shot is on screen, in seconds.
pub const STILL_SECONDS: u32 = 4;
/// How long a still shot is on screen, in frames.
pub const STILL_FRAMES: u32 = STILL_SECONDS * FPS;
/// The longest a clip is taken for, in seconds (the model's clips are a few seconds).
pub const MAX_CLIP_SECONDS: u32 = 60;
/// How long a cross-fade between two still shots lasts, in frames (half a second).
pub const FADE_FRAMES: u32 = FPS / 2;

/// One shot of the film, as the timeline needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece {
    /// A still image, with a camera move.
    Still,
    /// A video clip of this many frames at [`FPS`] (its length, rounded to a frame).
    Clip {
        /// Frames at [`FPS`].
        frames: u32,
    },
}

impl Piece {
    /// A clip lasting `seconds`, in frames at [`FPS`]: at least one, and at most
    /// [`MAX_CLIP_SECONDS`] (a clip whose length the browser does not know, `NaN` or
    /// infinite, is taken at that most).
    pub fn clip(seconds: f64) -> Piece {
        let seconds = if seconds.is_finite() {
            seconds.clamp(0.0, f64::from(MAX_CLIP_SECONDS))
        } else {
            f64::from(MAX_CLIP_SECONDS)
        };
        let frames = (seconds * f64::from(FPS)).round();
        Piece::Clip {
            frames: (frames as u32).max(1),
        }
    }

    fn frames(self) -> u32 {
        match self {
            Piece::Still => STILL_FRAMES,
            Piece::Clip { frames } => frames,
        }
    }
}

/// One shot as a frame shows it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Layer {
    /// The shot's place in the film (from 0).
    pub shot: usize,
    /// Where its camera move is: 0 at the first frame it shows, 1 at the last (stills).
    pub progress: f64,
    /// The time in the clip this frame shows, in seconds (clips; 0 for stills).
    pub seconds: f64,
    /// How opaque it is drawn over what is under it (1 unless in a cross-fade).
    pub alpha: f64,
}

/// Where each shot starts and how the frames fall.
#[derive(Clone, Debug, PartialEq)]
pub struct Timeline {
    pieces: Vec<Piece>,
    starts: Vec<u32>,
    total: u32,
}

impl Timeline {
    /// The timeline of these shots, in order.
    pub fn new(pieces: &[Piece]) -> Timeline {
        let mut starts = Vec::with_capacity(pieces.len());
        let mut total = 0u32;
        for piece in pieces {
            starts.push(total);
            total = total.saturating_add(piece.frames());
        }
        Timeline {
            pieces: pieces.to_vec(),
            starts,
            total,
        }
    }

    /// How many frames the film has.
    pub fn frames(&self) -> u32 {
        self.total
    }

    /// How long the film lasts, in microseconds.
    pub fn micros(&self) -> u64 {
        frame_micros(self.total)
    }

    /// Whether shots `i` and `i + 1` cross-fade (both stills).
    fn fades(&self, i: usize) -> bool {
        matches!(
            (self.pieces.get(i), self.pieces.get(i + 1)),
            (Some(Piece::Still), Some(Piece::Still))
        )
    }

    /// The frames shot `i` is seen in (its own, and half of each cross-fade it is in).
    fn seen(&self, i: usize) -> (u32, u32) {
        let half = FADE_FRAMES / 2;
        let start = self.starts[i];
        let end = start + self.pieces[i].frames();
        let from = if i > 0 && self.fades(i - 1) {
            start - half
        } else {
            start
        };
        let to = if self.fades(i) {
            end + (FADE_FRAMES - half)
        } else {
            end
        };
        (from, to)
    }

    fn layer(&self, i: usize, frame: u32, alpha: f64) -> Layer {
        let (from, to) = self.seen(i);
        let span = (to - from).saturating_sub(1).max(1);
        let seconds = match self.pieces[i] {
            Piece::Still => 0.0,
            Piece::Clip { .. } => f64::from(frame - self.starts[i]) / f64::from(FPS),
        };
        Layer {
            shot: i,
            progress: f64::from(frame.saturating_sub(from)) / f64::from(span),
            seconds,
            alpha,
        }
    }

    /// What frame `frame` shows: the shot under, and the one drawn over it in a
    /// cross-fade. `None` past the end.
    pub fn at(&self, frame: u32) -> Option<(Layer, Option<Layer>)> {
        if frame >= self.total {
            return None;
        }
        // The shot whose own frames hold `frame`.
        let i = self.starts.partition_point(|&s| s <= frame) - 1;
        let half = FADE_FRAMES / 2;
        let into = frame - self.starts[i];
        let left = self.pieces[i].frames() - into;
        // In the fade from shot i - 1 (its second half) or into shot i + 1 (its first).
        let (under, over) = if i > 0 && self.fades(i - 1) && into < FADE_FRAMES - half {
            (i - 1, i)
        } else if self.fades(i) && left <= half {
            (i, i + 1)
        } else {
            return Some((self.layer(i, frame, 1.0), None));
        };
        let (fade_from, _) = self.seen(over);
        let alpha = f64::from(frame - fade_from + 1) / f64::from(FADE_FRAMES + 1);
        Some((
            self.layer(under, frame, 1.0),
            Some(self.layer(over, frame, alpha)),
        ))
    }
}

/// When frame `frame` starts, in microseconds (as WebCodecs counts time).
pub fn frame_micros(frame: u32) -> u64 {
    u64::from(frame) * 1_000_000 / u64::from(FPS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn still_shots_last_their_seconds_each() {
        let film = Timeline::new(&[Piece::Still; 3]);
        assert_eq!(film.frames(), 3 * STILL_SECONDS * FPS);
        assert_eq!(film.micros(), 12_000_000);
        assert_eq!(film.at(360), None);
    }

    #[test]
    fn a_cross_fade_is_centred_on_the_cut() {
        let film = Timeline::new(&[Piece::Still; 2]);
        // Alone until the fade, which starts half a fade before the cut.
        let (a, over) = film.at(0).unwrap();
        assert_eq!((a.shot, a.progress, over), (0, 0.0, None));
        let before = STILL_FRAMES - FADE_FRAMES / 2 - 1;
        assert_eq!(film.at(before).unwrap().1, None);
        let (under, over) = film.at(before + 1).unwrap();
        let over = over.unwrap();
        assert_eq!((under.shot, over.shot), (0, 1));
        assert_eq!(over.progress, 0.0);
        assert!(over.alpha > 0.0 && over.alpha < 0.1);
        // The last frame of the fade: shot 1 nearly opaque; shot 0 at its move's end.
        let last = STILL_FRAMES + (FADE_FRAMES - FADE_FRAMES / 2) - 1;
        let (under, over) = film.at(last).unwrap();
        assert_eq!(under.progress, 1.0);
        assert!(over.unwrap().alpha > 0.9);
        assert_eq!(film.at(last + 1).unwrap().1, None);
        // The last frame of the film ends shot 1's move.
        let (end, _) = film.at(film.frames() - 1).unwrap();
        assert_eq!((end.shot, end.progress), (1, 1.0));
    }

    #[test]
    fn clips_play_whole_and_cut() {
        let film = Timeline::new(&[Piece::clip(2.0), Piece::clip(1.5)]);
        assert_eq!(film.frames(), 60 + 45);
        let (a, over) = film.at(59).unwrap();
        assert_eq!((a.shot, over), (0, None));
        assert!((a.seconds - 59.0 / 30.0).abs() < 1e-9);
        let (b, _) = film.at(60).unwrap();
        assert_eq!((b.shot, b.seconds), (1, 0.0));
        assert_eq!(Piece::clip(0.0), Piece::Clip { frames: 1 });
        assert_eq!(Piece::clip(-3.0), Piece::Clip { frames: 1 });
        // A length the browser does not know is bounded, never a film without end.
        let most = Piece::Clip {
            frames: MAX_CLIP_SECONDS * FPS,
        };
        assert_eq!(Piece::clip(f64::INFINITY), most);
        assert_eq!(Piece::clip(f64::NAN), most);
        assert_eq!(Piece::clip(1e12), most);
    }

    #[test]
    fn a_still_beside_a_clip_does_not_fade() {
        let film = Timeline::new(&[Piece::Still, Piece::clip(1.0), Piece::Still]);
        for frame in 0..film.frames() {
            assert_eq!(film.at(frame).unwrap().1, None, "frame {frame}");
        }
    }

    proptest! {
        #[test]
        fn every_frame_shows_its_shots_in_order(
            pieces in prop::collection::vec(
                prop_oneof![Just(Piece::Still), (1u32..200).prop_map(|frames| Piece::Clip { frames })],
                1..6,
            ),
        ) {
            let film = Timeline::new(&pieces);
            prop_assert_eq!(film.frames(), pieces.iter().map(|p| p.frames()).sum::<u32>());
            let mut last = (0usize, -1.0f64);
            for frame in 0..film.frames() {
                let (under, over) = film.at(frame).unwrap();
                prop_assert!((0.0..=1.0).contains(&under.progress));
                prop_assert_eq!(under.alpha, 1.0);
                if let Some(over) = over {
                    prop_assert_eq!(over.shot, under.shot + 1);
                    prop_assert!(over.alpha > 0.0 && over.alpha < 1.0);
                }
                // The shot under never goes back; within a shot, its move only advances.
                prop_assert!(under.shot >= last.0);
                if under.shot == last.0 {
                    prop_assert!(under.progress > last.1);
                }
                last = (under.shot, under.progress);
            }
            prop_assert_eq!(film.at(film.frames()), None);
        }
    }
}
