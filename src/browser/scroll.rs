//! Bringing an element into view: smoothly, or at once for a person who asked the system
//! for less motion.

/// Scrolls `element` to the top of the view (and every scrolling box around it, the
/// host page's too where the browser allows a frame that).
pub fn bring_into_view(element: &web_sys::Element) {
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
