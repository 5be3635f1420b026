//! Keeps [`Funds`] current for the connection in use: asked once the connection has
//! settled for a moment (a key being typed is not sent at every keystroke), asked again
//! when a run is over (its task finished, or the generation ended without one), and
//! forgotten the moment the connection changes (one key's balance is never shown for
//! another). Nothing is stored.

use futures::future::{abortable, join, AbortHandle};
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::api_client::{balance, price, quota, Connection};
use crate::core::funds::{Funds, Lookup};

/// How long a connection must stay the same before it is asked about.
pub const SETTLE_MS: u32 = 500;

/// The funds of `connection`, kept current: asked [`SETTLE_MS`] after it changes, and
/// again when `settled` turns true (a run is over: [`JobsState::is_settled`]). A
/// look-up still under way when the connection changes is aborted.
///
/// [`JobsState::is_settled`]: crate::core::jobs::JobsState::is_settled
pub fn watch_funds(
    connection: Signal<Result<Connection, String>>,
    settled: Signal<bool>,
) -> ReadSignal<Funds> {
    let (funds, set_funds) = signal(Funds::Unknown);
    let pending = StoredValue::new(None::<AbortHandle>);
    let ask = move |delay_ms: u32| {
        if let Some(earlier) = pending.get_value() {
            earlier.abort();
        }
        let Ok(connection) = connection.get_untracked() else {
            return;
        };
        let (lookup, handle) = abortable(async move {
            TimeoutFuture::new(delay_ms).await;
            let found = if connection.key.is_some() {
                let (price, balance) = join(price(&connection), balance(&connection)).await;
                Funds::Direct {
                    price: Lookup::from_result(price),
                    balance: Lookup::from_result(balance),
                }
            } else {
                Funds::Proxy(Lookup::from_result(quota(&connection).await))
            };
            // The page may be gone by now.
            set_funds.try_set(found);
        });
        pending.set_value(Some(handle));
        spawn_local(async move {
            let _ = lookup.await;
        });
    };
    Effect::watch(
        move || connection.get(),
        move |now, before, _| {
            if before == Some(now) {
                return;
            }
            // What was known belongs to the connection before.
            set_funds.set(match now {
                Ok(c) if c.key.is_some() => Funds::Direct {
                    price: Lookup::Asking,
                    balance: Lookup::Asking,
                },
                Ok(_) => Funds::Proxy(Lookup::Asking),
                Err(_) => Funds::Unknown,
            });
            ask(SETTLE_MS);
        },
        true,
    );
    // A run is over: its price is spent (or refunded), a quota used.
    Effect::watch(
        move || settled.get(),
        move |now, before, _| {
            if *now && before == Some(&false) {
                ask(0);
            }
        },
        false,
    );
    on_cleanup(move || {
        if let Some(pending) = pending.try_get_value().flatten() {
            pending.abort();
        }
    });
    funds
}
