//! The engine client: blocking HTTP over the Unix socket (or TCP), one pooled agent,
//! the API version negotiated once.

use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;
use ureq::Agent;

use super::transport::Endpoint;
use super::types::{ContainerInspect, ContainerSummary, ImageInspect, ImageSummary, VersionInfo};
use super::{
    Engine, EngineRead, Exec, ExitWatch, MIN_API_VERSION, api_tuple, demux_logs, encode_segment,
    engine_error, forced_api, negotiate,
};

/// Biggest JSON document dum reads from the engine (inspect of a huge container list).
const MAX_BODY: u64 = 64 * 1024 * 1024;

/// The engine client: one pooled agent, the negotiated API version.
pub struct DockerClient {
    agent: Agent,
    base: String,
    api: String,
    /// The engine's own API version (its maximum), or DOCKER_API_VERSION when set: what
    /// Swarm service specs are read and written in (see [`DockerClient::service_url`]).
    engine_api: String,
    /// The swarm state: the `Swarm` header of `GET /_ping` (API ≥ 1.40) when the engine
    /// sent it, else `GET /info`'s, asked once per run (a run asks more than once:
    /// for the services' labels and for the inventory).
    swarm: OnceLock<String>,
    endpoint: Endpoint,
    /// `GET /version`, asked only when something needs more than the API version.
    info: OnceLock<VersionInfo>,
}

impl DockerClient {
    /// Connects to the engine named by the environment and negotiates the API version.
    pub fn from_env() -> Result<DockerClient> {
        let forced = forced_api(std::env::var("DOCKER_API_VERSION").ok().as_deref())?;
        let mut client = DockerClient::connect(Endpoint::from_env()?)?;
        if let Some(api) = forced {
            // As the docker CLI: the user's version is spoken as it is; an engine that
            // does not know it answers each request with its own error.
            log::debug!(
                "API {api} from DOCKER_API_VERSION (negotiated {})",
                client.api
            );
            client.api = api.clone();
            client.engine_api = api;
        }
        Ok(client)
    }

    /// Connects to `endpoint` and negotiates the API version from the `Api-Version`
    /// header of `GET /_ping`, as the docker CLI does: the engine answers it in well
    /// under a millisecond, where `GET /version` asks containerd and runc for theirs
    /// (10–25 ms on Engine 20.10, before anything else can start). Engines whose ping
    /// lacks the header are asked `GET /version`.
    pub fn connect(endpoint: Endpoint) -> Result<DockerClient> {
        if let Endpoint::Unix(path) = &endpoint
            && !path.exists()
        {
            bail!(
                "no Docker engine socket at {}: is dockerd running? (set DOCKER_HOST to use another engine)",
                path.display()
            );
        }
        let (agent, base) = endpoint.agent(Duration::from_secs(120))?;
        let mut client = DockerClient {
            agent,
            base,
            api: MIN_API_VERSION.to_string(),
            engine_api: MIN_API_VERSION.to_string(),
            swarm: OnceLock::new(),
            endpoint,
            info: OnceLock::new(),
        };
        let (server_api, server) = match client.ping()? {
            Some((api, server, swarm)) => {
                client.api = negotiate(&api, None)?;
                if let Some(state) = swarm {
                    let _ = client.swarm.set(state);
                }
                (api, server)
            }
            None => {
                let info = client.version()?;
                client.api = negotiate(&info.api_version, info.min_api_version.as_deref())?;
                let found = (info.api_version.clone(), info.version.clone());
                let _ = client.info.set(info);
                found
            }
        };
        client.engine_api = server_api.clone();
        log::debug!(
            "Docker engine {server} at {}, API {} (engine max {server_api})",
            client.endpoint,
            client.api,
        );
        Ok(client)
    }

    /// `GET /_ping`: the engine's highest API version, its `Server` header and its
    /// `Swarm` header, or `None` when the answer carries no `Api-Version`.
    fn ping(&self) -> Result<Option<(String, String, Option<String>)>> {
        let what = || format!("Docker engine at {}: GET /_ping", self.endpoint);
        let mut response = self
            .agent
            .get(self.url("/_ping", false))
            .call()
            .map_err(|e| anyhow!("{}: {e}", what()))?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let api = header("api-version");
        let server = header("server").unwrap_or_default();
        let swarm = header("swarm");
        let status = response.status().as_u16();
        // Drain the tiny body so the connection goes back to the pool.
        let _ = response
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_vec();
        if !(200..300).contains(&status) {
            bail!("{}: HTTP {status}", what());
        }
        Ok(api.map(|api| (api, server, swarm)))
    }

