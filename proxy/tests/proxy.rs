//! The proxy against the fake WaveSpeed as its upstream, in-process: what a visitor can
//! do, what reaches WaveSpeed, and what never does.

mod support;

use multishot_proxy::token::{Signer, LIFETIME_S};
use serde_json::{json, Value};
use support::{answer, browser, file_form, png, Fake, Proxy, KEY, ORIGIN, SECRET};

const SUBMIT: &str = "/api/v3/kwaivgi/kling-v1/ai-multi-shot";
const UPLOAD: &str = "/api/v3/media/upload/binary";

fn poll_path(token: &str) -> String {
    format!("/api/v3/predictions/{token}/result")
}

async fn submit(proxy: &Proxy, body: Value) -> support::Answer {
    answer(
        browser()
            .post(format!("{}{SUBMIT}", proxy.url))
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("the proxy answers"),
    )
    .await
}

/// A submit as the visitor at `ip` (behind a trusted proxy), with `body`.
async fn submit_as(proxy: &Proxy, ip: &str, body: &str) -> support::Answer {
    answer(
        browser()
            .post(format!("{}{SUBMIT}", proxy.url))
            .header("Content-Type", "application/json")
            .header("X-Forwarded-For", ip)
            .body(body.to_owned())
            .send()
            .await
            .expect("the proxy answers"),
    )
    .await
}

async fn poll(proxy: &Proxy, token: &str) -> support::Answer {
    answer(
        browser()
            .get(format!("{}{}", proxy.url, poll_path(token)))
            .send()
            .await
            .expect("the proxy answers"),
    )
    .await
}

/// A proxy whose daily budget is `usd` and whose per-visitor rates (runs an hour,
/// requests a second) are out of the way.
async fn budget_proxy(fake: &Fake, usd: &str, more: &[&str]) -> Proxy {
    let mut flags = vec![
        "--daily-budget-usd",
        usd,
        "--runs-per-ip-per-hour",
        "100",
        "--polls-per-ip-per-second",
        "100",
        "--runs-per-minute",
        "1000",
    ];
    flags.extend_from_slice(more);
    Proxy::start(&fake.url, &flags).await
}

fn image() -> Value {
    json!({"image": "https://images.example/photo.jpg"})
}

#[tokio::test]
async fn a_whole_job_goes_through_and_the_key_never_comes_back() {
    let fake = Fake::start().await;
    let proxy = Proxy::start(&fake.url, &[]).await;
    let mut seen = String::new();

    let uploaded = answer(
        browser()
            .post(format!("{}{UPLOAD}", proxy.url))
            .header("Authorization", "Bearer visitor-supplied")
            .multipart(file_form(png(800, 600, 4096), "../../etc/passwd.png"))
            .send()
            .await
            .expect("the proxy answers"),
    )
    .await;
    assert_eq!(uploaded.status, 200, "{}", uploaded.text);
    assert!(
        uploaded.headers.contains(ORIGIN),
        "CORS for the page: {}",
        uploaded.headers
    );
    let download_url = uploaded.json["data"]["download_url"]
        .as_str()
        .expect("a download URL")
        .to_owned();
    // The visitor's file name is not passed on.
    assert!(download_url.ends_with("/image.png"), "{download_url}");
    seen.push_str(&uploaded.headers);
    seen.push_str(&uploaded.text);

    let submitted = answer(
        browser()
            .post(format!("{}{SUBMIT}", proxy.url))
            .header("Content-Type", "application/json")
            .header("Authorization", "Bearer visitor-supplied")
            .header("Proxy-Authorization", "Basic eDp5")
            .header("Cookie", "session=visitor")
            .header("Connection", "keep-alive, X-Hop")
            .header("X-Hop", "1")
            .header("TE", "trailers")
            .header("X-Forwarded-For", "192.0.2.1")
            .header("Referer", "https://www.example.com/page")
            .body(
                json!({"image": download_url, "enable_base64_output": false, "webhook": "https://evil.example/hook", "enable_sync_mode": true})
                    .to_string(),
            )
            .send()
            .await
            .expect("the proxy answers"),
    )
    .await;
    assert_eq!(submitted.status, 200, "{}", submitted.text);
    let token = submitted.json["data"]["id"]
        .as_str()
        .expect("a token")
        .to_owned();
    assert!(token.starts_with("v1."), "{token}");
    assert!(
        submitted.json["data"].get("urls").is_none(),
        "urls.get would lead around the proxy"
    );
    seen.push_str(&submitted.headers);
    seen.push_str(&submitted.text);

    let mut status = String::new();
    for _ in 0..3 {
        let polled = poll(&proxy, &token).await;
        assert_eq!(polled.status, 200, "{}", polled.text);
        assert_eq!(polled.json["data"]["id"], json!(token));
        status = polled.json["data"]["status"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        seen.push_str(&polled.headers);
        seen.push_str(&polled.text);
    }
    assert_eq!(status, "completed");

    // What reached WaveSpeed: the owner's key on every call, never the visitor's
    // header, and exactly the two documented fields.
    let log = fake.log().await;
    for entry in &log {
        assert_eq!(
            entry["authorization"],
            json!(format!("Bearer {KEY}")),
            "{entry}"
        );
        let names: Vec<&str> = entry["headers"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        // Only the headers the proxy sets itself: none of the visitor's (hop-by-hop,
        // cookies, their Authorization, anything else) is forwarded.
        let ours = [
            "host",
            "authorization",
            "content-type",
            "content-length",
            "accept",
            "user-agent",
        ];
        for name in &names {
            assert!(ours.contains(name), "{name} reached WaveSpeed: {entry}");
        }
    }
    let submits = fake.kinds("submit").await;
    assert_eq!(submits.len(), 1);
    assert_eq!(submits[0]["unknown_fields"], json!([]));
    assert_eq!(
        submits[0]["body"],
        json!({"image": download_url, "enable_base64_output": false})
    );
    assert_eq!(fake.kinds("upload").await.len(), 1);
    assert_eq!(fake.kinds("poll").await.len(), 3);

    // The key is nowhere a visitor can read.
    assert!(!seen.contains(KEY), "the key leaked to a visitor");
    assert!(
        !seen.contains("CANARY"),
        "part of the key leaked to a visitor"
    );
    proxy.stop().await;
}

#[tokio::test]
async fn other_origins_and_requests_without_one_are_refused_before_anything_else() {
    let fake = Fake::start().await;
    let proxy = Proxy::start(&fake.url, &[]).await;
    let client = reqwest::Client::new();
    for origin in [
        Some("https://evil.example"),
        Some("http://127.0.0.1:8081"),
        Some("null"),
        None,
    ] {
        let mut request = client
            .post(format!("{}{SUBMIT}", proxy.url))
            .header("Content-Type", "application/json")
            .body(image().to_string());
        if let Some(origin) = origin {
            request = request.header("Origin", origin);
        }
        let refused = answer(request.send().await.expect("the proxy answers")).await;
        assert_eq!(refused.status, 403, "{origin:?}");
        assert_eq!(refused.json["reason"], "origin");
        assert!(refused.json["message"]
            .as_str()
            .is_some_and(|m| m.ends_with('.')));
        // The page refused may read its refusal (and say "not allowed", not "check your
        // connection"); a request with no Origin is no page's.
        match origin {
            Some(origin) => assert!(
                refused
                    .headers
                    .contains(&format!("\"access-control-allow-origin\": \"{origin}\"")),
                "{}",
                refused.headers
            ),
            None => assert!(
                !refused.headers.contains("access-control-allow-origin"),
                "{}",
                refused.headers
            ),
        }
        assert!(
            !refused.headers.contains("expose-headers"),
            "{}",
            refused.headers
        );
    }
    // A preflight from another origin is answered, so that its request reaches the
    // refusal above: nothing else is let through.
    let preflight = answer(
        client
            .request(reqwest::Method::OPTIONS, format!("{}{SUBMIT}", proxy.url))
            .header("Origin", "https://evil.example")
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "content-type")
            .send()
            .await
            .expect("the proxy answers"),
    )
    .await;
    assert_eq!(preflight.status, 204);
    assert!(preflight
        .headers
        .contains("\"access-control-allow-origin\": \"https://evil.example\""));
    for path in [multishot_proxy::app::QUOTA_PATH, SUBMIT] {
        let refused = answer(
            client
                .get(format!("{}{path}", proxy.url))
                .header("Origin", "https://evil.example")
                .send()
                .await
                .expect("the proxy answers"),
        )
        .await;
        assert_eq!(refused.status, 403, "{path}");
        assert_eq!(refused.json["reason"], "origin", "{path}");
    }
    let reached: Vec<Value> = fake
        .log()
        .await
        .into_iter()
        .map(|e| e["kind"].clone())
        .collect();
    assert!(
        reached.iter().all(|kind| kind == "pricing"),
        "nothing of another origin reached WaveSpeed (the proxy asks the price itself): {reached:?}"
    );
    // The page's own preflight: allowed, exact origin, Vary, cached, no credentials,
    // and no Authorization header permitted (the proxy holds the key).
    let preflight = answer(
        browser()
            .request(reqwest::Method::OPTIONS, format!("{}{SUBMIT}", proxy.url))
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "content-type")
            .send()
            .await
            .expect("the proxy answers"),
    )
    .await;
    assert_eq!(preflight.status, 204);
    for expected in [
        "\"access-control-allow-origin\": \"http://127.0.0.1:8080\"",
        "\"vary\": \"Origin\"",
        "\"access-control-max-age\": \"86400\"",
        "\"access-control-allow-headers\": \"Content-Type\"",
    ] {
        assert!(
            preflight.headers.contains(expected),
            "{expected} in {}",
            preflight.headers
        );
    }
    assert!(!preflight.headers.contains("allow-credentials"));
    let with_key = answer(
        browser()
            .request(reqwest::Method::OPTIONS, format!("{}{SUBMIT}", proxy.url))
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization, content-type",
            )
            .send()
            .await
            .expect("the proxy answers"),
    )
    .await;
    assert_eq!(with_key.status, 403);
    assert!(fake.kinds("submit").await.is_empty());
    proxy.stop().await;
}

