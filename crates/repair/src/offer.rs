//! **Make it fit**, drawn into the page's slot: for a refused image, a button per repair
//! (its name starts with its verb — Convert, Shrink, Enlarge, Crop, Pad) with what it
//! will do; once repaired, the image before and now and **Undo repair**; for a HEIC
//! photo, how to export a JPEG. Plain DOM (this module carries no framework, so the
//! page pays for it only when an image is refused); every text is set as text.
//!
//! The page and this module talk through the slot element alone, so that the page needs
//! no code of this module's and this module none of the page's:
//! - the page sets the slot's [`FILE`] property to the refused file and dispatches
//!   [`OFFER_EVENT`] on the slot (the module also looks for such slots, by their class
//!   [`SLOT`], when it starts); [`offer`] answers it;
//! - the module answers by choosing a file through the page's own file input (the
//!   `input[type=file]` of the slot's nearest ancestor that has one), as a person would —
//!   the repaired file, which the page checks by the same rules, or for **Undo repair**
//!   the refused file itself — and sets the slot's [`ANSWER`] property to the repaired
//!   file first, so that the page leaves the module's before/now view in place;
//! - the answer's [`CHOICE`] says which kind of repair made it; a page with many
//!   images (the batch) sets another slot's [`APPLY`] to those words before its
//!   [`OFFER_EVENT`] to have the same kind made there at once, and hears
//!   [`APPLIED_EVENT`] when it is over;
//! - the page empties the slot and sets [`FILE`] to `undefined` when it should show
//!   nothing: a repair still at work is then dropped (it checks that [`FILE`] is still
//!   its file before it draws or answers).
//!
//! A lone repair that leaves nothing to choose (Convert, Shrink, Enlarge:
//! [`made_at_once`]) is made as soon as it is offered, while the person reads the offer:
//! the press shows it when it is ready, at once if they took a second to read, and its
//! hint says what it came to ("Ready: 9.4 MB at 92 % quality."). It is
//! kept for a press after **Undo repair** too, until another image is offered or a
//! minute passes; nothing is chosen or sent before the press.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::thread::LocalKey;
use std::time::Duration;

use futures::future::{FutureExt, LocalBoxFuture, Shared};

use multishot_rules::rules::{may_decode, Facts};
use multishot_rules::sniff::{sniff, Dimensions, Format, HEAD_BYTES};
use multishot_rules::units::format_bytes;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};

use crate::canvas::{may_skip_drawing, repair, RepairError, Repaired};
use crate::decode::{bitmap_of_blob, js_error_text};
use crate::plan::{
    advice, choice, like, made_at_once, offers, parse_colour, Backdrop, Chosen, CropRange, Plan,
    Verb,
};
use crate::svg::{bitmap_of_svg, SVG_BYTE_CAP};

/// The loader Trunk writes for this module (index.html, `data-loader-shim`): the page
/// adds it as a `<script type="module">` the first time an image is refused.
pub const LOADER: &str = "multishot-repair_loader.js";
/// The slot's class.
pub const SLOT: &str = "ms-repair-slot";
/// The slot's property that holds the refused image's `File`.
pub const FILE: &str = "msFile";
/// The event the page dispatches on the slot to have the repairs offered.
pub const OFFER_EVENT: &str = "multishot-offer";
/// The slot's property that holds the repaired file, while it is the one chosen.
pub const ANSWER: &str = "msAnswer";
/// The slot's property that says which kind of repair made [`ANSWER`]
/// ([`crate::plan::choice`]: "Crop", "Pad #1a2b3c", …), so that the page can offer to
/// make others alike.
pub const CHOICE: &str = "msChoice";
/// The slot's property the page sets, before [`OFFER_EVENT`], to have the repair of
/// that kind ([`CHOICE`]'s words) made at once, without a press: **Apply to all that need
/// it**. The module clears it, and dispatches [`APPLIED_EVENT`] on the slot when done.
pub const APPLY: &str = "msApply";
/// Dispatched on the slot once a repair asked by [`APPLY`] is over: answered, failed
/// (its alert shown), or not offered for this image (its offers shown).
pub const APPLIED_EVENT: &str = "multishot-applied";

