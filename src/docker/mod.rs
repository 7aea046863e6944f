//! A blocking Docker Engine API client, and the narrow trait the core talks to.

mod client;
#[cfg(test)]
pub mod fake;
#[cfg(test)]
pub mod memory;
pub mod transport;
pub mod types;

pub use self::client::DockerClient;

use std::time::Duration;

use anyhow::{Result, bail};
use serde_json::Value;

use self::types::{ContainerInspect, ContainerSummary, ImageInspect, ImageSummary};

/// Newest API version dum was written against; newer engines are spoken to in this one.
pub const MAX_API_VERSION: &str = "1.51";
/// Oldest API version dum can work with (Engine 20.10).
pub const MIN_API_VERSION: &str = "1.41";

/// What the inventory and the checks read from an engine: containers, images and the
/// engine's own facts. Never changes anything.
pub trait EngineRead: Sync {
    /// Every container, running or not.
    fn containers(&self) -> Result<Vec<ContainerSummary>>;
    /// One container by name or ID; `None` when it does not exist.
    fn inspect_container(&self, name: &str) -> Result<Option<ContainerInspect>>;
    /// One image by reference or ID; `None` when it does not exist.
    fn inspect_image(&self, name: &str) -> Result<Option<ImageInspect>>;
    /// [`EngineRead::inspect_image`] with the manifests of the stored content
    /// ([`ImageInspect::manifests`]) on engines that report them (API ≥ 1.48; the
    /// containerd image store lists them).
    fn inspect_image_manifests(&self, name: &str) -> Result<Option<ImageInspect>> {
        self.inspect_image(name)
    }
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
    /// The node's swarm state as the engine's `Swarm` ping header says it (`inactive`,
    /// `active/worker`, `active/manager`, …): known from the connection's first request,
    /// so a check costs no extra request; `GET /info` only for engines without it.
    fn swarm_state(&self) -> Result<String>;
    /// `GET /services` (a swarm manager only).
    fn services(&self) -> Result<Vec<Value>>;
    /// One service by name or ID; `None` when it does not exist.
    fn inspect_service(&self, name: &str) -> Result<Option<Value>>;
    /// The tasks of a service (`GET /tasks?filters={"service":[id]}`).
    fn tasks(&self, service_id: &str) -> Result<Vec<Value>>;
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
    /// Runs `argv` inside the running container `id` through the exec API, with `env`
    /// (`KEY=value`) on top of the container's, and waits at most `timeout` for it.
    fn exec(&self, id: &str, argv: &[String], env: &[String], timeout: Duration) -> Result<Exec>;
    /// `POST /services/{id}/update?version=N`: `spec` replaces the service's spec, or,
    /// with `rollback`, Swarm rolls back to its previous spec. `auth` is the
    /// `X-Registry-Auth` value; without it the daemon uses the spec's own.
    fn update_service(
        &self,
        id: &str,
        version: u64,
        spec: &Value,
        auth: Option<&str>,
        rollback: bool,
    ) -> Result<()>;
}

/// How a command run inside a container (the exec API) ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exec {
    /// Its exit code; `None` when it still ran at the timeout (the engine cannot kill
    /// an exec'd process: it may go on).
    pub exit_code: Option<i64>,
    /// The end of its output, stdout and stderr interleaved.
    pub output: String,
}

/// What a watched container printed last and how it exited, collected in the
/// background from streams opened before its start (see [`EngineRead::watch`]).
#[derive(Clone, Default)]
pub struct ExitWatch {
    output: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    exit_code: std::sync::Arc<std::sync::Mutex<Option<i64>>>,
    /// Whether the output stream has ended: the exit code can arrive (on its own
    /// connection) before the last of the output has been read.
    closed: std::sync::Arc<std::sync::atomic::AtomicBool>,
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

    /// Everything kept of its output (the last [`WATCH_KEEP`] bytes).
    fn text(&self) -> String {
        let bytes = self.output.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Its exit code, once the engine reported it.
    pub fn exit_code(&self) -> Option<i64> {
        self.exit_code.lock().ok().and_then(|c| *c)
    }

    /// A watch that already knows `exit_code` and reads `stream` in the background, as
    /// the client's does.
    #[cfg(test)]
    pub(crate) fn reading(
        stream: impl std::io::Read + Send + 'static,
        tty: bool,
        exit_code: Option<i64>,
    ) -> ExitWatch {
        let watch = ExitWatch::default();
        if let Ok(mut code) = watch.exit_code.lock() {
            *code = exit_code;
        }
        let output = watch.clone();
        std::thread::spawn(move || output.collect(stream, tty));
        watch
    }

    /// Whether all of its output has been read (the stream ended).
    pub fn output_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Marks the output as complete.
    fn close(&self) {
        self.closed
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Appends output, keeping the last [`WATCH_KEEP`] bytes.
    fn push(&self, chunk: &[u8]) {
        if let Ok(mut buffer) = self.output.lock() {
            buffer.extend_from_slice(chunk);
            let excess = buffer.len().saturating_sub(WATCH_KEEP);
            buffer.drain(..excess);
        }
    }

    /// Reads an attach stream to its end, then marks the output complete.
    fn collect(&self, stream: impl std::io::Read, tty: bool) {
        self.read_all(stream, tty);
        self.close();
    }

    /// Reads an attach stream: framed (8-byte headers) without a TTY, raw with one.
    fn read_all(&self, mut stream: impl std::io::Read, tty: bool) {
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
pub(crate) fn api_tuple(v: &str) -> (u32, u32) {
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

pub(crate) fn engine_error(method: &str, path: &str, status: u16, body: &Value) -> anyhow::Error {
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
    crate::http::percent_encode(s)
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
