use leptos::prelude::*;

use super::{copy_button, is_consumer, ShotPlayer};
use crate::core::job::Tracked;
use crate::core::jobs::Action;
use crate::core::task_view::{
    brings_into_view, leaving_note, offer, offline_note, outcome, visitor_line, Tone,
};

/// One task: its id (copyable, always visible), a live status line, what can be done
/// (Cancel, Resume, Check again, Continue once a key is given), every failure as a
/// message a person understands, and the shots when it is done.
#[component]
pub fn TaskView(
    /// The task, if it is (still) known.
    #[prop(into)]
    task: Signal<Option<Tracked>>,
    /// The browser is online.
    #[prop(into)]
    online: Signal<bool>,
    /// Cancel or resume waiting.
    #[prop(into)]
    on_action: Callback<Action>,
    /// How long a run typically takes here (for the progress bar; none: indeterminate).
    #[prop(optional, into)]
    typical_ms: Signal<Option<u64>>,
) -> impl IntoView {
    // A reload finds the task again (else the wait asks to keep the page open).
    let kept = use_context::<crate::browser::runner::Jobs>()
        .map_or(Signal::stored(false), |jobs| jobs.kept());
    let outcome = Memo::new(move |_| {
        task.with(|t| {
            t.as_ref()
                .and_then(|t| outcome(t, js_sys::Date::now() as u64))
        })
    });
    // The elapsed time ticks every second while this page waits for the task.
    let now = RwSignal::new(js_sys::Date::now());
    let polling = Memo::new(move |_| task.with(|t| t.as_ref().is_some_and(Tracked::is_polling)));
    let ticker = StoredValue::new(None::<IntervalHandle>);
    let stop_ticking = move || {
        if let Some(Some(handle)) = ticker.try_update_value(Option::take) {
            handle.clear();
        }
    };
    Effect::new(move |_| {
        stop_ticking();
        if polling.get() {
            now.set(js_sys::Date::now());
            let tick = move || now.set(js_sys::Date::now());
            ticker
                .set_value(set_interval_with_handle(tick, std::time::Duration::from_secs(1)).ok());
        }
    });
    on_cleanup(stop_ticking);

    // The shots of a task this page waited for are brought into view when they arrive
    // (on a phone they would come below the fold; in a frame the host page scrolls too).
    let status_line = NodeRef::<leptos::html::P>::new();
    let was_waiting = StoredValue::new(false);
    Effect::new(move |_| {
        let waiting = polling.get();
        let arrived = outcome.with(|o| o.as_ref().is_some_and(|o| o.failure().is_none()));
        if brings_into_view(was_waiting.get_value(), arrived) {
            if let Some(line) = status_line.get_untracked() {
                crate::browser::scroll::bring_into_view(&line);
            }
        }
        was_waiting.set_value(waiting);
    });

    let id_row = move || {
        if is_consumer() {
            return None;
        }
        let id = task.with(|t| t.as_ref().map(|t| t.record.id.to_string()))?;
        Some(view! {
            <p class="ms-task">
                "Task ID: " <code data-task-id=id.clone()>{id.clone()}</code>
                {copy_button(id.clone(), "Copy", "Copy the task ID".into())}
            </p>
        })
    };
    // What the task view says and offers (see `core::task_view`), rendered by one view:
    // a status change patches the same elements, so a focused button keeps the focus.
    let offered = Memo::new(move |_| {
        let now = now.get() as u64;
        let typical = typical_ms.get();
        task.with(|t| t.as_ref().map(|t| offer(t, now, typical)))
    });
    // While this page waits: the input image, a progress bar and the word that nothing
    // is lost by leaving.
    let wait = move || {
        let progress = offered
            .with(|o| o.as_ref().filter(|o| o.polling).map(|o| o.progress))?
            .map(|percent| percent.to_string());
        let picture = task.with(|t| t.as_ref().and_then(|t| t.record.thumbnail.clone()));
        Some(view! {
            <div class="ms-wait">
                {picture.map(|src| view! { <img class="ms-thumb" src=src alt="Your image" /> })}
                <div class="ms-wait-text">
                    <progress class="ms-progress" aria-label="Progress" max="100" value=progress></progress>
                    <p class="ms-hint">{move || leaving_note(is_consumer(), kept.get())}</p>
                </div>
            </div>
        })
    };
    // A site's visitor reads what happens in plain words, and no task token.
    let line = move || {
        if is_consumer() {
            let now = now.get() as u64;
            return task.with(|t| t.as_ref().map(|t| visitor_line(t, now)));
        }
        offered.with(|o| o.as_ref().map(|o| o.line.clone()))
    };
    let controls = move || {
        let (message, button) =
            offered.with(|o| o.as_ref().map(|o| (o.message.clone(), o.button)))?;
        if message.is_none() && button.is_none() {
            return None;
        }
        let message = message.map(|m| {
            let (class, role) = match m.tone {
                Tone::Hint => ("ms-hint", None),
                Tone::Note => ("ms-note", None),
                Tone::Alert => ("ms-alert", Some("alert")),
            };
            view! {
                <p class=class role=role>
                    {(!m.lead.is_empty()).then(|| view! { <strong>{m.lead}</strong> })}
                    {m.text}
                </p>
            }
        });
        let button = button.map(|b| view! {
            <button type="button" class="ms-button" on:click=move |_| on_action.run(b.action)>{b.label}</button>
        });
        Some(view! { <div class="ms-controls">{message} {button}</div> })
    };
    let offline = move || {
        let waiting = offered.with(|o| o.as_ref().is_some_and(|o| o.polling));
        offline_note(waiting, online.get())
            .map(|note| view! { <p class="ms-note ms-offline" role="status">{note}</p> })
    };
    let result = move || {
        let o = outcome.get()?;
        let expired = o
            .expired_note()
            .map(|note| view! { <p class="ms-note">{note}</p> });
        let body = match o.failure() {
            None => {
                let dropped = o.dropped_note().map(|note| view! {
                    <div class="ms-controls">
                        <p class="ms-note">{note}</p>
                        <button type="button" class="ms-button" on:click=move |_| on_action.run(Action::Resume)>"Fetch the shots again"</button>
                    </div>
                });
                view! {
                    {dropped}
                    <ShotPlayer outputs=o.outputs nsfw=o.nsfw inference_ms=o.inference_ms poster=o.poster relay=o.relay />
                }
                .into_any()
            }
            Some((lead, said)) => view! {
                <p class="ms-alert" role="alert">
                    <strong>{lead}</strong>
                    {said}
                </p>
            }
            .into_any(),
        };
        Some(view! { {expired} {body} })
    };
    view! {
        {id_row}
        <p class="ms-job-status" role="status" node_ref=status_line>{line}</p>
        {wait}
        {offline}
        {controls}
        {result}
    }
}
