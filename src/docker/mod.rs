//! A blocking Docker Engine API client, and the narrow trait the core talks to.

#[cfg(test)]
pub mod fake;
pub mod transport;
pub mod types;

use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;
use ureq::Agent;

use self::transport::Endpoint;
use self::types::{ContainerInspect, ContainerSummary, ImageInspect, ImageSummary, VersionInfo};

/// Newest API version dum was written against; newer engines are spoken to in this one.
pub const MAX_API_VERSION: &str = "1.51";
/// Oldest API version dum can work with (Engine 20.10).
pub const MIN_API_VERSION: &str = "1.41";

/// Biggest JSON document dum reads from the engine (inspect of a huge container list).
const MAX_BODY: u64 = 64 * 1024 * 1024;

/// What the inventory and the checks read from an engine: containers, images and the
/// engine's own facts. Never changes anything.
pub trait EngineRead: Sync {
    /// Every container, running or not.
    fn containers(&self) -> Result<Vec<ContainerSummary>>;
    /// One container by name or ID; `None` when it does not exist.
    fn inspect_container(&self, name: &str) -> Result<Option<ContainerInspect>>;
    /// One image by reference or ID; `None` when it does not exist.
    fn inspect_image(&self, name: &str) -> Result<Option<ImageInspect>>;
    /// Every image.
    fn images(&self) -> Result<Vec<ImageSummary>>;
    /// The negotiated API version as (major, minor).
    fn api(&self) -> (u32, u32);
    /// The last lines of a container's output, for error messages.
    fn logs_tail(&self, id: &str, lines: u32) -> Result<String>;
    /// Watches a created, not yet started container for up to `limit`: its output and
    /// its exit code stay known even when the engine removes it as it exits
    /// (`AutoRemove`). `tty`: whether it has a TTY (its output is then not framed).
    fn watch(&self, id: &str, tty: bool, limit: Duration) -> Result<ExitWatch>;
}

/// What the update transaction does to an engine, on top of reading it. Every write
/// a transaction makes is journaled first (see `crate::update::transaction`).
pub trait Engine: EngineRead {
    /// Pulls `name@digest` (or `name:tag`); `auth` is the `X-Registry-Auth` value.
    /// `progress` sees every status line of the engine's stream.
    fn pull(
        &self,
        name: &str,
        reference: &str,
        auth: Option<&str>,
        progress: &mut dyn FnMut(&str),
    ) -> Result<()>;
    /// Tags an image (`source` by ID or reference) as `repo:tag`.
    fn tag(&self, source: &str, repo: &str, tag: &str) -> Result<()>;
    /// Creates a container; returns its ID.
    fn create(&self, name: &str, body: &Value) -> Result<String>;
    /// Connects a container to a network with an endpoint config.
    fn connect(&self, network: &str, container: &str, endpoint: &Value) -> Result<()>;
    /// Starts a container (already running is fine).
    fn start(&self, id: &str) -> Result<()>;
    /// Stops a container with its own signal, waiting `timeout` seconds (its own when `None`).
    fn stop(&self, id: &str, timeout: Option<i64>) -> Result<()>;
    /// Renames a container.
    fn rename(&self, id: &str, name: &str) -> Result<()>;
    /// Removes a container, forcing if running; its volumes are kept.
    fn remove_container(&self, id: &str) -> Result<()>;
    /// Removes an image reference (a tag) or an unused image by ID.
    fn remove_image(&self, reference: &str) -> Result<()>;
    /// Pauses a running container (already paused is fine).
    fn pause(&self, id: &str) -> Result<()>;
}

/// What a watched container printed last and how it exited, collected in the
/// background from streams opened before its start (see [`EngineRead::watch`]).
#[derive(Clone, Default)]
pub struct ExitWatch {
    output: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    exit_code: std::sync::Arc<std::sync::Mutex<Option<i64>>>,
}

/// Bytes of a watched container's output kept (its tail).
const WATCH_KEEP: usize = 16 * 1024;

impl ExitWatch {
    /// The last `lines` non-empty lines of its output.
    pub fn last_output(&self, lines: usize) -> String {
        let bytes = self.output.lock().map(|b| b.clone()).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        let kept: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        kept[kept.len().saturating_sub(lines)..].join("\n")
    }

