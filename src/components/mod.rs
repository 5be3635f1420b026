//! Leptos components. They wire signals to [`crate::core`] and [`crate::browser`] and
//! hold no rules of their own.

mod app;
mod bot_check;
mod connection_settings;
mod copy_button;
mod film;
mod generate_panel;
mod history;
mod image_picker;
mod image_preview;
mod job_progress;
mod requirements;
mod shot_player;
mod task_view;
mod validation_report;

pub use app::{is_consumer, App, ConsumerFace};
pub use bot_check::{BotCheck, BotCheckState, TOKEN_EVENT};
pub use connection_settings::{ConnectionSettings, ConnectionState};
pub use copy_button::{copy_button, share_button};
pub use film::{FilmMaker, VideoMark};
pub use generate_panel::GeneratePanel;
pub use history::History;
pub use image_picker::{ImagePicker, Many};
pub use image_preview::ImagePreview;
pub use job_progress::JobProgress;
pub use requirements::Requirements;
pub use shot_player::ShotPlayer;
pub use task_view::TaskView;
pub use validation_report::ValidationReport;
