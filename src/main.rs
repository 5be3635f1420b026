//! Entry point: mounts the app. Everything else lives in the library.

fn main() {
    // A panic's message goes to the console (the default hook would print nowhere). The
    // release build aborts at once instead (scripts/build-release.sh): no hook runs there.
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&info.to_string().into());
    }));
    // When the page is built and its handlers attached, `mount` sets the mark
    // "multishot:interactive" that `make bench` reads.
    multishot_studio::mount();
}
