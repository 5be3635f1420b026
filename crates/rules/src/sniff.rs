//! What a file really is, from its first bytes: the image type by content (never by name
//! or declared MIME type) and, for PNG and JPEG, the dimensions written in the header.
//!
//! The header dimensions are a cheap early answer; the size the browser decodes is the
//! verdict (see [`crate::rules`]). Nothing here panics on any input: every read is
//! bounds-checked, and a header that ends early is reported as such.

use std::fmt;

/// How many leading bytes [`sniff`] wants to see. Enough for the signature of every
/// format below and, in practice, for the JPEG start-of-frame after typical EXIF/ICC
/// segments. A file whose header lies further in gets its size from the decode alone.
pub const HEAD_BYTES: usize = 256 * 1024;

/// A file format recognised from its leading bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// PNG (`\x89PNG\r\n\x1a\n`).
    Png,
    /// JPEG (`FF D8 FF`).
    Jpeg,
    /// GIF (`GIF87a` / `GIF89a`).
    Gif,
    /// WebP (`RIFF....WEBP`).
    WebP,
    /// Windows bitmap (`BM`).
    Bmp,
    /// TIFF (`II*\0` / `MM\0*`).
    Tiff,
    /// AVIF (ISO-BMFF with an `avif`/`avis` brand).
    Avif,
    /// HEIC/HEIF (ISO-BMFF with a `heic`, `heix`, `mif1`, … brand).
    Heic,
    /// An MP4/MOV video or other ISO-BMFF file.
    Mp4,
    /// An SVG drawing (XML text with an `<svg` root).
    Svg,
    /// A PDF document.
    Pdf,
    /// An HTML page.
    Html,
    /// A ZIP archive (also .docx and friends).
    Zip,
    /// Text that is none of the above.
    Text,
    /// A file with no bytes at all.
    Empty,
    /// Bytes that match nothing known.
    Unknown,
}

impl Format {
    /// True for the two formats WaveSpeed accepts for this model.
    pub fn is_accepted(self) -> bool {
        matches!(self, Format::Png | Format::Jpeg)
    }

    /// The MIME type to label the file with, when the format has one.
    pub fn mime(self) -> Option<&'static str> {
        Some(match self {
            Format::Png => "image/png",
            Format::Jpeg => "image/jpeg",
            Format::Gif => "image/gif",
            Format::WebP => "image/webp",
            Format::Bmp => "image/bmp",
            Format::Tiff => "image/tiff",
            Format::Avif => "image/avif",
            Format::Heic => "image/heic",
            Format::Mp4 => "video/mp4",
            Format::Svg => "image/svg+xml",
            Format::Pdf => "application/pdf",
            Format::Html => "text/html",
            Format::Zip => "application/zip",
            Format::Text => "text/plain",
            Format::Empty | Format::Unknown => return None,
        })
    }
}

impl fmt::Display for Format {
    /// A name a person recognises: "a PNG image", "a text file", "an empty file".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Png => "a PNG image",
            Format::Jpeg => "a JPEG image",
            Format::Gif => "a GIF image",
            Format::WebP => "a WebP image",
            Format::Bmp => "a BMP image",
            Format::Tiff => "a TIFF image",
            Format::Avif => "an AVIF image",
            Format::Heic => "a HEIC/HEIF image",
            Format::Mp4 => "a video (MP4/MOV)",
            Format::Svg => "an SVG drawing",
            Format::Pdf => "a PDF document",
            Format::Html => "an HTML page",
            Format::Zip => "a ZIP archive",
            Format::Text => "a text file",
            Format::Empty => "an empty file",
            Format::Unknown => "not a recognised image",
        })
    }
}

/// Width and height in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Dimensions {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl Dimensions {
    /// Makes a size from a width and a height.
    pub const fn new(width: u32, height: u32) -> Self {
        Self { width, height }
    }

    /// The same size turned a quarter: width and height swapped.
    pub const fn transposed(self) -> Self {
        Self::new(self.height, self.width)
    }
}

impl fmt::Display for Dimensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} × {} px", self.width, self.height)
    }
}

