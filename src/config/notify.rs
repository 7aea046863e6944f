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

use lettre::message::Mailbox;

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
    /// Telegram Bot API: `sendMessage` to a chat, the bot token in the URL's path.
    Telegram,
    /// Pushover: a form POST with an application token and a user (or group) key.
    Pushover,
    /// Matrix client-server API: an `m.room.message` PUT into a room, with an access
    /// token.
    Matrix,
    /// An Apprise API server, which fans out to the services its URLs name.
    Apprise,
    /// Email over SMTP.
    Email,
}

impl Service {
    /// Every service, in the order the README lists them.
    pub const ALL: [Service; 10] = [
        Service::Ntfy,
        Service::Gotify,
        Service::Discord,
        Service::Slack,
        Service::Webhook,
        Service::Telegram,
        Service::Pushover,
        Service::Matrix,
        Service::Apprise,
        Service::Email,
    ];

    /// The config spelling, e.g. `ntfy`.
    pub fn name(self) -> &'static str {
        match self {
            Service::Ntfy => "ntfy",
            Service::Gotify => "gotify",
            Service::Discord => "discord",
            Service::Slack => "slack",
            Service::Webhook => "webhook",
            Service::Telegram => "telegram",
            Service::Pushover => "pushover",
            Service::Matrix => "matrix",
            Service::Apprise => "apprise",
            Service::Email => "email",
        }
    }

    /// The service named `name` in the config.
    pub fn parse(name: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Whether the service authenticates with a token (Discord and Slack put theirs in
    /// the URL, an Apprise server's URLs carry theirs, email has a password).
    fn takes_token(self) -> bool {
        matches!(
            self,
            Service::Ntfy
                | Service::Gotify
                | Service::Webhook
                | Service::Telegram
                | Service::Pushover
                | Service::Matrix
        )
    }

    /// The token the service cannot do without, if it needs one.
    fn required_token(self) -> Option<&'static str> {
        match self {
            Service::Gotify | Service::Pushover => Some("an application token"),
            Service::Telegram => Some("a bot token"),
            Service::Matrix => Some("an access token"),
            _ => None,
        }
    }

    /// The URL used when none is configured: the public service's API.
    fn default_url(self) -> Option<&'static str> {
        match self {
            Service::Telegram => Some(DEFAULT_TELEGRAM_URL),
            Service::Pushover => Some(DEFAULT_PUSHOVER_URL),
            _ => None,
        }
    }

    /// Priorities the service understands, if it has any.
    fn priorities(self) -> Option<(i64, i64)> {
        match self {
            Service::Ntfy => Some((1, 5)),
            Service::Gotify => Some((0, 10)),
            // 2 (emergency) needs retry and expiry parameters and an acknowledgement.
            Service::Pushover => Some((-2, 1)),
            _ => None,
        }
    }
}

/// The Telegram Bot API, when `url` is not set.
pub const DEFAULT_TELEGRAM_URL: &str = "https://api.telegram.org";
/// Pushover's API, when `url` is not set.
pub const DEFAULT_PUSHOVER_URL: &str = "https://api.pushover.net";
/// The SMTP port for `tls: starttls` (submission), when `port` is not set.
pub const DEFAULT_STARTTLS_PORT: u16 = 587;
/// The SMTP port for `tls: tls` (submissions, implicit TLS), when `port` is not set.
pub const DEFAULT_IMPLICIT_TLS_PORT: u16 = 465;
/// The SMTP port for `tls: none`, when `port` is not set.
pub const DEFAULT_PLAIN_PORT: u16 = 25;