#[tokio::test]
async fn every_other_path_is_404_and_nothing_reaches_wavespeed() {
    let fake = Fake::start().await;
    let proxy = Proxy::start(&fake.url, &[]).await;
    let before = fake.log().await.len(); // the pricing call at start
    let real_id = "45a96667279e4a2f83cfe131566d4923";
    for (method, path) in [
        ("GET", "/api/v3/balance".to_owned()),
        ("POST", "/api/v3/predictions".to_owned()),
        ("POST", "/api/v3/predictions/delete".to_owned()),
        ("POST", "/api/v3/model/pricing".to_owned()),
        ("GET", "/api/v3/models".to_owned()),
        ("POST", "/api/v3/media/uploads".to_owned()),
        ("POST", "/api/v3/kwaivgi/kling-v2/ai-multi-shot".to_owned()),
        ("POST", "/api/v3/bytedance/seedream-v4".to_owned()),
        ("GET", "/api/v3/webhook/secret".to_owned()),
        ("GET", poll_path(real_id)),
        ("GET", poll_path("..%2F..%2Fbalance")),
        ("GET", "/api/v3/predictions/x/result/extra".to_owned()),
        ("GET", "/outputs/shot-1.mp4".to_owned()),
        ("GET", "/".to_owned()),
    ] {
        let request = browser().request(
            method.parse().expect("a method"),
            format!("{}{path}", proxy.url),
        );
        let refused = answer(request.send().await.expect("the proxy answers")).await;
        assert_eq!(refused.status, 404, "{method} {path}: {}", refused.text);
    }
    // A submit with a webhook in the query goes without it.
    let with_query = answer(
        browser()
            .post(format!(
                "{}{SUBMIT}?webhook=https://evil.example/hook",
                proxy.url
            ))
            .header("Content-Type", "application/json")
            .body(image().to_string())
            .send()
            .await
            .expect("the proxy answers"),
    )
    .await;
    assert_eq!(with_query.status, 200);
    let log = fake.log().await;
    assert_eq!(log.len(), before + 1, "{log:?}");
    assert_eq!(log[before]["kind"], "submit");
    assert!(!log.iter().any(|e| e.to_string().contains("webhook")));
    proxy.stop().await;
}

