//! The proxy in a Cloudflare Worker (wasm32): the Workers clock, `setTimeout` and
//! `fetch`. A Worker runs one thread, so each JavaScript-holding future and value is
//! marked `Send` ([`SendFuture`], [`SendWrapper`]) for the axum handlers they serve.

use std::future::Future;
use std::time::Duration;

use axum::body::Bytes;
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use worker::send::{SendFuture, SendWrapper};

use super::{Call, CallError, Elapsed, Method};

/// Unix milliseconds now (in a Worker, the time of the last I/O).
pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// Waits `duration`.
pub async fn sleep(duration: Duration) {
    SendFuture::new(worker::Delay::from(duration)).await;
}

/// `future`, unless `duration` passes first.
pub async fn timeout<F: Future>(duration: Duration, future: F) -> Result<F::Output, Elapsed> {
    let delay = SendFuture::new(worker::Delay::from(duration));
    let future = std::pin::pin!(future);
    match select(future, delay).await {
        Either::Left((output, _)) => Ok(output),
        Either::Right(_) => Err(Elapsed),
    }
}

/// Measures how long something took (to the millisecond).
#[derive(Clone, Copy, Debug)]
pub struct Stopwatch(u64);

impl Stopwatch {
    /// Starts now.
    pub fn start() -> Self {
        Self(now_ms())
    }

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        Duration::from_millis(now_ms().saturating_sub(self.0))
    }
}

/// The Workers `fetch`, following no redirect.
#[derive(Clone, Debug)]
pub struct Client;

impl Client {
    /// A client (the Workers runtime keeps its own connections and timeouts).
    pub fn new(_connect_timeout: Duration) -> Result<Self, String> {
        Ok(Self)
    }

    /// Sends `call`; the answer once its headers are in.
    pub async fn open(&self, call: Call) -> Result<Opened, CallError> {
        SendFuture::new(async move {
            let failed = |e: worker::Error| CallError::Failed(e.to_string());
            let headers = worker::Headers::new();
            for (name, value) in &call.headers {
                headers.set(name, value).map_err(failed)?;
            }
            let mut init = worker::RequestInit::new();
            init.with_headers(headers)
                .with_redirect(worker::RequestRedirect::Manual)
                .with_method(match call.method {
                    Method::Get => worker::Method::Get,
                    Method::Post => worker::Method::Post,
                });
            if call.method == Method::Post {
                init.with_body(Some(js_sys::Uint8Array::from(call.body.as_slice()).into()));
            }
            let request = worker::Request::new_with_init(&call.url, &init).map_err(failed)?;
            let mut response = worker::Fetch::Request(request)
                .send()
                .await
                .map_err(failed)?;
            let stream = response.stream().ok();
            Ok(Opened {
                response: SendWrapper::new(response),
                stream: SendWrapper::new(stream),
            })
        })
        .await
    }
}

/// An answer whose body is still to be read.
pub struct Opened {
    response: SendWrapper<worker::Response>,
    stream: SendWrapper<Option<worker::ByteStream>>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl Opened {
    /// The status.
    pub fn status(&self) -> u16 {
        self.response.status_code()
    }

    /// A header, when present and text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.response.headers().get(name).ok().flatten()
    }

    /// The declared length of the body.
    pub fn content_length(&self) -> Option<u64> {
        self.header("content-length")?.trim().parse().ok()
    }

    /// The next piece of the body; `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, CallError> {
        let Some(stream) = self.stream.as_mut() else {
            return Ok(None);
        };
        match SendFuture::new(stream.next()).await {
            None => Ok(None),
            Some(Ok(piece)) => Ok(Some(Bytes::from(piece))),
            Some(Err(e)) => Err(CallError::Failed(e.to_string())),
        }
    }
}