/// Keys only some services take, and which: anything else of the schema's is common
/// (`type`, `events`) or checked on its own (`url`, `token`, `topic`, `priority`).
const SERVICE_KEYS: &[(&str, &[Service])] = &[
    ("chat_id", &[Service::Telegram]),
    ("user", &[Service::Pushover]),
    ("user_env", &[Service::Pushover]),
    ("user_file", &[Service::Pushover]),
    ("room", &[Service::Matrix]),
    ("key", &[Service::Apprise]),
    ("urls", &[Service::Apprise]),
    ("urls_env", &[Service::Apprise]),
    ("urls_file", &[Service::Apprise]),
    ("tag", &[Service::Apprise]),
    ("host", &[Service::Email]),
    ("port", &[Service::Email]),
    ("tls", &[Service::Email]),
    ("username", &[Service::Email]),
    ("password", &[Service::Email]),
    ("password_env", &[Service::Email]),
    ("password_file", &[Service::Email]),
    ("from", &[Service::Email]),
    ("to", &[Service::Email]),
    ("ca_file", &[Service::Email]),
];

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
    /// Where to send: the ntfy topic URL, the Gotify, Matrix or Apprise server, a
    /// webhook's URL, the Telegram or Pushover API (their public one unless configured).
    /// `None` only for email, which names its server in [`Email`].
    pub url: Option<Secret>,
    /// Token for ntfy (Bearer), Gotify (application token), a webhook (Bearer),
    /// Telegram (bot token), Pushover (application token) or Matrix (access token).
    pub token: Option<Secret>,
    /// Events this target wants; all of them unless configured.
    pub events: Vec<EventKind>,
    /// ntfy topic appended to the URL, for a URL that names only the server.
    pub topic: Option<String>,
    /// ntfy (1–5), Gotify (0–10) or Pushover (-2–1) priority of ordinary messages;
    /// failures are raised.
    pub priority: Option<i8>,
    /// What only this target's service takes.
    pub options: Options,
}

/// The settings only one service has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Options {
    /// The service has none.
    None,
    /// Telegram: the chat to write to, a numeric ID or `@channelname`.
    Telegram {
        /// As configured (a number is kept as its decimal text).
        chat_id: String,
    },
    /// Pushover: whom to notify.
    Pushover {
        /// The user or group key.
        user: Secret,
    },
    /// Matrix: the room to write to.
    Matrix {
        /// The room's ID, `!opaque:server`.
        room: String,
    },
    /// Apprise API: which of the server's routes, and which of its services.
    Apprise {
        /// A stored configuration's key, or the services' URLs.
        route: AppriseRoute,
        /// Only the services of a stored configuration with this tag.
        tag: Option<String>,
    },
    /// Email: the SMTP server and the envelope.
    Email(Email),
}

/// Where an Apprise API server finds the services to notify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppriseRoute {
    /// Stateful: the configuration stored on the server under this key
    /// (`POST /notify/{key}`).
    Key(String),
    /// Stateless: Apprise URLs sent along (`POST /notify/`); they hold the services'
    /// secrets, so they are a secret.
    Urls(Secret),
}

/// An SMTP server and what to send through it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// Host name or address of the server; also the name its certificate must carry.
    pub host: String,
    /// The port; by default 587, 465 or 25 after `tls`.
    pub port: u16,
    /// How the connection is protected.
    pub tls: Tls,
    /// Login user name; set exactly when `password` is.
    pub username: Option<String>,
    /// Login password.
    pub password: Option<Secret>,
    /// The sender, `addr@host` or `Name <addr@host>`.
    pub from: String,
    /// The recipients, at least one.
    pub to: Vec<String>,
    /// PEM file of the certificate authority (or the self-signed certificate) to trust
    /// besides the public ones.
    pub ca_file: Option<PathBuf>,
}

/// How an SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// Plain connection upgraded with STARTTLS, which the server must offer: never a
    /// fallback to plain text.
    Starttls,
    /// TLS from the first byte (SMTPS, "implicit TLS").
    Implicit,
    /// No encryption (a local relay); a password is refused with it.
    None,
}

impl Tls {
    /// Every mode, in the order the schema lists them.
    pub const ALL: [Tls; 3] = [Tls::Starttls, Tls::Implicit, Tls::None];

    /// The config spelling.
    pub fn name(self) -> &'static str {
        match self {
            Tls::Starttls => "starttls",
            Tls::Implicit => "tls",
            Tls::None => "none",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Tls::Starttls => DEFAULT_STARTTLS_PORT,
            Tls::Implicit => DEFAULT_IMPLICIT_TLS_PORT,
            Tls::None => DEFAULT_PLAIN_PORT,
        }
    }
}

/// A target's secrets, read.
#[derive(Default, PartialEq, Eq)]
pub struct Resolved {
    /// The URL, checked to be http(s); `None` for email.
    pub url: Option<String>,
    /// The token.
    pub token: Option<String>,
    /// Pushover's user key.
    pub user: Option<String>,
    /// Apprise's URLs (stateless route).
    pub urls: Option<String>,
    /// The SMTP password.
    pub password: Option<String>,
}

/// Never shows a value.
impl fmt::Debug for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Resolved(<redacted>)")
    }
}

impl Resolved {
    /// Every secret value, to be kept out of messages.
    pub fn values(&self) -> Vec<&str> {
        [
            &self.url,
            &self.token,
            &self.user,
            &self.urls,
            &self.password,
        ]
        .into_iter()
        .filter_map(|v| v.as_deref())
        .collect()
    }
}

