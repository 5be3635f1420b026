//! The WaveSpeed contract for Kling V1 AI Multi-Shot (see `shared/wavespeed-api.md`):
//! paths built from a base and a task id, the request body, the response envelope in
//! every known shape, and one error type that says what a person should do next.

use std::fmt;

use super::json::{self, Json};

use super::web_address::after_web_scheme;

/// The model's submit path.
pub const SUBMIT_PATH: &str = "/api/v3/kwaivgi/kling-v1/ai-multi-shot";
/// The binary upload path (multipart field `file`).
pub const UPLOAD_BINARY_PATH: &str = "/api/v3/media/upload/binary";
/// The model's id as the API names it.
pub const MODEL_ID: &str = "kwaivgi/kling-v1/ai-multi-shot";

/// A task id as WaveSpeed gives it, checked so that it can only ever name a path segment
/// under `/api/v3/predictions/` (no `/`, `?`, `#`, `..`, spaces).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(String);

impl TaskId {
    /// The longest WaveSpeed task id accepted (a proxy's token around one is longer).
    pub const MAX_LEN: usize = multishot_rules::task_id::MAX_ID_LEN;

    /// Accepts what [`multishot_rules::task_id::is_task_ref`] accepts: a task id (1 to
    /// [`TaskId::MAX_LEN`] letters, digits, `-`, `_` and `.`, not `.` or `..` alone), or
    /// a site owner's proxy's token around one — the rule the proxy signs by.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        if multishot_rules::task_id::is_task_ref(raw) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ApiError::BadResponse(format!(
                "the task id “{}” is not one WaveSpeed would give",
                raw.chars().take(40).collect::<String>()
            )))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TaskId {
    type Error = ApiError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<TaskId> for String {
    fn from(id: TaskId) -> Self {
        id.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `{base}{path}` with exactly one `/` between them.
pub fn join(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// The result URL for a task, built from the configured base (never from `urls.get`,
/// which names WaveSpeed's own host and would bypass a proxy).
pub fn result_url(base: &str, id: &TaskId) -> String {
    join(base, &format!("/api/v3/predictions/{}/result", id.as_str()))
}

/// Where `multishot-proxy` passes on output `n` (from 1) of a finished task from its
/// own origin (for a page that may not read WaveSpeed's output server): the prefix, to
/// which the shot's number is added.
pub fn output_relay_prefix(proxy_base: &str, id: &TaskId) -> String {
    join(
        proxy_base,
        &format!("/api/v3/predictions/{}/outputs/", id.as_str()),
    )
}

/// The submit body: exactly the documented fields (unknown ones are dropped by the
/// server and still billed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubmitRequest {
    /// An `https:` URL or a `data:image/...;base64,` URI.
    pub image: String,
    /// Ask for outputs as base64 instead of URLs.
    pub enable_base64_output: bool,
}

impl SubmitRequest {
    /// The JSON body.
    pub fn to_json(&self) -> String {
        json::Object::new()
            .str("image", &self.image)
            .bool("enable_base64_output", self.enable_base64_output)
            .end()
    }
}

/// A task's status as the API names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// Accepted, not started.
    Created,
    /// Running.
    Processing,
    /// Finished with outputs.
    Completed,
    /// Finished without outputs; `error` says why (refunded by WaveSpeed).
    Failed,
    /// Cancelled on the server.
    Cancelled,
    /// Timed out on the server.
    Timeout,
    /// Deleted on the server.
    Deleted,
    /// A status this client does not know: shown as it is, and polling goes on.
    Other(String),
}

impl From<String> for Status {
    fn from(raw: String) -> Self {
        match raw.as_str() {
            "created" => Status::Created,
            "processing" => Status::Processing,
            "completed" => Status::Completed,
            "failed" => Status::Failed,
            "cancelled" | "canceled" => Status::Cancelled,
            "timeout" => Status::Timeout,
            "deleted" => Status::Deleted,
            _ => Status::Other(raw),
        }
    }
}

impl From<Status> for String {
    fn from(status: Status) -> Self {
        status.as_str().to_owned()
    }
}

impl Status {
    /// The name the API uses.
    pub fn as_str(&self) -> &str {
        match self {
            Status::Created => "created",
            Status::Processing => "processing",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
            Status::Timeout => "timeout",
            Status::Deleted => "deleted",
            Status::Other(raw) => raw,
        }
    }

    /// No further change will come: stop polling.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Status::Completed
                | Status::Failed
                | Status::Cancelled
                | Status::Timeout
                | Status::Deleted
        )
    }
}

