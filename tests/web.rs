//! Browser tests (wasm-bindgen-test in headless Chromium): the decode glue on real
//! images, and the components mounted into a fresh element, driven as a user would.
#![cfg(target_arch = "wasm32")]

mod support;

use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use leptos::task::tick;
use multishot_studio::browser::decode::{decoded_size_of_blob, decoded_size_of_url};
use multishot_studio::browser::file::read_head;
use multishot_studio::components::App;
use multishot_studio::core::sniff::{sniff, Dimensions, Format};
use support::fixtures::{self, catalogue};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn file(name: &str, bytes: &[u8], mime: &str) -> web_sys::File {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let options = web_sys::FilePropertyBag::new();
    options.set_type(mime);
    web_sys::File::new_with_u8_array_sequence_and_options(&parts, name, &options).expect("a File")
}

/// A `DataTransfer` holding one file, as a drop or a paste carries it.
fn transfer_of(file: &web_sys::File) -> web_sys::DataTransfer {
    let transfer = web_sys::DataTransfer::new().unwrap();
    transfer.items().add_with_file(file).unwrap();
    transfer
}

fn fixture_file(name: &str) -> web_sys::File {
    let f = fixtures::by_name(name).expect("a fixture of that name");
    // Declared type follows the name, as a browser would; the app must not trust it.
    let mime = if name.ends_with(".png") {
        "image/png"
    } else {
        "image/jpeg"
    };
    file(f.name, &(f.make)(), mime)
}

// ---- decode glue -------------------------------------------------------------------

#[wasm_bindgen_test]
async fn a_png_decodes_to_its_size() {
    let size = decoded_size_of_blob(&fixture_file("valid.png")).await;
    assert_eq!(size, Ok(Dimensions::new(640, 480)));
}

#[wasm_bindgen_test]
async fn a_jpeg_decodes_to_its_size() {
    let size = decoded_size_of_blob(&fixture_file("valid.jpg")).await;
    assert_eq!(size, Ok(Dimensions::new(800, 600)));
}

#[wasm_bindgen_test]
async fn an_exif_rotated_jpeg_reports_its_displayed_size() {
    // Stored 600 × 400 with orientation 6: shown turned, 400 × 600.
    let f = fixture_file("exif-rotated.jpg");
    assert_eq!(
        decoded_size_of_blob(&f).await,
        Ok(Dimensions::new(400, 600))
    );
    // The header parser agrees, and the <img> path too.
    let head = read_head(&f, 4096).await.expect("head");
    assert_eq!(sniff(&head).header, Ok(Dimensions::new(400, 600)));
    let url = web_sys::Url::create_object_url_with_blob(&f).expect("blob URL");
    assert_eq!(
        decoded_size_of_url(&url).await,
        Ok(Dimensions::new(400, 600))
    );
    let _ = web_sys::Url::revoke_object_url(&url);
}

#[wasm_bindgen_test]
async fn corrupt_and_truncated_images_are_refused() {
    for name in ["corrupt.png", "truncated.jpg"] {
        let result = decoded_size_of_blob(&fixture_file(name)).await;
        assert!(result.is_err(), "{name} decoded as {result:?}");
    }
    let text = file("note.png", b"not an image", "image/png");
    assert!(decoded_size_of_blob(&text).await.is_err());
}

#[wasm_bindgen_test]
async fn read_head_reads_only_the_head() {
    let big = fixture_file("too-big.jpg");
    let head = read_head(&big, 1024).await.expect("head");
    assert_eq!(head.len(), 1024);
    assert_eq!(sniff(&head).format, Format::Jpeg);
    let tiny = file("x.png", b"abc", "image/png");
    assert_eq!(read_head(&tiny, 1024).await.expect("head"), b"abc");
}

// ---- components ---------------------------------------------------------------------

/// The app mounted into a fresh element, unmounted when dropped.
struct Mounted {
    root: web_sys::HtmlElement,
    _handle: leptos::mount::UnmountHandle<leptos::tachys::view::any_view::AnyViewState>,
}

impl Drop for Mounted {
    fn drop(&mut self) {
        self.root.remove();
    }
}

/// Mounts the app and lets its effects run (listeners attach in effects).
async fn mount_app() -> Mounted {
    let document = document();
    let root: web_sys::HtmlElement = document.create_element("div").unwrap().unchecked_into();
    document.body().unwrap().append_child(&root).unwrap();
    let handle = leptos::mount::mount_to(root.clone(), || view! { <App /> }.into_any());
    tick().await;
    let mounted = Mounted {
        root,
        _handle: handle,
    };
    // A key, so that Generate depends on the image alone.
    let key: web_sys::HtmlInputElement = mounted
        .query("#ms-api-key")
        .expect("API key field")
        .unchecked_into();
    key.set_value("sk-test");
    key.dispatch_event(&web_sys::Event::new("input").unwrap())
        .unwrap();
    tick().await;
    mounted
}

impl Mounted {
    fn query(&self, selector: &str) -> Option<web_sys::HtmlElement> {
        self.root
            .query_selector(selector)
            .unwrap()
            .map(|e| e.unchecked_into())
    }

    fn alert_headings(&self) -> Vec<String> {
        let list = self.root.query_selector_all("[role=alert] strong").unwrap();
        (0..list.length())
            .filter_map(|i| list.item(i))
            .filter_map(|n| n.text_content())
            .map(|t| t.trim_end_matches(": ").trim_end_matches(':').to_owned())
            .collect()
    }

    fn generate_enabled(&self) -> bool {
        let button: web_sys::HtmlButtonElement = self
            .query("button.ms-primary")
            .expect("Generate button")
            .unchecked_into();
        assert_eq!(button.text_content().as_deref(), Some("Generate"));
        !button.disabled()
    }

    /// Waits (up to 10 s) until the verdict is in: no "Checking…" status left.
    async fn verdict(&self) {
        tick().await;
        for _ in 0..400 {
            let checking = self.query(".ms-status").is_some();
            if !checking && self.query(".ms-report").is_some() {
                return;
            }
            TimeoutFuture::new(25).await;
        }
        panic!("no verdict after 10 s: {}", self.root.inner_html());
    }

    fn pick(&self, file: &web_sys::File) {
        let input: web_sys::HtmlInputElement = self
            .query("input[type=file]")
            .expect("file input")
            .unchecked_into();
        assert_eq!(
            input.get_attribute("aria-label").as_deref(),
            Some("Image file")
        );
        input.set_files(transfer_of(file).files().as_ref());
        input
            .dispatch_event(&web_sys::Event::new("change").unwrap())
            .unwrap();
    }
}

#[wasm_bindgen_test]
async fn every_fixture_gets_its_alerts_and_generate_follows() {
    let app = mount_app().await;
    assert!(!app.generate_enabled(), "nothing chosen yet");
    for f in catalogue() {
        app.pick(&fixture_file(f.name));
        app.verdict().await;
        let want: Vec<String> = f.broken.iter().map(|s| s.to_string()).collect();
        assert_eq!(app.alert_headings(), want, "{}", f.name);
        assert_eq!(app.generate_enabled(), f.broken.is_empty(), "{}", f.name);
        if let Some((w, h)) = f.size {
            let pixels = app
                .query("[data-fact=pixels]")
                .expect("pixel size")
                .inner_text();
            assert_eq!(pixels, format!("{w} × {h} px"), "{}", f.name);
        }
    }
}

#[wasm_bindgen_test]
async fn the_preview_shows_size_bytes_and_type() {
    let app = mount_app().await;
    app.pick(&fixture_file("valid.jpg"));
    app.verdict().await;
    let facts = |k: &str| app.query(&format!("[data-fact={k}]")).unwrap().inner_text();
    assert_eq!(facts("pixels"), "800 × 600 px");
    assert!(facts("bytes").ends_with("KB"), "{}", facts("bytes"));
    assert_eq!(facts("type"), "image/jpeg");
    assert!(app.query(".ms-preview img").is_some());
    assert!(app.query(".ms-ok").is_some());
}

