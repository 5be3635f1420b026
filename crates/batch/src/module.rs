//! The module's glue and view: it runs the batch's reducer (`core::batch::apply`),
//! carries out its effects — the saved batch, the kept files, the page's sends, the back-
//! off timer, the tab lock — and draws the card. One batch per page; its state is here.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use gloo_timers::callback::{Interval, Timeout};
use multishot_film::request::{self as film, Request as FilmRequest, SLOT as FILM_SLOT};
use multishot_repair::offer;
use multishot_studio::browser::storage::{load_batch, read_record, remove_batch, save_batch};
use multishot_studio::browser::tab_lock::{self, Held};
use multishot_studio::browser::timer::now_ms;
use multishot_studio::browser::{batch_check, batch_files, download, film_module, folder};
use multishot_studio::core::api::{Status, TaskId};
use multishot_studio::core::batch::{
    self, apply, quote, result_files, status_line, zip_said, Batch, Command, Context, Effect,
    Outcome, ResultFile, State, ANSWER_EVENT, CONTEXT, CONTEXT_EVENT, DEFAULT_AT_ONCE, ENTRIES,
    ENTRY, EVENT, FILES, LOADER, MAX_AT_ONCE, SEND_EVENT, SLOT, URLS,
};
use multishot_studio::core::config::UploadMode;
use multishot_studio::core::history::{self, is_thumbnail};
use multishot_studio::core::jobs::Lock;
use multishot_studio::core::output::{classify, MediaKind, Output};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;

/// The module's style sheet, beside its loader.
const STYLE: &str = "multishot-batch.css";
/// The batch's tab lock: the tab that holds it runs the batch.
const BATCH_LOCK: &str = "multishot.batch";
/// How often the records of running tasks are read (the page polls them and saves each
/// reply).
const WATCH: Duration = Duration::from_millis(1000);

/// The batch, where it is drawn and what runs it.
struct Engine {
    batch: Batch,
    slot: web_sys::Element,
    /// The page's latest word on where jobs go and what pays.
    context: Option<Context>,
    /// The back-off timer.
    wake: Option<Timeout>,
    /// The batch's lock, while this tab runs it.
    held: Option<Held>,
    /// Running tasks' latest status, read from their records.
    statuses: HashMap<TaskId, Status>,
    /// What the card says beside the rows (a save that failed, a download's progress).
    note: Option<String>,
    download: Option<String>,
    /// Download all results is making its zip (pressed again, it would make a second).
    zipping: bool,
    /// The rows drawn, by item number: the element and what it shows.
    rows: HashMap<u32, (web_sys::Element, String)>,
    /// Photos waiting to be checked and added, one at a time.
    adding: VecDeque<Adding>,
    checking: bool,
    /// The last repair a person chose in a row: the rule it mended and the repair's
    /// words (`offer::CHOICE`), for **Apply to all that need it**.
    choice: Option<(String, String)>,
    /// The rows **Apply to all that need it** still has to make fit, one at a time,
    /// and the repair's words.
    applying: Option<(VecDeque<u32>, String)>,
}

enum Adding {
    File(web_sys::File),
    Url(String),
}

thread_local! {
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
    /// The timer that reads running tasks' records.
    static WATCHER: RefCell<Option<Interval>> = const { RefCell::new(None) };
}

fn document() -> Option<web_sys::Document> {
    web_sys::window()?.document()
}

#[wasm_bindgen(start)]
fn start() {
    // A panic's message goes to the console in debug builds (the release build aborts at
    // once, as the page's does).
    #[cfg(debug_assertions)]
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&info.to_string().into());
    }));
    let Some(document) = document() else {
        return;
    };
    style(&document);
    let handler = Closure::<dyn Fn(web_sys::Event)>::new(|event: web_sys::Event| {
        if let Some(slot) = event.target().and_then(|t| t.dyn_into().ok()) {
            take_in(slot);
        }
    });
    let _ = document.add_event_listener_with_callback_and_bool(
        EVENT,
        handler.as_ref().unchecked_ref(),
        true,
    );
    handler.forget();
    // What the page handed over while this module was on its way.
    if let Ok(Some(slot)) = document.query_selector(&format!(".{SLOT}")) {
        take_in(slot);
    }
    // The tab that runs the batch saved it: follow it.
    let storage = Closure::<dyn Fn(web_sys::StorageEvent)>::new(|e: web_sys::StorageEvent| {
        if e.key().as_deref() == Some(ENTRY) {
            let saved = e.new_value().and_then(|raw| batch::decode(&raw).ok());
            send(Command::Stored(saved.map(Box::new)));
        }
    });
    if let Some(window) = web_sys::window() {
        let _ =
            window.add_event_listener_with_callback("storage", storage.as_ref().unchecked_ref());
    }
    storage.forget();
}

/// The module's style sheet, beside its loader.
fn style(document: &web_sys::Document) {
    let Ok(Some(loader)) = document.query_selector(&format!("script[src$='{LOADER}']")) else {
        return;
    };
    let Some(href) = loader
        .dyn_ref::<web_sys::HtmlScriptElement>()
        .and_then(|script| web_sys::Url::new_with_base(STYLE, &script.src()).ok())
    else {
        return;
    };
    let Ok(link) = document.create_element("link") else {
        return;
    };
    let _ = link.set_attribute("rel", "stylesheet");
    let _ = link.set_attribute("href", &href.href());
    if let Some(head) = document.head() {
        let _ = head.append_child(&link);
    }
}

