//! The Durable Object every counter lives in. Each message is one
//! [`Op`](multishot_proxy::limits::ops::Op), run by the [`MemoryStore`] code on this
//! object's state; the object handles one message at a time (and workerd's input gate
//! holds new ones while its storage is read), so each operation is atomic. After a change
//! the state is saved to the object's storage before the answer leaves (the output
//! gate), so a restart — of workerd here, of the object at Cloudflare — keeps the day's
//! spend and every task's reservation.
//!
//! A panic: the Worker is built by worker-build with its panic recovery (the wasm
//! instance is reset and this object rebuilt on its next message, from storage); what
//! the panicking message changed but did not save is lost, and it was never answered.

use std::rc::Rc;

use axum::body::Body;
use axum::http::Response as HttpResponse;
use multishot_proxy::limits::memory::MemoryStore;
use multishot_proxy::limits::ops::{self, Answer, BUDGET_OBJECT};
use worker::{durable_object, DurableObject, Env, Request, Response, State};

/// The storage key of the saved state.
const STATE_KEY: &str = "counters";
/// The address of the test hook's message.
const PANIC_URL: &str = "https://counters.internal/panic";

/// Counters in one Durable Object.
#[durable_object]
pub struct Counters {
    state: State,
    store: Rc<MemoryStore>,
    test_hooks: bool,
}

impl DurableObject for Counters {
    fn new(state: State, env: Env) -> Self {
        let store = Rc::new(MemoryStore::new());
        let storage = state.storage();
        let loading = Rc::clone(&store);
        // No message is handled before the saved state is in; a failure resets the
        // object (its next message tries again) rather than starting from nothing.
        let _loaded = state.block_concurrency_while(async move {
            if let Some(saved) = storage.get::<String>(STATE_KEY).await? {
                loading
                    .restore(&saved)
                    .map_err(|e| worker::Error::RustError(e.to_string()))?;
            }
            Ok(())
        });
        let test_hooks = env
            .var(crate::entry::TEST_HOOKS)
            .map(|v| v.to_string() == "1")
            .unwrap_or(false);
        Self {
            state,
            store,
            test_hooks,
        }
    }

    async fn fetch(&self, mut request: Request) -> worker::Result<Response> {
        if self.test_hooks && request.url()?.as_str() == PANIC_URL {
            panic!("a test hook's panic in the counters");
        }
        let (answer, save) = ops::handle(&self.store, &request.text().await?).await;
        let answer = match save {
            Some(state) => match self.state.storage().put(STATE_KEY, state).await {
                Ok(()) => answer,
                // Not saved: answered as the store being down (a submit then fails
                // closed); what it changed stays in memory.
                Err(e) => Answer::Failed {
                    error: format!("the counters could not be saved: {e}"),
                }
                .to_text(),
            },
            None => answer,
        };
        Response::ok(answer)
    }
}

/// The test hook: sends the budget's object the message that makes it panic, and says
/// what came back.
pub async fn panic_once(env: &Env) -> worker::Result<HttpResponse<Body>> {
    let stub = env
        .durable_object(multishot_proxy::limits::durable::BINDING)?
        .id_from_name(BUDGET_OBJECT)?
        .get_stub()?;
    let mut init = worker::RequestInit::new();
    init.with_method(worker::Method::Post);
    let outcome = match stub
        .fetch_with_request(Request::new_with_init(PANIC_URL, &init)?)
        .await
    {
        Ok(response) => format!("answered {}", response.status_code()),
        Err(e) => format!("failed: {e}"),
    };
    Ok(HttpResponse::new(Body::from(outcome)))
}
