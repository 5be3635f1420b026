//! What the film is encoded as: the codecs tried in order, the container each goes in,
//! the bit rate and the key frames.

use crate::timeline::FPS;

/// The container a film is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Container {
    /// MP4 with H.264: plays everywhere, social platforms take it.
    Mp4,
    /// WebM with VP9: where the browser offers no H.264 encoder.
    WebM,
}

impl Container {
    /// The file name's extension.
    pub fn extension(self) -> &'static str {
        match self {
            Container::Mp4 => "mp4",
            Container::WebM => "webm",
        }
    }

    /// The file's media type.
    pub fn mime(self) -> &'static str {
        match self {
            Container::Mp4 => "video/mp4",
            Container::WebM => "video/webm",
        }
    }

    /// The name of the button that makes it: **Download video**, with the format when
    /// it is not MP4.
    pub fn button(self) -> &'static str {
        match self {
            Container::Mp4 => "Download video",
            Container::WebM => "Download video (WebM)",
        }
    }
}

/// **Download video**'s name where it cannot be pressed: the browser has no WebCodecs.
pub const NO_WEBCODECS: &str = "Download video: not in this browser (no WebCodecs)";

/// The codecs tried, best first, as WebCodecs names them: H.264 High, Main and
/// Constrained Baseline at level 4.0 (1080p; [`crate::shape::MAX_AREA`] is its largest
/// frame), then VP9 profile 0 at level 4.0.
pub const CODECS: [(&str, Container); 4] = [
    ("avc1.640028", Container::Mp4),
    ("avc1.4d0028", Container::Mp4),
    ("avc1.42e028", Container::Mp4),
    ("vp09.00.40.08", Container::WebM),
];

/// A key frame every this many frames (two seconds): a player seeks to the nearest.
pub const KEY_EVERY: u32 = 2 * FPS;

/// The bit rate asked of the encoder for frames of `width` × `height`: 0.12 bits per
/// pixel per frame (about 7.5 Mbit/s at 1080p30: a film a platform does not have to
/// soften further), at least 1 Mbit/s.
pub fn bitrate(width: u32, height: u32) -> u32 {
    let bits = u128::from(width) * u128::from(height) * u128::from(FPS) * 12 / 100;
    bits.clamp(1_000_000, 20_000_000) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h264_first_then_vp9() {
        assert!(CODECS[..3]
            .iter()
            .all(|(c, k)| c.starts_with("avc1.") && *k == Container::Mp4));
        assert_eq!(CODECS[3].1, Container::WebM);
        assert_eq!(Container::WebM.button(), "Download video (WebM)");
        assert_eq!(Container::Mp4.button(), "Download video");
    }

    #[test]
    fn the_bit_rate_follows_the_frame() {
        assert_eq!(bitrate(1920, 1080), 7_464_960);
        assert_eq!(bitrate(320, 180), 1_000_000);
        assert_eq!(bitrate(u32::MAX, u32::MAX), 20_000_000);
    }
}
