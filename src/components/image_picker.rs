use crate::browser::listen::{self, listen};
use leptos::ev;
use leptos::html::Div;
use leptos::prelude::*;
use send_wrapper::SendWrapper;
use wasm_bindgen::JsCast;

use crate::browser::folder;
use crate::core::image_url::{entered, from_uri_list, pasted_address, pasted_addresses, Entered};

/// Several photos at once, for the batch: files, addresses, or the entries of dropped
/// folders (whose files the batch reads).
#[derive(Default)]
pub struct Many {
    /// Files picked, dropped or pasted.
    pub files: Vec<web_sys::File>,
    /// Addresses pasted one a line.
    pub urls: Vec<String>,
    /// A drop's entries, folders among them.
    pub entries: Vec<web_sys::FileSystemEntry>,
}

/// The four ways an image comes in: the **Image file** picker, a drop anywhere on the
/// area, a paste (Ctrl/Cmd+V) anywhere on the page, and the **Image URL** field (loaded
/// on Enter or when the field is left). The consumer face shows only the picker and the
/// drop area (the style hides what is marked `ms-dev`); a touch screen is told nothing
/// about dropping or pasting. With `on_many` (the full page), several files picked,
/// dropped or pasted, a dropped folder, or several addresses pasted one a line go to
/// the batch.
#[component]
pub fn ImagePicker(
    /// Receives a file the user picked, dropped or pasted.
    #[prop(into)]
    on_file: Callback<SendWrapper<web_sys::File>>,
    /// Receives an image URL that passed [`crate::core::image_url::parse_image_url`].
    #[prop(into)]
    on_url: Callback<String>,
    /// Receives several files, or several addresses (a batch); `None`: one image at a
    /// time (the embed).
    on_many: Option<Callback<SendWrapper<Many>>>,
    /// Shown inside the drop area, below the controls (preview, verdict).
    children: Children,
) -> impl IntoView {
    let many = on_many.is_some();
    // Several files: the batch's, else the first as one image.
    let take_files = move |list: Option<web_sys::FileList>| -> bool {
        let files: Vec<web_sys::File> = list
            .map(|l| (0..l.length()).filter_map(|i| l.get(i)).collect())
            .unwrap_or_default();
        match (on_many, files.len()) {
            (_, 0) => return false,
            (Some(on_many), n) if n > 1 => on_many.run(SendWrapper::new(Many {
                files,
                ..Many::default()
            })),
            _ => {
                if let Some(file) = files.into_iter().next() {
                    on_file.run(SendWrapper::new(file));
                }
            }
        }
        true
    };
    let zone = NodeRef::<Div>::new();
    let url_text = RwSignal::new(String::new());
    let url_error = RwSignal::new(None::<String>);
    // The last address loaded, so leaving the field unchanged does not load it again.
    let last_loaded = StoredValue::new(String::new());

    let load_url = move |force: bool| {
        let text = url_text.get_untracked();
        match last_loaded.with_value(|last| entered(&text, last, force)) {
            Entered::Nothing => url_error.set(None),
            Entered::Load(url) => {
                url_error.set(None);
                last_loaded.set_value(url.clone());
                on_url.run(url);
            }
            Entered::Refuse(why) => url_error.set(Some(why)),
        }
    };
    // The drop area: a file or an image's address dropped on it. Entering and leaving
    // its children fires enter/leave too, so they are counted: it is "over" until as
    // many leaves as enters (or a drop) came.
    let is_over_drop_zone = RwSignal::new(false);
    let inside = StoredValue::new(0_i32);
    Effect::new(move |_| {
        let Some(zone) = zone.get() else {
            return;
        };
        let zone: web_sys::EventTarget = zone.into();
        listen(Some(zone.clone()), "dragenter", move |e| {
            e.prevent_default();
            inside.update_value(|n| *n += 1);
            is_over_drop_zone.set(true);
        });
        listen(Some(zone.clone()), "dragleave", move |_| {
            inside.update_value(|n| *n = (*n - 1).max(0));
            if inside.get_value() == 0 {
                is_over_drop_zone.set(false);
            }
        });
        listen(Some(zone), "drop", move |e| {
            e.prevent_default();
            inside.set_value(0);
            is_over_drop_zone.set(false);
            let Some(data) = e.unchecked_into::<web_sys::DragEvent>().data_transfer() else {
                return;
            };
            // A folder (its files go to the batch).
            let entries = folder::entries(&data);
            if let Some(on_many) = on_many.filter(|_| folder::has_folder(&entries)) {
                on_many.run(SendWrapper::new(Many {
                    entries,
                    ..Many::default()
                }));
                return;
            }
            if take_files(data.files()) {
                last_loaded.set_value(String::new());
            } else if let Some(text) = data
                .get_data("text/uri-list")
                .ok()
                .and_then(|list| from_uri_list(&list))
            {
                // An image dragged from another page arrives as its address.
                url_text.set(text);
                load_url(true);
            }
        });
    });

    // A file dropped beside the area must not make the browser leave the page for it.
    listen(listen::document(), "dragover", |e| e.prevent_default());
    listen(listen::document(), "drop", |e| e.prevent_default());

    listen(listen::document(), "paste", move |e| {
        let e: web_sys::ClipboardEvent = e.unchecked_into();
        let Some(data) = e.clipboard_data() else {
            return;
        };
        if data.files().is_some_and(|f| f.length() > 0) {
            e.prevent_default();
            last_loaded.set_value(String::new());
            take_files(data.files());
            return;
        }
        let text = data.get_data("text").unwrap_or_default();
        let into_field = is_editable(e.target());
        if let Some(urls) = on_many.and_then(|m| Some((m, pasted_addresses(&text, into_field)?))) {
            e.prevent_default();
            urls.0.run(SendWrapper::new(Many {
                urls: urls.1,
                ..Many::default()
            }));
            return;
        }
        if pasted_address(&text, into_field).is_some() {
            e.prevent_default();
            url_text.set(text.trim().to_owned());
            load_url(true);
        }
    });

    let on_file_change = move |e: ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&e);
        last_loaded.set_value(String::new());
        take_files(input.files());
        // Lets the same file be picked again after a change.
        input.set_value("");
    };

    view! {
        <div
            node_ref=zone
            class="ms-drop"
            class:is-over=move || is_over_drop_zone.get()
        >
            <div class="ms-drop-target">
                <svg class="ms-drop-icon" viewBox="0 0 24 24" aria-hidden="true">
                    <path d="M12 16V4m0 0-4 4m4-4 4 4M4 15v3a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2v-3" />
                </svg>
                <p class="ms-drop-title">
                    {move || {
                        if is_over_drop_zone.get() {
                            "Drop to check this image"
                        } else {
                            "Drop an image here"
                        }
                    }}
                    <span class="ms-dev">", or paste it (Ctrl+V / ⌘V)"</span>
                </p>
                <input
                    id="ms-image-file"
                    class="ms-visually-hidden"
                    type="file"
                    accept="image/png,image/jpeg"
                    multiple=many
                    aria-label="Image file"
                    on:change=on_file_change
                />
                <label for="ms-image-file" class="ms-button">
                    "Choose image file…"
                </label>
            </div>
            <div class="ms-url ms-dev">
                <label for="ms-image-url">"Image URL"</label>
                <div class="ms-url-row">
                    <input
                        id="ms-image-url"
                        type="url"
                        inputmode="url"
                        autocomplete="url"
                        spellcheck="false"
                        placeholder="https://example.com/photo.jpg"
                        aria-describedby="ms-image-url-help"
                        aria-invalid=move || url_error.with(Option::is_some).to_string()
                        prop:value=url_text
                        on:input=move |e| url_text.set(event_target_value(&e))
                        on:keydown=move |e: ev::KeyboardEvent| {
                            if e.key() == "Enter" {
                                e.prevent_default();
                                load_url(true);
                            }
                        }
                        on:blur=move |_| load_url(false)
                    />
                    <button type="button" class="ms-button" on:click=move |_| load_url(true)>
                        "Load"
                    </button>
                </div>
                <p id="ms-image-url-help" class="ms-hint">
                    "A public address WaveSpeed can fetch. Press Enter to check it."
                </p>
                {move || {
                    url_error
                        .get()
                        .map(|message| {
                            view! {
                                <p class="ms-alert" role="alert">
                                    <strong>"Image URL: "</strong>
                                    {message}
                                </p>
                            }
                        })
                }}
            </div>
            {children()}
        </div>
    }
}

/// The event happened in a text field, where a paste belongs to the field.
fn is_editable(target: Option<web_sys::EventTarget>) -> bool {
    let Some(element) = target.and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok()) else {
        return false;
    };
    matches!(element.tag_name().as_str(), "INPUT" | "TEXTAREA") || element.is_content_editable()
}