#[wasm_bindgen_test]
async fn a_dropped_file_is_checked() {
    let app = mount_app().await;
    let transfer = transfer_of(&fixture_file("too-wide.png"));
    let init = web_sys::DragEventInit::new();
    init.set_bubbles(true);
    init.set_cancelable(true);
    init.set_data_transfer(Some(&transfer));
    let zone = app.query(".ms-drop").expect("drop zone");
    for kind in ["dragenter", "dragover"] {
        let event = web_sys::DragEvent::new_with_event_init_dict(kind, &init).unwrap();
        zone.dispatch_event(&event).unwrap();
    }
    tick().await;
    assert!(zone.class_list().contains("is-over"), "visible drop state");
    let drop = web_sys::DragEvent::new_with_event_init_dict("drop", &init).unwrap();
    zone.dispatch_event(&drop).unwrap();
    assert!(
        drop.default_prevented(),
        "the browser must not open the file"
    );
    app.verdict().await;
    assert!(!zone.class_list().contains("is-over"));
    assert_eq!(app.alert_headings(), ["Aspect ratio"]);
}

#[wasm_bindgen_test]
async fn a_pasted_image_is_checked() {
    let app = mount_app().await;
    let transfer = transfer_of(&fixture_file("valid.png"));
    let init = web_sys::ClipboardEventInit::new();
    init.set_bubbles(true);
    init.set_clipboard_data(Some(&transfer));
    let paste = web_sys::ClipboardEvent::new_with_event_init_dict("paste", &init).unwrap();
    document().body().unwrap().dispatch_event(&paste).unwrap();
    app.verdict().await;
    assert_eq!(app.alert_headings(), Vec::<String>::new());
    assert!(app.generate_enabled());
}

#[wasm_bindgen_test]
async fn a_bad_url_is_refused_in_an_alert_without_loading() {
    let app = mount_app().await;
    let input: web_sys::HtmlInputElement = app.query("#ms-image-url").unwrap().unchecked_into();
    input.set_value("javascript:alert(1)");
    input
        .dispatch_event(&web_sys::Event::new("input").unwrap())
        .unwrap();
    let init = web_sys::KeyboardEventInit::new();
    init.set_key("Enter");
    init.set_bubbles(true);
    let enter =
        web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
    input.dispatch_event(&enter).unwrap();
    tick().await;
    assert_eq!(app.alert_headings(), ["Image URL"]);
    assert_eq!(input.get_attribute("aria-invalid").as_deref(), Some("true"));
    assert!(app.query(".ms-preview").is_none(), "nothing was loaded");
    assert!(!app.generate_enabled());
}

#[wasm_bindgen_test]
async fn an_image_url_is_measured_by_loading_it() {
    // A same-origin blob: URL stands in for a web address the browser can load.
    let app = mount_app().await;
    let f = fixture_file("valid.png");
    let url = web_sys::Url::create_object_url_with_blob(&f).unwrap();
    // blob: is not a web address WaveSpeed could fetch, so drive the glue directly.
    let chosen = RwSignal::new(None);
    multishot_studio::browser::assess::choose_url(chosen, url.clone());
    for _ in 0..400 {
        if chosen.with_untracked(|c: &Option<multishot_studio::browser::assess::Chosen>| {
            c.as_ref().is_some_and(|c| {
                c.assessment.step == multishot_studio::core::assessment::Step::Done
            })
        }) {
            break;
        }
        TimeoutFuture::new(25).await;
    }
    let a = chosen.get_untracked().expect("chosen").assessment;
    assert_eq!(a.facts.dimensions, Some(Dimensions::new(640, 480)));
    // Same-origin bytes are readable: type and size were checked as well.
    assert_eq!(a.facts.format, Some(Format::Png));
    assert_eq!(
        a.facts.byte_size,
        Some(fixtures::png(640, 480).len() as u64)
    );
    assert!(a.is_ready());
    drop(app);
    let _ = web_sys::Url::revoke_object_url(&url);
}

// ---- the job runner -----------------------------------------------------------------

fn fetches() -> f64 {
    js_sys::Reflect::get(&js_sys::global(), &"__fetches".into())
        .ok()
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0)
}

/// Polling every 50 ms, a failed poll retried for ever 50 ms later (the jobs glue tests).
fn eager_policy() -> multishot_studio::core::job::Policy {
    multishot_studio::core::job::Policy {
        poll_interval_ms: 50,
        max_retries: 1000,
        backoff_step_ms: 50,
        backoff_max_ms: 50,
        wait_cap_ms: 60_000,
    }
}

/// Saves task `id` as an unfinished job of an earlier visit, sent through a proxy on a
/// closed port: every poll of it fails at once.
fn save_unfinished(id: &multishot_studio::core::api::TaskId) {
    let record = multishot_studio::core::history::Record::new(
        id.clone(),
        multishot_studio::core::config::BaseUrl::parse("http://127.0.0.1:9").unwrap(),
        true,
        js_sys::Date::now() as u64,
    );
    multishot_studio::browser::storage::save_record(&record)
        .expect("storage works in the test browser");
}

#[wasm_bindgen_test]
async fn a_restored_jobs_timers_and_requests_stop_when_its_owner_goes_away() {
    // The runner spawns: the executor a mounted app would start (run alone too).
    let _ = any_spawner::Executor::init_wasm_bindgen();
    use multishot_studio::browser::runner::Jobs;
    use multishot_studio::browser::storage;
    use multishot_studio::core::api::TaskId;
    use multishot_studio::core::job::Run;

    // Count every fetch the page makes.
    js_sys::eval(
        "window.__fetches = 0; const f = window.fetch.bind(window); \
         window.fetch = (...a) => { window.__fetches++; return f(...a); };",
    )
    .unwrap();
    let policy = eager_policy();
    // An unfinished job left by an earlier visit, sent through a proxy on a closed port:
    // every poll fails at once and is retried.
    let id = TaskId::parse("t-owner").unwrap();
    save_unfinished(&id);
    let owner = Owner::new();
    let jobs = owner.with(|| Jobs::new(Signal::stored(String::new())));
    owner.with(|| {
        jobs.set_policy(policy);
        jobs.restore();
    });
    assert_eq!(
        jobs.state.with_untracked(|s| s.view.clone()),
        Some(Run::Created(id.clone())),
        "the unfinished job is shown again"
    );
    for _ in 0..100 {
        if fetches() >= 3.0 {
            break;
        }
        TimeoutFuture::new(20).await;
    }
    assert!(fetches() >= 3.0, "polling resumes and retries");
    owner.cleanup();
    TimeoutFuture::new(100).await;
    let after_cleanup = fetches();
    TimeoutFuture::new(600).await;
    storage::delete_record(&id);
    assert_eq!(
        fetches(),
        after_cleanup,
        "no request after the owner went away"
    );
}

#[wasm_bindgen_test]
async fn a_key_typed_while_the_page_starts_is_known_to_the_jobs() {
    let _ = any_spawner::Executor::init_wasm_bindgen();
    use multishot_studio::browser::runner::Jobs;

    // Typed after the jobs were made and before their effects first ran (a person, or a
    // test, typing while the page starts): a batch must not wait for a key it has.
    let owner = Owner::new();
    let key = RwSignal::new(String::new());
    let jobs = owner.with(|| Jobs::new(key.into()));
    key.set("sk-typed-early".to_owned());
    for _ in 0..3 {
        tick().await;
    }
    assert!(jobs.state.with_untracked(|s| s.key), "the key is told");
    key.set(String::new());
    tick().await;
    assert!(!jobs.state.with_untracked(|s| s.key), "and its removal");
    owner.cleanup();
}

