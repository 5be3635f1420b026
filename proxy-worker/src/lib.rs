//! `multishot-proxy` as a Cloudflare Worker. Nothing the proxy decides is here: the
//! routes, limits, money, tokens, bot check and sentences are `multishot-proxy`'s own
//! axum [`Router`](axum::Router), served as it is through workers-rs's `axum` feature.
//! What is here is the Worker's adapters:
//!
//! - [`entry`]: the fetch event — settings from the Worker's variables and secrets
//!   ([`multishot_proxy::config::from_vars`], the flags' variable names), the visitor's
//!   address from `CF-Connecting-IP`, the price asked every hour;
//! - [`counters`]: the Durable Object every counter lives in
//!   ([`multishot_proxy::limits::ops`]: the budget in one object, keyed counters spread
//!   over sixteen), saved to its storage after each change.
//!
//! Natively this library is empty; `src/bin/local.rs` is `run-local`'s launcher.

#[cfg(target_arch = "wasm32")]
pub mod counters;
#[cfg(target_arch = "wasm32")]
pub mod entry;
