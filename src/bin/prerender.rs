//! Prints the app's first view as HTML (`prerender page` or `prerender frame`), for
//! `scripts/finish-dist.mjs` to put into `index.html`. Built natively with the
//! `prerender` feature; see `multishot_studio::prerender`.

use multishot_studio::core::config::Host;

fn main() {
    let host = match std::env::args().nth(1).as_deref() {
        Some("page") | None => Host::Page,
        Some("frame") => Host::Frame,
        Some(other) => {
            eprintln!("prerender: unknown host {other:?} (page or frame)");
            std::process::exit(2);
        }
    };
    println!("{}", multishot_studio::prerender::first_view(host));
}
