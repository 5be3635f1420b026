//! What one output of a finished task is, and whether it may be shown: a web URL (kind
//! from its extension), a `data:` URI or raw base64 (kind sniffed from the bytes). Only
//! `http:`, `https:` and decoded media ever reach a `src` or `href`.

use super::web_address::after_web_scheme;

/// How a shot is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaKind {
    /// A `<video>`.
    Video,
    /// An `<img>`.
    Image,
}

/// One output, checked and ready to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// A web address, used as it is.
    Remote {
        /// The `http:`/`https:` URL.
        url: String,
        /// From the extension; a URL without a known one is taken as video (the model
        /// makes videos).
        kind: MediaKind,
    },
    /// Bytes that came inline (base64), to be shown from a Blob URL.
    Inline {
        /// The decoded bytes.
        bytes: Vec<u8>,
        /// The MIME type sniffed from the bytes.
        mime: &'static str,
        /// Video or image.
        kind: MediaKind,
    },
}

impl Output {
    /// Video or image.
    pub fn kind(&self) -> MediaKind {
        match self {
            Output::Remote { kind, .. } | Output::Inline { kind, .. } => *kind,
        }
    }

    /// A file name for the download link: `shot-1.mp4`.
    pub fn file_name(&self, number: usize) -> String {
        let ext = match self {
            Output::Remote { url, kind } => extension(url)
                .filter(|e| kind_of_extension(e).is_some())
                .unwrap_or(if *kind == MediaKind::Video {
                    "mp4".into()
                } else {
                    "png".into()
                }),
            Output::Inline { mime, .. } => extension_of_mime(mime).to_owned(),
        };
        format!("shot-{number}.{ext}")
    }
}

/// Why an output is not shown.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OutputError {
    /// A scheme other than http(s), data or raw base64 (`javascript:`, `file:`, …).
    #[error("the output address is not a web address, so it is not opened")]
    UnsafeUrl,
    /// A `data:` URI of a type that is not image or video media (e.g. `text/html`).
    #[error("the output is inline data of type “{0}”, which is not shown")]
    UnsafeDataType(String),
    /// Base64 that does not decode.
    #[error("the output's inline data is damaged")]
    BadBase64,
    /// Decoded bytes that are no known video or image.
    #[error("the output is not a video or image this page can show")]
    UnknownMedia,
}

/// Media types accepted in a `data:` URI.
const DATA_TYPES: [&str; 7] = [
    "video/mp4",
    "video/quicktime",
    "video/webm",
    "image/png",
    "image/jpeg",
    "image/webp",
    "image/gif",
];

/// Classifies and checks one entry of `data.outputs`.
pub fn classify(raw: &str) -> Result<Output, OutputError> {
    let raw = raw.trim();
    if after_web_scheme(raw).is_some() {
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(OutputError::UnsafeUrl);
        }
        let kind = extension(raw)
            .and_then(|e| kind_of_extension(&e))
            .unwrap_or(MediaKind::Video);
        return Ok(Output::Remote {
            url: raw.to_owned(),
            kind,
        });
    }
    if raw
        .get(..5)
        .is_some_and(|head| head.eq_ignore_ascii_case("data:"))
    {
        let (header, payload) = raw.split_once(',').ok_or(OutputError::BadBase64)?;
        let mut parts = header["data:".len()..].split(';');
        let declared = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        if !DATA_TYPES.contains(&declared.as_str()) {
            return Err(OutputError::UnsafeDataType(
                declared.chars().take(40).collect(),
            ));
        }
        if !parts.any(|p| p.trim().eq_ignore_ascii_case("base64")) {
            return Err(OutputError::BadBase64);
        }
        return inline(payload);
    }
    if looks_like_base64(raw) {
        return inline(raw);
    }
    Err(OutputError::UnsafeUrl)
}

/// Raw base64 is long and of the base64 alphabet only (a URL of another scheme has a
/// `:` and is refused above).
fn looks_like_base64(s: &str) -> bool {
    s.len() >= 16
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_' | b'\n' | b'\r')
        })
}