#[tokio::test]
async fn uploads_outside_the_rules_are_refused_before_wavespeed_sees_them() {
    let fake = Fake::start().await;
    let proxy = Proxy::start(&fake.url, &["--uploads-per-ip-per-hour", "100"]).await;
    let over = multishot_rules::rules::MAX_FILE_BYTES as usize + 1;
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "10 MiB + 1",
            png(800, 600, over),
            422,
            "File size: The file is 10.0 MB (10,485,761 bytes)",
        ),
        ("12 MiB", png(800, 600, 12 << 20), 413, "File size"),
        (
            "text",
            b"hello, this is not an image".to_vec(),
            422,
            "File type",
        ),
        (
            "svg",
            b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>".to_vec(),
            422,
            "File type",
        ),
        ("empty", Vec::new(), 422, "File type"),
        ("too small", png(200, 200, 2048), 422, "Minimum size"),
        ("too wide", png(3000, 1000, 2048), 422, "Aspect ratio"),
        ("a bomb", png(20_000, 20_000, 2048), 422, "Readable image"),
        (
            "cut short",
            b"\x89PNG\r\n\x1a\n\0\0".to_vec(),
            422,
            "Readable image",
        ),
    ];
    for (what, bytes, status, rule) in cases {
        let sent = browser()
            .post(format!("{}{UPLOAD}", proxy.url))
            .multipart(file_form(bytes, "photo.png"))
            .send()
            .await;
        // A body declared too large is refused before it is read, while the client is
        // still sending it. The binary's server answers and then reads on; workerd (the
        // Worker's local runtime) closes the connection at once, and the client's kernel
        // drops the unread reply on the reset — or, when the reset comes while it still
        // writes, the client has no reply at all (a broken pipe: seen on a busy machine).
        // Against workerd the status is then what the client has, if any; the reply is
        // checked here in the binary, and by hand with curl, which reads it, against
        // workerd (docs/worker.md). Nothing of it reaches WaveSpeed in either (below).
        let refused = match sent {
            Ok(reply) => answer(reply).await,
            Err(e) if support::in_worker() && status == 413 && e.is_request() => continue,
            Err(e) => panic!("the proxy answers ({what}): {e:?}"),
        };
        assert_eq!(refused.status, status, "{what}: {}", refused.text);
        if support::in_worker() && status == 413 && refused.text.is_empty() {
            continue;
        }
        let message = refused.json["message"].as_str().unwrap_or_default();
        assert!(message.starts_with(rule), "{what}: {message}");
    }
    // Not a form, or a form without `file`.
    let not_a_form = answer(
        browser()
            .post(format!("{}{UPLOAD}", proxy.url))
            .body(png(800, 600, 1024))
            .send()
            .await
            .expect("the proxy answers"),
    )
    .await;
    assert_eq!(not_a_form.status, 400);
    let no_file = answer(
        browser()
            .post(format!("{}{UPLOAD}", proxy.url))
            .multipart(reqwest::multipart::Form::new().text("image", "x"))
            .send()
            .await
            .expect("the proxy answers"),
    )
    .await;
    assert_eq!(no_file.status, 400);
    assert!(
        fake.kinds("upload").await.is_empty(),
        "an upload reached WaveSpeed"
    );
    // An inline image in the submit is held to the same rules.
    use base64::Engine as _;
    let inline = |bytes: &[u8]| json!({"image": format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes))});
    let refused = submit(&proxy, inline(&png(299, 600, 1024))).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(refused.json["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("Minimum size")));
    let refused = submit(&proxy, json!({"image": "javascript:alert(1)"})).await;
    assert_eq!(refused.status, 400);
    assert!(
        fake.kinds("submit").await.is_empty(),
        "a bad submit reached WaveSpeed"
    );
    let accepted = submit(&proxy, inline(&png(300, 750, 1024))).await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    proxy.stop().await;
}

#[tokio::test]
async fn forged_and_expired_tokens_read_nothing() {
    let fake = Fake::start().await;
    let proxy = Proxy::start(&fake.url, &[]).await;
    let submitted = submit(&proxy, image()).await;
    let token = submitted.json["data"]["id"]
        .as_str()
        .expect("a token")
        .to_owned();
    let id = token.split('.').nth(1).expect("an id").to_owned();
    let now = support::wall_clock_ms() / 1000;
    let expired = Signer::new(SECRET.as_bytes())
        .sign(&id, now - LIFETIME_S - 60)
        .expect("an id");
    let other_secret = Signer::new(b"someone else's secret, 32 bytes long")
        .sign(&id, now)
        .expect("an id");
    let parts: Vec<&str> = token.split('.').collect();
    let later = format!("v1.{}.{}.{}", parts[1], now + 365 * 86_400, parts[3]);
    let polls_before = fake.kinds("poll").await.len();
    for forged in [
        expired,
        other_secret,
        later,
        id.clone(),
        format!("{token}x"),
    ] {
        let refused = poll(&proxy, &forged).await;
        assert_eq!(refused.status, 404, "{forged}");
        assert_eq!(refused.json["message"], "task not found");
    }
    assert_eq!(
        fake.kinds("poll").await.len(),
        polls_before,
        "a forged token reached WaveSpeed"
    );
    assert_eq!(poll(&proxy, &token).await.status, 200);
    proxy.stop().await;
}

#[tokio::test]
async fn the_budget_is_reserved_before_the_submit_and_a_failed_task_gives_it_back() {
    let fake = Fake::start().await;
    // $0.21 a day at $0.07 a run: three runs.
    let proxy = budget_proxy(&fake, "0.21", &[]).await;
    for _ in 0..3 {
        let accepted = submit(&proxy, image()).await;
        assert_eq!(accepted.status, 200, "{}", accepted.text);
    }
    let refused = submit(&proxy, image()).await;
    assert_eq!(refused.status, 429);
    assert_eq!(
        refused.json["message"],
        "This site's daily budget is used up; it resets at 00:00 UTC."
    );
    assert_eq!(refused.json["reason"], "daily_budget");
    let retry: u64 = refused
        .headers
        .split("\"retry-after\": \"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .and_then(|r| r.parse().ok())
        .expect("a Retry-After");
    assert!((1..=86_400).contains(&retry), "{retry}");
    assert_eq!(
        fake.kinds("submit").await.len(),
        3,
        "a submit beyond the cap reached WaveSpeed"
    );

    proxy.stop().await;

    // WaveSpeed refunds a failed task, and so does the budget — once.
    fake.scenario(json!({"statuses": ["failed"], "error": "content policy"}))
        .await;
    // A fresh proxy (in memory: a fresh budget) with room for one run.
    let proxy = budget_proxy(&fake, "0.07", &[]).await;
    let accepted = submit(&proxy, image()).await;
    assert_eq!(accepted.status, 200);
    let token = accepted.json["data"]["id"]
        .as_str()
        .expect("a token")
        .to_owned();
    assert_eq!(
        submit(&proxy, image()).await.status,
        429,
        "the one run is reserved"
    );
    let failed = poll(&proxy, &token).await;
    assert_eq!(failed.json["data"]["status"], "failed");
    assert_eq!(failed.json["data"]["error"], "content policy");
    // Seen failed twice: refunded once.
    poll(&proxy, &token).await;
    assert_eq!(
        submit(&proxy, image()).await.status,
        200,
        "the refund made room for one run"
    );
    assert_eq!(submit(&proxy, image()).await.status, 429, "and only one");
    proxy.stop().await;
}

async fn quota(proxy: &Proxy, visitor: &str) -> support::Answer {
    answer(
        browser()
            .get(format!("{}/quota", proxy.url))
            .header("X-Forwarded-For", visitor)
            .send()
            .await
            .expect("the proxy answers"),
    )
    .await
}

#[tokio::test]
async fn quota_tells_a_visitor_the_price_and_runs_left_and_takes_nothing() {
    let fake = Fake::start().await;
    fake.scenario(json!({"unit_price": 0.1})).await;
    // $0.35 a day at WaveSpeed's $0.10: three runs for the site; two an hour a visitor.
    let proxy = Proxy::start(
        &fake.url,
        &[
            "--daily-budget-usd",
            "0.35",
            "--runs-per-ip-per-hour",
            "2",
            "--trust-proxy",
            "127.0.0.1",
        ],
    )
    .await;
    let run_as = |ip: &'static str| {
        let request = browser()
            .post(format!("{}{SUBMIT}", proxy.url))
            .header("Content-Type", "application/json")
            .header("X-Forwarded-For", ip)
            .body(image().to_string());
        async move { request.send().await.expect("answer").status() }
    };
    let first = quota(&proxy, "203.0.113.7").await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert!(
        first.headers.contains(ORIGIN),
        "CORS for the page: {}",
        first.headers
    );
    assert!(
        first.text.starts_with(r#"{"unit_price":0.10,"#),
        "the price as its exact decimal: {}",
        first.text
    );
    assert_eq!(
        first.json,
        json!({"unit_price": 0.10, "currency": "USD", "runs_left": 2,
               "visitor": {"runs_left": 2, "per_hour": 2, "runs_left_today": 20, "per_day": 20},
               "site": {"runs_left_today": 3, "runs_left_now": 3},
               "message": null, "reason": null, "retry_after_s": null})
    );
    assert_eq!(
        quota(&proxy, "203.0.113.7").await.json,
        first.json,
        "asking takes nothing"
    );
    assert_eq!(run_as("203.0.113.7").await, 200);
    let after_one = quota(&proxy, "203.0.113.7").await.json;
    assert_eq!(after_one["runs_left"], 1);
    assert_eq!(after_one["site"]["runs_left_today"], 2);
    assert_eq!(run_as("203.0.113.7").await, 200);
    // This visitor's hour is used up; another's is not, and the site has one run left.
    let used_up = quota(&proxy, "203.0.113.7").await.json;
    assert_eq!(used_up["runs_left"], 0);
    assert_eq!(used_up["reason"], "run_rate");
    assert!(
        used_up["message"].as_str().is_some_and(|m| m.starts_with(
            "You have reached this site's limit of 2 generations an hour; try again in 30 min"
        )),
        "{used_up}"
    );
    assert_eq!(used_up["retry_after_s"], 1800);
    let other = quota(&proxy, "198.51.100.1").await.json;
    assert_eq!(
        other["runs_left"], 1,
        "the site's one run is the lower limit"
    );
    assert_eq!(other["visitor"]["runs_left"], 2);
    assert_eq!(run_as("198.51.100.1").await, 200);
    // The site's day is spent: every visitor reads the budget's sentence.
    let spent = quota(&proxy, "192.0.2.9").await.json;
    assert_eq!(spent["runs_left"], 0);
    assert_eq!(spent["reason"], "daily_budget");
    assert_eq!(
        spent["message"],
        "This site's daily budget is used up; it resets at 00:00 UTC."
    );
    assert_eq!(fake.kinds("submit").await.len(), 3);
    assert!(!first.text.contains(KEY) && !first.headers.contains(KEY));
    proxy.stop().await;

    // Paused: nothing left, with the owner's sentence.
    let paused = Proxy::start(&fake.url, &["--paused"]).await;
    let answer = quota(&paused, "203.0.113.7").await;
    assert_eq!(answer.json["runs_left"], 0);
    assert_eq!(answer.json["reason"], "paused");
    paused.stop().await;
}

#[tokio::test]
async fn visitors_are_limited_one_by_one_behind_a_trusted_proxy() {
    let fake = Fake::start().await;
    let proxy = Proxy::start(
        &fake.url,
        &[
            "--runs-per-ip-per-hour",
            "2",
            "--runs-per-minute",
            "100",
            "--trust-proxy",
            "127.0.0.1",
        ],
    )
    .await;
    let image = image().to_string();
    for _ in 0..2 {
        assert_eq!(submit_as(&proxy, "203.0.113.7", &image).await.status, 200);
    }
    let third = submit_as(&proxy, "203.0.113.7", &image).await;
    assert_eq!(third.status, 429);
    assert_eq!(third.json["reason"], "run_rate");
    assert!(
        third.json["message"]
            .as_str()
            .is_some_and(|m| m.starts_with(
                "You have reached this site's limit of 2 generations an hour; try again in 30 min"
            )),
        "{}",
        third.text
    );
    // Another visitor, and the same /64 of IPv6 counted as one.
    for (visitor, status) in [
        ("198.51.100.1", 200),
        ("2001:db8:1:2::1", 200),
        ("2001:db8:1:2::ffff", 200),
        ("2001:db8:1:2:abcd::9", 429),
    ] {
        assert_eq!(
            submit_as(&proxy, visitor, &image).await.status,
            status,
            "{visitor}"
        );
    }
    proxy.stop().await;
}

#[tokio::test]
async fn wavespeed_errors_read_right_and_release_the_budget_only_when_no_task_was_made() {
    let fake = Fake::start().await;
    let proxy = budget_proxy(&fake, "0.07", &["--upstream-timeout-s", "1"]).await;
    fake.scenario(json!({"faults": {"submit": [
        {"status": 401, "message": "Invalid API key wsk_live_CANARY0123456789abcdef"},
        {"status": 402, "message": "Insufficient balance"},
        {"code": 403, "message": "role"},
        {"status": 429, "retry_after": "17"},
        {"status": 503},
        {"status": 400, "message": "image could not be downloaded"},
    ]}}))
    .await;
    let unavailable =
        "The generator on this site is unavailable right now; your image was not charged.";
    for (status, reason, message) in [
        (502, "upstream_refused", unavailable.to_owned()),
        (502, "upstream_refused", unavailable.to_owned()),
        (502, "upstream_refused", unavailable.to_owned()),
        (
            429,
            "upstream_busy",
            "The generator is busy right now; try again in 17 s.".to_owned(),
        ),
        (
            502,
            "upstream_error",
            "WaveSpeed had a problem (HTTP 503); try again.".to_owned(),
        ),
        (
            400,
            "upstream_rejected",
            "WaveSpeed refused the request: image could not be downloaded".to_owned(),
        ),
    ] {
        let answer = submit(&proxy, image()).await;
        assert_eq!(answer.status, status, "{}", answer.text);
        assert_eq!(answer.json["reason"], reason);
        assert_eq!(answer.json["message"], message.as_str());
        assert!(!answer.text.contains("CANARY"));
    }
    // Each of those made no task: the one run of budget is still there.
    assert_eq!(submit(&proxy, image()).await.status, 200);
    proxy.stop().await;

    // No reply in time: the task may exist, so the reservation stays.
    let proxy = budget_proxy(&fake, "0.07", &["--upstream-timeout-s", "1"]).await;
    fake.scenario(json!({"faults": {"submit": [{"delay_ms": 2500}]}}))
        .await;
    let late = submit(&proxy, image()).await;
    assert_eq!(late.status, 504, "{}", late.text);
    assert_eq!(late.json["reason"], "upstream_timeout");
    let after = submit(&proxy, image()).await;
    assert_eq!(
        after.status, 429,
        "the unanswered run stays counted: {}",
        after.text
    );
    proxy.stop().await;
}

#[tokio::test]
async fn paused_refuses_submits_and_uploads_but_answers_polls() {
    let fake = Fake::start().await;
    let running = Proxy::start(&fake.url, &[]).await;
    let token = submit(&running, image()).await.json["data"]["id"]
        .as_str()
        .expect("a token")
        .to_owned();
    running.stop().await;
    // Another instance, paused, with the same secret: a restart orphans nothing.
    let paused = Proxy::start(&fake.url, &["--paused"]).await;
    let refused = submit(&paused, image()).await;
    assert_eq!(refused.status, 503);
    assert_eq!(refused.json["reason"], "paused");
    let upload = answer(
        browser()
            .post(format!("{}{UPLOAD}", paused.url))
            .multipart(file_form(png(800, 600, 1024), "a.png"))
            .send()
            .await
            .expect("answer"),
    )
    .await;
    assert_eq!(upload.status, 503);
    assert_eq!(poll(&paused, &token).await.status, 200);
    assert_eq!(fake.kinds("submit").await.len(), 1);
    paused.stop().await;
}

#[tokio::test]
async fn polls_are_rate_limited_per_visitor() {
    let fake = Fake::start().await;
    let proxy = Proxy::start(&fake.url, &["--polls-per-ip-per-second", "3"]).await;
    let token = submit(&proxy, image()).await.json["data"]["id"]
        .as_str()
        .expect("a token")
        .to_owned();
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(poll(&proxy, &token).await.status);
    }
    assert_eq!(&statuses[..3], &[200, 200, 200]);
    assert!(statuses[3..].contains(&429), "{statuses:?}");
    proxy.stop().await;
}

#[tokio::test]
async fn health_and_metrics() {
    let fake = Fake::start().await;
    let proxy = Proxy::start(&fake.url, &["--daily-budget-usd", "1"]).await;
    submit(&proxy, image()).await;
    let client = reqwest::Client::new();
    let health = answer(
        client
            .get(format!("{}/healthz", proxy.url))
            .send()
            .await
            .expect("answer"),
    )
    .await;
    assert_eq!(
        health.json,
        json!({"status": "ok", "store": "ok", "paused": false})
    );
    let metrics = answer(
        client
            .get(format!("{}/metrics", proxy.url))
            .send()
            .await
            .expect("answer"),
    )
    .await;
    for line in [
        "multishot_proxy_submits_total{outcome=\"accepted\"} 1",
        "multishot_proxy_requests_total{route=\"submit\",status=\"200\"} 1",
        "multishot_proxy_spend_reserved_micro_usd{period=\"day\"} 70000",
        "multishot_proxy_budget_micro_usd{period=\"day\"} 1000000",
        "multishot_proxy_price_micro_usd 70000",
        "multishot_proxy_upstream_seconds_count{route=\"submit\"} 1",
    ] {
        assert!(
            metrics.text.lines().any(|l| l == line),
            "{line} in\n{}",
            metrics.text
        );
    }
    assert!(!metrics.text.contains(KEY));
    proxy.stop().await;
}

#[tokio::test]
async fn the_price_comes_from_wavespeed_exactly_or_from_the_flag() {
    let fake = Fake::start().await;
    fake.scenario(json!({"unit_price": 0.35})).await;
    // $0.70 a day: two runs at WaveSpeed's $0.35, not ten at the flag's $0.07.
    let proxy = budget_proxy(&fake, "0.70", &[]).await;
    assert_eq!(submit(&proxy, image()).await.status, 200);
    assert_eq!(submit(&proxy, image()).await.status, 200);
    assert_eq!(submit(&proxy, image()).await.status, 429);
    proxy.stop().await;
    // Pricing fails: the flag's price.
    fake.scenario(json!({"faults": {"pricing": [{"status": 500}]}}))
        .await;
    let proxy = budget_proxy(&fake, "0.70", &["--price-usd", "0.35"]).await;
    assert_eq!(submit(&proxy, image()).await.status, 200);
    assert_eq!(submit(&proxy, image()).await.status, 200);
    assert_eq!(submit(&proxy, image()).await.status, 429);
    proxy.stop().await;
}

#[tokio::test]
async fn a_finished_tasks_shots_are_passed_on_from_this_origin_without_the_key() {
    let fake = Fake::start().await;
    // The output server allows no CORS read: the proxy is how a page gets the bytes.
    fake.scenario(json!({"outputs_without_cors": true})).await;
    let proxy = Proxy::start(&fake.url, &["--polls-per-ip-per-second", "100"]).await;
    let token = submit(&proxy, image()).await.json["data"]["id"]
        .as_str()
        .expect("a token")
        .to_owned();
    let output = |n: &str, token: &str| {
        browser()
            .get(format!(
                "{}/api/v3/predictions/{token}/outputs/{n}",
                proxy.url
            ))
            .send()
    };
    // Not finished yet (the fake's first poll says "created"): no shot.
    let early = answer(output("1", &token).await.expect("an answer")).await;
    assert_eq!(
        (early.status, early.json["message"].as_str()),
        (404, Some("no such shot"))
    );
    while poll(&proxy, &token).await.json["data"]["status"] != "completed" {}

    let shot = output("2", &token).await.expect("an answer");
    assert_eq!(shot.status(), 200);
    let headers = shot.headers().clone();
    assert_eq!(headers["content-type"], "video/mp4");
    assert_eq!(headers["access-control-allow-origin"], ORIGIN);
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"shot-2\""
    );
    let bytes = shot.bytes().await.expect("the shot");
    let expected = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fake-wavespeed/media/shot-2.mp4"
    ))
    .expect("the sample shot");
    assert_eq!(
        bytes.as_ref(),
        expected.as_slice(),
        "the shot's bytes, whole"
    );

    // The output server was asked without the key; the API with it.
    let log = fake.log().await;
    let reads: Vec<&Value> = log.iter().filter(|e| e["kind"] == "output").collect();
    assert_eq!(reads.len(), 1);
    assert!(
        reads
            .iter()
            .all(|e| e["authorization"].is_null() || e["authorization"] == ""),
        "{reads:?}"
    );

    // No such shot, a forged token, a path that is not a number: nothing fetched.
    for (n, t) in [
        ("0", token.as_str()),
        ("4", &token),
        ("17", &token),
        ("x", &token),
        ("1", "v1.forged"),
    ] {
        let refused = answer(output(n, t).await.expect("an answer")).await;
        assert_eq!(refused.status, 404, "{n} {t}");
    }
    assert_eq!(fake.kinds("output").await.len(), 1, "nothing else was read");

    // Another origin gets nothing.
    let stranger = reqwest::Client::new()
        .get(format!(
            "{}/api/v3/predictions/{token}/outputs/1",
            proxy.url
        ))
        .header("Origin", "https://elsewhere.example")
        .send()
        .await
        .expect("an answer");
    assert_eq!(stranger.status(), 403);
    proxy.stop().await;
}

