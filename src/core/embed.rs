//! The messages the app posts to its parent page when it runs in an iframe
//! (`index.html?embed=1`): job started, completed (with the output URLs), failed, and its
//! height so the frame can fit it. They go only to the origins listed in
//! `embed_parent_origins`.

use super::api::Status;
use super::history::{Record, ENTRY_PREFIX};
use super::json::Object;
use super::output::{classify, Output};

/// Every message carries `"source": SOURCE`, so a host page can tell them apart.
pub const SOURCE: &str = "multishot-studio";

/// One message for the parent page; `type` names the variant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmbedEvent {
    /// A task was created (the job is paid for from here on).
    Started {
        /// The task id.
        task_id: String,
    },
    /// The task completed.
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
    /// The app's content height (CSS pixels): sent when it changes, when the settings
    /// have said who may receive it, and when the host asks ([`HostMessage::AskHeight`]).
    Resized {
        /// The height.
        height: u32,
    },
    /// The frame has no storage of its own (a cross-site frame where the browser blocks
    /// third-party storage) and asks the host page for the history entries it keeps for
    /// it; `frame.js` answers with [`HostMessage::Kept`].
    StorageOpen,
    /// Keep history entry `name` (see [`crate::core::history::ENTRY_PREFIX`]) in the
    /// host page's storage.
    StorageSet {
        /// The entry's name.
        name: String,
        /// Its text.
        value: String,
    },
    /// Forget history entry `name`.
    StorageRemove {
        /// The entry's name.
        name: String,
    },
}

/// Every message from the host page's `frame.js` carries `"source": HOST_SOURCE`.
pub const HOST_SOURCE: &str = "multishot-host";

/// What the host page (its `frame.js`) sends the app in its frame. The app takes one
/// only from its parent window on an origin of `embed_parent_origins`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostMessage {
    /// Send the height again (a host that started listening late).
    AskHeight,
    /// The history entries the host keeps for the frame, in answer to
    /// [`EmbedEvent::StorageOpen`]; `None` when the host page has no storage either.
    Kept(Option<Vec<(String, String)>>),
    /// Another tab of the host page changed an entry (`None`: removed).
    Changed {
        /// The entry's name.
        name: String,
        /// Its new text.
        value: Option<String>,
    },
}

/// The app takes a host's message only from an origin of `embed_parent_origins` (never
/// from `null` or `*`, whatever the list says).
pub fn hears(origin: &str, origins: &[String]) -> bool {
    origin != "null" && origin != "*" && origins.iter().any(|o| o == origin)
}

/// How long a frame without storage of its own waits for the host page to say what it
/// keeps before it says nothing is kept (`frame.js` answers at once).
pub const HOST_ANSWER_MS: u32 = 1_500;

impl HostMessage {
    /// Reads a message from its JSON text. Anything else — another source, an unknown
    /// type, a field of the wrong kind, an entry that is not a history entry — is `None`.
    pub fn parse(json: &str) -> Option<Self> {
        use super::json::Json;
        let message = super::json::parse(json.as_bytes()).ok()?;
        if message.get("source")?.as_str()? != HOST_SOURCE {
            return None;
        }
        let entry = |name: &str| name.starts_with(ENTRY_PREFIX);
        match message.get("type")?.as_str()? {
            "height?" => Some(HostMessage::AskHeight),
            "storage" => match message.get("entries")? {
                Json::Null => Some(HostMessage::Kept(None)),
                Json::Object(entries) => Some(HostMessage::Kept(Some(
                    entries
                        .iter()
                        .filter(|(name, _)| entry(name))
                        .filter_map(|(name, value)| {
                            Some((name.clone(), value.as_str()?.to_owned()))
                        })
                        .collect(),
                ))),
                _ => None,
            },
            "storage-changed" => {
                let name = message.get("name")?.as_str()?;
                let value = match message.get("value")? {
                    Json::Null => None,
                    Json::String(value) => Some(value.clone()),
                    _ => return None,
                };
                entry(name).then(|| HostMessage::Changed {
                    name: name.to_owned(),
                    value,
                })
            }
            _ => None,
        }
    }
}