#[wasm_bindgen_test]
async fn every_tasks_poll_goes_through_one_timer_at_most_four_a_second() {
    // The runner spawns: the executor a mounted app would start (run alone too).
    let _ = any_spawner::Executor::init_wasm_bindgen();
    use multishot_studio::browser::runner::Jobs;
    use multishot_studio::browser::storage;
    use multishot_studio::core::api::TaskId;
    use multishot_studio::core::pace::GAP_MS;

    // Note when each fetch goes, and where.
    js_sys::eval(
        "window.__polls = []; if (!window.__pollsWrapped) { window.__pollsWrapped = true; \
         const f = window.fetch.bind(window); \
         window.fetch = (...a) => { window.__polls.push([performance.now(), String(a[0].url ?? a[0])]); return f(...a); }; }",
    )
    .unwrap();
    // Eight unfinished tasks through a proxy on a closed port: every poll fails at once
    // and each task would ask again 50 ms later, 160 requests a second in all.
    let policy = eager_policy();
    let ids: Vec<TaskId> = (0..8)
        .map(|n| TaskId::parse(&format!("t-pace-{n}")).unwrap())
        .collect();
    for id in &ids {
        save_unfinished(id);
    }
    let owner = Owner::new();
    let jobs = owner.with(|| Jobs::new(Signal::stored(String::new())));
    owner.with(|| {
        jobs.set_policy(policy);
        jobs.restore();
    });
    TimeoutFuture::new(2_000).await;
    owner.cleanup();
    for id in &ids {
        storage::delete_record(id);
    }
    let polls: Vec<(f64, String)> = noted_polls();
    assert!(
        polls.len() >= 6,
        "polling goes on for every task ({} polls)",
        polls.len()
    );
    assert!(
        polls.len() <= 2 * 1000 / GAP_MS as usize + 1,
        "at most four a second: {} polls in 2 s",
        polls.len()
    );
    // Noted when each request leaves, a little after its timer (the first request of a
    // page the slowest): a gap may look a few ms short, the whole span may not.
    for pair in polls.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(
            gap >= GAP_MS as f64 - 30.0,
            "two polls {gap} ms apart: {polls:?}"
        );
    }
    let span = polls[polls.len() - 1].0 - polls[0].0;
    assert!(
        span >= ((polls.len() - 1) as u64 * GAP_MS) as f64 - 30.0,
        "{} polls in {span} ms: {polls:?}",
        polls.len()
    );
    let asked: std::collections::HashSet<&str> = polls
        .iter()
        .filter_map(|(_, url)| ids.iter().find(|id| url.contains(id.as_str())))
        .map(|id| id.as_str())
        .collect();
    assert!(
        asked.len() >= 6,
        "each task takes its turn: {} of 8 polled",
        asked.len()
    );
}

/// The polls noted by the test's fetch wrapper: when, and where to.
fn noted_polls() -> Vec<(f64, String)> {
    let polls = js_sys::Reflect::get(&js_sys::global(), &"__polls".into()).unwrap();
    js_sys::Array::from(&polls)
        .iter()
        .map(|p| {
            let p = js_sys::Array::from(&p);
            (
                p.get(0).as_f64().unwrap_or(0.0),
                p.get(1).as_string().unwrap_or_default(),
            )
        })
        .collect()
}

#[wasm_bindgen_test]
fn the_history_store_skips_a_corrupt_entry_and_keeps_the_others() {
    use multishot_studio::browser::storage;
    use multishot_studio::core::api::TaskId;
    use multishot_studio::core::history::{HistoryError, Record};

    let local = web_sys::window().unwrap().local_storage().unwrap().unwrap();
    let a = Record::new(
        TaskId::parse("store-a").unwrap(),
        multishot_studio::core::config::BaseUrl::parse("https://api.wavespeed.ai").unwrap(),
        false,
        1,
    );
    let b = Record::new(
        TaskId::parse("store-b").unwrap(),
        multishot_studio::core::config::BaseUrl::parse("http://127.0.0.1:9").unwrap(),
        true,
        2,
    );
    storage::save_record(&a).unwrap();
    storage::save_record(&b).unwrap();
    local
        .set_item("multishot.job.store-bad", "{\"v\":1,")
        .unwrap();
    local.set_item("unrelated", "x").unwrap();

    let (records, skipped) = storage::load_history().unwrap();
    let ids: Vec<_> = records.iter().map(|r| r.id.as_str().to_owned()).collect();
    assert_eq!(ids, ["store-b", "store-a"]);
    assert_eq!(skipped.len(), 1);
    assert!(matches!(skipped[0].why, HistoryError::Unreadable(_)));
    assert_eq!(storage::read_record(&b.id), Some(b.clone()));

    storage::delete_record(&a.id);
    assert_eq!(storage::read_record(&a.id), None);
    storage::clear_history();
    assert_eq!(storage::load_history().unwrap(), (vec![], vec![]));
    assert_eq!(
        local.get_item("unrelated").unwrap().as_deref(),
        Some("x"),
        "only history entries go"
    );
    local.remove_item("unrelated").unwrap();
}

#[wasm_bindgen_test]
async fn a_task_view_says_what_can_be_done_in_each_state() {
    use multishot_studio::components::TaskView;
    use multishot_studio::core::api::{Status, TaskId};
    use multishot_studio::core::history::{Record, OUTPUTS_KEPT_MS};
    use multishot_studio::core::job::{Policy, Tracked, Wait, Watch};
    use multishot_studio::core::jobs::Action;

    let document = document();
    let root: web_sys::HtmlElement = document.create_element("div").unwrap().unchecked_into();
    document.body().unwrap().append_child(&root).unwrap();
    let now = js_sys::Date::now() as u64;
    let id = TaskId::parse("view-1").unwrap();
    let record = Record::new(
        id.clone(),
        multishot_studio::core::config::BaseUrl::parse("https://api.wavespeed.ai").unwrap(),
        false,
        now,
    );
    let task = RwSignal::new(Some(Tracked {
        record: record.clone(),
        watch: Watch::NeedsKey,
    }));
    let events = RwSignal::new(Vec::<Action>::new());
    let _handle = leptos::mount::mount_to(root.clone(), move || {
        view! {
            <TaskView
                task=task
                online=Signal::stored(false)
                on_action=move |e| events.update(|all| all.push(e))
            />
        }
        .into_any()
    });
    tick().await;
    let text = || root.text_content().unwrap_or_default();
    let click = |label: &str| {
        let buttons = root.query_selector_all("button").unwrap();
        for i in 0..buttons.length() {
            let button: web_sys::HtmlElement = buttons.item(i).unwrap().unchecked_into();
            if button.text_content().as_deref() == Some(label) {
                button.click();
                return;
            }
        }
        panic!("no button {label}");
    };

    assert!(text().contains("Task ID: view-1"), "{}", text());
    assert!(text().contains("This task was sent with your API key"));
    click("Continue");
    assert_eq!(events.get_untracked(), [Action::Resume]);

    task.set(Some(Tracked {
        record: record.clone(),
        watch: Watch::Elsewhere,
    }));
    tick().await;
    assert!(text().contains("Another tab of this page is checking this task"));
    assert!(
        !text().contains("offline"),
        "only a page that polls says it is offline"
    );

    let (wait, _) = Wait::start(id.clone(), 0, &Policy::default());
    task.set(Some(Tracked {
        record: record.clone(),
        watch: Watch::Here(Box::new(wait)),
    }));
    tick().await;
    assert!(text().contains("You are offline. Checking is paused"));
    click("Cancel");
    assert_eq!(events.get_untracked(), [Action::Resume, Action::Cancel]);

    let mut old = Record::new(
        id,
        multishot_studio::core::config::BaseUrl::parse("https://api.wavespeed.ai").unwrap(),
        false,
        now - OUTPUTS_KEPT_MS,
    );
    old.status = Status::Processing;
    task.set(Some(Tracked {
        record: old,
        watch: Watch::Idle,
    }));
    tick().await;
    assert!(
        text().contains("Outputs expired at WaveSpeed"),
        "{}",
        text()
    );
    assert!(text().contains("Task ID: view-1"), "the id stays visible");
    root.remove();
}

