//! The bot check's widget (Cloudflare Turnstile) beside Generate, when the site owner's
//! proxy checks visitors: a place where the on-demand script `multishot-turnstile.js`
//! (loaded only when there is a site key) draws the widget and leaves its token (the
//! element's `msToken`). A press of Generate takes the token; a press before it came is
//! carried out when it comes (the app listens for [`TOKEN_EVENT`]). Where the widget
//! needs nothing of the visitor (most of the time), it takes no room.

use leptos::html::Div;
use leptos::prelude::*;

/// The event that asks for the widget's script (index.html and embed.js load it).
const EVENT: &str = "multishot-turnstile";
/// The script's event: a token came (the element's `msToken`), bubbling to the document.
pub const TOKEN_EVENT: &str = "multishot-token";
/// The app's event: the token was taken; the script asks Cloudflare for the next one.
const USED_EVENT: &str = "multishot-turnstile-used";

/// The widget's state, shared by the widget and the Generate press.
#[derive(Clone, Copy)]
pub struct BotCheckState {
    /// The site key the widget is shown with, when the site's proxy checks visitors.
    pub key: RwSignal<Option<String>>,
    node: NodeRef<Div>,
}

impl BotCheckState {
    /// A state with no key.
    pub fn new() -> Self {
        Self {
            key: RwSignal::new(None),
            node: NodeRef::new(),
        }
    }

    /// The widget's token now, taken (one token, one run: the script then asks for the
    /// next).
    pub fn take(&self) -> Option<String> {
        let widget = self.node.get_untracked()?;
        let token = js_sys::Reflect::get(&widget, &"msToken".into())
            .ok()
            .and_then(|t| t.as_string())
            .filter(|t| !t.is_empty() && t.len() <= 2048)?;
        if let Ok(event) = web_sys::Event::new(USED_EVENT) {
            let _ = widget.dispatch_event(&event);
        }
        Some(token)
    }
}

impl Default for BotCheckState {
    fn default() -> Self {
        Self::new()
    }
}

/// The widget's place, and while there is a site key, the widget: the element names
/// the key and the script draws the widget in it (the theme is the app's). Written to
/// add the least to the first load: one small effect and a static element, the token
/// read when a press needs it (a memo and a reactive view cost 2 KB more, and a token
/// signal with its listener 0.4 KB, measured).
#[component]
pub fn BotCheck(
    /// The site key, when the site's proxy checks visitors (read in the effect below).
    sitekey: impl Fn() -> Option<String> + 'static,
    /// Where the key goes, and the token is read from.
    state: BotCheckState,
) -> impl IntoView {
    let node = state.node;
    // The key (again, when what it depends on changes: the script redraws only for
    // another key), and the script asked for.
    Effect::new(move |_| {
        let key = sitekey();
        if let (Some(key), Some(widget)) = (&key, node.get()) {
            let _ = widget.set_attribute("data-sitekey", key);
            if let Ok(event) = web_sys::Event::new(EVENT) {
                let _ = widget.dispatch_event(&event);
            }
        }
        state.key.set(key);
    });
    view! { <div class="ms-bot-check" node_ref=node></div> }
}
