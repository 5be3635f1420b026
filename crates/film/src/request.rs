//! How the page asks for a film, and the names the page and the module share. The page
//! and the module talk through one slot element (as the page and Make it fit do), so the
//! page carries none of the module's code:
//! - the page sets the slot's [`REQUEST`] property to a [`Request`] as text
//!   ([`Request::to_text`]) and dispatches [`EVENT`] on the slot; its own script
//!   (index.html, embed.js) loads the module at the first such event, and the module,
//!   once started, also answers a request made before it was there;
//! - the module draws its progress, **Cancel**, the saved film and **Share video** into
//!   the slot, as plain text and buttons;
//! - a request that asks for the film back ([`Request::back`]: the batch's **Download all
//!   results**, which puts each photo's film in its zip) is not saved: the module sets the
//!   slot's [`FILE`] to the film's `File` and dispatches [`MADE_EVENT`] on the slot, or
//!   sets [`WHY`] to the reason and dispatches [`FAILED_EVENT`].

use crate::shape::Shape;

/// The loader Trunk writes for the module (index.html, `data-loader-shim`).
pub const LOADER: &str = "multishot-film_loader.js";
/// The slot's class.
pub const SLOT: &str = "ms-film-slot";
/// The event the page dispatches on the slot for a film.
pub const EVENT: &str = "multishot-film";
/// The slot's property that holds the request, as text.
pub const REQUEST: &str = "msFilm";
/// The event the module dispatches on the slot with a film asked for back.
pub const MADE_EVENT: &str = "multishot-film-made";
/// The slot's property that holds the film asked for back (a `File`).
pub const FILE: &str = "msFilmFile";
/// The event the module dispatches on the slot when a film asked for back was not made.
pub const FAILED_EVENT: &str = "multishot-film-failed";
/// The slot's property that says why (text).
pub const WHY: &str = "msFilmWhy";
/// What [`WHY`] says of a film cancelled by its **Cancel** (the asker stops asking).
pub const CANCELLED: &str = "Cancelled: no file was made.";
/// The longest mark drawn on a film, in characters.
pub const MARK_CHARS: usize = 60;

/// One shot of the film.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShotRef {
    /// Its number in the task's outputs (from 1), for messages. (Whether it is a still
    /// image or a clip the module reads from its bytes.)
    pub number: usize,
    /// Where the page shows it from (a checked web address, or a `blob:` one).
    pub src: String,
    /// Where the site owner's proxy passes it on from, when the shot's own server allows
    /// no read.
    pub relay: Option<String>,
}

/// A film the page asks for.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Request {
    /// The shots, in the Sequence's order.
    pub shots: Vec<ShotRef>,
    /// The chosen shape.
    pub shape: Shape,
    /// The site owner's mark, drawn small in a corner of every frame.
    pub mark: Option<String>,
    /// Hand the film back to the asker ([`MADE_EVENT`]) instead of saving it.
    pub back: bool,
}

/// Why one read of a shot gave no bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Miss {
    /// The request failed as a whole: for the shot's own server, it allows this page no
    /// read (no CORS) or cannot be reached; for the proxy, it cannot be reached.
    Refused,
    /// The server answered with this status.
    Status(u16),
    /// Nothing came for a minute.
    Slow,
    /// The body stopped short.
    Cut,
}

/// Why a shot could not be read, from its own server (`direct`) and through the site
/// owner's proxy (`relay`, when there is one): the middle of "Shot N could not be read
/// here: …".
pub fn unread(direct: Miss, relay: Option<Miss>) -> String {
    let first = match direct {
        Miss::Refused => "its server does not let this page read it (no CORS)".to_owned(),
        Miss::Status(status) => format!("its server answered {status}"),
        Miss::Slow => "it took too long to arrive".to_owned(),
        Miss::Cut => "it stopped arriving".to_owned(),
    };
    let then = match relay {
        None => "no proxy passes it on".to_owned(),
        Some(Miss::Refused) => "the site's proxy could not be reached".to_owned(),
        Some(Miss::Status(status)) => {
            format!("the site's proxy could not pass it on (it answered {status})")
        }
        Some(Miss::Slow) => "the site's proxy took too long".to_owned(),
        Some(Miss::Cut) => "the site's proxy stopped short".to_owned(),
    };
    format!("{first}, and {then}")
}

/// Whether a shot whose bytes start with `head` is a still image (JPEG, PNG, WebP or
/// GIF, by their signatures) rather than a clip: the module reads it from the shot
/// itself, whatever its address says.
pub fn is_still(head: &[u8]) -> bool {
    head.starts_with(&[0xFF, 0xD8, 0xFF])
        || head.starts_with(b"\x89PNG")
        || head.starts_with(b"GIF8")
        || (head.starts_with(b"RIFF") && head.get(8..12) == Some(b"WEBP"))
}

/// The mark as it is drawn: one line of at most [`MARK_CHARS`] characters, no control
/// characters, trimmed; `None` when nothing is left.
pub fn clean_mark(mark: &str) -> Option<String> {
    let line: String = mark
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let line: String = line.chars().take(MARK_CHARS).collect();
    (!line.is_empty()).then_some(line)
}

/// A field as written: no tabs or line ends inside it.
fn field(text: &str) -> String {
    text.replace(['\t', '\n', '\r'], " ")
}