#[wasm_bindgen_test]
async fn a_decompression_bomb_is_refused_without_asking_the_browser_to_decode_it() {
    // Count every decode the page asks for.
    js_sys::eval(
        "window.__decodes = 0; const c = window.createImageBitmap.bind(window); \
         window.createImageBitmap = (...a) => { window.__decodes++; return c(...a); };",
    )
    .unwrap();
    let decodes = || {
        js_sys::Reflect::get(&js_sys::global(), &"__decodes".into())
            .ok()
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0)
    };
    // Make it fit's module listening too (a refused image is offered to it): it must not
    // decode the bomb either.
    let _module = multishot_repair::offer::listen(&document());
    let app = mount_app().await;
    app.pick(&fixture_file("valid.png"));
    app.verdict().await;
    assert_eq!(decodes(), 1.0, "an ordinary image is decoded");
    app.pick(&fixture_file("bomb.png"));
    app.verdict().await;
    for _ in 0..15 {
        tick().await;
        TimeoutFuture::new(20).await;
    }
    assert_eq!(
        decodes(),
        1.0,
        "the bomb is not, by the page or the repairs"
    );
    let slot = app.root.query_selector(".ms-repair-slot").unwrap().unwrap();
    assert_eq!(slot.child_element_count(), 0, "no repair is offered for it");
    assert_eq!(app.alert_headings(), ["Readable image"]);
    let text = app.root.text_content().unwrap_or_default();
    assert!(
        text.contains(
            "The file declares 100,000 × 100,000 px (10,000 megapixels): too large to open safely"
        ),
        "{text}"
    );
}

// ---- copy button ---------------------------------------------------------------------

/// The text of the first button under `root`.
fn button_text(root: &web_sys::Element) -> String {
    root.query_selector("button")
        .unwrap()
        .and_then(|b| b.text_content())
        .unwrap_or_default()
}

#[wasm_bindgen_test]
async fn copying_says_when_the_clipboard_refused_and_then_resets() {
    // A programmatic click is no user gesture and the test page has no focus: Chromium
    // refuses the write, as it does in an iframe without `clipboard-write`. Check that
    // first, so the test shows what it claims.
    let refused =
        wasm_bindgen_futures::JsFuture::from(window().navigator().clipboard().write_text("probe"))
            .await;
    assert!(
        refused.is_err(),
        "this page may write the clipboard: the test proves nothing"
    );

    let document = document();
    let root: web_sys::HtmlElement = document.create_element("div").unwrap().unchecked_into();
    document.body().unwrap().append_child(&root).unwrap();
    let _handle = leptos::mount::mount_to(root.clone(), || {
        multishot_studio::components::copy_button(
            "45a96667279e4a2f83cfe131566d4923".into(),
            "Copy",
            "Copy the task ID".into(),
        )
        .into_any()
    });
    tick().await;
    assert_eq!(button_text(&root), "Copy");
    root.query_selector("button")
        .unwrap()
        .expect("the button")
        .unchecked_into::<web_sys::HtmlElement>()
        .click();
    let mut said = String::new();
    for _ in 0..40 {
        TimeoutFuture::new(25).await;
        said = button_text(&root);
        if said != "Copy" {
            break;
        }
    }
    assert_eq!(
        said, "Copy failed",
        "it must not claim a copy the browser refused"
    );
    TimeoutFuture::new(2_600).await;
    assert_eq!(button_text(&root), "Copy", "it resets after a moment");
    root.remove();
}

#[wasm_bindgen_test]
async fn an_app_gone_before_its_settings_arrive_touches_nothing_after() {
    // Panics are recorded (with panic = abort, a panic in a task would only be logged),
    // from a clean slate, and the hook before is put back however the test ends.
    let _ = js_sys::Reflect::set(
        &js_sys::global(),
        &"__panicked".into(),
        &wasm_bindgen::JsValue::UNDEFINED,
    );
    let _restore = RecordedPanics::start();
    let document = document();
    let root: web_sys::HtmlElement = document.create_element("div").unwrap().unchecked_into();
    document.body().unwrap().append_child(&root).unwrap();
    // A proxy given by the host element: once the settings are in, the app reads
    // whether a proxy URL was typed.
    let attributes = vec![(
        "data-proxy-url".to_owned(),
        "https://proxy.example".to_owned(),
    )];
    let handle = leptos::mount::mount_to(root.clone(), move || {
        view! { <App attributes=attributes /> }.into_any()
    });
    // Unmounted at once, while `config.json` is still being fetched.
    drop(handle);
    root.remove();
    TimeoutFuture::new(1_000).await;
    let panicked = js_sys::Reflect::get(&js_sys::global(), &"__panicked".into()).unwrap();
    assert!(panicked.is_undefined(), "{panicked:?}");
}

/// Records a panic's message in `window.__panicked` while it lives; the hook before is
/// put back when it is dropped (a failing assertion included).
struct RecordedPanics(Option<PanicHook>);

/// A panic hook, as `std::panic::take_hook` gives it.
type PanicHook = Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send>;

impl RecordedPanics {
    fn start() -> Self {
        let before = std::panic::take_hook();
        std::panic::set_hook(Box::new(|info| {
            let _ = js_sys::Reflect::set(
                &js_sys::global(),
                &"__panicked".into(),
                &info.to_string().into(),
            );
        }));
        Self(Some(before))
    }
}

impl Drop for RecordedPanics {
    fn drop(&mut self) {
        if let Some(before) = self.0.take() {
            std::panic::set_hook(before);
        }
    }
}

#[wasm_bindgen_test]
async fn a_wait_of_more_than_24_days_does_not_fire_at_once() {
    use futures::future::{select, Either};
    use multishot_studio::browser::timer::sleep_ms;

    // gloo-timers hands setTimeout a signed 32-bit delay: 2³¹ ms or more fired at once.
    for ms in [1 << 31, u64::from(u32::MAX), u64::MAX] {
        let raced = select(Box::pin(sleep_ms(ms)), Box::pin(TimeoutFuture::new(200))).await;
        assert!(
            matches!(raced, Either::Right(_)),
            "a wait of {ms} ms fired at once"
        );
    }
    let raced = select(Box::pin(sleep_ms(10)), Box::pin(TimeoutFuture::new(500))).await;
    assert!(matches!(raced, Either::Left(_)), "a short wait still fires");
}

#[wasm_bindgen_test]
async fn a_tab_lock_is_asked_for_when_requested_not_when_awaited() {
    use multishot_studio::browser::tab_lock::{request, Lock};

    // The tab that submits asks for the task's lock, then saves its record (which tells
    // the other tabs at once): its request must reach the browser first, or a tab that
    // hears of the record can take the lock before it (a CI run saw the second tab poll).
    let name = "multishot-test-lock-order";
    let first = request(name, false);
    let second = request(name, false);
    assert!(
        matches!(second.await, Lock::Busy),
        "a later request was put ahead of an earlier one"
    );
    let first = first.await;
    assert!(matches!(first, Lock::Held(_)), "the first request holds it");
    drop(first);
    let again = futures::future::select(
        Box::pin(request(name, true)),
        Box::pin(TimeoutFuture::new(2_000)),
    )
    .await;
    assert!(
        matches!(again, futures::future::Either::Left((Lock::Held(_), _))),
        "dropping the lock lets it go"
    );
}