/// Why the header gave no dimensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The format carries no dimensions we read (anything but PNG and JPEG).
    #[error("dimensions are only read from PNG and JPEG headers")]
    NotSupported,
    /// The bytes end before the dimensions; the file is cut short, or (JPEG) the frame
    /// header lies beyond the bytes that were read.
    #[error("the header ends before the image size")]
    Truncated,
    /// The header is not what the format requires.
    #[error("the header is damaged: {0}")]
    Malformed(&'static str),
}

/// What the leading bytes of a file say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sniffed {
    /// The format, by content.
    pub format: Format,
    /// The displayed size from the header (EXIF orientation applied for JPEG), or why
    /// there is none.
    pub header: Result<Dimensions, HeaderError>,
}

/// Looks at a file's leading bytes (ideally [`HEAD_BYTES`] of them, fewer for a short
/// file) and says what it is and, for PNG and JPEG, how large the header says it is.
pub fn sniff(head: &[u8]) -> Sniffed {
    let format = detect(head);
    let header = match format {
        Format::Png => png_dimensions(head),
        Format::Jpeg => jpeg_dimensions(head),
        _ => Err(HeaderError::NotSupported),
    };
    Sniffed { format, header }
}

/// The format of a file from its leading bytes.
pub fn detect(head: &[u8]) -> Format {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
    if head.is_empty() {
        return Format::Empty;
    }
    if head.starts_with(PNG) {
        return Format::Png;
    }
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Format::Jpeg;
    }
    if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        return Format::Gif;
    }
    if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        return Format::WebP;
    }
    if head.starts_with(b"II*\0") || head.starts_with(b"MM\0*") {
        return Format::Tiff;
    }
    if head.starts_with(b"%PDF-") {
        return Format::Pdf;
    }
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Format::Zip;
    }
    if let Some(brand) = iso_bmff_brand(head) {
        return brand;
    }
    // BMP: "BM", then a file size, then two reserved zero words.
    if head.len() >= 10 && head.starts_with(b"BM") && head[6..10] == [0, 0, 0, 0] {
        return Format::Bmp;
    }
    detect_text(head)
}

/// ISO base media files (MP4, MOV, HEIC, AVIF): `....ftyp<brand>` with compatible brands.
fn iso_bmff_brand(head: &[u8]) -> Option<Format> {
    if head.len() < 12 || &head[4..8] != b"ftyp" {
        return None;
    }
    let box_len = be32(head, 0)? as usize;
    let end = box_len.clamp(12, head.len());
    let mut brands = vec![&head[8..12]];
    // Compatible brands start after the major brand and minor version (offset 16).
    let mut at = 16;
    while at + 4 <= end {
        brands.push(&head[at..at + 4]);
        at += 4;
    }
    let has = |names: &[&[u8]]| brands.iter().any(|b| names.contains(b));
    if has(&[b"avif", b"avis"]) {
        Some(Format::Avif)
    } else if has(&[
        b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1",
    ]) {
        Some(Format::Heic)
    } else {
        Some(Format::Mp4)
    }
}

