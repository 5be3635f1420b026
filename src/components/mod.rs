//! Leptos components. They wire signals to [`crate::core`] and [`crate::browser`] and
//! hold no rules of their own.

mod app;
mod generate_panel;
mod image_picker;
mod image_preview;
mod requirements;
mod validation_report;

pub use app::App;
pub use generate_panel::GeneratePanel;
pub use image_picker::ImagePicker;
pub use image_preview::ImagePreview;
pub use requirements::Requirements;
pub use validation_report::ValidationReport;