#[wasm_bindgen_test]
async fn the_frames_height_observer_is_disconnected_with_the_app() {
    use multishot_studio::core::config::Host;

    let count = |name: &str| {
        js_sys::Reflect::get(&js_sys::global(), &name.into())
            .ok()
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0)
    };
    js_sys::eval(
        "window.__observes = 0; window.__disconnects = 0; \
         const p = ResizeObserver.prototype, o = p.observe, d = p.disconnect; \
         p.observe = function (...a) { window.__observes++; return o.apply(this, a); }; \
         p.disconnect = function () { window.__disconnects++; return d.call(this); };",
    )
    .unwrap();
    let document = document();
    let root: web_sys::HtmlElement = document.create_element("div").unwrap().unchecked_into();
    document.body().unwrap().append_child(&root).unwrap();
    let handle = leptos::mount::mount_to(root.clone(), || {
        view! { <App host=Host::Frame /> }.into_any()
    });
    for _ in 0..20 {
        if count("__observes") >= 1.0 {
            break;
        }
        TimeoutFuture::new(20).await;
    }
    assert_eq!(
        count("__observes"),
        1.0,
        "the app's height is watched in a frame"
    );
    assert_eq!(count("__disconnects"), 0.0);
    drop(handle);
    root.remove();
    assert_eq!(
        count("__disconnects"),
        1.0,
        "and no more once the app is gone"
    );
}

#[wasm_bindgen_test]
async fn generate_waits_for_the_money_and_a_failed_look_up_blocks_nothing() {
    use multishot_studio::components::GeneratePanel;
    use multishot_studio::core::assessment::Assessment;
    use multishot_studio::core::funds::{Funds, Lookup, Micros, Quota};

    let bytes = (fixtures::by_name("valid.png").expect("a fixture").make)();
    let ready = Assessment::for_file("valid.png".into(), "image/png".into(), bytes.len() as u64)
        .with_head(&sniff(&bytes))
        .with_decoded(Some(Dimensions::new(800, 600)));
    assert!(ready.is_ready(), "{ready:?}");
    let document = document();
    let root: web_sys::HtmlElement = document.create_element("div").unwrap().unchecked_into();
    document.body().unwrap().append_child(&root).unwrap();
    let (funds, set_funds) = signal(Funds::Direct {
        price: Lookup::Known(Micros(70_000)),
        balance: Lookup::Known(Micros(12_400_000)),
    });
    let for_visitor = RwSignal::new(false);
    let pressed = RwSignal::new(0);
    let _handle = leptos::mount::mount_to(root.clone(), move || {
        view! {
            <GeneratePanel
                assessment=Signal::stored(Some(ready.clone()))
                connection_problem=Signal::stored(None::<String>)
                busy=Signal::stored(false)
                funds=funds
                for_visitor=for_visitor
                on_generate=move |()| pressed.update(|n| *n += 1)
                has_result=Signal::stored(false)
                on_new_image=|()| {}
            />
        }
        .into_any()
    });
    tick().await;
    let status = || {
        root.query_selector("[role=status]")
            .unwrap()
            .expect("a status line")
            .text_content()
            .unwrap_or_default()
    };
    let generate = || -> web_sys::HtmlButtonElement {
        let buttons = root.query_selector_all("button").unwrap();
        (0..buttons.length())
            .map(|i| {
                buttons
                    .item(i)
                    .unwrap()
                    .unchecked_into::<web_sys::HtmlButtonElement>()
            })
            .find(|b| b.text_content().as_deref() == Some("Generate"))
            .expect("a Generate button")
    };
    let top_up = || -> web_sys::HtmlElement {
        root.query_selector("a")
            .unwrap()
            .expect("a link")
            .unchecked_into()
    };

    assert!(
        status().starts_with("One run costs $0.07 · your balance $12.40"),
        "{}",
        status()
    );
    assert!(!generate().disabled());
    assert!(
        top_up().hidden(),
        "no top-up link while the balance is enough"
    );
    generate().click();
    assert_eq!(pressed.get_untracked(), 1);

    set_funds.set(Funds::Direct {
        price: Lookup::Known(Micros(70_000)),
        balance: Lookup::Known(Micros(69_999)),
    });
    tick().await;
    assert!(
        status().starts_with("Your balance ($0.069999) is less than one run ($0.07)"),
        "{}",
        status()
    );
    assert!(
        generate().disabled(),
        "a balance below the price blocks Generate"
    );
    assert!(!top_up().hidden());
    assert_eq!(
        top_up().get_attribute("href").as_deref(),
        Some("https://wavespeed.ai/top-up")
    );
    generate().click();
    assert_eq!(
        pressed.get_untracked(),
        1,
        "a disabled Generate sends nothing"
    );

    set_funds.set(Funds::Direct {
        price: Lookup::Failed { key_refused: false },
        balance: Lookup::Failed { key_refused: false },
    });
    tick().await;
    assert!(
        status().contains("your balance could not be read"),
        "{}",
        status()
    );
    assert!(!generate().disabled(), "a failed look-up never blocks");

    for_visitor.set(true);
    set_funds.set(Funds::Proxy(Lookup::Known(Quota {
        price: Micros(70_000),
        runs_left: 0,
        this_hour: false,
        message: Some("This site's daily budget is used up; it resets at 00:00 UTC.".into()),
    })));
    tick().await;
    assert!(
        status().starts_with("This site's daily budget is used up"),
        "{}",
        status()
    );
    assert!(generate().disabled());
    assert!(
        top_up().hidden(),
        "a visitor is not sent to top up the owner's account"
    );
    root.remove();
}

#[wasm_bindgen_test]
async fn the_bot_checks_widget_hands_a_token_to_one_press_and_asks_for_the_next() {
    use multishot_studio::components::{BotCheck, BotCheckState};

    let document = document();
    let root: web_sys::HtmlElement = document.create_element("div").unwrap().unchecked_into();
    document.body().unwrap().append_child(&root).unwrap();
    // Stands for the widget's script: counts the app's asks and the tokens it took.
    let count = |cell: &std::rc::Rc<std::cell::Cell<i32>>| {
        let cell = cell.clone();
        wasm_bindgen::closure::Closure::<dyn Fn()>::new(move || cell.set(cell.get() + 1))
    };
    let (asked, used) = (
        std::rc::Rc::new(std::cell::Cell::new(0)),
        std::rc::Rc::new(std::cell::Cell::new(0)),
    );
    let on_ask = count(&asked);
    document
        .add_event_listener_with_callback_and_bool(
            "multishot-turnstile",
            on_ask.as_ref().unchecked_ref(),
            true,
        )
        .unwrap();
    let sitekey = RwSignal::new(None::<String>);
    let state = BotCheckState::new();
    let _handle = leptos::mount::mount_to(root.clone(), move || {
        view! { <BotCheck sitekey=move || sitekey.get() state=state /> }.into_any()
    });
    tick().await;
    assert!(
        root.query_selector(".ms-bot-check[data-sitekey]")
            .unwrap()
            .is_none(),
        "no key without a site key"
    );
    assert_eq!(asked.get(), 0, "and no script asked for");
    assert_eq!(state.key.get_untracked(), None, "so a press needs no token");

    sitekey.set(Some("1x00000000000000000000AA".into()));
    tick().await;
    let widget = root
        .query_selector(".ms-bot-check[data-sitekey]")
        .unwrap()
        .expect("the widget's place, with its key");
    assert_eq!(
        widget.get_attribute("data-sitekey").as_deref(),
        Some("1x00000000000000000000AA")
    );
    assert_eq!(asked.get(), 1, "the widget's script is asked for");
    assert_eq!(
        state.key.get_untracked().as_deref(),
        Some("1x00000000000000000000AA")
    );
    let on_used = count(&used);
    widget
        .add_event_listener_with_callback(
            "multishot-turnstile-used",
            on_used.as_ref().unchecked_ref(),
        )
        .unwrap();
    assert_eq!(state.take(), None, "no token before the widget gives one");
    assert_eq!(used.get(), 0);

    let give =
        |token: &str| js_sys::Reflect::set(&widget, &"msToken".into(), &token.into()).unwrap();
    give("stand-in~127.0.0.1~multishot_generate~1");
    assert_eq!(
        state.take().as_deref(),
        Some("stand-in~127.0.0.1~multishot_generate~1")
    );
    assert_eq!(
        used.get(),
        1,
        "the script is told the token was used, and asks for the next"
    );
    // (The script empties `msToken` when told; an expired token is emptied the same way.)
    give("");
    assert_eq!(state.take(), None, "one token, one run");
    document
        .remove_event_listener_with_callback_and_bool(
            "multishot-turnstile",
            on_ask.as_ref().unchecked_ref(),
            true,
        )
        .unwrap();
    root.remove();
}