/// How long what an offer made for its image is kept for the press of a button before
/// it is let go (a press then makes it again): a 24-megapixel image decoded holds 96 MB,
/// a repaired one up to 10 MB.
const KEEP: Duration = Duration::from_secs(60);

/// One thing kept for one file at a time ([`keep`], [`take`], [`kept`]): kept until
/// another is kept in its place or [`KEEP`] has passed, then given to its `release`.
struct Keeper<T: 'static> {
    kept: RefCell<Option<(u32, web_sys::File, T)>>,
    /// Tells one keeping from the next.
    number: Cell<u32>,
    release: fn(T),
}

/// A repair being made (or made) before its button is pressed ([`made_at_once`]): the
/// press awaits it, and a press after Undo finds it made.
type Prepared = Shared<LocalBoxFuture<'static, Result<Repaired, RepairError>>>;

thread_local! {
    /// The last offer's image as decoded, so that a repair does not decode again.
    static DECODED: Keeper<web_sys::ImageBitmap> = const { Keeper {
        kept: RefCell::new(None),
        number: Cell::new(0),
        release: release_bitmap,
    } };
    /// The last offer's repair made at once, with its plan.
    static PREPARED: Keeper<(Plan, Prepared)> = const { Keeper {
        kept: RefCell::new(None),
        number: Cell::new(0),
        release: drop,
    } };
}

fn release_bitmap(bitmap: web_sys::ImageBitmap) {
    bitmap.close();
}

fn same_file(a: &web_sys::File, b: &web_sys::File) -> bool {
    AsRef::<JsValue>::as_ref(a) == AsRef::<JsValue>::as_ref(b)
}

/// Keeps `value` for `file` in `keeper`, releasing what it kept before, for [`KEEP`].
fn keep<T: 'static>(keeper: &'static LocalKey<Keeper<T>>, file: &web_sys::File, value: T) {
    let (number, previous, release) = keeper.with(|k| {
        k.number.set(k.number.get().wrapping_add(1));
        let number = k.number.get();
        let previous = k.kept.replace(Some((number, file.clone(), value)));
        (number, previous, k.release)
    });
    if let Some((_, _, old)) = previous {
        release(old);
    }
    spawn_local(async move {
        gloo_timers::future::sleep(KEEP).await;
        // This keeping's value only: the same file may have been kept again since.
        let (expired, release) = keeper.with(|k| {
            let mut kept = k.kept.borrow_mut();
            let expired = if kept.as_ref().is_some_and(|(n, _, _)| *n == number) {
                kept.take()
            } else {
                None
            };
            (expired, k.release)
        });
        if let Some((_, _, value)) = expired {
            release(value);
        }
    });
}

/// What `keeper` holds for `file`, handed over (the caller releases it).
fn take<T: 'static>(keeper: &'static LocalKey<Keeper<T>>, file: &web_sys::File) -> Option<T> {
    keeper.with(|k| {
        let mut kept = k.kept.borrow_mut();
        if kept.as_ref().is_some_and(|(_, f, _)| same_file(f, file)) {
            kept.take().map(|(_, _, value)| value)
        } else {
            None
        }
    })
}

/// A copy of what `keeper` holds for `file`, left kept.
fn kept<T: Clone + 'static>(
    keeper: &'static LocalKey<Keeper<T>>,
    file: &web_sys::File,
) -> Option<T> {
    keeper.with(|k| match &*k.kept.borrow() {
        Some((_, f, value)) if same_file(f, file) => Some(value.clone()),
        _ => None,
    })
}

