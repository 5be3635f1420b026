//! WaveSpeed's replies as a visitor receives them: the same envelope the page already
//! understands (`{"code":200,"message":"success","data":{…}}`), with the task id
//! replaced by a signed token, `urls` (which name WaveSpeed's own host, and would lead a
//! client around the proxy) removed, and an upload reply cut down to its documented
//! fields.

use std::collections::BTreeMap;

use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

/// Why an upstream reply cannot be passed on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// Not JSON, or not an object with a `data` object.
    #[error("WaveSpeed's reply is not the documented envelope")]
    NotEnvelope,
    /// A 200 whose `code` is not 200: an error in the body.
    #[error("WaveSpeed answered with code {code}: {message}")]
    Refused {
        /// The envelope's `code`.
        code: i64,
        /// The envelope's `message`.
        message: String,
    },
    /// The task id is not one WaveSpeed gives (see [`multishot_rules::task_id::is_task_id`]).
    #[error("WaveSpeed's reply has no usable task id")]
    BadTaskId,
}

/// A JSON object.
type Object = Map<String, Value>;

/// The envelope and its `data`, checking `code` (when present) is 200.
fn data_of(body: &[u8]) -> Result<(Object, Object), EnvelopeError> {
    let Ok(Value::Object(envelope)) = serde_json::from_slice::<Value>(body) else {
        return Err(EnvelopeError::NotEnvelope);
    };
    if let Some(code) = envelope.get("code") {
        let code = code.as_i64().ok_or(EnvelopeError::NotEnvelope)?;
        if code != 200 {
            let message = envelope
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .chars()
                .take(300)
                .collect();
            return Err(EnvelopeError::Refused { code, message });
        }
    }
    let Some(Value::Object(data)) = envelope.get("data") else {
        return Err(EnvelopeError::NotEnvelope);
    };
    Ok((envelope.clone(), data.clone()))
}

/// An object whose members are kept as the JSON text they came as.
type RawObject = BTreeMap<String, Box<RawValue>>;

/// A prediction (submit or poll reply) with its id. Only the envelope's and `data`'s
/// members are split; their values (outputs can be megabytes of base64) are passed on as
/// the text they came as, never parsed into a tree.
#[derive(Debug)]
pub struct Prediction {
    /// WaveSpeed's task id.
    pub id: String,
    /// `data.status` as sent (empty when missing).
    pub status: String,
    envelope: RawObject,
    data: RawObject,
}

fn string_member(object: &RawObject, key: &str) -> Option<String> {
    serde_json::from_str::<String>(object.get(key)?.get()).ok()
}

impl Prediction {
    /// Reads a submit or poll reply.
    pub fn parse(body: &[u8]) -> Result<Prediction, EnvelopeError> {
        let envelope: RawObject =
            serde_json::from_slice(body).map_err(|_| EnvelopeError::NotEnvelope)?;
        if let Some(code) = envelope.get("code") {
            let code: i64 =
                serde_json::from_str(code.get()).map_err(|_| EnvelopeError::NotEnvelope)?;
            if code != 200 {
                let message = string_member(&envelope, "message")
                    .unwrap_or_default()
                    .chars()
                    .take(300)
                    .collect();
                return Err(EnvelopeError::Refused { code, message });
            }
        }
        let data: RawObject = envelope
            .get("data")
            .and_then(|d| serde_json::from_str(d.get()).ok())
            .ok_or(EnvelopeError::NotEnvelope)?;
        let id = string_member(&data, "id")
            .filter(|id| multishot_rules::task_id::is_task_id(id))
            .ok_or(EnvelopeError::BadTaskId)?;
        let status = string_member(&data, "status").unwrap_or_default();
        Ok(Prediction {
            id,
            status,
            envelope,
            data,
        })
    }

    /// The envelope for the visitor, as JSON text: `data.id` is `token`, `data.urls` is
    /// gone, every other member as WaveSpeed sent it.
    pub fn reply(mut self, token: &str) -> String {
        if let Ok(id) = serde_json::value::to_raw_value(token) {
            self.data.insert("id".into(), id);
        }
        self.data.remove("urls");
        if let Ok(data) = serde_json::value::to_raw_value(&self.data) {
            self.envelope.insert("data".into(), data);
        }
        serde_json::to_string(&self.envelope).unwrap_or_default()
    }