/// `bytes` as a file named `name` (its declared type is not what the app trusts).
fn named(name: &str, bytes: &[u8]) -> web_sys::File {
    file(name, bytes, "application/octet-stream")
}

/// `image` decoded by the browser and drawn on a canvas of its size.
async fn drawn(
    image: &web_sys::Blob,
) -> (
    web_sys::HtmlCanvasElement,
    web_sys::CanvasRenderingContext2d,
) {
    let bitmap: web_sys::ImageBitmap = wasm_bindgen_futures::JsFuture::from(
        web_sys::window()
            .unwrap()
            .create_image_bitmap_with_blob(image)
            .unwrap(),
    )
    .await
    .unwrap()
    .unchecked_into();
    let canvas: web_sys::HtmlCanvasElement = document()
        .create_element("canvas")
        .unwrap()
        .unchecked_into();
    canvas.set_width(bitmap.width());
    canvas.set_height(bitmap.height());
    let context: web_sys::CanvasRenderingContext2d =
        canvas.get_context("2d").unwrap().unwrap().unchecked_into();
    context
        .draw_image_with_image_bitmap(&bitmap, 0.0, 0.0)
        .unwrap();
    (canvas, context)
}

/// A WebP made by the browser's own encoder from a PNG of `width × height`.
async fn webp(width: u32, height: u32) -> Vec<u8> {
    let (canvas, _) = drawn(&named("in.png", &fixtures::png(width, height))).await;
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        canvas.to_blob_with_type(&resolve, "image/webp").unwrap();
    });
    let blob: web_sys::Blob = wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .unwrap()
        .unchecked_into();
    read_head(&blob, blob.size() as usize).await.unwrap()
}

/// The repaired file's bytes, checked: the rules' own verdict on them, its type by its
/// bytes, and its size as the browser decodes it.
async fn check_repaired(
    repaired: &multishot_repair::canvas::Repaired,
    expected: Dimensions,
    format: Format,
) -> Vec<u8> {
    let bytes = read_head(&repaired.file, repaired.file.size() as usize)
        .await
        .unwrap();
    let report = multishot_rules::check_file(&bytes);
    assert!(report.passes(), "{report:?}");
    assert_eq!(sniff(&bytes).format, format);
    assert_eq!(decoded_size_of_blob(&repaired.file).await, Ok(expected));
    assert_eq!(repaired.size, expected);
    assert_eq!(repaired.bytes, bytes.len() as u64);
    bytes
}

#[wasm_bindgen_test]
async fn each_repair_makes_a_file_within_every_rule_from_real_pixels() {
    use multishot_repair::canvas::repair;
    use multishot_repair::plan::{offers, Backdrop, Chosen, Plan, Verb};

    let plans = |format, width, height, bytes| {
        offers(&Chosen {
            format,
            decoded: Dimensions::new(width, height),
            bytes,
        })
    };
    // Convert: a WebP the browser opens and WaveSpeed refuses → JPEG (a photo).
    let webp = webp(800, 600).await;
    assert_eq!(sniff(&webp).format, Format::WebP);
    let [convert] = plans(Format::WebP, 800, 600, webp.len() as u64)[..] else {
        panic!("one repair for a WebP")
    };
    assert_eq!(convert.verb, Verb::Convert);
    let repaired = repair(
        &named("holiday.webp", &webp),
        "holiday.webp",
        &convert,
        None,
        false,
    )
    .await
    .expect("converted");
    check_repaired(&repaired, Dimensions::new(800, 600), Format::Jpeg).await;
    assert_eq!(repaired.file.name(), "holiday-fit.jpg");
    assert_eq!(repaired.file.type_(), "image/jpeg");
    assert_eq!(repaired.quality, Some(95), "the best quality fits at once");

    // Enlarge: 200 × 200 PNG → 300 × 300 PNG.
    let small = fixtures::png(200, 200);
    let [enlarge] = plans(Format::Png, 200, 200, small.len() as u64)[..] else {
        panic!("one repair for a small PNG")
    };
    assert_eq!(enlarge.verb, Verb::Enlarge);
    let repaired = repair(
        &named("icon.png", &small),
        "icon.png",
        &enlarge,
        None,
        false,
    )
    .await
    .expect("enlarged");
    check_repaired(&repaired, Dimensions::new(300, 300), Format::Png).await;

    // Crop and Pad: a 5:1 panorama. (Its red grows from 40 at the left to 160 at the
    // right edge.)
    let panorama = fixtures::jpeg(1500, 300, None);
    let pano = named("pano.jpg", &panorama);
    let image = Dimensions::new(1500, 300);
    let [crop, pad, pad_on_colour] = plans(Format::Jpeg, 1500, 300, panorama.len() as u64)[..]
    else {
        panic!("three repairs for a panorama")
    };
    assert_eq!(
        (crop.verb, pad.verb, pad_on_colour.verb),
        (Verb::Crop, Verb::Pad, Verb::Pad)
    );
    let cropped = repair(&pano, "pano.jpg", &crop, None, true)
        .await
        .expect("cropped");
    check_repaired(&cropped, Dimensions::new(750, 300), Format::Jpeg).await;
    let middle = pixel_of(&cropped.file, 2, 150).await[0];
    assert!((60..=80).contains(&middle), "the middle kept: red {middle}");
    // The box moved to the left edge: the left part kept.
    let left = repair(&pano, "pano.jpg", &crop.crop_at(image, 0), None, true)
        .await
        .expect("cropped at the left");
    check_repaired(&left, Dimensions::new(750, 300), Format::Jpeg).await;
    let red = pixel_of(&left.file, 2, 150).await[0];
    assert!(red < 55, "the left part kept: red {red}");
    let padded = repair(&pano, "pano.jpg", &pad, None, true)
        .await
        .expect("padded");
    check_repaired(&padded, Dimensions::new(1500, 600), Format::Jpeg).await;
    let blurred = pixel_of(&padded.file, 2, 2).await;
    let on_red = Plan {
        backdrop: Backdrop::Colour([230, 20, 30]),
        ..pad_on_colour
    };
    let padded = repair(&pano, "pano.jpg", &on_red, None, true)
        .await
        .expect("padded on a colour");
    check_repaired(&padded, Dimensions::new(1500, 600), Format::Jpeg).await;
    let [r, g, b, _] = pixel_of(&padded.file, 2, 2).await;
    assert!(
        r > 210 && g < 45 && b < 55,
        "the chosen colour: {r} {g} {b}"
    );
    assert!(
        blurred[0] < 200,
        "the blurred copy is not that colour: {blurred:?}"
    );
    // The image itself in the middle, unchanged in shape.
    let inside = pixel_of(&padded.file, 2, 300).await;
    assert!(inside[0] < 80 && inside[2] > 180, "{inside:?}");

    // Shrink: a PNG over 10 MiB → a JPEG well under it, same pixels.
    let heavy = fixtures::png_padded_to(800, 600, 11 * 1024 * 1024);
    let [shrink] = plans(Format::Png, 800, 600, heavy.len() as u64)[..] else {
        panic!("one repair for a heavy PNG")
    };
    assert_eq!(shrink.verb, Verb::Shrink);
    let repaired = repair(&named("scan.png", &heavy), "scan.png", &shrink, None, false)
        .await
        .expect("shrunk");
    check_repaired(&repaired, Dimensions::new(800, 600), Format::Jpeg).await;
    assert!(repaired.bytes < 1024 * 1024, "{} bytes", repaired.bytes);

    // Shrink of a large photo: its quality found on a sample, the image encoded once,
    // never drawn (handed to the canvas as decoded).
    let (width, height) = (2400u16, 1800u16);
    let heavy = fixtures::jpeg_padded_to(width, height, 11 * 1024 * 1024);
    let [shrink] = plans(
        Format::Jpeg,
        width.into(),
        height.into(),
        heavy.len() as u64,
    )[..] else {
        panic!("one repair for a heavy photo")
    };
    assert!(multishot_repair::quality::Sample::of(shrink.canvas).is_some());
    assert!(multishot_repair::canvas::may_skip_drawing(&heavy));
    let repaired = repair(&named("big.jpg", &heavy), "big.jpg", &shrink, None, true)
        .await
        .expect("shrunk");
    check_repaired(
        &repaired,
        Dimensions::new(width.into(), height.into()),
        Format::Jpeg,
    )
    .await;
    assert_eq!(repaired.quality, Some(95), "predicted to fit at the top");
    let [r, g, b, _] = pixel_of(&repaired.file, 2, 2).await;
    let [er, eg, eb] = fixtures::pixel(2, 2, width.into(), height.into());
    assert!(
        r.abs_diff(er) < 12 && g.abs_diff(eg) < 12 && b.abs_diff(eb) < 12,
        "the same picture: {r} {g} {b}, not {er} {eg} {eb}"
    );
}