impl Target {
    /// Whether the target wants events of `kind`.
    pub fn wants(&self, kind: EventKind) -> bool {
        self.events.contains(&kind)
    }

    /// How messages name the target: service and host of the URL, e.g. `ntfy ntfy.sh`,
    /// or where the URL comes from when it could not be read; for email the server,
    /// `email smtp.example.com:587`.
    pub fn label(&self, url: Option<&str>) -> String {
        if let Options::Email(email) = &self.options {
            return format!("email {}", authority(&email.host, email.port));
        }
        match (url, &self.url) {
            (Some(url), _) => format!("{} {}", self.service.name(), host_of(url)),
            (None, Some(secret)) => format!("{} ({})", self.service.name(), secret.source("url")),
            (None, None) => self.service.name().to_string(),
        }
    }

    /// Every secret of the target with its field's name.
    pub fn secrets(&self) -> Vec<(&'static str, &Secret)> {
        let mut all = vec![];
        all.extend(self.url.as_ref().map(|s| ("url", s)));
        all.extend(self.token.as_ref().map(|s| ("token", s)));
        match &self.options {
            Options::Pushover { user } => all.push(("user", user)),
            Options::Apprise {
                route: AppriseRoute::Urls(urls),
                ..
            } => all.push(("urls", urls)),
            Options::Email(Email {
                password: Some(password),
                ..
            }) => all.push(("password", password)),
            _ => {}
        }
        all
    }

    /// The secrets, read now, the URL checked to be http(s).
    pub fn resolve(&self) -> Result<Resolved> {
        let mut resolved = Resolved::default();
        for (field, secret) in self.secrets() {
            let value = secret.resolve(field)?;
            let slot = match field {
                "url" => {
                    if !is_http_url(&value) {
                        bail!("{} is not an http:// or https:// URL", secret.source("url"));
                    }
                    &mut resolved.url
                }
                "token" => &mut resolved.token,
                "user" => &mut resolved.user,
                "urls" => &mut resolved.urls,
                _ => &mut resolved.password,
            };
            *slot = Some(value);
        }
        Ok(resolved)
    }
}

/// `host:port`, bracketing an IPv6 address.
fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
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
        for (field, secret) in target.secrets() {
            if let Secret::File(path) = secret
                && let Err(e) = crate::store::ownership::check_secret(path, "secret file")
            {
                problems.push(Problem {
                    pointer: format!("/notify/{index}/{field}_file"),
                    message: format!("{e:#}"),
                });
            }
        }
        if let Options::Email(Email {
            ca_file: Some(path),
            ..
        }) = &target.options
            && let Err(e) = crate::store::ownership::check(path, "CA file")
        {
            problems.push(Problem {
                pointer: format!("/notify/{index}/ca_file"),
                message: format!("{e:#}"),
            });
        }
    }
}

