use crate::browser::listen::{self, listen};
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use leptos::task::spawn_local;
use send_wrapper::SendWrapper;
use wasm_bindgen::JsCast;

use super::{
    BotCheck, BotCheckState, ConnectionSettings, ConnectionState, GeneratePanel, History,
    ImagePicker, ImagePreview, JobProgress, Many, Requirements, ShotPlayer, ValidationReport,
    TOKEN_EVENT,
};
use crate::browser::assess::{choose_file, choose_url, Chosen, Preview};
use crate::browser::batch_link;
use crate::browser::config_loader::load_settings;
use crate::browser::embed::{
    content_height, dispatch_on, from_parent, post_to_parent, script_base, watch_height,
};
use crate::browser::funds::watch_funds;
use crate::browser::runner::{Jobs, Press};
use crate::browser::storage;
use crate::core::batch;
use crate::core::bot_check;
use crate::core::config::{self, apply_attributes, ConfigProblem, Host, Settings, UploadMode};
use crate::core::connection::{self, Choices};
use crate::core::embed::{self, EmbedEvent, HostMessage};
use crate::core::funds::LISTED_PRICE;
use crate::core::generate;
use crate::core::job::Policy;
use crate::core::jobs::{change_of, Command, JobsState};
use crate::core::rules;

/// Whether the app shows its **consumer face**: embedded (iframe or script mount) with
/// `lock_proxy`, for the visitors of a site whose owner's proxy holds the key. That face
/// has no key, proxy, upload options, image URL field or task look-up, and calls the
/// history "Your recent results". Provided by [`App`]; read with [`is_consumer`].
#[derive(Clone, Copy, Debug)]
pub struct ConsumerFace(pub Signal<bool>);

/// The app shows its consumer face (false outside an [`App`]).
pub fn is_consumer() -> bool {
    use_context::<ConsumerFace>().is_some_and(|ConsumerFace(on)| on.get())
}

/// The host's `data-*` attributes over `settings` (one instantiation of the generic
/// [`apply_attributes`] for both of the app's uses).
fn with_attributes(settings: &mut Settings, attributes: &[(String, String)]) -> Vec<ConfigProblem> {
    apply_attributes(
        settings,
        attributes.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )
}

