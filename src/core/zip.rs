//! A zip archive of files stored as they are (no compression: video is compressed
//! already), for **Download all**. The format is the plain one every unzip reads: a
//! local header and the data per file, then the central directory and its end record.

/// CRC-32 (IEEE 802.3, as zip uses), bit by bit: a table would be a kilobyte of page for
/// a few megabytes hashed once on a click.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// 1 January 1980, 00:00, the earliest time a zip can hold (the shots have no other).
const DOS_TIME: u16 = 0;
const DOS_DATE: u16 = (1 << 5) | 1;

fn push16(out: &mut Vec<u8>, n: u16) {
    out.extend_from_slice(&n.to_le_bytes());
}

fn push32(out: &mut Vec<u8>, n: u32) {
    out.extend_from_slice(&n.to_le_bytes());
}

/// The fields a local header and its central directory entry share, from "version
/// needed" to the name's length.
fn common(out: &mut Vec<u8>, crc: u32, size: u32, name_len: u16) {
    push16(out, 20); // version needed: 2.0
    push16(out, 1 << 11); // flags: the name is UTF-8
    push16(out, 0); // method: stored
    push16(out, DOS_TIME);
    push16(out, DOS_DATE);
    push32(out, crc);
    push32(out, size); // compressed size
    push32(out, size); // size
    push16(out, name_len);
}

/// Why files cannot be put in one archive.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ZipError {
    /// More than the plain format holds (4 GiB, 65,535 files or a long name).
    #[error("the files are too large to put in one zip")]
    TooLarge,
}

/// An archive of `files` (name, bytes), in order, stored uncompressed.
pub fn zip(files: &[(String, Vec<u8>)]) -> Result<Vec<u8>, ZipError> {
    let mut writer = ZipWriter::new();
    let mut out = Vec::new();
    for (name, bytes) in files {
        out.extend_from_slice(&writer.entry(name, crc32(bytes), bytes.len() as u64)?);
        out.extend_from_slice(bytes);
    }
    out.extend_from_slice(&writer.finish()?);
    Ok(out)
}

/// An archive written a file at a time, without holding the files (**Download all
/// results** of a batch: the page puts each header beside the file's own `Blob`, so the
/// shots of 200 photos never sit in memory at once): [`ZipWriter::entry`] gives the
/// header that goes before a file's bytes, [`ZipWriter::finish`] what ends the archive.
#[derive(Debug, Default)]
pub struct ZipWriter {
    /// Bytes written so far.
    written: u64,
    /// The central directory so far.
    directory: Vec<u8>,
    /// Files so far.
    count: u16,
}

impl ZipWriter {
    /// An empty archive.
    pub fn new() -> Self {
        Self::default()
    }

    /// The local header of a file named `name` of `size` bytes whose CRC-32 is `crc`;
    /// the file's bytes go right after it.
    pub fn entry(&mut self, name: &str, crc: u32, size: u64) -> Result<Vec<u8>, ZipError> {
        let offset = u32::try_from(self.written).map_err(|_| ZipError::TooLarge)?;
        let size = u32::try_from(size).map_err(|_| ZipError::TooLarge)?;
        let name_len = u16::try_from(name.len()).map_err(|_| ZipError::TooLarge)?;
        self.count = self.count.checked_add(1).ok_or(ZipError::TooLarge)?;
        let mut out = Vec::with_capacity(30 + name.len());
        push32(&mut out, 0x0403_4b50);
        common(&mut out, crc, size, name_len);
        push16(&mut out, 0); // extra field length
        out.extend_from_slice(name.as_bytes());

        let directory = &mut self.directory;
        push32(directory, 0x0201_4b50);
        push16(directory, 20); // made by: 2.0
        common(directory, crc, size, name_len);
        push16(directory, 0); // extra field length
        push16(directory, 0); // comment length
        push16(directory, 0); // disk number
        push16(directory, 0); // internal attributes
        push32(directory, 0); // external attributes
        push32(directory, offset);
        directory.extend_from_slice(name.as_bytes());
        self.written += out.len() as u64 + u64::from(size);
        Ok(out)
    }

