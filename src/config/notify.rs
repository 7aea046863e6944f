//! One notification target from the configuration: which service, where, with which
//! secret, for which events.
//!
//! Secrets (webhook URLs carry theirs in the path, tokens) may live in the config, in an
//! environment variable or in a file, so config.json can stay world-readable. They are
//! resolved only at send time and never printed: a target is named by its service and
//! its URL's host.

use std::fmt;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::Problem;

/// The services dum can notify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// ntfy (ntfy.sh or self-hosted): plain-text POST to a topic URL.
    Ntfy,
    /// Gotify: JSON POST to `<server>/message` with an application token.
    Gotify,
    /// Discord incoming webhook: an embed.
    Discord,
    /// Slack incoming webhook: mrkdwn text.
    Slack,
    /// Anything else: the `--format json` document plus an `events` summary.
    Webhook,
}

impl Service {
    /// Every service, in the order the README lists them.
    pub const ALL: [Service; 5] = [
        Service::Ntfy,
        Service::Gotify,
        Service::Discord,
        Service::Slack,
        Service::Webhook,
    ];

    /// The config spelling, e.g. `ntfy`.
    pub fn name(self) -> &'static str {
        match self {
            Service::Ntfy => "ntfy",
            Service::Gotify => "gotify",
            Service::Discord => "discord",
            Service::Slack => "slack",
            Service::Webhook => "webhook",
        }
    }

    /// The service named `name` in the config.
    pub fn parse(name: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Whether the service authenticates with a token (Discord and Slack put theirs in
    /// the URL).
    fn takes_token(self) -> bool {
        matches!(self, Service::Ntfy | Service::Gotify | Service::Webhook)
    }

    /// Priorities the service understands, if it has any.
    fn priorities(self) -> Option<(u64, u64)> {
        match self {
            Service::Ntfy => Some((1, 5)),
            Service::Gotify => Some((0, 10)),
            _ => None,
        }
    }
}

/// Where a secret comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// Written in the configuration file.
    Inline(String),
    /// The value of this environment variable.
    Env(String),
    /// The contents of this file, surrounding whitespace trimmed.
    File(PathBuf),
}

/// Never shows an inline value: configurations get logged at debug level.
impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Inline(_) => f.write_str("Inline(<redacted>)"),
            Secret::Env(name) => write!(f, "Env({name:?})"),
            Secret::File(path) => write!(f, "File({path:?})"),
        }
    }
}

impl Secret {
    /// The value, read now. Errors name the variable or file, never the value.
    pub fn resolve(&self, field: &str) -> Result<String> {
        let value = match self {
            Secret::Inline(v) => v.clone(),
            Secret::Env(name) => std::env::var(name)
                .with_context(|| format!("{field}_env: environment variable {name} is not set"))?,
            Secret::File(path) => {
                crate::store::ownership::check_secret(path, "secret file")
                    .with_context(|| format!("{field}_file"))?;
                std::fs::read_to_string(path)
                    .with_context(|| format!("{field}_file: cannot read {}", path.display()))?
            }
        };
        let value = value.trim();
        if value.is_empty() {
            bail!("{field}: {} is empty", self.source(field));
        }
        Ok(value.to_string())
    }

    /// Where the secret comes from, for messages: `url`, `url_env NAME`, `url_file PATH`.
    fn source(&self, field: &str) -> String {
        match self {
            Secret::Inline(_) => format!("the configured {field}"),
            Secret::Env(name) => format!("environment variable {name}"),
            Secret::File(path) => format!("file {}", path.display()),
        }
    }
}

/// The kinds of events a target can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A newer version exists; announced once per version.
    UpdateAvailable,
    /// `dum update` moved a container to a newer version.
    Updated,
    /// A new version failed verification; the previous container runs again.
    RolledBack,
    /// An image could not be checked, or an update failed.
    Failed,
}

impl EventKind {
    /// Every kind, in the order messages list them.
    pub const ALL: [EventKind; 4] = [
        EventKind::UpdateAvailable,
        EventKind::Updated,
        EventKind::RolledBack,
        EventKind::Failed,
    ];

    /// The config and JSON spelling, e.g. `update_available`.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::UpdateAvailable => "update_available",
            EventKind::Updated => "updated",
            EventKind::RolledBack => "rolled_back",
            EventKind::Failed => "failed",
        }
    }

    /// The kind spelt `name`.
    pub fn parse(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// One configured target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The service.
    pub service: Service,
    /// Where to POST (for ntfy the topic URL, for Gotify the server URL).
    pub url: Secret,
    /// Token for ntfy (Bearer), Gotify (application token) or a webhook (Bearer).
    pub token: Option<Secret>,
    /// Events this target wants; all of them unless configured.
    pub events: Vec<EventKind>,
    /// ntfy topic appended to the URL, for a URL that names only the server.
    pub topic: Option<String>,
    /// ntfy (1–5) or Gotify (0–10) priority of ordinary messages; failures are raised.
    pub priority: Option<u8>,
}