/// Whether the slot still offers repairs for `file`.
fn current(slot: &web_sys::Element, file: &web_sys::File) -> bool {
    js_sys::Reflect::get(slot, &FILE.into()).is_ok_and(|f| AsRef::<JsValue>::as_ref(file) == &f)
}

/// Chooses `file` in the page, through the file input of the slot's nearest ancestor
/// that has one (a `change` event, as when a person picks a file): the repaired file,
/// recorded first as the slot's [`ANSWER`], or the refused one for Undo.
fn answer(
    slot: &web_sys::Element,
    file: &web_sys::File,
    made: Option<&Plan>,
) -> Result<(), String> {
    let (recorded, chosen): (&JsValue, JsValue) = match made {
        Some(plan) => (file.as_ref(), choice(plan).into()),
        None => (&JsValue::UNDEFINED, JsValue::UNDEFINED),
    };
    let _ = js_sys::Reflect::set(slot, &ANSWER.into(), recorded);
    let _ = js_sys::Reflect::set(slot, &CHOICE.into(), &chosen);
    let mut at = slot.parent_element();
    let input = loop {
        let Some(ancestor) = at else {
            return Err("the page has no file input".into());
        };
        if let Ok(Some(input)) = ancestor.query_selector("input[type=file]") {
            break input.unchecked_into::<web_sys::HtmlInputElement>();
        }
        at = ancestor.parent_element();
    };
    let files = web_sys::DataTransfer::new().map_err(|e| js_error_text(&e))?;
    files
        .items()
        .add_with_file(file)
        .map_err(|e| js_error_text(&e))?;
    input.set_files(files.files().as_ref());
    let init = web_sys::EventInit::new();
    init.set_bubbles(true);
    let change =
        web_sys::Event::new_with_event_init_dict("change", &init).map_err(|e| js_error_text(&e))?;
    let _ = input.dispatch_event(&change);
    Ok(())
}

/// Offers the repairs for the image the slot holds (see the module's doc), replacing
/// what it showed: the type is read from the file's first bytes, the plans made by
/// [`offers`]; nothing is shown when no repair applies and there is no advice.
pub fn offer(slot: &web_sys::Element) {
    slot.set_text_content(None);
    let Some(file) = js_sys::Reflect::get(slot, &FILE.into())
        .ok()
        .and_then(|f| f.dyn_into::<web_sys::File>().ok())
    else {
        return;
    };
    // A repair asked for at once (Apply to all): told as over however this ends.
    let apply = js_sys::Reflect::get(slot, &APPLY.into())
        .ok()
        .and_then(|a| a.as_string());
    if apply.is_some() {
        let _ = js_sys::Reflect::set(slot, &APPLY.into(), &JsValue::UNDEFINED);
    }
    let slot = slot.clone();
    spawn_local(async move {
        let asked = apply.is_some();
        offer_now(&slot, file, apply).await;
        if asked {
            applied(&slot);
        }
    });
}