    /// The web address of output `n` (1-based) of a completed task: an `https` address,
    /// or `http` when `allow_http` (a local upstream). `None` for anything else — a task
    /// not completed, no such output, an inline (base64) output, another scheme.
    pub fn output_address(&self, n: usize, allow_http: bool) -> Option<String> {
        if self.status != "completed" || n == 0 {
            return None;
        }
        let raw = self.data.get("outputs")?.get();
        let outputs: Vec<String> = serde_json::from_str::<Vec<String>>(raw)
            .or_else(|_| serde_json::from_str::<String>(raw).map(|one| vec![one]))
            .ok()?;
        let url = outputs.into_iter().nth(n - 1)?.trim().to_owned();
        let scheme_ok = url.starts_with("https://") || (allow_http && url.starts_with("http://"));
        let clean = !url.chars().any(|c| c.is_whitespace() || c.is_control());
        (scheme_ok && clean && url.len() <= 2048).then_some(url)
    }

    /// How many outputs the task gave (a list, or one as a string).
    pub fn output_count(&self) -> usize {
        let Some(raw) = self.data.get("outputs") else {
            return 0;
        };
        serde_json::from_str::<Vec<serde::de::IgnoredAny>>(raw.get())
            .map(|all| all.len())
            .or_else(|_| serde_json::from_str::<String>(raw.get()).map(|_| 1))
            .unwrap_or(0)
    }

    /// The task has ended and will not change again.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self.status.as_str(),
            "completed" | "failed" | "cancelled" | "timeout" | "deleted"
        )
    }
}

/// An upload reply for the visitor: `type`, `download_url` (an http(s) address),
/// `filename` and `size` only.
pub fn upload_reply(body: &[u8]) -> Result<Value, EnvelopeError> {
    let (_, data) = data_of(body)?;
    let url = data
        .get("download_url")
        .and_then(Value::as_str)
        .filter(|u| crate::filter::is_web_address(u))
        .ok_or(EnvelopeError::NotEnvelope)?;
    let mut clean = Map::new();
    clean.insert("download_url".into(), json!(url));
    for key in ["type", "filename", "size"] {
        if let Some(value) = data.get(key).filter(|v| v.is_string() || v.is_number()) {
            clean.insert(key.into(), value.clone());
        }
    }
    Ok(json!({"code": 200, "message": "success", "data": clean}))
}

/// The price of one run from a pricing reply, as the JSON number's own text (so it can
/// be read exactly, see [`crate::money::Micros::from_json_number`]).
pub fn unit_price(body: &[u8]) -> Result<String, EnvelopeError> {
    let (_, data) = data_of(body)?;
    match data.get("unit_price") {
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(EnvelopeError::NotEnvelope),
    }
}

