//! Shared by the browser tests (`tests/web.rs`) and the fixture writer
//! (`examples/make_fixtures.rs`).

pub mod fixtures;