impl Target {
    /// Whether the target wants events of `kind`.
    pub fn wants(&self, kind: EventKind) -> bool {
        self.events.contains(&kind)
    }

    /// How messages name the target: service and host of the URL, e.g. `ntfy ntfy.sh`,
    /// or where the URL comes from when it could not be read.
    pub fn label(&self, url: Option<&str>) -> String {
        match url {
            Some(url) => format!("{} {}", self.service.name(), host_of(url)),
            None => format!("{} ({})", self.service.name(), self.url.source("url")),
        }
    }

    /// The URL and the token, read now, the URL checked to be http(s).
    pub fn resolve(&self) -> Result<(String, Option<String>)> {
        let url = self.url.resolve("url")?;
        if !is_http_url(&url) {
            bail!(
                "{} is not an http:// or https:// URL",
                self.url.source("url")
            );
        }
        let token = self
            .token
            .as_ref()
            .map(|t| t.resolve("token"))
            .transpose()?;
        Ok((url, token))
    }
}

/// Whether `url` starts with `http://` or `https://` (any case) and has more after it.
/// `get` rather than slicing: a multi-byte character across the scheme's length is an
/// invalid URL, not a panic.
fn is_http_url(url: &str) -> bool {
    ["http://", "https://"].iter().any(|scheme| {
        url.len() > scheme.len()
            && url
                .get(..scheme.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(scheme))
    })
}

/// The host[:port] of `url`, without user info: the only part of a URL dum ever prints,
/// because webhook URLs carry their secret in the path.
pub fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    authority.rsplit_once('@').map_or(authority, |(_, h)| h)
}

/// Running as root, refuses secret files another user could write (a problem at the key
/// that names the file) and warns about ones others can read; see [`crate::store::ownership`].
/// `targets` are those of a configuration parsed without problems, so one per `notify`
/// entry, in order. Secrets are read only when sending; this makes a bad file an error
/// of the configuration (exit 2) rather than a failed notification later.
pub fn check_secret_files(targets: &[Target], problems: &mut Vec<Problem>) {
    for (index, target) in targets.iter().enumerate() {
        for (field, secret) in [("url", Some(&target.url)), ("token", target.token.as_ref())] {
            if let Some(Secret::File(path)) = secret
                && let Err(e) = crate::store::ownership::check_secret(path, "secret file")
            {
                problems.push(Problem {
                    pointer: format!("/notify/{index}/{field}_file"),
                    message: format!("{e:#}"),
                });
            }
        }
    }
}

/// Reads the `notify` entry at pointer `at`. The schema has already checked types and
/// keys; this checks what it cannot say: exactly one URL source, at most one token
/// source, options only where the service has them. `None` when the entry is unusable
/// (a problem was recorded).
pub fn parse(entry: &Value, at: &str, problems: &mut Vec<Problem>) -> Option<Target> {
    let entry = entry.as_object()?;
    let mut report = |key: &str, message: String| {
        problems.push(Problem {
            pointer: if key.is_empty() {
                at.to_string()
            } else {
                format!("{at}/{key}")
            },
            message,
        })
    };
    let service = Service::parse(entry.get("type").and_then(Value::as_str)?)?;
    let url = match secret(entry, "url") {
        Ok(Some(url)) => Some(url),
        Ok(None) => {
            report("", "needs one of url, url_env, url_file".into());
            None
        }
        Err(message) => {
            report("", message);
            None
        }
    };
    if let Some(Secret::Inline(u)) = &url
        && !is_http_url(u)
    {
        // Not echoed: the URL may carry a secret.
        report("url", "must be an http:// or https:// URL".into());
    }
    let token = match secret(entry, "token") {
        Ok(token) => token,
        Err(message) => {
            report("", message);
            None
        }
    };
    if token.is_some() && !service.takes_token() {
        report(
            "",
            format!(
                "{} takes no token (its secret is in the URL); remove token, token_env, token_file",
                service.name()
            ),
        );
    }
    if service == Service::Gotify && token.is_none() && secret(entry, "token").is_ok() {
        report(
            "",
            "gotify needs an application token: one of token, token_env, token_file".into(),
        );
    }
    let topic = entry
        .get("topic")
        .and_then(Value::as_str)
        .map(str::to_string);
    if topic.is_some() && service != Service::Ntfy {
        report(
            "topic",
            format!("{} has no topics; only ntfy does", service.name()),
        );
    }
    if topic
        .as_deref()
        .is_some_and(|t| t.contains(['/', '?', '#']))
    {
        report("topic", "must be a bare topic name, without / ? #".into());
    }
    let priority = entry.get("priority").and_then(Value::as_u64);
    let priority = match (priority, service.priorities()) {
        (None, _) => None,
        (Some(_), None) => {
            report(
                "priority",
                format!(
                    "{} has no priorities; only ntfy and gotify do",
                    service.name()
                ),
            );
            None
        }
        (Some(p), Some((low, high))) if p < low || p > high => {
            report(
                "priority",
                format!(
                    "{} priorities go from {low} to {high}, found {p}",
                    service.name()
                ),
            );
            None
        }
        (Some(p), Some(_)) => u8::try_from(p).ok(),
    };
    let events = match entry.get("events").and_then(Value::as_array) {
        None => EventKind::ALL.to_vec(),
        Some(list) => {
            let mut events = Vec::new();
            for kind in list
                .iter()
                .filter_map(Value::as_str)
                .filter_map(EventKind::parse)
            {
                if !events.contains(&kind) {
                    events.push(kind);
                }
            }
            events
        }
    };
    Some(Target {
        service,
        url: url?,
        token,
        events,
        topic,
        priority,
    })
}