/// The whole app: choose an image, see whether WaveSpeed will take it, connect,
/// generate, watch the shots, keep the history.
#[component]
pub fn App(
    /// How the app is hosted: its own page, an iframe, or a host page's element.
    #[prop(optional)]
    host: Host,
    /// The host element's `data-*` attributes (script mount), over `config.json`.
    #[prop(optional)]
    attributes: Vec<(String, String)>,
) -> impl IntoView {
    let root = NodeRef::<leptos::html::Div>::new();
    let chosen = RwSignal::new(None::<Chosen>);
    let assessment =
        Signal::derive(move || chosen.with(|c| c.as_ref().map(|c| c.assessment.clone())));
    // What the host gave (`data-*` attributes, `?theme=`) holds from the first frame, as
    // it will over config.json: a dark host's frame is not drawn light until the
    // settings have arrived. (Their problems are reported once, after that.)
    let settings = RwSignal::new({
        let mut first = Settings::default();
        let _ = with_attributes(&mut first, &attributes);
        first
    });
    let problems = RwSignal::new(Vec::<ConfigProblem>::new());
    let connection_state = ConnectionState::new();
    // The settings have arrived (before that, an embed shows no developer control).
    let ready = RwSignal::new(false);
    let compact = host.is_compact();
    let consumer = Signal::derive(move || compact && settings.with(|s| s.lock_proxy));
    provide_context(ConsumerFace(consumer));
    provide_context(super::VideoMark(Signal::derive(move || {
        settings.with(|s| s.video_mark.clone())
    })));
    let jobs = Jobs::new(connection_state.key.into());
    provide_context(jobs);

    // The history is read once, from wherever it is kept.
    let restored = StoredValue::new(false);
    let restore_once = move || {
        if restored.try_update_value(|r| !std::mem::replace(r, true)) == Some(true) {
            jobs.restore();
        }
    };

    spawn_local(async move {
        let (mut loaded, mut found) = load_settings(script_base().as_deref()).await;
        // The app may be gone by now (unmounted while the settings loaded).
        if settings.is_disposed() {
            return;
        }
        found.extend(with_attributes(&mut loaded, &attributes));
        jobs.set_policy(Policy {
            poll_interval_ms: loaded.poll_interval_ms,
            wait_cap_ms: loaded.max_wait_s * 1000,
            ..Policy::default()
        });
        if let Some(proxy) = &loaded.proxy_url {
            if connection_state.proxy.with_untracked(String::is_empty) {
                connection_state.proxy.set(proxy.to_string());
            }
        }
        connection_state
            .inline_upload
            .set(loaded.upload == UploadMode::Inline);
        found.extend(config::problems_of(&loaded));
        // Tell the host page how the jobs go.
        let origins = loaded.embed_parent_origins.clone();
        jobs.set_listener(Callback::new(move |event: EmbedEvent| match host {
            Host::Frame => post_to_parent(&origins, &event),
            Host::Element => {
                if let Some(root) = root.get_untracked() {
                    dispatch_on(&root, &event);
                }
            }
            Host::Page => {}
        }));
        let origins = loaded.embed_parent_origins.clone();
        settings.set(loaded);
        problems.set(found);
        ready.set(true);
        if host == Host::Frame {
            // Now the parent may receive it: the height the frame should have.
            post_to_parent(
                &origins,
                &EmbedEvent::Resized {
                    height: content_height(),
                },
            );
        }
        // Go on with the jobs a reload (or another tab) left unfinished — kept by the
        // host page when a cross-site frame has no storage of its own.
        if host == Host::Frame && !storage::has_own() && !origins.is_empty() {
            storage::open_host(origins);
            TimeoutFuture::new(embed::HOST_ANSWER_MS).await;
            if settings.is_disposed() {
                return;
            }
            storage::host_silent();
        }
        restore_once();
    });

    // In an iframe, the parent page learns the app's height to fit its frame, and the
    // host page (its `frame.js`) may ask for it again or keep the history. The observer
    // and the listener go with the app.
    if host == Host::Frame {
        listen(listen::window(), "message", move |e| {
            let e: web_sys::MessageEvent = e.unchecked_into();
            let origins = settings.with_untracked(|s| s.embed_parent_origins.clone());
            let Some(message) = from_parent(&e, &origins).and_then(|m| HostMessage::parse(&m))
            else {
                return;
            };
            match message {
                HostMessage::AskHeight => {
                    post_to_parent(
                        &origins,
                        &EmbedEvent::Resized {
                            height: content_height(),
                        },
                    );
                }
                HostMessage::Kept(entries) => {
                    storage::host_answered(entries);
                    restore_once();
                }
                HostMessage::Changed { name, value } => {
                    if !storage::host_changed(&name, value.as_deref()) {
                        return;
                    }
                    if let Some(change) = change_of(Some(&name), value.as_deref()) {
                        jobs.send(Command::Stored(change));
                    }
                }
            }
        });
        let watch = StoredValue::new_local(None);
        Effect::new(move |_| {
            if let Some(element) = root.get() {
                watch.set_value(watch_height(&element, move |height| {
                    let origins = settings.with_untracked(|s| s.embed_parent_origins.clone());
                    post_to_parent(&origins, &EmbedEvent::Resized { height });
                }));
            }
        });
    }

    let locked = move || settings.with(|s| s.lock_proxy);
    let connection = Signal::derive(move || {
        let (typed_proxy, typed_key) = (connection_state.proxy.get(), connection_state.key.get());
        settings.with(|s| {
            connection::connection(&Choices {
                locked: s.lock_proxy,
                configured_proxy: s.proxy_url.as_ref(),
                typed_proxy: &typed_proxy,
                typed_key: &typed_key,
                api_base: &s.api_base,
            })
            .map_err(|problem| problem.to_string())
        })
    });
    // A new key or proxy makes an earlier refusal (say, a 401) old news.
    Effect::watch(
        move || connection.track(),
        move |_, _, _| jobs.send(Command::Reconnected),
        false,
    );
    // Busy while the current generation is sending, or its task is being waited for.
    let busy = Signal::derive(move || jobs.state.with(JobsState::is_busy));
    // The price of a run and the balance (or a proxy's runs left), never stored; read
    // again when a run is over.
    let funds = watch_funds(
        connection,
        Signal::derive(move || jobs.state.with(JobsState::is_settled)),
    );

    // The site's bot check: the widget's site key (the page's setting), only through a
    // proxy.
    let bot = BotCheckState::new();
    let pending = StoredValue::new(false);
    let sitekey = move || {
        let through_proxy = connection.with(|c| c.as_ref().is_ok_and(|c| c.key.is_none()));
        settings.with(|s| bot_check::sitekey(through_proxy, s.turnstile_sitekey.as_deref()))
    };

    let generate = move |()| {
        let (Ok(connection), Some(chosen)) = (connection.get_untracked(), chosen.get_untracked())
        else {
            return;
        };
        let thumbnail_of = chosen
            .preview
            .as_ref()
            .map(|p| (p.src().to_owned(), matches!(p, Preview::Remote(_))));
        let Some(generation) = generate::press(&generate::Press {
            assessment: &chosen.assessment,
            file_at_hand: chosen.file.is_some(),
            preview: thumbnail_of.is_some(),
            connection: &connection,
            inline: connection_state.inline_upload.get_untracked(),
            base64: connection_state.base64.get_untracked(),
        }) else {
            return;
        };
        // The site checks visitors: one token, one run (the upload's pass then covers its
        // submit, at the proxy); a press before the widget's token came waits for it.
        let token = bot.key.with_untracked(Option::is_some).then(|| bot.take());
        if token == Some(None) {
            pending.set_value(true);
            return;
        }
        jobs.generate(
            generation,
            Press {
                connection,
                file: chosen.file,
                thumbnail_of,
                token: token.flatten(),
            },
        );
    };
    listen(listen::document(), TOKEN_EVENT, move |_| {
        if pending.get_value() {
            pending.set_value(false);
            generate(());
        }
    });

    // The batch (the full page's): its module is handed several photos, and told where
    // jobs go and what pays for them; it asks this page to send each one.
    let batch_slot = NodeRef::<leptos::html::Div>::new();
    let batch_context = Memo::new(move |_| {
        batch::Context {
            plan: connection.get().map(|c| batch::Plan {
                sent: (&c).into(),
                upload: if connection_state.inline_upload.get() {
                    UploadMode::Inline
                } else {
                    UploadMode::Binary
                },
                base64: connection_state.base64.get(),
            }),
            key: jobs.state.with(|s| s.key),
            pay: funds.with(batch::Pay::of),
            mark: settings.with(|s| s.video_mark.clone()),
        }
        .to_json()
    });
    // (Two effects: the listener lives as long as the first, which runs once the slot
    // is there; the second runs again at each change of the context.)
    Effect::new(move |_| {
        if let Some(slot) = batch_slot.get() {
            batch_link::serve(slot.into(), jobs, connection, bot);
        }
    });
    Effect::new(move |_| {
        let context = batch_context.get();
        if let Some(slot) = batch_slot.get_untracked() {
            batch_link::tell(&slot, &context);
        }
    });

    // `data-face`: what the style shows. An embed shows the developer controls (marked
    // `ms-dev`) only once its settings say it is not the consumer face.
    let face = move || embed::face(compact, ready.get(), consumer.get());
    // Before any image, an embed can show what comes out (`example_outputs`). A memo, so
    // that the example is made again only when it comes or goes (not at every poll of a
    // task from the history).
    let idle = Memo::new(move |_| {
        embed::shows_example(
            compact,
            chosen.with(Option::is_some),
            jobs.state.with(|s| s.view.is_some()),
        )
    });
    let example = move || {
        let outputs = settings.with(|s| s.example_outputs.clone());
        (idle.get() && !outputs.is_empty()).then(|| {
            view! {
                <div class="ms-example" role="group" aria-label="Example result">
                    <p class="ms-hint">"An example of what comes out:"</p>
                    <ShotPlayer outputs=outputs nsfw=Vec::new() inference_ms=None poster=None relay=None />
                </div>
            }
        })
    };
    let intro = (!compact).then(|| {
        view! {
            <p class="ms-brand">"Multi-Shot Studio"</p>
            <h1>"One photo in, a multi-shot sequence of cinematic camera angles out."</h1>
            <p class="ms-lede">
                "Powered by WaveSpeed’s Kling V1 AI Multi-Shot model: upload a single image and get "
                "professional pans, zooms and transitions across several shots. Your image is checked "
                "right here in the browser before anything is sent or paid for."
            </p>
        }
    });
    view! {
        <div
            class="ms-app"
            class:ms-page=!compact
            class:ms-compact=compact
            data-theme=move || settings.with(|s| s.theme.attribute())
            data-face=face
            node_ref=root
        >
            <header class="ms-header">
                {intro}
                {move || settings.with(config::sandbox_note).map(|note| view! {
                    <p class="ms-note ms-sandbox ms-dev" role="note">{note}</p>
                })}
                {move || problems.with(|found| (!found.is_empty()).then(|| view! {
                    <div class="ms-config-problems">
                        {found.iter().map(|p| view! { <p class="ms-alert" role="alert">{p.to_string()}</p> }).collect_view()}
                    </div>
                }))}
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
                        on_many=(!compact).then(|| Callback::new(move |many: SendWrapper<Many>| {
                            if let Some(slot) = batch_slot.get_untracked() {
                                batch_link::hand(&slot, many.take());
                            }
                        }))
                    >
                        {compact.then(|| view! { <p class="ms-hint ms-rules-line">{rules::in_one_line()}</p> })}
                        <ImagePreview chosen=chosen />
                        <ValidationReport assessment=assessment chosen=chosen />
                    </ImagePicker>
                </section>
                {(!compact).then(|| view! { <div class=batch::SLOT node_ref=batch_slot></div> })}
                <section class="ms-card ms-generate" aria-labelledby="ms-generate-heading">
                    <h2 id="ms-generate-heading">
                        <span class="ms-step" aria-hidden="true">"2"</span>
                        "Generate"
                    </h2>
                    <details class="ms-connection ms-dev" open=true hidden=locked>
                        <summary>"Connection"</summary>
                        <ConnectionSettings
                            state=connection_state
                            connection=connection
                        />
                    </details>
                    <BotCheck sitekey=sitekey state=bot />
                    <GeneratePanel
                        assessment=assessment
                        connection_problem=Signal::derive(move || connection.get().err())
                        busy=busy
                        funds=funds
                        for_visitor=Signal::derive(locked)
                        on_generate=generate
                        has_result=Signal::derive(move || jobs.state.with(JobsState::has_result))
                        on_new_image=move |()| {
                            chosen.set(None);
                            jobs.send(Command::Dismiss);
                        }
                    />
                    <JobProgress />
                    {example}
                </section>
                <History connection=connection />
                {(!compact).then(|| view! { <Requirements /> })}
            </main>
            {(!compact).then(|| view! {
                <footer class="ms-footer">
                    <p>
                        "Multi-Shot Studio is an independent front-end for the WaveSpeed API. "
                        {format!("{LISTED_PRICE} per generation, billed by WaveSpeed.")}
                    </p>
                </footer>
            })}
        </div>
    }
}
