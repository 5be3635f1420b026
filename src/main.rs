//! Entry point: mounts the app. Everything else lives in the library.

fn main() {
    console_error_panic_hook::set_once();
    multishot_studio::mount();
    // The page is built and its handlers attached: `make bench` reads this mark.
    multishot_studio::browser::mark("multishot:interactive");
}
