//! Per-container settings in `dum.*` labels, beside the service that runs the container
//! (a compose file's `labels:`), under the configuration file's own field names.
//!
//! Label values are strings; each is typed by the schema's type for that field and then
//! validated by the very rules of the configuration file (the schema and the checks it
//! cannot express), so a label accepts exactly what the file accepts.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::ImageConfig;

/// The prefix of dum's labels.
pub const PREFIX: &str = "dum.";

/// The fields a label may set: an image entry's, but `image` and `container_name`,
/// which the container itself answers, and of its `hooks` only the in-container
/// `pre_update` and `post_update` (a JSON argv array each): whoever can start a
/// container must not get a command run on the host through dum.
pub const FIELDS: &[&str] = &[
    "regex",
    "base_tag",
    "auto_update",
    "cleanup_old_images",
    "keep_versions",
    "grace_seconds",
    "health_timeout_seconds",
    "registry",
    "min_age_days",
    "release_notes",
    "hooks.pre_update",
    "hooks.post_update",
];

/// What a container's `dum.*` labels say.
#[derive(Debug, Clone)]
pub struct Labels {
    /// `dum.enable`, when given.
    pub enable: Option<bool>,
    /// The fields set, without the prefix, in [`FIELDS`] order.
    pub keys: Vec<String>,
    /// An entry holding the labels' values (defaults elsewhere).
    parsed: ImageConfig,
}

/// One label problem, said as the label and what is wrong with its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabelProblem {
    /// The label, e.g. `dum.keep_versions`.
    pub label: String,
    /// What is wrong, one line.
    pub message: String,
}

impl Labels {
    /// `entry` with every field the labels set taken from them: labels sit beside the
    /// container, so they are more specific than the file's entry for its image.
    pub fn apply(&self, mut entry: ImageConfig) -> ImageConfig {
        let from = &self.parsed;
        for key in &self.keys {
            match key.as_str() {
                "regex" => entry.regex = from.regex.clone(),
                "base_tag" => entry.base_tag = from.base_tag.clone(),
                "auto_update" => entry.auto_update = from.auto_update,
                "cleanup_old_images" => entry.cleanup_old_images = from.cleanup_old_images,
                "keep_versions" => entry.keep_versions = from.keep_versions,
                "grace_seconds" => entry.grace_seconds = from.grace_seconds,
                "health_timeout_seconds" => {
                    entry.health_timeout_seconds = from.health_timeout_seconds;
                }
                "registry" => entry.registry = from.registry.clone(),
                "min_age_days" => entry.min_age_days = from.min_age_days,
                "release_notes" => entry.release_notes = from.release_notes.clone(),
                "hooks.pre_update" => entry.hooks.pre_update = from.hooks.pre_update.clone(),
                "hooks.post_update" => entry.hooks.post_update = from.hooks.post_update.clone(),
                _ => {}
            }
        }
        entry.origin.label_keys = self.keys.clone();
        entry
    }
}

/// Reads the `dum.*` labels of a container running `image` (a repository, without
/// tag). `Ok(None)` when it has none; every problem at once otherwise.
pub fn read(
    labels: &BTreeMap<String, String>,
    image: &str,
) -> Result<Option<Labels>, Vec<LabelProblem>> {
    let ours: Vec<(&str, &str)> = labels
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(PREFIX)?, v.as_str())))
        .collect();
    if ours.is_empty() {
        return Ok(None);
    }
    let mut problems = Vec::new();
    let mut enable = None;
    let mut entry = Map::new();
    entry.insert("image".into(), Value::String(image.to_string()));
    let mut known: Vec<&str> = FIELDS.to_vec();
    known.push("enable");
    for (key, text) in ours {
        let label = format!("{PREFIX}{key}");
        let typed = if key == "enable" {
            boolean(text).map(|b| enable = Some(b))
        } else if !FIELDS.contains(&key) {
            Err(super::unknown_key(key, &known)
                .replacen("unknown key \"", &format!("unknown label \"{PREFIX}"), 1)
                .replace("did you mean \"", &format!("did you mean \"{PREFIX}")))
        } else if let Some(phase) = key.strip_prefix("hooks.") {
            super::hooks::from_label(text).map(|hook| {
                let hooks = entry
                    .entry("hooks")
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Some(hooks) = hooks.as_object_mut() {
                    hooks.insert(phase.to_string(), hook);
                }
            })
        } else {
            typed(key, text).map(|v| {
                entry.insert(key.to_string(), v);
            })
        };
        if let Err(message) = typed {
            problems.push(LabelProblem { label, message });
        }
    }
    let doc = serde_json::json!({ "images": [Value::Object(entry.clone())] });
    let parsed = match super::parse(&doc.to_string(), std::path::Path::new("labels")) {
        Ok(mut config) if problems.is_empty() => config.images.pop(),
        Ok(_) => None,
        Err(e) => {
            for p in e.problems {
                let key = label_key(&p.pointer);
                problems.push(LabelProblem {
                    label: format!("{PREFIX}{key}"),
                    message: p.message,
                });
            }
            None
        }
    };
    match parsed {
        Some(parsed) if problems.is_empty() => Ok(Some(Labels {
            enable,
            keys: FIELDS
                .iter()
                .filter(|k| match k.split_once('.') {
                    Some((object, field)) => entry.get(object).and_then(|o| o.get(field)).is_some(),
                    None => entry.contains_key(**k),
                })
                .map(|k| k.to_string())
                .collect(),
            parsed,
        })),
        _ => {
            problems.sort_by(|a, b| a.label.cmp(&b.label));
            Err(problems)
        }
    }
}

