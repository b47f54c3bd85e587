//! Push instead of poll: a plan created with a `callback_url` gets one JSON event when
//! it is done or failed, signed with HMAC-SHA256 over the exact body
//! (`X-Otaplan-Signature: sha256=<hex>`, key from `--callback-secret-file`) and retried
//! with doubling waits until the receiver answers 2xx. Only loopback hosts and the
//! hosts of `--callback-host` may be named; redirects are not followed.

use super::config::ServerConfig;
use super::error::{ApiError, cap};
use super::store::Status;
use serde::Serialize;
use std::time::Duration;

/// Checks a requested `callback_url` against the server's settings (422 otherwise).
pub fn check_url(url: &str, cfg: &ServerConfig) -> Result<(), ApiError> {
    let refuse = |why: &str| {
        ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "callback_not_allowed",
            format!("callback_url {:?}: {why}", cap(url, 200)),
        )
    };
    if cfg.callback_secret.is_none() {
        return Err(refuse(
            "this server sends no callbacks (no --callback-secret-file)",
        ));
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| refuse(&format!("not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(refuse("only http and https are supported"));
    }
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => return Err(refuse("no host")),
    };
    let host = parsed.host_str().unwrap_or_default();
    let listed = cfg
        .callback_hosts
        .iter()
        .any(|h| h.eq_ignore_ascii_case(host));
    if loopback || listed {
        Ok(())
    } else {
        Err(refuse(
            "the host is neither loopback nor allowed by --callback-host",
        ))
    }
}

/// The event a receiver gets.
#[derive(Debug, Serialize)]
struct Event<'a> {
    /// `plan.done` or `plan.failed`.
    event: String,
    plan: &'a Status,
    /// Where the plan is read.
    href: String,
}

/// `sha256=<hex>` of the body under `key`.
pub fn signature(key: &[u8], body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let tag = ring::hmac::sign(&key, body);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Posts the plan's outcome to its callback URL, retrying with doubling waits; gives up
/// (logged) after the configured attempts.
pub async fn deliver(cfg: &ServerConfig, st: &Status) {
    let (Some(url), Some(key)) = (&st.callback_url, &cfg.callback_secret) else {
        return;
    };
    let event = Event {
        event: format!("plan.{}", format!("{:?}", st.status).to_lowercase()),
        plan: st,
        href: format!("/v1/plans/{}", st.id),
    };
    let Ok(body) = serde_json::to_vec(&event) else {
        return;
    };
    let sig = signature(key, &body);
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("otaplan serve: plan {}: no HTTP client: {e}", st.id);
            return;
        }
    };
    let mut wait = cfg.callback_backoff;
    for attempt in 1..=cfg.callback_attempts.max(1) {
        let sent = client
            .post(url)
            .header("content-type", "application/json")
            .header("x-otaplan-event", &event.event)
            .header("x-otaplan-signature", &sig)
            .header("x-otaplan-delivery", format!("{}-{attempt}", st.id))
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => return,
            Ok(r) => eprintln!(
                "otaplan serve: plan {}: callback attempt {attempt} answered {}",
                st.id,
                r.status()
            ),
            Err(e) => eprintln!(
                "otaplan serve: plan {}: callback attempt {attempt} failed: {e}",
                st.id
            ),
        }
        if attempt < cfg.callback_attempts {
            tokio::time::sleep(wait).await;
            wait = wait.saturating_mul(2);
        }
    }
    eprintln!(
        "otaplan serve: plan {}: callback not delivered after {} attempts",
        st.id, cfg.callback_attempts
    );
}
