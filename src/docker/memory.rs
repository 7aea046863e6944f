//! An engine in memory whose writes change its model the way dockerd does (create,
//! rename, start, stop, pause, remove, connect, pull, tag), for unit tests of the
//! update transaction. Any chosen call (a read or a write) can be made to fail,
//! started containers can crash or report a health status, and every write leaves a
//! checkpoint (the model and the state file as they were) so a test can resume from
//! any point as if dum had been killed there.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Result, anyhow};
use serde_json::{Map, Value, json};

use super::types::{ContainerInspect, ContainerSummary, ImageInspect, ImageSummary};
use super::{Engine, EngineError, EngineRead, Exec, ExitWatch};

/// Containers and images as the engine's inspect documents.
#[derive(Debug, Clone, Default)]
pub struct Model {
    /// Container inspect documents.
    pub containers: Vec<Value>,
    /// Local image inspect documents.
    pub images: Vec<Value>,
    /// Images a pull can fetch, by `name@digest`.
    pub remote: Vec<(String, Value)>,
    /// Image IDs whose containers exit at once with code 1 when started.
    pub crashing: Vec<String>,
    /// Image IDs whose containers have a healthcheck, with the status it reports once
    /// they run (`starting`, `healthy`, `unhealthy`).
    pub health: Vec<(String, String)>,
    /// Containers the engine is still stopping (a stop requested by a run that was
    /// killed): they stop [`STOP_LANDS`] after the engine starts, as dockerd finishes a
    /// stop whoever asked for it.
    pub stopping: Vec<String>,
    /// How commands run by the exec API end, by program (`argv[0]`): exit code
    /// (`None`: still running at the timeout) and output. Others exit 0, silent.
    pub exec: Vec<(String, Option<i64>, String)>,
    /// IDs handed out so far.
    next_id: u64,
}

/// How long a stop in flight takes to land in a resumed engine.
pub const STOP_LANDS: Duration = Duration::from_millis(300);

/// The model and the state file at one point of a run: where a killed dum would have
/// left them.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The write call about to be made or just made, e.g. `stop <id>`.
    pub call: String,
    /// `before` the engine saw it, `during` (a stop the engine is still carrying out),
    /// or `after` it was done.
    pub when: &'static str,
    /// The engine's model then.
    pub model: Model,
    /// The state file's bytes then (`None`: it did not exist).
    pub state: Option<Vec<u8>>,
}

/// Which call fails (once) with an injected HTTP 500.
#[derive(Debug, Clone)]
enum Failure {
    /// The write call with this number (1-based, counting writes only).
    Write(usize),
    /// The call with this number (1-based, counting reads and writes).
    Call(usize),
    /// The `nth` (1-based) call whose description starts with the text, e.g.
    /// `inspect_container side` or `start`.
    Matching(String, usize),
}

#[derive(Debug, Default)]
struct Inner {
    model: Model,
    /// Write calls made, in order, e.g. `rename <id> web-dum-backup`.
    calls: Vec<String>,
    /// Every call made, reads included, in order, e.g. `inspect_container web`.
    log: Vec<String>,
    fail: Option<Failure>,
    checkpoints: Vec<Checkpoint>,
    /// Containers watched from before their start, with what their watch reports.
    watches: Vec<(String, Watch)>,
}

/// An [`ExitWatch`] handed out (a newtype: `ExitWatch` has no `Debug`).
#[derive(Clone, Default)]
struct Watch(ExitWatch);

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ExitWatch({:?})", self.0.exit_code())
    }
}

impl Inner {
    /// Logs a call and says whether it is the one chosen to fail.
    fn call(&mut self, call: &str, write: bool) -> bool {
        self.log.push(call.to_string());
        if write {
            self.calls.push(call.to_string());
        }
        match &self.fail {
            Some(Failure::Write(n)) => write && self.calls.len() == *n,
            Some(Failure::Call(n)) => self.log.len() == *n,
            Some(Failure::Matching(prefix, n)) => {
                call.starts_with(prefix.as_str())
                    && self
                        .log
                        .iter()
                        .filter(|c| c.starts_with(prefix.as_str()))
                        .count()
                        == *n
            }
            None => false,
        }
    }
}