#[tokio::test]
async fn an_output_that_is_not_a_web_address_is_never_fetched() {
    let fake = Fake::start().await;
    fake.scenario(json!({"outputs": ["file:///etc/passwd", "ftp://x.example/1.mp4", "AAAA"]}))
        .await;
    let proxy = Proxy::start(&fake.url, &["--polls-per-ip-per-second", "100"]).await;
    let token = submit(&proxy, image()).await.json["data"]["id"]
        .as_str()
        .expect("a token")
        .to_owned();
    while poll(&proxy, &token).await.json["data"]["status"] != "completed" {}
    for n in 1..=3 {
        let refused = answer(
            browser()
                .get(format!(
                    "{}/api/v3/predictions/{token}/outputs/{n}",
                    proxy.url
                ))
                .send()
                .await
                .expect("an answer"),
        )
        .await;
        assert_eq!(refused.status, 404, "output {n}");
    }
    proxy.stop().await;
}

#[tokio::test]
async fn a_task_id_of_another_shape_than_todays_is_signed_polled_and_settled() {
    // WaveSpeed's ids are 32 lowercase hex today. One the page would take in another
    // shape (capitals, dots, underscores) was refused here with 502 "the run may have
    // been made", its reservation kept: every run would fail the day the ids change.
    let fake = Fake::start().await;
    let proxy = budget_proxy(&fake, "0.07", &[]).await;
    fake.scenario(json!({"task_id": "Task_2026.12.07-0001", "statuses": ["failed"]}))
        .await;
    let submitted = submit(&proxy, image()).await;
    assert_eq!(submitted.status, 200, "{}", submitted.text);
    let token = submitted.json["data"]["id"].as_str().expect("a token");
    assert!(
        multishot_rules::task_id::is_task_ref(token),
        "the page takes it: {token}"
    );
    assert_eq!(token.split('.').nth(1), Some("Task_2026"), "{token}");
    let polled = poll(&proxy, token).await;
    assert_eq!(polled.status, 200, "{}", polled.text);
    assert_eq!(polled.json["data"]["id"], token);
    assert_eq!(polled.json["data"]["status"], "failed");
    // Failed, so refunded: the one run of budget is there again.
    assert_eq!(submit(&proxy, image()).await.status, 200);
    proxy.stop().await;
}

