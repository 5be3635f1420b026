//! The Generate section's rules: what a press of Generate sends, when the button is
//! enabled and what its hint says, its label, and the words for a generation before its
//! task exists (uploading, sending, and each failure with what to do next). The
//! components show these; they decide none of it.

use super::assessment::{Assessment, Source, Step};
use super::config::UploadMode;
use super::connection::Connection;
use super::job::Run;
use super::jobs::{Generation, ImageToSend};

/// What the page has when Generate is pressed.
#[derive(Clone, Copy, Debug)]
pub struct Press<'a> {
    /// The chosen image's assessment.
    pub assessment: &'a Assessment,
    /// The chosen file is at hand (a file was chosen, not only described).
    pub file_at_hand: bool,
    /// The page shows a preview of the image (a thumbnail can be drawn from it).
    pub preview: bool,
    /// Where the job would go.
    pub connection: &'a Connection,
    /// "Send the image inline" is ticked.
    pub inline: bool,
    /// "Ask for the shots as base64" is ticked.
    pub base64: bool,
}

/// What a press of Generate sends: `None` when the image has not passed every rule, or
/// a chosen file is not at hand.
pub fn press(p: &Press) -> Option<Generation> {
    if !p.assessment.is_ready() {
        return None;
    }
    let image = match &p.assessment.source {
        Source::Url(url) => ImageToSend::Url(url.clone()),
        Source::File { .. } if p.file_at_hand => ImageToSend::File(if p.inline {
            UploadMode::Inline
        } else {
            UploadMode::Binary
        }),
        Source::File { .. } => return None,
    };
    Some(Generation {
        image,
        sent: p.connection.into(),
        base64: p.base64,
        thumbnail: p.preview,
    })
}

/// What the Generate button depends on.
#[derive(Clone, Debug)]
pub struct Panel {
    /// The chosen image's assessment, if an image is chosen.
    pub image: Option<Assessment>,
    /// Why the connection cannot send, if it cannot.
    pub connection_problem: Option<String>,
    /// A generation is under way.
    pub busy: bool,
    /// The money (or a proxy's runs) falls short of a run.
    pub short: bool,
}

impl Panel {
    /// Generate can be pressed: an image that passed every rule, a connection that can
    /// send it, nothing under way, and the money for a run.
    pub fn enabled(&self) -> bool {
        self.image.as_ref().is_some_and(Assessment::is_ready)
            && self.connection_problem.is_none()
            && !self.busy
            && !self.short
    }

    /// The line under the button: what is missing, or that the image is ready.
    pub fn hint(&self) -> String {
        if self.busy {
            return "A job is under way.".into();
        }
        let image = match &self.image {
            None => Some("Choose an image first: it is checked before anything is sent."),
            Some(a) if a.step != Step::Done => Some("Checking the image…"),
            Some(a) if a.is_ready() => None,
            Some(_) => Some("Fix the problems above, or choose another image."),
        };
        match (image, &self.connection_problem) {
            (Some(why), _) => why.into(),
            (None, Some(why)) => why.clone(),
            (None, None) if self.short => {
                "The image is ready; see above why it cannot be sent.".into()
            }
            (None, None) => "The image is ready.".into(),
        }
    }
}

/// The Generate button's label: once a result is shown, running the same image again
/// says its price (`None` for a site's visitor, who does not pay it).
pub fn button_label(has_result: bool, price: Option<&str>) -> String {
    match (has_result, price) {
        (true, Some(price)) => format!("Generate again ({price})"),
        (true, None) => "Generate again".to_owned(),
        (false, _) => "Generate".to_owned(),
    }
}

/// What a generation says before its task exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stage {
    /// A bold lead (empty for none).
    pub lead: &'static str,
    /// The sentence.
    pub text: String,
    /// A failure (an alert), rather than a status.
    pub alert: bool,
}

