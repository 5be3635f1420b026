//! The life of one chosen image, from "just picked" to a verdict: what is known at each
//! step, which step comes next, and whether the image may be sent.
//!
//! A local file is judged in two steps: its leading bytes (type, byte size, header
//! dimensions — a cheap early answer) and then the browser's decode (the verdict on
//! dimensions). An image URL is judged by loading it as an image and, where the server
//! allows the browser to read it (CORS), by its bytes.

use super::rules::{check, may_decode, Facts, Report, Rule};
use super::sniff::{Dimensions, Format, Sniffed};

pub use super::rules::DECODE_BYTE_CAP;

/// Where the image came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A local file (picked, dropped or pasted).
    File {
        /// The file's name as the browser gives it (display only; never trusted).
        name: String,
        /// The MIME type the browser declares (display only; never trusted).
        declared_type: String,
    },
    /// A web address WaveSpeed will fetch itself.
    Url(String),
}

/// How far the assessment has got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Reading the file's leading bytes / fetching the URL.
    Reading,
    /// The browser is decoding the image to measure it.
    Decoding,
    /// All that can be known is known.
    Done,
}

/// What became of the attempt to read an image URL's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemoteBytes {
    /// The bytes could be read: their format and total size.
    Read {
        /// The format by content.
        format: Format,
        /// The total size in bytes (from `Content-Length` or by counting).
        byte_size: u64,
    },
    /// The server does not let a page read the file (no CORS), or the request failed;
    /// type and size cannot be checked here.
    Unreadable,
    /// The server let the page read its reply, and the reply is an HTTP error (404…).
    Status(u16),
}

/// The status line under a verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusLine {
    /// Every rule (that could be checked) is met; else the check is under way.
    pub ok: bool,
    /// What it says.
    pub text: String,
}

/// What the preview of the chosen image says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreviewFacts {
    /// The file's name ("Pasted image" without one), or the address.
    pub name: String,
    /// The displayed size, as far as known.
    pub pixels: String,
    /// The size in bytes, as far as known.
    pub bytes: String,
    /// The type by content, as far as known.
    pub kind: String,
    /// The picture can be shown (the browser decoded it).
    pub showable: bool,
}

/// Everything known about the chosen image, and the step under way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assessment {
    /// Where it came from.
    pub source: Source,
    /// The step under way.
    pub step: Step,
    /// What is known so far.
    pub facts: Facts,
    /// The dimensions the header gave, kept to tell a lying header apart.
    pub header_dimensions: Option<Dimensions>,
    /// The HTTP error an image URL's server answered with, when the page could read it.
    pub url_status: Option<u16>,
}

impl Assessment {
    /// A file was chosen: its byte size is known at once.
    pub fn for_file(name: String, declared_type: String, byte_size: u64) -> Self {
        Self {
            source: Source::File {
                name,
                declared_type,
            },
            step: Step::Reading,
            facts: Facts {
                byte_size: Some(byte_size),
                ..Facts::default()
            },
            header_dimensions: None,
            url_status: None,
        }
    }

    /// An image URL was entered; the URL has already passed
    /// [`crate::core::image_url::parse_image_url`].
    pub fn for_url(url: String) -> Self {
        Self {
            source: Source::Url(url),
            step: Step::Reading,
            facts: Facts::default(),
            header_dimensions: None,
            url_status: None,
        }
    }

    /// The file's leading bytes were read and sniffed. Moves on to decoding when the
    /// browser can decode this kind of file and it is not over [`DECODE_BYTE_CAP`];
    /// otherwise the verdict is in.
    pub fn with_head(mut self, sniffed: &Sniffed) -> Self {
        // A decompression bomb is refused here, before the browser is asked to decode.
        self.facts = Facts::from_head(sniffed, self.facts.byte_size);
        self.header_dimensions = self.facts.dimensions;
        self.step = if may_decode(sniffed.format, &self.facts) {
            Step::Decoding
        } else {
            Step::Done
        };
        self
    }

    /// The browser decoded the image (or failed to): the verdict on dimensions.
    pub fn with_decoded(mut self, decoded: Option<Dimensions>) -> Self {
        self.facts.dimensions = decoded;
        self.facts.undecodable = decoded.is_none();
        self.step = Step::Done;
        self
    }

    /// A URL's bytes were read (or could not be).
    pub fn with_remote_bytes(mut self, remote: RemoteBytes) -> Self {
        match remote {
            RemoteBytes::Read { format, byte_size } => {
                self.facts.format = Some(format);
                self.facts.byte_size = Some(byte_size);
            }
            RemoteBytes::Status(status) => self.url_status = Some(status),
            RemoteBytes::Unreadable => {}
        }
        self
    }