/// A prediction as the API reports it (submit reply and poll reply alike).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prediction {
    /// The task id.
    pub id: TaskId,
    /// Where the task is.
    pub status: Status,
    /// One entry per shot: a URL, a data URI or raw base64 (see [`crate::core::output`]).
    pub outputs: Vec<String>,
    /// Parallel to `outputs`: the shot was flagged as NSFW.
    pub has_nsfw_contents: Vec<bool>,
    /// The server's error text, if any (shown as text, never as markup).
    pub error: Option<String>,
    /// Inference time in milliseconds, when reported.
    pub inference_ms: Option<u64>,
    /// When the task was created (ISO 8601 as sent).
    pub created_at: Option<String>,
}

impl Prediction {
    /// The reply is about task `id`; a reply about another task is a bad reply (a
    /// server, or a proxy, that mixed tasks up): nothing of it is taken.
    pub fn is_about(&self, id: &TaskId) -> Result<(), ApiError> {
        if &self.id == id {
            Ok(())
        } else {
            Err(ApiError::BadResponse(
                "the reply is about another task".into(),
            ))
        }
    }
}

/// What went wrong talking to WaveSpeed (or a proxy), and so what to do next.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// No reply: offline, DNS, CORS refused, connection reset.
    #[error("Could not reach the server ({0}). Check your connection.")]
    Network(String),
    /// No reply in time.
    #[error("The server did not answer in time.")]
    TimedOut,
    /// 401: the key is missing or wrong.
    #[error("WaveSpeed refused the API key (401): {0}. Check the key and try again.")]
    Unauthorized(String),
    /// 403: the key lacks a permission.
    #[error("WaveSpeed says this key may not do that (403): {0}.")]
    Forbidden(String),
    /// 429: over the account's rate.
    #[error("Too many requests (429): {message}.")]
    RateLimited {
        /// Seconds to wait, from `Retry-After`, when sent.
        retry_after_s: Option<u32>,
        /// The server's message.
        message: String,
    },
    /// 5xx: trouble on the server.
    #[error("WaveSpeed had a problem (HTTP {status}): {message}.")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// Another 4xx: the request was refused.
    #[error("WaveSpeed refused the request (HTTP {status}): {message}.")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// HTTP 200 whose envelope carries `code != 200`.
    #[error("WaveSpeed answered with an error (code {code}): {message}.")]
    Refused {
        /// The envelope's code.
        code: i64,
        /// The envelope's message.
        message: String,
    },
    /// A reply that is not the documented envelope (bad JSON, missing fields).
    #[error("The server's reply could not be understood: {0}.")]
    BadResponse(String),
    /// A refusal written by the site owner's proxy (`multishot-proxy`): its body names a
    /// machine-readable `reason` beside the `message`, which is shown as it is ("This
    /// site's daily budget is used up; it resets at 00:00 UTC.").
    #[error("{message}")]
    Proxy {
        /// The HTTP status.
        status: u16,
        /// The proxy's reason code (`daily_budget`, `run_rate`, `origin`, …).
        reason: String,
        /// The proxy's sentence for the visitor.
        message: String,
        /// Seconds to wait, from `Retry-After`, when sent.
        retry_after_s: Option<u32>,
    },
}

/// What a visitor reads when the generator on a site cannot run for a reason only the
/// site's owner can fix (the same sentence `multishot-proxy` writes).
pub const VISITOR_UNAVAILABLE: &str =
    "The generator on this site is unavailable right now; your image was not charged.";

