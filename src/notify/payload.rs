//! The HTTP request each service expects for a message: pure, so every format is
//! checked without a network.

use serde_json::{Value, json};

use super::event::Event;
use super::message::{Message, Severity};
use crate::config::notify::{Service, Target};

/// Discord limits an embed description to 4096 characters.
const DISCORD_DESCRIPTION: usize = 4096;
/// Discord limits an embed title to 256 characters.
const DISCORD_TITLE: usize = 256;
/// Embed colours: red for failures, green for updates, blue for news.
const RED: u32 = 0xE7_4C_3C;
const GREEN: u32 = 0x2E_CC_71;
const BLUE: u32 = 0x34_98_DB;

/// One POST.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    /// Where to.
    pub url: String,
    /// Headers besides User-Agent.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// The request for `target` (URL and token already resolved). `document` is the run's
/// `--format json` document, which a webhook receives with the `events` added.
pub fn build(
    target: &Target,
    url: &str,
    token: Option<&str>,
    message: &Message,
    events: &[&Event],
    document: &Value,
) -> Payload {
    let json_type = ("Content-Type", "application/json".to_string());
    let bearer = token.map(|t| ("Authorization", format!("Bearer {t}")));
    match target.service {
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
                url: url.to_string(),
                headers,
                body: Value::Object(body).to_string().into_bytes(),
            }
        }
    }
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

    fn target(service: Service, topic: Option<&str>, priority: Option<u8>) -> Target {
        Target {
            service,
            url: Secret::Inline(String::new()),
            token: None,
            events: EventKind::ALL.to_vec(),
            topic: topic.map(str::to_string),
            priority,
        }
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
            Option<u8>,
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
            let p = build(
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
            let p = build(
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
        let p = build(
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
}