/// [`offer`]'s work, once the file is read: the offers shown, or with `apply` the
/// repair of that kind made and answered at once.
async fn offer_now(slot: &web_sys::Element, file: web_sys::File, apply: Option<String>) {
    let (sniffed, undrawn) = match read_head(&file).await {
        Ok(head) => (sniff(&head), may_skip_drawing(&head)),
        Err(_) => return,
    };
    let format = sniffed.format;
    // Measured as the page measured it (the decode the rules use), and only what the
    // page decodes: never a decompression bomb, text or a file over the cap.
    let facts = Facts::from_head(&sniffed, Some(file.size() as u64));
    let bitmap = if may_decode(format, &facts) {
        bitmap_of_blob(web_sys::window(), &file).await.ok()
    } else if format == Format::Svg && file.size() as u64 <= SVG_BYTE_CAP {
        bitmap_of_svg(&file).await.ok()
    } else {
        None
    };
    let decoded = bitmap
        .as_ref()
        .map(|b| Dimensions::new(b.width(), b.height()));
    let plans = decoded
        .map(|decoded| {
            offers(&Chosen {
                format,
                decoded,
                bytes: file.size() as u64,
            })
        })
        .unwrap_or_default();
    // A repair to make at once, and whether it is made already (the same image
    // offered again after Undo).
    let at_once = made_at_once(&plans);
    let made =
        at_once.is_some_and(|plan| kept(&PREPARED, &file).is_some_and(|(made, _)| made == plan));
    match bitmap {
        // Kept for the repair, which then starts drawing at once.
        Some(bitmap) if !plans.is_empty() && !made && current(slot, &file) => {
            keep(&DECODED, &file, bitmap)
        }
        Some(bitmap) => bitmap.close(),
        None => {}
    }
    if !current(slot, &file) {
        return;
    }
    if let Some(text) = advice(format) {
        let note = element("p", "ms-note");
        note.set_text_content(Some(text));
        let _ = slot.append_child(&note);
    }
    if !plans.is_empty() {
        let before = Rc::new(Before {
            file,
            decoded,
            format,
            undrawn,
        });
        if let Some(plan) = apply.as_deref().and_then(|choice| like(&plans, choice)) {
            // Asked for at once: made and answered without a press.
            let result = make(before.clone(), plan).await;
            if current(slot, &before.file) {
                match result {
                    Ok(repaired) => match answer(slot, &repaired.file, Some(&plan)) {
                        Ok(()) => show_repaired(slot, before, &plan, &repaired),
                        Err(e) => show_failed(slot, before, plans, &plan, &e),
                    },
                    Err(e) => show_failed(slot, before, plans, &plan, &e.to_string()),
                }
            }
            return;
        }
        // Made now, while the person reads the offer.
        if let (Some(plan), false) = (at_once, made) {
            let prepared = make(before.clone(), plan).boxed_local().shared();
            spawn_local(prepared.clone().map(drop));
            keep(&PREPARED, &before.file, (plan, prepared));
        }
        show_offers(slot, before, plans);
    }
}

/// Tells the page that a repair asked by [`APPLY`] is over.
fn applied(slot: &web_sys::Element) {
    if let Ok(event) = web_sys::Event::new(APPLIED_EVENT) {
        let _ = slot.dispatch_event(&event);
    }
}

/// The offers, with why the repair asked for at once did not work.
fn show_failed(
    slot: &web_sys::Element,
    before: Rc<Before>,
    plans: Vec<Plan>,
    plan: &Plan,
    error: &str,
) {
    show_offers(slot, before, plans);
    if let Ok(Some(alert)) = slot.query_selector(".ms-alert") {
        alert.set_text_content(Some(&format!("{} did not work: {error}.", plan.label())));
        let _ = alert.remove_attribute("hidden");
    }
}

/// Answers [`OFFER_EVENT`] on any slot of `document` (the module does so from its
/// start), and offers the repairs now for the slots that asked before. Until the
/// returned guard is dropped.
pub fn listen(document: &web_sys::Document) -> Listening {
    let handler = Closure::<dyn Fn(web_sys::Event)>::new(|event: web_sys::Event| {
        if let Some(slot) = event
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        {
            offer(&slot);
        }
    });
    // Capture: the event does not bubble, and the slot may sit anywhere (an embed).
    let _ = document.add_event_listener_with_callback_and_bool(
        OFFER_EVENT,
        handler.as_ref().unchecked_ref(),
        true,
    );
    if let Ok(waiting) = document.query_selector_all(&format!(".{SLOT}")) {
        for i in 0..waiting.length() {
            if let Some(slot) = waiting.get(i).and_then(|n| n.dyn_into().ok()) {
                offer(&slot);
            }
        }
    }
    Listening {
        document: document.clone(),
        handler,
    }
}

/// Answering the page's offers, until dropped ([`listen`]).
pub struct Listening {
    document: web_sys::Document,
    handler: Closure<dyn Fn(web_sys::Event)>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        let _ = self.document.remove_event_listener_with_callback_and_bool(
            OFFER_EVENT,
            self.handler.as_ref().unchecked_ref(),
            true,
        );
    }
}