/// The in-memory engine.
#[derive(Debug)]
pub struct MemoryEngine {
    inner: Mutex<Inner>,
    started: std::time::Instant,
    /// The state file whose bytes each checkpoint keeps.
    state_file: Option<PathBuf>,
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn error(method: &str, path: &str, status: u16, message: &str) -> anyhow::Error {
    anyhow::Error::new(EngineError {
        method: method.into(),
        path: path.into(),
        status,
        message: message.into(),
    })
}

impl Model {
    /// Adds a container from an inspect document, running when `running`.
    pub fn with_container(mut self, mut doc: Value, running: bool) -> Self {
        set_state(&mut doc, if running { "running" } else { "exited" });
        self.containers.push(doc);
        self
    }

    /// Adds a local image document.
    pub fn with_image(mut self, doc: Value) -> Self {
        self.images.push(doc);
        self
    }

    /// Makes `doc` pullable as `name@digest`.
    pub fn with_remote(mut self, pull: &str, doc: Value) -> Self {
        self.remote.push((pull.to_string(), doc));
        self
    }

    /// Makes containers of image `id` exit as soon as they start.
    pub fn crashing(mut self, id: &str) -> Self {
        self.crashing.push(id.to_string());
        self
    }

    /// Gives containers of image `id` a healthcheck that reports `status` once they run.
    pub fn health(mut self, id: &str, status: &str) -> Self {
        self.health.push((id.to_string(), status.to_string()));
        self
    }

    /// The container known by `name` (name, full ID or ID prefix of 12+).
    pub fn find(&self, name: &str) -> Option<usize> {
        let name = name.trim_start_matches('/');
        self.containers.iter().position(|c| {
            let id = text(c, "/Id");
            text(c, "/Name").trim_start_matches('/') == name
                || id == name
                || (name.len() >= 12 && id.starts_with(name))
        })
    }

    /// The container called `name`.
    pub fn container(&self, name: &str) -> Option<&Value> {
        self.find(name).map(|i| &self.containers[i])
    }

    /// Names of every container, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .containers
            .iter()
            .map(|c| text(c, "/Name").trim_start_matches('/').to_string())
            .collect();
        names.sort();
        names
    }

    fn image(&self, reference: &str) -> Option<usize> {
        self.images.iter().position(|i| {
            let id = text(i, "/Id");
            id == reference
                || id.trim_start_matches("sha256:") == reference
                || ["/RepoTags", "/RepoDigests"].iter().any(|p| {
                    i.pointer(p)
                        .and_then(Value::as_array)
                        .is_some_and(|a| a.iter().any(|r| r.as_str() == Some(reference)))
                })
        })
    }

    fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("{:064x}", 0xd0d0_0000_u64 + self.next_id)
    }

    fn remove_at(&mut self, index: usize) {
        self.containers.remove(index);
    }
}

/// Stops container `i`: the engine removes an `AutoRemove` one.
fn stop_at(model: &mut Model, i: usize) {
    if model.containers[i].pointer("/HostConfig/AutoRemove") == Some(&json!(true)) {
        model.remove_at(i);
    } else {
        set_state(&mut model.containers[i], "exited");
    }
}

fn set_state(doc: &mut Value, status: &str) {
    let running = matches!(status, "running" | "paused");
    let state = json!({
        "Status": status,
        "Running": running,
        "Paused": status == "paused",
        "Restarting": false,
        "ExitCode": if status == "exited" { 1 } else { 0 },
    });
    if let Some(map) = doc.as_object_mut() {
        map.insert("State".into(), state);
    }
}

impl MemoryEngine {
    /// An engine holding `model`; its checkpoints keep `state_file`'s bytes.
    pub fn new(model: Model, state_file: Option<PathBuf>) -> MemoryEngine {
        MemoryEngine {
            inner: Mutex::new(Inner {
                model,
                ..Inner::default()
            }),
            started: std::time::Instant::now(),
            state_file,
        }
    }

    /// Makes write call number `n` (1-based, every write counts) fail.
    pub fn fail_write(self, n: usize) -> Self {
        self.failing(Failure::Write(n))
    }

    /// Makes call number `n` (1-based, reads and writes count) fail.
    pub fn fail_call(self, n: usize) -> Self {
        self.failing(Failure::Call(n))
    }