#[tokio::test]
async fn a_run_that_did_not_start_is_not_counted_against_the_visitor() {
    let fake = Fake::start().await;
    let proxy = Proxy::start(
        &fake.url,
        &[
            "--runs-per-ip-per-hour",
            "1",
            "--daily-budget-usd",
            "0.07",
            "--polls-per-ip-per-second",
            "10",
            "--trust-proxy",
            "127.0.0.1",
        ],
    )
    .await;
    let image = image().to_string();
    // Refused for its body, and refused by WaveSpeed (no task made): none of it is a run.
    for malformed in [r#"{"image": 5}"#, r#"{"image": "x", "prompt": "y"}"#] {
        let refused = submit_as(&proxy, "203.0.113.1", malformed).await;
        assert!(matches!(refused.status, 400 | 422), "{}", refused.text);
    }
    fake.scenario(json!({"faults": {"submit": [
        {"status": 503},
        {"status": 400, "message": "image could not be downloaded"},
    ]}}))
    .await;
    assert_eq!(submit_as(&proxy, "203.0.113.1", &image).await.status, 502);
    let rejected = submit_as(&proxy, "203.0.113.1", &image).await;
    assert_eq!(rejected.status, 400, "{}", rejected.text);
    assert_eq!(
        quota(&proxy, "203.0.113.1").await.json["visitor"]["runs_left"],
        1
    );
    // The visitor's one run of the hour: it starts, and it is counted.
    let ran = submit_as(&proxy, "203.0.113.1", &image).await;
    assert_eq!(ran.status, 200, "{}", ran.text);
    let again = submit_as(&proxy, "203.0.113.1", &image).await;
    assert_eq!(again.json["reason"], "run_rate", "{}", again.text);

    // The site's budget refuses another visitor: their run is not counted either.
    let over_budget = submit_as(&proxy, "203.0.113.2", &image).await;
    assert_eq!(
        over_budget.json["reason"], "daily_budget",
        "{}",
        over_budget.text
    );
    assert_eq!(
        quota(&proxy, "203.0.113.2").await.json["visitor"]["runs_left"],
        1
    );

    // A flood of malformed submits is still held to the visitor's requests a second.
    let mut flood = Vec::new();
    for _ in 0..40 {
        flood.push(submit_as(&proxy, "203.0.113.3", r#"{"image": 5}"#).await);
    }
    let slowed = flood.iter().filter(|a| a.status == 429).count();
    assert!(slowed >= 20, "{slowed} of 40 held back");
    assert!(flood
        .iter()
        .filter(|a| a.status == 429)
        .all(|a| a.json["reason"] == "submit_rate"));
    assert_eq!(
        fake.kinds("submit").await.len(),
        3,
        "what reached WaveSpeed"
    );
    proxy.stop().await;
}

/// Sends a submit whose body stops after `sent` of the `declared` bytes, then closes
/// the sending half (a client that went away); returns the proxy's answer as text.
async fn half_a_body(proxy: &Proxy, declared: usize, sent: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = proxy.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("the proxy listens");
    let head = format!(
        "POST {SUBMIT} HTTP/1.1\r\nHost: {address}\r\nOrigin: {ORIGIN}\r\n\
         Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("sent");
    stream
        .write_all(&b"{\"image\": \"".repeat(sent / 11 + 1)[..sent])
        .await
        .expect("sent");
    stream.shutdown().await.expect("closed for writing");
    let mut reply = String::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_string(&mut reply),
    )
    .await;
    reply
}

#[tokio::test]
async fn a_body_that_stops_short_is_not_too_large() {
    let fake = Fake::start().await;
    let proxy = budget_proxy(&fake, "1", &[]).await;
    // Every body error was "413 too large", a client that went away included.
    let short = half_a_body(&proxy, 5000, 100).await;
    assert!(short.starts_with("HTTP/1.1 400"), "{short}");
    assert!(short.contains("\"reason\":\"incomplete\""), "{short}");
    // One that is too large still is.
    let large = half_a_body(&proxy, 16 * 1024 * 1024, 1000).await;
    assert!(large.starts_with("HTTP/1.1 413"), "{large}");
    assert!(large.contains("\"reason\":\"too_large\""), "{large}");
    // And one of no declared length that runs over the limit as it arrives.
    let streamed = answer(
        browser()
            .post(format!("{}{SUBMIT}", proxy.url))
            .header("Content-Type", "application/json")
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                (0..17).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024 * 1024])),
            )))
            .send()
            .await
            .expect("the proxy answers"),
    )
    .await;
    assert_eq!(streamed.status, 413, "{}", streamed.text);
    let metrics = reqwest::get(format!("{}/metrics", proxy.url))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for line in [
        "multishot_proxy_requests_total{route=\"submit\",status=\"400\"} 1",
        "multishot_proxy_requests_total{route=\"submit\",status=\"413\"} 2",
        "multishot_proxy_submits_total{outcome=\"refused\"} 3",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
    assert!(fake.kinds("submit").await.is_empty());
    proxy.stop().await;
}