/// The image before the repair, for the "before" line.
struct Before {
    file: web_sys::File,
    decoded: Option<Dimensions>,
    format: Format,
    /// What [`may_skip_drawing`] says of it.
    undrawn: bool,
}

fn document() -> web_sys::Document {
    // The module runs on a page: there is a document (a test page too).
    web_sys::window()
        .and_then(|w| w.document())
        .expect_throw("no document")
}

fn element(tag: &str, class: &str) -> web_sys::Element {
    let e = document().create_element(tag).expect_throw("createElement");
    e.set_class_name(class);
    e
}

fn button(text: &str) -> web_sys::HtmlButtonElement {
    let b: web_sys::HtmlButtonElement = element("button", "ms-button ms-small").unchecked_into();
    b.set_type("button");
    b.set_text_content(Some(text));
    b
}

/// `f` as the element's handler of `event`. (Handed to JavaScript for good: a few
/// small closures per offer, kept until the page goes.)
fn on_event(target: &web_sys::Element, event: &str, mut f: impl FnMut() + 'static) {
    on(target, event, move |_: web_sys::Event| f());
}

/// `f` as the element's handler of `event`, given the event (a `PointerEvent`, a
/// `KeyboardEvent`…); kept until the page goes, as [`on_event`]'s.
fn on<E: wasm_bindgen::convert::FromWasmAbi + 'static>(
    target: &web_sys::Element,
    event: &str,
    f: impl FnMut(E) + 'static,
) {
    let handler = Closure::<dyn FnMut(E)>::new(f).into_js_value();
    let _ = target.add_event_listener_with_callback(event, handler.unchecked_ref());
}

fn on_click(target: &web_sys::Element, f: impl FnMut() + 'static) {
    on_event(target, "click", f);
}

/// Makes `plan`'s repair of the image: from the offer's decode, or (let go meanwhile) a
/// new one; an SVG is drawn again, which [`repair`]'s own decode cannot do.
async fn make(before: Rc<Before>, plan: Plan) -> Result<Repaired, RepairError> {
    let decoded = match take(&DECODED, &before.file) {
        None if before.format == Format::Svg => bitmap_of_svg(&before.file).await.ok(),
        kept => kept,
    };
    repair(
        &before.file,
        &before.file.name(),
        &plan,
        decoded,
        before.undrawn,
    )
    .await
}

