//! Test images made from scratch, so no binary is committed and every case says what it
//! is for. PNG is written by hand (stored deflate: exact and dependency-free); JPEG uses
//! the `jpeg-encoder` crate. The same catalogue feeds the browser tests and, written to
//! disk by `examples/make_fixtures.rs`, the end-to-end tests.
#![allow(dead_code)]

/// The limit from the product page, repeated here on purpose: the fixtures must not
/// follow the app's constant if it drifts.
pub const TEN_MIB: usize = 10 * 1024 * 1024;

/// One test file and the rules it must break (by the names the app shows).
pub struct Fixture {
    /// File name, with the extension a user would see.
    pub name: &'static str,
    /// Makes the bytes (only when asked: some are 10 MB).
    pub make: fn() -> Vec<u8>,
    /// Headings of the alerts it must raise, in order; empty for a valid image.
    pub broken: &'static [&'static str],
    /// The displayed size the app must report, when it decodes.
    pub size: Option<(u32, u32)>,
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in bytes.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    (b << 16) | a
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A colourful test picture: a diagonal gradient with a bright disc as its "subject".
pub fn pixel(x: u32, y: u32, width: u32, height: u32) -> [u8; 3] {
    let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
    let (dx, dy) = (fx - 0.5, (fy - 0.55) * height as f32 / width as f32);
    if dx * dx + dy * dy < 0.03 {
        return [250, 196, 72];
    }
    [
        (40.0 + 120.0 * fx) as u8,
        (60.0 + 80.0 * fy) as u8,
        (170.0 + 70.0 * (1.0 - fx)) as u8,
    ]
}

fn rgb(width: u32, height: u32) -> Vec<u8> {
    let mut data = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        for x in 0..width {
            data.extend_from_slice(&pixel(x, y, width, height));
        }
    }
    data
}

/// A valid RGB PNG of the given size.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    png_with(width, height, 8, 2, &[], false, |x, y| {
        pixel(x, y, width, height).to_vec()
    })
}

/// A PNG grown to exactly `len` bytes with a private ancillary chunk (ignored by
/// decoders) before IEND.
pub fn png_padded_to(width: u32, height: u32, len: usize) -> Vec<u8> {
    let base = png(width, height);
    let iend = base.len() - 12;
    let padding = len
        .checked_sub(base.len() + 12)
        .expect("target smaller than the image");
    let mut out = base[..iend].to_vec();
    chunk(&mut out, b"ruSt", &vec![0; padding]);
    out.extend_from_slice(&base[iend..]);
    assert_eq!(out.len(), len);
    out
}

/// The EXIF APP1 payload carrying only an orientation (1–8), big-endian.
pub fn exif_orientation(orientation: u16) -> Vec<u8> {
    let mut b = b"Exif\0\0MM\0*\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01".to_vec();
    b.extend_from_slice(&orientation.to_be_bytes());
    b.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    b
}

/// A valid baseline JPEG of the given size, with an EXIF orientation when given.
pub fn jpeg(width: u16, height: u16, orientation: Option<u16>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 85);
    if let Some(o) = orientation {
        encoder
            .add_app_segment(1, &exif_orientation(o))
            .expect("EXIF segment");
    }
    encoder
        .encode(
            &rgb(width.into(), height.into()),
            width,
            height,
            jpeg_encoder::ColorType::Rgb,
        )
        .expect("JPEG encoding");
    out
}

/// A JPEG grown to exactly `len` bytes with zeros after its end marker (decoders stop
/// at the marker).
pub fn jpeg_padded_to(width: u16, height: u16, len: usize) -> Vec<u8> {
    let mut out = jpeg(width, height, None);
    assert!(out.len() <= len, "target smaller than the image");
    out.resize(len, 0);
    out
}