/// Submits from 200 visitors at once against a site-wide limit of 5 runs a minute:
/// exactly 5 reach WaveSpeed, the rest read the burst's sentence, nothing else is
/// charged to those visitors, and `/quota` and `/metrics` show it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_starts_no_more_than_the_burst_limit() {
    let fake = Fake::start().await;
    let proxy = Proxy::start(
        &fake.url,
        &[
            "--daily-budget-usd",
            "100",
            "--runs-per-ip-per-hour",
            "100",
            "--polls-per-ip-per-second",
            "100",
            "--runs-per-minute",
            "5",
            "--trust-proxy",
            "127.0.0.1",
        ],
    )
    .await;
    let image = image().to_string();
    let mut flood = Vec::new();
    for i in 0..200 {
        let url = proxy.url.clone();
        let image = image.clone();
        flood.push(tokio::spawn(async move {
            answer(
                browser()
                    .post(format!("{url}{SUBMIT}"))
                    .header("Content-Type", "application/json")
                    .header(
                        "X-Forwarded-For",
                        format!("198.51.{}.{}", i / 250, i % 250 + 1),
                    )
                    .body(image)
                    .send()
                    .await
                    .expect("the proxy answers"),
            )
            .await
        }));
    }
    let mut accepted = 0;
    for request in flood {
        let answer = request.await.expect("a request");
        match answer.status {
            200 => accepted += 1,
            429 => {
                assert_eq!(answer.json["reason"], "burst", "{}", answer.text);
                assert!(
                    answer.json["message"]
                        .as_str()
                        .is_some_and(|m| m.starts_with(
                            "This site is starting many generations right now; try again in"
                        )),
                    "{}",
                    answer.text
                );
                assert!(answer.headers.contains("retry-after"), "{}", answer.headers);
            }
            other => panic!("unexpected {other}: {}", answer.text),
        }
    }
    assert_eq!(accepted, 5);
    assert_eq!(fake.kinds("submit").await.len(), 5);
    // A refused visitor's own hour and day were given back; the site has none left now.
    let refused = quota(&proxy, "198.51.0.200").await.json;
    assert_eq!(refused["runs_left"], 0, "{refused}");
    assert_eq!(refused["reason"], "burst");
    assert_eq!(refused["site"]["runs_left_now"], 0);
    assert_eq!(refused["visitor"]["runs_left"], 20, "{refused}");
    assert_eq!(refused["visitor"]["runs_left_today"], 20, "{refused}");
    let metrics = reqwest::get(format!("{}/metrics", proxy.url))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for line in [
        "multishot_proxy_limits_hit_total{limit=\"burst\"} 195",
        "multishot_proxy_burst_runs_left 0",
        "multishot_proxy_run_limit{limit=\"burst_at_once\"} 5",
        "multishot_proxy_run_limit{limit=\"burst_every_ms\"} 12000",
        "multishot_proxy_submits_total{outcome=\"refused\"} 195",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
    proxy.stop().await;
}