fn show_offers(slot: &web_sys::Element, before: Rc<Before>, plans: Vec<Plan>) {
    slot.set_text_content(None);
    let group = element("div", "ms-repair");
    let _ = group.set_attribute("role", "group");
    let _ = group.set_attribute("aria-label", "Make it fit");
    let heading = element("p", "ms-repair-heading");
    heading.set_text_content(Some(
        "Make it fit — fixed here in your browser, nothing is sent:",
    ));
    let list = element("ul", "ms-repair-list");
    let status = element("p", "ms-repair-status");
    let _ = status.set_attribute("role", "status");
    let alert = element("p", "ms-alert");
    let _ = alert.set_attribute("role", "alert");
    let _ = alert.set_attribute("hidden", "");
    let buttons: Rc<Vec<web_sys::HtmlButtonElement>> =
        Rc::new(plans.iter().map(|p| button(&p.label())).collect());
    let mut crop_box = None;
    for (&plan, b) in plans.iter().zip(buttons.iter()) {
        let item = element("li", "");
        let hint = element("span", "ms-hint");
        hint.set_text_content(Some(&plan.explain()));
        let _ = item.append_child(b);
        // The crop's box, shown on the image and moved by drag or keys; the pad's colour.
        let offset = match (plan.verb, before.decoded) {
            (Verb::Crop, Some(image)) => plan.crop_range(image).map(|range| {
                let offset = Rc::new(Cell::new(range.offset));
                crop_box = Some(crop_preview(&before.file, &plan, image, offset.clone()));
                offset
            }),
            _ => None,
        };
        let colour = matches!(plan.backdrop, Backdrop::Colour(_)).then(|| {
            let input: web_sys::HtmlInputElement =
                element("input", "ms-repair-colour").unchecked_into();
            input.set_type("color");
            input.set_value(&plan.backdrop.css().unwrap_or_default());
            let _ = input.set_attribute("aria-label", "Pad colour");
            let _ = item.append_child(&input);
            input
        });
        // Made at once: the hint says what it came to, once it is ready.
        if let Some((made, prepared)) = kept(&PREPARED, &before.file) {
            if made == plan {
                let (hint, slot, file) = (hint.clone(), slot.clone(), before.file.clone());
                spawn_local(async move {
                    if let (Ok(repaired), true) = (prepared.await, current(&slot, &file)) {
                        hint.set_text_content(Some(&format!(
                            "{} {}",
                            plan.explain(),
                            ready(&plan, &repaired)
                        )));
                    }
                });
            }
        }
        let _ = item.append_child(&hint);
        let _ = list.append_child(&item);
        let (slot, before) = (slot.clone(), before.clone());
        let (buttons, status, alert) = (buttons.clone(), status.clone(), alert.clone());
        on_click(b, move || {
            // The plan as the person set it: the box where it was left, the colour chosen.
            let mut plan = plan;
            if let (Some(offset), Some(image)) = (&offset, before.decoded) {
                plan = plan.crop_at(image, offset.get());
            }
            if let Some(rgb) = colour.as_ref().and_then(|c| parse_colour(&c.value())) {
                plan.backdrop = Backdrop::Colour(rgb);
            }
            let label = plan.label();
            for b in buttons.iter() {
                b.set_disabled(true);
            }
            status.set_text_content(Some(&format!("{label}…")));
            let _ = alert.set_attribute("hidden", "");
            let (slot, before) = (slot.clone(), before.clone());
            let (buttons, status, alert) = (buttons.clone(), status.clone(), alert.clone());
            spawn_local(async move {
                // Made already (or being made) when offered, else now. One made that
                // failed is let go: the next press tries again.
                let result = match kept(&PREPARED, &before.file) {
                    Some((made, prepared)) if made == plan => {
                        let result = prepared.await;
                        if result.is_err() {
                            drop(take(&PREPARED, &before.file));
                        }
                        result
                    }
                    _ => make(before.clone(), plan).await,
                };
                if !current(&slot, &before.file) {
                    return;
                }
                status.set_text_content(None);
                match result {
                    Ok(repaired) => match answer(&slot, &repaired.file, Some(&plan)) {
                        Ok(()) => show_repaired(&slot, before, &plan, &repaired),
                        Err(e) => failed(&buttons, &alert, &format!("{label} did not work: {e}.")),
                    },
                    Err(e) => failed(&buttons, &alert, &format!("{label} did not work: {e}.")),
                }
            });
        });
    }
    let _ = group.append_child(&heading);
    if let Some(preview) = &crop_box {
        let _ = group.append_child(preview);
    }
    for part in [&list, &status, &alert] {
        let _ = group.append_child(part);
    }
    let _ = slot.append_child(&group);
}