    /// Makes the `nth` (1-based) call whose description starts with `prefix` fail, e.g.
    /// `fail_on("containers", 1)` or `fail_on("inspect_container side", 1)`.
    pub fn fail_on(self, prefix: &str, nth: usize) -> Self {
        self.failing(Failure::Matching(prefix.to_string(), nth))
    }

    fn failing(self, failure: Failure) -> Self {
        if let Ok(mut inner) = self.inner.lock() {
            inner.fail = Some(failure);
        }
        self
    }

    /// Every call made so far, reads included.
    pub fn log(&self) -> Vec<String> {
        self.inner.lock().map(|i| i.log.clone()).unwrap_or_default()
    }

    /// The model now.
    pub fn model(&self) -> Model {
        self.inner
            .lock()
            .map(|i| i.model.clone())
            .unwrap_or_default()
    }

    /// The write calls made so far.
    pub fn calls(&self) -> Vec<String> {
        self.inner
            .lock()
            .map(|i| i.calls.clone())
            .unwrap_or_default()
    }

    /// A checkpoint before and after every write call made so far.
    pub fn checkpoints(&self) -> Vec<Checkpoint> {
        self.inner
            .lock()
            .map(|i| i.checkpoints.clone())
            .unwrap_or_default()
    }

    fn state_bytes(&self) -> Option<Vec<u8>> {
        self.state_file.as_ref().and_then(|p| std::fs::read(p).ok())
    }

    /// Runs one write: counted, checkpointed before and after, failed when chosen.
    fn write<T>(&self, call: String, apply: impl FnOnce(&mut Model) -> Result<T>) -> Result<T> {
        let state = self.state_bytes();
        let mut inner = self
            .inner
            .lock()
            .map_err(|_| anyhow!("memory engine poisoned"))?;
        self.land_stops(&mut inner.model, false);
        let fail = inner.call(&call, true);
        let before = Checkpoint {
            call: call.clone(),
            when: "before",
            model: inner.model.clone(),
            state: state.clone(),
        };
        inner.checkpoints.push(before);
        if let Some(id) = call.strip_prefix("stop ") {
            let mut model = inner.model.clone();
            model.stopping.push(id.to_string());
            inner.checkpoints.push(Checkpoint {
                call: call.clone(),
                when: "during",
                model,
                state: state.clone(),
            });
        }
        if fail {
            return Err(error("POST", &call, 500, "injected failure"));
        }
        let result = apply(&mut inner.model);
        let after = Checkpoint {
            call,
            when: "after",
            model: inner.model.clone(),
            state,
        };
        inner.checkpoints.push(after);
        result
    }

    /// Runs one read: logged, failed when chosen.
    fn read<T>(&self, call: String, f: impl FnOnce(&Model) -> T) -> Result<T> {
        let mut inner = self
            .inner
            .lock()
            .map_err(|_| anyhow!("memory engine poisoned"))?;
        self.land_stops(&mut inner.model, false);
        if inner.call(&call, false) {
            return Err(error("GET", &call, 500, "injected failure"));
        }
        Ok(f(&inner.model))
    }

    /// Lets every stop still in flight land now, as it eventually does.
    pub fn finish_stops(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            self.land_stops(&mut inner.model, true);
        }
    }

    fn land_stops(&self, model: &mut Model, now: bool) {
        if model.stopping.is_empty() || !(now || self.started.elapsed() >= STOP_LANDS) {
            return;
        }
        for id in std::mem::take(&mut model.stopping) {
            if let Some(i) = model.find(&id) {
                stop_at(model, i);
            }
        }
    }
}

impl EngineRead for MemoryEngine {
    fn containers(&self) -> Result<Vec<ContainerSummary>> {
        self.read("containers".into(), |m| {
            m.containers
                .iter()
                .map(|c| ContainerSummary {
                    id: text(c, "/Id").into(),
                    names: vec![text(c, "/Name").into()],
                    image: text(c, "/Config/Image").into(),
                    image_id: text(c, "/Image").into(),
                    state: text(c, "/State/Status").into(),
                    labels: None,
                })
                .collect()
        })
    }

    fn inspect_container(&self, name: &str) -> Result<Option<ContainerInspect>> {
        let doc = self.read(format!("inspect_container {name}"), |m| {
            m.container(name).cloned()
        })?;
        Ok(doc.map(ContainerInspect::from_value).transpose()?)
    }

