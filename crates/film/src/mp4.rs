//! The MP4 file: one H.264 video track, written with its index (`moov`) before the media
//! (`mdat`), so that it starts playing while it downloads and social platforms take it
//! as it is ("fast start"). The samples are the encoder's as they are (length-prefixed,
//! `avcC` from WebCodecs' `decoderConfig.description`); the file is the header this
//! module writes followed by every sample in order, so the page hands the browser the
//! pieces and never copies the media into one buffer.
//!
//! Written by hand (about 200 lines): the crates offered (`muxide`, `shiguredo_mp4`,
//! `mp4`) were measured in docs/performance.md.

use crate::timeline::FPS;

/// What the film's track is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Track {
    /// Frame width in pixels.
    pub width: u16,
    /// Frame height in pixels.
    pub height: u16,
    /// The `avcC` box's body (AVCDecoderConfigurationRecord).
    pub avcc: Vec<u8>,
}

/// One encoded frame, in presentation (= decoding: no B-frames) order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Its size in bytes.
    pub size: u32,
    /// Whether it is a key frame (a sync sample).
    pub key: bool,
}

/// Why no file could be written.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Mp4Error {
    /// Nothing was encoded.
    #[error("the film has no frames")]
    Empty,
    /// The first frame cannot start playback.
    #[error("the film's first frame is not a key frame")]
    NoKeyFrame,
    /// Over 4 GiB: far past any film this page makes.
    #[error("the film is too large for one file")]
    TooLarge,
}

/// The media's time units per second: a frame is [`TICKS`] of them.
pub const TIMESCALE: u32 = FPS * 1000;
/// A frame's duration in [`TIMESCALE`] units.
pub const TICKS: u32 = 1000;
/// The movie header's time units per second (milliseconds).
const MOVIE_TIMESCALE: u32 = 1000;

fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 8);
    out.extend_from_slice(&((body.len() + 8) as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    out
}

/// A "full box": version 0 and `flags` before the body.
fn full(kind: &[u8; 4], flags: u32, body: &[u8]) -> Vec<u8> {
    let mut with = flags.to_be_bytes().to_vec();
    with[0] = 0;
    with.extend_from_slice(body);
    boxed(kind, &with)
}

fn be32(out: &mut Vec<u8>, n: u32) {
    out.extend_from_slice(&n.to_be_bytes());
}

fn be16(out: &mut Vec<u8>, n: u16) {
    out.extend_from_slice(&n.to_be_bytes());
}

/// The identity matrix of `mvhd` and `tkhd`.
fn matrix(out: &mut Vec<u8>) {
    for n in [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000u32] {
        be32(out, n);
    }
}

fn concat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

/// The file's start: `ftyp`, `moov` and the `mdat` header. The file is this followed by
/// every sample's bytes in order.
pub fn header(track: &Track, samples: &[Sample]) -> Result<Vec<u8>, Mp4Error> {
    if samples.is_empty() {
        return Err(Mp4Error::Empty);
    }
    if !samples[0].key {
        return Err(Mp4Error::NoKeyFrame);
    }
    let media: u64 = samples.iter().map(|s| u64::from(s.size)).sum();
    let ftyp = {
        let mut b = b"isom".to_vec();
        be32(&mut b, 0x200);
        for brand in [b"isom", b"iso2", b"avc1", b"mp41"] {
            b.extend_from_slice(brand);
        }
        boxed(b"ftyp", &b)
    };
    // The index does not change size with the offset it holds: written once to learn its
    // size, then again with the media's offset.
    let first = moov(track, samples, 0);
    let offset = ftyp.len() + first.len() + 8;
    let offset = u32::try_from(offset).map_err(|_| Mp4Error::TooLarge)?;
    let moov = moov(track, samples, offset);
    let mdat_size = u32::try_from(media + 8).map_err(|_| Mp4Error::TooLarge)?;
    if u64::from(offset) + media > u64::from(u32::MAX) {
        return Err(Mp4Error::TooLarge);
    }
    let mut out = concat(&[ftyp, moov]);
    be32(&mut out, mdat_size);
    out.extend_from_slice(b"mdat");
    Ok(out)
}

fn moov(track: &Track, samples: &[Sample], offset: u32) -> Vec<u8> {
    let frames = samples.len() as u32;
    let media_duration = frames * TICKS;
    let movie_duration =
        (u64::from(media_duration) * u64::from(MOVIE_TIMESCALE) / u64::from(TIMESCALE)) as u32;

    let mvhd = {
        let mut b = Vec::new();
        be32(&mut b, 0); // created
        be32(&mut b, 0); // modified
        be32(&mut b, MOVIE_TIMESCALE);
        be32(&mut b, movie_duration);
        be32(&mut b, 0x0001_0000); // rate 1.0
        be16(&mut b, 0x0100); // volume 1.0
        b.extend_from_slice(&[0; 10]);
        matrix(&mut b);
        b.extend_from_slice(&[0; 24]); // pre_defined
        be32(&mut b, 2); // next track id
        full(b"mvhd", 0, &b)
    };
    let tkhd = {
        let mut b = Vec::new();
        be32(&mut b, 0);
        be32(&mut b, 0);
        be32(&mut b, 1); // track id
        be32(&mut b, 0);
        be32(&mut b, movie_duration);
        b.extend_from_slice(&[0; 8]);
        be16(&mut b, 0); // layer
        be16(&mut b, 0); // alternate group
        be16(&mut b, 0); // volume: video
        be16(&mut b, 0);
        matrix(&mut b);
        be32(&mut b, u32::from(track.width) << 16);
        be32(&mut b, u32::from(track.height) << 16);
        full(b"tkhd", 3, &b) // enabled, in movie
    };
    let mdhd = {
        let mut b = Vec::new();
        be32(&mut b, 0);
        be32(&mut b, 0);
        be32(&mut b, TIMESCALE);
        be32(&mut b, media_duration);
        be16(&mut b, 0x55c4); // "und"
        be16(&mut b, 0);
        full(b"mdhd", 0, &b)
    };
    let hdlr = {
        let mut b = Vec::new();
        be32(&mut b, 0);
        b.extend_from_slice(b"vide");
        b.extend_from_slice(&[0; 12]);
        b.extend_from_slice(b"VideoHandler\0");
        full(b"hdlr", 0, &b)
    };
    let vmhd = full(b"vmhd", 1, &[0; 8]);
    let dinf = boxed(
        b"dinf",
        &full(b"dref", 0, &{
            let mut b = Vec::new();
            be32(&mut b, 1);
            b.extend_from_slice(&full(b"url ", 1, &[]));
            b
        }),
    );
    let avc1 = {
        let mut b = vec![0; 6];
        be16(&mut b, 1); // data reference index
        b.extend_from_slice(&[0; 16]);
        be16(&mut b, track.width);
        be16(&mut b, track.height);
        be32(&mut b, 0x0048_0000); // 72 dpi
        be32(&mut b, 0x0048_0000);
        be32(&mut b, 0);
        be16(&mut b, 1); // frames per sample
        b.extend_from_slice(&[0; 32]); // compressor name
        be16(&mut b, 0x0018); // depth
        be16(&mut b, 0xffff);
        b.extend_from_slice(&boxed(b"avcC", &track.avcc));
        boxed(b"avc1", &b)
    };
    let stsd = full(b"stsd", 0, &[1u32.to_be_bytes().to_vec(), avc1].concat());
    let stts = {
        let mut b = Vec::new();
        be32(&mut b, 1);
        be32(&mut b, frames);
        be32(&mut b, TICKS);
        full(b"stts", 0, &b)
    };
    let stss = {
        let keys: Vec<u32> = (1..=frames)
            .zip(samples)
            .filter(|(_, s)| s.key)
            .map(|(n, _)| n)
            .collect();
        let mut b = Vec::new();
        be32(&mut b, keys.len() as u32);
        for n in keys {
            be32(&mut b, n);
        }
        full(b"stss", 0, &b)
    };
    // One chunk holding every sample, at the media's start.
    let stsc = {
        let mut b = Vec::new();
        for n in [1, 1, frames, 1] {
            be32(&mut b, n);
        }
        full(b"stsc", 0, &b)
    };
    let stsz = {
        let mut b = Vec::new();
        be32(&mut b, 0);
        be32(&mut b, frames);
        for s in samples {
            be32(&mut b, s.size);
        }
        full(b"stsz", 0, &b)
    };
    let stco = {
        let mut b = Vec::new();
        be32(&mut b, 1);
        be32(&mut b, offset);
        full(b"stco", 0, &b)
    };
    let stbl = boxed(b"stbl", &concat(&[stsd, stts, stss, stsc, stsz, stco]));
    let minf = boxed(b"minf", &concat(&[vmhd, dinf, stbl]));
    let mdia = boxed(b"mdia", &concat(&[mdhd, hdlr, minf]));
    let trak = boxed(b"trak", &concat(&[tkhd, mdia]));
    boxed(b"moov", &concat(&[mvhd, trak]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The boxes at one level: (kind, body).
    fn boxes(mut bytes: &[u8]) -> Vec<(String, &[u8])> {
        let mut out = Vec::new();
        while bytes.len() >= 8 {
            let size = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
            let kind = String::from_utf8_lossy(&bytes[4..8]).into_owned();
            let end = size.min(bytes.len());
            out.push((kind, &bytes[8..end]));
            bytes = &bytes[end..];
        }
        out
    }

    fn child<'a>(body: &'a [u8], path: &[&str]) -> &'a [u8] {
        let mut at = body;
        for kind in path {
            at = boxes(at)
                .into_iter()
                .find(|(k, _)| k == kind)
                .unwrap_or_else(|| panic!("no {kind}"))
                .1;
        }
        at
    }

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
    }

    fn film(samples: &[Sample]) -> Vec<u8> {
        let track = Track {
            width: 1080,
            height: 1920,
            avcc: vec![1, 0x64, 0, 0x28, 0xff, 0xe1, 0, 0],
        };
        let mut file = header(&track, samples).unwrap();
        for (n, s) in samples.iter().enumerate() {
            file.extend(std::iter::repeat_n(n as u8, s.size as usize));
        }
        file
    }

    #[test]
    fn the_index_comes_before_the_media() {
        let samples = [
            Sample {
                size: 10,
                key: true,
            },
            Sample {
                size: 3,
                key: false,
            },
        ];
        let file = film(&samples);
        let kinds: Vec<_> = boxes(&file).into_iter().map(|(k, _)| k).collect();
        assert_eq!(kinds, ["ftyp", "moov", "mdat"]);
        // mdat holds exactly the samples.
        let (_, mdat) = boxes(&file).pop().unwrap();
        assert_eq!(mdat.len(), 13);
    }

    #[test]
    fn the_sample_tables_point_at_each_sample() {
        let samples: Vec<Sample> = (0..90)
            .map(|n| Sample {
                size: 100 + n,
                key: n % 60 == 0,
            })
            .collect();
        let file = film(&samples);
        let (_, moov) = boxes(&file).into_iter().find(|(k, _)| k == "moov").unwrap();
        let stbl = child(moov, &["trak", "mdia", "minf", "stbl"]);
        // Full boxes: 4 bytes of version and flags first.
        let stts = &child(stbl, &["stts"])[4..];
        assert_eq!(
            (u32_at(stts, 0), u32_at(stts, 4), u32_at(stts, 8)),
            (1, 90, TICKS)
        );
        let stss = &child(stbl, &["stss"])[4..];
        assert_eq!(
            (u32_at(stss, 0), u32_at(stss, 4), u32_at(stss, 8)),
            (2, 1, 61)
        );
        let stsz = &child(stbl, &["stsz"])[4..];
        assert_eq!(u32_at(stsz, 4), 90);
        for n in 0..90 {
            assert_eq!(u32_at(stsz, 8 + 4 * n), 100 + n as u32);
        }
        let stco = &child(stbl, &["stco"])[4..];
        let offset = u32_at(stco, 4) as usize;
        // The first sample's bytes are at the offset; the last one's end the file.
        assert_eq!(&file[offset..offset + 100], &[0u8; 100][..]);
        let total: usize = samples.iter().map(|s| s.size as usize).sum();
        assert_eq!(offset + total, file.len());
        assert_eq!(file[file.len() - 1], 89);
        // Three seconds at 30 fps.
        let mdhd = &child(moov, &["trak", "mdia", "mdhd"])[4..];
        assert_eq!((u32_at(mdhd, 8), u32_at(mdhd, 12)), (TIMESCALE, 90 * TICKS));
        let mvhd = &child(moov, &["mvhd"])[4..];
        assert_eq!((u32_at(mvhd, 8), u32_at(mvhd, 12)), (1000, 3000));
        let tkhd = &child(moov, &["trak", "tkhd"])[4..];
        assert_eq!(
            (u32_at(tkhd, 72) >> 16, u32_at(tkhd, 76) >> 16),
            (1080, 1920)
        );
        let stsd = &child(stbl, &["stsd"])[4..];
        let avc1 = child(&stsd[4..], &["avc1"]);
        assert_eq!(
            child(&avc1[78..], &["avcC"]),
            &[1, 0x64, 0, 0x28, 0xff, 0xe1, 0, 0]
        );
    }

    #[test]
    fn a_film_starts_on_a_key_frame() {
        let track = Track {
            width: 2,
            height: 2,
            avcc: vec![],
        };
        assert_eq!(header(&track, &[]), Err(Mp4Error::Empty));
        assert_eq!(
            header(
                &track,
                &[Sample {
                    size: 1,
                    key: false
                }]
            ),
            Err(Mp4Error::NoKeyFrame)
        );
    }
}
