//! The first view as HTML, rendered natively at build time from the same components
//! (`cargo run --features prerender --bin prerender`): `index.html` shows it before the
//! wasm arrives, and the app then replaces it with the same markup.
//!
//! Nothing runs off the browser: the executor drops every spawned task and effect, the
//! browser glue answers "nothing here" ([`crate::browser::present`]; no listener is
//! added without a window). So the view is the one a first visit shows before
//! any input, settings, storage or network: what the wasm's first frame shows too.

use any_spawner::{CustomExecutor, Executor, PinnedFuture, PinnedLocalFuture};
use leptos::prelude::*;

use crate::components::App;
use crate::core::config::Host;

/// Drops what is spawned: no task or effect runs while rendering.
struct NothingRuns;

impl CustomExecutor for NothingRuns {
    fn spawn(&self, _: PinnedFuture<()>) {}
    fn spawn_local(&self, _: PinnedLocalFuture<()>) {}
    fn poll_local(&self) {}
}

/// The app's first view for `host` as HTML (one `<div class="ms-app …">`).
pub fn first_view(host: Host) -> String {
    // Set once per process; a second call finds it set, which is as good.
    let _ = Executor::init_custom_executor(NothingRuns);
    let owner = Owner::new();
    // Reading signals once, untracked, is what a render to HTML does.
    let _quiet = leptos::reactive::diagnostics::SpecialNonReactiveZone::enter();
    let html = owner.with(|| view! { <App host=host /> }.to_html());
    drop(owner);
    html
}