/// Text formats: SVG, HTML, else plain text when the bytes look like text.
fn detect_text(head: &[u8]) -> Format {
    let probe = &head[..head.len().min(1024)];
    let text = String::from_utf8_lossy(probe).to_ascii_lowercase();
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.contains("<svg") {
        return Format::Svg;
    }
    if trimmed.starts_with("<!doctype html")
        || trimmed.starts_with("<html")
        || trimmed.contains("<body")
    {
        return Format::Html;
    }
    let printable = probe
        .iter()
        .filter(|&&b| {
            b == b'\n' || b == b'\r' || b == b'\t' || (0x20..0x7f).contains(&b) || b >= 0x80
        })
        .count();
    if printable * 100 >= probe.len() * 95 && !probe.contains(&0) {
        Format::Text
    } else {
        Format::Unknown
    }
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// PNG: the first chunk must be IHDR, holding width and height (big-endian, non-zero).
fn png_dimensions(head: &[u8]) -> Result<Dimensions, HeaderError> {
    let (Some(len), Some(kind)) = (be32(head, 8), head.get(12..16)) else {
        return Err(HeaderError::Truncated);
    };
    if kind != b"IHDR" || len != 13 {
        return Err(HeaderError::Malformed(
            "the first chunk is not a valid IHDR",
        ));
    }
    let (Some(width), Some(height)) = (be32(head, 16), be32(head, 20)) else {
        return Err(HeaderError::Truncated);
    };
    if width == 0 || height == 0 || width > i32::MAX as u32 || height > i32::MAX as u32 {
        return Err(HeaderError::Malformed("IHDR gives an impossible size"));
    }
    Ok(Dimensions::new(width, height))
}

/// JPEG: walk the marker segments to the first start-of-frame; note an EXIF orientation
/// on the way, since the browser shows rotated images turned (orientations 5–8 swap the
/// sides).
fn jpeg_dimensions(head: &[u8]) -> Result<Dimensions, HeaderError> {
    jpeg_frame(head, |size, orientation| {
        if (5..=8).contains(&orientation) {
            size.transposed()
        } else {
            size
        }
    })
}

/// A JPEG's EXIF orientation (1–8; 1, upright, when it has none), as its segments before
/// the frame give it; `None` when the header cannot be read.
pub fn jpeg_orientation(head: &[u8]) -> Option<u16> {
    jpeg_frame(head, |_, orientation| orientation).ok()
}

/// What `found` makes of a JPEG's stored size and EXIF orientation. (Generic, so that
/// the page, which needs only the size, carries one walk made for it.)
fn jpeg_frame<T>(head: &[u8], found: impl FnOnce(Dimensions, u16) -> T) -> Result<T, HeaderError> {
    let mut at = 2; // after SOI
    let mut orientation = 1;
    loop {
        // Markers may be preceded by any number of 0xFF fill bytes.
        let mut marker_at = at;
        while head.get(marker_at) == Some(&0xFF) && head.get(marker_at + 1) == Some(&0xFF) {
            marker_at += 1;
        }
        let (Some(&0xFF), Some(&marker)) = (head.get(marker_at), head.get(marker_at + 1)) else {
            return match head.get(marker_at) {
                None | Some(0xFF) => Err(HeaderError::Truncated),
                Some(_) => Err(HeaderError::Malformed(
                    "a segment does not start with a marker",
                )),
            };
        };
        let seg = marker_at + 2;
        match marker {
            // Stand-alone markers carry no length.
            0x01 | 0xD0..=0xD7 => {
                at = seg;
                continue;
            }
            0xD9 | 0xDA => {
                return Err(HeaderError::Malformed(
                    "the image data starts before its size",
                ))
            }
            _ => {}
        }
        let Some(len) = be16(head, seg) else {
            return Err(HeaderError::Truncated);
        };
        if len < 2 {
            return Err(HeaderError::Malformed("a segment has an impossible length"));
        }
        let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            let (Some(height), Some(width)) = (be16(head, seg + 3), be16(head, seg + 5)) else {
                return Err(HeaderError::Truncated);
            };
            if width == 0 {
                return Err(HeaderError::Malformed("the frame header gives zero width"));
            }
            // Height 0 means "defined later by a DNL marker": unknown from the header.
            if height == 0 {
                return Err(HeaderError::NotSupported);
            }
            return Ok(found(
                Dimensions::new(width.into(), height.into()),
                orientation,
            ));
        }
        if marker == 0xE1 {
            let end = (seg + len as usize).min(head.len());
            if let Some(o) = head.get(seg + 2..end).and_then(exif_orientation) {
                orientation = o;
            }
        }
        at = seg + len as usize;
    }
}