impl ApiError {
    /// Worth trying again by itself (a GET only: a submit is never retried).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ApiError::Network(_)
                | ApiError::TimedOut
                | ApiError::RateLimited { .. }
                | ApiError::Server { .. }
        ) || matches!(self, ApiError::Proxy { status, .. } if *status == 429 || *status >= 500)
    }

    /// A short machine-readable name of the failure, for a host page: `network`,
    /// `timed_out`, `unauthorized`, `forbidden`, `rate_limited`, `server_error`,
    /// `payment_required` (402: the account's balance), `rejected`, `refused`,
    /// `bad_response`, or a proxy's own `reason`.
    pub fn code(&self) -> &str {
        match self {
            ApiError::Network(_) => "network",
            ApiError::TimedOut => "timed_out",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Server { .. } => "server_error",
            ApiError::Rejected { status: 402, .. } | ApiError::Refused { code: 402, .. } => {
                "payment_required"
            }
            ApiError::Rejected { .. } => "rejected",
            ApiError::Refused { .. } => "refused",
            ApiError::BadResponse(_) => "bad_response",
            ApiError::Proxy { reason, .. } => reason,
        }
    }

    /// The error as a visitor of a site with a proxy should read it. Through a proxy
    /// (`via_proxy`) an error only the site's owner can fix — WaveSpeed refusing the
    /// owner's key or account (401, 402, 403), the proxy paused or its limit store down —
    /// becomes [`VISITOR_UNAVAILABLE`]; its [`code`](Self::code) keeps the detail for the
    /// owner (`unauthorized`, `payment_required`, `paused`, …). Anything else, and every
    /// error in direct mode (where the key is the user's own), is kept as it is.
    pub fn for_visitor(self, via_proxy: bool) -> ApiError {
        let status = match &self {
            _ if !via_proxy => return self,
            ApiError::Unauthorized(_) => 401,
            ApiError::Forbidden(_) => 403,
            ApiError::Rejected { status: 402, .. } | ApiError::Refused { code: 402, .. } => 402,
            ApiError::Refused {
                code: code @ 401..=403,
                ..
            } => *code as u16,
            ApiError::Proxy {
                status,
                reason,
                retry_after_s,
                ..
            } if matches!(
                reason.as_str(),
                "upstream_refused" | "paused" | "store_down"
            ) =>
            {
                return ApiError::Proxy {
                    status: *status,
                    reason: reason.clone(),
                    message: VISITOR_UNAVAILABLE.into(),
                    retry_after_s: *retry_after_s,
                }
            }
            _ => return self,
        };
        ApiError::Proxy {
            status,
            reason: self.code().to_owned(),
            message: VISITOR_UNAVAILABLE.into(),
            retry_after_s: None,
        }
    }

    /// The delay the server asked for, in milliseconds.
    pub fn retry_after_ms(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited {
                retry_after_s: Some(s),
                ..
            }
            | ApiError::Proxy {
                retry_after_s: Some(s),
                ..
            } => Some(u64::from(*s) * 1000),
            _ => None,
        }
    }
}

/// The longest server text quoted in a message.
const MAX_MESSAGE_CHARS: usize = 300;

fn clip(text: &str) -> String {
    let text = text.trim();
    if text.chars().count() <= MAX_MESSAGE_CHARS {
        text.to_owned()
    } else {
        text.chars().take(MAX_MESSAGE_CHARS).chain(['…']).collect()
    }
}