/// A visitor's runs a day (`--runs-per-ip-per-day`) beside their runs an hour.
#[tokio::test]
async fn a_visitor_has_runs_a_day_beside_runs_an_hour() {
    let fake = Fake::start().await;
    let proxy = budget_proxy(
        &fake,
        "100",
        &["--runs-per-ip-per-day", "2", "--trust-proxy", "127.0.0.1"],
    )
    .await;
    let image = image().to_string();
    let fresh = quota(&proxy, "203.0.113.5").await.json;
    assert_eq!(
        fresh["runs_left"], 2,
        "the day's limit is the lower: {fresh}"
    );
    assert_eq!(fresh["visitor"]["runs_left_today"], 2);
    assert_eq!(fresh["visitor"]["per_day"], 2);
    for _ in 0..2 {
        assert_eq!(submit_as(&proxy, "203.0.113.5", &image).await.status, 200);
    }
    let third = submit_as(&proxy, "203.0.113.5", &image).await;
    assert_eq!(third.status, 429, "{}", third.text);
    assert_eq!(third.json["reason"], "run_day");
    assert!(
        third.json["message"]
            .as_str()
            .is_some_and(|m| m.starts_with(
                "You have reached this site's limit of 2 generations a day; try again in 12 h"
            )),
        "{}",
        third.text
    );
    let used_up = quota(&proxy, "203.0.113.5").await.json;
    assert_eq!(used_up["runs_left"], 0);
    assert_eq!(used_up["reason"], "run_day");
    assert_eq!(used_up["message"], third.json["message"]);
    // The refusal took nothing from the visitor's hour.
    assert_eq!(used_up["visitor"]["runs_left_today"], 0);
    assert_eq!(submit_as(&proxy, "198.51.100.5", &image).await.status, 200);
    assert_eq!(fake.kinds("submit").await.len(), 3);
    proxy.stop().await;
}

/// Cloudflare's test secrets, honoured by the fake's siteverify.
const PASSES: &str = "1x0000000000000000000000000000000AA";
const FAILS: &str = "2x0000000000000000000000000000000AA";
const SPENT: &str = "3x0000000000000000000000000000000AA";

/// A token the stand-in widget issues on this test's page (`127.0.0.1`).
fn token(n: u32) -> String {
    format!("stand-in~127.0.0.1~multishot_generate~{n}")
}

/// A proxy with the bot check on, verifying at the fake with `secret`.
async fn checked_proxy(fake: &Fake, secret: &str) -> Proxy {
    checked_proxy_with(fake, secret, &[]).await
}

/// The same, with more flags (`--redis …`).
async fn checked_proxy_with(fake: &Fake, secret: &str, more: &[&str]) -> Proxy {
    let verify = format!("{}/turnstile/v0/siteverify", fake.url);
    let mut flags = vec![
        "--turnstile-secret",
        secret,
        "--turnstile-sitekey",
        "1x00000000000000000000AA",
        "--turnstile-verify-url",
        &verify,
        "--runs-per-minute",
        "1000",
        "--polls-per-ip-per-second",
        "100",
    ];
    flags.extend_from_slice(more);
    Proxy::start(&fake.url, &flags).await
}

/// A submit with these headers.
async fn submit_with(proxy: &Proxy, headers: &[(&str, &str)], body: &str) -> support::Answer {
    let mut request = browser()
        .post(format!("{}{SUBMIT}", proxy.url))
        .header("Content-Type", "application/json")
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    answer(request.send().await.expect("the proxy answers")).await
}

#[tokio::test]
async fn with_the_bot_check_a_token_runs_once_and_nothing_else_runs() {
    a_token_runs_once_and_nothing_else_runs(&[]).await;
}

/// The same against Redis: every refusal takes nothing from the shared budget either.
/// (The binary's store: the Worker's is its Durable Objects, in the test above.)
#[tokio::test]
async fn with_the_bot_check_against_redis_a_token_runs_once_and_nothing_else_runs() {
    if support::in_worker() {
        return;
    }
    let redis = support::Redis::start().await;
    a_token_runs_once_and_nothing_else_runs(&["--redis", &redis.url, "--redis-prefix", "bot:"])
        .await;
    redis.stop().await;
}

