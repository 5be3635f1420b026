//! `multishot-proxy`: the site owner's half of Multi-Shot Studio. It holds the owner's
//! WaveSpeed key and lets the public use exactly one thing — Kling V1 AI Multi-Shot —
//! within the owner's limits, at the paths the page already uses and one of its own:
//!
//! | path | what passes |
//! |---|---|
//! | `POST /api/v3/media/upload/binary` | a PNG/JPEG within the model's rules ([`multishot_rules`]) |
//! | `POST /api/v3/kwaivgi/kling-v1/ai-multi-shot` | `image` and `enable_base64_output`, once, after the price is reserved |
//! | `GET /api/v3/predictions/{token}/result` | tasks made here, by their signed [`token`] |
//! | `GET /api/v3/predictions/{token}/outputs/{n}` | a finished task's shot, from this origin, without the key |
//! | `GET /quota` | the price and this visitor's runs left (counters read, nothing taken) |
//!
//! Every other path is 404; every upstream URL is built here. Modules:
//! [`config`] (flags), [`origin`] (CORS allow-list), [`visitor`] (who a request is from),
//! [`filter`] (what passes), [`envelope`] (replies rewritten), [`token`] (signed ids),
//! [`limits`] (every counter, in memory, Redis or Durable Objects), [`money`] (shared with the page), [`clock`], [`metrics`],
//! [`log`], [`upstream`] (WaveSpeed), [`platform`] (what differs between the binary and
//! the Cloudflare Worker, `proxy-worker/`), [`app`] (shared state, CORS, the router),
//! [`routes`] (a file per route), [`refusal`] (a refused request: its answer, log line
//! and count), [`server`] (connections).

#![warn(missing_docs)]

pub mod app;
pub mod bot_check;
pub mod clock;
pub mod config;
pub mod envelope;
pub mod filter;
pub mod limits;
pub mod log;
pub mod metrics;
pub mod origin;
pub mod platform;
pub mod refusal;
pub mod reply;
pub mod routes;
#[cfg(not(target_arch = "wasm32"))]
pub mod server;
pub mod token;
pub mod upstream;
pub mod visitor;

/// Money as whole micro-dollars, shared with the page.
pub use multishot_rules::money;

#[cfg(not(target_arch = "wasm32"))]
pub use native_home::run;

/// The home with a server of its own: the store chosen by the flags, the price asked
/// every hour, connections served by [`server`].
#[cfg(not(target_arch = "wasm32"))]
mod native_home {
    use std::future::Future;
    use std::sync::Arc;

    use tokio::net::TcpListener;

    use crate::app::{self, Proxy, PRICE_REFRESH};
    use crate::config::Settings;
    use crate::limits::{memory::MemoryStore, redis::RedisStore, AnyStore};
    use crate::server;

    /// Builds the store, asks the price, and serves on `listener` until `shutdown`.
    pub async fn run(
        settings: Settings,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), String> {
        let store = match &settings.redis {
            Some(url) => AnyStore::Redis(
                RedisStore::connect(url, &settings.redis_prefix)
                    .await
                    .map_err(|e| format!("--redis: {e}"))?,
            ),
            None => AnyStore::Memory(MemoryStore::new()),
        };
        let proxy = Proxy::new(settings, store)?;
        proxy.refresh_price().await;
        let refresher = {
            let proxy = Arc::clone(&proxy);
            tokio::spawn(async move {
                let mut every = tokio::time::interval(PRICE_REFRESH);
                every.tick().await;
                loop {
                    every.tick().await;
                    proxy.refresh_price().await;
                }
            })
        };
        server::serve(listener, app::router(proxy), shutdown).await;
        refresher.abort();
        Ok(())
    }
}