/// The image with the crop's box on it: the part outside the box shaded; the box drags
/// with a pointer and is a slider for the keyboard (arrow keys, Home, End), its value the
/// kept part's offset in pixels. `offset` follows it.
fn crop_preview(
    file: &web_sys::File,
    plan: &Plan,
    image: Dimensions,
    offset: Rc<Cell<u32>>,
) -> web_sys::Element {
    let Some(range) = plan.crop_range(image) else {
        return element("div", "");
    };
    let frame = element("div", "ms-crop");
    let picture = element("img", "ms-crop-image");
    let _ = picture.set_attribute("alt", "");
    if let Ok(url) = web_sys::Url::create_object_url_with_blob(file) {
        let _ = picture.set_attribute("src", &url);
        on_event(&picture, "load", move || {
            let _ = web_sys::Url::revoke_object_url(&url);
        });
    }
    let boxed: web_sys::HtmlElement = element("div", "ms-crop-box").unchecked_into();
    let _ = boxed.set_attribute("role", "slider");
    let _ = boxed.set_attribute("tabindex", "0");
    let _ = boxed.set_attribute("aria-label", "Part kept by Crop");
    let _ = boxed.set_attribute(
        "aria-orientation",
        if range.across {
            "horizontal"
        } else {
            "vertical"
        },
    );
    let _ = boxed.set_attribute("aria-valuemin", "0");
    let _ = boxed.set_attribute("aria-valuemax", &range.max.to_string());
    let kept = if range.across {
        plan.source.width
    } else {
        plan.source.height
    };
    let (start, length) = if range.across {
        ("left", "width")
    } else {
        ("top", "height")
    };
    let (other_start, other_length) = if range.across {
        ("top", "height")
    } else {
        ("left", "width")
    };
    let style = boxed.style();
    let _ = style.set_property(other_start, "0");
    let _ = style.set_property(other_length, "100%");
    let place = {
        let (boxed, offset) = (boxed.clone(), offset.clone());
        move |at: u32| {
            offset.set(at);
            let (from, size) = CropRange {
                offset: at,
                ..range
            }
            .percent(kept);
            let style = boxed.style();
            let _ = style.set_property(start, &percent(from));
            let _ = style.set_property(length, &percent(size));
            let _ = boxed.set_attribute("aria-valuenow", &at.to_string());
            let _ = boxed.set_attribute(
                "aria-valuetext",
                &format!(
                    "{at} px from the {}",
                    if range.across { "left" } else { "top" }
                ),
            );
        }
    };
    place(range.offset);
    let place = Rc::new(place);
    // Dragging: the offset at the press, and where the pointer was.
    let pressed: Rc<Cell<Option<(u32, i32)>>> = Rc::new(Cell::new(None));
    let along = move |e: &web_sys::PointerEvent| {
        if range.across {
            e.client_x()
        } else {
            e.client_y()
        }
    };
    {
        let (boxed_, pressed, offset) = (boxed.clone(), pressed.clone(), offset.clone());
        on(&boxed, "pointerdown", move |e: web_sys::PointerEvent| {
            let _ = boxed_.set_pointer_capture(e.pointer_id());
            pressed.set(Some((offset.get(), along(&e))));
            e.prevent_default();
        });
    }
    {
        let (frame_, pressed, place) = (frame.clone(), pressed.clone(), place.clone());
        on(&boxed, "pointermove", move |e: web_sys::PointerEvent| {
            if let Some((from, at)) = pressed.get() {
                let rect = frame_.get_bounding_client_rect();
                let shown = if range.across {
                    rect.width()
                } else {
                    rect.height()
                };
                place(range.dragged(from, along(&e) - at, shown as u32));
            }
        });
    }
    for end in ["pointerup", "pointercancel"] {
        let pressed = pressed.clone();
        on(&boxed, end, move |_: web_sys::PointerEvent| {
            pressed.set(None)
        });
    }
    {
        let (offset, place) = (offset.clone(), place.clone());
        on(&boxed, "keydown", move |e: web_sys::KeyboardEvent| {
            let now = CropRange {
                offset: offset.get(),
                ..range
            };
            let to = match e.key().as_str() {
                "ArrowLeft" | "ArrowUp" => now.stepped(-1, None),
                "ArrowRight" | "ArrowDown" => now.stepped(1, None),
                "PageUp" => now.stepped(-5, None),
                "PageDown" => now.stepped(5, None),
                "Home" => now.stepped(0, Some(false)),
                "End" => now.stepped(0, Some(true)),
                _ => return,
            };
            e.prevent_default();
            place(to);
        });
    }
    let _ = frame.append_child(&picture);
    let _ = frame.append_child(&boxed);
    frame
}