/// The RGBA of pixel (`x`, `y`) of an image file, as the browser decodes it.
async fn pixel_of(image: &web_sys::Blob, x: u32, y: u32) -> [u8; 4] {
    let (_, context) = drawn(image).await;
    let data = context
        .get_image_data(f64::from(x), f64::from(y), 1.0, 1.0)
        .unwrap()
        .data();
    [data[0], data[1], data[2], data[3]]
}

#[wasm_bindgen_test]
async fn a_repair_applies_the_exif_orientation_and_drops_the_metadata() {
    use multishot_repair::canvas::repair;
    use multishot_repair::plan::{Backdrop, Encoding, Plan, Rect, Verb};

    // Stored 600 × 400 with orientation 6: shown 400 × 600.
    let rotated = fixture_file("exif-rotated.jpg");
    let bytes = read_head(&rotated, rotated.size() as usize).await.unwrap();
    assert!(bytes.windows(4).any(|w| w == b"Exif"));
    let whole = Rect {
        x: 0,
        y: 0,
        width: 400,
        height: 600,
    };
    let plan = Plan {
        verb: Verb::Convert,
        source: whole,
        canvas: Dimensions::new(400, 600),
        place: whole,
        backdrop: Backdrop::None,
        encoding: Encoding::Jpeg,
    };
    assert!(
        !multishot_repair::canvas::may_skip_drawing(&bytes),
        "turned: drawn"
    );
    let repaired = repair(&rotated, "IMG_0001.JPG", &plan, None, false)
        .await
        .expect("redrawn");
    let out = check_repaired(&repaired, Dimensions::new(400, 600), Format::Jpeg).await;
    assert!(
        !out.windows(4).any(|w| w == b"Exif"),
        "no EXIF (no GPS) is left"
    );
    // Turned, not only resized: in the stored test picture red grows to the right
    // (40 → 160) and green downwards (60 → 140). Shown turned a quarter clockwise, the
    // top-left corner is the stored bottom-left (red low, green high), the top-right the
    // stored top-left (both low), the bottom-left the stored bottom-right (both high).
    let at = |x: u32, y: u32| pixel_of(&repaired.file, x, y);
    let (top_left, top_right, bottom_left) = (at(2, 2).await, at(397, 2).await, at(2, 597).await);
    let corners = format!("{top_left:?} {top_right:?} {bottom_left:?}");
    assert!(top_left[0] < 80 && top_left[1] > 120, "{corners}");
    assert!(top_right[0] < 80 && top_right[1] < 80, "{corners}");
    assert!(bottom_left[0] > 120 && bottom_left[1] > 120, "{corners}");
    assert_eq!(
        sniff(&out).header,
        Ok(Dimensions::new(400, 600)),
        "stored upright"
    );
    assert_eq!(repaired.file.name(), "IMG_0001-fit.jpg");
}

#[wasm_bindgen_test]
async fn several_files_picked_dropped_or_pasted_go_to_the_batch_and_one_to_the_single_image() {
    use multishot_studio::components::{ImagePicker, Many};
    use send_wrapper::SendWrapper;

    let document = document();
    let root: web_sys::HtmlElement = document.create_element("div").unwrap().unchecked_into();
    document.body().unwrap().append_child(&root).unwrap();
    let single = RwSignal::new(Vec::<String>::new());
    let many = RwSignal::new(Vec::<Vec<String>>::new());
    let _handle = leptos::mount::mount_to(root.clone(), move || {
        view! {
            <ImagePicker
                on_file={move |file: SendWrapper<web_sys::File>| single.update(|s| s.push(file.name()))}
                on_url={|_: String| {}}
                on_many=Some(Callback::new(move |m: SendWrapper<Many>| {
                    let names = m.files.iter().map(web_sys::File::name).collect();
                    many.update(|all| all.push(names));
                }))
            >
                ""
            </ImagePicker>
        }
        .into_any()
    });
    tick().await;
    let input: web_sys::HtmlInputElement = root
        .query_selector("input[type=file]")
        .unwrap()
        .unwrap()
        .unchecked_into();
    assert!(input.multiple(), "the full page's Image file takes several");
    let pick = |names: &[&str]| {
        let transfer = web_sys::DataTransfer::new().unwrap();
        for name in names {
            transfer.items().add_with_file(&fixture_file(name)).unwrap();
        }
        input.set_files(transfer.files().as_ref());
        input
            .dispatch_event(&web_sys::Event::new("change").unwrap())
            .unwrap();
    };
    pick(&["valid.jpg", "valid.png", "too-small.png"]);
    pick(&["valid.jpg"]);
    tick().await;
    assert_eq!(
        many.get_untracked(),
        vec![vec![
            "valid.jpg".to_owned(),
            "valid.png".into(),
            "too-small.png".into()
        ]]
    );
    assert_eq!(
        single.get_untracked(),
        vec!["valid.jpg".to_owned()],
        "one stays one image"
    );
}

#[wasm_bindgen_test]
async fn a_batch_photo_is_checked_by_the_same_rules_and_drawn_as_a_small_thumbnail() {
    use multishot_studio::browser::batch_check::check_file;

    let fit = check_file(&fixture_file("valid.jpg")).await;
    assert_eq!(fit.refused, None);
    let thumb = fit.thumbnail.expect("a thumbnail");
    assert!(multishot_studio::core::history::is_thumbnail(&thumb));
    let small = check_file(&fixture_file("too-small.png")).await;
    let (why, repair) = small.refused.expect("refused");
    assert!(why.starts_with("Minimum size: The image is"), "{why}");
    assert_eq!(
        repair.as_deref(),
        Some("dimensions"),
        "a repair of that kind fits it"
    );
    let broken = check_file(&fixture_file("truncated.jpg")).await;
    assert_eq!(
        broken.refused.expect("refused").1,
        None,
        "nothing repairs a broken file"
    );
}

