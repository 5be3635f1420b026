use leptos::html::Ol;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use super::copy_button;
use crate::browser::download::save;
use crate::browser::object_url::ObjectUrl;
use crate::core::output::{classify, MediaKind, Output, OutputError};
use crate::core::task_view::seconds;
use crate::core::web_address::after_web_scheme;

/// One output ready to show: its `src` (a checked web URL or a Blob URL kept alive with
/// it) or why it is not shown.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Shot {
    number: usize,
    shown: Result<(String, MediaKind, String), OutputError>,
    nsfw: bool,
    _blob: Option<ObjectUrl>,
}

fn prepare(number: usize, raw: &str, nsfw: bool) -> Shot {
    let mut blob = None;
    let shown = classify(raw).and_then(|output| {
        let name = output.file_name(number);
        match output {
            Output::Remote { url, kind } => Ok((url, kind, name)),
            Output::Inline { bytes, mime, kind } => {
                let url = ObjectUrl::from_bytes(&bytes, mime).ok_or(OutputError::UnknownMedia)?;
                let src = url.as_str().to_owned();
                blob = Some(url);
                Ok((src, kind, name))
            }
        }
    });
    Shot {
        number,
        shown,
        nsfw,
        _blob: blob,
    }
}

/// A **Copy link** button for a shot at a web address (a `blob:` URL of an inline shot
/// means nothing outside this page, so it has none).
fn copy_link(src: &str, number: usize) -> Option<impl IntoView> {
    after_web_scheme(src).is_some().then(|| {
        copy_button(
            src.to_owned(),
            "Copy link",
            format!("Copy link to shot {number}"),
        )
    })
}

/// **Download shot N**: never navigates the page (or the frame) away. A shot at a web
/// address is read and saved from this page ([`crate::browser::download`]), or opens in a
/// new tab where its server does not allow that; an inline shot (a `blob:` URL of this
/// page) is saved as it is.
fn download_link(src: String, file_name: String, number: usize) -> impl IntoView {
    let remote = after_web_scheme(&src).is_some();
    let (href, name) = (src.clone(), file_name.clone());
    let save = move |ev: leptos::ev::MouseEvent| {
        if remote {
            ev.prevent_default();
            let (src, file_name) = (src.clone(), file_name.clone());
            leptos::task::spawn_local(async move {
                save(&src, &file_name).await;
            });
        }
    };
    view! {
        <a class="ms-download" href=href download=name target="_blank" rel="noopener" on:click=save>
            {format!("Download shot {number}")}
        </a>
    }
}

/// Every shot of a finished task, in order, in a list labelled **Shots**: videos play
/// inline, each has a **Download shot N** link (and **Copy link** when it is a web address), NSFW-flagged shots are blurred behind a
/// **Show** button, and **Play all** plays them one after another. Blob URLs of inline
/// outputs are revoked when the shots leave the page.
#[component]
pub fn ShotPlayer(
    /// The task's outputs as the API gave them.
    outputs: Vec<String>,
    /// `has_nsfw_contents`, parallel to `outputs`.
    nsfw: Vec<bool>,
    /// `timings.inference`, when reported.
    inference_ms: Option<u64>,
) -> impl IntoView {
    let shots: Vec<Shot> = outputs
        .iter()
        .enumerate()
        .map(|(i, raw)| prepare(i + 1, raw, nsfw.get(i).copied().unwrap_or(false)))
        .collect();
    // Keeps the Blob URLs alive exactly as long as this view.
    let _keep = StoredValue::new(shots.clone());
    let list = NodeRef::<Ol>::new();
    let playing_all = RwSignal::new(false);

    let videos = move || -> Vec<web_sys::HtmlVideoElement> {
        let Some(list) = list.get_untracked() else {
            return Vec::new();
        };
        let Ok(found) = list.query_selector_all("video") else {
            return Vec::new();
        };
        (0..found.length())
            .filter_map(|i| found.item(i))
            .filter_map(|n| n.dyn_into().ok())
            .collect()
    };
    let play_from = move |index: usize| {
        let all = videos();
        for (i, video) in all.iter().enumerate() {
            video.set_loop(false);
            if i != index {
                let _ = video.pause();
            }
        }
        match all.get(index) {
            Some(video) => {
                video.set_current_time(0.0);
                let _ = video.play();
                video.scroll_into_view_with_bool(false);
            }
            None => {
                playing_all.set(false);
                for video in &all {
                    video.set_loop(true);
                }
            }
        }
    };
    let on_ended = move |ev: leptos::ev::Event| {
        if !playing_all.get_untracked() {
            return;
        }
        let Some(ended) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlVideoElement>().ok())
        else {
            return;
        };
        let all = videos();
        if let Some(i) = all.iter().position(|v| *v == ended) {
            play_from(i + 1);
        }
    };
    let video_count = shots
        .iter()
        .filter(|s| matches!(s.shown, Ok((_, MediaKind::Video, _))))
        .count();

    let items = shots
        .into_iter()
        .map(|shot| {
            let label = format!("Shot {}", shot.number);
            let revealed = RwSignal::new(!shot.nsfw);
            match shot.shown {
                Ok((src, kind, file_name)) => {
                    let media = match kind {
                        MediaKind::Video => view! {
                            <video
                                src=src.clone()
                                controls=true
                                muted=true
                                prop:muted=true
                                playsinline=true
                                loop=true
                                preload="metadata"
                                aria-label=label.clone()
                                on:ended=on_ended
                            ></video>
                        }
                        .into_any(),
                        MediaKind::Image => view! { <img src=src.clone() alt=label.clone() /> }.into_any(),
                    };
                    view! {
                        <li class="ms-shot" class:is-hidden=move || !revealed.get()>
                            <div class="ms-shot-media">
                                {media}
                                {shot.nsfw.then(|| view! {
                                    <div class="ms-shot-cover" hidden=move || revealed.get()>
                                        <p>"Flagged as possibly sensitive."</p>
                                        <button type="button" class="ms-button" on:click=move |_| revealed.set(true)>
                                            "Show"
                                        </button>
                                    </div>
                                })}
                            </div>
                            <p class="ms-shot-bar">
                                <span>{label.clone()}</span>
                                {copy_link(&src, shot.number)}
                                {download_link(src, file_name, shot.number)}
                            </p>
                        </li>
                    }
                    .into_any()
                }
                Err(why) => view! {
                    <li class="ms-shot">
                        <p class="ms-alert" role="alert">
                            <strong>{format!("{label}: ")}</strong>
                            {format!("Not shown — {why}.")}
                        </p>
                    </li>
                }
                .into_any(),
            }
        })
        .collect_view();

    view! {
        <section class="ms-shots" aria-labelledby="ms-shots-heading">
            <div class="ms-shots-head">
                <h3 id="ms-shots-heading">"Shots"</h3>
                {(video_count > 1).then(|| view! {
                    <button
                        type="button"
                        class="ms-button"
                        on:click=move |_| {
                            playing_all.set(true);
                            play_from(0);
                        }
                    >
                        "Play all"
                    </button>
                })}
            </div>
            {inference_ms.map(|ms| view! {
                <p class="ms-hint">{format!("Generated in {} s of inference.", seconds(ms))}</p>
            })}
            <ol class="ms-shot-list" aria-label="Shots" node_ref=list>
                {items}
            </ol>
        </section>
    }
}
