//! One poller per task across every tab of the page, with the Web Locks API
//! (`navigator.locks`): the tab that holds a task's lock polls it; the others show what
//! it stores, and one of them takes over when that tab closes. The lock is released when
//! the returned [`Held`] is dropped, or by the browser when the tab goes away.
//!
//! web-sys has `LockManager` only behind `--cfg=web_sys_unstable_apis`, so the one call
//! needed is bound here.

use futures::channel::oneshot;
use futures::future::{select, Either};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// A held lock; dropping it releases the lock.
#[derive(Debug)]
pub struct Held {
    release: js_sys::Function,
}

impl Drop for Held {
    fn drop(&mut self) {
        let _ = self.release.call0(&JsValue::UNDEFINED);
    }
}

/// The answer to a lock request.
#[derive(Debug)]
pub enum Lock {
    /// This tab holds it.
    Held(Held),
    /// Another tab holds it (only when asked not to wait).
    Busy,
    /// No Web Locks here (an old browser, an insecure context): no coordination.
    Unsupported,
}

/// Asks for the exclusive lock `name`. With `wait`, waits until it is free; without,
/// answers [`Lock::Busy`] at once when another tab holds it.
///
/// The request reaches the browser when this is called, not when the answer is awaited:
/// a tab that asks for a task's lock and then saves the task's record (which tells the
/// other tabs) is first in the lock's queue.
pub fn request(name: &str, wait: bool) -> impl std::future::Future<Output = Lock> {
    let asked = ask(name, wait);
    async move {
        let Some((answer, done)) = asked else {
            return Lock::Unsupported;
        };
        // The request's own promise settles only after the lock is let go, or at once
        // when the request is refused (for instance in an opaque origin).
        match select(answer, JsFuture::from(done)).await {
            Either::Left((Ok(Some(release)), _)) => Lock::Held(Held { release }),
            Either::Left((Ok(None), _)) => Lock::Busy,
            Either::Left((Err(_), _)) | Either::Right(_) => Lock::Unsupported,
        }
    }
}

/// The grant (a release function, or `None` when busy) and the request's own promise;
/// `None` without Web Locks.
type Asked = (oneshot::Receiver<Option<js_sys::Function>>, js_sys::Promise);

/// Calls `navigator.locks.request` now.
fn ask(name: &str, wait: bool) -> Option<Asked> {
    let window = crate::browser::window()?;
    let locks = js_sys::Reflect::get(&window.navigator(), &"locks".into()).ok()?;
    let request = js_sys::Reflect::get(&locks, &"request".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())?;

    let (granted, answer) = oneshot::channel::<Option<js_sys::Function>>();
    // Called by the browser with the lock (or null when busy). While the promise it
    // returns is pending, the lock is held; `Held` resolves it.
    let callback = Closure::once_into_js(move |lock: JsValue| -> js_sys::Promise {
        if lock.is_null() {
            let _ = granted.send(None);
            return js_sys::Promise::resolve(&JsValue::UNDEFINED);
        }
        let mut release = None;
        let held = js_sys::Promise::new(&mut |resolve, _reject| release = Some(resolve));
        if let Some(release) = release {
            // Nobody waits any more (the poller was stopped): let go at once.
            if let Err(Some(release)) = granted.send(Some(release)) {
                let _ = release.call0(&JsValue::UNDEFINED);
            }
        }
        held
    });
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"ifAvailable".into(), &JsValue::from_bool(!wait));
    let done = request
        .call3(&locks, &name.into(), &options, &callback)
        .ok()?
        .dyn_into::<js_sys::Promise>()
        .ok()?;
    Some((answer, done))
}
