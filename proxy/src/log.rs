//! JSON logs, one object per line on standard output, with secrets redacted on the way
//! out: anything that looks like a WaveSpeed key (`wsk_…`), the configured key itself
//! and the token secret are replaced by `[redacted]` in every line, whatever wrote it.

use std::io::{self, Write};
use std::sync::Arc;

use tracing_subscriber::fmt::MakeWriter;

/// What to take out of every log line.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    secrets: Arc<Vec<String>>,
}

impl Redactor {
    /// Redacts `wsk_…` keys and each of `secrets` (empty ones are ignored).
    pub fn new(secrets: Vec<String>) -> Self {
        Self {
            secrets: Arc::new(secrets.into_iter().filter(|s| s.len() >= 4).collect()),
        }
    }

    /// `line` with every secret and every `wsk_` key replaced by `[redacted]`.
    pub fn redact(&self, line: &str) -> String {
        let mut out = line.to_owned();
        for secret in self.secrets.iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "[redacted]");
            }
        }
        // `wsk_` followed by key characters.
        let mut result = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(at) = rest.find("wsk_") {
            result.push_str(&rest[..at]);
            let tail = &rest[at + 4..];
            let key_len = tail
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
                .count();
            result.push_str("[redacted]");
            rest = &tail[key_len..];
        }
        result.push_str(rest);
        result
    }
}

/// A `tracing` writer that redacts each event before it reaches standard output.
#[derive(Clone, Debug)]
pub struct RedactingStdout {
    redactor: Redactor,
}

impl RedactingStdout {
    /// Writes to standard output through `redactor`.
    pub fn new(redactor: Redactor) -> Self {
        Self { redactor }
    }
}

/// One event's bytes, redacted and written when the event is complete.
pub struct EventWriter {
    redactor: Redactor,
    buffer: Vec<u8>,
}

impl Write for EventWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for EventWriter {
    fn drop(&mut self) {
        let line = self.redactor.redact(&String::from_utf8_lossy(&self.buffer));
        #[cfg(not(target_arch = "wasm32"))]
        {
            let mut stdout = io::stdout().lock();
            let _ = stdout.write_all(line.as_bytes());
            let _ = stdout.flush();
        }
        // A Worker's standard output is its console (Workers Logs, `wrangler tail`).
        #[cfg(target_arch = "wasm32")]
        worker::console_log!("{}", line.trim_end());
    }
}

impl<'a> MakeWriter<'a> for RedactingStdout {
    type Writer = EventWriter;

    fn make_writer(&'a self) -> Self::Writer {
        EventWriter {
            redactor: self.redactor.clone(),
            buffer: Vec::with_capacity(256),
        }
    }
}

/// Sends `tracing` events to standard output as JSON lines, redacted (in a Worker, to
/// its console, without a time of its own: the platform stamps each line).
pub fn init(redactor: Redactor) {
    let subscriber = tracing_subscriber::fmt();
    #[cfg(target_arch = "wasm32")]
    let subscriber = subscriber.without_time();
    let subscriber = subscriber
        .json()
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_writer(RedactingStdout::new(redactor))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MULTISHOT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .finish();
    let _ = tracing::subscriber::set_global_default(subscriber);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_never_reach_the_log() {
        let r = Redactor::new(vec!["sk-custom-secret-1234".into(), String::new()]);
        assert_eq!(
            r.redact(r#"{"msg":"bad key wsk_live_AbC123_x-y9 here"}"#),
            r#"{"msg":"bad key [redacted] here"}"#
        );
        assert_eq!(
            r.redact("Bearer sk-custom-secret-1234."),
            "Bearer [redacted]."
        );
        assert_eq!(r.redact("wsk_"), "[redacted]");
        assert_eq!(r.redact("nothing secret"), "nothing secret");
        assert_eq!(
            r.redact("a wsk_test_1 and wsk_live_2"),
            "a [redacted] and [redacted]"
        );
    }
}