/// Where a job failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

impl Stage {
    /// How a message names it.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Upload => "upload",
            Stage::Submit => "submit",
            Stage::Poll => "poll",
            Stage::Task => "task",
        }
    }
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
        let message = |kind: &str| Object::new().str("source", SOURCE).str("type", kind);
        match self {
            EmbedEvent::Started { task_id } => message("job-started").str("task_id", task_id),
            EmbedEvent::Completed {
                task_id,
                outputs,
                inline_outputs,
            } => message("job-completed")
                .str("task_id", task_id)
                .strs("outputs", outputs)
                .num("inline_outputs", *inline_outputs as u64),
            EmbedEvent::Failed {
                task_id,
                stage,
                code,
                error,
            } => message("job-failed")
                .opt_str("task_id", task_id.as_deref())
                .str("stage", stage.name())
                .str("code", code)
                .str("error", error),
            EmbedEvent::Resized { height } => message("resize").num("height", u64::from(*height)),
            EmbedEvent::StorageOpen => message("storage-open"),
            EmbedEvent::StorageSet { name, value } => {
                message("storage-set").str("name", name).str("value", value)
            }
            EmbedEvent::StorageRemove { name } => message("storage-remove").str("name", name),
        }
        .end()
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
    fn the_host_is_heard_only_from_its_own_origins() {
        let origins = vec!["https://www.shop.example".to_owned(), "null".to_owned()];
        assert!(hears("https://www.shop.example", &origins));
        assert!(!hears("https://shop.example", &origins));
        assert!(!hears("https://www.shop.example.evil", &origins));
        assert!(!hears("null", &origins), "an opaque origin is nobody");
        assert!(!hears("https://www.shop.example", &[]));
    }

    #[test]
    fn the_host_is_heard_only_in_its_own_words() {
        let host = |rest: &str| format!(r#"{{"source":"multishot-host",{rest}}}"#);
        assert_eq!(
            HostMessage::parse(&host(r#""type":"height?""#)),
            Some(HostMessage::AskHeight)
        );
        assert_eq!(
            HostMessage::parse(&host(
                r#""type":"storage","entries":{"multishot.job.a":"{}","other":"x","multishot.job.b":3}"#
            )),
            Some(HostMessage::Kept(Some(vec![(
                "multishot.job.a".into(),
                "{}".into()
            )]))),
            "only history entries, only text"
        );
        assert_eq!(
            HostMessage::parse(&host(r#""type":"storage","entries":null"#)),
            Some(HostMessage::Kept(None))
        );
        assert_eq!(
            HostMessage::parse(&host(
                r#""type":"storage-changed","name":"multishot.job.a","value":null"#
            )),
            Some(HostMessage::Changed {
                name: "multishot.job.a".into(),
                value: None
            })
        );
        assert_eq!(
            HostMessage::parse(&host(
                r#""type":"storage-changed","name":"multishot.job.a","value":"v""#
            )),
            Some(HostMessage::Changed {
                name: "multishot.job.a".into(),
                value: Some("v".into())
            })
        );
        for refused in [
            r#"{"type":"height?"}"#.to_owned(),
            r#"{"source":"multishot-studio","type":"height?"}"#.to_owned(),
            host(r#""type":"resize""#),
            host(r#""type":"storage","entries":[]"#),
            host(r#""type":"storage-changed","name":"multishot.api_key","value":"k""#),
            host(r#""type":"storage-changed","name":"multishot.job.a","value":1"#),
            "not json".to_owned(),
            "null".to_owned(),
        ] {
            assert_eq!(HostMessage::parse(&refused), None, "{refused}");
        }
        let set = EmbedEvent::StorageSet {
            name: "multishot.job.a".into(),
            value: "{}".into(),
        };
        assert_eq!(
            set.to_json(),
            r#"{"source":"multishot-studio","type":"storage-set","name":"multishot.job.a","value":"{}"}"#
        );
        assert_eq!(
            EmbedEvent::StorageOpen.to_json(),
            r#"{"source":"multishot-studio","type":"storage-open"}"#
        );
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