    fn inspect_image(&self, name: &str) -> Result<Option<ImageInspect>> {
        let doc = self.read(format!("inspect_image {name}"), |m| {
            m.image(name).map(|i| m.images[i].clone())
        })?;
        Ok(doc.map(ImageInspect::from_value).transpose()?)
    }

    fn images(&self) -> Result<Vec<ImageSummary>> {
        let docs = self.read("images".into(), |m| m.images.clone())?;
        Ok(serde_json::from_value(Value::Array(docs))?)
    }

    fn api(&self) -> (u32, u32) {
        (1, 51)
    }

    fn logs_tail(&self, _: &str, _: u32) -> Result<String> {
        Ok("crashed on start".into())
    }

    fn watch(&self, id: &str, _: bool, _: Duration) -> Result<ExitWatch> {
        let mut inner = self
            .inner
            .lock()
            .map_err(|_| anyhow!("memory engine poisoned"))?;
        if inner.call(&format!("watch {id}"), false) {
            return Err(error("POST", "/containers/attach", 500, "injected failure"));
        }
        let watch = Watch::default();
        inner.watches.push((id.to_string(), watch.clone()));
        Ok(watch.0)
    }

    /// Not a swarm node.
    fn swarm_state(&self) -> Result<String> {
        Ok("inactive".into())
    }

    fn services(&self) -> Result<Vec<Value>> {
        Ok(Vec::new())
    }

    fn inspect_service(&self, _name: &str) -> Result<Option<Value>> {
        Ok(None)
    }

    fn tasks(&self, _service_id: &str) -> Result<Vec<Value>> {
        Ok(Vec::new())
    }
}

impl Engine for MemoryEngine {
    /// Changes nothing in the model but is a write (`exec <id> <argv…>`), checkpointed
    /// like the others: a command runs in the container. Refused (409) when the
    /// container does not run, as dockerd does.
    fn exec(&self, id: &str, argv: &[String], _: &[String], _: Duration) -> Result<Exec> {
        let answer = self.write(format!("exec {id} {}", argv.join(" ")), |m| {
            let running = m
                .container(id)
                .is_some_and(|c| c.pointer("/State/Running") == Some(&Value::Bool(true)));
            let scripted = m
                .exec
                .iter()
                .find(|(program, _, _)| argv.first() == Some(program))
                .map(|(_, code, output)| Exec {
                    exit_code: *code,
                    output: output.clone(),
                });
            Ok((
                running,
                scripted.unwrap_or(Exec {
                    exit_code: Some(0),
                    output: String::new(),
                }),
            ))
        })?;
        match answer {
            (false, _) => Err(error(
                "POST",
                "/containers/exec",
                409,
                &format!("container {id} is not running"),
            )),
            (true, exec) => Ok(exec),
        }
    }

    fn pull(
        &self,
        name: &str,
        reference: &str,
        _: Option<&str>,
        _: &mut dyn FnMut(&str),
    ) -> Result<()> {
        let pull = format!("{name}@{reference}");
        self.write(format!("pull {pull}"), |m| {
            let doc = m
                .remote
                .iter()
                .find(|(p, _)| *p == pull)
                .map(|(_, d)| d.clone())
                .ok_or_else(|| error("POST", "/images/create", 404, "manifest unknown"))?;
            if m.image(text(&doc, "/Id")).is_none() {
                m.images.push(doc);
            }
            Ok(())
        })
    }

    fn tag(&self, source: &str, repo: &str, tag: &str) -> Result<()> {
        let name = format!("{repo}:{tag}");
        self.write(format!("tag {source} {name}"), |m| {
            let index = m
                .image(source)
                .ok_or_else(|| error("POST", "/images/tag", 404, "No such image"))?;
            for image in &mut m.images {
                if let Some(tags) = image.get_mut("RepoTags").and_then(Value::as_array_mut) {
                    tags.retain(|t| t.as_str() != Some(name.as_str()));
                }
            }
            let image = &mut m.images[index];
            if let Some(map) = image.as_object_mut() {
                let tags = map.entry("RepoTags").or_insert_with(|| json!([]));
                if let Some(tags) = tags.as_array_mut() {
                    tags.push(json!(name));
                }
            }
            Ok(())
        })
    }