/// The message of an error body — `message`, else `error`, else `detail` of a JSON body,
/// else the body as text (clipped), else a generic phrase — and, when the body is a
/// refusal of the site owner's proxy (a `message` with a short `reason` code), that code.
fn error_parts(body: &[u8]) -> (String, Option<String>) {
    let json = json::parse(body).ok();
    let field = |key: &str| {
        json.as_ref()
            .and_then(|j| j.get(key))
            .and_then(Json::as_str)
            .filter(|t| !t.trim().is_empty())
    };
    let reason = field("message")
        .and(field("reason"))
        .filter(|r| r.len() <= 40 && r.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
    let message = ["message", "error", "detail", "msg"]
        .into_iter()
        .find_map(field)
        .map(clip)
        .unwrap_or_else(|| {
            let text = String::from_utf8_lossy(body);
            if text.trim().is_empty() {
                "no details given".to_owned()
            } else {
                clip(&text)
            }
        });
    (message, reason.map(str::to_owned))
}

/// `Retry-After` in seconds (the HTTP-date form is not used by WaveSpeed and is ignored).
pub fn parse_retry_after(header: Option<&str>) -> Option<u32> {
    header?.trim().parse().ok()
}

/// Checks an HTTP reply and returns the envelope's `data`: maps non-2xx statuses, a
/// body that is not JSON, and a 200 whose `code` is not 200 to [`ApiError`].
pub fn parse_envelope(
    http_status: u16,
    retry_after: Option<&str>,
    body: &[u8],
) -> Result<Json, ApiError> {
    if !(200..300).contains(&http_status) {
        let (message, reason) = error_parts(body);
        if let Some(reason) = reason {
            return Err(ApiError::Proxy {
                status: http_status,
                reason,
                message,
                retry_after_s: parse_retry_after(retry_after),
            });
        }
        return Err(match http_status {
            401 => ApiError::Unauthorized(message),
            403 => ApiError::Forbidden(message),
            429 => ApiError::RateLimited {
                retry_after_s: parse_retry_after(retry_after),
                message,
            },
            500..=599 => ApiError::Server {
                status: http_status,
                message,
            },
            status => ApiError::Rejected { status, message },
        });
    }
    let json = json::parse(body).map_err(|e| ApiError::BadResponse(format!("not JSON ({e})")))?;
    if let Some(code) = json.get("code") {
        let code = code
            .as_i64()
            .ok_or_else(|| ApiError::BadResponse("`code` is not a number".into()))?;
        if code != 200 {
            return Err(ApiError::Refused {
                code,
                message: error_parts(body).0,
            });
        }
    }
    match json.get("data") {
        Some(data) if data.is_object() => Ok(data.clone()),
        _ => Err(ApiError::BadResponse("no `data` object".into())),
    }
}

/// The outputs in either documented shape: an array of strings, or a single string.
fn outputs_of(data: &Json) -> Result<Vec<String>, ApiError> {
    match data.get("outputs") {
        None | Some(Json::Null) => Ok(Vec::new()),
        Some(Json::String(one)) if one.is_empty() => Ok(Vec::new()),
        Some(Json::String(one)) => Ok(vec![one.clone()]),
        Some(Json::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| ApiError::BadResponse("an output is not a string".into()))
            })
            .collect(),
        Some(_) => Err(ApiError::BadResponse(
            "`outputs` is neither a list nor a string".into(),
        )),
    }
}

/// Parses a submit or poll reply into a [`Prediction`].
pub fn parse_prediction(
    http_status: u16,
    retry_after: Option<&str>,
    body: &[u8],
) -> Result<Prediction, ApiError> {
    let data = parse_envelope(http_status, retry_after, body)?;
    let id = data
        .get("id")
        .and_then(Json::as_str)
        .ok_or_else(|| ApiError::BadResponse("no task id".into()))?;
    let status = data
        .get("status")
        .and_then(Json::as_str)
        .ok_or_else(|| ApiError::BadResponse("no status".into()))?;
    let has_nsfw_contents = data
        .get("has_nsfw_contents")
        .and_then(Json::as_array)
        .map(|flags| flags.iter().map(|f| f.as_bool().unwrap_or(false)).collect())
        .unwrap_or_default();
    Ok(Prediction {
        id: TaskId::parse(id)?,
        status: Status::from(status.to_owned()),
        outputs: outputs_of(&data)?,
        has_nsfw_contents,
        error: data
            .get("error")
            .and_then(Json::as_str)
            .filter(|e| !e.trim().is_empty())
            .map(clip),
        inference_ms: data
            .get("timings")
            .and_then(|t| t.get("inference"))
            .and_then(Json::as_u64),
        created_at: data
            .get("created_at")
            .and_then(Json::as_str)
            .map(str::to_owned),
    })
}

