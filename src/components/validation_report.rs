use leptos::html::Div;
use leptos::prelude::*;

use crate::browser::assess::Chosen;
use crate::browser::repair_module;
use crate::core::assessment::Assessment;
use multishot_repair::offer::SLOT;

/// The verdict on the chosen image: every broken rule in its own `role="alert"` element
/// with what was measured, the rules that could not be checked, or a clear "ready". A
/// refusal is brought into view (on a phone it would sit below the fold, unseen).
///
/// Below it, **Make it fit**: the slot where the repairs module (`crates/repair`,
/// loaded the first time an image is refused) offers its repairs — a button per repair,
/// named by its verb — then shows the image before and now, with **Undo repair**. A
/// repair replaces the chosen image, which the same rules check again; nothing is sent
/// until Generate is pressed.
#[component]
pub fn ValidationReport(
    /// The chosen image's assessment, if an image is chosen.
    #[prop(into)]
    assessment: Signal<Option<Assessment>>,
    /// The chosen image; a repair replaces it.
    chosen: RwSignal<Option<Chosen>>,
) -> impl IntoView {
    let shown = NodeRef::<Div>::new();
    let slot = NodeRef::<Div>::new();
    Effect::new(move |_| {
        let refused = assessment.with(|a| a.as_ref().is_some_and(Assessment::is_refused));
        if let Some(slot) = slot.get() {
            repair_module::sync(&slot, chosen, refused);
        }
        if refused {
            // Once the verdict and the picture above it are laid out.
            request_animation_frame(move || {
                if let Some(report) = shown.get_untracked() {
                    let options = web_sys::ScrollIntoViewOptions::new();
                    options.set_block(web_sys::ScrollLogicalPosition::Nearest);
                    options.set_behavior(web_sys::ScrollBehavior::Smooth);
                    report.scroll_into_view_with_scroll_into_view_options(&options);
                }
            });
        }
    });
    let report = move || {
        assessment.with(|a| {
            let a = a.as_ref()?;
            let report = a.report();
            let alerts = report
                .violations
                .iter()
                .map(|v| {
                    view! {
                        <p class="ms-alert" role="alert" data-rule=v.rule().code()>
                            <strong>{v.rule().name()}": "</strong>
                            {v.to_string()}
                        </p>
                    }
                })
                .collect_view();
            let notes = [a.url_problem(), a.disagreement_note(), a.unchecked_note()]
                .into_iter()
                .flatten()
                .map(|said| view! { <p class="ms-note">{said}</p> })
                .collect_view();
            let status = a.status_line().map(|line| {
                if line.ok {
                    view! { <p class="ms-ok" role="status">{line.text}</p> }.into_any()
                } else {
                    view! { <p class="ms-status" role="status">{line.text}</p> }.into_any()
                }
            });
            Some(view! {
                <div class="ms-report" node_ref=shown>
                    {alerts}
                    {notes}
                    {status}
                </div>
            })
        })
    };
    view! {
        {report}
        <div class=SLOT node_ref=slot></div>
    }
}