fn inline(payload: &str) -> Result<Output, OutputError> {
    let cleaned: String = payload.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = super::base64::decode(&cleaned).ok_or(OutputError::BadBase64)?;
    let (mime, kind) = sniff_media(&bytes).ok_or(OutputError::UnknownMedia)?;
    Ok(Output::Inline { bytes, mime, kind })
}

/// The media type of decoded output bytes: an ISO-BMFF `ftyp` box at offset 4 (mp4,
/// mov), WebM/Matroska, PNG, JPEG, WebP, GIF.
pub fn sniff_media(bytes: &[u8]) -> Option<(&'static str, MediaKind)> {
    if bytes.get(4..8) == Some(b"ftyp") {
        let quicktime = bytes.get(8..12) == Some(b"qt  ");
        return Some((
            if quicktime {
                "video/quicktime"
            } else {
                "video/mp4"
            },
            MediaKind::Video,
        ));
    }
    if bytes.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return Some(("video/webm", MediaKind::Video));
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(("image/png", MediaKind::Image));
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(("image/jpeg", MediaKind::Image));
    }
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Some(("image/webp", MediaKind::Image));
    }
    if bytes.starts_with(b"GIF8") {
        return Some(("image/gif", MediaKind::Image));
    }
    None
}

/// The lower-case extension of a URL's path (query and fragment ignored).
fn extension(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next()?;
    let after_host = path.splitn(4, '/').nth(3)?;
    let last = after_host.rsplit('/').next()?;
    let (_, ext) = last.rsplit_once('.')?;
    (!ext.is_empty() && ext.len() <= 5).then(|| ext.to_ascii_lowercase())
}

fn kind_of_extension(ext: &str) -> Option<MediaKind> {
    match ext {
        "mp4" | "m4v" | "mov" | "webm" => Some(MediaKind::Video),
        "png" | "jpg" | "jpeg" | "webp" | "gif" => Some(MediaKind::Image),
        _ => None,
    }
}

fn extension_of_mime(mime: &str) -> &'static str {
    match mime {
        "video/quicktime" => "mov",
        "video/webm" => "webm",
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/webp" => "webp",
        "image/gif" => "gif",
        _ => "mp4",
    }
}

/// How long an image shot stays on the stage before the next one.
pub const IMAGE_SHOT_MS: u32 = 4_000;

/// What Download all says while it puts the shots in one file.
pub const ZIPPING: &str = "Putting the shots in one file…";
/// What Download all says where the shots' server lets the page read none of them.
pub const ZIP_REFUSED: &str = "These shots cannot be put in one file here: their server does not let this page read them. Download them one by one below.";

/// The stage's next place after `current` among `count` shots (round again at the end).
pub fn next_shot(current: usize, count: usize) -> usize {
    (current + 1) % count.max(1)
}

/// A shot on the stage gives way to the next by itself: an image, when there is another
/// (a video gives way when it ends).
pub fn advances_by_itself(kind: MediaKind, count: usize) -> bool {
    kind == MediaKind::Image && count > 1
}

/// What Share hands over: the shots' web addresses, one a line (`None` without any: an
/// inline shot's `blob:` URL means nothing outside this page).
pub fn share_text<'a>(srcs: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let links: Vec<&str> = srcs
        .into_iter()
        .filter(|src| crate::core::web_address::after_web_scheme(src).is_some())
        .collect();
    (!links.is_empty()).then(|| links.join("\n"))
}