/// Parses an upload reply into the `download_url` to send as `image`.
pub fn parse_upload(
    http_status: u16,
    retry_after: Option<&str>,
    body: &[u8],
) -> Result<String, ApiError> {
    let data = parse_envelope(http_status, retry_after, body)?;
    let url = data
        .get("download_url")
        .and_then(Json::as_str)
        .ok_or_else(|| ApiError::BadResponse("the upload reply has no download_url".into()))?;
    if after_web_scheme(url).is_some() {
        Ok(url.to_owned())
    } else {
        Err(ApiError::BadResponse(
            "the upload reply's download_url is not a web address".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_visitor_through_a_proxy_reads_one_sentence_for_what_only_the_owner_can_fix() {
        let proxy = |reason: &str, status| ApiError::Proxy {
            status,
            reason: reason.into(),
            message: "detail".into(),
            retry_after_s: Some(3600),
        };
        let owner_only = [
            (ApiError::Unauthorized("bad key".into()), "unauthorized"),
            (ApiError::Forbidden("no".into()), "forbidden"),
            (
                ApiError::Rejected {
                    status: 402,
                    message: "Insufficient balance".into(),
                },
                "payment_required",
            ),
            (
                ApiError::Refused {
                    code: 402,
                    message: "Insufficient balance".into(),
                },
                "payment_required",
            ),
            (
                ApiError::Refused {
                    code: 401,
                    message: "x".into(),
                },
                "refused",
            ),
            (proxy("upstream_refused", 502), "upstream_refused"),
            (proxy("paused", 503), "paused"),
            (proxy("store_down", 503), "store_down"),
        ];
        for (error, code) in owner_only {
            let seen = error.clone().for_visitor(true);
            assert_eq!(seen.to_string(), VISITOR_UNAVAILABLE, "{error:?}");
            assert_eq!(seen.code(), code, "{error:?}");
            assert!(!seen.to_string().contains("Insufficient"));
            // With the user's own key, the detail is theirs to read.
            assert_eq!(error.clone().for_visitor(false), error);
        }
        // What a visitor can act on (or wait out) keeps its own words.
        for error in [
            ApiError::TimedOut,
            ApiError::Network("offline".into()),
            proxy("daily_budget", 429),
            ApiError::Rejected {
                status: 400,
                message: "bad image".into(),
            },
        ] {
            assert_eq!(error.clone().for_visitor(true), error);
        }
        // A paused proxy still says when to come back.
        assert_eq!(
            proxy("paused", 503).for_visitor(true).retry_after_ms(),
            Some(3_600_000)
        );
    }

    use super::*;
    use proptest::prelude::*;

    const DOC_REPLY: &str = r#"{"code":200,"message":"success","data":{"id":"abc123","model":"kwaivgi/kling-v1/ai-multi-shot",
 "outputs":[],"urls":{"get":"https://api.wavespeed.ai/api/v3/predictions/abc123/result"},
 "has_nsfw_contents":[],"status":"created","created_at":"2023-04-01T12:34:56.789Z","error":"",
 "timings":{"inference":0}}}"#;

    #[test]
    fn the_documented_reply_parses() {
        let p = parse_prediction(200, None, DOC_REPLY.as_bytes()).unwrap();
        assert_eq!(p.id.as_str(), "abc123");
        assert_eq!(p.status, Status::Created);
        assert!(p.outputs.is_empty());
        assert_eq!(p.error, None);
        assert_eq!(p.inference_ms, Some(0));
        assert_eq!(p.created_at.as_deref(), Some("2023-04-01T12:34:56.789Z"));
    }

    #[test]
    fn completed_with_outputs_and_flags() {
        let body = br#"{"code":200,"message":"success","data":{"id":"t1","status":"completed",
            "outputs":["https://cdn.example/a.mp4","https://cdn.example/b.mp4"],
            "has_nsfw_contents":[false,true],"error":"","timings":{"inference":81234}}}"#;
        let p = parse_prediction(200, None, body).unwrap();
        assert!(p.status.is_terminal());
        assert_eq!(p.outputs.len(), 2);
        assert_eq!(p.has_nsfw_contents, [false, true]);
        assert_eq!(p.inference_ms, Some(81234));
    }

    #[test]
    fn outputs_as_a_single_string_are_accepted() {
        let body = br#"{"code":200,"data":{"id":"t1","status":"completed","outputs":"https://cdn.example/a.mp4"}}"#;
        assert_eq!(
            parse_prediction(200, None, body).unwrap().outputs,
            ["https://cdn.example/a.mp4"]
        );
        let empty = br#"{"code":200,"data":{"id":"t1","status":"processing","outputs":""}}"#;
        assert!(parse_prediction(200, None, empty)
            .unwrap()
            .outputs
            .is_empty());
        let null = br#"{"code":200,"data":{"id":"t1","status":"processing","outputs":null}}"#;
        assert!(parse_prediction(200, None, null)
            .unwrap()
            .outputs
            .is_empty());
    }

    #[test]
    fn statuses() {
        for (raw, terminal) in [
            ("created", false),
            ("processing", false),
            ("completed", true),
            ("failed", true),
            ("cancelled", true),
            ("timeout", true),
            ("deleted", true),
            ("queued", false),
        ] {
            let status = Status::from(raw.to_owned());
            assert_eq!(status.is_terminal(), terminal, "{raw}");
            assert_eq!(status.as_str(), raw);
        }
    }

    #[test]
    fn a_failed_task_keeps_its_error_text_verbatim() {
        let body = br#"{"code":200,"data":{"id":"t1","status":"failed","outputs":[],"error":"<b>bad</b> input"}}"#;
        let p = parse_prediction(200, None, body).unwrap();
        assert_eq!(p.status, Status::Failed);
        assert_eq!(p.error.as_deref(), Some("<b>bad</b> input"));
    }

    #[test]
    fn http_errors_map_to_what_to_do() {
        assert_eq!(
            parse_envelope(401, None, br#"{"code":401,"message":"Invalid API key"}"#),
            Err(ApiError::Unauthorized("Invalid API key".into()))
        );
        assert_eq!(
            parse_envelope(403, None, br#"{"message":"no role","error_code":7}"#),
            Err(ApiError::Forbidden("no role".into()))
        );
        assert_eq!(
            parse_envelope(429, Some(" 7 "), b"slow down"),
            Err(ApiError::RateLimited {
                retry_after_s: Some(7),
                message: "slow down".into()
            })
        );
        assert_eq!(
            parse_envelope(429, None, b""),
            Err(ApiError::RateLimited {
                retry_after_s: None,
                message: "no details given".into()
            })
        );
        assert_eq!(
            parse_envelope(503, None, b"<html>Bad gateway</html>"),
            Err(ApiError::Server {
                status: 503,
                message: "<html>Bad gateway</html>".into()
            })
        );
        assert_eq!(
            parse_envelope(400, None, br#"{"error":"image is required"}"#),
            Err(ApiError::Rejected {
                status: 400,
                message: "image is required".into()
            })
        );
    }

    #[test]
    fn a_proxy_refusal_is_shown_as_the_proxy_wrote_it() {
        let body = br#"{"code":429,"message":"This site's daily budget is used up; it resets at 00:00 UTC.","reason":"daily_budget"}"#;
        let error = parse_envelope(429, Some("3600"), body).expect_err("a refusal");
        assert_eq!(
            error.to_string(),
            "This site's daily budget is used up; it resets at 00:00 UTC."
        );
        assert_eq!(
            error,
            ApiError::Proxy {
                status: 429,
                reason: "daily_budget".into(),
                message: "This site's daily budget is used up; it resets at 00:00 UTC.".into(),
                retry_after_s: Some(3600),
            }
        );
        // A proxy's 429 and 5xx are worth another poll; its other refusals are not.
        assert!(error.is_transient());
        assert_eq!(error.retry_after_ms(), Some(3_600_000));
        let origin = parse_envelope(
            403,
            None,
            br#"{"code":403,"message":"Not allowed.","reason":"origin"}"#,
        );
        assert!(origin.is_err_and(|e| !e.is_transient() && e.to_string() == "Not allowed."));
        let down = parse_envelope(
            503,
            None,
            br#"{"code":503,"message":"Down.","reason":"store_down"}"#,
        );
        assert!(down.is_err_and(|e| e.is_transient()));
        // Without a well-formed reason it is an ordinary error.
        for body in [
            &br#"{"code":429,"message":"slow","reason":"<b>x</b>"}"#[..],
            br#"{"code":429,"message":"slow","reason":7}"#,
            br#"{"code":429,"message":"","reason":"x"}"#,
        ] {
            assert!(matches!(
                parse_envelope(429, None, body),
                Err(ApiError::RateLimited { .. })
            ));
        }
    }

    #[test]
    fn a_200_with_another_code_is_an_error() {
        assert_eq!(
            parse_envelope(
                200,
                None,
                br#"{"code":402,"message":"Insufficient balance"}"#
            ),
            Err(ApiError::Refused {
                code: 402,
                message: "Insufficient balance".into()
            })
        );
    }

    #[test]
    fn malformed_replies_are_bad_responses() {
        for body in [
            &b"{not json"[..],
            b"[]",
            br#"{"code":200}"#,
            br#"{"code":"x","data":{}}"#,
        ] {
            assert!(
                matches!(
                    parse_envelope(200, None, body),
                    Err(ApiError::BadResponse(_))
                ),
                "{body:?}"
            );
        }
        let no_id = br#"{"code":200,"data":{"status":"created"}}"#;
        assert!(matches!(
            parse_prediction(200, None, no_id),
            Err(ApiError::BadResponse(_))
        ));
        let bad_outputs = br#"{"code":200,"data":{"id":"t","status":"completed","outputs":[1]}}"#;
        assert!(matches!(
            parse_prediction(200, None, bad_outputs),
            Err(ApiError::BadResponse(_))
        ));
    }

    #[test]
    fn transient_errors_are_the_retryable_ones() {
        assert!(ApiError::Network("x".into()).is_transient());
        assert!(ApiError::TimedOut.is_transient());
        assert!(ApiError::Server {
            status: 502,
            message: String::new()
        }
        .is_transient());
        assert!(ApiError::RateLimited {
            retry_after_s: None,
            message: String::new()
        }
        .is_transient());
        assert!(!ApiError::Unauthorized(String::new()).is_transient());
        assert!(!ApiError::Rejected {
            status: 404,
            message: String::new()
        }
        .is_transient());
        assert!(!ApiError::Refused {
            code: 500,
            message: String::new()
        }
        .is_transient());
        assert!(!ApiError::BadResponse(String::new()).is_transient());
    }

    #[test]
    fn task_ids_cannot_escape_the_predictions_path() {
        for bad in [
            "", ".", "..", "../x", "a/b", "a?b", "a#b", "a b", "%2e%2e", "ä",
        ] {
            assert!(TaskId::parse(bad).is_err(), "{bad:?}");
        }
        let id = TaskId::parse("0a1b-2c_3.d").unwrap();
        assert_eq!(
            result_url("https://api.wavespeed.ai/", &id),
            "https://api.wavespeed.ai/api/v3/predictions/0a1b-2c_3.d/result"
        );
        let long = "a".repeat(TaskId::MAX_LEN + 1);
        assert!(TaskId::parse(&long).is_err());
    }

    #[test]
    fn urls_join_with_one_slash() {
        assert_eq!(
            join("https://x.test", SUBMIT_PATH),
            "https://x.test/api/v3/kwaivgi/kling-v1/ai-multi-shot"
        );
        assert_eq!(
            join("https://x.test/proxy/", UPLOAD_BINARY_PATH),
            "https://x.test/proxy/api/v3/media/upload/binary"
        );
    }

    #[test]
    fn the_submit_body_has_exactly_the_documented_fields() {
        let body = SubmitRequest {
            image: "https://x.test/a.png".into(),
            enable_base64_output: true,
        }
        .to_json();
        assert_eq!(
            body,
            r#"{"image":"https://x.test/a.png","enable_base64_output":true}"#
        );
    }

    #[test]
    fn upload_replies() {
        let ok = br#"{"code":200,"message":"success","data":{"type":"image","download_url":"https://x.test/u/1.png","filename":"a.png","size":123}}"#;
        assert_eq!(
            parse_upload(200, None, ok),
            Ok("https://x.test/u/1.png".into())
        );
        let js = br#"{"code":200,"data":{"download_url":"javascript:alert(1)"}}"#;
        assert!(parse_upload(200, None, js).is_err());
    }

    #[test]
    fn long_server_texts_are_clipped() {
        let body = "x".repeat(5000);
        let Err(ApiError::Server { message, .. }) = parse_envelope(500, None, body.as_bytes())
        else {
            panic!("expected a server error");
        };
        assert!(message.chars().count() <= MAX_MESSAGE_CHARS + 1);
    }

    proptest! {
        #[test]
        fn any_reply_parses_or_errs_without_panicking(status in 100u16..600, body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_prediction(status, None, &body);
            let _ = parse_upload(status, Some("x"), &body);
        }

        #[test]
        fn any_accepted_task_id_stays_one_path_segment(raw in "[ -~]{0,40}") {
            if let Ok(id) = TaskId::parse(&raw) {
                let url = result_url("https://api.test", &id);
                let tail = url.strip_prefix("https://api.test/api/v3/predictions/").unwrap();
                prop_assert_eq!(tail.strip_suffix("/result"), Some(id.as_str()));
                prop_assert!(!id.as_str().contains('/') && !id.as_str().contains('?') && id.as_str() != "..");
            }
        }
    }
}