    /// `GET /version`, unversioned: every engine answers it.
    fn version(&self) -> Result<VersionInfo> {
        serde_json::from_value(self.request("GET", "/version", None, false)?)
            .with_context(|| format!("unexpected answer to GET /version from {}", self.endpoint))
    }

    /// A Swarm service endpoint at the engine's own API version, not the negotiated one:
    /// the daemon strips the spec fields newer than the request's version from what it
    /// returns, and an update sent back would drop them (an Engine 29 spec read at 1.51).
    fn service_url(&self, path: &str) -> String {
        format!("{}/v{}{}", self.base, self.engine_api, path)
    }

    fn url(&self, path: &str, versioned: bool) -> String {
        if versioned {
            format!("{}/v{}{}", self.base, self.api, path)
        } else {
            format!("{}{}", self.base, path)
        }
    }

    /// `GET /{kind}/{name}/json`, decoded; `None` when the engine has no such thing.
    fn inspect<T>(
        &self,
        kind: &str,
        what: &str,
        name: &str,
        decode: fn(Value) -> serde_json::Result<T>,
    ) -> Result<Option<T>> {
        let path = format!("/{kind}/{}/json", encode_segment(name));
        self.get_optional(&path)?
            .map(|v| {
                decode(v).with_context(|| format!("unexpected inspect document for {what} {name}"))
            })
            .transpose()
    }

    /// Sends one request and returns the JSON answer (`Value::Null` for empty bodies).
    /// Non-2xx answers become errors carrying the engine's own message.
    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        versioned: bool,
    ) -> Result<Value> {
        match self.request_status(method, path, body, versioned)? {
            (status, value) if (200..300).contains(&status) => Ok(value),
            (status, value) => Err(engine_error(method, path, status, &value)),
        }
    }

    /// A GET whose answer is parsed as it streams in, straight into `T`: a list of
    /// every container or image is never held as bytes and as a JSON tree besides.
    fn get_list<T: serde::de::DeserializeOwned>(&self, path: &str, what: &str) -> Result<T> {
        let url = self.url(path, true);
        let context = || format!("Docker engine at {}: GET {path}", self.endpoint);
        let mut response = self
            .agent
            .get(&url)
            .call()
            .map_err(|e| anyhow!("{}: {e}", context()))?;
        let status = response.status().as_u16();
        let reader = response.body_mut().with_config().limit(MAX_BODY).reader();
        if !(200..300).contains(&status) {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut { reader }, &mut text);
            let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
            return Err(engine_error("GET", path, status, &value));
        }
        serde_json::from_reader(std::io::BufReader::with_capacity(8 * 1024, reader)).map_err(|e| {
            if e.is_io() {
                anyhow!("{}: reading the answer: {e}", context())
            } else {
                anyhow!("{}: unexpected {what}: {e}", context())
            }
        })
    }

    /// Like `request` but hands back the status so callers can treat 404/304 as data.
    fn request_status(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        versioned: bool,
    ) -> Result<(u16, Value)> {
        let url = self.url(path, versioned);
        let what = || format!("Docker engine at {}: {method} {path}", self.endpoint);
        let response = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            ("POST", Some(b)) => self.agent.post(&url).send_json(b),
            ("POST", None) => self.agent.post(&url).send_empty(),
            _ => return Err(anyhow!("unsupported method {method}")),
        };
        let mut response = response.map_err(|e| anyhow!("{}: {e}", what()))?;
        let status = response.status().as_u16();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| anyhow!("{}: reading the answer: {e}", what()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok((status, Value::Null));
        }
        let value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            // Some engine errors are plain text; keep them as the message.
            Value::String(String::from_utf8_lossy(&bytes).trim().to_string())
        });
        Ok((status, value))
    }

    /// A request whose only answer of interest is success; `also_fine` is a status that
    /// means the goal is already reached.
    fn request_allowing(&self, method: &str, path: &str, also_fine: u16) -> Result<()> {
        match self.request_status(method, path, None, true)? {
            (status, _) if status == also_fine || (200..300).contains(&status) => Ok(()),
            (status, value) => Err(engine_error(method, path, status, &value)),
        }
    }

    /// A GET of a Swarm service endpoint (see [`DockerClient::service_url`]); `None` on 404.
    fn service_get(&self, path: &str) -> Result<Option<Value>> {
        let what = || format!("Docker engine at {}: GET {path}", self.endpoint);
        let mut response = self
            .agent
            .get(self.service_url(path))
            .call()
            .map_err(|e| anyhow!("{}: {e}", what()))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_string()
            .map_err(|e| anyhow!("{}: reading the answer: {e}", what()))?;
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        match status {
            404 => Ok(None),
            s if (200..300).contains(&s) => Ok(Some(value)),
            s => Err(engine_error("GET", path, s, &value)),
        }
    }

    fn get_optional(&self, path: &str) -> Result<Option<Value>> {
        match self.request_status("GET", path, None, true)? {
            (404, _) => Ok(None),
            (status, value) if (200..300).contains(&status) => Ok(Some(value)),
            (status, value) => Err(engine_error("GET", path, status, &value)),
        }
    }
}

