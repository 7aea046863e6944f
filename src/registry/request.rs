//! One HTTP exchange with a registry: the request (counted), retries where the answer
//! invites them, the answer read within its size limit, and transport errors that say
//! whether the host could be reached at all.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use ureq::Agent;
use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};

use super::client::RegistryClient;
use super::manifest;

/// Largest tag-list page dum reads.
const MAX_TAG_PAGE: u64 = 16 * 1024 * 1024;
/// Largest token or ping answer.
pub(super) const MAX_SMALL: u64 = 1024 * 1024;
/// Attempts for answers that invite a retry (429, 502, 503, 504).
const ATTEMPTS: u32 = 4;
/// Longest `Retry-After` dum honours; longer waits fail the image instead of the run.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// One answer, read and bounded.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) digest: Option<String>,
    pub(super) content_type: Option<String>,
    pub(super) link: Option<String>,
    pub(super) www_authenticate: Option<String>,
    pub(super) retry_after: Option<Duration>,
    pub(super) body: Vec<u8>,
    /// How many tags a successful tag list held ([`Body::Tags`]).
    pub(super) tags: Option<usize>,
}

/// What to do with an answer's body.
pub(super) enum Body<'a> {
    /// Read it whole, up to this many bytes.
    Read(u64),
    /// A tag list: hand each tag of a successful one over as it streams in; read any
    /// other answer whole (it is an error to report).
    Tags(&'a mut dyn FnMut(&str)),
}

/// A request that got no HTTP answer. `unreachable` when nothing answers at that
/// address at all (refused, unknown host, timeout): another scheme would not help.
#[derive(Debug)]
pub(super) struct TransportError {
    what: String,
    unreachable: bool,
}

impl TransportError {
    fn new(method: &str, url: &str, e: &ureq::Error) -> TransportError {
        let unreachable = match e {
            ureq::Error::Timeout(_) | ureq::Error::HostNotFound => true,
            ureq::Error::Io(io) => io.kind() == std::io::ErrorKind::ConnectionRefused,
            _ => false,
        };
        TransportError {
            what: format!("{method} {url}: {}", transport_error(e)),
            unreachable,
        }
    }
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.what)
    }
}

impl std::error::Error for TransportError {}

impl RegistryClient {
    /// One request, retried while the answer invites it (429, 502, 503, 504).
    pub(super) fn with_retries(
        &self,
        agent: &Agent,
        method: &str,
        url: &str,
        accept: Option<&str>,
        authorization: Option<&str>,
        body: &mut Body<'_>,
    ) -> Result<Answer> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let answer = self.raw(agent, method, url, accept, authorization, body)?;
            let retry = matches!(answer.status, 429 | 502 | 503 | 504);
            if !retry || attempt >= ATTEMPTS {
                return Ok(answer);
            }
            let backoff = Duration::from_millis(250 << (attempt - 1));
            let wait = match answer.retry_after {
                Some(d) if d > MAX_RETRY_AFTER => {
                    bail!(
                        "{url} answered {} with Retry-After {}s: giving up for this run",
                        answer.status,
                        d.as_secs()
                    )
                }
                Some(d) => d.max(backoff),
                None => backoff,
            };
            log::debug!(
                "{method} {url}: HTTP {}, retrying in {} ms",
                answer.status,
                wait.as_millis()
            );
            std::thread::sleep(wait);
        }
    }

    /// A form POST (the OAuth2 token endpoint).
    pub(super) fn raw_with_body(&self, agent: &Agent, url: &str, form: String) -> Result<Answer> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let response = agent
            .post(url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(form)
            .map_err(|e| TransportError::new("POST", url, &e))?;
        log::debug!("POST {url} -> {}", response.status().as_u16());
        read_answer(response, MAX_SMALL, url)
    }

    /// One request, counted, its answer read as `body` says.
    pub(super) fn raw(
        &self,
        agent: &Agent,
        method: &str,
        url: &str,
        accept: Option<&str>,
        authorization: Option<&str>,
        body: &mut Body<'_>,
    ) -> Result<Answer> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut request = match method {
            "HEAD" => agent.head(url),
            _ => agent.get(url),
        };
        if let Some(a) = accept {
            request = request.header("Accept", a);
        }
        if let Some(a) = authorization {
            request = request.header("Authorization", a);
        }
        let started = std::time::Instant::now();
        let result = request.call();
        // Never log headers: they carry credentials.
        let response = result.map_err(|e| TransportError::new(method, url, &e))?;
        let status = response.status().as_u16();
        let answer = match body {
            _ if method == "HEAD" => answer_head(&response),
            Body::Tags(each) if status == 200 => scan_answer(response, &mut **each, url)?,
            Body::Tags(_) => read_answer(response, MAX_SMALL, url)?,
            Body::Read(limit) => read_answer(response, *limit, url)?,
        };
        log::debug!(
            "{method} {url} -> {status} in {} ms",
            started.elapsed().as_millis()
        );
        Ok(answer)
    }
}

