use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::browser::assess::{choose_repaired, Chosen, RepairedFrom};
use crate::browser::repair::repair;
use crate::core::assessment::Assessment;
use crate::core::repair::{advice, offers_for, Plan};
use crate::core::units::format_bytes;

/// "4000 × 1000 px · 2.1 MB · image/webp": an assessed image in one line.
fn summary(a: &Assessment) -> String {
    let mut parts = Vec::new();
    if let Some(size) = a.facts.dimensions {
        parts.push(size.to_string());
    }
    if let Some(bytes) = a.facts.byte_size {
        parts.push(format_bytes(bytes));
    }
    if let Some(mime) = a.facts.format.and_then(|f| f.mime()) {
        parts.push(mime.to_owned());
    }
    parts.join(" · ")
}

/// **Make it fit**: for a chosen file the rules refuse and the browser can open, a
/// button per repair (its name starts with its verb: Convert, Shrink, Enlarge, Crop,
/// Pad) with what it will do; once repaired, the image before and now, and **Undo
/// repair**. The repaired file replaces the chosen one and is checked by the same rules;
/// nothing is sent until Generate is pressed.
#[component]
pub fn RepairOffers(
    /// The chosen image; a repair replaces it (keeping the original for Undo).
    chosen: RwSignal<Option<Chosen>>,
) -> impl IntoView {
    // Planned once per chosen image, read by every part below.
    let plans = Memo::new(move |_| {
        chosen.with(|c| {
            c.as_ref()
                .filter(|c| c.repaired_from.is_none())
                .map(|c| offers_for(&c.assessment))
                .unwrap_or_default()
        })
    });
    // The repair under way (its name), and the last one that failed.
    let working = RwSignal::new(None::<String>);
    let failed = RwSignal::new(None::<String>);
    let run = move |plan: Plan| {
        let Some(current) = chosen.get_untracked() else {
            return;
        };
        let Some(file) = current.file.clone() else {
            return;
        };
        let label = plan.label();
        working.set(Some(label.clone()));
        failed.set(None);
        spawn_local(async move {
            let result = repair(&file, &file.name(), &plan).await;
            // Another image may have been chosen meanwhile: then this repair is dropped.
            let still = chosen
                .try_with_untracked(|c| c.as_ref().map(|c| c.id) == Some(current.id))
                .unwrap_or(false);
            working.try_set(None);
            if !still {
                return;
            }
            match result {
                Ok(repaired) => choose_repaired(
                    chosen,
                    repaired.file,
                    RepairedFrom {
                        original: current,
                        repair: label,
                    },
                ),
                Err(e) => {
                    failed.try_set(Some(format!("{label} did not work: {e}.")));
                }
            }
        });
    };
    // At most two repairs are offered (Crop and Pad); a fixed structure whose parts are
    // shown or hidden costs the page far less than views made and dropped.
    let plan = move |n: usize| plans.with(|p| p.get(n).copied());
    let label = move |n: usize| plan(n).map(|p| p.label()).unwrap_or_default();
    let explain = move |n: usize| plan(n).map(|p| p.explain()).unwrap_or_default();
    let press = move |n: usize| {
        if let Some(p) = plan(n) {
            run(p);
        }
    };
    let repaired_line = move || {
        chosen.with(|c| {
            let c = c.as_ref()?;
            let from = c.repaired_from.as_ref()?;
            Some(format!(
                "{}: before {}; now {}.",
                from.repair,
                summary(&from.original.assessment),
                summary(&c.assessment)
            ))
        })
    };
    let before_src = move || {
        chosen.with(|c| {
            c.as_ref()?
                .repaired_from
                .as_ref()?
                .original
                .preview
                .as_ref()
                .map(|p| p.src().to_owned())
        })
    };
    let undo = move |_| {
        let original = chosen.with_untracked(|c| {
            c.as_ref()
                .and_then(|c| c.repaired_from.as_ref())
                .map(|from| from.original.clone())
        });
        if let Some(original) = original {
            chosen.set(Some(original));
        }
    };
    let advice = move || chosen.with(|c| c.as_ref().and_then(|c| advice(&c.assessment)));
    view! {
        <div class="ms-repair" role="group" aria-labelledby="ms-repair-heading" hidden=move || plan(0).is_none()>
            <p id="ms-repair-heading" class="ms-repair-heading">
                "Make it fit — fixed here in your browser, nothing is sent:"
            </p>
            <ul class="ms-repair-list">
                <li>
                    <button type="button" class="ms-button ms-small" disabled=move || working.with(Option::is_some) on:click=move |_| press(0)>
                        {move || label(0)}
                    </button>
                    <span class="ms-hint">{move || explain(0)}</span>
                </li>
                <li hidden=move || plan(1).is_none()>
                    <button type="button" class="ms-button ms-small" disabled=move || working.with(Option::is_some) on:click=move |_| press(1)>
                        {move || label(1)}
                    </button>
                    <span class="ms-hint">{move || explain(1)}</span>
                </li>
            </ul>
        </div>
        <div class="ms-repair ms-repaired" role="group" aria-label="Repaired image" hidden=move || before_src().is_none() && repaired_line().is_none()>
            <img class="ms-before" src=before_src alt="The image before the repair" hidden=move || before_src().is_none() />
            <p>{repaired_line}</p>
            <button type="button" class="ms-button ms-small" on:click=undo>"Undo repair"</button>
        </div>
        <p class="ms-note" hidden=move || advice().is_none()>{advice}</p>
        <p class="ms-status" role="status" hidden=move || working.with(Option::is_none)>
            {move || working.get().map(|label| format!("{label}…"))}
        </p>
        <p class="ms-alert" role="alert" hidden=move || failed.with(Option::is_none)>{move || failed.get()}</p>
    }
}