#[wasm_bindgen_test]
async fn make_it_fit_offers_the_repair_makes_it_and_undoes_it() {
    use multishot_studio::browser::assess::{choose_file, Chosen};
    use multishot_studio::components::{ImagePicker, ValidationReport};
    use multishot_studio::core::assessment::Step;
    use send_wrapper::SendWrapper;

    // The repairs module's side, as it runs once the page's script has loaded it.
    let _module = multishot_repair::offer::listen(&document());
    let document = document();
    let root: web_sys::HtmlElement = document.create_element("div").unwrap().unchecked_into();
    document.body().unwrap().append_child(&root).unwrap();
    let chosen = RwSignal::new(None::<Chosen>);
    let _handle = leptos::mount::mount_to(root.clone(), move || {
        let assessment =
            Signal::derive(move || chosen.with(|c| c.as_ref().map(|c| c.assessment.clone())));
        view! {
            <ImagePicker
                on_file={move |file: SendWrapper<web_sys::File>| choose_file(chosen, file.take())}
                on_url={|_: String| {}}
                on_many=None
            >
                <ValidationReport assessment=assessment chosen=chosen />
            </ImagePicker>
        }
        .into_any()
    });
    let visible_buttons = || -> Vec<web_sys::HtmlElement> {
        let all = root.query_selector_all(".ms-repair-slot button").unwrap();
        (0..all.length())
            .map(|i| {
                all.item(i)
                    .unwrap()
                    .unchecked_into::<web_sys::HtmlElement>()
            })
            .filter(|b| b.offset_parent().is_some())
            .collect()
    };
    let names = || -> Vec<String> {
        visible_buttons()
            .iter()
            .map(|b| b.text_content().unwrap_or_default())
            .collect()
    };
    // Waits until the slot's buttons are `want` (the module plans after its own decode).
    let shows = |want: &'static [&'static str]| async move {
        for _ in 0..300 {
            tick().await;
            if names() == want {
                return;
            }
            TimeoutFuture::new(20).await;
        }
        panic!("the slot shows {:?}, not {want:?}", names());
    };
    // Waits until the page has chosen and checked the file `name` (the module answers
    // through the page's own file input), and gives what was chosen.
    let checked = |name: &'static str| async move {
        for _ in 0..200 {
            tick().await;
            let done = chosen.with_untracked(|c| {
                c.as_ref().is_some_and(|c| {
                    c.assessment.step == Step::Done
                        && c.file.as_ref().is_some_and(|f| f.name() == name)
                })
            });
            if done {
                return chosen.get_untracked().expect("chosen");
            }
            TimeoutFuture::new(20).await;
        }
        panic!("{name} was not chosen and checked");
    };

    // A 200 px PNG: one repair, named by its verb.
    choose_file(chosen, named("small.png", &fixtures::png(200, 200)));
    shows(&["Enlarge to 300 px"]).await;
    visible_buttons()[0].click();
    // Repaired, chosen through the page's own file input, and checked by the same rules.
    shows(&["Undo repair"]).await;
    let repaired = checked("small-fit.png").await;
    assert!(repaired.assessment.is_ready(), "{:?}", repaired.assessment);
    assert_eq!(
        repaired.assessment.facts.dimensions,
        Some(Dimensions::new(300, 300))
    );
    tick().await;
    let text = root.text_content().unwrap_or_default();
    assert!(
        text.contains("Enlarge to 300 px: before 200 × 200 px"),
        "{text}"
    );
    assert_eq!(names(), ["Undo repair"], "the repaired view stays");
    // Undo: the original chosen again, and offered again.
    visible_buttons()[0].click();
    shows(&["Enlarge to 300 px"]).await;
    assert_eq!(
        chosen
            .get_untracked()
            .unwrap()
            .file
            .map(|f| f.name())
            .as_deref(),
        Some("small.png"),
        "the original is back"
    );

    // A panorama: Crop and Pad; an image that fits: nothing.
    choose_file(chosen, named("pano.jpg", &fixtures::jpeg(1500, 300, None)));
    shows(&[
        "Crop to 2.5:1",
        "Pad to 2.5:1 on a blurred copy",
        "Pad to 2.5:1 on a colour",
    ])
    .await;
    // The crop's box: a slider over the image, in the middle, moved to the end by End.
    let slider: web_sys::HtmlElement = root
        .query_selector("[role=slider]")
        .unwrap()
        .expect("the crop box")
        .unchecked_into();
    assert_eq!(
        slider.get_attribute("aria-valuenow").as_deref(),
        Some("375")
    );
    assert_eq!(
        slider.get_attribute("aria-valuemax").as_deref(),
        Some("750")
    );
    let init = web_sys::KeyboardEventInit::new();
    init.set_key("End");
    slider
        .dispatch_event(
            &web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap(),
        )
        .unwrap();
    assert_eq!(
        slider.get_attribute("aria-valuenow").as_deref(),
        Some("750")
    );
    assert_eq!(
        slider.style().get_property_value("left").unwrap(),
        "50%",
        "the box drawn at the right half"
    );
    assert!(root
        .query_selector("input[type=color][aria-label='Pad colour']")
        .unwrap()
        .is_some());
    visible_buttons()[0].click();
    shows(&["Undo repair"]).await;
    let right = checked("pano-fit.jpg").await.file.expect("the crop chosen");
    let red = pixel_of(&right, 745, 150).await[0];
    assert!(red > 145, "the right part kept: red {red}");
    choose_file(chosen, fixture_file("valid.png"));
    shows(&[]).await;
    root.remove();
}

// ---- Download video ------------------------------------------------------------------

#[wasm_bindgen_test]
async fn download_video_comes_first_and_asks_the_film_module_for_the_sequence_in_its_shape() {
    let document = document();
    let root: web_sys::HtmlElement = document.create_element("div").unwrap().unchecked_into();
    document.body().unwrap().append_child(&root).unwrap();
    let _handle = leptos::mount::mount_to(root.clone(), || {
        view! {
            <multishot_studio::components::ShotPlayer
                outputs=vec![
                    "https://cdn.example/a/1.jpg".into(),
                    "not a shot".into(),
                    "https://cdn.example/a/3.jpg".into(),
                ]
                nsfw=Vec::new()
                inference_ms=None
                poster=None
                relay=Some("https://proxy.example/outputs/t1/".into())
            />
        }
        .into_any()
    });
    tick().await;
    let actions = root.query_selector_all(".ms-actions button").unwrap();
    let first = actions.get(0).unwrap();
    assert_eq!(first.text_content().as_deref(), Some("Download video"));
    // The Shape choice: its options, named as the issue names them.
    let select: web_sys::HtmlElement = root
        .query_selector("label.ms-film-shape select")
        .unwrap()
        .expect("the Shape choice")
        .unchecked_into();
    let options: Vec<String> = (0..4)
        .map(|i| {
            let o = select.query_selector_all("option").unwrap().get(i).unwrap();
            o.text_content().unwrap_or_default()
        })
        .collect();
    assert_eq!(options, ["Original", "9:16", "1:1", "16:9"]);
    js_sys::Reflect::set(&select, &"value".into(), &"9:16".into()).unwrap();
    // The press hands the slot the request and dispatches the module's event on it
    // (the module itself is not loaded here: the page's script loads it).
    let slot = root
        .query_selector(".ms-film-slot")
        .unwrap()
        .expect("the slot");
    js_sys::eval("window.__film = null; document.addEventListener('multishot-film', (e) => { window.__film = e.target.msFilm; }, true);").unwrap();
    first.unchecked_ref::<web_sys::HtmlElement>().click();
    let asked = js_sys::Reflect::get(&js_sys::global(), &"__film".into())
        .unwrap()
        .as_string()
        .expect("the request, as text");
    assert_eq!(
        js_sys::Reflect::get(&slot, &"msFilm".into())
            .unwrap()
            .as_string(),
        Some(asked.clone())
    );
    let request = multishot_film::request::Request::parse(&asked).expect("a request");
    assert_eq!(request.shape, multishot_film::shape::Shape::Portrait);
    // The shots that can be shown, with their own numbers and the proxy's relays.
    let shots: Vec<_> = request
        .shots
        .iter()
        .map(|s| (s.number, s.src.as_str(), s.relay.as_deref()))
        .collect();
    assert_eq!(
        shots,
        [
            (
                1,
                "https://cdn.example/a/1.jpg",
                Some("https://proxy.example/outputs/t1/1")
            ),
            (
                3,
                "https://cdn.example/a/3.jpg",
                Some("https://proxy.example/outputs/t1/3")
            ),
        ]
    );
    root.remove();
}
