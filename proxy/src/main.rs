//! `multishot-proxy`: see the library's documentation and docs/proxy.md.

use clap::Parser;
use multishot_proxy::config::{Flags, Settings};
use multishot_proxy::log::{self, Redactor};
use tracing::info;

/// mimalloc instead of the system allocator: per-thread heaps, no arena lock between the
/// runtime's threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

#[tokio::main]
async fn main() {
    let flags = Flags::parse();
    let settings = match Settings::from_flags(
        flags,
        std::env::var("WAVESPEED_API_KEY").ok(),
        std::env::var("MULTISHOT_TOKEN_SECRET").ok(),
    ) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("multishot-proxy: {e}");
            std::process::exit(2);
        }
    };
    log::init(Redactor::new(settings.secrets.clone()));
    let listener = match tokio::net::TcpListener::bind(settings.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("multishot-proxy: cannot listen on {}: {e}", settings.listen);
            std::process::exit(1);
        }
    };
    let address = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    info!(
        listen = %address,
        upstream = %settings.upstream,
        origins = %settings.origins.iter().map(|o| o.as_str()).collect::<Vec<_>>().join(" "),
        daily_budget = %settings.day_cap,
        monthly_budget = %settings.month_cap,
        store = if settings.redis.is_some() { "redis" } else { "memory" },
        paused = settings.paused,
        "multishot-proxy starting"
    );
    // The first line on standard error, for scripts and tests that start it on port 0.
    eprintln!("listening on http://{address}");
    if let Err(e) = multishot_proxy::run(settings, listener, shutdown_signal()).await {
        eprintln!("multishot-proxy: {e}");
        std::process::exit(1);
    }
}