/// The message of an error body — `message`, `error` or `detail` of a JSON body, else
/// the text — clipped to 300 characters, for logs and for errors a visitor can act on.
pub fn error_message(body: &[u8]) -> String {
    let text = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|json| {
            ["message", "error", "detail"]
                .iter()
                .find_map(|k| json.get(*k).and_then(Value::as_str).map(str::to_owned))
        })
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let text = text.trim();
    if text.is_empty() {
        return "no details given".into();
    }
    text.chars().filter(|c| !c.is_control()).take(300).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_shots_of_a_task_are_counted_as_the_page_counts_them() {
        let count = |outputs: &str| {
            Prediction::parse(
                format!(r#"{{"code":200,"data":{{"id":"abc","status":"completed","outputs":{outputs}}}}}"#)
                    .as_bytes(),
            )
            .map(|p| p.output_count())
        };
        assert_eq!(
            count(r#"["https://a/1.mp4","https://a/2.mp4","data:x"]"#),
            Ok(3)
        );
        assert_eq!(count(r#""https://a/1.mp4""#), Ok(1));
        assert_eq!(count("[]"), Ok(0));
        assert_eq!(count("null"), Ok(0));
        assert_eq!(count("{}"), Ok(0));
    }

    #[test]
    fn an_output_address_is_a_web_address_of_a_completed_task_and_nothing_else() {
        let reply = |status: &str, outputs: &str| {
            Prediction::parse(
                format!(r#"{{"code":200,"data":{{"id":"abc","status":"{status}","outputs":{outputs}}}}}"#)
                    .as_bytes(),
            )
            .unwrap()
        };
        let done = reply(
            "completed",
            r#"["https://cdn.example/1.mp4","http://127.0.0.1:9/2.mp4","AAAA","javascript:alert(1)","https://cdn.example/a b.mp4"]"#,
        );
        assert_eq!(
            done.output_address(1, false).as_deref(),
            Some("https://cdn.example/1.mp4")
        );
        assert_eq!(
            done.output_address(2, false),
            None,
            "http only for a local upstream"
        );
        assert_eq!(
            done.output_address(2, true).as_deref(),
            Some("http://127.0.0.1:9/2.mp4")
        );
        for n in [0, 3, 4, 5, 6] {
            assert_eq!(done.output_address(n, true), None, "output {n}");
        }
        // One output as a string; a task still running has none.
        assert!(reply("completed", r#""https://cdn.example/1.mp4""#)
            .output_address(1, false)
            .is_some());
        assert_eq!(
            reply("processing", r#"["https://cdn.example/1.mp4"]"#).output_address(1, false),
            None
        );
    }

    use super::*;

    const ID: &str = "45a96667279e4a2f83cfe131566d4923";

    fn submit_reply() -> Vec<u8> {
        json!({"code":200,"message":"success","data":{"id":ID,"model":"kwaivgi/kling-v1/ai-multi-shot",
            "outputs":[],"urls":{"get":format!("https://api.wavespeed.ai/api/v3/predictions/{ID}/result")},
            "has_nsfw_contents":[],"status":"created","created_at":"2023-04-01T12:34:56.789Z","error":"",
            "timings":{"inference":0}}})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn the_id_becomes_the_token_and_urls_go() {
        let prediction = Prediction::parse(&submit_reply()).expect("the documented reply");
        assert_eq!(prediction.id, ID);
        assert_eq!(prediction.status, "created");
        assert!(!prediction.is_terminal());
        let reply: Value = serde_json::from_str(&prediction.reply("v1.token")).expect("JSON");
        assert_eq!(reply["data"]["id"], "v1.token");
        assert!(reply["data"].get("urls").is_none());
        assert!(!reply.to_string().contains(ID));
        assert_eq!(reply["code"], 200);
        assert_eq!(reply["data"]["model"], "kwaivgi/kling-v1/ai-multi-shot");
    }

    #[test]
    fn errors_in_a_200_and_bad_replies_are_caught() {
        assert_eq!(
            Prediction::parse(br#"{"code":402,"message":"Insufficient balance"}"#).err(),
            Some(EnvelopeError::Refused {
                code: 402,
                message: "Insufficient balance".into()
            })
        );
        assert_eq!(
            Prediction::parse(b"<html>").err(),
            Some(EnvelopeError::NotEnvelope)
        );
        assert_eq!(
            Prediction::parse(br#"{"code":200,"data":{"id":"../../balance"}}"#).err(),
            Some(EnvelopeError::BadTaskId)
        );
        assert_eq!(
            Prediction::parse(br#"{"code":200,"data":{}}"#).err(),
            Some(EnvelopeError::BadTaskId)
        );
    }

    #[test]
    fn terminal_statuses() {
        for (status, terminal) in [
            ("created", false),
            ("processing", false),
            ("queued", false),
            ("completed", true),
            ("failed", true),
            ("cancelled", true),
            ("timeout", true),
            ("deleted", true),
        ] {
            let body = json!({"code":200,"data":{"id":ID,"status":status}}).to_string();
            let prediction = Prediction::parse(body.as_bytes()).expect("a prediction");
            assert_eq!(prediction.is_terminal(), terminal, "{status}");
        }
    }

    #[test]
    fn upload_replies_keep_their_documented_fields() {
        let body = json!({"code":200,"message":"success","data":{"type":"image",
            "download_url":"https://cdn.example/x.png","filename":"x.png","size":123,
            "internal":"secret","owner":"acct_1"}});
        let reply = upload_reply(body.to_string().as_bytes()).expect("an upload reply");
        assert_eq!(
            reply,
            json!({"code":200,"message":"success","data":{"type":"image",
                "download_url":"https://cdn.example/x.png","filename":"x.png","size":123}})
        );
        let bad = json!({"code":200,"data":{"download_url":"javascript:alert(1)"}});
        assert!(upload_reply(bad.to_string().as_bytes()).is_err());
    }

    #[test]
    fn prices_keep_their_digits() {
        let body = br#"{"code":200,"message":"success","data":{"model_id":"m","unit_price":0.07,"currency":"USD"}}"#;
        assert_eq!(unit_price(body), Ok("0.07".into()));
        assert!(unit_price(br#"{"code":200,"data":{}}"#).is_err());
    }
}