impl EngineRead for DockerClient {
    fn containers(&self) -> Result<Vec<ContainerSummary>> {
        self.get_list("/containers/json?all=1", "container list")
    }

    fn inspect_container(&self, name: &str) -> Result<Option<ContainerInspect>> {
        self.inspect(
            "containers",
            "container",
            name,
            ContainerInspect::from_value,
        )
    }

    fn inspect_image(&self, name: &str) -> Result<Option<ImageInspect>> {
        self.inspect("images", "image", name, ImageInspect::from_value)
    }

    fn inspect_image_manifests(&self, name: &str) -> Result<Option<ImageInspect>> {
        if self.api() < (1, 48) {
            return self.inspect_image(name);
        }
        let path = format!("/images/{}/json?manifests=1", encode_segment(name));
        self.get_optional(&path)?
            .map(|v| {
                ImageInspect::from_value(v)
                    .with_context(|| format!("unexpected inspect document for image {name}"))
            })
            .transpose()
    }

    fn images(&self) -> Result<Vec<ImageSummary>> {
        self.get_list("/images/json", "image list")
    }

    fn api(&self) -> (u32, u32) {
        api_tuple(&self.api)
    }

    fn logs_tail(&self, id: &str, lines: u32) -> Result<String> {
        let path = format!(
            "/containers/{}/logs?stdout=1&stderr=1&tail={lines}",
            encode_segment(id)
        );
        let url = self.url(&path, true);
        let mut response = self
            .agent
            .get(&url)
            .call()
            .map_err(|e| anyhow!("logs of {id}: {e}"))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            // An error answer is not the container's output (e.g. "can not get logs
            // from container which is dead or marked for removal").
            bail!("logs of {id}: HTTP {status}");
        }
        let bytes = response
            .body_mut()
            .with_config()
            .limit(1024 * 1024)
            .read_to_vec()
            .map_err(|e| anyhow!("logs of {id}: {e}"))?;
        Ok(demux_logs(&bytes))
    }

    fn watch(&self, id: &str, tty: bool, limit: Duration) -> Result<ExitWatch> {
        let watch = ExitWatch::default();
        let attach = format!(
            "/containers/{}/attach?logs=1&stream=1&stdout=1&stderr=1",
            encode_segment(id)
        );
        let wait = format!("/containers/{}/wait?condition=removed", encode_segment(id));
        // Both requests must be answered before the container starts, or a fast exit
        // (and an AutoRemove) could come first: the engine sends the headers of each
        // at once, so the calls return here and only their bodies are read later.
        let open = |path: &str| {
            self.agent
                .post(self.url(path, true))
                .config()
                .timeout_global(Some(limit))
                .build()
                .send_empty()
                .map_err(|e| anyhow!("Docker engine at {}: POST {path}: {e}", self.endpoint))
        };
        let attached = open(&attach)?;
        if !(200..300).contains(&attached.status().as_u16()) {
            bail!(
                "Docker engine at {}: POST {attach} failed with HTTP {}",
                self.endpoint,
                attached.status().as_u16()
            );
        }
        let waited = open(&wait)?;
        let output = watch.clone();
        std::thread::spawn(move || output.collect(attached.into_body().into_reader(), tty));
        let exited = watch.clone();
        std::thread::spawn(move || {
            let answer: Option<Value> = waited.into_body().read_json().ok();
            let code = answer
                .as_ref()
                .and_then(|v| v.get("StatusCode"))
                .and_then(Value::as_i64);
            if let (Some(code), Ok(mut slot)) = (code, exited.exit_code.lock()) {
                *slot = Some(code);
            }
        });
        Ok(watch)
    }

    fn swarm_state(&self) -> Result<String> {
        if let Some(state) = self.swarm.get() {
            return Ok(state.clone());
        }
        let info = self.request("GET", "/info", None, true)?;
        let text = |p: &str| info.pointer(p).and_then(Value::as_str).unwrap_or("");
        let state = text("/Swarm/LocalNodeState");
        let manager = info
            .pointer("/Swarm/ControlAvailable")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let state: String = match (state, manager) {
            ("active", true) => "active/manager".into(),
            ("active", false) => "active/worker".into(),
            (s, _) => s.to_string(),
        };
        Ok(self.swarm.get_or_init(|| state).clone())
    }

    fn services(&self) -> Result<Vec<Value>> {
        match self.service_get("/services")? {
            Some(Value::Array(list)) => Ok(list),
            other => bail!("unexpected service list from the Docker engine: {other:?}"),
        }
    }

    fn inspect_service(&self, name: &str) -> Result<Option<Value>> {
        self.service_get(&format!("/services/{}", encode_segment(name)))
    }

    fn tasks(&self, service_id: &str) -> Result<Vec<Value>> {
        let filters = serde_json::json!({ "service": [service_id] }).to_string();
        self.get_list(
            &format!("/tasks?filters={}", encode_segment(&filters)),
            "task list",
        )
    }
}

