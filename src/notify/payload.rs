//! The HTTP request each service expects for a message: pure, so every format is
//! checked without a network.

use serde_json::{Value, json};

use super::event::Event;
use super::message::{Message, Severity};
use crate::config::notify::{AppriseRoute, Options, Resolved, Service, Target};
use crate::http::percent_encode;

/// Discord limits an embed description to 4096 characters.
const DISCORD_DESCRIPTION: usize = 4096;
/// Discord limits an embed title to 256 characters.
const DISCORD_TITLE: usize = 256;
/// Embed colours: red for failures, green for updates, blue for news.
const RED: u32 = 0xE7_4C_3C;
const GREEN: u32 = 0x2E_CC_71;
const BLUE: u32 = 0x34_98_DB;
/// Telegram limits a message's text to 4096 characters.
const TELEGRAM_TEXT: usize = 4096;
/// Pushover limits a message to 1024 characters and its title to 250.
const PUSHOVER_MESSAGE: usize = 1024;
const PUSHOVER_TITLE: usize = 250;

/// The HTTP methods the services take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Everything but Matrix.
    Post,
    /// Matrix: the transaction ID in the path makes a retry idempotent.
    Put,
}

/// One request.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    /// POST or PUT.
    pub method: Method,
    /// Where to.
    pub url: String,
    /// Headers besides User-Agent.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// The request for `target` (its secrets already resolved), `None` for email, which is
