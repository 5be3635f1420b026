//! Entry point: mounts the app. Everything else lives in the library.

fn main() {
    // A panic's message goes to the console (the default hook would print nowhere). Only
    // in debug builds: the release build aborts at once (scripts/build-release.sh), so no
    // hook would ever run there.
    #[cfg(debug_assertions)]
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&info.to_string().into());
    }));
    multishot_studio::mount();
    // The page is built and its handlers attached: `make bench` reads this mark.
    multishot_studio::browser::mark("multishot:interactive");
}
