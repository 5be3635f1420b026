//! Waiting in the browser for any number of milliseconds: gloo-timers passes its delay
//! to `setTimeout` as a signed 32-bit number, so a wait of 2³¹ ms or more would fire at
//! once. [`sleep_ms`] runs it as the core says a timer can
//! ([`crate::core::job::timer_ms`]).

use gloo_timers::future::TimeoutFuture;

use crate::core::job::timer_ms;

/// Waits `ms` milliseconds (at most [`crate::core::job::LONGEST_TIMER_MS`], about 24.8
/// days).
pub async fn sleep_ms(ms: u64) {
    TimeoutFuture::new(timer_ms(ms)).await;
}

/// The browser's clock now, in milliseconds since the epoch (the clock every "now" of the
/// page's glue is read from).
pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}