/// not HTTP. `document` is the run's `--format json` document, which a webhook receives
/// with the `events` added. `txn` is unique per message: Matrix deduplicates by it.
pub fn build(
    target: &Target,
    secrets: &Resolved,
    message: &Message,
    events: &[&Event],
    document: &Value,
    txn: &str,
) -> Option<Payload> {
    let url = secrets.url.as_deref().unwrap_or_default();
    let token = secrets.token.as_deref();
    let json_type = ("Content-Type", "application/json".to_string());
    let bearer = token.map(|t| ("Authorization", format!("Bearer {t}")));
    let base = url.trim_end_matches('/');
    let payload = match target.service {
        Service::Ntfy => {
            let url = match &target.topic {
                Some(topic) => format!("{}/{topic}", url.trim_end_matches('/')),
                None => url.to_string(),
            };
            let base = target.priority.unwrap_or(3);
            let (priority, tags) = match message.severity {
                Severity::Failure => (base.max(4), "warning"),
                Severity::Success => (base, "white_check_mark"),
                Severity::Info => (base, "package"),
            };
            let mut headers = vec![
                ("Content-Type", "text/plain; charset=utf-8".to_string()),
                ("Title", message.title.clone()),
                ("Priority", priority.to_string()),
                ("Tags", tags.to_string()),
            ];
            headers.extend(bearer);
            Payload {
                method: Method::Post,
                url,
                headers,
                body: message.body.clone().into_bytes(),
            }
        }
        Service::Gotify => {
            let base = target.priority.unwrap_or(5);
            let priority = match message.severity {
                Severity::Failure => base.max(8),
                _ => base,
            };
            let body = json!({
                "title": message.title,
                "message": message.body,
                "priority": priority,
            });
            let mut headers = vec![json_type];
            headers.extend(token.map(|t| ("X-Gotify-Key", t.to_string())));
            Payload {
                method: Method::Post,
                url: format!("{}/message", url.trim_end_matches('/')),
                headers,
                body: body.to_string().into_bytes(),
            }
        }
        Service::Discord => {
            let colour = match message.severity {
                Severity::Failure => RED,
                Severity::Success => GREEN,
                Severity::Info => BLUE,
            };
            let body = json!({
                "username": "dum",
                "embeds": [{
                    "title": truncate(&message.title, DISCORD_TITLE),
                    "description": truncate(&message.body, DISCORD_DESCRIPTION),
                    "color": colour,
                }],
            });
            Payload {
                method: Method::Post,
                url: url.to_string(),
                headers: vec![json_type],
                body: body.to_string().into_bytes(),
            }
        }
        Service::Slack => {
            let text = format!(
                "*{}*\n{}",
                slack_escape(&message.title),
                slack_escape(&message.body)
            );
            Payload {
                method: Method::Post,
                url: url.to_string(),
                headers: vec![json_type],
                body: json!({ "text": text }).to_string().into_bytes(),
            }
        }
        Service::Webhook => {
            let mut body = match document {
                Value::Object(map) => map.clone(),
                _ => serde_json::Map::new(),
            };
            // Not known yet while sending; the webhook is one of them.
            body.remove("notifications");
            body.insert("title".into(), json!(message.title));
            body.insert("events".into(), json!(events));
            let mut headers = vec![json_type];
            headers.extend(bearer);
            Payload {
                method: Method::Post,
                url: url.to_string(),
                headers,
                body: Value::Object(body).to_string().into_bytes(),
            }
        }
        Service::Telegram => {
            let chat_id = match &target.options {
                Options::Telegram { chat_id } => chat_id.as_str(),
                _ => "",
            };
            let text = format!("{}\n{}", message.title, message.body);
            let body = json!({
                "chat_id": chat_id,
                "text": truncate(&text, TELEGRAM_TEXT),
                "disable_web_page_preview": true,
            });
            Payload {
                method: Method::Post,
                url: format!("{base}/bot{}/sendMessage", token.unwrap_or_default()),
                headers: vec![json_type],
                body: body.to_string().into_bytes(),
            }
        }
        Service::Pushover => {
            let base_priority = target.priority.unwrap_or(0);
            let priority = match message.severity {
                Severity::Failure => base_priority.max(1),
                _ => base_priority,
            };
            let mut fields = vec![
                ("token", token.unwrap_or_default().to_string()),
                ("user", secrets.user.clone().unwrap_or_default()),
                ("title", truncate(&message.title, PUSHOVER_TITLE)),
                ("message", truncate(&message.body, PUSHOVER_MESSAGE)),
                ("priority", priority.to_string()),
            ];
            if let Some(link) = events.iter().find_map(|e| e.release_notes.as_deref()) {
                fields.push(("url", link.to_string()));
                fields.push(("url_title", "Release notes".to_string()));
            }
            let body: Vec<String> = fields
                .iter()
                .map(|(name, value)| format!("{name}={}", percent_encode(value)))
                .collect();
            Payload {
                method: Method::Post,
                url: format!("{base}/1/messages.json"),
                headers: vec![(
                    "Content-Type",
                    "application/x-www-form-urlencoded".to_string(),
                )],
                body: body.join("&").into_bytes(),
            }
        }
        Service::Matrix => {
            let room = match &target.options {
                Options::Matrix { room } => room.as_str(),
                _ => "",
            };
            let lines: Vec<String> = message.body.lines().map(html_escape).collect();
            let body = json!({
                "msgtype": "m.notice",
                "body": format!("{}\n{}", message.title, message.body),
                "format": "org.matrix.custom.html",
                "formatted_body": format!("<b>{}</b><br>{}", html_escape(&message.title), lines.join("<br>")),
            });
            let mut headers = vec![json_type];
            headers.extend(bearer);
            Payload {
                method: Method::Put,
                url: format!(
                    "{base}/_matrix/client/v3/rooms/{}/send/m.room.message/{}",
                    percent_encode(room),
                    percent_encode(txn)
                ),
                headers,
                body: body.to_string().into_bytes(),
            }
        }
        Service::Apprise => {
            let kind = match message.severity {
                Severity::Info => "info",
                Severity::Success => "success",
                Severity::Failure => "failure",
            };
            let mut body = json!({
                "title": message.title,
                "body": message.body,
                "type": kind,
                "format": "text",
            });
            let (path, tag) = match &target.options {
                Options::Apprise {
                    route: AppriseRoute::Key(key),
                    tag,
                } => (format!("/notify/{}", percent_encode(key)), tag.as_deref()),
                Options::Apprise { tag, .. } => {
                    body["urls"] = json!(secrets.urls.as_deref().unwrap_or_default());
                    ("/notify/".to_string(), tag.as_deref())
                }
                _ => ("/notify/".to_string(), None),
            };
            if let Some(tag) = tag {
                body["tag"] = json!(tag);
            }
            Payload {
                method: Method::Post,
                url: format!("{base}{path}"),
                headers: vec![json_type],
                body: body.to_string().into_bytes(),
            }
        }
        Service::Email => return None,
    };
    Some(payload)
}

