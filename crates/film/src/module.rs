//! The module's glue: it answers the page's requests ([`crate::request`] has the
//! protocol), reads the shots, draws every frame on a canvas, has WebCodecs encode it and
//! saves the file. Every decision is the pure core's: the shape's size
//! ([`crate::shape`]), the moves ([`crate::camera`]), the frames ([`crate::timeline`]),
//! the codecs ([`crate::encoding`]) and the file ([`crate::mp4`], [`crate::webm`]).
//!
//! The page stays responsive: each frame is drawn in a task of its own, the encoder
//! works off the main thread, and at most [`QUEUE`] frames wait for it (each closed as
//! soon as it is handed over), so a 1080p film holds a few frames at a time. The made
//! film is kept for the session: a second press, or **Share video**, is instant.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use gloo_timers::future::sleep;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};

use crate::camera::{move_for, view_at, View};
use crate::encoding::{bitrate, Container, CODECS, KEY_EVERY};
use crate::mp4::{self, Sample, Track};
use crate::request::{
    is_still, unread, Miss, Request, ShotRef, CANCELLED, EVENT, FAILED_EVENT, FILE, LOADER,
    MADE_EVENT, REQUEST, SLOT, WHY,
};
use crate::shape::{cover, frame_size};
use crate::timeline::{frame_micros, Layer, Piece, Timeline, FPS};
use crate::webm;

/// How many frames may wait for the encoder before the next is drawn.
const QUEUE: u32 = 3;
/// The module's style sheet, beside the loader.
const STYLE: &str = "multishot-film.css";
/// How long a shot may take to arrive, or a clip to seek.
const SHOT_TIMEOUT: Duration = Duration::from_secs(60);

#[wasm_bindgen]
extern "C" {
    /// WebCodecs' `VideoEncoder` (web-sys has it only behind its unstable-API flag).
    type VideoEncoder;
    #[wasm_bindgen(constructor, catch)]
    fn new(init: &js_sys::Object) -> Result<VideoEncoder, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn configure(this: &VideoEncoder, config: &js_sys::Object) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn encode(
        this: &VideoEncoder,
        frame: &VideoFrame,
        options: &js_sys::Object,
    ) -> Result<(), JsValue>;
    #[wasm_bindgen(method)]
    fn flush(this: &VideoEncoder) -> js_sys::Promise;
    #[wasm_bindgen(method, catch)]
    fn close(this: &VideoEncoder) -> Result<(), JsValue>;
    #[wasm_bindgen(method, getter, js_name = encodeQueueSize)]
    fn encode_queue_size(this: &VideoEncoder) -> u32;
    #[wasm_bindgen(static_method_of = VideoEncoder, js_name = isConfigSupported, catch)]
    fn is_config_supported(config: &js_sys::Object) -> Result<js_sys::Promise, JsValue>;

    /// WebCodecs' `VideoFrame`.
    type VideoFrame;
    #[wasm_bindgen(constructor, catch)]
    fn new(
        source: &web_sys::HtmlCanvasElement,
        init: &js_sys::Object,
    ) -> Result<VideoFrame, JsValue>;
    #[wasm_bindgen(method)]
    fn close(this: &VideoFrame);

    /// WebCodecs' `EncodedVideoChunk`.
    type EncodedVideoChunk;
    #[wasm_bindgen(method, getter, js_name = byteLength)]
    fn byte_length(this: &EncodedVideoChunk) -> u32;
    #[wasm_bindgen(method, getter, js_name = type)]
    fn chunk_type(this: &EncodedVideoChunk) -> String;
    #[wasm_bindgen(method, js_name = copyTo)]
    fn copy_to(this: &EncodedVideoChunk, into: &js_sys::Uint8Array);
}

/// Why a film was not made: each says what a person can do.
#[derive(Debug, thiserror::Error)]
enum FilmError {
    #[error("Shot {number} could not be read here: {why}. No video was made.")]
    Shot { number: usize, why: String },
    #[error("This browser offers no video encoder for this film ({0}). Download all still saves the shots.")]
    NoEncoder(String),
    #[error("The video could not be made: {0}. Try again, or Download all for the shots.")]
    Encoder(String),
    #[error("{}", CANCELLED)]
    Cancelled,
}

