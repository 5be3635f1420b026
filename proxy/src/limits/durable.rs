//! The Worker's store: every counter in Cloudflare Durable Objects of the class the
//! Worker binds as `COUNTERS` (`proxy-worker/`). Each operation is one message
//! ([`Messages`]) to the object [`Op::object`](super::ops::Op::object) names, which
//! answers with [`handle`](super::ops::handle) — the [`MemoryStore`](super::memory::MemoryStore)
//! code on its own state. One object handles one message at a time, so each operation is
//! atomic for every Worker instance in the world.

use worker::send::SendFuture;

use super::ops::{Carrier, Messages};
use super::StoreError;

/// The binding name of the counters' Durable Object namespace.
pub const BINDING: &str = "COUNTERS";
/// The address the messages are sent to (only the object sees it).
pub const OP_URL: &str = "https://counters.internal/op";

/// Counters in Durable Objects.
pub type DurableStore = Messages<Objects>;

/// The counters' Durable Object namespace, carrying messages to its objects.
pub struct Objects {
    namespace: worker::ObjectNamespace,
}

impl Objects {
    /// The store of the namespace bound as [`BINDING`].
    pub fn store(env: &worker::Env) -> Result<DurableStore, String> {
        env.durable_object(BINDING)
            .map(|namespace| Messages(Self { namespace }))
            .map_err(|e| format!("no Durable Object namespace bound as {BINDING}: {e}"))
    }
}

impl Carrier for Objects {
    async fn carry(&self, object: String, message: String) -> Result<String, StoreError> {
        let failed = |e: worker::Error| StoreError(e.to_string());
        SendFuture::new(async move {
            let stub = self
                .namespace
                .id_from_name(&object)
                .and_then(|id| id.get_stub())
                .map_err(failed)?;
            let mut init = worker::RequestInit::new();
            init.with_method(worker::Method::Post)
                .with_body(Some(message.into()));
            let request = worker::Request::new_with_init(OP_URL, &init).map_err(failed)?;
            let mut response = stub.fetch_with_request(request).await.map_err(failed)?;
            response.text().await.map_err(failed)
        })
        .await
    }
}