/// zlib stream of `raw` in stored (uncompressed) deflate blocks.
fn zlib_stored(raw: &[u8]) -> Vec<u8> {
    let mut zlib = vec![0x78, 0x01];
    let blocks: Vec<_> = raw.chunks(65_535).collect();
    if blocks.is_empty() {
        zlib.extend_from_slice(&[1, 0, 0, 0xFF, 0xFF]);
    }
    for (i, block) in blocks.iter().enumerate() {
        zlib.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        zlib.extend_from_slice(&len.to_le_bytes());
        zlib.extend_from_slice(&(!len).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    zlib.extend_from_slice(&adler32(raw).to_be_bytes());
    zlib
}

/// A PNG of any bit depth and colour type: `sample(x, y)` gives the bytes of a pixel;
/// `extra` chunks go before IDAT (PLTE, acTL, fcTL…); `adam7` interlaces.
fn png_with(
    width: u32,
    height: u32,
    depth: u8,
    colour: u8,
    extra: &[(&[u8; 4], Vec<u8>)],
    adam7: bool,
    sample: impl Fn(u32, u32) -> Vec<u8>,
) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut rows = |x0: u32, y0: u32, dx: u32, dy: u32| {
        let mut y = y0;
        while y < height {
            if x0 < width {
                raw.push(0);
                let mut x = x0;
                while x < width {
                    raw.extend_from_slice(&sample(x, y));
                    x += dx;
                }
            }
            y += dy;
        }
    };
    if adam7 {
        for (x0, y0, dx, dy) in [
            (0, 0, 8, 8),
            (4, 0, 8, 8),
            (0, 4, 4, 8),
            (2, 0, 4, 4),
            (0, 2, 2, 4),
            (1, 0, 2, 2),
            (0, 1, 1, 2),
        ] {
            rows(x0, y0, dx, dy);
        }
    } else {
        rows(0, 0, 1, 1);
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[depth, colour, 0, 0, u8::from(adam7)]);
    chunk(&mut out, b"IHDR", &ihdr);
    for (kind, data) in extra {
        chunk(&mut out, kind, data);
    }
    chunk(&mut out, b"IDAT", &zlib_stored(&raw));
    chunk(&mut out, b"IEND", &[]);
    out
}

/// A 16-bit RGB PNG.
pub fn png_16bit(width: u32, height: u32) -> Vec<u8> {
    png_with(width, height, 16, 2, &[], false, |x, y| {
        pixel(x, y, width, height)
            .iter()
            .flat_map(|c| [*c, *c])
            .collect()
    })
}

/// A palette PNG (colour type 3) with four colours.
pub fn png_palette(width: u32, height: u32) -> Vec<u8> {
    let plte = vec![40, 60, 170, 250, 196, 72, 160, 140, 240, 20, 20, 20];
    png_with(width, height, 8, 3, &[(b"PLTE", plte)], false, |x, y| {
        vec![((x / 40 + y / 40) % 4) as u8]
    })
}

/// An Adam7-interlaced RGB PNG.
pub fn png_interlaced(width: u32, height: u32) -> Vec<u8> {
    png_with(width, height, 8, 2, &[], true, |x, y| {
        pixel(x, y, width, height).to_vec()
    })
}

/// An animated PNG of one frame (acTL and fcTL before IDAT): still a PNG.
pub fn apng(width: u32, height: u32) -> Vec<u8> {
    let mut actl = 1u32.to_be_bytes().to_vec();
    actl.extend_from_slice(&0u32.to_be_bytes());
    let mut fctl = 0u32.to_be_bytes().to_vec();
    fctl.extend_from_slice(&width.to_be_bytes());
    fctl.extend_from_slice(&height.to_be_bytes());
    fctl.extend_from_slice(&[0; 8]);
    fctl.extend_from_slice(&[0, 1, 0, 10, 0, 0]);
    png_with(
        width,
        height,
        8,
        2,
        &[(b"acTL", actl), (b"fcTL", fctl)],
        false,
        |x, y| pixel(x, y, width, height).to_vec(),
    )
}

/// A PNG whose header declares `declared` but whose data is for `width` × `height`.
pub fn png_lying(width: u32, height: u32, declared: (u32, u32)) -> Vec<u8> {
    let mut b = png(width, height);
    b[16..20].copy_from_slice(&declared.0.to_be_bytes());
    b[20..24].copy_from_slice(&declared.1.to_be_bytes());
    let crc = crc32(&b[12..29]);
    b[29..33].copy_from_slice(&crc.to_be_bytes());
    b
}

/// A PNG with a wrong CRC on its IHDR chunk.
pub fn png_bad_crc(width: u32, height: u32) -> Vec<u8> {
    let mut b = png(width, height);
    b[29] ^= 0xFF;
    b
}

/// A decompression bomb: a header declaring `side` × `side` pixels over a few bytes.
pub fn png_bomb(side: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &zlib_stored(&[0; 1024]));
    chunk(&mut out, b"IEND", &[]);
    out
}