    /// Its exit code, once the engine reported it.
    pub fn exit_code(&self) -> Option<i64> {
        self.exit_code.lock().ok().and_then(|c| *c)
    }

    /// Appends output, keeping the last [`WATCH_KEEP`] bytes.
    fn push(&self, chunk: &[u8]) {
        if let Ok(mut buffer) = self.output.lock() {
            buffer.extend_from_slice(chunk);
            let excess = buffer.len().saturating_sub(WATCH_KEEP);
            buffer.drain(..excess);
        }
    }

    /// Reads an attach stream to its end: framed (8-byte headers) without a TTY, raw
    /// with one.
    fn collect(&self, mut stream: impl std::io::Read, tty: bool) {
        use std::io::Read;
        let mut chunk = vec![0u8; 8 * 1024];
        if tty {
            while let Ok(n) = stream.read(&mut chunk) {
                if n == 0 {
                    return;
                }
                self.push(&chunk[..n]);
            }
            return;
        }
        let mut header = [0u8; 8];
        while stream.read_exact(&mut header).is_ok() {
            let mut left = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as u64;
            while left > 0 {
                let want = left.min(chunk.len() as u64) as usize;
                match (&mut stream).take(want as u64).read(&mut chunk[..want]) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        self.push(&chunk[..n]);
                        left -= n as u64;
                    }
                }
            }
        }
    }
}

/// The first 12 characters of a container or image ID, as `docker ps` shows it. IDs
/// come from the state file or the engine: cut at a character, never inside one.
pub fn short_id(id: &str) -> &str {
    id.char_indices().nth(12).map_or(id, |(end, _)| &id[..end])
}

/// Parses "1.41" into (1, 41) for comparisons; garbage sorts lowest.
fn api_tuple(v: &str) -> (u32, u32) {
    let mut parts = v.trim().splitn(2, '.');
    let major = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor)
}

/// The API version to speak with an engine that reports `server` as its highest
/// and `server_min` as its lowest: the highest both sides know.
pub fn negotiate(server: &str, server_min: Option<&str>) -> Result<String> {
    let ours = api_tuple(MAX_API_VERSION);
    let theirs = api_tuple(server);
    let chosen = if theirs < ours {
        server.trim().to_string()
    } else {
        MAX_API_VERSION.to_string()
    };
    if api_tuple(&chosen) < api_tuple(MIN_API_VERSION) {
        bail!(
            "the Docker engine speaks API {server}, dum needs at least {MIN_API_VERSION} (Engine 20.10): upgrade the engine"
        );
    }
    if let Some(min) = server_min
        && api_tuple(&chosen) < api_tuple(min)
    {
        bail!("the Docker engine requires API ≥ {min}, dum speaks at most {MAX_API_VERSION}");
    }
    Ok(chosen)
}

/// `DOCKER_API_VERSION` set to something dum cannot speak: the user's setting to fix
/// (exit 2), found before the engine is asked anything.
#[derive(Debug)]
pub struct BadApiVersion(String);

impl std::fmt::Display for BadApiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadApiVersion {}

/// The API version `DOCKER_API_VERSION` asks for, as the docker CLI reads it: a set,
/// non-empty value replaces negotiation. `None` when unset or empty.
pub fn forced_api(value: Option<&str>) -> Result<Option<String>> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let v = v.strip_prefix('v').unwrap_or(v);
    let well_formed = v
        .split_once('.')
        .is_some_and(|(a, b)| a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok());
    if !well_formed {
        return Err(BadApiVersion(format!(
            "DOCKER_API_VERSION={v} is not an API version (like 1.45)"
        ))
        .into());
    }
    if api_tuple(v) < api_tuple(MIN_API_VERSION) {
        return Err(BadApiVersion(format!(
            "DOCKER_API_VERSION={v} is older than dum can speak (≥ {MIN_API_VERSION}, Engine 20.10): unset it to negotiate"
        ))
        .into());
    }
    Ok(Some(v.to_string()))
}

