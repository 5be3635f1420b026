//! The fake WaveSpeed as a program: the browser tests, the SDK check and `make serve`
//! start it.
//!
//! ```text
//! fake-wavespeed [--port N] [--key KEY | --proxy | --sandbox] [--media DIR]
//!                [--sandbox-proxy URL] [--no-log] [--image-shots]
//! ```
//! `--key KEY`: direct mode, every API call must carry `Authorization: Bearer KEY`.
//! `--proxy`: stands for a site owner's proxy (it holds the key): no key needed.
//! `--sandbox`: like `--proxy`, and serves `/__sandbox/config.json` for `make serve`.
//! `--sandbox-proxy URL`: serve `/__sandbox/config.json` (in any mode) with this
//! `proxy_url` — `make serve` points it at `multishot-proxy` in front of the fake.
//! `--no-log`: keep no request log (for benchmarks).
//! `--image-shots`: completed tasks give three still images (JPEGs of real photos), as
//! the model most likely does — `make serve`'s default; without it, three short videos
//! (a test's scenario may ask for either: `shots_kind`).
//! The first line printed is `listening on http://127.0.0.1:PORT`.

use std::path::PathBuf;

use fake_wavespeed::{serve, Mode, Options};

fn usage(problem: &str) -> ! {
    eprintln!("{problem}; see the source's header for usage");
    std::process::exit(2);
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mut port = 0u16;
    let mut options = Options::default();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                port = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or_else(|| usage("--port takes a number"))
            }
            "--key" => {
                options.mode = Mode::Direct;
                options.key = Some(args.next().unwrap_or_else(|| usage("--key takes a key")));
            }
            "--proxy" => options.mode = Mode::Proxy,
            "--sandbox" => options.mode = Mode::Sandbox,
            "--sandbox-proxy" => options.sandbox_proxy = args.next(),
            "--no-log" => options.no_log = true,
            "--image-shots" => options.image_shots = true,
            "--media" => {
                options.media = PathBuf::from(
                    args.next()
                        .unwrap_or_else(|| usage("--media takes a folder")),
                )
            }
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(1);
        }
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(port);
    println!("listening on http://127.0.0.1:{port}");
    if let Err(e) = serve(listener, options).await {
        eprintln!("the fake stopped: {e}");
        std::process::exit(1);
    }
}