    fn create(&self, name: &str, body: &Value) -> Result<String> {
        self.write(format!("create {name}"), |m| {
            if m.find(name).is_some() {
                return Err(error("POST", "/containers/create", 409, "name in use"));
            }
            let reference = text(body, "/Image").to_string();
            let image = m
                .image(&reference)
                .map(|i| text(&m.images[i], "/Id").to_string())
                .ok_or_else(|| error("POST", "/containers/create", 404, "No such image"))?;
            let mode = text(body, "/HostConfig/NetworkMode");
            if let Some(other) = mode.strip_prefix("container:")
                && m.find(other).is_none()
            {
                return Err(error(
                    "POST",
                    "/containers/create",
                    404,
                    "No such container",
                ));
            }
            let mut config: Map<String, Value> = body.as_object().cloned().unwrap_or_default();
            let host_config = config.remove("HostConfig").unwrap_or_else(|| json!({}));
            let networks = config
                .remove("NetworkingConfig")
                .and_then(|n| n.get("EndpointsConfig").cloned())
                .unwrap_or_else(|| json!({}));
            let id = m.new_id();
            let mut doc = json!({
                "Id": id,
                "Name": format!("/{name}"),
                "Image": image,
                "Config": config,
                "HostConfig": host_config,
                "NetworkSettings": {"Networks": networks},
            });
            set_state(&mut doc, "created");
            m.containers.push(doc);
            Ok(id)
        })
    }

    fn connect(&self, network: &str, container: &str, endpoint: &Value) -> Result<()> {
        self.write(format!("connect {network} {container}"), |m| {
            let i = m
                .find(container)
                .ok_or_else(|| error("POST", "/networks/connect", 404, "No such container"))?;
            if let Some(networks) = m.containers[i]
                .pointer_mut("/NetworkSettings/Networks")
                .and_then(Value::as_object_mut)
            {
                if networks.contains_key(network) {
                    return Err(error(
                        "POST",
                        "/networks/connect",
                        403,
                        "endpoint already exists in network",
                    ));
                }
                networks.insert(network.to_string(), endpoint.clone());
            }
            Ok(())
        })
    }

    fn start(&self, id: &str) -> Result<()> {
        let crashed = self.write(format!("start {id}"), |m| {
            let i = m
                .find(id)
                .ok_or_else(|| error("POST", "/containers/start", 404, "No such container"))?;
            let c = &m.containers[i];
            if c.pointer("/State/Running") == Some(&json!(true)) {
                return Ok(false);
            }
            let mode = text(c, "/HostConfig/NetworkMode").to_string();
            if let Some(other) = mode.strip_prefix("container:") {
                let Some(target) = m.container(other) else {
                    return Err(error("POST", "/containers/start", 404, "No such container"));
                };
                if target.pointer("/State/Running") != Some(&json!(true)) {
                    return Err(error(
                        "POST",
                        "/containers/start",
                        409,
                        "cannot join network of a non running container",
                    ));
                }
            }
            let image = text(c, "/Image").to_string();
            let crashes = m.crashing.contains(&image);
            if crashes && c.pointer("/HostConfig/AutoRemove") == Some(&json!(true)) {
                m.remove_at(i);
                return Ok(true);
            }
            let health = m
                .health
                .iter()
                .find(|(id, _)| *id == image)
                .map(|h| h.1.clone());
            let doc = &mut m.containers[i];
            set_state(doc, if crashes { "exited" } else { "running" });
            if let (Some(status), false) = (health, crashes) {
                doc["State"]["Health"] = json!({"Status": status, "FailingStreak": 0});
            }
            Ok(crashes)
        })?;
        // What a watch opened before the start sees of a crash.
        if crashed && let Ok(inner) = self.inner.lock() {
            for (_, Watch(watch)) in inner.watches.iter().filter(|(w, _)| w == id) {
                watch.push(b"crashed on start\n");
                if let Ok(mut code) = watch.exit_code.lock() {
                    *code = Some(1);
                }
                watch.close();
            }
        }
        Ok(())
    }

