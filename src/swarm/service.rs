//! A Swarm service as the engine describes it (`GET /services`), reduced to what dum
//! reads, and the one change dum makes to its spec. Pure: JSON in, data out.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// How many tasks a service runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum Mode {
    /// `replicas` tasks.
    Replicated {
        /// Desired tasks.
        replicas: u64,
    },
    /// One task per eligible node.
    Global,
    /// A job (`replicated-job`, `global-job`): its tasks run to completion.
    Job,
}

/// One service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Its ID.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The spec's version (`?version=` of an update).
    pub version: u64,
    /// The image as the spec names it: `repo:tag@sha256:…` when pinned.
    pub image: String,
    /// The spec's labels (`dum.*` settings live there).
    pub labels: BTreeMap<String, String>,
    /// How many tasks it runs.
    pub mode: Mode,
    /// `UpdateStatus.State`, when an update or rollback happened.
    pub update_state: Option<String>,
    /// `UpdateStatus.Message`.
    pub update_message: Option<String>,
    /// Whether Swarm keeps a previous spec (`rollback=previous` is possible).
    pub has_previous: bool,
    /// The whole document, for the update.
    pub raw: Value,
}

impl Service {
    /// Reads one service from the engine's JSON; `None` when it is not a service.
    pub fn from_json(raw: &Value) -> Option<Service> {
        let spec = raw.get("Spec")?;
        let mode = spec.get("Mode");
        let mode = if let Some(r) = mode.and_then(|m| m.get("Replicated")) {
            Mode::Replicated {
                replicas: r.get("Replicas").and_then(Value::as_u64).unwrap_or(1),
            }
        } else if mode.and_then(|m| m.get("Global")).is_some() {
            Mode::Global
        } else if mode
            .is_some_and(|m| m.get("ReplicatedJob").is_some() || m.get("GlobalJob").is_some())
        {
            Mode::Job
        } else {
            Mode::Replicated { replicas: 1 }
        };
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        Some(Service {
            id: text(raw.get("ID"))?,
            name: text(spec.get("Name"))?,
            version: raw.pointer("/Version/Index").and_then(Value::as_u64)?,
            image: text(spec.pointer("/TaskTemplate/ContainerSpec/Image"))?,
            labels: spec
                .get("Labels")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default(),
            mode,
            update_state: text(raw.pointer("/UpdateStatus/State")),
            update_message: text(raw.pointer("/UpdateStatus/Message")),
            has_previous: raw.get("PreviousSpec").is_some_and(|p| !p.is_null()),
            raw: raw.clone(),
        })
    }

    /// The image without its digest (`repo:tag`), and the digest it is pinned to.
    pub fn image_parts(&self) -> (&str, Option<&str>) {
        match self.image.split_once('@') {
            Some((name, digest)) => (name, Some(digest)),
            None => (self.image.as_str(), None),
        }
    }

    /// The image of the spec Swarm keeps as the previous one (`rollback=previous`
    /// returns to it); Swarm keeps one.
    pub fn previous_image(&self) -> Option<&str> {
        self.raw
            .pointer("/PreviousSpec/TaskTemplate/ContainerSpec/Image")
            .and_then(Value::as_str)
    }

    /// How many tasks must run the new image for a rollout to be complete; `None` for a
    /// global service (one per eligible node: the engine's tasks say how many).
    pub fn desired(&self) -> Option<u64> {
        match self.mode {
            Mode::Replicated { replicas } => Some(replicas),
            Mode::Global | Mode::Job => None,
        }
    }

    /// The spec to send for an update that changes only the image to `image`: every
    /// other field (replicas, mode, labels, `ForceUpdate`, update and rollback config)
    /// stays as the engine returned it.
    pub fn spec_with_image(&self, image: &str) -> Value {
        let mut spec = self.raw.get("Spec").cloned().unwrap_or(Value::Null);
        if let Some(cs) = spec
            .pointer_mut("/TaskTemplate/ContainerSpec")
            .and_then(Value::as_object_mut)
        {
            cs.insert("Image".into(), Value::String(image.to_string()));
        }
        spec
    }
}

/// Whether the engine is a swarm manager, a worker, or not in a swarm (`GET /info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// Not part of a swarm.
    #[default]
    None,
    /// A worker: services are checked on managers.
    Worker,
    /// A manager: services are listed and updated here.
    Manager,
}

impl Role {
    /// From the engine's swarm state (`active/manager`, `active/worker`, `inactive`, …).
    pub fn from_state(state: &str) -> Role {
        match state {
            "active/manager" => Role::Manager,
            "active/worker" => Role::Worker,
            _ => Role::None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw(mode: Value) -> Value {
        json!({
            "ID": "s1", "Version": {"Index": 12},
            "Spec": {
                "Name": "web", "Labels": {"dum.regex": "^1"},
                "TaskTemplate": {"ContainerSpec": {"Image": "r/app:1.0@sha256:aa", "Env": ["A=1"]},
                                 "ForceUpdate": 3},
                "Mode": mode,
                "UpdateConfig": {"FailureAction": "rollback"}
            },
            "UpdateStatus": {"State": "completed", "Message": "update completed"}
        })
    }

    #[test]
    fn services_from_the_engine() {
        let cases: &[(Value, Mode, Option<u64>)] = &[
            (
                json!({"Replicated": {"Replicas": 2}}),
                Mode::Replicated { replicas: 2 },
                Some(2),
            ),
            (
                json!({"Replicated": {"Replicas": 0}}),
                Mode::Replicated { replicas: 0 },
                Some(0),
            ),
            (json!({"Global": {}}), Mode::Global, None),
            (json!({"ReplicatedJob": {}}), Mode::Job, None),
        ];
        for (mode, want, desired) in cases {
            let s = Service::from_json(&raw(mode.clone())).unwrap();
            assert_eq!(&s.mode, want);
            assert_eq!(s.desired(), *desired);
            assert_eq!(s.version, 12);
            assert_eq!(s.image_parts(), ("r/app:1.0", Some("sha256:aa")));
            assert_eq!(s.labels["dum.regex"], "^1");
            assert_eq!(s.update_state.as_deref(), Some("completed"));
            assert!(!s.has_previous);
        }
        assert!(Service::from_json(&json!({"ID": "x"})).is_none());
    }

    /// Only the image changes; everything else is sent back as it came.
    #[test]
    fn the_update_spec_changes_only_the_image() {
        let s = Service::from_json(&raw(json!({"Replicated": {"Replicas": 2}}))).unwrap();
        let spec = s.spec_with_image("r/app:2.0@sha256:bb");
        let mut want = s.raw["Spec"].clone();
        want["TaskTemplate"]["ContainerSpec"]["Image"] = json!("r/app:2.0@sha256:bb");
        assert_eq!(spec, want);
        assert_eq!(spec["TaskTemplate"]["ForceUpdate"], 3);
    }

    #[test]
    fn roles_from_the_swarm_state() {
        let cases = [
            ("active/manager", Role::Manager),
            ("active/worker", Role::Worker),
            ("inactive", Role::None),
            ("pending", Role::None),
            ("locked", Role::None),
            ("", Role::None),
        ];
        for (state, want) in cases {
            assert_eq!(Role::from_state(state), want, "{state}");
        }
    }
}