/// A shot's row when it cannot be shown: a lead and why.
pub fn not_shown(number: usize, why: &OutputError) -> (String, String) {
    (format!("Shot {number}: "), format!("Not shown — {why}."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stage_goes_round_and_shares_only_web_addresses() {
        assert_eq!(
            (next_shot(0, 3), next_shot(2, 3), next_shot(0, 0)),
            (1, 0, 0)
        );
        assert!(advances_by_itself(MediaKind::Image, 2));
        assert!(
            !advances_by_itself(MediaKind::Image, 1),
            "a lone image stays"
        );
        assert!(
            !advances_by_itself(MediaKind::Video, 3),
            "a video ends by itself"
        );
        assert_eq!(
            share_text([
                "https://cdn.example/1.png",
                "blob:http://x/1",
                "https://cdn.example/2.png"
            ])
            .as_deref(),
            Some("https://cdn.example/1.png\nhttps://cdn.example/2.png")
        );
        assert_eq!(share_text(["blob:http://x/1"]), None);
        assert_eq!(not_shown(2, &OutputError::UnknownMedia).0, "Shot 2: ");
    }
    use proptest::prelude::*;

    /// Encoded by the base64 crate (the reference), not the page's own encoder.
    fn b64(bytes: &[u8]) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    const MP4_HEAD: &[u8] = b"\0\0\0\x20ftypisom\0\0\x02\0isomiso2avc1mp41\0\0\0\x08free";

    #[test]
    fn web_urls_get_their_kind_from_the_extension() {
        assert_eq!(
            classify("https://cdn.test/a/b/shot.MP4?sig=1#t"),
            Ok(Output::Remote {
                url: "https://cdn.test/a/b/shot.MP4?sig=1#t".into(),
                kind: MediaKind::Video
            })
        );
        assert_eq!(
            classify("https://cdn.test/x.jpeg").unwrap().kind(),
            MediaKind::Image
        );
        assert_eq!(
            classify("http://cdn.test/x.webp").unwrap().kind(),
            MediaKind::Image
        );
        // No known extension: the model makes videos.
        assert_eq!(
            classify("https://cdn.test/output/123").unwrap().kind(),
            MediaKind::Video
        );
        assert_eq!(
            classify("https://cdn.test.mp4").unwrap().kind(),
            MediaKind::Video
        );
    }

    #[test]
    fn unsafe_urls_are_refused() {
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "file:///etc/passwd",
            "vbscript:x",
            "blob:https://evil.test/1",
            "//evil.test/a.mp4",
            "https://cdn.test/a b.mp4",
            "",
        ] {
            assert!(classify(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            classify("data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="),
            Err(OutputError::UnsafeDataType("text/html".into()))
        );
        assert!(matches!(
            classify("data:image/svg+xml;base64,PHN2Zz4="),
            Err(OutputError::UnsafeDataType(_))
        ));
    }

    #[test]
    fn data_uris_and_raw_base64_are_decoded_and_sniffed() {
        let raw = b64(MP4_HEAD);
        for given in [
            format!("data:video/mp4;base64,{raw}"),
            raw.clone(),
            format!("{raw}\n"),
        ] {
            let out = classify(&given).unwrap();
            assert_eq!(out.kind(), MediaKind::Video);
            let Output::Inline { bytes, mime, .. } = out else {
                panic!("inline")
            };
            assert_eq!(bytes, MP4_HEAD);
            assert_eq!(mime, "video/mp4");
        }
        // The declared type does not win over the bytes.
        let png = b64(b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR");
        let out = classify(&format!("data:video/mp4;base64,{png}")).unwrap();
        assert_eq!(out.kind(), MediaKind::Image);
        assert_eq!(out.file_name(2), "shot-2.png");
    }

    #[test]
    fn bad_inline_data_is_refused() {
        assert_eq!(
            classify("data:video/mp4;base64,@@@@"),
            Err(OutputError::BadBase64)
        );
        assert_eq!(
            classify("data:video/mp4,plain"),
            Err(OutputError::BadBase64)
        );
        assert_eq!(
            classify(&b64(b"just some text, not media at all")),
            Err(OutputError::UnknownMedia)
        );
    }

    #[test]
    fn file_names() {
        assert_eq!(
            classify("https://cdn.test/x/clip.mov")
                .unwrap()
                .file_name(1),
            "shot-1.mov"
        );
        assert_eq!(
            classify("https://cdn.test/x/clip").unwrap().file_name(3),
            "shot-3.mp4"
        );
        assert_eq!(classify(&b64(MP4_HEAD)).unwrap().file_name(1), "shot-1.mp4");
    }

    proptest! {
        #[test]
        fn anything_classified_is_safe_to_use(raw in "\\PC{0,120}") {
            match classify(&raw) {
                Ok(Output::Remote { url, .. }) => {
                    let lower = url.to_ascii_lowercase();
                    prop_assert!(lower.starts_with("https://") || lower.starts_with("http://"));
                }
                Ok(Output::Inline { mime, .. }) => prop_assert!(DATA_TYPES.contains(&mime)),
                Err(_) => {}
            }
        }
    }
}