    /// The central directory and the end record.
    pub fn finish(self) -> Result<Vec<u8>, ZipError> {
        let directory_at = u32::try_from(self.written).map_err(|_| ZipError::TooLarge)?;
        let directory_len = u32::try_from(self.directory.len()).map_err(|_| ZipError::TooLarge)?;
        // The end record's offset must be a u32 too.
        u32::try_from(self.written + u64::from(directory_len)).map_err(|_| ZipError::TooLarge)?;
        let mut out = self.directory;
        push32(&mut out, 0x0605_4b50);
        push16(&mut out, 0); // this disk
        push16(&mut out, 0); // the directory's disk
        push16(&mut out, self.count);
        push16(&mut out, self.count);
        push32(&mut out, directory_len);
        push32(&mut out, directory_at);
        push16(&mut out, 0); // comment length
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn u16_at(b: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([b[at], b[at + 1]])
    }

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    /// Reads an archive back as an unzip would: from the end record through the central
    /// directory to each local header, checking that both agree and the CRCs hold.
    fn unzip(archive: &[u8]) -> Vec<(String, Vec<u8>)> {
        let end = archive.len() - 22;
        assert_eq!(u32_at(archive, end), 0x0605_4b50, "end record");
        let count = usize::from(u16_at(archive, end + 10));
        let mut at = u32_at(archive, end + 16) as usize;
        let mut files = Vec::new();
        for _ in 0..count {
            assert_eq!(u32_at(archive, at), 0x0201_4b50, "directory entry");
            let crc = u32_at(archive, at + 16);
            let size = u32_at(archive, at + 24) as usize;
            let name_len = usize::from(u16_at(archive, at + 28));
            let local = u32_at(archive, at + 42) as usize;
            let name = String::from_utf8(archive[at + 46..at + 46 + name_len].to_vec()).unwrap();
            assert_eq!(u32_at(archive, local), 0x0403_4b50, "local header");
            assert_eq!(u16_at(archive, local + 8), 0, "stored");
            assert_eq!(u32_at(archive, local + 14), crc);
            let data_at = local + 30 + usize::from(u16_at(archive, local + 26));
            let data = archive[data_at..data_at + size].to_vec();
            assert_eq!(crc32(&data), crc);
            files.push((name, data));
            at += 46 + name_len;
        }
        files
    }

    #[test]
    fn crc32_matches_the_standard_check_values() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b"hello"), 0x3610_A686);
    }

    #[test]
    fn an_archive_of_shots_reads_back_whole() {
        let files = vec![
            ("shot-1.mp4".to_owned(), b"first".to_vec()),
            ("shot-2.mp4".to_owned(), Vec::new()),
            ("shot-3.mp4".to_owned(), vec![0u8; 70_000]),
        ];
        let archive = zip(&files).unwrap();
        assert_eq!(&archive[..4], b"PK\x03\x04");
        assert_eq!(unzip(&archive), files);
        assert_eq!(
            zip(&[]).unwrap().len(),
            22,
            "an empty archive is its end record"
        );
    }

    #[test]
    fn an_archive_past_four_gibibytes_is_refused_not_wrapped() {
        let mut writer = ZipWriter::new();
        writer
            .entry("a/shot-1.jpg", 0, u64::from(u32::MAX) - 10)
            .unwrap();
        assert_eq!(writer.entry("b/shot-1.jpg", 0, 10), Err(ZipError::TooLarge));
        assert_eq!(
            ZipWriter::new().entry("big", 0, u64::from(u32::MAX) + 1),
            Err(ZipError::TooLarge)
        );
    }

    proptest! {
        #[test]
        fn any_files_read_back_as_they_went_in(
            files in proptest::collection::vec(("[a-z0-9é._-]{1,20}", proptest::collection::vec(any::<u8>(), 0..300)), 0..6)
        ) {
            let archive = zip(&files).unwrap();
            prop_assert_eq!(unzip(&archive), files);
        }
    }
}
