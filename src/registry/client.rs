//! The HTTP side of the registry: one pooled ureq agent per registry host, the auth
//! challenge learnt from the first 401, token and Basic auth, retries, size limits.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use base64::Engine as _;
use ureq::Agent;

use super::Registry;
use super::auth::{self, Challenge};
use super::credentials::{Credentials, DockerConfig};
use super::manifest::{self, Descriptor, IndexEntry, Manifest};
use super::request::{Answer, Body, MAX_SMALL, speaks_tls_only, tls_config, unreachable};
use crate::image::reference::Reference;

/// Largest manifest dum reads (distribution refuses bigger ones too).
const MAX_MANIFEST: u64 = 4 * 1024 * 1024;
/// The largest blob dum reads (image configs and signature payloads, never layers).
const MAX_BLOB: u64 = 8 * 1024 * 1024;
/// Tag-list pages followed at most: a `Link` loop or a hostile registry cannot keep dum busy.
const MAX_PAGES: usize = 200;

/// Knobs of the registry client.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Registries (host[:port]) that may be spoken to over plain HTTP or unverified TLS.
    pub insecure_registries: Vec<String>,
    /// Docker's client config file holding `docker login` credentials, if any.
    pub docker_config: Option<std::path::PathBuf>,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout.
    pub request_timeout: Duration,
    /// Where Docker keeps per-registry CA certificates (`/etc/docker/certs.d`).
    pub certs_dir: std::path::PathBuf,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            insecure_registries: Vec::new(),
            docker_config: None,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            certs_dir: std::path::PathBuf::from("/etc/docker/certs.d"),
        }
    }
}

/// How to reach a host, and the auth challenge it announced (learnt from the first
/// 401, so anonymous registries cost no extra round trip).
struct Host {
    agent: Agent,
    /// `scheme://host[:port]`.
    base: String,
    challenge: std::sync::RwLock<Option<Challenge>>,
}

impl Host {
    fn new(agent: Agent, base: String, challenge: Option<Challenge>) -> Host {
        Host {
            agent,
            base,
            challenge: std::sync::RwLock::new(challenge),
        }
    }

    fn challenge(&self) -> Option<Challenge> {
        self.challenge.read().ok().and_then(|c| c.clone())
    }

    /// Records the challenge of a 401; true when it differs from the known one.
    fn learn(&self, header: &str) -> bool {
        let challenges = auth::parse_challenges(header);
        let Some(found) = auth::preferred(&challenges) else {
            return false;
        };
        match self.challenge.write() {
            Ok(mut known) if known.as_ref() != Some(found) => {
                *known = Some(found.clone());
                true
            }
            _ => false,
        }
    }
}

/// A registry client shared by all images of a run (it is `Sync`; rayon workers share it).
pub struct RegistryClient {
    options: ClientOptions,
    docker_config: Result<DockerConfig, String>,
    hosts: Mutex<HashMap<String, Arc<OnceLock<Result<Arc<Host>, String>>>>>,
    tokens: Mutex<HashMap<(String, String), Arc<OnceLock<Result<String, String>>>>>,
    pub(super) requests: AtomicUsize,
    credentials_cache: Mutex<HashMap<String, Option<Credentials>>>,
}

impl RegistryClient {
    /// A client; Docker's credential file is read once here.
    pub fn new(options: ClientOptions) -> RegistryClient {
        let docker_config = match &options.docker_config {
            None => Ok(DockerConfig::default()),
            Some(path) => DockerConfig::load(path).map_err(|e| format!("{e:#}")),
        };
        RegistryClient {
            options,
            docker_config,
            hosts: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
            requests: AtomicUsize::new(0),
            credentials_cache: Mutex::new(HashMap::new()),
        }
    }

    fn is_insecure(&self, host: &str) -> bool {
        auth::is_loopback_host(host) || self.options.insecure_registries.iter().any(|h| h == host)
    }