/// Hundredths of a percent as CSS writes them: 1875 → "18.75%".
fn percent(hundredths: u32) -> String {
    format!("{}.{:02}%", hundredths / 100, hundredths % 100)
}

/// A repair that did not work: said in the alert, the buttons ready again.
fn failed(buttons: &[web_sys::HtmlButtonElement], alert: &web_sys::Element, text: &str) {
    for b in buttons {
        b.set_disabled(false);
    }
    alert.set_text_content(Some(text));
    let _ = alert.remove_attribute("hidden");
}

/// What a repair made at once came to, for its hint (which has said its type and, unless
/// it had to be made smaller, its size): "Ready: 9.6 MB at 92 % quality."
fn ready(plan: &Plan, repaired: &Repaired) -> String {
    let mut text = String::from("Ready: ");
    if repaired.size != plan.canvas {
        text.push_str(&format!("{} · ", repaired.size));
    }
    text.push_str(&format_bytes(repaired.bytes));
    if let Some(quality) = repaired.quality {
        // No break between the number and its sign.
        text.push_str(&format!(" at {quality}\u{a0}% quality"));
    }
    text.push('.');
    text
}

/// "800 × 600 px · 1.2 MB · image/webp".
fn summary(size: Option<Dimensions>, bytes: u64, kind: &str) -> String {
    let mut parts = Vec::new();
    if let Some(size) = size {
        parts.push(size.to_string());
    }
    parts.push(format_bytes(bytes));
    parts.push(kind.to_owned());
    parts.join(" · ")
}

fn show_repaired(slot: &web_sys::Element, before: Rc<Before>, plan: &Plan, repaired: &Repaired) {
    slot.set_text_content(None);
    let group = element("div", "ms-repair ms-repaired");
    let _ = group.set_attribute("role", "group");
    let _ = group.set_attribute("aria-label", "Repaired image");
    let thumbnail = element("img", "ms-before");
    let _ = thumbnail.set_attribute("alt", "The image before the repair");
    if let Ok(url) = web_sys::Url::create_object_url_with_blob(&before.file) {
        let _ = thumbnail.set_attribute("src", &url);
        // Once shown, the address is not needed.
        on_event(&thumbnail, "load", move || {
            let _ = web_sys::Url::revoke_object_url(&url);
        });
    }
    let line = element("p", "");
    let before_kind = before
        .format
        .mime()
        .map_or_else(|| before.format.to_string(), str::to_owned);
    let mut text = format!(
        "{}: before {}; now {}.",
        plan.label(),
        // A drawing has no size of its own in pixels.
        summary(
            before.decoded.filter(|_| before.format != Format::Svg),
            before.file.size() as u64,
            &before_kind,
        ),
        summary(
            Some(repaired.size),
            repaired.bytes,
            repaired.encoding.mime()
        ),
    );
    if plan.verb == Verb::Enlarge {
        text.push_str(" Fine detail will look soft.");
    }
    line.set_text_content(Some(&text));
    let undo = button("Undo repair");
    let slot_ = slot.clone();
    on_click(&undo, move || {
        if current(&slot_, &before.file) {
            let _ = answer(&slot_, &before.file, None);
        }
    });
    for part in [&thumbnail, &line, &undo] {
        let _ = group.append_child(part);
    }
    let _ = slot.append_child(&group);
}

/// The file's first bytes (at most [`HEAD_BYTES`], as the page reads them).
async fn read_head(file: &web_sys::File) -> Result<Vec<u8>, String> {
    let head = file
        .slice_with_f64_and_f64(0.0, HEAD_BYTES as f64)
        .map_err(|e| js_error_text(&e))?;
    let buffer = JsFuture::from(head.array_buffer())
        .await
        .map_err(|e| js_error_text(&e))?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}
