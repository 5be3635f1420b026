//! Runs the assessment of a chosen image step by step — leading bytes, then the
//! browser's decode — writing each step into a signal, so the page shows the early answer
//! at once and the verdict when it is in.

use std::sync::atomic::{AtomicU64, Ordering};

use leptos::prelude::*;
use leptos::task::spawn_local;
use send_wrapper::SendWrapper;

use super::decode::{decoded_size_of_blob, decoded_size_of_url};
use super::file::read_head;
use super::object_url::ObjectUrl;
use super::remote::read_remote;
use crate::core::assessment::{Assessment, Step};
use crate::core::sniff::{sniff, HEAD_BYTES};

/// The image the user chose, with its assessment so far.
#[derive(Clone, Debug)]
pub struct Chosen {
    /// Tells this choice from the ones before it, so a late answer for an image the user
    /// has already replaced is dropped.
    pub id: u64,
    /// What is known, and the step under way.
    pub assessment: Assessment,
    /// Where the preview `<img>` loads from: a revocable `blob:` URL for a file, the
    /// address itself for an image URL.
    pub preview: Option<Preview>,
    /// The local file, kept for sending it (none for an image URL).
    pub file: Option<SendWrapper<web_sys::File>>,
}

/// Where a preview image loads from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Preview {
    /// A local file's `blob:` URL, revoked when the last copy is dropped.
    Blob(ObjectUrl),
    /// An image URL as typed.
    Remote(String),
}

impl Preview {
    /// The URL for an `<img src>`.
    pub fn src(&self) -> &str {
        match self {
            Preview::Blob(url) => url.as_str(),
            Preview::Remote(url) => url,
        }
    }
}

fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Writes `assessment` into `target` if the user has not chosen another image since.
fn advance(target: RwSignal<Option<Chosen>>, id: u64, assessment: &Assessment) {
    target.try_update(|chosen| {
        if let Some(chosen) = chosen.as_mut().filter(|c| c.id == id) {
            chosen.assessment = assessment.clone();
        }
    });
}

/// Chooses a local file: shows it at once, then reads its leading bytes (type, header
/// size) and has the browser decode it (the verdict on dimensions).
pub fn choose_file(target: RwSignal<Option<Chosen>>, file: web_sys::File) {
    super::mark("multishot:chosen");
    let id = next_id();
    let assessment = Assessment::for_file(file.name(), file.type_(), file.size() as u64);
    target.set(Some(Chosen {
        id,
        assessment: assessment.clone(),
        preview: ObjectUrl::new(&file).map(Preview::Blob),
        file: Some(SendWrapper::new(file.clone())),
    }));
    spawn_local(async move {
        let assessment = match read_head(&file, HEAD_BYTES).await {
            Ok(head) => assessment.with_head(&sniff(&head)),
            Err(_) => assessment.with_decoded(None),
        };
        advance(target, id, &assessment);
        super::mark("multishot:verdict-head");
        if assessment.step == Step::Decoding {
            let decoded = decoded_size_of_blob(&file).await.ok();
            advance(target, id, &assessment.with_decoded(decoded));
        }
        super::mark("multishot:verdict-decoded");
    });
}

/// Chooses an image URL (already checked with
/// [`crate::core::image_url::parse_image_url`]): loads it as an image for its size and,
/// where the server allows, reads its bytes for type and size.
pub fn choose_url(target: RwSignal<Option<Chosen>>, url: String) {
    let id = next_id();
    let assessment = Assessment::for_url(url.clone());
    target.set(Some(Chosen {
        id,
        assessment: assessment.clone(),
        preview: Some(Preview::Remote(url.clone())),
        file: None,
    }));
    spawn_local(async move {
        let (remote, decoded) = futures::join!(read_remote(&url), decoded_size_of_url(&url));
        let assessment = assessment
            .with_remote_bytes(remote)
            .with_decoded(decoded.ok());
        advance(target, id, &assessment);
    });
}
