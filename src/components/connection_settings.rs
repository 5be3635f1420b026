use leptos::prelude::*;

use crate::browser::storage::{remember_key, remembered_key};
use crate::core::connection::{indicator, typed_proxy_given, Connection};

/// The user's connection choices, shared with the Generate panel.
#[derive(Clone, Copy)]
pub struct ConnectionState {
    /// The API key as typed (memory only unless remembered).
    pub key: RwSignal<String>,
    /// The proxy URL as typed.
    pub proxy: RwSignal<String>,
    /// Ask for outputs as base64.
    pub base64: RwSignal<bool>,
    /// Send local files inline as a data URI instead of uploading them.
    pub inline_upload: RwSignal<bool>,
}

impl ConnectionState {
    /// Starts from a remembered key, if the user asked for one to be kept.
    pub fn new() -> Self {
        Self {
            key: RwSignal::new(remembered_key().unwrap_or_default()),
            proxy: RwSignal::new(String::new()),
            base64: RwSignal::new(false),
            inline_upload: RwSignal::new(false),
        }
    }
}

impl Default for ConnectionState {
    fn default() -> Self {
        Self::new()
    }
}

/// API key (hidden by default, with a show/hide toggle and an opt-in to remember it),
/// proxy URL, and the two sending options, with an indicator of the mode in use.
#[component]
pub fn ConnectionSettings(
    /// The shared connection choices.
    state: ConnectionState,
    /// Where requests go now, or why nothing can be sent: the one result Generate and
    /// the runner use too (see [`crate::core::connection`]).
    #[prop(into)]
    connection: Signal<Result<Connection, String>>,
) -> impl IntoView {
    let show_key = RwSignal::new(false);
    let remember = RwSignal::new(remembered_key().is_some());
    let storage_note = RwSignal::new(None::<&'static str>);
    let store = move || {
        let key = state.key.get_untracked();
        let ok = if remember.get_untracked() {
            remember_key(Some(&key))
        } else {
            remember_key(None)
        };
        storage_note.set((!ok).then_some(
            "This browser does not allow storing the key; it is kept for this visit only.",
        ));
    };
    let using_proxy = move || state.proxy.with(|p| typed_proxy_given(p));
    let mode = move || connection.with(indicator);
    view! {
        <div class="ms-settings">
            <p class="ms-mode" data-mode=move || mode().0>{move || mode().1}</p>
            <div class="ms-field" class:is-off=using_proxy>
                <label for="ms-api-key">"API key"</label>
                <div class="ms-url-row">
                    <input
                        id="ms-api-key"
                        type=move || if show_key.get() { "text" } else { "password" }
                        autocomplete="off"
                        spellcheck="false"
                        placeholder="Your WaveSpeed API key"
                        disabled=using_proxy
                        prop:value=state.key
                        on:input=move |e| {
                            state.key.set(event_target_value(&e));
                            if remember.get_untracked() {
                                store();
                            }
                        }
                    />
                    <button
                        type="button"
                        class="ms-button"
                        aria-pressed=move || show_key.get().to_string()
                        on:click=move |_| show_key.update(|s| *s = !*s)
                    >
                        {move || if show_key.get() { "Hide key" } else { "Show key" }}
                    </button>
                </div>
                <label class="ms-check">
                    <input
                        type="checkbox"
                        prop:checked=remember
                        on:change=move |e| {
                            remember.set(event_target_checked(&e));
                            store();
                        }
                    />
                    "Remember key on this device"
                </label>
                {move || storage_note.get().map(|note| view! { <p class="ms-note">{note}</p> })}
            </div>
            <div class="ms-field">
                <label for="ms-proxy-url">"Proxy URL"</label>
                <input
                    id="ms-proxy-url"
                    type="url"
                    spellcheck="false"
                    placeholder="https://your-site.example/wavespeed"
                    prop:value=state.proxy
                    on:input=move |e| state.proxy.set(event_target_value(&e))
                />
                <p class="ms-hint">"When set, requests go to the proxy, which holds the key; none is sent from this page."</p>
            </div>
            <Checkbox checked=state.base64 label="Return outputs as base64" />
            <Checkbox
                checked=state.inline_upload
                label="Send local files inline (data: URI) instead of uploading them"
            />
        </div>
    }
}

/// A labelled checkbox bound to a boolean signal.
#[component]
fn Checkbox(
    /// The value, read and written.
    checked: RwSignal<bool>,
    /// The visible label (also the accessible name).
    label: &'static str,
) -> impl IntoView {
    view! {
        <label class="ms-check">
            <input
                type="checkbox"
                prop:checked=checked
                on:change=move |e| checked.set(event_target_checked(&e))
            />
            {label}
        </label>
    }
}