impl Engine for DockerClient {
    fn pull(
        &self,
        name: &str,
        reference: &str,
        auth: Option<&str>,
        progress: &mut dyn FnMut(&str),
    ) -> Result<()> {
        let path = format!(
            "/images/create?fromImage={}&tag={}",
            encode_segment(name),
            encode_segment(reference)
        );
        let url = self.service_url(&path);
        let mut request = self.agent.post(&url);
        if let Some(a) = auth {
            request = request.header("X-Registry-Auth", a);
        }
        let what = || format!("pulling {name}@{reference}");
        let mut response = request
            .send_empty()
            .map_err(|e| anyhow!("{}: {e}", what()))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let bytes = response
                .body_mut()
                .with_config()
                .limit(MAX_BODY)
                .read_to_vec()
                .unwrap_or_default();
            let value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                Value::String(String::from_utf8_lossy(&bytes).trim().to_string())
            });
            return Err(engine_error("POST", "/images/create", status, &value)).with_context(what);
        }
        // The engine reports pull errors inside a 200 stream: every line must be read.
        let reader =
            std::io::BufReader::new(response.body_mut().with_config().limit(MAX_BODY).reader());
        use std::io::BufRead;
        for line in reader.lines() {
            let line =
                line.map_err(|e| anyhow!("{}: the engine's progress stream broke: {e}", what()))?;
            if line.trim().is_empty() {
                continue;
            }
            let Ok(event) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if let Some(error) = event.get("error").and_then(Value::as_str) {
                bail!("{}: {}", what(), error.trim());
            }
            let status = event.get("status").and_then(Value::as_str).unwrap_or("");
            let id = event.get("id").and_then(Value::as_str).unwrap_or("");
            let detail = event.get("progress").and_then(Value::as_str).unwrap_or("");
            let text = [id, status, detail]
                .iter()
                .filter(|s| !s.is_empty())
                .cloned()
                .collect::<Vec<_>>()
                .join(" ");
            progress(&text);
        }
        Ok(())
    }

    fn tag(&self, source: &str, repo: &str, tag: &str) -> Result<()> {
        let path = format!(
            "/images/{}/tag?repo={}&tag={}",
            encode_segment(source),
            encode_segment(repo),
            encode_segment(tag)
        );
        self.request("POST", &path, None, true).map(|_| ())
    }

    fn create(&self, name: &str, body: &Value) -> Result<String> {
        let path = format!("/containers/create?name={}", encode_segment(name));
        let value = self.request("POST", &path, Some(body), true)?;
        value
            .get("Id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| anyhow!("the Docker engine created container {name} but sent no ID"))
    }

    fn connect(&self, network: &str, container: &str, endpoint: &Value) -> Result<()> {
        let path = format!("/networks/{}/connect", encode_segment(network));
        let body = serde_json::json!({"Container": container, "EndpointConfig": endpoint});
        self.request("POST", &path, Some(&body), true).map(|_| ())
    }

    fn start(&self, id: &str) -> Result<()> {
        // 304: already running, which is what was asked.
        self.request_allowing(
            "POST",
            &format!("/containers/{}/start", encode_segment(id)),
            304,
        )
    }

    fn stop(&self, id: &str, timeout: Option<i64>) -> Result<()> {
        let path = match timeout {
            Some(t) => format!("/containers/{}/stop?t={t}", encode_segment(id)),
            None => format!("/containers/{}/stop", encode_segment(id)),
        };
        // 304: already stopped.
        self.request_allowing("POST", &path, 304)
    }

    fn rename(&self, id: &str, name: &str) -> Result<()> {
        let path = format!(
            "/containers/{}/rename?name={}",
            encode_segment(id),
            encode_segment(name)
        );
        self.request("POST", &path, None, true).map(|_| ())
    }

    fn remove_container(&self, id: &str) -> Result<()> {
        // 404: already gone, which is what was asked.
        self.request_allowing(
            "DELETE",
            &format!("/containers/{}?force=1&v=0", encode_segment(id)),
            404,
        )
    }

    fn remove_image(&self, reference: &str) -> Result<()> {
        let path = format!("/images/{}", encode_segment(reference));
        self.request("DELETE", &path, None, true).map(|_| ())
    }

    fn pause(&self, id: &str) -> Result<()> {
        let path = format!("/containers/{}/pause", encode_segment(id));
        match self.request_status("POST", &path, None, true)? {
            (status, _) if (200..300).contains(&status) => Ok(()),
            // 409: already paused (fine), or not running: the engine's state says which.
            (409, value) => match self.inspect_container(id)? {
                Some(c) if c.state.paused => Ok(()),
                _ => Err(engine_error("POST", &path, 409, &value)),
            },
            (status, value) => Err(engine_error("POST", &path, status, &value)),
        }
    }

    fn exec(&self, id: &str, argv: &[String], env: &[String], timeout: Duration) -> Result<Exec> {
        let started = std::time::Instant::now();
        let create = format!("/containers/{}/exec", encode_segment(id));
        let body = serde_json::json!({
            "AttachStdin": false,
            "AttachStdout": true,
            "AttachStderr": true,
            "Tty": false,
            "Cmd": argv,
            "Env": env,
        });
        let created = self.request("POST", &create, Some(&body), true)?;
        let exec_id = created
            .get("Id")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("the Docker engine created an exec in {id} but sent no ID"))?
            .to_string();
        let start = format!("/exec/{}/start", encode_segment(&exec_id));
        let what = || format!("Docker engine at {}: POST {start}", self.endpoint);
        // The whole call, the output streamed until the command ends included, is
        // bounded by the hook's timeout: the read gives up then, the command may not.
        let response = self
            .agent
            .post(self.url(&start, true))
            .config()
            .timeout_global(Some(timeout))
            .build()
            .send_json(serde_json::json!({"Detach": false, "Tty": false}))
            .map_err(|e| anyhow!("{}: {e}", what()))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let text = response
                .into_body()
                .with_config()
                .limit(64 * 1024)
                .read_to_string()
                .unwrap_or_default();
            let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
            return Err(engine_error("POST", &start, status, &value));
        }
        // Without a TTY the output is framed (stdout, stderr), as a container's logs.
        let output = ExitWatch::default();
        output.collect(response.into_body().into_reader(), false);
        let inspect = format!("/exec/{}/json", encode_segment(&exec_id));
        loop {
            let state = self.request("GET", &inspect, None, true)?;
            let running = state
                .get("Running")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if !running {
                return Ok(Exec {
                    exit_code: state.get("ExitCode").and_then(Value::as_i64),
                    output: output.text(),
                });
            }
            // The stream may end a moment before the engine records the exit.
            if started.elapsed() >= timeout {
                return Ok(Exec {
                    exit_code: None,
                    output: output.text(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn update_service(
        &self,
        id: &str,
        version: u64,
        spec: &Value,
        auth: Option<&str>,
        rollback: bool,
    ) -> Result<()> {
        let mut path = format!("/services/{}/update?version={version}", encode_segment(id));
        if rollback {
            path.push_str("&rollback=previous");
        }
        let url = self.url(&path, true);
        let mut request = self.agent.post(&url);
        if let Some(a) = auth {
            request = request.header("X-Registry-Auth", a);
        }
        let what = || format!("Docker engine at {}: POST {path}", self.endpoint);
        let mut response = request
            .send_json(spec)
            .map_err(|e| anyhow!("{}: {e}", what()))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_string()
            .map_err(|e| anyhow!("{}: reading the answer: {e}", what()))?;
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if !(200..300).contains(&status) {
            return Err(engine_error("POST", &path, status, &value));
        }
        // The engine accepts an update it can only partly honour and says so.
        for w in value
            .get("Warnings")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            log::warn!("service {id}: {w}");
        }
        Ok(())
    }
}
