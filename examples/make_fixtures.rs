//! Writes the test images of `tests/support/fixtures.rs` to a folder, with a
//! `manifest.json` of what each must do, for the end-to-end tests.
//!
//! `cargo run --example make_fixtures -- target/fixtures`

#[path = "../tests/support/fixtures.rs"]
mod fixtures;

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/fixtures".into()),
    );
    std::fs::create_dir_all(&dir)?;
    let mut manifest = String::from("[\n");
    let all = fixtures::catalogue();
    for (i, f) in all.iter().enumerate() {
        let bytes = (f.make)();
        std::fs::write(dir.join(f.name), &bytes)?;
        let broken: Vec<_> = f.broken.iter().map(|b| format!("\"{b}\"")).collect();
        let size = f.size.map_or("null".into(), |(w, h)| format!("[{w}, {h}]"));
        let _ = writeln!(
            manifest,
            "  {{\"name\": \"{}\", \"bytes\": {}, \"broken\": [{}], \"size\": {size}}}{}",
            f.name,
            bytes.len(),
            broken.join(", "),
            if i + 1 < all.len() { "," } else { "" }
        );
    }
    manifest.push_str("]\n");
    std::fs::write(dir.join("manifest.json"), manifest)?;
    println!("wrote {} fixtures to {}", all.len(), dir.display());
    Ok(())
}