/// The label (without its prefix) a problem's pointer into the one-entry document is
/// about: `/images/0/keep_versions` is `keep_versions`,
/// `/images/0/hooks/pre_update/container/0` is `hooks.pre_update`.
fn label_key(pointer: &str) -> String {
    let mut parts = pointer.split('/').skip(3);
    match (parts.next(), parts.next()) {
        (Some("hooks"), Some(phase)) => format!("hooks.{phase}"),
        (Some(key), _) => key.to_string(),
        (None, _) => String::new(),
    }
}

/// A label's text as the JSON value the schema expects for `key`.
fn typed(key: &str, text: &str) -> Result<Value, String> {
    match key {
        "auto_update" | "cleanup_old_images" => boolean(text).map(Value::Bool),
        "keep_versions" | "grace_seconds" | "health_timeout_seconds" | "min_age_days" => text
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("must be a whole number, found {text:?}")),
        _ => Ok(Value::String(text.to_string())),
    }
}

fn boolean(text: &str) -> Result<bool, String> {
    match text.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("must be true or false, found {text:?}")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn labels_set_what_they_name_and_nothing_else() {
        let read = read(
            &labels(&[
                ("dum.regex", "^[0-9]+$"),
                ("dum.auto_update", "true"),
                ("dum.keep_versions", "5"),
                ("com.docker.compose.service", "app"),
            ]),
            "r.io/app",
        )
        .unwrap()
        .unwrap();
        assert_eq!(read.enable, None);
        assert_eq!(read.keys, ["regex", "auto_update", "keep_versions"]);
        let base = ImageConfig {
            base_tag: "stable".into(),
            grace_seconds: 30,
            ..ImageConfig::new("r.io/app")
        };
        let applied = read.apply(base);
        assert_eq!(applied.regex.unwrap().as_str(), "^[0-9]+$");
        assert!(applied.auto_update);
        assert_eq!(applied.keep_versions, 5);
        // Not labelled: the entry's.
        assert_eq!(applied.base_tag, "stable");
        assert_eq!(applied.grace_seconds, 30);
        assert_eq!(
            applied.origin.label_keys,
            ["regex", "auto_update", "keep_versions"]
        );
    }

    #[test]
    fn a_release_notes_label_sets_the_template() {
        let read = read(
            &labels(&[("dum.release_notes", "https://x/{version}")]),
            "r.io/app",
        )
        .unwrap()
        .unwrap();
        let applied = read.apply(ImageConfig::new("r.io/app"));
        assert_eq!(
            applied.release_notes.as_deref(),
            Some("https://x/{version}")
        );
        let empty = read_labels_error(&[("dum.release_notes", "")]);
        assert_eq!(
            empty,
            [(
                "dum.release_notes".to_string(),
                "must not be empty".to_string()
            )]
        );
    }

    fn read_labels_error(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        read(&labels(pairs), "r.io/app")
            .unwrap_err()
            .into_iter()
            .map(|p| (p.label, p.message))
            .collect()
    }

    #[test]
    fn no_dum_labels_is_none() {
        assert!(
            read(&labels(&[("com.example", "1")]), "app")
                .unwrap()
                .is_none()
        );
        let enabled = read(&labels(&[("dum.enable", "false")]), "app")
            .unwrap()
            .unwrap();
        assert_eq!(enabled.enable, Some(false));
        assert!(enabled.keys.is_empty());
    }

    #[test]
    fn every_field_with_a_wrong_value_names_the_label_and_the_problem() {
        let cases: &[(&str, &str, &str)] = &[
            ("dum.enable", "yes", "must be true or false, found \"yes\""),
            ("dum.auto_update", "1", "must be true or false, found \"1\""),
            ("dum.cleanup_old_images", "TRUE", "must be true or false"),
            ("dum.keep_versions", "three", "must be a whole number"),
            ("dum.keep_versions", "0", "must be at least 1"),
            ("dum.grace_seconds", "-1", "must be at least 0"),
            ("dum.grace_seconds", "1.5", "must be a whole number"),
            ("dum.health_timeout_seconds", "0", "must be at least 1"),
            ("dum.min_age_days", "a week", "must be a whole number"),
            ("dum.min_age_days", "-1", "must be at least 0"),
            ("dum.min_age_days", "4000", "must be at most 3650"),
            ("dum.regex", "^[0-9", "invalid regular expression"),
            ("dum.regex", "", "must not be empty"),
            ("dum.base_tag", "a b", "tag"),
            ("dum.base_tag", "", "must not be empty"),
            ("dum.registry", "http://x", ""),
            (
                "dum.rgex",
                "^1$",
                "unknown label \"dum.rgex\" (did you mean \"dum.regex\"?)",
            ),
            ("dum.image", "other", "unknown label \"dum.image\""),
            ("dum.hooks.pre_update", "sh -c true", "must be a JSON array"),
            ("dum.hooks.post_update", "[]", "[] has less than 1 item"),
            (
                "dum.hooks.post_update",
                "[\"\"]",
                "the program must not be empty",
            ),
            (
                "dum.hooks.post_rollback",
                "[\"true\"]",
                "unknown label \"dum.hooks.post_rollback\"",
            ),
            (
                "dum.hooks.pre_update.host",
                "[\"true\"]",
                "unknown label \"dum.hooks.pre_update.host\"",
            ),
        ];
        for (label, value, want) in cases {
            let problems = read(&labels(&[(label, value)]), "r.io/app").unwrap_err();
            assert_eq!(problems.len(), 1, "{label}={value}: {problems:?}");
            assert_eq!(problems[0].label, *label, "{label}={value}");
            assert!(
                problems[0].message.contains(want),
                "{label}={value}: {}",
                problems[0].message
            );
        }
    }

    /// A label names a command inside the container: a host command from a label would
    /// let anyone who can start a container run it as dum's user on the host.
    #[test]
    fn hook_labels_run_inside_the_container() {
        use crate::config::hooks::{Hook, Place};
        let read = read(
            &labels(&[
                ("dum.hooks.pre_update", r#"["sh","-c","echo dump"]"#),
                ("dum.hooks.post_update", r#"["true"]"#),
            ]),
            "r.io/app",
        )
        .unwrap()
        .unwrap();
        assert_eq!(read.keys, ["hooks.pre_update", "hooks.post_update"]);
        let mut base = ImageConfig::new("r.io/app");
        base.hooks.post_rollback = Some(Hook {
            place: Place::Host,
            argv: vec!["/bin/notify".into()],
            timeout_seconds: 5,
        });
        let applied = read.apply(base);
        let pre = applied.hooks.pre_update.unwrap();
        assert_eq!(pre.place, Place::Container);
        assert_eq!(pre.argv, ["sh", "-c", "echo dump"]);
        assert_eq!(pre.timeout_seconds, 60);
        assert_eq!(applied.hooks.post_update.unwrap().argv, ["true"]);
        // The file's host hook stays: labels set only what they name.
        assert_eq!(applied.hooks.post_rollback.unwrap().place, Place::Host);
    }

    #[test]
    fn all_problems_come_at_once() {
        let problems = read(
            &labels(&[
                ("dum.regex", "("),
                ("dum.keep_versions", "x"),
                ("dum.enable", "maybe"),
            ]),
            "app",
        )
        .unwrap_err();
        let names: Vec<&str> = problems.iter().map(|p| p.label.as_str()).collect();
        assert_eq!(names, ["dum.enable", "dum.keep_versions", "dum.regex"]);
    }
}
