//! The page's side of the batch, whose card, queue and files are a module of their own
//! (`crates/batch`, loaded the first time several photos are chosen, or a saved batch is
//! found when the page opens): the page hands it the photos, tells it where jobs go and
//! what pays for them, and sends each upload and submit it asks for with the page's
//! connection — the key stays here — keeping every task it makes as it keeps one made by
//! Generate. [`crate::core::batch::SLOT`] has the protocol.

use crate::components::Many;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::{JsCast, JsValue};

use super::api_client::{data_uri, submit, upload_binary};
use super::listen::listen;
use super::runner::Jobs;
use super::timer::now_ms;
use crate::components::BotCheckState;
use crate::core::api::{SubmitRequest, TaskId};
use crate::core::batch::{
    outcome_of, Outcome, ANSWER_EVENT, CONTEXT, CONTEXT_EVENT, ENTRIES, ENTRY, EVENT, FILES,
    SEND_EVENT, URLS,
};
use crate::core::bot_check;
use crate::core::connection::Connection;
use crate::core::jobs::{Action, Command, Sent};
use gloo_timers::future::TimeoutFuture;
use std::cell::RefCell;
use std::rc::Rc;

fn dispatch(slot: &web_sys::Element, name: &str) {
    if let Ok(event) = web_sys::Event::new(name) {
        let _ = slot.dispatch_event(&event);
    }
}

/// Hands several photos (files, addresses, dropped folders) to the batch.
pub fn hand(slot: &web_sys::Element, many: Many) {
    let set = |key: &str, items: js_sys::Array| {
        let _ = js_sys::Reflect::set(slot, &key.into(), &items);
    };
    set(FILES, many.files.into_iter().map(JsValue::from).collect());
    set(URLS, many.urls.into_iter().map(JsValue::from).collect());
    set(
        ENTRIES,
        many.entries.into_iter().map(JsValue::from).collect(),
    );
    dispatch(slot, EVENT);
}

/// Tells the batch where jobs go and what pays for them ([`crate::core::batch::Context`]'s
/// text).
pub fn tell(slot: &web_sys::Element, context: &str) {
    let _ = js_sys::Reflect::set(slot, &CONTEXT.into(), &context.into());
    dispatch(slot, CONTEXT_EVENT);
}

/// The next token of the site's bot check, when the page shows one (through a proxy with
/// a site key): taken now, or as soon as the widget gives one (a check that needs the
/// visitor waits for them, in the widget beside Generate). `None` without a check.
async fn next_token(bot: BotCheckState) -> Option<String> {
    loop {
        if bot.key.try_with_untracked(Option::is_none).unwrap_or(true) {
            return None;
        }
        if let Some(token) = bot.take() {
            return Some(token);
        }
        TimeoutFuture::new(100).await;
    }
}

/// Answers the batch's requests in `slot` with `connection`, keeping its tasks in `jobs`;
/// shows the batch at once when one is saved. Through a proxy with a bot check, each
/// upload carries a token of the widget, and so does each submit its upload's pass no
/// longer covers ([`bot_check::pass_covers`]: a photo may wait long for a place).
pub fn serve(
    slot: web_sys::Element,
    jobs: Jobs,
    connection: Signal<Result<Connection, String>>,
    bot: BotCheckState,
) {
    let target: web_sys::EventTarget = slot.clone().into();
    let answering = slot.clone();
    // The images this page uploaded for the batch, and when (for their passes).
    let uploaded: Rc<RefCell<Vec<(String, u64)>>> = Rc::default();
    listen(Some(target), SEND_EVENT, move |e| {
        let Some(detail) = e.dyn_ref::<web_sys::CustomEvent>().map(|e| e.detail()) else {
            return;
        };
        let get = |key: &str| js_sys::Reflect::get(&detail, &key.into()).unwrap_or_default();
        let number = get("number").as_f64().unwrap_or(0.0) as u32;
        let step = get("step").as_string().unwrap_or_default();
        // A running task of the batch, waiting for the key again after a reload: it goes
        // on, as at a press of its Continue.
        if step == "resume" {
            if let Some(task) = get("task").as_string().and_then(|t| TaskId::parse(&t).ok()) {
                jobs.send(Command::User(task, Action::Resume));
            }
            return;
        }
        let connection = connection.get_untracked();
        let slot = answering.clone();
        let uploaded = uploaded.clone();
        let (file, image, inline, base64, thumbnail) = (
            get("file").dyn_into::<web_sys::File>().ok(),
            get("image").as_string(),
            get("inline").is_truthy(),
            get("base64").is_truthy(),
            get("thumbnail").as_string(),
        );
        spawn_local(async move {
            let outcome = match (connection, step.as_str()) {
                (Err(problem), _) => Outcome::Stop(problem),
                (Ok(c), "upload") => {
                    let sent = match file {
                        Some(file) if inline => data_uri(&file).await,
                        Some(file) => {
                            let token = next_token(bot).await;
                            let sent = upload_binary(&c, &file, token.as_deref()).await;
                            if let (Ok(image), Some(_)) = (&sent, &token) {
                                let now = now_ms();
                                let mut list = uploaded.borrow_mut();
                                list.retain(|(_, at)| bot_check::pass_covers(Some(*at), now));
                                list.push((image.clone(), now));
                            }
                            sent
                        }
                        // (The module hands a file with every upload: it says "lost" itself
                        // when it has none.)
                        None => return,
                    };
                    outcome_of(sent, false)
                }
                (Ok(c), "submit") => {
                    let request = SubmitRequest {
                        image: image.unwrap_or_default(),
                        enable_base64_output: base64,
                    };
                    let at = uploaded
                        .borrow()
                        .iter()
                        .find(|(image, _)| *image == request.image)
                        .map(|(_, at)| *at);
                    let token = if bot_check::pass_covers(at, now_ms()) {
                        None
                    } else {
                        next_token(bot).await
                    };
                    match submit(&c, &request, token.as_deref()).await {
                        Ok(reply) => {
                            let id = reply.id.to_string();
                            // Kept (saved at once) and polled as every task is.
                            jobs.send(Command::Adopt {
                                sent: Sent::from(&c),
                                reply,
                                thumbnail,
                            });
                            Outcome::Done(id)
                        }
                        Err(error) => outcome_of(Err(error), true),
                    }
                }
                _ => return,
            };
            answer(&slot, number, &step, &outcome);
        });
    });
    let saved = crate::browser::window()
        .and_then(|w| w.local_storage().ok().flatten())
        .and_then(|s| s.get_item(ENTRY).ok().flatten())
        .is_some();
    if saved {
        // Once the slot is in the page (the page's script, which loads the module,
        // listens on the document).
        request_animation_frame(move || dispatch(&slot, EVENT));
    }
}

fn answer(slot: &web_sys::Element, number: u32, step: &str, outcome: &Outcome) {
    let (kind, text, after) = outcome.parts();
    let detail = js_sys::Object::new();
    for (key, value) in [
        ("number", JsValue::from(number)),
        ("step", step.into()),
        ("kind", kind.into()),
        ("text", text.into()),
        (
            "after",
            after.map_or(JsValue::NULL, |ms| JsValue::from(ms as f64)),
        ),
    ] {
        let _ = js_sys::Reflect::set(&detail, &key.into(), &value);
    }
    let init = web_sys::CustomEventInit::new();
    init.set_detail(&detail);
    if let Ok(event) = web_sys::CustomEvent::new_with_event_init_dict(ANSWER_EVENT, &init) {
        let _ = slot.dispatch_event(&event);
    }
}
