//! The build-time render of the first view (`--features prerender`, run by `make
//! test-native`): the app's own components give the markup index.html paints before
//! the wasm, with nothing of the browser touched.

use multishot_studio::core::config::Host;
use multishot_studio::prerender::first_view;

#[test]
fn the_page_first_view_is_the_apps_whole_first_view() {
    let html = first_view(Host::Page);
    assert!(
        html.starts_with("<div ") && html.ends_with("</div>"),
        "one root"
    );
    assert!(html.contains(r#"data-face="full""#));
    for part in [
        "<h1>One photo in",
        r#"<input id="ms-image-file" type="file" accept="image/png,image/jpeg""#,
        "Choose image file…",
        r#"id="ms-api-key""#,
        r#"id="ms-proxy-url""#,
        "What images work",
        "No jobs yet.",
        "$0.07 per generation",
    ] {
        assert!(
            html.contains(part),
            "{part:?} missing from the page's first view"
        );
    }
    // Generate waits for an image, and nothing remembered or loaded is in it.
    assert!(html.contains(r#"disabled class="ms-button ms-primary">Generate"#));
    assert!(!html.contains("ms-config-problems") && !html.contains("Sandbox"));
}

#[test]
fn the_frame_first_view_is_compact_and_shows_no_developer_face_yet() {
    let html = first_view(Host::Frame);
    assert!(html.contains(r#"data-face="loading""#));
    assert!(html.contains("ms-compact") && !html.contains("ms-page"));
    assert!(!html.contains("<h1>") && !html.contains("What images work"));
    assert!(html.contains("ms-rules-line") && html.contains("Choose image file…"));
}

#[test]
fn rendering_twice_gives_the_same_markup() {
    assert_eq!(first_view(Host::Page), first_view(Host::Page));
}
