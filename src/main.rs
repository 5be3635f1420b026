//! Entry point: mounts the app. Everything else lives in the library.

fn main() {
    // A panic's message goes to the console (the default hook would print nowhere). The
    // release build aborts at once instead (scripts/build-release.sh): no hook runs there.
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&info.to_string().into());
    }));
    multishot_studio::mount();
    // The page is built and its handlers attached: `make bench` reads this mark.
    multishot_studio::browser::mark("multishot:interactive");
}