/// At most `limit` characters, the last one an ellipsis when cut.
fn truncate(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(limit.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Text for Matrix's HTML body.
fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Slack's mrkdwn treats these three as control characters.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::config::notify::Secret;
    use crate::notify::event::EventKind;

    fn target(service: Service, topic: Option<&str>, priority: Option<i8>) -> Target {
        Target {
            service,
            url: Some(Secret::Inline(String::new())),
            token: None,
            events: EventKind::ALL.to_vec(),
            topic: topic.map(str::to_string),
            priority,
            options: Options::None,
        }
    }

    /// [`build`] for a service with only a URL and a token.
    fn build_http(
        target: &Target,
        url: &str,
        token: Option<&str>,
        message: &Message,
        events: &[&Event],
        document: &Value,
    ) -> Payload {
        let secrets = Resolved {
            url: Some(url.into()),
            token: token.map(str::to_string),
            ..Resolved::default()
        };
        build(target, &secrets, message, events, document, "txn-1").unwrap()
    }

    fn message(severity: Severity) -> Message {
        Message {
            title: "dum on box: 1 failed".into(),
            body: "app: check failed: <HTTP 500> & more".into(),
            severity,
        }
    }

    fn header<'p>(p: &'p Payload, name: &str) -> Option<&'p str> {
        p.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn ntfy_headers() {
        // (case, topic, priority, severity, token, url, Priority, Tags)
        let cases: &[(
            &str,
            Option<&str>,
            Option<i8>,
            Severity,
            Option<&str>,
            &str,
            &str,
            &str,
        )] = &[
            (
                "info",
                None,
                None,
                Severity::Info,
                None,
                "https://n/t",
                "3",
                "package",
            ),
            (
                "failure raised",
                None,
                Some(2),
                Severity::Failure,
                None,
                "https://n/t",
                "4",
                "warning",
            ),
            (
                "failure keeps a higher priority",
                None,
                Some(5),
                Severity::Failure,
                None,
                "https://n/t",
                "5",
                "warning",
            ),
            (
                "topic appended, token as bearer",
                Some("alerts"),
                None,
                Severity::Success,
                Some("tk"),
                "https://n/t/alerts",
                "3",
                "white_check_mark",
            ),
        ];
        for (case, topic, priority, severity, token, url, want_priority, tags) in cases {
            let p = build_http(
                &target(Service::Ntfy, *topic, *priority),
                "https://n/t/",
                *token,
                &message(*severity),
                &[],
                &Value::Null,
            );
            if topic.is_none() {
                assert_eq!(p.url, "https://n/t/", "{case}");
            } else {
                assert_eq!(p.url, *url, "{case}");
            }
            assert_eq!(header(&p, "Title"), Some("dum on box: 1 failed"), "{case}");
            assert_eq!(header(&p, "Priority"), Some(*want_priority), "{case}");
            assert_eq!(header(&p, "Tags"), Some(*tags), "{case}");
            assert_eq!(
                header(&p, "Authorization"),
                token.map(|t| format!("Bearer {t}")).as_deref(),
                "{case}"
            );
            assert_eq!(p.body, b"app: check failed: <HTTP 500> & more", "{case}");
        }
    }

    #[test]
    fn json_bodies() {
        let events_doc = serde_json::json!({"command": "check", "notifications": [], "images": []});
        let event = Event {
            kind: EventKind::Failed,
            image: "app".into(),
            container: None,
            from: None,
            to: None,
            to_digest: None,
            error: Some("x".into()),
            release_notes: None,
        };
        // (case, service, severity, token, url, header checked, body)
        let cases: &[(
            &str,
            Service,
            Severity,
            Option<&str>,
            &str,
            (&str, Option<&str>),
            Value,
        )] = &[
            (
                "gotify",
                Service::Gotify,
                Severity::Failure,
                Some("app-token"),
                "https://g/message",
                ("X-Gotify-Key", Some("app-token")),
                json!({"title": "dum on box: 1 failed", "message": "app: check failed: <HTTP 500> & more", "priority": 8}),
            ),
            (
                "gotify info",
                Service::Gotify,
                Severity::Info,
                Some("app-token"),
                "https://g/message",
                ("Authorization", None),
                json!({"title": "dum on box: 1 failed", "message": "app: check failed: <HTTP 500> & more", "priority": 5}),
            ),
            (
                "discord failure is red",
                Service::Discord,
                Severity::Failure,
                None,
                "https://g/",
                ("Content-Type", Some("application/json")),
                json!({"username": "dum", "embeds": [{"title": "dum on box: 1 failed", "description": "app: check failed: <HTTP 500> & more", "color": RED}]}),
            ),
            (
                "discord success is green",
                Service::Discord,
                Severity::Success,
                None,
                "https://g/",
                ("Content-Type", Some("application/json")),
                json!({"username": "dum", "embeds": [{"title": "dum on box: 1 failed", "description": "app: check failed: <HTTP 500> & more", "color": GREEN}]}),
            ),
            (
                "slack escapes mrkdwn",
                Service::Slack,
                Severity::Failure,
                None,
                "https://g/",
                ("Content-Type", Some("application/json")),
                json!({"text": "*dum on box: 1 failed*\napp: check failed: &lt;HTTP 500&gt; &amp; more"}),
            ),
            (
                "webhook: document plus events",
                Service::Webhook,
                Severity::Failure,
                Some("hook-token"),
                "https://g/",
                ("Authorization", Some("Bearer hook-token")),
                json!({"command": "check", "images": [], "title": "dum on box: 1 failed",
                       "events": [{"event": "failed", "image": "app", "container": null, "from": null,
                                   "to": null, "to_digest": null, "error": "x"}]}),
            ),
        ];
        for (case, service, severity, token, url, (name, value), body) in cases {
            let p = build_http(
                &target(*service, None, None),
                "https://g/",
                *token,
                &message(*severity),
                &[&event],
                &events_doc,
            );
            assert_eq!(p.url, *url, "{case}");
            assert_eq!(header(&p, name), *value, "{case}");
            let got: Value = serde_json::from_slice(&p.body).unwrap();
            assert_eq!(got, *body, "{case}");
        }
    }

    #[test]
    fn discord_truncates_long_bodies() {
        let long = Message {
            title: "t".repeat(300),
            body: "x".repeat(5000),
            severity: Severity::Info,
        };
        let p = build_http(
            &target(Service::Discord, None, None),
            "https://d",
            None,
            &long,
            &[],
            &Value::Null,
        );
        let v: Value = serde_json::from_slice(&p.body).unwrap();
        let embed = &v["embeds"][0];
        assert_eq!(
            embed["title"].as_str().unwrap().chars().count(),
            DISCORD_TITLE
        );
        assert_eq!(
            embed["description"].as_str().unwrap().chars().count(),
            DISCORD_DESCRIPTION
        );
        assert!(embed["description"].as_str().unwrap().ends_with('…'));
    }

    fn with(service: Service, options: Options, priority: Option<i8>) -> Target {
        Target {
            options,
            ..target(service, None, priority)
        }
    }

    fn notes_event() -> Event {
        Event {
            kind: EventKind::UpdateAvailable,
            image: "app".into(),
            container: None,
            from: Some("1".into()),
            to: Some("2".into()),
            to_digest: None,
            error: None,
            release_notes: Some("https://n/releases".into()),
        }
    }

    #[test]
    fn the_newer_services_requests() {
        let secrets =
            |url: &str, token: Option<&str>, user: Option<&str>, urls: Option<&str>| Resolved {
                url: Some(url.into()),
                token: token.map(str::to_string),
                user: user.map(str::to_string),
                urls: urls.map(str::to_string),
                password: None,
            };
        let text = "dum on box: 1 failed\napp: check failed: <HTTP 500> & more";
        let event = notes_event();
        // (case, target, secrets, severity, events, method, url, content type, body)
        let cases: Vec<(
            &str,
            Target,
            Resolved,
            Severity,
            Vec<&Event>,
            Method,
            &str,
            &str,
            Value,
        )> = vec![
            (
                "telegram: token in the path",
                with(
                    Service::Telegram,
                    Options::Telegram {
                        chat_id: "-100123".into(),
                    },
                    None,
                ),
                secrets("https://api.telegram.org/", Some("123:abc"), None, None),
                Severity::Failure,
                vec![],
                Method::Post,
                "https://api.telegram.org/bot123:abc/sendMessage",
                "application/json",
                json!({"chat_id": "-100123", "text": text, "disable_web_page_preview": true}),
            ),
            (
                "matrix: room and transaction encoded, html body",
                with(
                    Service::Matrix,
                    Options::Matrix {
                        room: "!r:m.org".into(),
                    },
                    None,
                ),
                secrets("https://m.org", Some("syt_x"), None, None),
                Severity::Info,
                vec![],
                Method::Put,
                "https://m.org/_matrix/client/v3/rooms/%21r%3Am.org/send/m.room.message/txn-1",
                "application/json",
                json!({"msgtype": "m.notice", "body": text, "format": "org.matrix.custom.html",
                       "formatted_body": "<b>dum on box: 1 failed</b><br>app: check failed: &lt;HTTP 500&gt; &amp; more"}),
            ),
            (
                "apprise stateful with tag",
                with(
                    Service::Apprise,
                    Options::Apprise {
                        route: AppriseRoute::Key("my key".into()),
                        tag: Some("ops".into()),
                    },
                    None,
                ),
                secrets("http://a:8000/", None, None, None),
                Severity::Failure,
                vec![],
                Method::Post,
                "http://a:8000/notify/my%20key",
                "application/json",
                json!({"title": "dum on box: 1 failed", "body": "app: check failed: <HTTP 500> & more",
                       "type": "failure", "format": "text", "tag": "ops"}),
            ),
            (
                "apprise stateless",
                with(
                    Service::Apprise,
                    Options::Apprise {
                        route: AppriseRoute::Urls(Secret::Env("U".into())),
                        tag: None,
                    },
                    None,
                ),
                secrets("http://a:8000", None, None, Some("tgram://t/c")),
                Severity::Success,
                vec![],
                Method::Post,
                "http://a:8000/notify/",
                "application/json",
                json!({"title": "dum on box: 1 failed", "body": "app: check failed: <HTTP 500> & more",
                       "type": "success", "format": "text", "urls": "tgram://t/c"}),
            ),
        ];
        for (case, target, secrets, severity, events, method, url, content_type, body) in cases {
            let p = build(
                &target,
                &secrets,
                &message(severity),
                &events,
                &Value::Null,
                "txn-1",
            )
            .unwrap();
            assert_eq!(p.method, method, "{case}");
            assert_eq!(p.url, url, "{case}");
            assert_eq!(header(&p, "Content-Type"), Some(content_type), "{case}");
            let got: Value = serde_json::from_slice(&p.body).unwrap();
            assert_eq!(got, body, "{case}");
        }
        let matrix = build(
            &with(
                Service::Matrix,
                Options::Matrix {
                    room: "!r:m.org".into(),
                },
                None,
            ),
            &secrets("https://m.org", Some("syt_x"), None, None),
            &message(Severity::Info),
            &[&event],
            &Value::Null,
            "txn-1",
        )
        .unwrap();
        assert_eq!(header(&matrix, "Authorization"), Some("Bearer syt_x"));
    }

    #[test]
    fn pushover_is_a_form_with_raised_failures_and_the_release_notes() {
        let event = notes_event();
        // (case, priority, severity, events, expected form)
        let cases: &[(&str, Option<i8>, Severity, bool, &str)] = &[
            (
                "default priority",
                None,
                Severity::Info,
                false,
                "token=app&user=u%20k&title=dum%20on%20box%3A%201%20failed&message=app%3A%20check%20failed%3A%20%3CHTTP%20500%3E%20%26%20more&priority=0",
            ),
            (
                "failure raised to 1, release notes linked",
                Some(-1),
                Severity::Failure,
                true,
                "token=app&user=u%20k&title=dum%20on%20box%3A%201%20failed&message=app%3A%20check%20failed%3A%20%3CHTTP%20500%3E%20%26%20more&priority=1&url=https%3A%2F%2Fn%2Freleases&url_title=Release%20notes",
            ),
            (
                "quiet stays quiet when nothing failed",
                Some(-2),
                Severity::Success,
                false,
                "token=app&user=u%20k&title=dum%20on%20box%3A%201%20failed&message=app%3A%20check%20failed%3A%20%3CHTTP%20500%3E%20%26%20more&priority=-2",
            ),
        ];
        for (case, priority, severity, notes, form) in cases {
            let secrets = Resolved {
                url: Some("https://api.pushover.net".into()),
                token: Some("app".into()),
                user: Some("u k".into()),
                ..Resolved::default()
            };
            let events: Vec<&Event> = if *notes { vec![&event] } else { vec![] };
            let p = build(
                &with(
                    Service::Pushover,
                    Options::Pushover {
                        user: Secret::Env("U".into()),
                    },
                    *priority,
                ),
                &secrets,
                &message(*severity),
                &events,
                &Value::Null,
                "txn-1",
            )
            .unwrap();
            assert_eq!(p.url, "https://api.pushover.net/1/messages.json", "{case}");
            assert_eq!(
                header(&p, "Content-Type"),
                Some("application/x-www-form-urlencoded"),
                "{case}"
            );
            assert_eq!(String::from_utf8(p.body).unwrap(), *form, "{case}");
        }
    }

    #[test]
    fn email_is_not_http() {
        let email = crate::config::notify::Email {
            host: "h".into(),
            port: 25,
            tls: crate::config::notify::Tls::None,
            username: None,
            password: None,
            from: "a@b".into(),
            to: vec!["c@d".into()],
            ca_file: None,
        };
        let target = Target {
            url: None,
            ..with(Service::Email, Options::Email(email), None)
        };
        let built = build(
            &target,
            &Resolved::default(),
            &message(Severity::Info),
            &[],
            &Value::Null,
            "t",
        );
        assert_eq!(built, None);
    }
}