/// Takes in what the slot holds: the batch (saved, or new), photos to add.
fn take_in(slot: web_sys::Element) {
    let take = |key: &str| {
        let value = js_sys::Reflect::get(&slot, &key.into()).unwrap_or_default();
        let _ = js_sys::Reflect::set(&slot, &key.into(), &JsValue::UNDEFINED);
        if js_sys::Array::is_array(&value) {
            js_sys::Array::from(&value)
        } else {
            js_sys::Array::new()
        }
    };
    let (files, urls, entries) = (take(FILES), take(URLS), take(ENTRIES));
    let started = ENGINE.with_borrow(Option::is_some);
    if !started {
        begin(slot.clone());
    }
    let mut added = false;
    ENGINE.with_borrow_mut(|e| {
        let Some(engine) = e.as_mut() else { return };
        for file in files
            .iter()
            .filter_map(|f| f.dyn_into::<web_sys::File>().ok())
        {
            engine.adding.push_back(Adding::File(file));
            added = true;
        }
        for url in urls.iter().filter_map(|u| u.as_string()) {
            engine.adding.push_back(Adding::Url(url));
            added = true;
        }
    });
    if added {
        check_next();
    }
    // Dropped folders: their files, read first.
    let entries: Vec<web_sys::FileSystemEntry> =
        entries.iter().filter_map(|e| e.dyn_into().ok()).collect();
    if !entries.is_empty() {
        spawn_local(async move {
            let files = folder::files(entries).await;
            ENGINE.with_borrow_mut(|e| {
                if let Some(engine) = e.as_mut() {
                    engine.adding.extend(files.into_iter().map(Adding::File));
                }
            });
            check_next();
        });
    }
    render();
}

/// Starts the engine in `slot`: the saved batch (asking for its lock), or a new one.
fn begin(slot: web_sys::Element) {
    let mut note = None;
    let (batch, saved) = match load_batch() {
        Some(Ok(saved)) => (saved, true),
        Some(Err(why)) => {
            note = Some(format!(
                "The batch saved in this browser could not be read ({why}): its tasks are in History."
            ));
            (Batch::new(new_id()), false)
        }
        None => (Batch::new(new_id()), false),
    };
    ENGINE.with_borrow_mut(|e| {
        *e = Some(Engine {
            batch,
            slot: slot.clone(),
            context: None,
            wake: None,
            held: None,
            statuses: HashMap::new(),
            note,
            download: None,
            zipping: false,
            rows: HashMap::new(),
            adding: VecDeque::new(),
            checking: false,
            choice: None,
            applying: None,
        })
    });
    build(&slot);
    let target: web_sys::EventTarget = slot.clone().into();
    on(&target, CONTEXT_EVENT, move |_| context_changed());
    on(&target, ANSWER_EVENT, |e| answered(&e));
    // A record saved: a running task may have ended (read at once, not at the next
    // watch).
    if let Some(document) = web_sys::window().and_then(|w| w.document()) {
        on(&document.into(), history::SAVED_EVENT, |_| watch());
    }
    context_changed();
    if saved {
        ENGINE.with_borrow_mut(|e| {
            if let Some(engine) = e.as_mut() {
                engine.batch.run.asked = true;
            }
        });
        run(Effect::Lock { wait: false });
    }
    WATCHER.with_borrow_mut(|w| {
        *w = Some(Interval::new(WATCH.as_millis() as u32, watch));
    });
}

fn new_id() -> String {
    format!("b{}-{}", now_ms(), (js_sys::Math::random() * 1e9) as u64)
}

fn on(target: &web_sys::EventTarget, name: &str, handler: impl Fn(web_sys::Event) + 'static) {
    let handler = Closure::<dyn Fn(web_sys::Event)>::new(handler);
    let _ = target.add_event_listener_with_callback(name, handler.as_ref().unchecked_ref());
    handler.forget();
}

/// The page's context changed: kept, and the key's presence told to the reducer.
fn context_changed() {
    let text = ENGINE.with_borrow(|e| {
        let slot = &e.as_ref()?.slot;
        js_sys::Reflect::get(slot, &CONTEXT.into())
            .ok()?
            .as_string()
    });
    let Some(context) = text.and_then(|t| Context::parse(&t)) else {
        return;
    };
    let key = context.key;
    ENGINE.with_borrow_mut(|e| {
        if let Some(engine) = e.as_mut() {
            engine.context = Some(context);
        }
    });
    send(Command::KeyGiven(key));
}

/// The page answered a send.
fn answered(event: &web_sys::Event) {
    let Some(detail) = event.dyn_ref::<web_sys::CustomEvent>().map(|e| e.detail()) else {
        return;
    };
    let get = |key: &str| js_sys::Reflect::get(&detail, &key.into()).unwrap_or_default();
    let number = get("number").as_f64().unwrap_or(0.0) as u32;
    let after = get("after").as_f64().map(|ms| ms as u64);
    let Some(outcome) = Outcome::from_parts(
        &get("kind").as_string().unwrap_or_default(),
        get("text").as_string().unwrap_or_default(),
        after,
    ) else {
        return;
    };
    send(match get("step").as_string().as_deref() {
        Some("upload") => Command::Uploaded(number, outcome),
        _ => Command::Submitted(number, outcome),
    });
}

