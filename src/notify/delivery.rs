//! Sending: one bounded request (or SMTP session) per target, one retry, and a record of
//! how it went.
//!
//! A notification must never hold up or fail the run's real work, so each target gets a
//! fixed time budget for everything (connect, send, retry), targets are sent to in
//! parallel, and every failure ends up in the returned record instead of an error.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ureq::Agent;

use super::event::{Event, EventKind};
use super::mail;
use super::message::Message;
use super::payload::{self, Method, Payload};
use crate::config::notify::{Options, Target};
pub use crate::output::Delivery;

/// Connect timeout per attempt.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Budget for one target: every attempt and the pause between them.
const TARGET_BUDGET: Duration = Duration::from_secs(10);
/// A retry is only worth it with at least this much budget left.
const MIN_RETRY_BUDGET: Duration = Duration::from_secs(1);
/// Pause before the retry.
const RETRY_PAUSE: Duration = Duration::from_millis(500);
/// How much of an error answer is kept for the message.
const MAX_ERROR_BODY: usize = 200;

/// The agent for notifications: separate from the registry's, with short timeouts and
/// HTTP statuses as answers rather than errors.
pub fn agent() -> Agent {
    Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_global(Some(TARGET_BUDGET))
        .user_agent(concat!("dum/", env!("CARGO_PKG_VERSION")))
        .max_redirects(3)
        .build()
        .new_agent()
}

/// Resolves the target's secrets, builds the service's request and sends it.
pub fn deliver(
    agent: &Agent,
    target: &Target,
    message: &Message,
    events: &[&Event],
    document: &serde_json::Value,
) -> Delivery {
    let kinds = {
        let mut kinds: Vec<EventKind> = Vec::new();
        for e in events {
            if !kinds.contains(&e.kind) {
                kinds.push(e.kind);
            }
        }
        kinds
    };
    let secrets = match target.resolve() {
        Ok(resolved) => resolved,
        Err(e) => {
            return Delivery {
                target: target.label(None),
                events: kinds,
                ok: false,
                error: Some(format!("{e:#}")),
            };
        }
    };
    let label = target.label(secrets.url.as_deref());
    let mut hidden = secrets.values();
    let request = payload::build(target, &secrets, message, events, document, &txn_id());
    let result = match (&target.options, &request) {
        (Options::Email(email), _) => {
            log::debug!("notifying {label} by SMTP");
            with_retries(|budget| mail::send(email, secrets.password.as_deref(), message, budget))
        }
        (_, Some(request)) => {
            // The request's URL may hold a secret (Telegram's token is in its path).
            hidden.push(&request.url);
            log::debug!("notifying {label} ({} bytes)", request.body.len());
            with_retries(|budget| http(agent, request, budget))
        }
        (_, None) => Err("no request for this service".into()),
    };
    Delivery {
        target: label,
        events: kinds,
        ok: result.is_ok(),
        error: result.err().map(|e| redact(&e, &hidden)),
    }
}

/// A transaction ID unique to this message: the time, the process and a counter.
/// Matrix sees a retry with the same one as the same message.
fn txn_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "dum-{now}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs `attempt` within [`TARGET_BUDGET`], once more after an error it says a retry may
/// help (a transport error, 429 or 5xx, a temporary SMTP failure).
fn with_retries(
    mut attempt: impl FnMut(Duration) -> Result<(), (bool, String)>,
) -> Result<(), String> {
    let started = Instant::now();
    let mut last = String::new();
    for round in 0..2 {
        let left = TARGET_BUDGET.saturating_sub(started.elapsed());
        if round > 0 {
            if left < MIN_RETRY_BUDGET + RETRY_PAUSE {
                break;
            }
            std::thread::sleep(RETRY_PAUSE);
        }
        let left = TARGET_BUDGET.saturating_sub(started.elapsed());
        let (retry, error) = match attempt(left) {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        last = error;
        if !retry {
            break;
        }
    }
    Err(last)
}

/// One HTTP attempt; the error says whether a retry may help.
fn http(agent: &Agent, request: &Payload, budget: Duration) -> Result<(), (bool, String)> {
    let builder = match request.method {
        Method::Post => agent.post(&request.url),
        Method::Put => agent.put(&request.url),
    };
    let mut builder = builder.config().timeout_global(Some(budget)).build();
    for (name, value) in &request.headers {
        builder = builder.header(*name, value);
    }
    let mut response = builder
        .send(&request.body[..])
        .map_err(|e| (true, e.to_string()))?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(());
    }
    let mut text = String::new();
    let _ = response
        .body_mut()
        .as_reader()
        .take(MAX_ERROR_BODY as u64 * 4)
        .read_to_string(&mut text);
    let text: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(MAX_ERROR_BODY)
        .collect();
    let retry = status == 429 || status >= 500;
    Err((
        retry,
        if text.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}: {text}")
        },
    ))
}

/// `text` with every secret replaced: transport errors may quote the URL, services may
/// quote the token.
fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    let mut secrets: Vec<&str> = secrets.iter().copied().filter(|s| !s.is_empty()).collect();
    // Longest first, so a URL is not half-replaced by a token inside it.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in secrets {
        out = out.replace(secret, "<redacted>");
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn redact_cases() {
        const CASES: &[(&str, &[&str], &str)] = &[
            ("io: refused", &["https://h/x"], "io: refused"),
            (
                "bad uri https://h/secret-path",
                &["https://h/secret-path", "secret"],
                "bad uri <redacted>",
            ),
            (
                "token tk rejected",
                &["tk", ""],
                "token <redacted> rejected",
            ),
        ];
        for (text, secrets, want) in CASES {
            assert_eq!(redact(text, secrets), *want, "{text}");
        }
    }
}
