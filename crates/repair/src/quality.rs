//! The JPEG quality of a repaired file: the highest that fits 10 MiB, found by
//! [`QualitySearch`] — on the image itself, or for a large one on a [`Sample`] of its
//! blocks first, so that the image is encoded once (plain arithmetic; the canvas work is
//! in [`crate::canvas`]).

use multishot_rules::rules::MAX_FILE_BYTES;
use multishot_rules::sniff::Dimensions;

use crate::plan::{pixels, Rect};

/// The JPEG qualities tried for a repaired file, in percent: the highest that fits.
pub const QUALITY_RANGE: (u8, u8) = (50, 95);

/// A search for the highest JPEG quality whose file fits a limit (10 MiB unless said):
/// the top first (most images fit at once), then halving the range down to 50 % — at
/// most seven encodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QualitySearch {
    low: u8,
    high: u8,
    top: u8,
    limit: u64,
    /// The highest quality seen to fit.
    pub best: Option<u8>,
}

impl Default for QualitySearch {
    fn default() -> Self {
        Self::within(MAX_FILE_BYTES)
    }
}

impl QualitySearch {
    /// A search over the whole [`QUALITY_RANGE`] for files of at most `limit` bytes.
    pub fn within(limit: u64) -> Self {
        Self {
            low: QUALITY_RANGE.0,
            high: QUALITY_RANGE.1,
            top: QUALITY_RANGE.1,
            limit,
            best: None,
        }
    }

    /// The same search starting at `quality` (a prediction) instead of the top: one
    /// encode when the prediction fits, a search below it when it does not.
    pub fn from(self, quality: u8) -> Self {
        let top = quality.clamp(QUALITY_RANGE.0, QUALITY_RANGE.1);
        Self {
            high: top,
            top,
            ..self
        }
    }

    /// The next quality to try, or `None` when the search is over (then [`best`](Self::best)
    /// is the answer, or none fits).
    pub fn next(&self) -> Option<u8> {
        (self.low <= self.high).then(|| {
            if self.best.is_none() && self.high == self.top {
                // The top first: most images fit at once.
                self.high
            } else {
                self.low + (self.high - self.low).div_ceil(2)
            }
        })
    }

    /// What quality `quality` gave: a file of `bytes`.
    pub fn record(&mut self, quality: u8, bytes: u64) {
        if bytes <= self.limit {
            self.best = Some(self.best.map_or(quality, |b| b.max(quality)));
            self.low = quality + 1;
        } else {
            self.high = quality.saturating_sub(1);
        }
    }
}

/// The side of a sample's tiles, in pixels: a whole number of a JPEG's 16-pixel blocks
/// (4:2:0), so each tile encodes as the same blocks as in the whole image.
pub const SAMPLE_TILE: u32 = 64;

/// The distance between the tiles' corners, about `SAMPLE_TILE` × √32: a sample holds
/// about 1/32 of the image.
const SAMPLE_STEP: u32 = 362;

/// From how many pixels a JPEG's quality is chosen on a [`Sample`] first: below it, a
/// whole encode takes a few tens of milliseconds and the search runs on the image.
pub const SAMPLE_FROM_PIXELS: u64 = 4_000_000;

/// How much lighter than 10 MiB a sample must predict the file, for the error of the
/// prediction (under 1 % on photos, measured by `make bench`'s image).
pub const SAMPLE_LIMIT: u64 = MAX_FILE_BYTES / 50 * 49;

/// Tiles of an image, spread evenly over it and put side by side: JPEG encodes it ~30
/// times faster than the image, and its size per pixel predicts the image's (same
/// blocks, same tables), so the quality search runs on it and the image is encoded once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    /// The sample's size.
    pub size: Dimensions,
    /// Each tile's place in the image; it goes to `(column, row) × SAMPLE_TILE` in the
    /// sample, in the order given (rows of `columns`).
    pub tiles: Vec<Rect>,
    /// Tiles per row.
    pub columns: u32,
    /// The image's size.
    pub image: Dimensions,
}

impl Sample {
    /// The sample of an image of size `image`, or `None` when the image has under
    /// [`SAMPLE_FROM_PIXELS`] (encoded whole, it is quick enough) or is so narrow that the
    /// sample would be over a 20th of it.
    pub fn of(image: Dimensions) -> Option<Sample> {
        if pixels(image) < SAMPLE_FROM_PIXELS || image.width.min(image.height) < SAMPLE_TILE {
            return None;
        }
        let along = |side: u32| {
            let count = (side / SAMPLE_STEP).max(1);
            // The tile's corner in the middle of each of `count` equal spans, on a
            // 16-pixel block boundary, and inside the image.
            (0..count)
                .map(move |i| {
                    let span = side / count;
                    let middle = i * span + span.saturating_sub(SAMPLE_TILE) / 2;
                    (middle.min(side - SAMPLE_TILE)) / 16 * 16
                })
                .collect::<Vec<u32>>()
        };
        let (xs, ys) = (along(image.width), along(image.height));
        let tiles = ys
            .iter()
            .flat_map(|&y| {
                xs.iter().map(move |&x| Rect {
                    x,
                    y,
                    width: SAMPLE_TILE,
                    height: SAMPLE_TILE,
                })
            })
            .collect();
        let columns = xs.len() as u32;
        let size = Dimensions::new(columns * SAMPLE_TILE, ys.len() as u32 * SAMPLE_TILE);
        // A sliver of an image (under the tile's step across) gains little: encoded whole.
        if pixels(size) * 20 > pixels(image) {
            return None;
        }
        Some(Sample {
            size,
            tiles,
            columns,
            image,
        })
    }