/// A JPEG whose frame header declares 65,000 × 65,000 pixels.
pub fn jpeg_bomb() -> Vec<u8> {
    let mut b = jpeg(320, 320, None);
    let sof = b.windows(2).position(|w| w == [0xFF, 0xC0]).expect("SOF0");
    b[sof + 5..sof + 7].copy_from_slice(&65_000u16.to_be_bytes());
    b[sof + 7..sof + 9].copy_from_slice(&65_000u16.to_be_bytes());
    b
}

/// A JPEG in another colour model or coding: grayscale, CMYK, progressive.
pub fn jpeg_kind(width: u16, height: u16, kind: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 85);
    let rgb = rgb(width.into(), height.into());
    let (data, colour) = match kind {
        "gray" => (
            rgb.chunks(3).map(|p| p[1]).collect(),
            jpeg_encoder::ColorType::Luma,
        ),
        "cmyk" => (
            rgb.chunks(3)
                .flat_map(|p| [255 - p[0], 255 - p[1], 255 - p[2], 0])
                .collect(),
            jpeg_encoder::ColorType::Cmyk,
        ),
        _ => {
            encoder.set_progressive(true);
            (rgb, jpeg_encoder::ColorType::Rgb)
        }
    };
    encoder
        .encode(&data, width, height, colour)
        .expect("JPEG encoding");
    out
}

/// A baseline JPEG relabelled as arithmetic-coded (SOF9).
pub fn jpeg_arithmetic(width: u16, height: u16) -> Vec<u8> {
    let mut b = jpeg(width, height, None);
    let sof = b.windows(2).position(|w| w == [0xFF, 0xC0]).expect("SOF0");
    b[sof + 1] = 0xC9;
    b
}

/// A 1 × 1 BMP.
pub fn bmp() -> Vec<u8> {
    let mut b = b"BM".to_vec();
    b.extend_from_slice(&58u32.to_le_bytes());
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&54u32.to_le_bytes());
    b.extend_from_slice(&40u32.to_le_bytes());
    b.extend_from_slice(&1i32.to_le_bytes());
    b.extend_from_slice(&1i32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&24u16.to_le_bytes());
    b.extend_from_slice(&[0; 24]);
    b.extend_from_slice(&[0, 0, 255, 0]);
    b
}

/// The start of a little-endian TIFF file.
pub fn tiff() -> Vec<u8> {
    let mut b = b"II*\0\x08\0\0\0".to_vec();
    b.extend_from_slice(&[0; 256]);
    b
}

/// The start of an AVIF file.
pub fn avif() -> Vec<u8> {
    let mut b = b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf".to_vec();
    b.extend_from_slice(&[0; 256]);
    b
}