/// The engine client: one pooled agent, the negotiated API version.
pub struct DockerClient {
    agent: Agent,
    base: String,
    api: String,
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
            client.api = api;
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
            endpoint,
            info: OnceLock::new(),
        };
        let (server_api, server) = match client.ping()? {
            Some((api, server)) => {
                client.api = negotiate(&api, None)?;
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
        log::debug!(
            "Docker engine {server} at {}, API {} (engine max {server_api})",
            client.endpoint,
            client.api,
        );
        Ok(client)
    }

    /// `GET /_ping`: the engine's highest API version and its `Server` header, or
    /// `None` when the answer carries no `Api-Version`.
    fn ping(&self) -> Result<Option<(String, String)>> {
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
        Ok(api.map(|api| (api, server)))
    }

    /// `GET /version`, unversioned: every engine answers it.
    fn version(&self) -> Result<VersionInfo> {
        serde_json::from_value(self.request("GET", "/version", None, false)?)
            .with_context(|| format!("unexpected answer to GET /version from {}", self.endpoint))
    }

    fn url(&self, path: &str, versioned: bool) -> String {
        if versioned {
            format!("{}/v{}{}", self.base, self.api, path)
        } else {
            format!("{}{}", self.base, path)
        }
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

    fn get_optional(&self, path: &str) -> Result<Option<Value>> {
        match self.request_status("GET", path, None, true)? {
            (404, _) => Ok(None),
            (status, value) if (200..300).contains(&status) => Ok(Some(value)),
            (status, value) => Err(engine_error("GET", path, status, &value)),
        }
    }
}

/// One line: what failed and what the engine said.
/// A request the engine answered with an error status: the kind callers branch on (a
/// 404 is "no such thing"), never the message's text.
#[derive(Debug)]
pub struct EngineError {
    /// `GET`, `POST`, …
    pub method: String,
    /// The request path, without the version prefix.
    pub path: String,
    /// The HTTP status.
    pub status: u16,
    /// The engine's own message (first line), possibly empty.
    pub message: String,
}

impl EngineError {
    /// Whether `error` (anywhere in its chain) is the engine saying the thing asked
    /// for does not exist.
    pub fn is_not_found(error: &anyhow::Error) -> bool {
        error.chain().any(|c| {
            c.downcast_ref::<EngineError>()
                .is_some_and(|e| e.status == 404)
        })
    }
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (method, path, status) = (&self.method, &self.path, self.status);
        write!(
            f,
            "Docker engine: {method} {path} failed with HTTP {status}"
        )?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for EngineError {}

fn engine_error(method: &str, path: &str, status: u16, body: &Value) -> anyhow::Error {
    let message = match body {
        Value::Object(map) => map
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        Value::String(s) => s.clone(),
        _ => String::new(),
    };
    anyhow::Error::new(EngineError {
        method: method.to_string(),
        path: path.to_string(),
        status,
        message: message.lines().next().unwrap_or("").trim().to_string(),
    })
}

/// The text of a logs answer: without a TTY the engine frames each chunk with an
/// 8-byte header (stream, 0, 0, 0, big-endian length); with a TTY it is raw.
pub fn demux_logs(bytes: &[u8]) -> String {
    let framed = bytes.len() >= 8 && matches!(bytes[0], 0..=2) && bytes[1..4] == [0, 0, 0];
    if !framed {
        return String::from_utf8_lossy(bytes).to_string();
    }
    let mut out = Vec::new();
    let mut rest = bytes;
    while rest.len() >= 8 {
        let len = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
        let end = (8 + len).min(rest.len());
        out.extend_from_slice(&rest[8..end]);
        rest = &rest[end..];
    }
    String::from_utf8_lossy(&out).to_string()
}

/// Percent-encodes a path segment (container and image names may hold `:`, `/`, `@`).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl EngineRead for DockerClient {
    fn containers(&self) -> Result<Vec<ContainerSummary>> {
        self.get_list("/containers/json?all=1", "container list")
    }

    fn inspect_container(&self, name: &str) -> Result<Option<ContainerInspect>> {
        let path = format!("/containers/{}/json", encode_segment(name));
        self.get_optional(&path)?
            .map(|v| {
                ContainerInspect::from_value(v)
                    .with_context(|| format!("unexpected inspect document for container {name}"))
            })
            .transpose()
    }

    fn inspect_image(&self, name: &str) -> Result<Option<ImageInspect>> {
        let path = format!("/images/{}/json", encode_segment(name));
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
        let url = self.url(&path, true);
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
            // 409: already paused (or not running, which the caller rules out).
            (409, value) if value.to_string().contains("already paused") => Ok(()),
            (status, value) => Err(engine_error("POST", &path, status, &value)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_picks_the_highest_common_version() {
        let cases: &[(&str, Option<&str>, Option<&str>)] = &[
            ("1.41", Some("1.12"), Some("1.41")),
            ("1.43", None, Some("1.43")),
            ("1.47", Some("1.24"), Some("1.47")),
            ("1.51", Some("1.44"), Some("1.51")),
            ("1.52", Some("1.44"), Some("1.51")),
            ("1.40", None, None),
            ("1.60", Some("1.52"), None),
        ];
        for (server, min, want) in cases {
            let got = negotiate(server, *min).ok();
            assert_eq!(got.as_deref(), *want, "server {server} min {min:?}");
        }
    }

    #[test]
    fn docker_api_version_replaces_negotiation_when_set() {
        let cases: &[(Option<&str>, Result<Option<&str>, &str>)] = &[
            (None, Ok(None)),
            (Some(""), Ok(None)),
            (Some("  "), Ok(None)),
            (Some("1.45"), Ok(Some("1.45"))),
            (Some("v1.51"), Ok(Some("1.51"))),
            (Some("1.41"), Ok(Some("1.41"))),
            (Some("1.40"), Err("older than dum can speak")),
            (Some("latest"), Err("not an API version")),
            (Some("1.x"), Err("not an API version")),
            (Some("1"), Err("not an API version")),
        ];
        for (value, want) in cases {
            let got = forced_api(*value).map_err(|e| e.to_string());
            match (want, &got) {
                (Ok(w), Ok(g)) => assert_eq!(g.as_deref(), *w, "{value:?}"),
                (Err(w), Err(g)) => assert!(g.contains(w), "{value:?}: {g}"),
                _ => panic!("{value:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn logs_are_demultiplexed() {
        let mut framed = vec![1, 0, 0, 0, 0, 0, 0, 3];
        framed.extend_from_slice(b"ab\n");
        framed.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 2]);
        framed.extend_from_slice(b"c\n");
        assert_eq!(demux_logs(&framed), "ab\nc\n");
        assert_eq!(demux_logs(b"plain tty output\n"), "plain tty output\n");
        assert_eq!(demux_logs(b""), "");
    }

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(encode_segment("calibre"), "calibre");
        assert_eq!(
            encode_segment("127.0.0.1:5000/a/b:v1"),
            "127.0.0.1%3A5000%2Fa%2Fb%3Av1"
        );
        assert_eq!(encode_segment("sha256:ab"), "sha256%3Aab");
    }

    #[test]
    fn engine_errors_keep_the_engine_message() {
        let e = engine_error(
            "POST",
            "/containers/create",
            409,
            &serde_json::json!({"message": "Conflict. The container name \"/x\" is already in use"}),
        );
        assert_eq!(
            e.to_string(),
            "Docker engine: POST /containers/create failed with HTTP 409: Conflict. The container name \"/x\" is already in use"
        );
        assert!(!EngineError::is_not_found(&e));
        let gone = engine_error(
            "DELETE",
            "/images/x",
            404,
            &serde_json::json!({"message": "No such image: x"}),
        )
        .context("removing x");
        assert!(EngineError::is_not_found(&gone));
    }

    #[test]
    fn short_ids_cut_at_a_character() {
        const CASES: &[(&str, &str)] = &[
            ("0123456789abcdef0123", "0123456789ab"),
            ("0123456789ab", "0123456789ab"),
            ("abc", "abc"),
            ("", ""),
            ("0123456789a€cdef", "0123456789a€"),
            ("€€€€€€€€€€€€€€", "€€€€€€€€€€€€"),
        ];
        for (id, want) in CASES {
            assert_eq!(short_id(id), *want, "{id:?}");
        }
    }
}