/// The EXIF orientation (1–8) in an APP1 segment's payload, if it has a valid one.
pub fn exif_orientation(app1: &[u8]) -> Option<u16> {
    let tiff = app1.strip_prefix(b"Exif\0\0")?;
    let little = match tiff.get(..4)? {
        b"II*\0" => true,
        b"MM\0*" => false,
        _ => return None,
    };
    let u16_at = |at: usize| {
        let b = tiff.get(at..at.checked_add(2)?)?;
        Some(if little {
            u16::from_le_bytes([b[0], b[1]])
        } else {
            u16::from_be_bytes([b[0], b[1]])
        })
    };
    let u32_at = |at: usize| {
        let b = tiff.get(at..at.checked_add(4)?)?;
        let a = [b[0], b[1], b[2], b[3]];
        Some(if little {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        })
    };
    let ifd = u32_at(4)? as usize;
    let count = u16_at(ifd)? as usize;
    (0..count.min(512)).find_map(|i| {
        let entry = ifd.checked_add(2 + i * 12)?;
        if u16_at(entry)? != 0x0112 {
            return None;
        }
        let value = u16_at(entry + 8)?;
        (1..=8).contains(&value).then_some(value)
    })
}

/// Hand-made headers for the tests of this crate and of the crates that use it (not part
/// of the API).
#[doc(hidden)]
pub mod test_headers {
    /// The first bytes of a PNG of this size, up to its IHDR chunk.
    pub fn png_head(width: u32, height: u32) -> Vec<u8> {
        let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        b.extend_from_slice(&width.to_be_bytes());
        b.extend_from_slice(&height.to_be_bytes());
        b.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
        b
    }

    /// The first bytes of a JPEG of this size, with an APP1 segment when given.
    pub fn jpeg_head(width: u16, height: u16, app1: Option<&[u8]>) -> Vec<u8> {
        let mut b = vec![0xFF, 0xD8];
        b.extend_from_slice(&[0xFF, 0xE0, 0, 16]);
        b.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        if let Some(payload) = app1 {
            b.extend_from_slice(&[0xFF, 0xE1]);
            b.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
            b.extend_from_slice(payload);
        }
        b.extend_from_slice(&[0xFF, 0xDB, 0, 4, 0, 0]); // a (bogus) DQT to skip
        b.extend_from_slice(&[0xFF, 0xC2, 0, 11, 8]); // progressive SOF
        b.extend_from_slice(&height.to_be_bytes());
        b.extend_from_slice(&width.to_be_bytes());
        b.extend_from_slice(&[1, 1, 0x11, 0]);
        b.extend_from_slice(&[0xFF, 0xDA]);
        b
    }

    /// An EXIF APP1 payload with this orientation, little- or big-endian.
    pub fn exif(orientation: u16, little: bool) -> Vec<u8> {
        let mut b = b"Exif\0\0".to_vec();
        let w16 = |v: u16| {
            if little {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            }
        };
        let w32 = |v: u32| {
            if little {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            }
        };
        b.extend_from_slice(if little { b"II*\0" } else { b"MM\0*" });
        b.extend_from_slice(&w32(8));
        b.extend_from_slice(&w16(1));
        b.extend_from_slice(&w16(0x0112));
        b.extend_from_slice(&w16(3));
        b.extend_from_slice(&w32(1));
        b.extend_from_slice(&w16(orientation));
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&w32(0));
        b
    }
}

#[cfg(test)]
mod tests {
    use super::test_headers::{exif, jpeg_head, png_head};
    use super::*;

    #[test]
    fn png_size_from_ihdr() {
        let s = sniff(&png_head(640, 480));
        assert_eq!(s.format, Format::Png);
        assert_eq!(s.header, Ok(Dimensions::new(640, 480)));
    }

