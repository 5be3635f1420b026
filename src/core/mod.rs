//! The pure core: plain Rust with no browser types in any signature, tested natively.

pub mod assessment;
pub mod image_url;
pub mod rules;
pub mod sniff;
pub mod units;