/// The film being made ([`WORKING`]).
struct Working {
    text: String,
    cancel: Rc<Cell<bool>>,
    slot: web_sys::Element,
}

/// A finished film, kept for the session.
#[derive(Clone)]
struct Film {
    file: web_sys::File,
    summary: String,
}

thread_local! {
    /// Films made this session, by their request's text.
    static MADE: RefCell<HashMap<String, Film>> = RefCell::new(HashMap::new());
    /// The film being made: its request's text, its cancel flag and its slot.
    static WORKING: RefCell<Option<Working>> = const { RefCell::new(None) };
}

#[wasm_bindgen(start)]
fn start() {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    style(&document);
    let handler = Closure::<dyn Fn(web_sys::Event)>::new(|event: web_sys::Event| {
        if let Some(slot) = event.target().and_then(|t| t.dyn_into().ok()) {
            answer(slot);
        }
    });
    // Capture: the event does not bubble, and the slot may sit anywhere (an embed).
    let _ = document.add_event_listener_with_callback_and_bool(
        EVENT,
        handler.as_ref().unchecked_ref(),
        true,
    );
    // For as long as the page lives.
    handler.forget();
    // A press made while this module was on its way.
    if let Ok(waiting) = document.query_selector_all(&format!(".{SLOT}")) {
        for i in 0..waiting.length() {
            if let Some(slot) = waiting.get(i).and_then(|n| n.dyn_into().ok()) {
                answer(slot);
            }
        }
    }
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

/// Answers the request the slot holds (once: the property is emptied).
fn answer(slot: web_sys::Element) {
    let text = js_sys::Reflect::get(&slot, &REQUEST.into())
        .ok()
        .and_then(|v| v.as_string());
    let _ = js_sys::Reflect::set(&slot, &REQUEST.into(), &JsValue::UNDEFINED);
    let Some((text, request)) = text.and_then(|t| Request::parse(&t).map(|r| (t, r))) else {
        return;
    };
    // Made already this session: saved (or handed back) again at once.
    if let Some(film) = MADE.with(|m| m.borrow().get(&text).cloned()) {
        if request.back {
            hand_back(&slot, Ok(&film.file));
        } else {
            show_made(&slot, &film, true);
        }
        return;
    }
    // The same film on its way: nothing more to do; another one: that one stops (one
    // film at a time: the encoder and the page's memory are shared).
    let busy = WORKING.with(|w| {
        w.borrow()
            .as_ref()
            .map(|working| (working.text == text, working.cancel.clone()))
    });
    match busy {
        Some((true, _)) => return,
        Some((false, cancel)) => cancel.set(true),
        None => {}
    }
    let cancel = Rc::new(Cell::new(false));
    WORKING.with(|w| {
        *w.borrow_mut() = Some(Working {
            text: text.clone(),
            cancel: cancel.clone(),
            slot: slot.clone(),
        })
    });
    spawn_local(async move {
        let ui = Progress::new(&slot, cancel.clone());
        let made = make(&request, &ui, &cancel).await;
        // Another film asked for in this same slot has its own progress there now.
        let (mine, superseded) = WORKING.with(|w| {
            let w = w.borrow();
            let mine = w.as_ref().is_some_and(|working| working.text == text);
            let here = w.as_ref().is_some_and(|working| working.slot == slot);
            (mine, !mine && here)
        });
        if mine {
            WORKING.with(|w| *w.borrow_mut() = None);
        }
        match made {
            Ok(film) if request.back => {
                // Handed back, not kept: the asker keeps it (a batch's films would
                // otherwise all stay in memory).
                ui.clear();
                hand_back(&slot, Ok(&film.file));
            }
            Ok(film) => {
                MADE.with(|m| m.borrow_mut().insert(text, film.clone()));
                if !superseded {
                    show_made(&slot, &film, false);
                }
            }
            Err(why) if request.back => {
                ui.clear();
                hand_back(&slot, Err(&why.to_string()));
            }
            Err(_) if superseded => {}
            Err(why) => ui.fail(&why.to_string()),
        }
    });
}

/// Hands a film asked for back to the asker: the `File` in the slot's [`FILE`] and
/// [`MADE_EVENT`], or why not in [`WHY`] and [`FAILED_EVENT`].
fn hand_back(slot: &web_sys::Element, made: Result<&web_sys::File, &str>) {
    let (key, value, event): (&str, JsValue, &str) = match made {
        Ok(file) => (FILE, file.into(), MADE_EVENT),
        Err(why) => (WHY, why.into(), FAILED_EVENT),
    };
    let _ = js_sys::Reflect::set(slot, &key.into(), &value);
    if let Ok(event) = web_sys::Event::new(event) {
        let _ = slot.dispatch_event(&event);
    }
}

/// The slot while a film is made: a progress bar with the frames done, and **Cancel**.
struct Progress {
    slot: web_sys::Element,
    bar: Option<web_sys::Element>,
    said: Option<web_sys::Element>,
}

fn document() -> Option<web_sys::Document> {
    web_sys::window().and_then(|w| w.document())
}

fn element(tag: &str, class: &str, text: &str) -> Option<web_sys::Element> {
    let el = document()?.create_element(tag).ok()?;
    if !class.is_empty() {
        el.set_class_name(class);
    }
    if !text.is_empty() {
        el.set_text_content(Some(text));
    }
    Some(el)
}

impl Progress {
    fn new(slot: &web_sys::Element, cancel: Rc<Cell<bool>>) -> Progress {
        slot.set_text_content(None);
        let bar = element("progress", "ms-film-bar", "");
        let said = element("p", "ms-film-said", "Reading the shots…");
        if let Some(bar) = &bar {
            let _ = bar.set_attribute("aria-label", "Making the video");
            let _ = slot.append_child(bar);
        }
        // The bar with Cancel beside it; what is being done under them.
        if let Some(button) = element("button", "ms-button ms-small", "Cancel") {
            let _ = button.set_attribute("type", "button");
            let press = Closure::<dyn Fn()>::new(move || cancel.set(true));
            let _ =
                button.add_event_listener_with_callback("click", press.as_ref().unchecked_ref());
            press.forget();
            let _ = slot.append_child(&button);
        }
        if let Some(said) = &said {
            let _ = said.set_attribute("role", "status");
            let _ = slot.append_child(said);
        }
        Progress {
            slot: slot.clone(),
            bar,
            said,
        }
    }

    fn frame(&self, done: u32, of: u32) {
        if let Some(bar) = &self.bar {
            let _ = bar.set_attribute("max", &of.to_string());
            let _ = bar.set_attribute("value", &done.to_string());
            let _ = bar.set_attribute("aria-valuetext", &format!("Frame {done} of {of}"));
        }
        if let Some(said) = &self.said {
            said.set_text_content(Some(&format!("Making the video: frame {done} of {of}.")));
        }
    }

    /// Takes the progress out of the slot (a film handed back: the asker says the rest).
    fn clear(&self) {
        self.slot.set_text_content(None);
    }

    fn say(&self, text: &str) {
        if let Some(said) = &self.said {
            said.set_text_content(Some(text));
        }
    }

    fn fail(&self, text: &str) {
        self.slot.set_text_content(None);
        if let Some(p) = element("p", "ms-film-said", text) {
            let _ = p.set_attribute("role", "status");
            let _ = self.slot.append_child(&p);
        }
    }
}

/// The slot with a made film: what was saved, and **Share video** where the browser
/// can share the file itself. The file is saved now (`again`: from this session's).
fn show_made(slot: &web_sys::Element, film: &Film, again: bool) {
    save(&film.file);
    slot.set_text_content(None);
    let said = format!(
        "{} {} — {}.",
        if again { "Saved again:" } else { "Saved" },
        film.file.name(),
        film.summary
    );
    if let Some(p) = element("p", "ms-film-said", &said) {
        let _ = p.set_attribute("role", "status");
        let _ = slot.append_child(&p);
    }
    if can_share(&film.file) {
        if let Some(button) = element("button", "ms-button", "Share video") {
            let _ = button.set_attribute("type", "button");
            let file = film.file.clone();
            let press = Closure::<dyn Fn()>::new(move || share(&file));
            let _ =
                button.add_event_listener_with_callback("click", press.as_ref().unchecked_ref());
            press.forget();
            let _ = slot.append_child(&button);
        }
    }
}

/// `{ files: [file] }`, as the Web Share API takes it.
fn share_data(file: &web_sys::File) -> js_sys::Object {
    let data = js_sys::Object::new();
    let files = js_sys::Array::of1(file);
    let _ = js_sys::Reflect::set(&data, &"files".into(), &files);
    data
}

/// Whether the browser can share this file (phones): `navigator.canShare({files})`.
fn can_share(file: &web_sys::File) -> bool {
    let Some(navigator) = web_sys::window().map(|w| w.navigator()) else {
        return false;
    };
    let Ok(can) = js_sys::Reflect::get(&navigator, &"canShare".into()) else {
        return false;
    };
    can.dyn_ref::<js_sys::Function>()
        .and_then(|f| f.call1(&navigator, &share_data(file)).ok())
        .is_some_and(|v| v.is_truthy())
}

/// Hands the file to the system's share sheet (a person closing it is no error).
fn share(file: &web_sys::File) {
    let Some(navigator) = web_sys::window().map(|w| w.navigator()) else {
        return;
    };
    let promise = js_sys::Reflect::get(&navigator, &"share".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .and_then(|f| f.call1(&navigator, &share_data(file)).ok())
        .and_then(|p| p.dyn_into::<js_sys::Promise>().ok());
    if let Some(promise) = promise {
        spawn_local(async move {
            let _ = JsFuture::from(promise).await;
        });
    }
}

/// Saves the file through a download link (its object URL let go a minute later).
fn save(file: &web_sys::File) {
    let Some(document) = document() else { return };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(file) else {
        return;
    };
    if let Some(a) = document
        .create_element("a")
        .ok()
        .and_then(|a| a.dyn_into::<web_sys::HtmlAnchorElement>().ok())
    {
        a.set_href(&url);
        a.set_download(&file.name());
        a.click();
    }
    spawn_local(async move {
        sleep(Duration::from_secs(60)).await;
        let _ = web_sys::Url::revoke_object_url(&url);
    });
}

fn js_text(value: &JsValue) -> String {
    if let Some(error) = value.dyn_ref::<js_sys::Error>() {
        return String::from(error.message());
    }
    value
        .as_string()
        .unwrap_or_else(|| "unknown error".to_owned())
}

/// A shot as it is drawn from.
enum Source {
    Image(web_sys::ImageBitmap),
    Clip(web_sys::HtmlVideoElement, String),
}

impl Source {
    fn size(&self) -> (u32, u32) {
        match self {
            Source::Image(b) => (b.width(), b.height()),
            Source::Clip(v, _) => (v.video_width(), v.video_height()),
        }
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        match self {
            Source::Image(b) => b.close(),
            Source::Clip(v, url) => {
                v.set_src("");
                let _ = web_sys::Url::revoke_object_url(url);
            }
        }
    }
}

/// `work`, or `None` after [`SHOT_TIMEOUT`].
async fn timed<T>(work: impl std::future::Future<Output = T>) -> Option<T> {
    use futures::future::{select, Either};
    match select(Box::pin(work), Box::pin(sleep(SHOT_TIMEOUT))).await {
        Either::Left((v, _)) => Some(v),
        Either::Right(_) => None,
    }
}

/// One read of a shot's bytes.
async fn read(window: &web_sys::Window, at: &str) -> Result<web_sys::Blob, Miss> {
    let init = web_sys::RequestInit::new();
    init.set_mode(web_sys::RequestMode::Cors);
    let response = match timed(JsFuture::from(window.fetch_with_str_and_init(at, &init))).await {
        Some(Ok(r)) => r.unchecked_into::<web_sys::Response>(),
        Some(Err(_)) => return Err(Miss::Refused),
        None => return Err(Miss::Slow),
    };
    if !response.ok() {
        return Err(Miss::Status(response.status()));
    }
    let blob = match response.blob() {
        Ok(p) => timed(JsFuture::from(p)).await,
        Err(_) => None,
    };
    match blob {
        Some(Ok(b)) => Ok(b.unchecked_into()),
        Some(Err(_)) => Err(Miss::Cut),
        None => Err(Miss::Slow),
    }
}

/// The shot's bytes: from its own address, else through the site owner's proxy; or why
/// neither gave them ([`unread`]).
async fn fetch_shot(shot: &ShotRef) -> Result<web_sys::Blob, String> {
    let window = web_sys::window().ok_or("no browser window")?;
    let direct = match read(&window, &shot.src).await {
        Ok(blob) => return Ok(blob),
        Err(miss) => miss,
    };
    let relay = match &shot.relay {
        Some(relay) => match read(&window, relay).await {
            Ok(blob) => return Ok(blob),
            Err(miss) => Some(miss),
        },
        None => None,
    };
    Err(unread(direct, relay))
}

/// An event of `target`'s, once (or an error event as `Err`).
async fn once(target: &web_sys::EventTarget, ok: &str, bad: &str) -> Result<(), ()> {
    let (tx, rx) = futures::channel::oneshot::channel::<bool>();
    let tx = Rc::new(RefCell::new(Some(tx)));
    let (t1, t2) = (tx.clone(), tx);
    let on_ok = Closure::<dyn Fn()>::new(move || {
        if let Some(tx) = t1.borrow_mut().take() {
            let _ = tx.send(true);
        }
    });
    let on_bad = Closure::<dyn Fn()>::new(move || {
        if let Some(tx) = t2.borrow_mut().take() {
            let _ = tx.send(false);
        }
    });
    let _ = target.add_event_listener_with_callback(ok, on_ok.as_ref().unchecked_ref());
    let _ = target.add_event_listener_with_callback(bad, on_bad.as_ref().unchecked_ref());
    let got = timed(rx).await;
    let _ = target.remove_event_listener_with_callback(ok, on_ok.as_ref().unchecked_ref());
    let _ = target.remove_event_listener_with_callback(bad, on_bad.as_ref().unchecked_ref());
    match got {
        Some(Ok(true)) => Ok(()),
        _ => Err(()),
    }
}

/// A shot, read and ready to draw.
async fn load(shot: &ShotRef) -> Result<Source, FilmError> {
    let fail = |why: String| FilmError::Shot {
        number: shot.number,
        why,
    };
    let blob = fetch_shot(shot).await.map_err(fail)?;
    let window = web_sys::window().ok_or_else(|| fail("no browser window".into()))?;
    // A still image or a clip, by its first bytes.
    let head = match blob.slice_with_i32_and_i32(0, 16) {
        Ok(part) => JsFuture::from(part.array_buffer())
            .await
            .map(|b| js_sys::Uint8Array::new(&b).to_vec())
            .unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    if is_still(&head) {
        let options = web_sys::ImageBitmapOptions::new();
        options.set_image_orientation(web_sys::ImageOrientation::FromImage);
        let promise = window
            .create_image_bitmap_with_blob_and_image_bitmap_options(&blob, &options)
            .map_err(|e| fail(js_text(&e)))?;
        match timed(JsFuture::from(promise)).await {
            Some(Ok(b)) => Ok(Source::Image(b.unchecked_into())),
            _ => Err(fail("the browser could not decode it as an image".into())),
        }
    } else {
        let url =
            web_sys::Url::create_object_url_with_blob(&blob).map_err(|e| fail(js_text(&e)))?;
        let video: web_sys::HtmlVideoElement = document()
            .and_then(|d| d.create_element("video").ok())
            .and_then(|v| v.dyn_into().ok())
            .ok_or_else(|| fail("no video element".into()))?;
        video.set_muted(true);
        video.set_preload("auto");
        video.set_src(&url);
        let source = Source::Clip(video.clone(), url);
        once(&video, "loadeddata", "error")
            .await
            .map_err(|_| fail("the browser could not play it as a video".into()))?;
        Ok(source)
    }
}

/// The clip shown at `seconds`, sought to (a frame before its end at most).
async fn seek(video: &web_sys::HtmlVideoElement, seconds: f64) {
    let end = (video.duration() - 0.5 / f64::from(FPS)).max(0.0);
    let to = seconds.min(end);
    if (video.current_time() - to).abs() < 1e-6 && video.ready_state() >= 2 {
        return;
    }
    video.set_current_time(to);
    let _ = once(video, "seeked", "error").await;
}

/// Sets `key` of `object` (a plain JavaScript object for WebCodecs).
fn set(object: &js_sys::Object, key: &str, value: impl Into<JsValue>) {
    let _ = js_sys::Reflect::set(object, &key.into(), &value.into());
}

/// The encoder's configuration for `codec` at this size.
fn config(codec: &str, width: u32, height: u32) -> js_sys::Object {
    let c = js_sys::Object::new();
    set(&c, "codec", codec);
    set(&c, "width", width);
    set(&c, "height", height);
    set(&c, "bitrate", bitrate(width, height));
    set(&c, "framerate", FPS);
    if codec.starts_with("avc1.") {
        let avc = js_sys::Object::new();
        set(&avc, "format", "avc");
        set(&c, "avc", avc);
    }
    c
}

/// The first codec of [`CODECS`] this browser encodes at this size.
async fn codec(width: u32, height: u32) -> Result<(&'static str, Container), FilmError> {
    let window = web_sys::window().ok_or(FilmError::NoEncoder("no browser window".into()))?;
    if !js_sys::Reflect::has(&window, &"VideoEncoder".into()).unwrap_or(false) {
        return Err(FilmError::NoEncoder("no WebCodecs".into()));
    }
    for (codec, container) in CODECS {
        let Ok(promise) = VideoEncoder::is_config_supported(&config(codec, width, height)) else {
            continue;
        };
        let supported = JsFuture::from(promise)
            .await
            .ok()
            .and_then(|r| js_sys::Reflect::get(&r, &"supported".into()).ok())
            .is_some_and(|s| s.is_truthy());
        if supported {
            return Ok((codec, container));
        }
    }
    Err(FilmError::NoEncoder(format!(
        "neither H.264 nor VP9 at {width} × {height}"
    )))
}

/// What the encoder has given so far.
#[derive(Default)]
struct Encoded {
    chunks: Vec<(js_sys::Uint8Array, bool)>,
    description: Option<Vec<u8>>,
    error: Option<String>,
}

/// The canvas every frame is drawn on.
fn canvas(
    width: u32,
    height: u32,
) -> Option<(
    web_sys::HtmlCanvasElement,
    web_sys::CanvasRenderingContext2d,
)> {
    let canvas: web_sys::HtmlCanvasElement =
        document()?.create_element("canvas").ok()?.dyn_into().ok()?;
    canvas.set_width(width);
    canvas.set_height(height);
    let options = js_sys::Object::new();
    set(&options, "alpha", false);
    let context = canvas
        .get_context_with_context_options("2d", &options)
        .ok()??
        .dyn_into::<web_sys::CanvasRenderingContext2d>()
        .ok()?;
    context.set_image_smoothing_enabled(true);
    Some((canvas, context))
}

/// Draws one layer of a frame.
async fn draw(
    context: &web_sys::CanvasRenderingContext2d,
    sources: &[Source],
    layer: &Layer,
    frame: (u32, u32),
) {
    let Some(source) = sources.get(layer.shot) else {
        return;
    };
    let size = source.size();
    let (w, h) = (f64::from(frame.0), f64::from(frame.1));
    context.set_global_alpha(layer.alpha);
    match source {
        Source::Image(bitmap) => {
            let mv = move_for(layer.shot, size, frame);
            let View { x, y, w: vw, h: vh } = view_at(mv, layer.progress, size, frame);
            let _ = context.draw_image_with_image_bitmap_and_sw_and_sh_and_dx_and_dy_and_dw_and_dh(
                bitmap, x, y, vw, vh, 0.0, 0.0, w, h,
            );
        }
        Source::Clip(video, _) => {
            seek(video, layer.seconds).await;
            let (cw, ch) = cover(size, frame);
            let (x, y) = (
                (f64::from(size.0) - cw) / 2.0,
                (f64::from(size.1) - ch) / 2.0,
            );
            let _ = context
                .draw_image_with_html_video_element_and_sw_and_sh_and_dx_and_dy_and_dw_and_dh(
                    video, x, y, cw, ch, 0.0, 0.0, w, h,
                );
        }
    }
    context.set_global_alpha(1.0);
}

/// The site owner's mark, small in the bottom right corner, legible on any picture.
fn mark(context: &web_sys::CanvasRenderingContext2d, text: &str, frame: (u32, u32)) {
    let (w, h) = (f64::from(frame.0), f64::from(frame.1));
    let size = (w.min(h) / 28.0).max(12.0).round();
    let margin = (size * 0.9).round();
    context.set_font(&format!("600 {size}px system-ui, sans-serif"));
    context.set_text_align("right");
    context.set_text_baseline("bottom");
    context.set_shadow_color("rgba(0, 0, 0, 0.6)");
    context.set_shadow_blur(size / 4.0);
    context.set_fill_style_str("rgba(255, 255, 255, 0.9)");
    let _ = context.fill_text(text, w - margin, h - margin);
    context.set_shadow_color("rgba(0, 0, 0, 0)");
    context.set_shadow_blur(0.0);
}

/// Makes the film `request` asks for.
async fn make(
    request: &Request,
    ui: &Progress,
    cancel: &Rc<Cell<bool>>,
) -> Result<Film, FilmError> {
    let mut sources = Vec::with_capacity(request.shots.len());
    for shot in &request.shots {
        sources.push(load(shot).await?);
        if cancel.get() {
            return Err(FilmError::Cancelled);
        }
    }
    let sizes: Vec<(u32, u32)> = sources.iter().map(Source::size).collect();
    let (width, height) = frame_size(request.shape, &sizes)
        .ok_or_else(|| FilmError::Encoder("no shot could be read".into()))?;
    let pieces: Vec<Piece> = sources
        .iter()
        .map(|s| match s {
            Source::Image(_) => Piece::Still,
            Source::Clip(v, _) => Piece::clip(v.duration()),
        })
        .collect();
    let timeline = Timeline::new(&pieces);
    let (codec, container) = codec(width, height).await?;

    let encoded = Rc::new(RefCell::new(Encoded::default()));
    let on_chunk = {
        let encoded = encoded.clone();
        Closure::<dyn Fn(EncodedVideoChunk, JsValue)>::new(
            move |chunk: EncodedVideoChunk, meta: JsValue| {
                let bytes = js_sys::Uint8Array::new_with_length(chunk.byte_length());
                chunk.copy_to(&bytes);
                let mut encoded = encoded.borrow_mut();
                if encoded.description.is_none() {
                    encoded.description = js_sys::Reflect::get(&meta, &"decoderConfig".into())
                        .and_then(|c| js_sys::Reflect::get(&c, &"description".into()))
                        .ok()
                        .filter(|d| !d.is_undefined())
                        .map(|d| {
                            if let Some(view) = d.dyn_ref::<js_sys::ArrayBuffer>() {
                                js_sys::Uint8Array::new(view).to_vec()
                            } else {
                                let view: &js_sys::Uint8Array = d.unchecked_ref();
                                js_sys::Uint8Array::new_with_byte_offset_and_length(
                                    &view.buffer(),
                                    view.byte_offset(),
                                    view.byte_length(),
                                )
                                .to_vec()
                            }
                        });
                }
                encoded.chunks.push((bytes, chunk.chunk_type() == "key"));
            },
        )
    };
    let on_error = {
        let encoded = encoded.clone();
        Closure::<dyn Fn(JsValue)>::new(move |e: JsValue| {
            encoded.borrow_mut().error = Some(js_text(&e));
        })
    };
    let init = js_sys::Object::new();
    set(
        &init,
        "output",
        on_chunk.as_ref().unchecked_ref::<JsValue>().clone(),
    );
    set(
        &init,
        "error",
        on_error.as_ref().unchecked_ref::<JsValue>().clone(),
    );
    let encoder = VideoEncoder::new(&init).map_err(|e| FilmError::Encoder(js_text(&e)))?;
    let result = encode(
        &encoder,
        request,
        &sources,
        &timeline,
        codec,
        (width, height),
        ui,
        cancel,
        &encoded,
    )
    .await;
    let _ = encoder.close();
    drop(sources);
    result?;

    let encoded = std::mem::take(&mut *encoded.borrow_mut());
    let samples: Vec<Sample> = encoded
        .chunks
        .iter()
        .map(|(b, key)| Sample {
            size: b.length(),
            key: *key,
        })
        .collect();
    let parts = js_sys::Array::new();
    match container {
        Container::Mp4 => {
            let track = Track {
                width: width as u16,
                height: height as u16,
                avcc: encoded.description.ok_or_else(|| {
                    FilmError::Encoder("the encoder gave no H.264 description".into())
                })?,
            };
            let header =
                mp4::header(&track, &samples).map_err(|e| FilmError::Encoder(e.to_string()))?;
            parts.push(&js_sys::Uint8Array::from(header.as_slice()));
            for (bytes, _) in &encoded.chunks {
                parts.push(bytes);
            }
        }
        Container::WebM => {
            for piece in webm::pieces(width as u16, height as u16, &samples) {
                match piece {
                    webm::Piece::Own(b) => parts.push(&js_sys::Uint8Array::from(b.as_slice())),
                    webm::Piece::Sample(n) => match encoded.chunks.get(n) {
                        Some((bytes, _)) => parts.push(bytes),
                        None => 0,
                    },
                };
            }
        }
    }
    let options = web_sys::FilePropertyBag::new();
    options.set_type(container.mime());
    let file = web_sys::File::new_with_u8_array_sequence_and_options(
        &parts,
        &request.file_name(container.extension()),
        &options,
    )
    .map_err(|e| FilmError::Encoder(js_text(&e)))?;
    let summary = format!(
        "{} s, {width} × {height}, {}",
        (timeline.micros() as f64 / 1e6 * 10.0).round() / 10.0,
        megabytes(file.size())
    );
    Ok(Film { file, summary })
}

fn megabytes(bytes: f64) -> String {
    format!("{:.1} MB", bytes / 1_000_000.0)
}

/// Draws and encodes every frame, a task each.
#[allow(clippy::too_many_arguments)]
async fn encode(
    encoder: &VideoEncoder,
    request: &Request,
    sources: &[Source],
    timeline: &Timeline,
    codec: &str,
    frame: (u32, u32),
    ui: &Progress,
    cancel: &Rc<Cell<bool>>,
    encoded: &Rc<RefCell<Encoded>>,
) -> Result<(), FilmError> {
    encoder
        .configure(&config(codec, frame.0, frame.1))
        .map_err(|e| FilmError::Encoder(js_text(&e)))?;
    let (canvas, context) =
        canvas(frame.0, frame.1).ok_or_else(|| FilmError::Encoder("no canvas".into()))?;
    let total = timeline.frames();
    ui.frame(0, total);
    for n in 0..total {
        if cancel.get() {
            return Err(FilmError::Cancelled);
        }
        if let Some(error) = encoded.borrow().error.clone() {
            return Err(FilmError::Encoder(error));
        }
        // The encoder works off this thread: wait while it has enough to do.
        while encoder.encode_queue_size() >= QUEUE {
            sleep(Duration::from_millis(2)).await;
        }
        let Some((under, over)) = timeline.at(n) else {
            break;
        };
        draw(&context, sources, &under, frame).await;
        if let Some(over) = over {
            draw(&context, sources, &over, frame).await;
        }
        if let Some(text) = &request.mark {
            mark(&context, text, frame);
        }
        let init = js_sys::Object::new();
        set(&init, "timestamp", frame_micros(n) as f64);
        set(
            &init,
            "duration",
            (frame_micros(n + 1) - frame_micros(n)) as f64,
        );
        let video_frame =
            VideoFrame::new(&canvas, &init).map_err(|e| FilmError::Encoder(js_text(&e)))?;
        let options = js_sys::Object::new();
        set(&options, "keyFrame", n % KEY_EVERY == 0);
        let sent = encoder.encode(&video_frame, &options);
        video_frame.close();
        sent.map_err(|e| FilmError::Encoder(js_text(&e)))?;
        ui.frame(n + 1, total);
        // The rest of the page runs between frames.
        sleep(Duration::from_millis(0)).await;
    }
    ui.say("Finishing the file…");
    JsFuture::from(encoder.flush())
        .await
        .map_err(|e| FilmError::Encoder(js_text(&e)))?;
    if let Some(error) = encoded.borrow().error.clone() {
        return Err(FilmError::Encoder(error));
    }
    Ok(())
}
