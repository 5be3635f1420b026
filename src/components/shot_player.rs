use leptos::prelude::*;

use super::{copy_button, share_button, FilmMaker};
use crate::browser::download::{save, save_all};
use crate::browser::object_url::ObjectUrl;
use crate::core::output::{
    advances_by_itself, classify, next_shot, not_shown, share_text, MediaKind, Output, OutputError,
    IMAGE_SHOT_MS, ZIPPING, ZIP_REFUSED,
};
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
fn download_link(
    src: String,
    file_name: String,
    number: usize,
    relay: Option<String>,
) -> impl IntoView {
    let remote = after_web_scheme(&src).is_some();
    let (href, name) = (src.clone(), file_name.clone());
    let save = move |ev: leptos::ev::MouseEvent| {
        if remote {
            ev.prevent_default();
            let (src, file_name, relay) = (src.clone(), file_name.clone(), relay.clone());
            leptos::task::spawn_local(async move {
                save(&src, &file_name, relay.as_deref()).await;
            });
        }
    };
    view! {
        <a class="ms-download" href=href download=name target="_blank" rel="noopener" on:click=save>
            {format!("Download shot {number}")}
        </a>
    }
}

/// The result of a finished task: one large player labelled **Sequence** that plays the
/// shots back to back, muted and looping, from the moment it appears; under it the list
/// labelled **Shots** with a marker per shot (**Shot N**, pressed while it plays; a click
/// jumps to it), **Download shot N** and **Copy link**. A shot flagged as sensitive is
/// blurred behind **Show** while it is on the stage. Image shots stay a few seconds each,
/// with a slow pan and zoom. A shot that cannot be shown says why in its row. Blob URLs
/// of inline outputs are revoked when the result leaves the page.
#[component]
pub fn ShotPlayer(
    /// The task's outputs as the API gave them.
    outputs: Vec<String>,
    /// `has_nsfw_contents`, parallel to `outputs`.
    nsfw: Vec<bool>,
    /// `timings.inference`, when reported.
    inference_ms: Option<u64>,
    /// Shown until a shot's first frame is there: a small picture of the input image
    /// (a checked `data:` URI from the history record).
    poster: Option<String>,
    /// Where a proxy passes this task's shots on from its own origin (the shot's number
    /// is added), for downloads where the shots' server allows this page no read.
    relay: Option<String>,
) -> impl IntoView {
    let relay_for = move |number: usize| relay.as_ref().map(|prefix| format!("{prefix}{number}"));
    let shots: Vec<Shot> = outputs
        .iter()
        .enumerate()
        .map(|(i, raw)| prepare(i + 1, raw, nsfw.get(i).copied().unwrap_or(false)))
        .collect();
    // Keeps the Blob URLs alive exactly as long as this view.
    let _keep = StoredValue::new(shots.clone());
    // What the stage can play, in order: (number, src, kind).
    let sequence: Vec<(usize, String, MediaKind)> = shots
        .iter()
        .filter_map(|s| {
            s.shown
                .as_ref()
                .ok()
                .map(|(src, kind, _)| (s.number, src.clone(), *kind))
        })
        .collect();
    let count = sequence.len();
    // Every shot that can be shown — its number, address, file name and relay — for
    // Download all and Download video.
    let files: Vec<(usize, String, String, Option<String>)> = shots
        .iter()
        .filter_map(|s| {
            s.shown
                .as_ref()
                .ok()
                .map(|(src, _, name)| (s.number, src.clone(), name.clone(), relay_for(s.number)))
        })
        .collect();
    // The shots' web addresses, one a line, for Share (inline shots have none).
    let links = share_text(files.iter().map(|(_, src, _, _)| src.as_str()));
    let files = StoredValue::new(files);
    // What Download all is doing or could not do.
    let zipping = RwSignal::new(None::<&'static str>);
    let download_all = move |_| {
        zipping.set(Some(ZIPPING));
        leptos::task::spawn_local(async move {
            let files = files.get_value();
            let saved = save_all(&files, "multi-shot-sequence.zip").await;
            zipping.try_set((!saved).then_some(ZIP_REFUSED));
        });
    };
    let sequence = StoredValue::new(sequence);
    // The place in `sequence` on the stage, and which flagged shots were shown.
    let current = RwSignal::new(0usize);
    let revealed = RwSignal::new(shots.iter().map(|s| !s.nsfw).collect::<Vec<bool>>());
    let next = move || current.update(|c| *c = next_shot(*c, count));
    let on_stage = move || sequence.with_value(|all| all.get(current.get()).cloned());
    let hidden = move || {
        on_stage()
            .is_some_and(|(number, _, _)| !revealed.with(|r| r.get(number - 1) == Some(&true)))
    };
    // An image shot gives way to the next after a few seconds.
    Effect::new(move |_| {
        let at = current.get();
        if on_stage().is_some_and(|(_, _, kind)| advances_by_itself(kind, count)) {
            leptos::task::spawn_local(async move {
                gloo_timers::future::TimeoutFuture::new(IMAGE_SHOT_MS).await;
                if current.try_get_untracked() == Some(at) {
                    next();
                }
            });
        }
    });

    let stage = move || {
        let (number, src, kind) = on_stage()?;
        Some(match kind {
            MediaKind::Video => view! {
                <video
                    src=src
                    aria-label="Sequence"
                    autoplay=true
                    muted=true
                    prop:muted=true
                    playsinline=true
                    controls=true
                    loop=count == 1
                    preload="auto"
                    poster=poster.clone()
                    on:ended=move |_| next()
                ></video>
            }
            .into_any(),
            // The film's camera move for its place (multishot_film::camera::move_for:
            // push-in, pan, pull-out, pan back), as the style draws it.
            MediaKind::Image => view! {
                <img
                    class="ms-slide"
                    data-move=current.get_untracked() % 4
                    src=src
                    alt=format!("Sequence: shot {number}")
                />
            }
            .into_any(),
        })
    };
    let cover = move || {
        hidden().then(|| {
            view! {
                <div class="ms-shot-cover">
                    <p>"Flagged as possibly sensitive."</p>
                    <button
                        type="button"
                        class="ms-button"
                        on:click=move |_| {
                            if let Some((number, _, _)) = on_stage() {
                                revealed.update(|r| {
                                    if let Some(shown) = r.get_mut(number - 1) {
                                        *shown = true;
                                    }
                                });
                            }
                        }
                    >
                        "Show"
                    </button>
                </div>
            }
        })
    };

    let mut place = 0;
    let rows = shots
        .into_iter()
        .map(|shot| {
            let label = format!("Shot {}", shot.number);
            match shot.shown {
                Ok((src, _, file_name)) => {
                    let at = place;
                    place += 1;
                    view! {
                        <li class="ms-shot-row">
                            <button
                                type="button"
                                class="ms-button ms-small ms-marker"
                                aria-pressed=move || (current.get() == at).to_string()
                                on:click=move |_| current.set(at)
                            >
                                {label}
                            </button>
                            // In a row on a wide screen; on a narrow one, folded into
                            // one menu per shot (see the style).
                            <details class="ms-shot-menu" name="ms-shot-menu">
                                <summary class="ms-button ms-small" aria-label=format!("Download or copy shot {}", shot.number)>
                                    "⋯"
                                </summary>
                                <div class="ms-shot-actions">
                                    {copy_link(&src, shot.number)}
                                    {download_link(src, file_name, shot.number, relay_for(shot.number))}
                                </div>
                            </details>
                        </li>
                    }
                    .into_any()
                }
                Err(why) => {
                    let (lead, said) = not_shown(shot.number, &why);
                    view! {
                        <li class="ms-shot-row">
                            <p class="ms-alert" role="alert">
                                <strong>{lead}</strong>
                                {said}
                            </p>
                        </li>
                    }
                    .into_any()
                }
            }
        })
        .collect_view();

    view! {
        <section class="ms-shots" aria-labelledby="ms-shots-heading">
            <h3 id="ms-shots-heading">"Shots"</h3>
            {(count > 0).then(|| view! {
                <div class="ms-stage ms-shot-media" class:is-hidden=hidden>
                    {stage}
                    {cover}
                </div>
            })}
            {(count > 0).then(|| view! {
                <div class="ms-controls ms-actions">
                    <FilmMaker files=files />
                    <button
                        type="button"
                        class="ms-button"
                        disabled=move || zipping.get() == Some(ZIPPING)
                        on:click=download_all
                    >
                        "Download all"
                    </button>
                    {links.map(share_button)}
                    {move || zipping.get().map(|said| view! { <p class="ms-note" role="status">{said}</p> })}
                </div>
            })}
            {inference_ms.map(|ms| view! {
                <p class="ms-hint">{format!("Generated in {} s of inference.", seconds(ms))}</p>
            })}
            <ol class="ms-shot-list" aria-label="Shots">
                {rows}
            </ol>
        </section>
    }
}
