//! Lifecycle hooks of an image entry (`hooks`): commands run before an update touches
//! the old container (`pre_update`), after the new one passed verification
//! (`post_update`) and after a rollback (`post_rollback`), on the host or inside the
//! container through the Engine's exec API.
//!
//! Host commands come only from the configuration file: a container's `dum.hooks.*`
//! labels may name commands inside the container only, or anyone allowed to start a
//! container would run commands on the host as dum's user (root).

use serde::Serialize;
use serde_json::{Map, Value};

use super::{Problem, problem};

/// Default `timeout_seconds` of a hook.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 60;

/// The exit code with which a `pre_update` hook skips the update for this run (sysexits'
/// `EX_TEMPFAIL`): "not now", not "never".
pub const SKIP_EXIT_CODE: i64 = 75;

/// When a hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Before the old container is touched; may veto or skip the update.
    PreUpdate,
    /// After the new container passed verification; a failure rolls the update back.
    PostUpdate,
    /// After a rollback; informational.
    PostRollback,
}

impl Phase {
    /// The configuration's (and `DUM_PHASE`'s) name of the phase.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::PreUpdate => "pre_update",
            Phase::PostUpdate => "post_update",
            Phase::PostRollback => "post_rollback",
        }
    }
}

/// Where a hook's command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    /// A child process of dum on the host.
    Host,
    /// Inside the container, through the Engine's exec API (the old container for
    /// `pre_update`, the new one for `post_update`, the restored one for
    /// `post_rollback`).
    Container,
}

/// One hook: an argv (no shell unless the user writes `sh -c`), where it runs, and how
/// long it may take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hook {
    /// Where the command runs.
    #[serde(rename = "where")]
    pub place: Place,
    /// The program and its arguments.
    pub argv: Vec<String>,
    /// How long it may run before it counts as failed.
    pub timeout_seconds: u64,
}

/// The hooks of one image entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Hooks {
    /// Runs before the old container is touched: exit 0 goes on, 75 skips the update
    /// for this run, anything else (or a timeout) vetoes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pre_update: Option<Hook>,
    /// Runs once the new container passed verification: anything but exit 0 rolls the
    /// update back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_update: Option<Hook>,
    /// Runs after a rollback; its outcome is only reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_rollback: Option<Hook>,
}

impl Hooks {
    /// The hook of `phase`, if one is set.
    pub fn get(&self, phase: Phase) -> Option<&Hook> {
        match phase {
            Phase::PreUpdate => self.pre_update.as_ref(),
            Phase::PostUpdate => self.post_update.as_ref(),
            Phase::PostRollback => self.post_rollback.as_ref(),
        }
    }

    /// The value as the configuration file would hold it (for `dum validate
    /// --effective`).
    pub fn to_json(&self) -> Value {
        let one = |hook: &Hook| {
            let key = match hook.place {
                Place::Host => "host",
                Place::Container => "container",
            };
            serde_json::json!({ key: hook.argv, "timeout_seconds": hook.timeout_seconds })
        };
        let mut map = Map::new();
        for phase in [Phase::PreUpdate, Phase::PostUpdate, Phase::PostRollback] {
            if let Some(hook) = self.get(phase) {
                map.insert(phase.as_str().into(), one(hook));
            }
        }
        if map.is_empty() {
            Value::Null
        } else {
            Value::Object(map)
        }
    }
}

/// Reads an entry's `hooks` object (at `at`, e.g. `/images/0/hooks`), reporting what the
/// schema cannot say: exactly one of `host` and `container`, and no empty program. Types
/// and unknown keys were reported by the schema; what is ill-typed is left out.
pub fn parse(value: Option<&Value>, at: &str, problems: &mut Vec<Problem>) -> Hooks {
    let Some(object) = value.and_then(Value::as_object) else {
        return Hooks::default();
    };
    let mut one = |phase: Phase| {
        let at = format!("{at}/{}", phase.as_str());
        object
            .get(phase.as_str())
            .and_then(Value::as_object)
            .and_then(|hook| parse_hook(hook, &at, problems))
    };
    Hooks {
        pre_update: one(Phase::PreUpdate),
        post_update: one(Phase::PostUpdate),
        post_rollback: one(Phase::PostRollback),
    }
}

fn parse_hook(hook: &Map<String, Value>, at: &str, problems: &mut Vec<Problem>) -> Option<Hook> {
    let host = hook.get("host");
    let container = hook.get("container");
    let (place, argv) = match (host, container) {
        (Some(argv), None) => (Place::Host, argv),
        (None, Some(argv)) => (Place::Container, argv),
        (Some(_), Some(_)) => {
            problems.push(problem(
                at,
                "give either host or container, not both: a hook runs in one place",
            ));
            return None;
        }
        (None, None) => {
            problems.push(problem(
                at,
                "needs host (a command on the host, as an argv array) or container (a command inside the container)",
            ));
            return None;
        }
    };
    let argv: Vec<String> = argv
        .as_array()?
        .iter()
        .map(|a| a.as_str().map(str::to_owned))
        .collect::<Option<_>>()?;
    let key = match place {
        Place::Host => "host",
        Place::Container => "container",
    };
    match argv.first() {
        // The schema's minItems already said so.
        None => return None,
        Some(program) if program.trim().is_empty() => {
            problems.push(problem(
                format!("{at}/{key}/0"),
                "the program must not be empty",
            ));
            return None;
        }
        Some(_) => {}
    }
    let timeout_seconds = match hook.get("timeout_seconds").map(Value::as_u64) {
        None => DEFAULT_TIMEOUT_SECONDS,
        Some(Some(t)) => t,
        // Negative, fractional or too large: the schema reported it.
        Some(None) => return None,
    };
    Some(Hook {
        place,
        argv,
        timeout_seconds,
    })
}

