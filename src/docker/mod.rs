//! A blocking Docker Engine API client, and the narrow trait the core talks to.

pub mod transport;
pub mod types;

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;
use ureq::Agent;

use self::transport::Endpoint;
use self::types::{ContainerInspect, ContainerSummary, ImageInspect, ImageSummary, VersionInfo};

/// Newest API version dum was written against; newer engines are spoken to in this one.
pub const MAX_API_VERSION: &str = "1.47";
/// Oldest API version dum can work with (Engine 20.10).
pub const MIN_API_VERSION: &str = "1.41";

/// Biggest JSON document dum reads from the engine (inspect of a huge container list).
const MAX_BODY: u64 = 64 * 1024 * 1024;

/// What the core needs from an engine: reads for `check`.
pub trait Engine: Sync {
    /// Every container, running or not.
    fn containers(&self) -> Result<Vec<ContainerSummary>>;
    /// One container by name or ID; `None` when it does not exist.
    fn inspect_container(&self, name: &str) -> Result<Option<ContainerInspect>>;
    /// One image by reference or ID; `None` when it does not exist.
    fn inspect_image(&self, name: &str) -> Result<Option<ImageInspect>>;
    /// Every image.
    fn images(&self) -> Result<Vec<ImageSummary>>;
    /// The engine's platform as `os/arch`, e.g. `linux/amd64`.
    fn platform(&self) -> (String, String);
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

/// The engine client: one pooled agent, the negotiated API version.
pub struct DockerClient {
    agent: Agent,
    base: String,
    api: String,
    endpoint: Endpoint,
    info: VersionInfo,
}

impl DockerClient {
    /// Connects to the engine named by the environment and negotiates the API version.
    pub fn from_env() -> Result<DockerClient> {
        DockerClient::connect(Endpoint::from_env()?)
    }

    /// Connects to `endpoint` and negotiates the API version with `GET /version`.
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
            info: VersionInfo {
                version: String::new(),
                api_version: String::new(),
                min_api_version: None,
                arch: String::new(),
                os: String::new(),
            },
        };
        // `/version` without a version prefix is answered by every engine.
        let info: VersionInfo = serde_json::from_value(
            client.request("GET", "/version", None, false)?,
        )
        .with_context(|| format!("unexpected answer to GET /version from {}", client.endpoint))?;
        client.api = negotiate(&info.api_version, info.min_api_version.as_deref())?;
        log::debug!(
            "Docker engine {} at {}, API {} (engine max {})",
            info.version,
            client.endpoint,
            client.api,
            info.api_version
        );
        client.info = info;
        Ok(client)
    }

    /// The negotiated API version.
    pub fn api_version(&self) -> &str {
        &self.api
    }

    /// The engine's `/version` answer.
    pub fn info(&self) -> &VersionInfo {
        &self.info
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

    fn get_optional(&self, path: &str) -> Result<Option<Value>> {
        match self.request_status("GET", path, None, true)? {
            (404, _) => Ok(None),
            (status, value) if (200..300).contains(&status) => Ok(Some(value)),
            (status, value) => Err(engine_error("GET", path, status, &value)),
        }
    }
}

/// One line: what failed and what the engine said.
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
    let message = message.lines().next().unwrap_or("").trim().to_string();
    if message.is_empty() {
        anyhow!("Docker engine: {method} {path} failed with HTTP {status}")
    } else {
        anyhow!("Docker engine: {method} {path} failed with HTTP {status}: {message}")
    }
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

impl Engine for DockerClient {
    fn containers(&self) -> Result<Vec<ContainerSummary>> {
        let value = self.request("GET", "/containers/json?all=1", None, true)?;
        serde_json::from_value(value).context("unexpected container list from the Docker engine")
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
        let value = self.request("GET", "/images/json", None, true)?;
        serde_json::from_value(value).context("unexpected image list from the Docker engine")
    }

    fn platform(&self) -> (String, String) {
        let os = if self.info.os.is_empty() {
            "linux"
        } else {
            &self.info.os
        };
        let arch = if self.info.arch.is_empty() {
            "amd64"
        } else {
            &self.info.arch
        };
        (os.to_string(), arch.to_string())
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
            ("1.51", Some("1.44"), Some("1.47")),
            ("1.40", None, None),
            ("1.60", Some("1.50"), None),
        ];
        for (server, min, want) in cases {
            let got = negotiate(server, *min).ok();
            assert_eq!(got.as_deref(), *want, "server {server} min {min:?}");
        }
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
        assert!(e.to_string().contains("409"));
        assert!(e.to_string().contains("already in use"));
    }
}
