//! How far a service's rollout is, the way `docker service update --detach=false`
//! follows it: Swarm's `UpdateStatus` and the service's tasks. Pure: what the engine
//! said in, a verdict out.

use serde_json::Value;

use crate::swarm::service::Service;

/// One task of a service (`GET /tasks`), reduced to what a rollout needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// Whether Swarm wants it running (not shut down or replaced).
    pub desired_running: bool,
    /// Its state (`running`, `starting`, `failed`, …).
    pub state: String,
    /// The image its spec names.
    pub image: String,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

impl Task {
    /// From the engine's JSON; `None` when it is not a task.
    pub fn from_json(raw: &Value) -> Option<Task> {
        let text = |p: &str| raw.pointer(p).and_then(Value::as_str).map(str::to_string);
        Some(Task {
            desired_running: text("/DesiredState")? == "running",
            state: text("/Status/State")?,
            image: text("/Spec/ContainerSpec/Image")?,
            error: text("/Status/Err").filter(|e| !e.is_empty()),
        })
    }
}

/// Where a rollout is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Still going; what it is waiting for.
    Waiting(String),
    /// Every desired task runs the target image, and Swarm says the update is done.
    Done,
    /// Swarm rolled the update back by itself (`--update-failure-action rollback`).
    RolledBack(String),
    /// Swarm stopped: a paused update or rollback.
    Failed(String),
}

/// Where the rollout of `service` to `target` (the spec's full image, `repo:tag@digest`)
/// is. `undoing`: the rollout is dum's own `rollback=previous`, whose completion is
/// Swarm's `rollback_completed`.
pub fn progress(service: &Service, tasks: &[Task], target: &str, undoing: bool) -> Progress {
    let message = service.update_message.clone().unwrap_or_default();
    match service.update_state.as_deref() {
        Some("paused") => return Progress::Failed(format!("Swarm paused the update: {message}")),
        Some("rollback_paused") => {
            return Progress::Failed(format!("Swarm paused the rollback: {message}"));
        }
        Some("rollback_completed") if !undoing => return Progress::RolledBack(message),
        Some("rollback_started") if !undoing => {
            return Progress::Waiting(format!("Swarm is rolling back: {message}"));
        }
        Some("updating") | Some("rollback_started") => {
            return Progress::Waiting(format!("Swarm: {message}"));
        }
        _ => {}
    }
    let desired: Vec<&Task> = tasks.iter().filter(|t| t.desired_running).collect();
    let ready = desired
        .iter()
        .filter(|t| t.image == target && t.state == "running")
        .count();
    let stale = desired.iter().filter(|t| t.image != target).count();
    let enough = match service.desired() {
        Some(n) => ready as u64 >= n,
        // Global: every task Swarm wants running (one per eligible node).
        None => ready == desired.len(),
    };
    if enough && stale == 0 {
        return Progress::Done;
    }
    let want = service
        .desired()
        .map_or_else(|| desired.len().to_string(), |n| n.to_string());
    let failed = tasks
        .iter()
        .filter(|t| t.image == target)
        .filter_map(|t| t.error.as_deref())
        .next_back();
    Progress::Waiting(match failed {
        Some(e) => format!("{ready} of {want} tasks run the new image; a task failed: {e}"),
        None => format!("{ready} of {want} tasks run the new image"),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    fn service(mode: Value, state: Option<&str>) -> Service {
        let mut raw = json!({
            "ID": "s1", "Version": {"Index": 3},
            "Spec": {"Name": "web", "Mode": mode,
                     "TaskTemplate": {"ContainerSpec": {"Image": "new"}}}
        });
        if let Some(s) = state {
            raw["UpdateStatus"] = json!({"State": s, "Message": "msg"});
        }
        Service::from_json(&raw).unwrap()
    }

    fn task(desired: bool, state: &str, image: &str) -> Task {
        Task {
            desired_running: desired,
            state: state.into(),
            image: image.into(),
            error: (state == "failed").then(|| "unhealthy container".to_string()),
        }
    }

    #[test]
    fn rollouts_read_like_docker_service_update() {
        let two = json!({"Replicated": {"Replicas": 2}});
        let global = json!({"Global": {}});
        let done = || {
            vec![
                task(true, "running", "new"),
                task(true, "running", "new"),
                task(false, "shutdown", "old"),
            ]
        };
        let cases: Vec<(&str, Value, Option<&str>, Vec<Task>, bool, &str)> = vec![
            (
                "completed",
                two.clone(),
                Some("completed"),
                done(),
                false,
                "done",
            ),
            (
                "no status yet, tasks done",
                two.clone(),
                None,
                done(),
                false,
                "done",
            ),
            (
                "updating",
                two.clone(),
                Some("updating"),
                done(),
                false,
                "waiting",
            ),
            (
                "completed, one starting",
                two.clone(),
                Some("completed"),
                vec![task(true, "running", "new"), task(true, "starting", "new")],
                false,
                "waiting",
            ),
            (
                "one old task left",
                two.clone(),
                Some("completed"),
                vec![
                    task(true, "running", "new"),
                    task(true, "running", "new"),
                    task(true, "running", "old"),
                ],
                false,
                "waiting",
            ),
            (
                "paused",
                two.clone(),
                Some("paused"),
                done(),
                false,
                "failed",
            ),
            (
                "rollback paused",
                two.clone(),
                Some("rollback_paused"),
                done(),
                false,
                "failed",
            ),
            (
                "rolled back by Swarm",
                two.clone(),
                Some("rollback_started"),
                done(),
                false,
                "waiting",
            ),
            (
                "rolled back by Swarm, done",
                two.clone(),
                Some("rollback_completed"),
                done(),
                false,
                "rolled back",
            ),
            (
                "dum's rollback, done",
                two.clone(),
                Some("rollback_completed"),
                done(),
                true,
                "done",
            ),
            (
                "dum's rollback, going",
                two.clone(),
                Some("rollback_started"),
                done(),
                true,
                "waiting",
            ),
            (
                "global, all nodes",
                global.clone(),
                Some("completed"),
                vec![task(true, "running", "new")],
                false,
                "done",
            ),
            (
                "global, a node left",
                global,
                Some("completed"),
                vec![task(true, "running", "new"), task(true, "failed", "new")],
                false,
                "waiting",
            ),
            (
                "zero replicas",
                json!({"Replicated": {"Replicas": 0}}),
                None,
                vec![],
                false,
                "done",
            ),
        ];
        for (case, mode, state, tasks, undoing, want) in cases {
            let got = progress(&service(mode, state), &tasks, "new", undoing);
            let kind = match &got {
                Progress::Waiting(_) => "waiting",
                Progress::Done => "done",
                Progress::RolledBack(_) => "rolled back",
                Progress::Failed(_) => "failed",
            };
            assert_eq!(kind, want, "{case}: {got:?}");
        }
    }

    #[test]
    fn tasks_from_the_engine() {
        let t = Task::from_json(&json!({
            "DesiredState": "running",
            "Status": {"State": "failed", "Err": "task: non-zero exit (1)"},
            "Spec": {"ContainerSpec": {"Image": "r/app:2@sha256:bb"}}
        }))
        .unwrap();
        assert!(t.desired_running);
        assert_eq!(t.error.as_deref(), Some("task: non-zero exit (1)"));
        assert!(Task::from_json(&json!({})).is_none());
    }
}