/// A `dum.hooks.<phase>` label's value (a JSON array of strings, the argv of a command
/// inside the container) as the configuration file's hook object.
pub fn from_label(text: &str) -> Result<Value, String> {
    let argv: Vec<String> = serde_json::from_str(text).map_err(|_| {
        format!(
            "must be a JSON array of strings (the command inside the container, e.g. [\"sh\",\"-c\",\"pg_dump …\"]), found {text:?}"
        )
    })?;
    Ok(serde_json::json!({ "container": argv }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use std::path::Path;

    fn problems_of(text: &str) -> Vec<(String, String)> {
        match crate::config::parse(text, Path::new("x")) {
            Ok(_) => Vec::new(),
            Err(e) => e
                .problems
                .into_iter()
                .map(|p| (p.pointer, p.message))
                .collect(),
        }
    }

    #[test]
    fn hooks_are_read_with_their_defaults() {
        let text = r#"{"images":[{"image":"a","hooks":{
            "pre_update":{"container":["sh","-c","pg_dump > /backup/db.sql"],"timeout_seconds":300},
            "post_update":{"host":["/usr/local/bin/smoke","web"]}}}]}"#;
        let config = crate::config::parse(text, Path::new("x")).unwrap();
        let hooks = &config.images[0].hooks;
        assert_eq!(
            hooks.pre_update,
            Some(Hook {
                place: Place::Container,
                argv: vec!["sh".into(), "-c".into(), "pg_dump > /backup/db.sql".into()],
                timeout_seconds: 300,
            })
        );
        assert_eq!(
            hooks.post_update,
            Some(Hook {
                place: Place::Host,
                argv: vec!["/usr/local/bin/smoke".into(), "web".into()],
                timeout_seconds: DEFAULT_TIMEOUT_SECONDS,
            })
        );
        assert_eq!(hooks.post_rollback, None);
        assert_eq!(
            hooks.to_json()["post_update"],
            serde_json::json!({"host": ["/usr/local/bin/smoke", "web"], "timeout_seconds": 60})
        );
    }

    #[test]
    fn bad_hooks_are_reported_with_their_pointer() {
        let cases: &[(&str, &str, &str)] = &[
            (
                r#"{"pre_update":{"host":["a"],"container":["b"]}}"#,
                "/images/0/hooks/pre_update",
                "not both",
            ),
            (
                r#"{"post_update":{"timeout_seconds":5}}"#,
                "/images/0/hooks/post_update",
                "needs host",
            ),
            (
                r#"{"pre_update":{"host":[]}}"#,
                "/images/0/hooks/pre_update/host",
                "",
            ),
            (
                r#"{"pre_update":{"host":[""]}}"#,
                "/images/0/hooks/pre_update/host/0",
                "must not be empty",
            ),
            (
                r#"{"pre_update":{"host":"backup.sh"}}"#,
                "/images/0/hooks/pre_update/host",
                "must be an array",
            ),
            (
                r#"{"pre_update":{"host":["a"],"timeout_seconds":0}}"#,
                "/images/0/hooks/pre_update/timeout_seconds",
                "must be at least 1",
            ),
            (
                r#"{"post_rollback":{"host":["a"],"timeout_second":5}}"#,
                "/images/0/hooks/post_rollback",
                "unknown key \"timeout_second\" (did you mean \"timeout_seconds\"?)",
            ),
            (
                r#"{"pre_updte":{"host":["a"]}}"#,
                "/images/0/hooks",
                "unknown key \"pre_updte\" (did you mean \"pre_update\"?)",
            ),
        ];
        for (hooks, pointer, message) in cases {
            let text = format!(r#"{{"images":[{{"image":"a","hooks":{hooks}}}]}}"#);
            let got = problems_of(&text);
            assert_eq!(got.len(), 1, "{hooks}: {got:?}");
            assert_eq!(got[0].0, *pointer, "{hooks}: {got:?}");
            assert!(got[0].1.contains(message), "{hooks}: {got:?}");
        }
    }

    #[test]
    fn a_label_is_a_json_argv() {
        assert_eq!(
            from_label(r#"["sh","-c","true"]"#).unwrap(),
            serde_json::json!({"container": ["sh", "-c", "true"]})
        );
        for bad in ["sh -c true", "{\"host\":[\"a\"]}", "[1]", ""] {
            assert!(from_label(bad).unwrap_err().contains("JSON array"), "{bad}");
        }
    }
}