/// The one source of `field` among `field`, `field_env`, `field_file`; an error when
/// there are several.
fn secret(entry: &Map<String, Value>, field: &str) -> Result<Option<Secret>, String> {
    let text = |key: String| entry.get(&key).and_then(Value::as_str).map(str::to_string);
    let given: Vec<Secret> = [
        text(field.to_string()).map(Secret::Inline),
        text(format!("{field}_env")).map(Secret::Env),
        text(format!("{field}_file")).map(|p| Secret::File(PathBuf::from(p))),
    ]
    .into_iter()
    .flatten()
    .collect();
    match given.len() {
        0 => Ok(None),
        1 => Ok(given.into_iter().next()),
        _ => Err(format!(
            "give only one of {field}, {field}_env, {field}_file"
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn http_urls_are_told_apart_without_slicing_characters() {
        const CASES: &[(&str, bool)] = &[
            ("https://ntfy.sh/x", true),
            ("HTTP://gotify.lan", true),
            ("http://€", true),
            ("https://", false),
            ("ftp://x", false),
            ("abcdef€x", false),
            ("abcdefg€", false),
            ("http:/€x", false),
            ("https:/€", false),
            ("€€€€€€€€", false),
            ("", false),
        ];
        for (url, want) in CASES {
            assert_eq!(is_http_url(url), *want, "{url:?}");
        }
    }

    #[test]
    fn host_of_never_shows_path_query_or_user_info() {
        const CASES: &[(&str, &str)] = &[
            ("https://ntfy.sh/dum-alerts", "ntfy.sh"),
            ("https://discord.com/api/webhooks/123/SECRET", "discord.com"),
            ("http://user:pw@gotify.lan:8080/", "gotify.lan:8080"),
            ("http://127.0.0.1:9000?token=x", "127.0.0.1:9000"),
            ("https://[::1]:8443/x", "[::1]:8443"),
            ("hooks.slack.com/services/T/B/X", "hooks.slack.com"),
        ];
        for (url, want) in CASES {
            assert_eq!(host_of(url), *want, "{url}");
        }
    }

    /// (case, entry, expected problems as (pointer, message substring)).
    const CASES: &[(&str, &str, &[(&str, &str)])] = &[
        (
            "ntfy inline",
            r#"{"type":"ntfy","url":"https://ntfy.sh/x"}"#,
            &[],
        ),
        (
            "gotify with token_env",
            r#"{"type":"gotify","url":"http://g.lan","token_env":"GOTIFY_TOKEN","priority":0}"#,
            &[],
        ),
        (
            "discord url_file",
            r#"{"type":"discord","url_file":"/run/secrets/discord"}"#,
            &[],
        ),
        (
            "no url",
            r#"{"type":"slack"}"#,
            &[("/notify/0", "needs one of url, url_env, url_file")],
        ),
        (
            "two urls",
            r#"{"type":"slack","url":"https://a","url_env":"X"}"#,
            &[("/notify/0", "give only one of url, url_env, url_file")],
        ),
        (
            "two tokens",
            r#"{"type":"ntfy","url":"https://a","token":"t","token_file":"/f"}"#,
            &[("/notify/0", "give only one of token, token_env, token_file")],
        ),
        (
            "not http",
            r#"{"type":"webhook","url":"ftp://secret-host/path"}"#,
            &[("/notify/0/url", "must be an http:// or https:// URL")],
        ),
        (
            "multi-byte character where the scheme would end",
            r#"{"type":"ntfy","url":"abcdef€x"}"#,
            &[("/notify/0/url", "must be an http:// or https:// URL")],
        ),
        (
            "token on discord",
            r#"{"type":"discord","url":"https://d","token":"t"}"#,
            &[("/notify/0", "discord takes no token")],
        ),
        (
            "gotify without token",
            r#"{"type":"gotify","url":"https://g"}"#,
            &[("/notify/0", "gotify needs an application token")],
        ),
        (
            "topic on slack",
            r#"{"type":"slack","url":"https://s","topic":"x"}"#,
            &[("/notify/0/topic", "slack has no topics")],
        ),
        (
            "topic with slash",
            r#"{"type":"ntfy","url":"https://n","topic":"a/b"}"#,
            &[("/notify/0/topic", "bare topic name")],
        ),
        (
            "ntfy priority out of range",
            r#"{"type":"ntfy","url":"https://n","priority":7}"#,
            &[(
                "/notify/0/priority",
                "ntfy priorities go from 1 to 5, found 7",
            )],
        ),
        (
            "priority on webhook",
            r#"{"type":"webhook","url":"https://w","priority":3}"#,
            &[("/notify/0/priority", "webhook has no priorities")],
        ),
    ];

    #[test]
    fn parse_checks_what_the_schema_cannot() {
        for (case, text, expected) in CASES {
            let entry: Value = serde_json::from_str(text).unwrap();
            let mut problems = Vec::new();
            let target = parse(&entry, "/notify/0", &mut problems);
            let got: Vec<(&str, &str)> = problems
                .iter()
                .map(|p| (p.pointer.as_str(), p.message.as_str()))
                .collect();
            assert_eq!(got.len(), expected.len(), "{case}: {got:?}");
            for ((pointer, message), (want_pointer, want)) in got.iter().zip(*expected) {
                assert_eq!(pointer, want_pointer, "{case}");
                assert!(message.contains(want), "{case}: {message:?} lacks {want:?}");
                assert!(!message.contains("secret-host"), "{case}: echoes the URL");
            }
            if expected.is_empty() {
                assert!(target.is_some(), "{case}");
            }
        }
    }

    #[test]
    fn events_default_to_all_and_dedupe() {
        let mut problems = Vec::new();
        let all = parse(&json!({"type":"ntfy","url":"https://n"}), "", &mut problems).unwrap();
        assert_eq!(all.events, EventKind::ALL);
        let some = parse(
            &json!({"type":"ntfy","url":"https://n","events":["failed","updated","failed"]}),
            "",
            &mut problems,
        )
        .unwrap();
        assert_eq!(some.events, [EventKind::Failed, EventKind::Updated]);
        assert!(problems.is_empty());
    }

    #[test]
    fn secrets_resolve_without_showing_values() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("url");
        std::fs::write(&file, "https://discord.com/api/webhooks/1/abc\n").unwrap();
        let target = Target {
            service: Service::Discord,
            url: Secret::File(file.clone()),
            token: None,
            events: EventKind::ALL.to_vec(),
            topic: None,
            priority: None,
        };
        let (url, token) = target.resolve().unwrap();
        assert_eq!(url, "https://discord.com/api/webhooks/1/abc");
        assert_eq!(token, None);
        assert_eq!(target.label(Some(&url)), "discord discord.com");

        std::fs::write(&file, "  \n").unwrap();
        let err = format!("{:#}", target.resolve().unwrap_err());
        assert!(err.contains("is empty"), "{err}");

        let missing = Target {
            url: Secret::Env("DUM_TEST_SURELY_UNSET_VARIABLE".into()),
            ..target.clone()
        };
        let err = format!("{:#}", missing.resolve().unwrap_err());
        assert!(
            err.contains("DUM_TEST_SURELY_UNSET_VARIABLE is not set"),
            "{err}"
        );
        assert_eq!(
            missing.label(None),
            "discord (environment variable DUM_TEST_SURELY_UNSET_VARIABLE)"
        );

        let inline = Target {
            url: Secret::Inline("https://x/very-secret".into()),
            ..target
        };
        assert!(!format!("{inline:?}").contains("very-secret"));
    }
}