    #[test]
    fn png_cut_short_is_truncated() {
        assert_eq!(
            sniff(&png_head(640, 480)[..20]).header,
            Err(HeaderError::Truncated)
        );
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\n").header,
            Err(HeaderError::Truncated)
        );
    }

    #[test]
    fn png_with_zero_size_is_malformed() {
        assert!(matches!(
            sniff(&png_head(0, 10)).header,
            Err(HeaderError::Malformed(_))
        ));
    }

    #[test]
    fn jpeg_size_from_sof_after_other_segments() {
        let s = sniff(&jpeg_head(1200, 800, None));
        assert_eq!(s.format, Format::Jpeg);
        assert_eq!(s.header, Ok(Dimensions::new(1200, 800)));
    }

    #[test]
    fn jpeg_exif_orientation_swaps_sides_for_5_to_8() {
        for orientation in 1..=8u16 {
            for little in [true, false] {
                let s = sniff(&jpeg_head(1200, 800, Some(&exif(orientation, little))));
                let want = if orientation >= 5 {
                    Dimensions::new(800, 1200)
                } else {
                    Dimensions::new(1200, 800)
                };
                assert_eq!(
                    s.header,
                    Ok(want),
                    "orientation {orientation}, little-endian {little}"
                );
            }
        }
    }

    #[test]
    fn jpeg_cut_before_sof_is_truncated() {
        let full = jpeg_head(1200, 800, None);
        for cut in 3..full.len() - 6 {
            assert_eq!(
                sniff(&full[..cut]).header,
                Err(HeaderError::Truncated),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn formats_by_content() {
        let cases: &[(&[u8], Format)] = &[
            (b"", Format::Empty),
            (b"GIF89a\x01\0\x01\0", Format::Gif),
            (b"RIFF\x10\0\0\0WEBPVP8 ", Format::WebP),
            (b"BM\x3a\0\0\0\0\0\0\0\x36\0\0\0", Format::Bmp),
            (b"II*\0\x08\0\0\0", Format::Tiff),
            (b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf", Format::Avif),
            (b"\0\0\0\x18ftypheic\0\0\0\0mif1heic", Format::Heic),
            (b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2", Format::Mp4),
            (b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"><script/></svg>", Format::Svg),
            (b"<!DOCTYPE html><html><body>hi</body></html>", Format::Html),
            (b"%PDF-1.7\n", Format::Pdf),
            (b"PK\x03\x04\x14\0", Format::Zip),
            (b"just some words, named photo.png\n", Format::Text),
            (b"\0\x01\x02\x03\xfe\xfd", Format::Unknown),
        ];
        for (bytes, want) in cases {
            assert_eq!(detect(bytes), *want, "{:?}", String::from_utf8_lossy(bytes));
            assert!(!want.is_accepted());
        }
    }

    #[test]
    fn display_names_say_what_it_is() {
        assert_eq!(Format::Heic.to_string(), "a HEIC/HEIF image");
        assert_eq!(Format::Empty.to_string(), "an empty file");
        assert_eq!(Dimensions::new(280, 900).to_string(), "280 × 900 px");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
                let _ = sniff(&bytes);
            }

            #[test]
            fn random_bytes_after_a_jpeg_signature_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..2048)) {
                let mut bytes = vec![0xFF, 0xD8, 0xFF];
                bytes.extend(tail);
                let _ = sniff(&bytes);
            }

            #[test]
            fn random_bytes_after_a_png_signature_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..64)) {
                let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
                bytes.extend(tail);
                let _ = sniff(&bytes);
            }

            #[test]
            fn png_header_round_trips(w in 1u32..=i32::MAX as u32, h in 1u32..=i32::MAX as u32) {
                prop_assert_eq!(sniff(&png_head(w, h)).header, Ok(Dimensions::new(w, h)));
            }

            #[test]
            fn jpeg_header_round_trips(w in 1u16.., h in 1u16.., orientation in 1u16..=8) {
                let s = sniff(&jpeg_head(w, h, Some(&exif(orientation, orientation % 2 == 0))));
                let size = Dimensions::new(w.into(), h.into());
                prop_assert_eq!(s.header, Ok(if orientation >= 5 { size.transposed() } else { size }));
            }

            #[test]
            fn a_corrupted_png_or_jpeg_header_never_panics(
                which in any::<bool>(), at in 0usize..64, byte in any::<u8>()
            ) {
                let mut bytes = if which { png_head(500, 400) } else { jpeg_head(500, 400, Some(&exif(6, true))) };
                if at < bytes.len() {
                    bytes[at] = byte;
                }
                let _ = sniff(&bytes);
            }
        }
    }
}