/// The words for `run` before its task exists; `None` once it does (the task view
/// speaks then).
pub fn stage(run: &Run) -> Option<Stage> {
    let status = |text: &str| Stage {
        lead: "",
        text: text.to_owned(),
        alert: false,
    };
    Some(match run {
        Run::Uploading => status("Uploading the image…"),
        Run::Submitting => status("Sending the job to WaveSpeed…"),
        Run::UploadFailed(error) => Stage {
            lead: "Upload failed: ",
            text: format!(
                "{error} Nothing was created or billed; your image is still here — press Generate to try again."
            ),
            alert: true,
        },
        Run::SubmitFailed {
            error,
            maybe_created,
        } => Stage {
            lead: "Could not start the job: ",
            text: format!(
                "{error}{}",
                if *maybe_created {
                    " The reply never arrived, so the task may exist at WaveSpeed (and be billed). It is not sent again by itself: check your WaveSpeed dashboard, and if it shows the task, paste its ID into “Look up a task” under History."
                } else {
                    " No task was created. Your image is still here — press Generate to try again."
                }
            ),
            alert: true,
        },
        Run::Created(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::api::ApiError;
    use crate::core::config::BaseUrl;
    use crate::core::sniff::test_headers::png_head;
    use crate::core::sniff::{sniff, Dimensions};

    fn ready_file() -> Assessment {
        Assessment::for_file("cat.png".into(), "image/png".into(), 1000)
            .with_head(&sniff(&png_head(800, 600)))
            .with_decoded(Some(Dimensions::new(800, 600)))
    }

    fn direct() -> Connection {
        Connection {
            base: BaseUrl::parse("https://api.wavespeed.ai").unwrap(),
            key: Some("sk".into()),
        }
    }

    fn pressed<'a>(assessment: &'a Assessment, connection: &'a Connection) -> Press<'a> {
        Press {
            assessment,
            file_at_hand: true,
            preview: true,
            connection,
            inline: false,
            base64: false,
        }
    }

    #[test]
    fn a_press_sends_a_ready_image_as_it_was_chosen() {
        let (file, connection) = (ready_file(), direct());
        let generation = press(&pressed(&file, &connection)).expect("ready");
        assert_eq!(generation.image, ImageToSend::File(UploadMode::Binary));
        assert!(!generation.sent.proxy && generation.thumbnail && !generation.base64);
        let inline = press(&Press {
            inline: true,
            base64: true,
            ..pressed(&file, &connection)
        })
        .expect("ready");
        assert_eq!(
            (inline.image, inline.base64),
            (ImageToSend::File(UploadMode::Inline), true)
        );
        // A described file that is not at hand, or an image not yet checked: nothing.
        let gone = Press {
            file_at_hand: false,
            ..pressed(&file, &connection)
        };
        assert_eq!(press(&gone), None);
        let unchecked = Assessment::for_file("cat.png".into(), "image/png".into(), 1000);
        assert_eq!(press(&pressed(&unchecked, &connection)), None);
        // Through a proxy: no key, sent to the proxy.
        let proxy = Connection {
            base: BaseUrl::parse("https://gen.example.com").unwrap(),
            key: None,
        };
        assert!(press(&pressed(&file, &proxy)).expect("ready").sent.proxy);
    }

    #[test]
    fn the_button_says_what_is_missing_first() {
        let file = Some(ready_file());
        let panel = |image: &Option<Assessment>, problem: Option<&str>, busy, short| Panel {
            image: image.clone(),
            connection_problem: problem.map(str::to_owned),
            busy,
            short,
        };
        let checking = Some(Assessment::for_file("a.png".into(), "image/png".into(), 1));
        let cases = [
            (
                panel(&None, None, false, false),
                false,
                "Choose an image first",
            ),
            (
                panel(&checking, None, false, false),
                false,
                "Checking the image…",
            ),
            (
                panel(&file, Some("Enter your key."), false, false),
                false,
                "Enter your key.",
            ),
            (
                panel(&file, None, true, false),
                false,
                "A job is under way.",
            ),
            (
                panel(&file, None, false, true),
                false,
                "The image is ready; see above",
            ),
            (
                panel(&file, None, false, false),
                true,
                "The image is ready.",
            ),
        ];
        for (p, enabled, hint) in cases {
            assert_eq!(p.enabled(), enabled, "{hint}");
            assert!(p.hint().starts_with(hint), "{} / {hint}", p.hint());
        }
        assert_eq!(button_label(false, Some("$0.07")), "Generate");
        assert_eq!(button_label(true, Some("$0.07")), "Generate again ($0.07)");
        // A site's visitor is not told the price (the site pays).
        assert_eq!(button_label(true, None), "Generate again");
    }

    #[test]
    fn each_stage_before_a_task_says_what_to_do() {
        assert_eq!(stage(&Run::Uploading).unwrap().text, "Uploading the image…");
        let failed = stage(&Run::UploadFailed(ApiError::TimedOut)).unwrap();
        assert!(failed.alert && failed.text.contains("Nothing was created or billed"));
        let maybe = stage(&Run::submit_failed(ApiError::TimedOut)).unwrap();
        assert!(
            maybe.text.contains("may exist at WaveSpeed"),
            "{}",
            maybe.text
        );
        let refused = stage(&Run::submit_failed(ApiError::Rejected {
            status: 400,
            message: "bad".into(),
        }))
        .unwrap();
        assert!(refused.text.contains("No task was created"));
        assert_eq!(
            stage(&Run::Created(crate::core::api::TaskId::parse("t").unwrap())),
            None
        );
    }
}
