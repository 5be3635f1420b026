use leptos::prelude::*;
use send_wrapper::SendWrapper;

use super::{GeneratePanel, ImagePicker, ImagePreview, Requirements, ValidationReport};
use crate::browser::assess::{choose_file, choose_url, Chosen};
use crate::core::assessment::Assessment;

/// The whole page: choose an image, see whether WaveSpeed will take it, generate.
#[component]
pub fn App() -> impl IntoView {
    let chosen = RwSignal::new(None::<Chosen>);
    let assessment =
        Signal::derive(move || chosen.with(|c| c.as_ref().map(|c| c.assessment.clone())));
    let ready =
        Signal::derive(move || assessment.with(|a| a.as_ref().is_some_and(Assessment::is_ready)));

    view! {
        <div class="ms-app">
            <header class="ms-header">
                <p class="ms-brand">"Multi-Shot Studio"</p>
                <h1>"One photo in, a multi-shot sequence of cinematic camera angles out."</h1>
                <p class="ms-lede">
                    "Powered by WaveSpeed’s Kling V1 AI Multi-Shot model: upload a single image and get "
                    "professional pans, zooms and transitions across several shots. Your image is checked "
                    "right here in the browser before anything is sent or paid for."
                </p>
            </header>
            <main class="ms-main">
                <section class="ms-card ms-input" aria-labelledby="ms-choose-heading">
                    <h2 id="ms-choose-heading">
                        <span class="ms-step" aria-hidden="true">"1"</span>
                        "Choose an image"
                    </h2>
                    <ImagePicker
                        on_file={move |file: SendWrapper<web_sys::File>| {
                            choose_file(chosen, file.take())
                        }}
                        on_url={move |url: String| choose_url(chosen, url)}
                    >
                        <ImagePreview chosen=chosen />
                        <ValidationReport assessment=assessment />
                    </ImagePicker>
                </section>
                <section class="ms-card ms-generate" aria-labelledby="ms-generate-heading">
                    <h2 id="ms-generate-heading">
                        <span class="ms-step" aria-hidden="true">"2"</span>
                        "Generate"
                    </h2>
                    <GeneratePanel assessment=assessment ready=ready />
                </section>
                <Requirements />
            </main>
            <footer class="ms-footer">
                <p>
                    "Multi-Shot Studio is an independent front-end for the WaveSpeed API. "
                    "$0.07 per generation, billed by WaveSpeed."
                </p>
            </footer>
        </div>
    }
}