    fn agent(&self, host: &str, skip_verify: bool) -> Result<Agent> {
        let mut builder = Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(self.options.connect_timeout))
            .timeout_global(Some(self.options.request_timeout))
            .user_agent(concat!("dum/", env!("CARGO_PKG_VERSION")))
            .max_redirects(5)
            // As many idle connections as worker threads, so a run reuses them all.
            .max_idle_connections(64)
            .max_idle_connections_per_host(64)
            // ureq's 128 KiB default buffers per connection would dominate memory with
            // dozens of parallel connections; bodies are streamed anyway. The input
            // buffer must hold an answer's headers, the output buffer the longest request
            // line: an `Authorization` header reaches 6 KB with an ECR password.
            .input_buffer_size(8 * 1024)
            .output_buffer_size(8 * 1024);
        let dir = self.options.certs_dir.join(host);
        let tls = tls_config(&dir, skip_verify)?;
        if let Some(tls) = tls {
            builder = builder.tls_config(tls);
        }
        let connector = ureq::unversioned::transport::DefaultConnector::new();
        Ok(Agent::with_parts(
            builder.build(),
            connector,
            super::resolver::CachingResolver::default(),
        ))
    }

    /// The host's agent and base URL, decided once per run. HTTPS registries and
    /// loopback ones (plain HTTP, as Docker allows) need no probe; a registry listed in
    /// `insecure_registries` is pinged once to learn whether it speaks HTTP or HTTPS.
    fn host(&self, host: &str) -> Result<Arc<Host>> {
        let cell = {
            let mut hosts = self
                .hosts
                .lock()
                .map_err(|_| anyhow!("registry client lock poisoned"))?;
            hosts.entry(host.to_string()).or_default().clone()
        };
        cell.get_or_init(|| {
            let found = if auth::is_loopback_host(host) {
                self.agent(host, false)
                    .map(|a| Host::new(a, format!("http://{host}"), None))
            } else if self.is_insecure(host) {
                self.ping(host)
            } else {
                self.agent(host, false)
                    .map(|a| Host::new(a, format!("https://{host}"), None))
            };
            found.map(Arc::new).map_err(|e| format!("{e:#}"))
        })
        .clone()
        .map_err(|e| anyhow!(e))
    }

    /// Probes an insecure registry: plain HTTP first, HTTPS without verification when
    /// it turns out to speak only that.
    fn ping(&self, host: &str) -> Result<Host> {
        let agent = self.agent(host, false)?;
        let base = format!("http://{host}");
        match self.raw(
            &agent,
            "GET",
            &format!("{base}/v2/"),
            None,
            None,
            &mut Body::Read(MAX_SMALL),
        ) {
            Ok(answer) if !speaks_tls_only(&answer) => return Ok(Host::new(agent, base, None)),
            Ok(_) => log::debug!("{host} speaks HTTPS only"),
            // Nothing listening, or no such host: HTTPS would fail the same way.
            Err(e) if unreachable(&e) => {
                return Err(e.context(format!("cannot reach the registry {host}")));
            }
            Err(e) => log::debug!("plain HTTP to {host} failed ({e:#}); trying HTTPS"),
        }
        log::warn!("{host} is in insecure_registries: TLS certificates are not verified");
        let agent = self.agent(host, true)?;
        Ok(Host::new(agent, format!("https://{host}"), None))
    }

    /// Credentials for an image's registry, from Docker's config, looked up once per host.
    fn credentials(&self, image: &Reference) -> Result<Option<Credentials>> {
        let key = image.registry.clone();
        if let Ok(cache) = self.credentials_cache.lock()
            && let Some(found) = cache.get(&key)
        {
            return Ok(found.clone());
        }
        let config = self.docker_config.as_ref().map_err(|e| anyhow!("{e}"))?;
        let found = config.credentials_for(&image.credential_keys(), Duration::from_secs(10))?;
        if let Ok(mut cache) = self.credentials_cache.lock() {
            cache.insert(key, found.clone());
        }
        Ok(found)
    }

    /// The `X-Registry-Auth` value the engine needs to pull from `image`'s registry,
    /// from the same Docker credentials; `None` for anonymous pulls.
    pub fn engine_auth(&self, image: &Reference) -> Result<Option<String>> {
        let server = if image.is_docker_hub() {
            "https://index.docker.io/v1/".to_string()
        } else {
            image.registry.clone()
        };
        let value = match self.credentials(image)? {
            None => return Ok(None),
            Some(Credentials::Basic { username, password }) => {
                serde_json::json!({"username": username, "password": password, "serveraddress": server})
            }
            Some(Credentials::IdentityToken(token)) => {
                serde_json::json!({"identitytoken": token, "serveraddress": server})
            }
        };
        Ok(Some(
            base64::engine::general_purpose::URL_SAFE.encode(value.to_string()),
        ))
    }

    /// The `Authorization` header for a request to `image`'s repository, if one is needed.
    fn authorization(
        &self,
        image: &Reference,
        host: &Host,
        refresh: bool,
    ) -> Result<Option<String>> {
        match &host.challenge() {
            None => Ok(None),
            Some(Challenge::Basic { .. }) => match self.credentials(image)? {
                Some(Credentials::Basic { username, password }) => {
                    auth::credentials_allowed(
                        &host.base,
                        image.api_host(),
                        None,
                        &self.options.insecure_registries,
                    )
                    .map_err(|e| anyhow!(e))?;
                    Ok(Some(basic(&username, &password)))
                }
                Some(Credentials::IdentityToken(_)) | None => bail!(
                    "{} requires a login: run `docker login {}` (dum reads the credentials it stores)",
                    image.registry,
                    image.registry
                ),
            },
            Some(Challenge::Bearer { realm, service, .. }) => {
                let scope = auth::pull_scope(&image.repository);
                let key = (image.api_host().to_string(), scope.clone());
                let cell = {
                    let mut tokens = self
                        .tokens
                        .lock()
                        .map_err(|_| anyhow!("token cache lock poisoned"))?;
                    if refresh {
                        tokens.remove(&key);
                    }
                    tokens.entry(key).or_default().clone()
                };
                let token = cell
                    .get_or_init(|| {
                        self.fetch_token(image, host, realm, service.as_deref(), &scope)
                            .map_err(|e| format!("{e:#}"))
                    })
                    .clone()
                    .map_err(|e| anyhow!(e))?;
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    fn fetch_token(
        &self,
        image: &Reference,
        host: &Host,
        realm: &str,
        service: Option<&str>,
        scope: &str,
    ) -> Result<String> {
        let url = auth::token_url(realm, service, scope);
        let realm_host = auth::url_host(realm).ok_or_else(|| {
            anyhow!(
                "{} announced a token realm that is not an http(s) URL: {realm}",
                image.registry
            )
        })?;
        let credentials = self.credentials(image)?;
        let mut authorization = None;
        if let Some(creds) = &credentials {
            // The realm is where the registry itself sends us, so it may receive the
            // login; the scheme rule (no plain HTTP off loopback) still applies.
            auth::credentials_allowed(
                &url,
                image.api_host(),
                Some(&realm_host),
                &self.options.insecure_registries,
            )
            .map_err(|e| anyhow!("not sending credentials for {}: {e}", image.registry))?;
            if let Credentials::Basic { username, password } = creds {
                authorization = Some(basic(username, password));
            }
        }
        let answer = match &credentials {
            Some(Credentials::IdentityToken(refresh)) => {
                let form = auth::refresh_token_form(service, scope, refresh);
                self.raw_with_body(&host.agent, realm, form)?
            }
            _ => self.raw(
                &host.agent,
                "GET",
                &url,
                None,
                authorization.as_deref(),
                &mut Body::Read(MAX_SMALL),
            )?,
        };
        match answer.status {
            200..=299 => auth::parse_token_reply(&answer.body, realm),
            401 | 403 if credentials.is_some() => bail!(
                "the token service {realm} refused the stored credentials for {}: run `docker login {}` again",
                image.registry,
                image.registry
            ),
            401 | 403 => bail!(
                "the token service {realm} refused an anonymous token for {}: run `docker login {}`",
                image.registry,
                image.registry
            ),
            status => bail!("the token service {realm} answered HTTP {status}"),
        }
    }

    /// One request to a repository path under `/v2/`, with auth and retries.
    fn call(
        &self,
        image: &Reference,
        method: &str,
        url_path: &str,
        accept: Option<&str>,
        mut body: Body<'_>,
    ) -> Result<Answer> {
        let host = self.host(image.api_host())?;
        let url = if url_path.contains("://") {
            url_path.to_string()
        } else {
            format!("{}{url_path}", host.base)
        };
        let mut authorization = self.authorization(image, &host, false)?;
        let mut retried = 0;
        loop {
            let answer = self.with_retries(
                &host.agent,
                method,
                &url,
                accept,
                authorization.as_deref(),
                &mut body,
            )?;
            if answer.status == 400 && speaks_tls_only(&answer) {
                bail!(
                    "{} speaks HTTPS only: list it in insecure_registries so dum uses HTTPS without verifying its certificate",
                    image.registry
                );
            }
            // A 401 announces the challenge (first contact) or says a token expired
            // during a long run: learn it, authenticate, try again (twice at most).
            if answer.status == 401 && retried < 2 {
                let header = answer.www_authenticate.as_deref().unwrap_or("");
                let changed = host.learn(header);
                if host.challenge().is_some() {
                    retried += 1;
                    // A rejected token is fetched anew; a first attempt uses the cache.
                    let refresh = authorization.is_some() && !changed;
                    authorization = self.authorization(image, &host, refresh)?;
                    continue;
                }
            }
            return Ok(answer);
        }
    }

    /// `GET` of a manifest, whole (bounded).
    fn get_manifest(&self, image: &Reference, path: &str) -> Result<Answer> {
        self.call(
            image,
            "GET",
            path,
            Some(manifest::ACCEPT),
            Body::Read(MAX_MANIFEST),
        )
    }

    fn manifest_path(image: &Reference, reference: &str) -> String {
        format!("/v2/{}/manifests/{reference}", image.repository)
    }
}

fn basic(username: &str, password: &str) -> String {
    let raw = format!("{username}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

fn status_error(image: &Reference, what: &str, url: &str, answer: &Answer) -> anyhow::Error {
    let hint = match answer.status {
        401 => format!(": not authorised (run `docker login {}`)", image.registry),
        403 => ": access denied".to_string(),
        _ => manifest::html_hint(&answer.body).to_string(),
    };
    anyhow!("{what}: {url} answered HTTP {}{hint}", answer.status)
}

impl Registry for RegistryClient {
    fn tags(&self, image: &Reference) -> Result<Vec<String>> {
        let mut tags = Vec::new();
        self.tags_each(image, &mut |t| tags.push(t.to_string()))?;
        Ok(tags)
    }

    fn tags_each(&self, image: &Reference, each: &mut dyn FnMut(&str)) -> Result<usize> {
        let first = format!("/v2/{}/tags/list?n=1000", image.repository);
        let mut next = Some(first);
        let mut seen = HashSet::new();
        let mut total = 0;
        let mut pages = 0;
        while let Some(path) = next.take() {
            pages += 1;
            if pages > MAX_PAGES || !seen.insert(path.clone()) {
                bail!(
                    "the tag list of {} pages in a loop or beyond {MAX_PAGES} pages",
                    image.name()
                );
            }
            let answer = self.call(image, "GET", &path, None, Body::Tags(&mut *each))?;
            match answer.status {
                200 => {}
                404 => bail!(
                    "repository {} not found at {}",
                    image.repository,
                    image.registry
                ),
                _ => return Err(status_error(image, "listing tags", &path, &answer)),
            }
            total += answer.tags.unwrap_or_default();
            if let Some(link) = answer.link.as_deref().and_then(manifest::next_link) {
                let host = self.host(image.api_host())?;
                let resolved = manifest::resolve_link(&host.base, &link)?;
                next = Some(resolved);
            }
        }
        Ok(total)
    }

    fn digest(&self, image: &Reference, reference: &str) -> Result<Option<String>> {
        let path = Self::manifest_path(image, reference);
        let answer = self.call(image, "HEAD", &path, Some(manifest::ACCEPT), Body::Read(0))?;
        match answer.status {
            404 => return Ok(None),
            200 => {
                if let Some(d) = answer.digest.as_deref() {
                    return manifest::checked_digest(d, &path).map(Some);
                }
            }
            // A registry that refuses HEAD is asked with GET below; anything else is an error.
            405 | 400 | 501 => {}
            _ => {
                return Err(status_error(
                    image,
                    &format!("manifest {reference} of {}", image.name()),
                    &path,
                    &answer,
                ));
            }
        }
        let answer = self.get_manifest(image, &path)?;
        match answer.status {
            404 => Ok(None),
            200 => Ok(Some(match answer.digest.as_deref() {
                Some(d) => manifest::checked_digest(d, &path)?,
                None => manifest::sha256_digest(&answer.body),
            })),
            _ => Err(status_error(
                image,
                &format!("manifest {reference} of {}", image.name()),
                &path,
                &answer,
            )),
        }
    }

    fn index_children(
        &self,
        image: &Reference,
        reference: &str,
    ) -> Result<Option<Vec<IndexEntry>>> {
        let path = Self::manifest_path(image, reference);
        let answer = self.get_manifest(image, &path)?;
        match answer.status {
            404 => Ok(None),
            200 => {
                if answer
                    .content_type
                    .as_deref()
                    .is_some_and(manifest::is_index)
                {
                    Ok(Some(
                        manifest::index_entries(&answer.body)
                            .map_err(|e| anyhow!("{}: {e}", image.name()))?,
                    ))
                } else {
                    Ok(Some(Vec::new()))
                }
            }
            _ => Err(status_error(
                image,
                &format!("manifest {reference} of {}", image.name()),
                &path,
                &answer,
            )),
        }
    }

    fn manifest(&self, image: &Reference, reference: &str) -> Result<Option<Manifest>> {
        let path = Self::manifest_path(image, reference);
        let answer = self.get_manifest(image, &path)?;
        match answer.status {
            404 => Ok(None),
            200 => {
                let digest = manifest::sha256_digest(&answer.body);
                if reference.starts_with("sha256:") && digest != reference {
                    bail!(
                        "{}: the registry served manifest {reference} with the digest {digest}",
                        image.name()
                    );
                }
                let media_type = match answer.content_type.as_deref() {
                    Some(t) if !t.trim().is_empty() && t != "application/json" => {
                        t.split(';').next().unwrap_or(t).trim().to_string()
                    }
                    _ => serde_json::from_slice::<manifest::Document>(&answer.body)
                        .ok()
                        .and_then(|d| d.media_type)
                        .unwrap_or_default(),
                };
                Ok(Some(Manifest {
                    media_type,
                    digest,
                    body: answer.body,
                }))
            }
            _ => Err(status_error(
                image,
                &format!("manifest {reference} of {}", image.name()),
                &path,
                &answer,
            )),
        }
    }

    fn blob(&self, image: &Reference, digest: &str) -> Result<Option<Vec<u8>>> {
        if !manifest::is_sha256_digest(digest) {
            bail!("{}: {digest} is not a sha256 digest", image.name());
        }
        let path = format!("/v2/{}/blobs/{digest}", image.repository);
        let answer = self.call(image, "GET", &path, None, Body::Read(MAX_BLOB))?;
        match answer.status {
            404 => Ok(None),
            200 => {
                let got = manifest::sha256_digest(&answer.body);
                if got != digest {
                    bail!(
                        "{}: blob {digest} arrived with the digest {got} (cut short or altered)",
                        image.name()
                    );
                }
                Ok(Some(answer.body))
            }
            _ => Err(status_error(
                image,
                &format!("blob {digest} of {}", image.name()),
                &path,
                &answer,
            )),
        }
    }

    fn referrers(
        &self,
        image: &Reference,
        digest: &str,
        artifact_type: Option<&str>,
    ) -> Result<Option<Vec<Descriptor>>> {
        if !manifest::is_sha256_digest(digest) {
            bail!("{}: {digest} is not a sha256 digest", image.name());
        }
        let mut path = format!("/v2/{}/referrers/{digest}", image.repository);
        if let Some(t) = artifact_type {
            path.push_str("?artifactType=");
            path.push_str(&t.replace('+', "%2B").replace('/', "%2F"));
        }
        let answer = self.get_manifest(image, &path)?;
        match answer.status {
            // No referrers API (distribution 2.8, say): the caller tries the tag.
            404 | 405 => Ok(None),
            200 => {
                let doc: manifest::Document =
                    serde_json::from_slice(&answer.body).map_err(|e| {
                        anyhow!(
                            "{}: the referrers of {digest} are not an index ({e})",
                            image.name()
                        )
                    })?;
                // A registry that ignores the filter lists everything: filter here too.
                Ok(Some(
                    doc.manifests
                        .into_iter()
                        .filter(|d| {
                            artifact_type.is_none_or(|t| d.artifact_type.as_deref() == Some(t))
                        })
                        .collect(),
                ))
            }
            _ => Err(status_error(
                image,
                &format!("referrers of {digest} in {}", image.name()),
                &path,
                &answer,
            )),
        }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }
}
