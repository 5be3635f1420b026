//! A batch's new item checked as a single image is — its leading bytes, then the
//! browser's decode — with its thumbnail drawn from that one decode, let go at once: a
//! row holds a small JPEG, never a decoded image, and the next file is decoded only
//! after.

use super::decode::{bitmap_of_blob, decoded_size_of_url};
use super::file::read_head;
use super::remote::read_remote;
use super::thumbnail::{thumbnail, thumbnail_of_bitmap};
use crate::core::assessment::{Assessment, Step};
use crate::core::batch::{refusal, Input, NewItem};
use crate::core::sniff::{sniff, Dimensions, HEAD_BYTES};

/// Checks a local file.
pub async fn check_file(file: &web_sys::File) -> NewItem {
    let mut assessment = Assessment::for_file(file.name(), file.type_(), file.size() as u64);
    assessment = match read_head(file, HEAD_BYTES).await {
        Ok(head) => assessment.with_head(&sniff(&head)),
        Err(_) => assessment.with_decoded(None),
    };
    let mut thumb = None;
    if assessment.step == Step::Decoding {
        let decoded = match bitmap_of_blob(super::window(), file).await {
            Ok(bitmap) => {
                thumb = thumbnail_of_bitmap(&bitmap);
                let size = Dimensions::new(bitmap.width(), bitmap.height());
                bitmap.close();
                Some(size)
            }
            Err(_) => None,
        };
        assessment = assessment.with_decoded(decoded);
    }
    NewItem {
        name: file.name(),
        input: Input::File,
        refused: refusal(&assessment),
        thumbnail: thumb,
    }
}

/// Checks an image's web address (already checked as an address).
pub async fn check_url(url: String) -> NewItem {
    let (remote, decoded) = futures::join!(read_remote(&url), decoded_size_of_url(&url));
    let assessment = Assessment::for_url(url.clone())
        .with_remote_bytes(remote)
        .with_decoded(decoded.ok());
    let refused = refusal(&assessment);
    let thumb = match refused {
        None => thumbnail(&url, true).await,
        Some(_) => None,
    };
    NewItem {
        name: url.clone(),
        input: Input::Url(url),
        refused,
        thumbnail: thumb,
    }
}