/// Checks the next photo waiting to be added, then the one after (one at a time: a
/// single decoded image at once).
fn check_next() {
    let next = ENGINE.with_borrow_mut(|e| {
        let engine = e.as_mut()?;
        if engine.checking {
            return None;
        }
        let next = engine.adding.pop_front()?;
        engine.checking = true;
        Some((next, engine.batch.id.clone()))
    });
    let Some((next, id)) = next else {
        return;
    };
    spawn_local(async move {
        match next {
            Adding::File(file) => {
                let item = batch_check::check_file(&file).await;
                let number = ENGINE.with_borrow(|e| e.as_ref().map(|e| e.batch.next_number));
                send(Command::Add(vec![item]));
                let added = ENGINE.with_borrow(|e| {
                    e.as_ref()
                        .zip(number)
                        .is_some_and(|(e, n)| e.batch.item(n).is_some())
                });
                if let (true, Some(number)) = (added, number) {
                    if !batch_files::keep(&id, number, &file).await {
                        set_note(
                            "This browser keeps the photos for this tab only: keep it open until the batch is done.",
                        );
                    }
                }
            }
            Adding::Url(url) => {
                let item = batch_check::check_url(url).await;
                send(Command::Add(vec![item]));
            }
        }
        ENGINE.with_borrow_mut(|e| {
            if let Some(engine) = e.as_mut() {
                engine.checking = false;
            }
        });
        check_next();
    });
}

fn set_note(note: &str) {
    ENGINE.with_borrow_mut(|e| {
        if let Some(engine) = e.as_mut() {
            engine.note = Some(note.to_owned());
        }
    });
    render();
}

