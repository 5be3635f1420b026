//! Bringing an element into view: smoothly, or at once for a person who asked the system
//! for less motion.

/// How long after the first scroll it is asked again: a frame's host page has grown the
/// frame to its new content by then (frame.js, on the app's height message).
const SETTLED_MS: u32 = 600;

/// Scrolls `element` to the top of the view (and every scrolling box around it, the
/// host page's too where the browser allows a frame that); and again a moment later,
/// when the page around it has settled: in a frame the host grows the frame to the new
/// content only after the app says its height, and a scroll asked before that stops
/// short at the host page's end (a fresh clone's e2e run once saw the result 100 px
/// from the bottom of a phone's view).
pub fn bring_into_view(element: &web_sys::Element) {
    scroll(element);
    let element = element.clone();
    leptos::task::spawn_local(async move {
        gloo_timers::future::TimeoutFuture::new(SETTLED_MS).await;
        if element.is_connected() {
            scroll(&element);
        }
    });
}

fn scroll(element: &web_sys::Element) {
    let reduced = crate::browser::window()
        .and_then(|w| {
            w.match_media("(prefers-reduced-motion: reduce)")
                .ok()
                .flatten()
        })
        .is_some_and(|m| m.matches());
    let options = web_sys::ScrollIntoViewOptions::new();
    options.set_block(web_sys::ScrollLogicalPosition::Start);
    options.set_behavior(if reduced {
        web_sys::ScrollBehavior::Instant
    } else {
        web_sys::ScrollBehavior::Smooth
    });
    element.scroll_into_view_with_scroll_into_view_options(&options);
}