/// Reads the `notify` entry at pointer `at`. The schema has already checked types and
/// keys; this checks what it cannot say: exactly one URL source, at most one token
/// source, options only where the service has them, what each service needs. `None`
/// when the entry is unusable (a problem was recorded).
pub fn parse(entry: &Value, at: &str, problems: &mut Vec<Problem>) -> Option<Target> {
    let entry = entry.as_object()?;
    let before = problems.len();
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
    for (key, services) in SERVICE_KEYS {
        if entry.contains_key(*key) && !services.contains(&service) {
            let only: Vec<&str> = services.iter().map(|s| s.name()).collect();
            report(
                key,
                format!(
                    "{} takes no {key}; only {} does",
                    service.name(),
                    only.join(", ")
                ),
            );
        }
    }
    let url = match secret(entry, "url") {
        Ok(Some(_)) if service == Service::Email => {
            report(
                "",
                "email takes host and port, not a URL; remove url, url_env, url_file".into(),
            );
            None
        }
        Ok(Some(url)) => Some(url),
        Ok(None) => match service.default_url() {
            Some(default) => Some(Secret::Inline(default.to_string())),
            None if service == Service::Email => None,
            None => {
                report("", "needs one of url, url_env, url_file".into());
                None
            }
        },
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
        let why = match service {
            Service::Apprise => "(the services' secrets are in its URLs)",
            Service::Email => "(it logs in with username and password)",
            _ => "(its secret is in the URL)",
        };
        report(
            "",
            format!(
                "{} takes no token {why}; remove token, token_env, token_file",
                service.name()
            ),
        );
    }
    if let Some(what) = service.required_token()
        && token.is_none()
        && secret(entry, "token").is_ok()
    {
        report(
            "",
            format!(
                "{} needs {what}: one of token, token_env, token_file",
                service.name()
            ),
        );
    }
    let topic = text(entry, "topic");
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
    let priority = entry.get("priority").and_then(Value::as_i64);
    let priority = match (priority, service.priorities()) {
        (None, _) => None,
        (Some(_), None) => {
            report(
                "priority",
                format!(
                    "{} has no priorities; only ntfy, gotify and pushover do",
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
        (Some(p), Some(_)) => i8::try_from(p).ok(),
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
    let options = match service {
        Service::Telegram => telegram(entry, &mut report),
        Service::Pushover => pushover(entry, &mut report),
        Service::Matrix => matrix(entry, &mut report),
        Service::Apprise => apprise(entry, &mut report),
        Service::Email => email(entry, &mut report).map(Options::Email),
        _ => Some(Options::None),
    };
    if problems.len() > before {
        return None;
    }
    Some(Target {
        service,
        url,
        token,
        events,
        topic,
        priority,
        options: options?,
    })
}

fn telegram(entry: &Map<String, Value>, report: &mut impl FnMut(&str, String)) -> Option<Options> {
    let chat_id = match entry.get("chat_id") {
        Some(Value::String(id)) => Some(id.clone()),
        Some(Value::Number(id)) => Some(id.to_string()),
        _ => None,
    };
    match chat_id {
        Some(chat_id) if chat_id.contains(['/', '?', '#', ' ']) => {
            report(
                "chat_id",
                "must be a chat's numeric ID or @channelname".into(),
            );
            None
        }
        Some(chat_id) => Some(Options::Telegram { chat_id }),
        // A chat_id of another type: the schema said so.
        None if entry.contains_key("chat_id") => None,
        None => {
            report(
                "",
                "telegram needs chat_id: the chat's numeric ID or @channelname".into(),
            );
            None
        }
    }
}

fn pushover(entry: &Map<String, Value>, report: &mut impl FnMut(&str, String)) -> Option<Options> {
    match secret(entry, "user") {
        Ok(Some(user)) => Some(Options::Pushover { user }),
        Ok(None) => {
            report(
                "",
                "pushover needs a user or group key: one of user, user_env, user_file".into(),
            );
            None
        }
        Err(message) => {
            report("", message);
            None
        }
    }
}

fn matrix(entry: &Map<String, Value>, report: &mut impl FnMut(&str, String)) -> Option<Options> {
    match text(entry, "room") {
        Some(room) if room.starts_with('!') && room.contains(':') => Some(Options::Matrix { room }),
        Some(_) => {
            report(
                "room",
                "must be a room ID like !abcdef:example.org (not an alias: the room's \
                 settings show its ID)"
                    .into(),
            );
            None
        }
        None if entry.contains_key("room") => None,
        None => {
            report(
                "",
                "matrix needs room: the room ID, like !abcdef:example.org".into(),
            );
            None
        }
    }
}

fn apprise(entry: &Map<String, Value>, report: &mut impl FnMut(&str, String)) -> Option<Options> {
    let key = text(entry, "key");
    if key.as_deref().is_some_and(|k| k.contains(['/', '?', '#'])) {
        report(
            "key",
            "must be a bare configuration key, without / ? #".into(),
        );
        return None;
    }
    let urls = match secret(entry, "urls") {
        Ok(urls) => urls,
        Err(message) => {
            report("", message);
            return None;
        }
    };
    let route = match (key, urls) {
        (Some(key), None) => AppriseRoute::Key(key),
        (None, Some(urls)) => AppriseRoute::Urls(urls),
        (Some(_), Some(_)) => {
            report(
                "",
                "give either key (a configuration stored on the server) or urls, not both".into(),
            );
            return None;
        }
        (None, None) => {
            report(
                "",
                "apprise needs key (a configuration stored on the server) or one of urls, \
                 urls_env, urls_file"
                    .into(),
            );
            return None;
        }
    };
    Some(Options::Apprise {
        route,
        tag: text(entry, "tag"),
    })
}

fn email(entry: &Map<String, Value>, report: &mut impl FnMut(&str, String)) -> Option<Email> {
    let ok = std::cell::Cell::new(true);
    let mut fail = |key: &str, message: String| {
        ok.set(false);
        report(key, message);
    };
    let host = text(entry, "host");
    match host.as_deref() {
        None if entry.contains_key("host") => ok.set(false),
        None => fail("", "email needs host: the SMTP server's name".into()),
        Some(h) if h.contains(['/', '@', ' ']) || h.starts_with('[') => fail(
            "host",
            "must be a host name or address, without scheme, user or brackets".into(),
        ),
        Some(_) => {}
    }
    let tls = match text(entry, "tls") {
        None => Tls::Starttls,
        Some(name) => Tls::ALL
            .into_iter()
            .find(|t| t.name() == name)
            .unwrap_or(Tls::Starttls),
    };
    let port = entry
        .get("port")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or(tls.default_port());
    let username = text(entry, "username");
    let password = match secret(entry, "password") {
        Ok(password) => password,
        Err(message) => {
            fail("", message);
            None
        }
    };
    match (&username, &password) {
        (Some(_), None) if secret(entry, "password").is_ok() => fail(
            "",
            "username needs a password: one of password, password_env, password_file".into(),
        ),
        (None, Some(_)) => fail("", "a password needs a username".into()),
        _ => {}
    }
    if password.is_some() && tls == Tls::None {
        fail(
            "tls",
            "\"none\" would send the password in clear text; use starttls or tls".into(),
        );
    }
    let from = text(entry, "from");
    match from.as_deref() {
        None if entry.contains_key("from") => ok.set(false),
        None => fail("", "email needs from: the sender's address".into()),
        Some(f) if f.parse::<Mailbox>().is_err() => fail(
            "from",
            format!("{f:?} is not an email address (addr@host or Name <addr@host>)"),
        ),
        Some(_) => {}
    }
    let to: Vec<String> = entry
        .get("to")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    match entry.get("to") {
        None => fail("", "email needs to: a list of recipients' addresses".into()),
        // Not a list, or an empty one: the schema said so.
        Some(_) if to.is_empty() => ok.set(false),
        Some(_) => {}
    }
    for (index, address) in to.iter().enumerate() {
        if address.parse::<Mailbox>().is_err() {
            fail(
                &format!("to/{index}"),
                format!("{address:?} is not an email address (addr@host or Name <addr@host>)"),
            );
        }
    }
    if !ok.get() {
        return None;
    }
    Some(Email {
        host: host?,
        port,
        tls,
        username,
        password,
        from: from?,
        to,
        ca_file: text(entry, "ca_file").map(PathBuf::from),
    })
}

/// The string at `key`, if it is one.
fn text(entry: &Map<String, Value>, key: &str) -> Option<String> {
    entry.get(key).and_then(Value::as_str).map(str::to_string)
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
        (
            "telegram with the public API",
            r#"{"type":"telegram","token_env":"TG","chat_id":-1001234}"#,
            &[],
        ),
        (
            "telegram without chat",
            r#"{"type":"telegram","token":"t"}"#,
            &[("/notify/0", "telegram needs chat_id")],
        ),
        (
            "telegram without token",
            r#"{"type":"telegram","chat_id":"@c"}"#,
            &[("/notify/0", "telegram needs a bot token")],
        ),
        (
            "pushover",
            r#"{"type":"pushover","token":"a","user_file":"/run/u","priority":-2}"#,
            &[],
        ),
        (
            "pushover without user, priority 2",
            r#"{"type":"pushover","token":"a","priority":2}"#,
            &[
                (
                    "/notify/0/priority",
                    "pushover priorities go from -2 to 1, found 2",
                ),
                ("/notify/0", "pushover needs a user or group key"),
            ],
        ),
        (
            "matrix",
            r#"{"type":"matrix","url":"https://m.org","token":"t","room":"!a:m.org"}"#,
            &[],
        ),
        (
            "matrix alias, no token",
            r##"{"type":"matrix","url":"https://m.org","room":"#a:m.org"}"##,
            &[
                ("/notify/0", "matrix needs an access token"),
                ("/notify/0/room", "must be a room ID"),
            ],
        ),
        (
            "apprise stateless",
            r#"{"type":"apprise","url":"http://a:8000","urls_env":"U","tag":"x"}"#,
            &[],
        ),
        (
            "apprise neither key nor urls, with token",
            r#"{"type":"apprise","url":"http://a:8000","token":"t"}"#,
            &[
                ("/notify/0", "apprise takes no token"),
                ("/notify/0", "apprise needs key"),
            ],
        ),
        (
            "apprise both",
            r#"{"type":"apprise","url":"http://a:8000","key":"k","urls":"x://y"}"#,
            &[("/notify/0", "give either key")],
        ),
        (
            "email",
            r#"{"type":"email","host":"smtp.x.org","username":"u","password_env":"P","from":"dum <d@x.org>","to":["a@x.org"]}"#,
            &[],
        ),
        (
            "email with url, no host, bad addresses",
            r#"{"type":"email","url":"https://x","from":"nobody","to":["a@x.org","b"]}"#,
            &[
                ("/notify/0", "email takes host and port, not a URL"),
                ("/notify/0", "email needs host"),
                ("/notify/0/from", "is not an email address"),
                ("/notify/0/to/1", "is not an email address"),
            ],
        ),
        (
            "email password in clear",
            r#"{"type":"email","host":"h","tls":"none","username":"u","password":"p","from":"a@b.c","to":["a@b.c"]}"#,
            &[("/notify/0/tls", "would send the password in clear text")],
        ),
        (
            "email user without password",
            r#"{"type":"email","host":"h","username":"u","from":"a@b.c","to":["a@b.c"]}"#,
            &[("/notify/0", "username needs a password")],
        ),
        (
            "another service's keys",
            r#"{"type":"slack","url":"https://s","chat_id":1,"host":"h"}"#,
            &[
                (
                    "/notify/0/chat_id",
                    "slack takes no chat_id; only telegram does",
                ),
                ("/notify/0/host", "slack takes no host; only email does"),
            ],
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
    fn defaults_of_the_newer_services() {
        let mut problems = Vec::new();
        let parsed =
            |entry: Value, problems: &mut Vec<Problem>| parse(&entry, "", problems).unwrap();
        let telegram = parsed(
            json!({"type":"telegram","token":"t","chat_id":42}),
            &mut problems,
        );
        assert_eq!(
            telegram.url,
            Some(Secret::Inline(DEFAULT_TELEGRAM_URL.into()))
        );
        assert_eq!(
            telegram.options,
            Options::Telegram {
                chat_id: "42".into()
            }
        );
        assert_eq!(
            telegram.label(Some(DEFAULT_TELEGRAM_URL)),
            "telegram api.telegram.org"
        );
        let pushover = parsed(
            json!({"type":"pushover","token":"t","user":"u"}),
            &mut problems,
        );
        assert_eq!(
            pushover.url,
            Some(Secret::Inline(DEFAULT_PUSHOVER_URL.into()))
        );
        // (tls, port given, port used)
        for (tls, port, want) in [
            (None, None, 587),
            (Some("tls"), None, 465),
            (Some("none"), None, 25),
            (Some("starttls"), Some(2525), 2525),
        ] {
            let mut entry = json!({"type":"email","host":"::1","from":"a@b.c","to":["d@e.f"]});
            if let Some(tls) = tls {
                entry["tls"] = json!(tls);
            }
            if let Some(port) = port {
                entry["port"] = json!(port);
            }
            let email = parsed(entry, &mut problems);
            let Options::Email(settings) = &email.options else {
                panic!("{email:?}");
            };
            assert_eq!(settings.port, want, "{tls:?}");
            assert_eq!(email.url, None);
            assert_eq!(email.label(None), format!("email [::1]:{want}"));
        }
        let secretive = parsed(
            json!({"type":"email","host":"h","username":"u","password_file":"/p","from":"a@b.c","to":["d@e.f"]}),
            &mut problems,
        );
        assert_eq!(
            secretive.secrets(),
            [("password", &Secret::File("/p".into()))]
        );
        assert!(problems.is_empty(), "{problems:?}");
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
            url: Some(Secret::File(file.clone())),
            token: None,
            events: EventKind::ALL.to_vec(),
            topic: None,
            priority: None,
            options: Options::None,
        };
        let resolved = target.resolve().unwrap();
        let url = resolved.url.clone().unwrap();
        assert_eq!(url, "https://discord.com/api/webhooks/1/abc");
        assert_eq!(resolved.token, None);
        assert_eq!(resolved.values(), [url.as_str()]);
        assert!(!format!("{resolved:?}").contains("abc"));
        assert_eq!(target.label(Some(&url)), "discord discord.com");

        std::fs::write(&file, "  \n").unwrap();
        let err = format!("{:#}", target.resolve().unwrap_err());
        assert!(err.contains("is empty"), "{err}");

        let missing = Target {
            url: Some(Secret::Env("DUM_TEST_SURELY_UNSET_VARIABLE".into())),
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
            url: Some(Secret::Inline("https://x/very-secret".into())),
            ..target
        };
        assert!(!format!("{inline:?}").contains("very-secret"));
    }
}