/// A PNG with a ZIP archive after its end (a polyglot).
pub fn png_zip_polyglot() -> Vec<u8> {
    let mut b = png(640, 480);
    b.extend_from_slice(b"PK\x03\x04\x14\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x05\0\0\0evil!PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
    b
}

/// A 1 × 1 GIF.
pub fn gif() -> Vec<u8> {
    b"GIF89a\x01\0\x01\0\x80\0\0\xff\xff\xff\0\0\0!\xf9\x04\x01\0\0\0\0,\0\0\0\0\x01\0\x01\0\0\x02\x02D\x01\0;"
        .to_vec()
}

/// A 1 × 1 lossy WebP.
pub fn webp() -> Vec<u8> {
    b"RIFF\x22\0\0\0WEBPVP8 \x16\0\0\0\x30\x01\0\x9d\x01\x2a\x01\0\x01\0\x0e\xc0\xfe\x25\xa4\0\x03\x70\0\0\0\0"
        .to_vec()
}

/// The start of a HEIC file (the browser cannot decode HEIC anyway).
pub fn heic() -> Vec<u8> {
    let mut b = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic".to_vec();
    b.extend_from_slice(&[0u8; 512]);
    b
}

/// The same PNG with its image data replaced by bytes that do not inflate.
pub fn png_corrupt(width: u32, height: u32) -> Vec<u8> {
    let mut b = png(width, height);
    // IDAT data starts after signature (8) + IHDR chunk (25) + IDAT length and type (8).
    let start = 8 + 25 + 8;
    for (i, byte) in b[start..start + 64].iter_mut().enumerate() {
        *byte = 0xA5 ^ i as u8;
    }
    b
}

/// Every case the tests check, with the rules it must break.
pub fn catalogue() -> Vec<Fixture> {
    vec![
        Fixture {
            name: "valid.png",
            make: || png(640, 480),
            broken: &[],
            size: Some((640, 480)),
        },
        Fixture {
            name: "valid.jpg",
            make: || jpeg(800, 600, None),
            broken: &[],
            size: Some((800, 600)),
        },
        Fixture {
            name: "exactly-300.png",
            make: || png(300, 300),
            broken: &[],
            size: Some((300, 300)),
        },
        Fixture {
            name: "ratio-1-2.5.png",
            make: || png(300, 750),
            broken: &[],
            size: Some((300, 750)),
        },
        Fixture {
            name: "ratio-2.5-1.png",
            make: || png(750, 300),
            broken: &[],
            size: Some((750, 300)),
        },
        Fixture {
            name: "exactly-10mib.png",
            make: || png_padded_to(400, 400, TEN_MIB),
            broken: &[],
            size: Some((400, 400)),
        },
        // Stored 600 × 400, EXIF orientation 6 (turn 90°): shown 400 × 600.
        Fixture {
            name: "exif-rotated.jpg",
            make: || jpeg(600, 400, Some(6)),
            broken: &[],
            size: Some((400, 600)),
        },
        Fixture {
            name: "gif-named.png",
            make: || gif(),
            broken: &["File type", "Minimum size"],
            size: Some((1, 1)),
        },
        Fixture {
            name: "webp-named.jpg",
            make: webp,
            broken: &["File type", "Minimum size"],
            size: Some((1, 1)),
        },
        Fixture {
            name: "heic-named.jpg",
            make: heic,
            broken: &["File type"],
            size: None,
        },
        Fixture {
            name: "text-named.jpg",
            make: || b"This is a text file, not a photo.\n".to_vec(),
            broken: &["File type"],
            size: None,
        },
        Fixture {
            name: "svg-named.png",
            make: || {
                br#"<svg xmlns="http://www.w3.org/2000/svg" width="900" height="900"><script>alert(1)</script></svg>"#.to_vec()
            },
            broken: &["File type"],
            size: None,
        },
        Fixture {
            name: "empty.png",
            make: || Vec::new(),
            broken: &["File type"],
            size: None,
        },
        Fixture {
            name: "too-big.jpg",
            make: || jpeg_padded_to(1200, 900, TEN_MIB + 1),
            broken: &["File size"],
            size: Some((1200, 900)),
        },
        Fixture {
            name: "too-small.png",
            make: || png(299, 400),
            broken: &["Minimum size"],
            size: Some((299, 400)),
        },
        Fixture {
            name: "too-wide.png",
            make: || png(1000, 300),
            broken: &["Aspect ratio"],
            size: Some((1000, 300)),
        },
        Fixture {
            name: "narrow-and-small.png",
            make: || png(280, 900),
            broken: &["Minimum size", "Aspect ratio"],
            size: Some((280, 900)),
        },
        Fixture {
            name: "corrupt.png",
            make: || png_corrupt(640, 480),
            broken: &["Readable image"],
            size: None,
        },
        Fixture {
            name: "truncated.jpg",
            make: || jpeg(800, 600, None)[..200].to_vec(),
            broken: &["Readable image"],
            size: None,
        },
        // ---- the hostile corpus: every EXIF orientation on a 600 × 400 photo ----
        Fixture {
            name: "exif-1.jpg",
            make: || jpeg(600, 400, Some(1)),
            broken: &[],
            size: Some((600, 400)),
        },
        Fixture {
            name: "exif-2.jpg",
            make: || jpeg(600, 400, Some(2)),
            broken: &[],
            size: Some((600, 400)),
        },
        Fixture {
            name: "exif-3.jpg",
            make: || jpeg(600, 400, Some(3)),
            broken: &[],
            size: Some((600, 400)),
        },
        Fixture {
            name: "exif-4.jpg",
            make: || jpeg(600, 400, Some(4)),
            broken: &[],
            size: Some((600, 400)),
        },
        Fixture {
            name: "exif-5.jpg",
            make: || jpeg(600, 400, Some(5)),
            broken: &[],
            size: Some((400, 600)),
        },
        Fixture {
            name: "exif-6.jpg",
            make: || jpeg(600, 400, Some(6)),
            broken: &[],
            size: Some((400, 600)),
        },
        Fixture {
            name: "exif-7.jpg",
            make: || jpeg(600, 400, Some(7)),
            broken: &[],
            size: Some((400, 600)),
        },
        Fixture {
            name: "exif-8.jpg",
            make: || jpeg(600, 400, Some(8)),
            broken: &[],
            size: Some((400, 600)),
        },
        // ---- JPEG and PNG variants that are fine ----
        Fixture {
            name: "grayscale.jpg",
            make: || jpeg_kind(640, 480, "gray"),
            broken: &[],
            size: Some((640, 480)),
        },
        Fixture {
            name: "cmyk.jpg",
            make: || jpeg_kind(640, 480, "cmyk"),
            broken: &[],
            size: Some((640, 480)),
        },
        Fixture {
            name: "progressive.jpg",
            make: || jpeg_kind(640, 480, "progressive"),
            broken: &[],
            size: Some((640, 480)),
        },
        Fixture {
            name: "16-bit.png",
            make: || png_16bit(400, 320),
            broken: &[],
            size: Some((400, 320)),
        },
        Fixture {
            name: "palette.png",
            make: || png_palette(480, 360),
            broken: &[],
            size: Some((480, 360)),
        },
        Fixture {
            name: "interlaced.png",
            make: || png_interlaced(420, 340),
            broken: &[],
            size: Some((420, 340)),
        },
        Fixture {
            name: "animated.png",
            make: || apng(400, 400),
            broken: &[],
            size: Some((400, 400)),
        },
        Fixture {
            name: "polyglot-zip.png",
            make: png_zip_polyglot,
            broken: &[],
            size: Some((640, 480)),
        },
        // ---- damaged, lying, hostile ----
        // Chromium decodes arithmetic coding, so the browser opens it: accepted.
        Fixture {
            name: "arithmetic.jpg",
            make: || jpeg_arithmetic(640, 480),
            broken: &[],
            size: Some((640, 480)),
        },
        Fixture {
            name: "png-cut-at-8.png",
            make: || png(640, 480)[..8].to_vec(),
            broken: &["Readable image"],
            size: None,
        },
        Fixture {
            name: "png-cut-at-30.png",
            make: || png(640, 480)[..30].to_vec(),
            broken: &["Readable image"],
            size: None,
        },
        Fixture {
            name: "png-cut-in-data.png",
            make: || png(640, 480)[..5_000].to_vec(),
            broken: &["Readable image"],
            size: None,
        },
        // Two bytes are too few to tell a JPEG (FF D8 FF): not a recognised image.
        Fixture {
            name: "jpeg-cut-at-2.jpg",
            make: || jpeg(800, 600, None)[..2].to_vec(),
            broken: &["File type"],
            size: None,
        },
        Fixture {
            name: "jpeg-cut-at-600.jpg",
            make: || jpeg(800, 600, None)[..600].to_vec(),
            broken: &["Readable image"],
            size: None,
        },
        Fixture {
            name: "bad-crc.png",
            make: || png_bad_crc(640, 480),
            broken: &["Readable image"],
            size: None,
        },
        Fixture {
            name: "header-lies.png",
            make: || png_lying(640, 480, (5000, 5000)),
            broken: &["Readable image"],
            size: None,
        },
        Fixture {
            name: "bomb.png",
            make: || png_bomb(100_000),
            broken: &["Readable image"],
            size: Some((100_000, 100_000)),
        },
        Fixture {
            name: "bomb.jpg",
            make: jpeg_bomb,
            broken: &["Readable image"],
            size: Some((65_000, 65_000)),
        },
        // ---- not PNG or JPEG, whatever the name ----
        Fixture {
            name: "html-named.png",
            make: || b"<!doctype html><html><body><script>alert(1)</script></body></html>".to_vec(),
            broken: &["File type"],
            size: None,
        },
        Fixture {
            name: "bmp-named.jpg",
            make: bmp,
            broken: &["File type", "Minimum size"],
            size: Some((1, 1)),
        },
        Fixture {
            name: "tiff-named.jpg",
            make: tiff,
            broken: &["File type"],
            size: None,
        },
        Fixture {
            name: "avif-named.jpg",
            make: avif,
            broken: &["File type"],
            size: None,
        },
        Fixture {
            name: "gif-named.jpg",
            make: gif,
            broken: &["File type", "Minimum size"],
            size: Some((1, 1)),
        },
        Fixture {
            name: "one-byte.jpg",
            make: || vec![0xFF],
            broken: &["File type"],
            size: None,
        },
    ]
}

/// The fixture of that name.
pub fn by_name(name: &str) -> Option<Fixture> {
    catalogue().into_iter().find(|f| f.name == name)
}