    /// The image's predicted file size when the sample encodes to `bytes`.
    pub fn predict(&self, bytes: u64) -> u64 {
        (u128::from(bytes) * u128::from(pixels(self.image)) / u128::from(pixels(self.size).max(1)))
            as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_quality_search_finds_the_highest_that_fits_in_seven_encodes() {
        for limit in [0u8, 50, 51, 72, 94, 95] {
            let mut search = QualitySearch::default();
            let mut tries = 0;
            while let Some(q) = search.next() {
                tries += 1;
                assert!((50..=95).contains(&q));
                let bytes = if q <= limit {
                    MAX_FILE_BYTES
                } else {
                    MAX_FILE_BYTES + 1
                };
                search.record(q, bytes);
            }
            assert!(tries <= 7, "{limit}: {tries} encodes");
            if limit == 95 {
                assert_eq!(tries, 1, "one encode when the best quality fits");
            }
            assert_eq!(search.best, (limit >= 50).then_some(limit), "limit {limit}");
        }
    }

    #[test]
    fn a_predicted_quality_costs_one_encode_when_it_fits_and_a_search_below_when_not() {
        let mut search = QualitySearch::default().from(88);
        assert_eq!(search.next(), Some(88));
        search.record(88, MAX_FILE_BYTES);
        assert_eq!((search.next(), search.best), (None, Some(88)));
        // The prediction was too high: the highest below it that fits.
        for limit in [50u8, 61, 86, 87] {
            let mut search = QualitySearch::default().from(88);
            let mut tries = 0;
            while let Some(q) = search.next() {
                tries += 1;
                assert!((50..=88).contains(&q));
                search.record(q, if q <= limit { 1 } else { MAX_FILE_BYTES + 1 });
            }
            assert_eq!(search.best, Some(limit));
            assert!(tries <= 7, "{limit}: {tries}");
        }
        assert_eq!(QualitySearch::default().from(120).next(), Some(95));
        assert_eq!(QualitySearch::default().from(10).next(), Some(50));
        let mut within = QualitySearch::within(SAMPLE_LIMIT);
        within.record(95, SAMPLE_LIMIT + 1);
        assert_eq!(within.best, None);
    }

    #[test]
    fn a_sample_is_whole_blocks_spread_over_the_image_and_about_a_32nd_of_it() {
        assert_eq!(Sample::of(Dimensions::new(1999, 2000)), None);
        let sample = Sample::of(Dimensions::new(6000, 4000)).expect("a sample");
        assert_eq!(sample.columns, 16);
        assert_eq!(sample.tiles.len(), 16 * 11);
        assert_eq!(sample.size, Dimensions::new(16 * 64, 11 * 64));
        let ratio = pixels(sample.image) / pixels(sample.size);
        assert!((28..=36).contains(&ratio), "1/{ratio}");
        for tile in &sample.tiles {
            assert_eq!((tile.x % 16, tile.y % 16), (0, 0));
            assert!(tile.x + tile.width <= 6000 && tile.y + tile.height <= 4000);
        }
        assert_eq!(sample.predict(1000), 1000 * 24_000_000 / (1024 * 704));
    }

    proptest! {
        /// A sample's tiles are whole blocks inside the image, apart, and fill the sample.
        #[test]
        fn a_sample_stays_inside_the_image(width in 1u32..20_000, height in 1u32..20_000) {
            let size = Dimensions::new(width, height);
            if let Some(sample) = Sample::of(size) {
                prop_assert_eq!(sample.tiles.len() as u64 * u64::from(SAMPLE_TILE).pow(2), pixels(sample.size));
                prop_assert!(pixels(sample.size) * 20 <= pixels(size));
                for pair in sample.tiles.windows(2) {
                    let (a, b) = (pair[0], pair[1]);
                    prop_assert!(a.y < b.y || a.x + SAMPLE_TILE <= b.x);
                }
                for tile in &sample.tiles {
                    prop_assert_eq!((tile.x % 16, tile.y % 16), (0, 0));
                    prop_assert!(tile.x + SAMPLE_TILE <= width && tile.y + SAMPLE_TILE <= height);
                }
            } else {
                prop_assert!(pixels(size) < SAMPLE_FROM_PIXELS || width.min(height) < 2 * SAMPLE_STEP);
            }
        }
    }
}