/// Reads the records of running tasks where the page saves them: a task that ended is
/// told to the batch; one no longer kept, too.
fn watch() {
    let running: Vec<TaskId> = ENGINE.with_borrow(|e| {
        e.as_ref()
            .filter(|e| e.batch.run.here)
            .map(|e| {
                e.batch
                    .items
                    .iter()
                    .filter_map(|i| match &i.state {
                        State::Running(t) => Some(t.clone()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    });
    let mut changed = false;
    for task in running {
        match read_record(&task) {
            Some(record) if record.is_finished() => send(Command::TaskOver {
                task,
                completed: record.status == Status::Completed,
                error: record.error.clone(),
                outputs: record.outputs.clone(),
            }),
            Some(record) => {
                ENGINE.with_borrow_mut(|e| {
                    if let Some(engine) = e.as_mut() {
                        changed |= engine.statuses.insert(task, record.status.clone())
                            != Some(record.status);
                    }
                });
            }
            None => send(Command::TaskOver {
                task,
                completed: false,
                error: Some(
                    "Its task was deleted from History: this page no longer waits for it."
                        .to_owned(),
                ),
                outputs: Vec::new(),
            }),
        }
    }
    if changed {
        render();
    }
}

/// Takes in `command` and carries out what it calls for.
pub(crate) fn send(command: Command) {
    let effects = ENGINE.with_borrow_mut(|e| {
        let engine = e.as_mut()?;
        Some(apply(&mut engine.batch, command, now_ms()))
    });
    for effect in effects.unwrap_or_default() {
        run(effect);
    }
    render();
}

fn dispatch_send(slot: &web_sys::Element, fields: &[(&str, JsValue)]) {
    let detail = js_sys::Object::new();
    for (key, value) in fields {
        let _ = js_sys::Reflect::set(&detail, &(*key).into(), value);
    }
    let init = web_sys::CustomEventInit::new();
    init.set_detail(&detail);
    if let Ok(event) = web_sys::CustomEvent::new_with_event_init_dict(SEND_EVENT, &init) {
        let _ = slot.dispatch_event(&event);
    }
}

fn run(effect: Effect) {
    let Some((id, slot)) =
        ENGINE.with_borrow(|e| e.as_ref().map(|e| (e.batch.id.clone(), e.slot.clone())))
    else {
        return;
    };
    match effect {
        Effect::Save => {
            let failed = ENGINE.with_borrow(|e| e.as_ref().map(|e| save_batch(&e.batch).err()));
            if let Some(Some(why)) = failed {
                set_note(&format!(
                    "The batch could not be saved ({why}): it goes on in this tab, but a reload would lose its place."
                ));
            }
        }
        Effect::Upload(number, mode) => {
            let name = ENGINE
                .with_borrow(|e| Some(e.as_ref()?.batch.item(number)?.name.clone()))
                .unwrap_or_default();
            spawn_local(async move {
                let Some(file) = batch_files::read(&id, number, &name).await else {
                    return send(Command::Lost(number));
                };
                dispatch_send(
                    &slot,
                    &[
                        ("number", number.into()),
                        ("step", "upload".into()),
                        ("file", file.into()),
                        ("inline", (mode == UploadMode::Inline).into()),
                    ],
                );
            });
        }
        Effect::Submit { number, request } => {
            let thumbnail =
                ENGINE.with_borrow(|e| e.as_ref()?.batch.item(number)?.thumbnail.clone());
            dispatch_send(
                &slot,
                &[
                    ("number", number.into()),
                    ("step", "submit".into()),
                    ("image", request.image.into()),
                    ("base64", request.enable_base64_output.into()),
                    (
                        "thumbnail",
                        thumbnail.map_or(JsValue::UNDEFINED, JsValue::from),
                    ),
                ],
            );
        }
        Effect::WakeIn(ms) => {
            let timer = Timeout::new(ms.min(u64::from(u32::MAX)) as u32, || send(Command::Wake));
            ENGINE.with_borrow_mut(|e| {
                if let Some(engine) = e.as_mut() {
                    // (The timer it replaces is cancelled as it is dropped.)
                    engine.wake = Some(timer);
                }
            });
        }
        Effect::Lock { wait } => {
            let asked = tab_lock::request(BATCH_LOCK, wait);
            spawn_local(async move {
                let lock = match asked.await {
                    tab_lock::Lock::Held(held) => {
                        ENGINE.with_borrow_mut(|e| {
                            if let Some(engine) = e.as_mut() {
                                engine.held = Some(held);
                            }
                        });
                        Lock::Held
                    }
                    tab_lock::Lock::Busy => Lock::Busy,
                    tab_lock::Lock::Unsupported => Lock::Held,
                };
                let saved = load_batch().and_then(Result::ok).map(Box::new);
                send(Command::Locked(lock, saved));
            });
        }
        Effect::Discard(number) => batch_files::discard(&id, number),
        Effect::Resume(task) => dispatch_send(
            &slot,
            &[("step", "resume".into()), ("task", task.to_string().into())],
        ),
        Effect::Forget => {
            remove_batch();
            batch_files::forget_all();
            ENGINE.with_borrow_mut(|e| {
                if let Some(engine) = e.as_mut() {
                    engine.held = None;
                    engine.wake = None;
                    engine.batch = Batch::new(new_id());
                    engine.note = None;
                    engine.download = None;
                }
            });
        }
    }
}

/// Make it fit, in a refused row: the repairs module (loaded by the page's script at
/// its first offer) offers its repairs in a slot of the row, and answers with the
/// repaired photo through the row's own file input, which takes it in its place. With
/// `apply` (a repair's words), that repair is made at once, without a press, and the
/// next row of **Apply to all that need it** follows when it is over.
fn make_it_fit(number: u32, apply: Option<String>) {
    let applying = apply.is_some();
    let found = ENGINE.with_borrow(|e| {
        let e = e.as_ref()?;
        let item = e.batch.item(number)?;
        let row = e
            .slot
            .query_selector(&format!(".ms-batch-row[data-number='{number}']"))
            .ok()
            .flatten()?;
        Some((e.batch.id.clone(), row, item.name.clone()))
    });
    let Some((id, row, name)) = found else {
        if applying {
            apply_next();
        }
        return;
    };
    spawn_local(async move {
        let Some(file) = batch_files::read(&id, number, &name).await else {
            send(Command::Lost(number));
            if applying {
                apply_next();
            }
            return;
        };
        let repairs = match row
            .query_selector(&format!(".{}", offer::SLOT))
            .ok()
            .flatten()
        {
            Some(repairs) => repairs,
            None => {
                let (Some(repairs), Some(input)) =
                    (element("div", offer::SLOT), element("input", ""))
                else {
                    return;
                };
                let _ = input.set_attribute("type", "file");
                let _ = input.set_attribute("hidden", "");
                let _ = input.set_attribute("aria-label", &format!("Repaired {name}"));
                let (taken, answered) = (input.clone(), repairs.clone());
                on(&input.clone().into(), "change", move |_| {
                    let file = taken
                        .dyn_ref::<web_sys::HtmlInputElement>()
                        .and_then(|i| i.files()?.get(0));
                    if let Some(file) = file {
                        let choice = js_sys::Reflect::get(&answered, &offer::CHOICE.into())
                            .ok()
                            .and_then(|c| c.as_string());
                        chosen(number, choice);
                        replace(number, file);
                    }
                });
                on(&repairs.clone().into(), offer::APPLIED_EVENT, |_| {
                    apply_next()
                });
                let _ = row.append_child(&input);
                let _ = row.append_child(&repairs);
                repairs
            }
        };
        let _ = js_sys::Reflect::set(&repairs, &offer::FILE.into(), &file);
        let apply = apply.map_or(JsValue::UNDEFINED, JsValue::from);
        let _ = js_sys::Reflect::set(&repairs, &offer::APPLY.into(), &apply);
        if let Ok(event) = web_sys::Event::new(offer::OFFER_EVENT) {
            let _ = repairs.dispatch_event(&event);
        }
    });
}

/// A row was made to fit by a person's choice (not Undo, not Apply to all): kept with
/// the rule it mended, so that **Apply to all that need it** can make the others alike.
fn chosen(number: u32, choice: Option<String>) {
    ENGINE.with_borrow_mut(|e| {
        let Some(engine) = e.as_mut() else { return };
        if engine.applying.is_some() {
            return;
        }
        let code = match &engine.batch.item(number).map(|i| &i.state) {
            Some(State::Refused {
                repair: Some(code), ..
            }) => code.clone(),
            _ => return,
        };
        engine.choice = choice.map(|choice| (code, choice));
    });
}

/// **Apply to all that need it**: every other row refused for the rule the last
/// choice mended is made fit the same way, one after another (one image decoded at a
/// time).
fn apply_to_all() {
    ENGINE.with_borrow_mut(|e| {
        let Some(engine) = e.as_mut() else { return };
        let Some((code, choice)) = engine.choice.take() else {
            return;
        };
        engine.applying = Some((engine.batch.needing(&code).into(), choice));
    });
    apply_next();
}

/// The next row of **Apply to all that need it**, or the end of it.
fn apply_next() {
    let next = ENGINE.with_borrow_mut(|e| {
        let engine = e.as_mut()?;
        let (left, choice) = engine.applying.as_mut()?;
        match left.pop_front() {
            Some(number) => Some((number, choice.clone())),
            None => {
                engine.applying = None;
                None
            }
        }
    });
    if let Some((number, choice)) = next {
        make_it_fit(number, Some(choice));
    }
    render();
}

/// Takes a repaired photo in item `number`'s place: checked again, kept under its number.
fn replace(number: u32, file: web_sys::File) {
    let Some(id) = ENGINE.with_borrow(|e| Some(e.as_ref()?.batch.id.clone())) else {
        return;
    };
    spawn_local(async move {
        let photo = batch_check::check_file(&file).await;
        batch_files::keep(&id, number, &file).await;
        send(Command::Replace(number, photo));
    });
}

// The card.

fn element(tag: &str, class: &str) -> Option<web_sys::Element> {
    let el = document()?.create_element(tag).ok()?;
    if !class.is_empty() {
        el.set_class_name(class);
    }
    Some(el)
}

fn button(
    label: &str,
    class: &str,
    action: &str,
    press: impl Fn() + 'static,
) -> Option<web_sys::Element> {
    let b = element("button", class)?;
    let _ = b.set_attribute("type", "button");
    let _ = b.set_attribute("data-action", action);
    b.set_text_content(Some(label));
    on(&b.clone().into(), "click", move |_| press());
    Some(b)
}

/// Builds the card's frame once (the rows and texts are drawn by [`render`]).
fn build(slot: &web_sys::Element) {
    let Some(card) = element("section", "ms-card ms-batch") else {
        return;
    };
    let _ = card.set_attribute("aria-labelledby", "ms-batch-heading");
    let _ = card.set_attribute("hidden", "");
    let parts: Vec<Option<web_sys::Element>> = vec![
        element("h2", "").inspect(|h| {
            h.set_id("ms-batch-heading");
            h.set_text_content(Some("Batch"));
        }),
        element("p", "ms-hint ms-batch-summary"),
        element("p", "ms-funds ms-batch-quote").inspect(|p| {
            let _ = p.set_attribute("role", "status");
        }),
        controls(),
        element("p", "ms-status ms-batch-holding").inspect(|p| {
            let _ = p.set_attribute("role", "status");
        }),
        apply_bar(),
        element("p", "ms-status ms-batch-download").inspect(|p| {
            let _ = p.set_attribute("role", "status");
        }),
        // Where the film module draws each film's progress (and its Cancel) while
        // Download all results makes them.
        element("div", &format!("{FILM_SLOT} ms-batch-film")),
        element("p", "ms-note ms-batch-note"),
        element("ol", "ms-batch-list"),
        settings(),
    ];
    for part in parts.into_iter().flatten() {
        let _ = card.append_child(&part);
    }
    slot.set_text_content(None);
    let _ = slot.append_child(&card);
}

fn controls() -> Option<web_sys::Element> {
    let bar = element("div", "ms-controls ms-batch-controls")?;
    let generate_all = || {
        let plan = ENGINE.with_borrow(|e| e.as_ref()?.context.as_ref()?.plan.clone().ok());
        if let Some(plan) = plan {
            send(Command::GenerateAll(plan));
        }
    };
    let buttons = [
        button(
            "Generate all",
            "ms-button ms-primary",
            "generate",
            generate_all,
        ),
        button("Retry failed", "ms-button", "retry", || {
            send(Command::RetryFailed)
        }),
        button("Cancel all waiting", "ms-button", "cancel", || {
            send(Command::CancelWaiting)
        }),
        button("Pause", "ms-button", "pause", || {
            let paused = ENGINE.with_borrow(|e| {
                e.as_ref()
                    .is_some_and(|e| e.batch.paused || e.batch.stopped.is_some())
            });
            send(Command::Pause(!paused));
        }),
        button(
            "Download all results",
            "ms-button",
            "download",
            download_all,
        ),
    ];
    for b in buttons.into_iter().flatten() {
        let _ = bar.append_child(&b);
    }
    Some(bar)
}

/// The offer to make every photo refused for the same rule fit the way one was.
fn apply_bar() -> Option<web_sys::Element> {
    let bar = element("div", "ms-controls ms-batch-apply")?;
    let said = element("p", "ms-hint ms-batch-apply-text")?;
    let _ = said.set_attribute("role", "status");
    let _ = bar.append_child(&said);
    let press = button(
        "Apply to all that need it",
        "ms-button",
        "apply",
        apply_to_all,
    )?;
    let _ = bar.append_child(&press);
    let _ = bar.set_attribute("hidden", "");
    Some(bar)
}

fn settings() -> Option<web_sys::Element> {
    let bar = element("div", "ms-controls ms-batch-settings")?;
    let label = element("label", "")?;
    label.set_text_content(Some("At once "));
    let select: web_sys::HtmlSelectElement = element("select", "")?.dyn_into().ok()?;
    for n in 1..=MAX_AT_ONCE {
        let option = element("option", "")?;
        let _ = option.set_attribute("value", &n.to_string());
        option.set_text_content(Some(&if n == DEFAULT_AT_ONCE {
            format!("{n} (WaveSpeed’s default tier)")
        } else {
            n.to_string()
        }));
        let _ = select.append_child(&option);
    }
    let chosen = select.clone();
    on(&select.clone().into(), "change", move |_| {
        if let Ok(n) = chosen.value().parse() {
            send(Command::AtOnce(n));
        }
    });
    let _ = label.append_child(&select);
    let _ = bar.append_child(&label);
    // Where the browser can make a video: each photo's film goes in the zip too.
    if film_module::offered() {
        if let (Some(label), Some(films)) =
            (element("label", ""), element("input", "ms-batch-films"))
        {
            let _ = films.set_attribute("type", "checkbox");
            let _ = films.set_attribute("checked", "");
            let _ = label.append_child(&films);
            let _ =
                label.append_child(&document()?.create_text_node(" Films in Download all results"));
            let _ = bar.append_child(&label);
        }
    }
    if let Some(close) = button("New batch", "ms-button ms-quiet", "close", close) {
        let _ = bar.append_child(&close);
    }
    Some(bar)
}

/// New batch: the list is emptied (its tasks stay in History), unless something is being
/// sent.
fn close() {
    let effects = ENGINE.with_borrow(|e| batch::close(&e.as_ref()?.batch));
    for effect in effects.unwrap_or_default() {
        run(effect);
    }
    render();
}

/// Download all results: one zip, a folder per photo with its shots and, where the
/// browser makes videos and the box is ticked, its film — made one at a time by the film
/// module and put in the zip as it comes.
fn download_all() {
    let Some((files, left_out, films, slot)) = ENGINE.with_borrow(|e| {
        let e = e.as_ref()?;
        let (files, left_out) = result_files(&e.batch);
        let ticked = find(&e.slot, ".ms-batch-films")
            .and_then(|b| b.dyn_into::<web_sys::HtmlInputElement>().ok())
            .is_some_and(|b| b.checked());
        let mark = e.context.as_ref().and_then(|c| c.mark.as_deref());
        let films = if ticked {
            batch::films(&files, mark)
        } else {
            Vec::new()
        };
        Some((files, left_out, films, find(&e.slot, ".ms-batch-film")?))
    }) else {
        return;
    };
    zipping(true);
    set_download(format!("Putting {} shots in one zip…", files.len()));
    spawn_local(async move {
        let said = match zip_all(&files, films, &slot).await {
            Ok((made, missed)) => zip_said(files.len(), made, &missed, left_out),
            Err(why) => format!("The zip could not be made: {why}."),
        };
        slot.set_text_content(None);
        zipping(false);
        set_download(said);
    });
}

fn zipping(on: bool) {
    ENGINE.with_borrow_mut(|e| {
        if let Some(engine) = e.as_mut() {
            engine.zipping = on;
        }
    });
}

/// Puts every shot in the zip, each photo's film after its shots, and saves it: how many
/// films were made, and why the others were not (a cancel stops the films, not the zip).
async fn zip_all(
    files: &[ResultFile],
    films: Vec<(String, FilmRequest)>,
    slot: &web_sys::Element,
) -> Result<(usize, Vec<String>), String> {
    let mut zip = download::ZipBlob::new();
    let of = films.len();
    let mut films = films.into_iter().enumerate().peekable();
    let (mut made, mut missed) = (0, Vec::new());
    let mut cancelled = false;
    for (i, file) in files.iter().enumerate() {
        zip.add_shot(file).await?;
        let last_of_photo = files
            .get(i + 1)
            .is_none_or(|next| next.folder != file.folder);
        let Some((k, (folder, request))) =
            films.next_if(|(_, (f, _))| last_of_photo && *f == file.folder)
        else {
            continue;
        };
        if cancelled {
            missed.push(FILMS_CANCELLED.to_owned());
            continue;
        }
        set_download(format!("Making the film of {folder} ({} of {of})…", k + 1));
        match make_film(slot, &request).await {
            Ok(film) => {
                let extension = film
                    .name()
                    .rsplit_once('.')
                    .map_or("mp4".to_owned(), |(_, e)| e.to_owned());
                zip.add(&format!("{folder}/film.{extension}"), &film)
                    .await?;
                made += 1;
            }
            Err(why) => {
                cancelled = why == film::CANCELLED;
                missed.push(if cancelled {
                    FILMS_CANCELLED.to_owned()
                } else {
                    why
                });
            }
        }
    }
    set_download("Saving the zip…".to_owned());
    zip.save("multishot-results.zip")?;
    Ok((made, missed))
}

/// Why the films after a cancel were not made.
const FILMS_CANCELLED: &str = "cancelled (the zip has the shots).";

/// The longest wait for one film (a 3-shot film takes some 7 s here; a slow phone, many
/// times that): past it — the film module could not be loaded, say — the film is left
/// out and the zip goes on.
const FILM_WAIT_MS: u32 = 5 * 60 * 1000;

/// Asks the film module for `request`'s film (loading it the first time) in `slot`, and
/// waits for it to be handed back (at most [`FILM_WAIT_MS`]).
async fn make_film(
    slot: &web_sys::Element,
    request: &FilmRequest,
) -> Result<web_sys::File, String> {
    let answer: std::rc::Rc<RefCell<Option<(js_sys::Function, js_sys::Function)>>> =
        Default::default();
    let keep = answer.clone();
    let promise = js_sys::Promise::new(&mut move |resolve, reject| {
        *keep.borrow_mut() = Some((resolve, reject));
    });
    let Some((resolve, reject)) = answer.borrow_mut().take() else {
        return Err("the film could not be asked for".to_owned());
    };
    let give_up = reject.clone();
    let target: &web_sys::EventTarget = slot.as_ref();
    let from = slot.clone();
    let made = Closure::<dyn Fn(web_sys::Event)>::new(move |_| {
        let file = js_sys::Reflect::get(&from, &film::FILE.into()).unwrap_or_default();
        let _ = resolve.call1(&JsValue::NULL, &file);
    });
    let from = slot.clone();
    let failed = Closure::<dyn Fn(web_sys::Event)>::new(move |_| {
        let why = js_sys::Reflect::get(&from, &film::WHY.into()).unwrap_or_default();
        let _ = reject.call1(&JsValue::NULL, &why);
    });
    let _ =
        target.add_event_listener_with_callback(film::MADE_EVENT, made.as_ref().unchecked_ref());
    let _ = target
        .add_event_listener_with_callback(film::FAILED_EVENT, failed.as_ref().unchecked_ref());
    let _timer = Timeout::new(FILM_WAIT_MS, move || {
        let _ = give_up.call1(
            &JsValue::NULL,
            &"it was not made within 5 minutes (Download video may not load here)".into(),
        );
    });
    film_module::ask(slot, request);
    let answered = wasm_bindgen_futures::JsFuture::from(promise).await;
    let _ =
        target.remove_event_listener_with_callback(film::MADE_EVENT, made.as_ref().unchecked_ref());
    let _ = target
        .remove_event_listener_with_callback(film::FAILED_EVENT, failed.as_ref().unchecked_ref());
    match answered {
        Ok(file) => file
            .dyn_into()
            .map_err(|_| "the film came back empty".to_owned()),
        Err(why) => Err(why
            .as_string()
            .unwrap_or_else(|| "the film could not be made".to_owned())),
    }
}

fn set_download(said: String) {
    ENGINE.with_borrow_mut(|e| {
        if let Some(engine) = e.as_mut() {
            engine.download = Some(said);
        }
    });
    render();
}

fn find(card: &web_sys::Element, selector: &str) -> Option<web_sys::Element> {
    card.query_selector(selector).ok().flatten()
}

fn show(el: Option<web_sys::Element>, visible: bool) {
    if let Some(el) = el {
        let _ = if visible {
            el.remove_attribute("hidden")
        } else {
            el.set_attribute("hidden", "")
        };
    }
}

/// Sets an element's text; an element with nothing to say is hidden.
fn text(el: Option<web_sys::Element>, said: Option<&str>) {
    if let Some(el) = el {
        let said = said.filter(|s| !s.is_empty());
        if el.text_content().as_deref() != Some(said.unwrap_or("")) {
            el.set_text_content(said);
        }
        show(Some(el), said.is_some());
    }
}

/// Draws the card from the batch as it is.
fn render() {
    ENGINE.with_borrow_mut(|e| {
        let Some(engine) = e.as_mut() else { return };
        let Some(card) = find(&engine.slot, ".ms-batch") else {
            return;
        };
        let b = &engine.batch;
        show(Some(card.clone()), !b.items.is_empty() || engine.note.is_some());
        let count = |f: fn(&State) -> bool| b.count(f);
        let mut summary = vec![match b.items.len() {
            1 => "1 photo".to_owned(),
            n => format!("{n} photos"),
        }];
        for (n, word) in [
            (count(|s| matches!(s, State::Refused { .. })), "refused"),
            (count(|s| matches!(s, State::Done(_))), "done"),
            (count(State::takes_place), "running"),
            (count(|s| *s == State::Uploading), "uploading"),
            (count(State::is_waiting), "waiting"),
            (count(|s| matches!(s, State::Failed { .. })), "failed"),
        ] {
            if n > 0 {
                summary.push(format!("{n} {word}"));
            }
        }
        text(find(&card, ".ms-batch-summary"), Some(&summary.join(" · ")));
        let context = engine.context.as_ref();
        let quoted = context.and_then(|c| quote(&c.pay, b.ready()));
        let short = quoted.as_ref().is_some_and(|q| q.1);
        text(find(&card, ".ms-batch-quote"), quoted.as_ref().map(|q| q.0.as_str()));
        if let Some(q) = find(&card, ".ms-batch-quote") {
            let _ = q.class_list().toggle_with_force("ms-short", short);
        }
        let problem = context.and_then(|c| c.plan.as_ref().err());
        let here = b.run.here;
        let set = |action: &str, visible: bool, enabled: bool, label: Option<&str>| {
            let el = find(&card, &format!("[data-action={action}]"));
            if let Some(b) = el.as_ref().and_then(|e| e.dyn_ref::<web_sys::HtmlButtonElement>()) {
                b.set_disabled(!enabled);
            }
            if let Some(label) = label {
                text(el.clone(), Some(label));
            }
            show(el, visible);
        };
        let paused = b.paused || b.stopped.is_some();
        set("generate", true, here && b.ready() > 0 && !short && problem.is_none(), None);
        set("retry", b.retryable() > 0, here, None);
        set("cancel", b.waiting() > 0, here, None);
        set(
            "pause",
            b.waiting() > 0 || paused,
            here,
            Some(if paused { "Resume" } else { "Pause" }),
        );
        set(
            "download",
            count(|s| matches!(s, State::Done(_))) > 0,
            !engine.zipping,
            None,
        );
        set("close", true, batch::close(b).is_some(), None);
        if let Some(select) = find(&card, "select").and_then(|s| s.dyn_into::<web_sys::HtmlSelectElement>().ok()) {
            let value = b.at_once.to_string();
            if select.value() != value {
                select.set_value(&value);
            }
        }
        let holding = if b.run.elsewhere {
            Some("This batch runs in another tab of this browser: it is shown here as that tab saves it.".to_owned())
        } else {
            problem.cloned().filter(|_| b.ready() > 0).or_else(|| b.holding(now_ms()))
        };
        text(find(&card, ".ms-batch-holding"), holding.as_deref());
        let (offered, working) = match (&engine.applying, &engine.choice) {
            (Some((left, _)), _) => (
                Some(format!(
                    "Making photos fit the same way… {} left.",
                    left.len() + 1
                )),
                true,
            ),
            (None, Some((code, choice))) if here => {
                (batch::apply_offer(choice, b.needing(code).len()), false)
            }
            _ => (None, false),
        };
        show(find(&card, ".ms-batch-apply"), offered.is_some());
        text(find(&card, ".ms-batch-apply-text"), offered.as_deref());
        set("apply", offered.is_some() && !working, true, None);
        text(find(&card, ".ms-batch-download"), engine.download.as_deref());
        text(find(&card, ".ms-batch-note"), engine.note.as_deref());
        if let Some(list) = find(&card, ".ms-batch-list") {
            rows(&list, &b.items, here, &engine.statuses, &mut engine.rows);
        }
    });
}

/// Draws the rows: a row whose text changed is drawn again, the others are left as they
/// are (200 rows stay cheap), and the order is the list's.
fn rows(
    list: &web_sys::Element,
    items: &[batch::Item],
    here: bool,
    statuses: &HashMap<TaskId, Status>,
    drawn: &mut HashMap<u32, (web_sys::Element, String)>,
) {
    let mut kept = HashMap::with_capacity(items.len());
    let mut previous: Option<web_sys::Element> = None;
    for item in items {
        let status = item.state.task().and_then(|t| statuses.get(t));
        let (line, failed) = status_line(item, status);
        let again = here
            && matches!(
                item.state,
                State::Failed {
                    maybe_created: true,
                    ..
                }
            );
        let removable = here && !item.state.in_flight();
        let key = format!("{line}|{failed}|{again}|{removable}|{}", item.outputs.len());
        let row = match drawn.remove(&item.number) {
            Some((row, old)) if old == key => row,
            Some((row, _)) => {
                draw_row(&row, item, &line, failed, again, removable);
                row
            }
            None => {
                let Some(row) = element("li", "ms-batch-row") else {
                    continue;
                };
                let _ = row.set_attribute("data-number", &item.number.to_string());
                draw_row(&row, item, &line, failed, again, removable);
                row
            }
        };
        let _ = row.set_attribute(
            "data-state",
            match item.state {
                State::Refused { .. } => "refused",
                State::Ready => "ready",
                State::Waiting => "waiting",
                State::Staged(_) => "uploaded",
                State::Uploading | State::Submitting => "sending",
                State::Running(_) => "running",
                State::Done(_) => "done",
                State::Failed { .. } => "failed",
            },
        );
        // In the list's order: after the row before it.
        let in_place = match &previous {
            Some(p) => p.next_element_sibling().as_ref() == Some(&row),
            None => list.first_element_child().as_ref() == Some(&row),
        };
        if !in_place {
            let after = match &previous {
                Some(p) => p.next_sibling(),
                None => list.first_child(),
            };
            let _ = list.insert_before(&row, after.as_ref());
        }
        previous = Some(row.clone());
        kept.insert(item.number, (row, key));
    }
    for (_, (gone, _)) in drawn.drain() {
        gone.remove();
    }
    *drawn = kept;
}

fn draw_row(
    row: &web_sys::Element,
    item: &batch::Item,
    line: &str,
    failed: bool,
    again: bool,
    removable: bool,
) {
    row.set_text_content(None);
    let fits = removable
        && matches!(
            item.state,
            State::Refused {
                repair: Some(_),
                ..
            }
        );
    let thumb = match item.thumbnail.as_deref().filter(|t| is_thumbnail(t)) {
        Some(src) => element("img", "ms-batch-thumb").inspect(|img| {
            let _ = img.set_attribute("src", src);
            let _ = img.set_attribute("alt", "");
        }),
        None => element("span", "ms-batch-thumb").inspect(|s| {
            let _ = s.set_attribute("aria-hidden", "true");
        }),
    };
    let words = element("div", "ms-batch-text");
    if let Some(words) = &words {
        if let Some(name) = element("p", "ms-batch-name") {
            name.set_text_content(Some(&item.name));
            let _ = words.append_child(&name);
        }
        if let Some(status) = element(
            "p",
            if failed {
                "ms-batch-status ms-failed"
            } else {
                "ms-batch-status"
            },
        ) {
            status.set_text_content(Some(line));
            let _ = words.append_child(&status);
        }
    }
    let shots = element("div", "ms-batch-shots");
    if let Some(shots) = &shots {
        for (n, raw) in item.outputs.iter().enumerate() {
            // Only a checked web address is used.
            let Ok(Output::Remote { url, kind }) = classify(raw) else {
                continue;
            };
            let Some(link) = element("a", "") else {
                continue;
            };
            let _ = link.set_attribute("href", &url);
            let _ = link.set_attribute("target", "_blank");
            let _ = link.set_attribute("rel", "noopener noreferrer");
            let said = format!("Shot {} of {}", n + 1, item.name);
            if kind == MediaKind::Image {
                if let Some(img) = element("img", "") {
                    let _ = img.set_attribute("src", &url);
                    let _ = img.set_attribute("alt", &said);
                    let _ = img.set_attribute("loading", "lazy");
                    let _ = link.append_child(&img);
                }
            } else {
                link.set_text_content(Some(&said));
            }
            let _ = shots.append_child(&link);
        }
    }
    let actions = element("div", "ms-batch-actions");
    let number = item.number;
    if let Some(actions) = &actions {
        if fits {
            if let Some(b) = button("Make it fit", "ms-button ms-small", "fit", move || {
                make_it_fit(number, None)
            }) {
                let _ = actions.append_child(&b);
            }
        }
        if again {
            if let Some(b) = button("Send again", "ms-button ms-small", "again", move || {
                send(Command::SendAgain(number))
            }) {
                let _ = actions.append_child(&b);
            }
        }
        if removable {
            if let Some(b) = button(
                "Remove",
                "ms-button ms-small ms-quiet",
                "remove",
                move || send(Command::Remove(number)),
            ) {
                let _ = b.set_attribute("aria-label", &format!("Remove {}", item.name));
                let _ = actions.append_child(&b);
            }
        }
    }
    for part in [thumb, words, shots, actions].into_iter().flatten() {
        let _ = row.append_child(&part);
    }
}
