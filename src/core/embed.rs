//! The messages the app posts to its parent page when it runs in an iframe
//! (`index.html?embed=1`): job started, completed (with the output URLs), failed, and its
//! height so the frame can fit it. They go only to the origins listed in
//! `embed_parent_origins`.

use super::api::Status;
use super::history::Record;
use super::output::{classify, Output};

/// Every message carries `"source": SOURCE`, so a host page can tell them apart.
pub const SOURCE: &str = "multishot-studio";

/// One message for the parent page; `type` names the variant.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type")]
pub enum EmbedEvent {
    /// A task was created (the job is paid for from here on).
    #[serde(rename = "job-started")]
    Started {
        /// The task id.
        task_id: String,
    },
    /// The task completed.
    #[serde(rename = "job-completed")]
    Completed {
        /// The task id.
        task_id: String,
        /// The shots' web addresses, in order.
        outputs: Vec<String>,
        /// Shots that came back inline (base64) and have no address.
        inline_outputs: usize,
    },
    /// The job failed: before a task existed (no id), waiting for it stopped, or the
    /// task ended without shots.
    #[serde(rename = "job-failed")]
    Failed {
        /// The task id, when there is one.
        task_id: Option<String>,
        /// Where it failed.
        stage: Stage,
        /// What failed, for a program: [`crate::core::api::ApiError::code`] at the
        /// upload, submit and poll stages; the task's status (`failed`, `cancelled`,
        /// `timeout`, …) at the task stage.
        code: String,
        /// What went wrong, in words.
        error: String,
    },
    /// The app's content height changed (CSS pixels).
    #[serde(rename = "resize")]
    Resized {
        /// The new height.
        height: u32,
    },
}

/// Where a job failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Sending the local file to WaveSpeed's storage: nothing was created.
    Upload,
    /// Sending the job: no task was created, or (no reply) one may have been.
    Submit,
    /// Waiting for the task stopped on a failure retrying cannot fix; the task may
    /// still finish at WaveSpeed.
    Poll,
    /// The task itself ended without shots.
    Task,
}

impl EmbedEvent {
    /// The message for a task that just finished.
    pub fn finished(record: &Record) -> Self {
        let task_id = record.id.to_string();
        if record.status == Status::Completed {
            let mut outputs = Vec::new();
            let mut inline_outputs = record.outputs_dropped;
            for raw in &record.outputs {
                match classify(raw) {
                    Ok(Output::Remote { url, .. }) => outputs.push(url),
                    Ok(Output::Inline { .. }) => inline_outputs += 1,
                    Err(_) => {}
                }
            }
            EmbedEvent::Completed {
                task_id,
                outputs,
                inline_outputs,
            }
        } else {
            let reason = record.error.as_deref().unwrap_or("no reason was given");
            EmbedEvent::Failed {
                task_id: Some(task_id),
                stage: Stage::Task,
                code: record.status.as_str().to_owned(),
                error: format!("The task ended as “{}”: {reason}", record.status.as_str()),
            }
        }
    }

    /// The message as JSON text: `{"source":"multishot-studio","type":…, …}`.
    pub fn to_json(&self) -> String {
        let fields = serde_json::to_string(self).unwrap_or_default();
        // `{"type":…}` with the source put first.
        format!(
            "{{\"source\":\"{SOURCE}\",{}",
            fields.get(1..).unwrap_or("}")
        )
    }
}

/// The app's `data-face`, for the style: `full` on a page of its own, and in an embed
/// whose settings say it is not the consumer face; `loading` in an embed until its
/// settings have arrived (no developer control shows meanwhile); `consumer` for a site
/// owner's visitors.
pub fn face(compact: bool, settings_ready: bool, consumer: bool) -> &'static str {
    match (compact, settings_ready, consumer) {
        (false, _, _) => "full",
        (true, false, _) => "loading",
        (true, true, true) => "consumer",
        (true, true, false) => "full",
    }
}

/// An embed shows its example result (`example_outputs`) before anything is chosen or
/// shown under Generate.
pub fn shows_example(compact: bool, image_chosen: bool, generation_shown: bool) -> bool {
    compact && !image_chosen && !generation_shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_face_and_the_example_follow_the_host_and_the_settings() {
        assert_eq!(face(false, false, false), "full");
        assert_eq!(
            face(false, true, true),
            "full",
            "a page of its own is never the consumer face"
        );
        assert_eq!(face(true, false, true), "loading");
        assert_eq!(face(true, true, true), "consumer");
        assert_eq!(face(true, true, false), "full");
        assert!(shows_example(true, false, false));
        assert!(!shows_example(false, false, false));
        assert!(!shows_example(true, true, false));
        assert!(!shows_example(true, false, true));
    }
    use crate::core::api::TaskId;
    use serde_json::Value;

    fn record(status: Status, outputs: &[&str]) -> Record {
        let mut r = Record::new(
            TaskId::parse("t-9").unwrap(),
            crate::core::config::BaseUrl::parse("https://api.wavespeed.ai").unwrap(),
            false,
            0,
        );
        r.status = status;
        r.outputs = outputs.iter().map(|s| (*s).to_owned()).collect();
        r
    }

    #[test]
    fn a_completed_task_sends_its_web_addresses_only() {
        let r = record(
            Status::Completed,
            &[
                "https://cdn.example/1.mp4",
                "javascript:alert(1)",
                "data:video/mp4;base64,AAAAIGZ0eXBpc29t",
            ],
        );
        let event = EmbedEvent::finished(&r);
        assert_eq!(
            event,
            EmbedEvent::Completed {
                task_id: "t-9".into(),
                outputs: vec!["https://cdn.example/1.mp4".into()],
                inline_outputs: 1,
            }
        );
        let json: Value = serde_json::from_str(&event.to_json()).unwrap();
        assert_eq!(json["source"], SOURCE);
        assert_eq!(json["type"], "job-completed");
        assert_eq!(json["outputs"][0], "https://cdn.example/1.mp4");
    }

    #[test]
    fn a_failed_task_says_why() {
        let mut r = record(Status::Failed, &[]);
        r.error = Some("<b>bad</b>".into());
        let json: Value = serde_json::from_str(&EmbedEvent::finished(&r).to_json()).unwrap();
        assert_eq!(json["type"], "job-failed");
        assert_eq!(json["task_id"], "t-9");
        assert_eq!(json["error"], "The task ended as “failed”: <b>bad</b>");
        assert_eq!(
            (&json["stage"], &json["code"]),
            (&"task".into(), &"failed".into())
        );
        let before: Value = serde_json::from_str(
            &EmbedEvent::Failed {
                task_id: None,
                stage: Stage::Upload,
                code: "unauthorized".into(),
                error: "401".into(),
            }
            .to_json(),
        )
        .unwrap();
        assert_eq!(before["task_id"], Value::Null);
        assert_eq!(before["stage"], "upload");
        assert_eq!(before["code"], "unauthorized");
        assert_eq!(
            EmbedEvent::Resized { height: 812 }.to_json(),
            r#"{"source":"multishot-studio","type":"resize","height":812}"#
        );
    }
}