/// Whether an error means the host cannot be reached at all (as opposed to a protocol
/// mismatch that another scheme might fix).
pub(super) fn unreachable(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<TransportError>())
        .any(|t| t.unreachable)
}

pub(super) fn speaks_tls_only(answer: &Answer) -> bool {
    answer.status == 400 && String::from_utf8_lossy(&answer.body).contains("HTTPS")
}

fn transport_error(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => format!("timed out ({e})"),
        ureq::Error::HostNotFound => "host not found (DNS)".to_string(),
        ureq::Error::BodyExceedsLimit(limit) => format!("answer larger than {limit} bytes"),
        other => other.to_string(),
    }
}

fn header(response: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn retry_after(response: &ureq::http::Response<ureq::Body>) -> Option<Duration> {
    header(response, "retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

fn answer_head(response: &ureq::http::Response<ureq::Body>) -> Answer {
    Answer {
        status: response.status().as_u16(),
        digest: header(response, "docker-content-digest"),
        content_type: header(response, "content-type"),
        link: header(response, "link"),
        www_authenticate: header(response, "www-authenticate"),
        retry_after: retry_after(response),
        body: Vec::new(),
        tags: None,
    }
}

/// A successful tag list, scanned as it streams in.
fn scan_answer(
    mut response: ureq::http::Response<ureq::Body>,
    each: &mut dyn FnMut(&str),
    url: &str,
) -> Result<Answer> {
    let mut answer = answer_head(&response);
    let html = answer
        .content_type
        .as_deref()
        .is_some_and(|t| t.contains("html"));
    let reader = response
        .body_mut()
        .with_config()
        .limit(MAX_TAG_PAGE)
        .reader();
    let total = manifest::scan_tag_list(reader, each).map_err(|e| {
        let transport = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<ureq::Error>())
            .map(transport_error);
        match transport {
            Some(t) => anyhow!("reading the answer of {url}: {t}"),
            None => {
                let hint = if html { manifest::HTML_HINT } else { "" };
                anyhow!("reading the answer of {url}: {e:#}{hint}")
            }
        }
    })?;
    answer.tags = Some(total);
    Ok(answer)
}

pub(super) fn read_answer(
    mut response: ureq::http::Response<ureq::Body>,
    limit: u64,
    url: &str,
) -> Result<Answer> {
    let mut answer = answer_head(&response);
    answer.body = response
        .body_mut()
        .with_config()
        .limit(limit)
        .read_to_vec()
        .map_err(|e| anyhow!("reading the answer of {url}: {}", transport_error(&e)))?;
    Ok(answer)
}

/// TLS settings for one registry host: Docker's `/etc/docker/certs.d/<host>/` CA files
/// (added to the system store) and client certificates, or no verification for an
/// insecure registry. `None` keeps ureq's defaults.
pub(super) fn tls_config(dir: &Path, skip_verify: bool) -> Result<Option<TlsConfig>> {
    if skip_verify {
        return Ok(Some(
            TlsConfig::builder().disable_verification(true).build(),
        ));
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(None);
    };
    let mut roots: Vec<Certificate<'static>> = Vec::new();
    let mut client_cert = None;
    let mut client_key = None;
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        let read =
            || std::fs::read(&path).map_err(|e| anyhow!("cannot read {}: {e}", path.display()));
        if name.ends_with(".crt") {
            roots.extend(crate::http::certificates(&read()?));
        } else if name.ends_with(".cert") {
            client_cert = Some(
                Certificate::from_pem(&read()?).map_err(|e| anyhow!("{}: {e}", path.display()))?,
            );
        } else if name.ends_with(".key") {
            client_key = Some(
                PrivateKey::from_pem(&read()?).map_err(|e| anyhow!("{}: {e}", path.display()))?,
            );
        }
    }
    if roots.is_empty() && client_cert.is_none() {
        return Ok(None);
    }
    let mut builder = TlsConfig::builder();
    if !roots.is_empty() {
        // Private CAs come on top of the system's, as with Docker.
        if let Ok(system) = std::fs::read("/etc/ssl/certs/ca-certificates.crt") {
            roots.extend(crate::http::certificates(&system));
        }
        builder = builder.root_certs(RootCerts::new_with_certs(&roots));
    }
    if let (Some(cert), Some(key)) = (client_cert, client_key) {
        builder = builder.client_cert(Some(ClientCert::new_with_certs(&[cert], key)));
    }
    Ok(Some(builder.build()))
}
