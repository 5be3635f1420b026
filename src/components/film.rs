use leptos::prelude::*;
use multishot_film::encoding::{Container, NO_WEBCODECS};
use multishot_film::request::{Request, ShotRef, SLOT};
use multishot_film::shape::Shape;

use crate::browser::film_module;

/// The shots as the player lists them: number, address, file name, relay.
type Files = StoredValue<Vec<(usize, String, String, Option<String>)>>;

/// The choice **Shape**'s options, in [`Shape::ALL`]'s order (a test holds them to it).
const SHAPE_OPTIONS: &str =
    "<option>Original</option><option>9:16</option><option>1:1</option><option>16:9</option>";

/// The site owner's mark for films (`video_mark`), provided by the app.
#[derive(Clone, Copy)]
pub struct VideoMark(pub Signal<Option<String>>);

/// **Download video**, the first action under the Sequence: a choice labelled **Shape**
/// (Original, 9:16, 1:1, 16:9) and the button, which has the film made in this browser
/// by its own module (loaded on the first press), shown in the slot under them with its
/// progress, **Cancel** and, where the browser can share files, **Share video**. Where
/// the browser has no WebCodecs the button, disabled, says why (Download all beside it
/// stays); where it encodes no H.264 the button names WebM.
#[component]
pub fn FilmMaker(
    /// The shots the stage plays, in order (what Download all saves).
    files: Files,
) -> impl IntoView {
    let slot = NodeRef::<leptos::html::Div>::new();
    let choice = NodeRef::<leptos::html::Select>::new();
    let offered = film_module::offered();
    let container = RwSignal::new(Container::Mp4);
    if offered {
        leptos::task::spawn_local(async move {
            if !film_module::h264().await {
                container.try_set(Container::WebM);
            }
        });
    }
    let mark = use_context::<VideoMark>();
    let press = move |_| {
        let Some(slot) = slot.get_untracked() else {
            return;
        };
        let request = Request {
            shots: files.with_value(|files| {
                files
                    .iter()
                    .map(|(number, src, _, relay)| ShotRef {
                        number: *number,
                        src: src.clone(),
                        relay: relay.clone(),
                    })
                    .collect()
            }),
            // Read from the choice at the press: no signal of its own to keep in step.
            shape: choice
                .get_untracked()
                .and_then(|c| js_sys::Reflect::get(&c, &"value".into()).ok())
                .and_then(|v| v.as_string())
                .and_then(|name| Shape::from_name(&name))
                .unwrap_or_default(),
            mark: mark.and_then(|VideoMark(m)| m.get_untracked()),
            back: false,
        };
        film_module::ask(&slot, &request);
    };
    view! {
        <div class="ms-film">
            <button type="button" class="ms-button ms-primary" disabled=!offered on:click=press>
                {move || if offered { container.get().button() } else { NO_WEBCODECS }}
            </button>
            <label class="ms-film-shape">
                "Shape "
                // The options as static markup: one view type less in the first load.
                <select inner_html=SHAPE_OPTIONS node_ref=choice></select>
            </label>
            <div class=SLOT node_ref=slot></div>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shape_options_are_the_shapes_in_order() {
        let listed: String = Shape::ALL
            .iter()
            .map(|s| format!("<option>{}</option>", s.name()))
            .collect();
        assert_eq!(SHAPE_OPTIONS, listed);
    }
}