async fn a_token_runs_once_and_nothing_else_runs(store: &[&str]) {
    let fake = Fake::start().await;
    let proxy = checked_proxy_with(&fake, PASSES, store).await;
    let image = image().to_string();
    let before = quota(&proxy, "127.0.0.1").await.json;
    assert_eq!(before["turnstile_sitekey"], "1x00000000000000000000AA");
    // The page may send the token (and still never Authorization).
    for (asked, allowed) in [
        ("content-type, x-turnstile-token", 204),
        ("authorization, x-turnstile-token", 403),
    ] {
        let preflight = answer(
            browser()
                .request(reqwest::Method::OPTIONS, format!("{}{SUBMIT}", proxy.url))
                .header("Access-Control-Request-Method", "POST")
                .header("Access-Control-Request-Headers", asked)
                .send()
                .await
                .expect("the proxy answers"),
        )
        .await;
        assert_eq!(preflight.status, allowed, "{asked}: {}", preflight.headers);
    }
    let refused_as = |answer: &support::Answer, why: &str| {
        assert_eq!(answer.status, 403, "{why}: {}", answer.text);
        assert_eq!(answer.json["reason"], "bot_check", "{why}");
        assert_eq!(
            answer.json["message"], "Please complete the check above and press Generate again.",
            "{why}"
        );
    };
    refused_as(&submit_with(&proxy, &[], &image).await, "no token");
    refused_as(
        &submit_with(&proxy, &[("X-Turnstile-Token", "")], &image).await,
        "an empty token",
    );
    for (bad, why) in [
        (
            "stand-in~evil.example~multishot_generate~1",
            "another site's",
        ),
        ("stand-in~127.0.0.1~login~1", "another action's"),
        ("XXXX.DUMMY.TOKEN.XXXX", "the dummy token (example.com)"),
    ] {
        refused_as(
            &submit_with(&proxy, &[("X-Turnstile-Token", bad)], &image).await,
            why,
        );
    }
    assert_eq!(
        fake.kinds("submit").await.len(),
        0,
        "nothing reached WaveSpeed"
    );
    assert_eq!(
        quota(&proxy, "127.0.0.1").await.json,
        before,
        "and nothing was taken from any limit or the budget"
    );
    // A person's token: one run; the same token again is a replay.
    let ran = submit_with(&proxy, &[("X-Turnstile-Token", &token(1))], &image).await;
    assert_eq!(ran.status, 200, "{}", ran.text);
    refused_as(
        &submit_with(&proxy, &[("X-Turnstile-Token", &token(1))], &image).await,
        "replayed",
    );
    assert_eq!(fake.kinds("submit").await.len(), 1);

    // An upload verified once: its pass covers the submit of that image, once.
    let uploaded = answer(
        browser()
            .post(format!("{}{UPLOAD}", proxy.url))
            .header("X-Turnstile-Token", token(2))
            .multipart(file_form(png(800, 600, 4096), "photo.png"))
            .send()
            .await
            .expect("the proxy answers"),
    )
    .await;
    assert_eq!(uploaded.status, 200, "{}", uploaded.text);
    assert!(
        uploaded.json["data"].get("pass").is_none(),
        "the pass stays with the proxy"
    );
    let url = uploaded.json["data"]["download_url"]
        .as_str()
        .expect("a url")
        .to_owned();
    let body = json!({"image": url}).to_string();
    let other = json!({"image": "https://images.example/other.jpg"}).to_string();
    refused_as(
        &submit_with(&proxy, &[], &other).await,
        "another image, never uploaded here",
    );
    let ran = submit_with(&proxy, &[], &body).await;
    assert_eq!(ran.status, 200, "{}", ran.text);
    refused_as(
        &submit_with(&proxy, &[], &body).await,
        "the pass taken already",
    );
    let upload_without = answer(
        browser()
            .post(format!("{}{UPLOAD}", proxy.url))
            .multipart(file_form(png(800, 600, 4096), "photo.png"))
            .send()
            .await
            .expect("the proxy answers"),
    )
    .await;
    refused_as(&upload_without, "an upload without a token");
    assert_eq!(fake.kinds("submit").await.len(), 2);
    assert_eq!(fake.kinds("upload").await.len(), 1);

    let metrics = reqwest::get(format!("{}/metrics", proxy.url))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for line in [
        "multishot_proxy_limits_hit_total{limit=\"bot_check\"} 8",
        "multishot_proxy_limits_hit_total{limit=\"bot_replay\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
    proxy.stop().await;

    // Cloudflare's secrets that always fail, and that say "already spent".
    for (secret, why) in [(FAILS, "always fails"), (SPENT, "already spent")] {
        let proxy = checked_proxy(&fake, secret).await;
        refused_as(
            &submit_with(&proxy, &[("X-Turnstile-Token", &token(3))], &image).await,
            why,
        );
        proxy.stop().await;
    }
    assert_eq!(fake.kinds("submit").await.len(), 2);
}

#[tokio::test]
async fn siteverify_down_or_slow_fails_closed_with_its_own_sentence() {
    let fake = Fake::start().await;
    let proxy = checked_proxy(&fake, PASSES).await;
    let image = image().to_string();
    fake.scenario(json!({"faults": {"siteverify": [{"status": 503}, {"delay_ms": 5000}]}}))
        .await;
    for why in ["down", "slow"] {
        let started = std::time::Instant::now();
        let refused = submit_with(&proxy, &[("X-Turnstile-Token", &token(10))], &image).await;
        assert_eq!(refused.status, 503, "{why}: {}", refused.text);
        assert_eq!(refused.json["reason"], "bot_check_down", "{why}");
        assert!(
            refused.json["message"].as_str().is_some_and(
                |m| m.contains("could not be completed right now; nothing was charged")
            ),
            "{}",
            refused.text
        );
        assert!(
            started.elapsed() < std::time::Duration::from_millis(4_500),
            "{why}: not waited out"
        );
    }
    assert_eq!(fake.kinds("submit").await.len(), 0);
    // Once siteverify answers again, the same token (never passed) still runs.
    let ran = submit_with(&proxy, &[("X-Turnstile-Token", &token(10))], &image).await;
    assert_eq!(ran.status, 200, "{}", ran.text);
    let metrics = reqwest::get(format!("{}/metrics", proxy.url))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics
            .lines()
            .any(|l| l == "multishot_proxy_limits_hit_total{limit=\"bot_check_down\"} 2"),
        "{metrics}"
    );
    proxy.stop().await;
}

#[tokio::test]
async fn without_the_bot_check_nothing_of_it_is_asked_or_said() {
    let fake = Fake::start().await;
    let proxy = budget_proxy(&fake, "1", &[]).await;
    let answer = quota(&proxy, "127.0.0.1").await;
    assert!(
        answer.json.get("turnstile_sitekey").is_none(),
        "{}",
        answer.text
    );
    assert_eq!(submit(&proxy, image()).await.status, 200);
    assert_eq!(fake.kinds("siteverify").await.len(), 0);
    proxy.stop().await;
}
