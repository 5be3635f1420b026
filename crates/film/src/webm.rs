//! The WebM file, for a browser that offers no H.264 encoder: one VP9 track, a cluster
//! per key frame. As with [`crate::mp4`], the file is pieces of this module's bytes
//! between the encoder's samples as they are ([`Piece`]).

use crate::mp4::Sample;
use crate::timeline::{frame_micros, FPS};

/// One piece of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Bytes this module wrote.
    Own(Vec<u8>),
    /// The sample at this place, as the encoder gave it.
    Sample(usize),
}

/// An EBML variable-length size, in the fewest bytes.
fn size(n: u64) -> Vec<u8> {
    let mut len = 1;
    while len < 8 && n >= (1u64 << (7 * len)) - 1 {
        len += 1;
    }
    let marked = n | (1u64 << (7 * len));
    marked.to_be_bytes()[8 - len..].to_vec()
}

fn element(id: &[u8], body: &[u8]) -> Vec<u8> {
    [id, &size(body.len() as u64), body].concat()
}

fn uint(id: &[u8], n: u64) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let skip = bytes.iter().take(7).take_while(|&&b| b == 0).count();
    element(id, &bytes[skip..])
}

/// The file: `samples` are the VP9 frames, one per frame at [`FPS`].
pub fn pieces(width: u16, height: u16, samples: &[Sample]) -> Vec<Piece> {
    let ebml = element(
        &[0x1A, 0x45, 0xDF, 0xA3],
        &[
            uint(&[0x42, 0x86], 1),
            uint(&[0x42, 0xF7], 1),
            uint(&[0x42, 0xF2], 4),
            uint(&[0x42, 0xF3], 8),
            element(&[0x42, 0x82], b"webm"),
            uint(&[0x42, 0x87], 4),
            uint(&[0x42, 0x85], 2),
        ]
        .concat(),
    );
    let duration_ms = frame_micros(samples.len() as u32) as f64 / 1000.0;
    let info = element(
        &[0x15, 0x49, 0xA9, 0x66],
        &[
            uint(&[0x2A, 0xD7, 0xB1], 1_000_000), // milliseconds
            element(&[0x44, 0x89], &duration_ms.to_be_bytes()),
            element(&[0x4D, 0x80], b"Multi-Shot Studio"),
            element(&[0x57, 0x41], b"Multi-Shot Studio"),
        ]
        .concat(),
    );
    let tracks = element(
        &[0x16, 0x54, 0xAE, 0x6B],
        &element(
            &[0xAE],
            &[
                uint(&[0xD7], 1),
                uint(&[0x73, 0xC5], 1),
                uint(&[0x83], 1), // video
                element(&[0x86], b"V_VP9"),
                uint(&[0x23, 0xE3, 0x83], 1_000_000_000 / u64::from(FPS)),
                element(
                    &[0xE0],
                    &[
                        uint(&[0xB0], u64::from(width)),
                        uint(&[0xBA], u64::from(height)),
                    ]
                    .concat(),
                ),
            ]
            .concat(),
        ),
    );
    // Clusters: one from each key frame to the next.
    let mut clusters: Vec<Vec<Piece>> = Vec::new();
    let mut cluster_ms = 0u64;
    for (n, sample) in samples.iter().enumerate() {
        let ms = frame_micros(n as u32) / 1000;
        // A block's time is 16 bits from its cluster's: a new cluster well before.
        if sample.key || clusters.is_empty() || ms - cluster_ms > 30_000 {
            cluster_ms = ms;
            clusters.push(vec![Piece::Own(uint(&[0xE7], ms))]);
        }
        let mut head = vec![0x81]; // track 1
        head.extend_from_slice(&((ms - cluster_ms) as i16).to_be_bytes());
        head.push(if sample.key { 0x80 } else { 0 });
        let block_size = head.len() as u64 + u64::from(sample.size);
        let mut own = vec![0xA3];
        own.extend(size(block_size));
        own.extend(head);
        if let Some(cluster) = clusters.last_mut() {
            cluster.push(Piece::Own(own));
            cluster.push(Piece::Sample(n));
        }
    }
    let length = |pieces: &[Piece]| -> u64 {
        pieces
            .iter()
            .map(|p| match p {
                Piece::Own(b) => b.len() as u64,
                Piece::Sample(n) => u64::from(samples[*n].size),
            })
            .sum()
    };
    let mut body: Vec<Piece> = vec![Piece::Own([info, tracks].concat())];
    for cluster in clusters {
        let mut own = vec![0x1F, 0x43, 0xB6, 0x75];
        own.extend(size(length(&cluster)));
        body.push(Piece::Own(own));
        body.extend(cluster);
    }
    let mut segment = vec![0x18, 0x53, 0x80, 0x67];
    segment.extend(size(length(&body)));
    let mut out = vec![Piece::Own([ebml, segment].concat())];
    out.extend(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a size back.
    fn read_size(b: &[u8]) -> (u64, usize) {
        let len = b[0].leading_zeros() as usize + 1;
        let mut n = u64::from(b[0]) & ((1 << (8 - len)) - 1);
        for &byte in &b[1..len] {
            n = (n << 8) | u64::from(byte);
        }
        (n, len)
    }

    #[test]
    fn sizes_round_trip_in_the_fewest_bytes() {
        for n in [0u64, 1, 126, 127, 128, 16_382, 16_383, 1 << 20, 1 << 40] {
            let b = size(n);
            assert_eq!(read_size(&b), (n, b.len()), "{n}");
        }
        assert_eq!(size(5), [0x85]);
        // 127 is "unknown" in one byte: two bytes then.
        assert_eq!(size(127), [0x40, 0x7F]);
    }

    #[test]
    fn the_file_is_its_header_clusters_and_every_sample_in_order() {
        let samples: Vec<Sample> = (0..75)
            .map(|n| Sample {
                size: 50,
                key: n % 30 == 0,
            })
            .collect();
        let pieces = pieces(640, 360, &samples);
        let order: Vec<usize> = pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Sample(n) => Some(*n),
                _ => None,
            })
            .collect();
        assert_eq!(order, (0..75).collect::<Vec<_>>());
        let bytes: Vec<u8> = pieces
            .iter()
            .flat_map(|p| match p {
                Piece::Own(b) => b.clone(),
                Piece::Sample(n) => vec![0; samples[*n].size as usize],
            })
            .collect();
        assert_eq!(&bytes[..4], &[0x1A, 0x45, 0xDF, 0xA3]);
        // The segment's size is the rest of the file.
        let (ebml_size, len) = read_size(&bytes[4..]);
        let segment = 4 + len + ebml_size as usize;
        assert_eq!(&bytes[segment..segment + 4], &[0x18, 0x53, 0x80, 0x67]);
        let (seg_size, len) = read_size(&bytes[segment + 4..]);
        assert_eq!(segment + 4 + len + seg_size as usize, bytes.len());
        // Three key frames: three clusters.
        let clusters = bytes
            .windows(4)
            .filter(|w| w == &[0x1F, 0x43, 0xB6, 0x75])
            .count();
        assert_eq!(clusters, 3);
    }
}