    /// An image URL that gave no image, said as what it is — a missing or private
    /// address, or the server's HTTP error — rather than blamed on the server's sharing
    /// rules (CORS), which matter only for an image that is there.
    pub fn url_problem(&self) -> Option<String> {
        if !matches!(self.source, Source::Url(_))
            || self.step != Step::Done
            || !self.facts.undecodable
        {
            return None;
        }
        Some(match self.url_status {
            Some(status) => format!(
                "The image’s server answered HTTP {status}: there is no image to use at this address."
            ),
            None => "Nothing at this address opens as an image: check that it is right and public (it may not exist, or may need a login).".into(),
        })
    }

    /// The rules checked against what is known now.
    pub fn report(&self) -> Report {
        check(&self.facts)
    }

    /// Rules that could not be checked, once all that can be known is known.
    pub fn unchecked(&self) -> Vec<Rule> {
        // An address that gave no image: its type and size are not worth a word.
        if self.url_problem().is_some() {
            return Vec::new();
        }
        if self.step == Step::Done {
            self.report().unchecked
        } else {
            Vec::new()
        }
    }

    /// Why the [`Assessment::unchecked`] rules could not be checked, for the page.
    pub fn unchecked_reason(&self) -> &'static str {
        match self.source {
            Source::Url(_) => "the image’s server does not let the browser read the file",
            Source::File { .. } if self.facts.byte_size.is_some_and(|b| b > DECODE_BYTE_CAP) => {
                "the file is too large to open here"
            }
            Source::File { .. } => "the browser could not read the file",
        }
    }

    /// The image may be sent: the verdict is in and no rule is broken. (Rules that could
    /// not be checked do not block: the user is told and may go on.)
    pub fn is_ready(&self) -> bool {
        self.step == Step::Done && self.report().passes()
    }

    /// The verdict is in and a rule is broken (the repairs are offered).
    pub fn is_refused(&self) -> bool {
        self.step == Step::Done && !self.report().passes()
    }

    /// The note on rules that could not be checked here, once the verdict is in.
    pub fn unchecked_note(&self) -> Option<String> {
        let unchecked = self.unchecked();
        (!unchecked.is_empty()).then(|| {
            let names: Vec<_> = unchecked.iter().map(|r| r.name().to_lowercase()).collect();
            format!(
                "Not checked here: {} — {}. WaveSpeed checks it when you generate.",
                names.join(" and "),
                self.unchecked_reason()
            )
        })
    }

    /// The note on a file whose header lies about its size (see
    /// [`Assessment::header_disagrees`]).
    pub fn disagreement_note(&self) -> Option<String> {
        let (header, decoded) = (self.header_dimensions?, self.facts.dimensions?);
        self.header_disagrees().then(|| {
            format!(
                "The file’s header says {header}, but it decodes as {decoded}; the decoded size is what counts."
            )
        })
    }

    /// The status line under the alerts: checking, or that every rule (that could be
    /// checked) is met; `None` for a refused image (its alerts say it).
    pub fn status_line(&self) -> Option<StatusLine> {
        match self.step {
            Step::Reading | Step::Decoding => Some(StatusLine {
                ok: false,
                text: "Checking the image…".into(),
            }),
            Step::Done if self.report().passes() => Some(StatusLine {
                ok: true,
                text: format!(
                    "✓ This image meets every requirement{}.",
                    if self.unchecked().is_empty() {
                        ""
                    } else {
                        " that could be checked"
                    }
                ),
            }),
            Step::Done => None,
        }
    }

    /// What the preview says of the image, each as far as known.
    pub fn preview(&self) -> PreviewFacts {
        let name = match &self.source {
            Source::File { name, .. } if !name.is_empty() => name.clone(),
            Source::File { .. } => "Pasted image".to_owned(),
            Source::Url(url) => url.clone(),
        };
        let done = self.step == Step::Done;
        let pixels = match (self.facts.dimensions, done) {
            (Some(size), true) => size.to_string(),
            (Some(size), false) => format!("{size} (checking…)"),
            (None, true) => "size unknown".to_owned(),
            (None, false) => "measuring…".to_owned(),
        };
        let bytes = self
            .facts
            .byte_size
            .map(crate::core::units::format_bytes)
            .unwrap_or_else(|| "file size unknown".into());
        let kind = match (self.facts.format, &self.source) {
            (Some(format), _) => format.mime().unwrap_or("unknown type").to_owned(),
            (None, Source::Url(_)) if done => "type unknown".to_owned(),
            (None, _) => "…".to_owned(),
        };
        PreviewFacts {
            name,
            pixels,
            bytes,
            kind,
            // Only a picture the browser could decode; a broken image icon says nothing.
            showable: done && self.facts.dimensions.is_some() && !self.facts.undecodable,
        }
    }

    /// The header gave one size and the decode another (beyond an EXIF turn): the file
    /// lies about itself. The decoded size is the one that counts.
    pub fn header_disagrees(&self) -> bool {
        match (self.step, self.header_dimensions, self.facts.dimensions) {
            (Step::Done, Some(header), Some(decoded)) => {
                header != decoded && header.transposed() != decoded
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::sniff::sniff;
    use crate::core::sniff::test_headers::png_head as png;

    fn file(bytes: u64) -> Assessment {
        Assessment::for_file("photo.png".into(), "image/png".into(), bytes)
    }

    #[test]
    fn a_file_goes_head_then_decode_then_verdict() {
        let a = file(5000).with_head(&sniff(&png(800, 600)));
        assert_eq!(a.step, Step::Decoding);
        assert_eq!(a.facts.dimensions, Some(Dimensions::new(800, 600)));
        assert!(!a.is_ready(), "not ready before the decode");
        let a = a.with_decoded(Some(Dimensions::new(800, 600)));
        assert!(a.is_ready());
        assert!(!a.header_disagrees());
    }

    #[test]
    fn the_decoded_size_is_the_verdict() {
        let a = file(5000)
            .with_head(&sniff(&png(800, 600)))
            .with_decoded(Some(Dimensions::new(200, 150)));
        assert!(!a.is_ready());
        assert!(a.header_disagrees());
        assert_eq!(a.report().violations.len(), 1);
    }

    #[test]
    fn a_file_that_does_not_decode_is_refused() {
        let a = file(5000)
            .with_head(&sniff(&png(800, 600)))
            .with_decoded(None);
        assert!(!a.is_ready());
        assert_eq!(a.report().violations[0].rule(), Rule::Readable);
    }

    #[test]
    fn text_is_never_decoded_and_refused_at_once() {
        let a = file(20).with_head(&sniff(b"hello, I am a text file"));
        assert_eq!(a.step, Step::Done);
        assert!(!a.is_ready());
        assert_eq!(a.report().violations[0].rule(), Rule::FileType);
        assert!(a.unchecked().is_empty());
    }

    #[test]
    fn a_gif_is_decoded_so_its_size_is_reported_too() {
        let a = file(20).with_head(&sniff(b"GIF89a\x10\0\x10\0"));
        assert_eq!(a.step, Step::Decoding);
        let a = a.with_decoded(Some(Dimensions::new(16, 16)));
        let rules: Vec<_> = a.report().violations.iter().map(|v| v.rule()).collect();
        assert_eq!(rules, [Rule::FileType, Rule::Dimensions]);
    }

    #[test]
    fn a_huge_file_is_not_decoded_and_keeps_its_header_size() {
        // A PNG header declaring 100,000 × 100,000 px is refused without a decode.
        let bomb = file(2_000).with_head(&sniff(&png(100_000, 100_000)));
        assert_eq!(bomb.step, Step::Done);
        assert!(bomb.facts.too_many_pixels);
        assert_eq!(bomb.report().violations[0].rule(), Rule::Readable);
        let fine = file(2_000).with_head(&sniff(&png(10_000, 10_000)));
        assert_eq!(
            fine.step,
            Step::Decoding,
            "exactly 100 megapixels is decoded"
        );
        let a = file(DECODE_BYTE_CAP + 1).with_head(&sniff(&png(800, 600)));
        assert_eq!(a.step, Step::Done);
        assert_eq!(a.facts.dimensions, Some(Dimensions::new(800, 600)));
        let rules: Vec<_> = a.report().violations.iter().map(|v| v.rule()).collect();
        assert_eq!(rules, [Rule::FileSize]);
        // Without a size in the header, the size rules are said to be unchecked, and why.
        let a = file(DECODE_BYTE_CAP + 1).with_head(&sniff(b"\x89PNG\r\n\x1a\n"));
        assert_eq!(a.unchecked(), [Rule::Dimensions, Rule::AspectRatio]);
        assert_eq!(a.unchecked_reason(), "the file is too large to open here");
        // At the cap it is still decoded.
        assert_eq!(
            file(DECODE_BYTE_CAP).with_head(&sniff(&png(800, 600))).step,
            Step::Decoding
        );
    }

    #[test]
    fn an_address_with_no_image_is_not_blamed_on_cors() {
        let gone = |remote| {
            Assessment::for_url("https://example.com/gone.jpg".into())
                .with_remote_bytes(remote)
                .with_decoded(None)
        };
        let a = gone(RemoteBytes::Status(404));
        assert_eq!(
            a.url_problem().as_deref(),
            Some("The image’s server answered HTTP 404: there is no image to use at this address.")
        );
        assert_eq!(a.unchecked(), []);
        assert!(!a.is_ready());
        let a = gone(RemoteBytes::Unreadable);
        assert!(a
            .url_problem()
            .unwrap()
            .contains("check that it is right and public"));
        assert_eq!(
            a.unchecked(),
            [],
            "no word about the server's sharing rules"
        );
        // An image that is there, unreadable by the page: that is where CORS is named.
        let a = Assessment::for_url("https://example.com/a.jpg".into())
            .with_remote_bytes(RemoteBytes::Unreadable)
            .with_decoded(Some(Dimensions::new(1024, 768)));
        assert_eq!(a.url_problem(), None);
        assert_eq!(a.unchecked(), [Rule::FileType, Rule::FileSize]);
        // A file never has a URL problem.
        let f = Assessment::for_file("a.png".into(), String::new(), 10).with_decoded(None);
        assert_eq!(f.url_problem(), None);
    }

    #[test]
    fn a_url_without_cors_passes_with_type_and_size_unchecked() {
        let a = Assessment::for_url("https://example.com/a.jpg".into())
            .with_remote_bytes(RemoteBytes::Unreadable)
            .with_decoded(Some(Dimensions::new(1024, 768)));
        assert!(a.is_ready());
        assert_eq!(a.unchecked(), [Rule::FileType, Rule::FileSize]);
    }

    #[test]
    fn the_report_and_the_preview_say_what_is_known() {
        let reading = file(5000);
        assert_eq!(reading.status_line().map(|l| l.ok), Some(false));
        assert_eq!(
            reading.preview(),
            PreviewFacts {
                name: "photo.png".into(),
                pixels: "measuring…".into(),
                bytes: "4.8 KB".into(),
                kind: "…".into(),
                showable: false,
            }
        );
        let decoding = reading.with_head(&sniff(&png(800, 600)));
        assert_eq!(decoding.preview().pixels, "800 × 600 px (checking…)");
        let ok = decoding.with_decoded(Some(Dimensions::new(800, 600)));
        assert!(!ok.is_refused());
        assert_eq!(
            ok.status_line(),
            Some(StatusLine {
                ok: true,
                text: "✓ This image meets every requirement.".into()
            })
        );
        assert!(ok.preview().showable);
        assert_eq!(ok.preview().kind, "image/png");
        let liar = file(5000)
            .with_head(&sniff(&png(800, 600)))
            .with_decoded(Some(Dimensions::new(200, 150)));
        assert!(liar.is_refused());
        assert_eq!(liar.status_line(), None, "its alerts say it");
        assert_eq!(
            liar.disagreement_note().as_deref(),
            Some("The file’s header says 800 × 600 px, but it decodes as 200 × 150 px; the decoded size is what counts.")
        );
        assert_eq!(ok.disagreement_note(), None);
        let pasted = Assessment::for_file(String::new(), String::new(), 1).with_decoded(None);
        assert_eq!(pasted.preview().name, "Pasted image");
        assert!(!pasted.preview().showable, "no broken picture");
        let remote = Assessment::for_url("https://example.com/a.jpg".into())
            .with_remote_bytes(RemoteBytes::Unreadable)
            .with_decoded(Some(Dimensions::new(1024, 768)));
        assert_eq!(
            remote.unchecked_note().as_deref(),
            Some("Not checked here: file type and file size — the image’s server does not let the browser read the file. WaveSpeed checks it when you generate.")
        );
        assert_eq!(
            remote.status_line().map(|l| l.text).as_deref(),
            Some("✓ This image meets every requirement that could be checked.")
        );
        assert_eq!(
            (
                remote.preview().bytes.as_str(),
                remote.preview().kind.as_str()
            ),
            ("file size unknown", "type unknown")
        );
    }

    #[test]
    fn a_url_with_cors_is_fully_checked() {
        let a = Assessment::for_url("https://example.com/a.jpg".into())
            .with_remote_bytes(RemoteBytes::Read {
                format: Format::WebP,
                byte_size: 11_000_000,
            })
            .with_decoded(Some(Dimensions::new(1024, 768)));
        assert!(!a.is_ready());
        let rules: Vec<_> = a.report().violations.iter().map(|v| v.rule()).collect();
        assert_eq!(rules, [Rule::FileType, Rule::FileSize]);
    }
}