    fn stop(&self, id: &str, _: Option<i64>) -> Result<()> {
        self.write(format!("stop {id}"), |m| {
            let i = m
                .find(id)
                .ok_or_else(|| error("POST", "/containers/stop", 404, "No such container"))?;
            // A stop already under way ends with this one: dockerd's requests both
            // return when the process exits, and neither acts after that.
            let doc_id = text(&m.containers[i], "/Id").to_string();
            m.stopping.retain(|s| *s != doc_id && s != id);
            stop_at(m, i);
            Ok(())
        })
    }

    fn rename(&self, id: &str, name: &str) -> Result<()> {
        self.write(format!("rename {id} {name}"), |m| {
            let i = m
                .find(id)
                .ok_or_else(|| error("POST", "/containers/rename", 404, "No such container"))?;
            if m.find(name).is_some_and(|j| j != i) {
                return Err(error("POST", "/containers/rename", 409, "name in use"));
            }
            if let Some(map) = m.containers[i].as_object_mut() {
                map.insert("Name".into(), json!(format!("/{name}")));
            }
            Ok(())
        })
    }

    fn remove_container(&self, id: &str) -> Result<()> {
        self.write(format!("remove {id}"), |m| {
            // 404: already gone, which is what was asked (as the real client).
            if let Some(i) = m.find(id) {
                m.remove_at(i);
            }
            Ok(())
        })
    }

    fn remove_image(&self, reference: &str) -> Result<()> {
        self.write(format!("rmi {reference}"), |m| {
            let i = m
                .image(reference)
                .ok_or_else(|| error("DELETE", "/images", 404, "No such image"))?;
            m.images.remove(i);
            Ok(())
        })
    }

    fn pause(&self, id: &str) -> Result<()> {
        self.write(format!("pause {id}"), |m| {
            let i = m
                .find(id)
                .ok_or_else(|| error("POST", "/containers/pause", 404, "No such container"))?;
            let doc = &mut m.containers[i];
            if doc.pointer("/State/Running") != Some(&json!(true)) {
                return Err(error("POST", "/containers/pause", 409, "is not running"));
            }
            let health = doc.pointer("/State/Health").cloned();
            set_state(doc, "paused");
            if let Some(health) = health {
                doc["State"]["Health"] = health;
            }
            Ok(())
        })
    }

    /// Not a swarm node: the engine refuses as dockerd does.
    fn update_service(
        &self,
        id: &str,
        _version: u64,
        _spec: &Value,
        _auth: Option<&str>,
        _rollback: bool,
    ) -> Result<()> {
        anyhow::bail!("service {id}: this node is not a swarm manager")
    }
}

/// What the tests start from: the recorded inspect documents of a container created
/// from `dum-spec/app:1` (tests/fixtures/inspect), and both images.
pub fn fixture(name: &str, running: bool) -> Model {
    fixture_of(
        include_str!("../../tests/fixtures/inspect/container_plain.json"),
        name,
        running,
    )
}

/// [`fixture`] with another recorded container document (from tests/fixtures/inspect,
/// created from `dum-spec/app:1`), e.g. one on two networks.
pub fn fixture_of(container: &str, name: &str, running: bool) -> Model {
    let mut container: Value = serde_json::from_str(container).unwrap_or_default();
    if let Some(map) = container.as_object_mut() {
        map.insert("Name".into(), json!(format!("/{name}")));
        map.insert("Id".into(), json!(format!("{:064x}", 0xa11d_u64)));
    }
    // No stop timeout: a journaled stop deadline is only the margin.
    if let Some(config) = container.get_mut("Config").and_then(Value::as_object_mut) {
        config.insert("StopTimeout".into(), json!(0));
    }
    let mut v1: Value =
        serde_json::from_str(include_str!("../../tests/fixtures/inspect/image_app.json"))
            .unwrap_or_default();
    v1["RepoDigests"] = json!(["dum-spec/app@sha256:v1"]);
    let mut v2: Value = serde_json::from_str(include_str!(
        "../../tests/fixtures/inspect/image_app_v2.json"
    ))
    .unwrap_or_default();
    v2["RepoDigests"] = json!(["dum-spec/app@sha256:v2"]);
    v2["RepoTags"] = json!([]);
    Model::default()
        .with_container(container, running)
        .with_image(v1)
        .with_remote("dum-spec/app@sha256:v2", v2)
}
