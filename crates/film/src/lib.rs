//! **Download video** for Multi-Shot Studio: the Sequence made into one video file in
//! the visitor's own browser, with WebCodecs, at no cost and with nothing uploaded.
//!
//! - [`shape`]: the film's **Shape** (Original, 9:16, 1:1, 16:9) and its frame size;
//! - [`camera`]: the camera move over each still shot, never past the image's edge;
//! - [`timeline`]: which shot each frame shows, with cross-fades between stills;
//! - [`encoding`]: the codecs tried, the container each goes in, the bit rate;
//! - [`mp4`]: the MP4 file (H.264, index first), written around the encoder's samples;
//! - [`webm`]: the WebM file (VP9) where the browser offers no H.264 encoder;
//! - [`request`]: how the page asks for a film (the protocol's names).
//!
//! Built with the `module` feature it is a module of its own, which the page loads on
//! the first press of **Download video** (Trunk builds it beside the page, index.html).
//! The page's first load carries only [`request`] and [`shape`]'s names.

#![warn(missing_docs)]

pub mod camera;
pub mod encoding;
pub mod mp4;
pub mod request;
pub mod shape;
pub mod timeline;
pub mod webm;

#[cfg(feature = "module")]
mod module;