impl Request {
    /// The request as one text: `shape` and `mark` lines, then a line per shot —
    /// number, address and relay (or `-`) separated by tabs.
    pub fn to_text(&self) -> String {
        // Pushed piece by piece (no formatting machinery): the page carries this.
        let mut out = String::from("shape\t");
        out.push_str(self.shape.name());
        out.push('\n');
        if let Some(mark) = &self.mark {
            // Cleaned by the module, which reads it back with `parse`.
            out.push_str("mark\t");
            out.push_str(&field(mark));
            out.push('\n');
        }
        if self.back {
            out.push_str("back\n");
        }
        for shot in &self.shots {
            out.push_str(&shot.number.to_string());
            out.push('\t');
            out.push_str(&field(&shot.src));
            out.push('\t');
            out.push_str(shot.relay.as_deref().map_or("-".into(), field).as_str());
            out.push('\n');
        }
        out
    }

    /// Reads [`Request::to_text`]'s text back; `None` if it is not one (or has no shot).
    pub fn parse(text: &str) -> Option<Request> {
        let mut request = Request::default();
        for line in text.lines().filter(|l| !l.is_empty()) {
            let parts: Vec<&str> = line.split('\t').collect();
            match parts.as_slice() {
                ["shape", name] => request.shape = Shape::from_name(name)?,
                ["mark", mark] => request.mark = clean_mark(mark),
                ["back"] => request.back = true,
                [number, src, relay] => request.shots.push(ShotRef {
                    number: number.parse().ok()?,
                    src: (*src).to_owned(),
                    relay: (*relay != "-").then(|| (*relay).to_owned()),
                }),
                _ => return None,
            }
        }
        (!request.shots.is_empty()).then_some(request)
    }

    /// The film's file name: `multi-shot-sequence` with the shape (`-9x16`) and the
    /// container's extension.
    pub fn file_name(&self, extension: &str) -> String {
        format!("multi-shot-sequence{}.{extension}", self.shape.file_tag())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Request {
        Request {
            shots: vec![
                ShotRef {
                    number: 1,
                    src: "https://cdn.example/a.jpg".into(),
                    relay: Some("https://proxy.example/outputs/t/1".into()),
                },
                ShotRef {
                    number: 3,
                    src: "blob:https://app.example/5d1c".into(),
                    relay: None,
                },
            ],
            shape: Shape::Portrait,
            mark: Some("Shop\tof the\nweek".into()),
            back: false,
        }
    }

    #[test]
    fn a_request_reads_back() {
        let text = sample().to_text();
        let back = Request::parse(&text).unwrap();
        assert_eq!(back.shots, sample().shots);
        assert_eq!(back.shape, Shape::Portrait);
        assert_eq!(back.mark.as_deref(), Some("Shop of the week"));
        assert_eq!(back.file_name("mp4"), "multi-shot-sequence-9x16.mp4");
        assert!(!back.back);
        let asked_back = Request {
            back: true,
            ..sample()
        };
        let again = Request::parse(&asked_back.to_text()).unwrap();
        assert!(again.back, "a film asked for back reads back as one");
        assert_ne!(
            asked_back.to_text(),
            sample().to_text(),
            "and is not the same film as one saved"
        );
    }

    #[test]
    fn what_is_not_a_request_is_refused() {
        assert_eq!(Request::parse(""), None);
        assert_eq!(Request::parse("shape\t4:3\n1\thttps://a/b\t-\n"), None);
        assert_eq!(Request::parse("one\thttps://a/b\t-\n"), None);
        assert_eq!(Request::parse("1\timage\thttps://a/b\t-\n"), None);
        assert_eq!(Request::parse("shape\t1:1\n"), None);
    }

    #[test]
    fn an_unread_shot_says_what_each_way_answered() {
        assert_eq!(
            unread(Miss::Refused, None),
            "its server does not let this page read it (no CORS), and no proxy passes it on"
        );
        assert_eq!(
            unread(Miss::Refused, Some(Miss::Status(404))),
            "its server does not let this page read it (no CORS), and the site's proxy could \
             not pass it on (it answered 404)"
        );
        assert_eq!(
            unread(Miss::Status(410), Some(Miss::Refused)),
            "its server answered 410, and the site's proxy could not be reached"
        );
        assert_eq!(
            unread(Miss::Slow, Some(Miss::Cut)),
            "it took too long to arrive, and the site's proxy stopped short"
        );
    }

    #[test]
    fn a_still_is_told_from_a_clip_by_its_bytes() {
        assert!(is_still(&[0xFF, 0xD8, 0xFF, 0xE0]));
        assert!(is_still(b"\x89PNG\r\n\x1a\n"));
        assert!(is_still(b"RIFF\0\0\0\0WEBPVP8 "));
        assert!(is_still(b"GIF89a"));
        assert!(!is_still(b"\0\0\0\x20ftypisom"));
        assert!(!is_still(&[0x1A, 0x45, 0xDF, 0xA3]));
        assert!(!is_still(b"RIFF\0\0\0\0AVI "));
        assert!(!is_still(b""));
    }

    #[test]
    fn a_mark_is_one_short_line() {
        assert_eq!(clean_mark("  \u{7}\n "), None);
        assert_eq!(
            clean_mark(" shop.example \r\n"),
            Some("shop.example".into())
        );
        assert_eq!(clean_mark(&"x".repeat(100)).unwrap().len(), MARK_CHARS);
    }

    proptest! {
        #[test]
        fn any_mark_and_address_survive_the_text(mark in ".*", src in "[^\t\n\r]{1,40}") {
            let mut request = sample();
            request.mark = Some(mark.clone());
            request.shots[0].src = src.clone();
            let back = Request::parse(&request.to_text()).unwrap();
            prop_assert_eq!(back.mark, clean_mark(&mark));
            prop_assert_eq!(&back.shots[0].src, &src);
        }
    }
}
