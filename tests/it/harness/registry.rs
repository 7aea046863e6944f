//! Real registries (Debian's `docker-registry serve`, distribution 2.8) on loopback
//! ports, plain HTTP, with anonymous, Basic or token authentication.
//!
//! Shared instances ([`anon`], [`basic`], [`token`], [`token_anon_pull`]) live as long
//! as the test process; [`Registry::start`] gives a private one that dies on drop.
//! Tests sharing a registry stay apart by using unique repository names
//! ([`crate::harness::Image::new`] does that).
//!
//! Note: distribution 2.8 itself ignores `?n=`/`?last=` on `tags/list` (no
//! pagination, no `Link` header) and returns tags unsorted. For pagination tests use
//! [`paginated`] or [`Registry::start_paginated`]: the same registry behind
//! `tests/fixtures/paginating_proxy.py`, which pages like distribution 3 / Docker Hub.

use super::http::{self, Reply};
use super::{Watched, docker_ready, run, temp_dir};
use std::collections::HashMap;
use std::fs;
use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// User name accepted by the Basic and token registries.
pub const USER: &str = "dumuser";
/// Password accepted by the Basic and token registries.
pub const PASSWORD: &str = "dum-secret-pw";
/// `service` the token registries announce in their challenge (the JWT audience).
pub const TOKEN_SERVICE: &str = "dum-test-registry";

/// How a registry authenticates clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// No authentication at all.
    Anon,
    /// HTTP Basic against an htpasswd file (`dumuser` / `dum-secret-pw`).
    Basic,
    /// Bearer tokens from the fixture token server; anonymous tokens grant nothing.
    Token,
    /// Like [`Kind::Token`], but anonymous tokens grant `pull` (Docker Hub style
    /// public repositories).
    TokenAnonPull,
}

impl Kind {
    /// Whether pushing needs a login.
    pub fn needs_login(self) -> bool {
        self != Kind::Anon
    }

    /// Whether the registry uses the token server.
    pub fn is_token(self) -> bool {
        matches!(self, Kind::Token | Kind::TokenAnonPull)
    }
}

/// One line of the registry's access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// HTTP method, e.g. `GET`.
    pub method: String,
    /// Request URI including the query, e.g. `/v2/x/tags/list?n=100`.
    pub uri: String,
    /// Response status.
    pub status: u16,
    /// The client's User-Agent.
    pub user_agent: String,
}

impl Request {
    /// Whether the request came from the harness or the Docker engine (the pushes,
    /// pulls and logins tests set up) rather than from the program under test.
    pub fn is_fixture_traffic(&self) -> bool {
        is_fixture_agent(&self.user_agent)
    }
}

fn is_fixture_agent(user_agent: &str) -> bool {
    user_agent.starts_with(http::USER_AGENT) || user_agent.starts_with("docker/")
}

struct TokenServer {
    realm: String,
    log: PathBuf,
    _process: Watched,
}

/// A running registry. Shared ones are never dropped; owned ones (from
/// [`Registry::start`]) kill their processes and delete their storage on drop.
pub struct Registry {
    kind: Kind,
    host: String,
    dir: PathBuf,
    log: PathBuf,
    docker_config: PathBuf,
    token_server: Option<TokenServer>,
    tokens: Mutex<HashMap<String, String>>,
    upstream: String,
    _proxy: Option<Watched>,
    _process: Watched,
    _owned_dir: Option<tempfile::TempDir>,
}

/// The shared registry without authentication.
pub fn anon() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| Registry::start_shared(Kind::Anon))
}

/// The shared registry with HTTP Basic authentication.
pub fn basic() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| Registry::start_shared(Kind::Basic))
}

/// The shared token-auth registry whose anonymous tokens grant nothing.
pub fn token() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| Registry::start_shared(Kind::Token))
}

/// The shared token-auth registry whose anonymous tokens grant `pull`.
pub fn token_anon_pull() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| Registry::start_shared(Kind::TokenAnonPull))
}

/// The shared anonymous registry behind the paginating proxy: `tags/list` answers
/// hold at most [`PAGE_SIZE`] tags (fewer if `n` asks for fewer), sorted, with a
/// `Link: <...>; rel="next"` header while more remain.
pub fn paginated() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| {
        let dir = temp_dir("dum-test-registry-").keep();
        Registry::launch(Kind::Anon, dir, true, Some(PAGE_SIZE))
    })
}

/// Largest `tags/list` page of [`paginated`].
pub const PAGE_SIZE: usize = 100;

/// The shared registry of each kind, for tests that loop over all of them.
pub fn all_shared() -> [&'static Registry; 4] {
    [anon(), basic(), token(), token_anon_pull()]
}

impl Registry {
    /// Starts a private registry of `kind`, killed (with its token server) and
    /// deleted on drop.
    pub fn start(kind: Kind) -> Registry {
        let dir = temp_dir("dum-test-registry-");
        let path = dir.path().to_path_buf();
        let mut registry = Registry::launch(kind, path, false, None);
        registry._owned_dir = Some(dir);
        registry
    }

    /// Like [`Registry::start`], behind the paginating proxy: `tags/list` pages hold at
    /// most `page_size` tags. [`Registry::host`] is the proxy's.
    pub fn start_paginated(kind: Kind, page_size: usize) -> Registry {
        let dir = temp_dir("dum-test-registry-");
        let path = dir.path().to_path_buf();
        let mut registry = Registry::launch(kind, path, false, Some(page_size));
        registry._owned_dir = Some(dir);
        registry
    }

    fn start_shared(kind: Kind) -> Registry {
        // Never dropped: the watchdog deletes the directory once the process is gone.
        let dir = temp_dir("dum-test-registry-").keep();
        Registry::launch(kind, dir, true, None)
    }

    fn launch(kind: Kind, dir: PathBuf, shared: bool, page_size: Option<usize>) -> Registry {
        docker_ready();
        let cleanup = shared.then_some(dir.as_path());
        let token_server = kind
            .is_token()
            .then(|| start_token_server(kind, &dir, cleanup));
        let auth = match (&token_server, kind) {
            (Some(ts), _) => format!(
                "auth:\n  token:\n    realm: {}\n    service: {TOKEN_SERVICE}\n    issuer: dum-test-issuer\n    rootcertbundle: {}\n",
                ts.realm,
                dir.join("token/cert.pem").display()
            ),
            (None, Kind::Basic) => {
                let line = run(Command::new("htpasswd").args(["-Bbn", USER, PASSWORD]));
                fs::write(dir.join("htpasswd"), format!("{line}\n")).unwrap();
                format!(
                    "auth:\n  htpasswd:\n    realm: dum-test-basic\n    path: {}\n",
                    dir.join("htpasswd").display()
                )
            }
            (None, _) => String::new(),
        };
        let log = dir.join("registry.log");
        let docker_config = dir.join("docker-config");
        fs::create_dir_all(&docker_config).unwrap();
        let mut last_log = String::new();
        for _attempt in 0..3 {
            let port = free_port();
            let host = format!("127.0.0.1:{port}");
            let config = dir.join("config.yml");
            fs::write(
                &config,
                format!(
                    "version: 0.1\nlog:\n  level: info\n  formatter: json\n  fields:\n    service: registry\n\
                     storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  maintenance:\n    uploadpurging:\n      enabled: false\n\
                     http:\n  addr: {host}\n  secret: dum-test-secret-{port}\n{auth}",
                    dir.join("storage").display()
                ),
            )
            .unwrap();
            let mut cmd = Command::new("docker-registry");
            cmd.arg("serve").arg(&config);
            let mut process = Watched::spawn(cmd, &log, cleanup);
            if wait_until_up(&host, &mut process) {
                let upstream = host.clone();
                let (host, proxy) = match page_size {
                    Some(size) => {
                        let (host, proxy) = start_proxy(&upstream, size, &dir, cleanup);
                        (host, Some(proxy))
                    }
                    None => (upstream.clone(), None),
                };
                let registry = Registry {
                    kind,
                    host,
                    dir,
                    log,
                    docker_config,
                    token_server,
                    tokens: Mutex::new(HashMap::new()),
                    upstream,
                    _proxy: proxy,
                    _process: process,
                    _owned_dir: None,
                };
                if kind.needs_login() {
                    registry.docker_login(&registry.docker_config);
                }
                return registry;
            }
            last_log = fs::read_to_string(&log).unwrap_or_default();
        }
        panic!(
            "docker-registry ({kind:?}) did not come up on 127.0.0.1 after 3 attempts; log {}:\n{last_log}",
            log.display()
        );
    }

    /// How this registry authenticates.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// `127.0.0.1:PORT`, the registry part of image references.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The registry's own `127.0.0.1:PORT`; differs from [`Registry::host`] only
    /// behind the paginating proxy.
    pub fn upstream_host(&self) -> &str {
        &self.upstream
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.host)
    }

    /// `Some((user, password))` for registries that need a login.
    pub fn credentials(&self) -> Option<(&'static str, &'static str)> {
        self.kind.needs_login().then_some((USER, PASSWORD))
    }

    /// Directory holding config, storage, logs and token-server files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The registry's log: JSON lines from distribution plus one combined-format
    /// access-log line per request (parsed by [`Registry::requests`]).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// A DOCKER_CONFIG dir already logged in to this registry (the harness pushes with
    /// it). Tests should use their own, see [`Registry::docker_login`].
    pub fn harness_docker_config(&self) -> &Path {
        &self.docker_config
    }

    /// Every request the registry has answered so far, fixture traffic included.
    pub fn requests(&self) -> Vec<Request> {
        let text = fs::read_to_string(&self.log)
            .unwrap_or_else(|e| panic!("cannot read registry log {}: {e}", self.log.display()));
        text.lines().filter_map(parse_access_line).collect()
    }

    /// Requests with `method` whose URI contains `path_substring`, made by anything
    /// but the harness and the Docker engine (i.e. by dum).
    pub fn count_requests(&self, method: &str, path_substring: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| !r.is_fixture_traffic())
            .filter(|r| r.method == method && r.uri.contains(path_substring))
            .count()
    }

    /// GET and HEAD requests for manifests of `repo` (any reference) made by dum.
    pub fn manifest_requests(&self, repo: &str) -> usize {
        let path = format!("/v2/{repo}/manifests/");
        self.count_requests("GET", &path) + self.count_requests("HEAD", &path)
    }

    /// The token endpoint (`realm`) for token registries.
    pub fn token_realm(&self) -> Option<&str> {
        self.token_server.as_ref().map(|t| t.realm.as_str())
    }

    /// JSON-lines log of the token server: one object per request with `method`,
    /// `service`, `scopes`, `account`, `user`, `status`, `granted`, `user_agent`.
    pub fn token_log_path(&self) -> Option<&Path> {
        self.token_server.as_ref().map(|t| t.log.as_path())
    }

    /// Token requests made by anything but the harness and the Docker engine.
    pub fn token_requests(&self) -> Vec<serde_json::Value> {
        let Some(path) = self.token_log_path() else {
            return Vec::new();
        };
        let text = fs::read_to_string(path).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| !is_fixture_agent(v["user_agent"].as_str().unwrap_or("")))
            .collect()
    }

    /// Number of token requests by dum whose scopes include `scope` exactly, e.g.
    /// `repository:abc/app:pull`.
    pub fn count_token_requests(&self, scope: &str) -> usize {
        self.token_requests()
            .iter()
            .filter(|v| {
                v["scopes"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|x| x.as_str() == Some(scope)))
            })
            .count()
    }

    /// `docker --config DIR login` to this registry (no-op for [`Kind::Anon`]), so a
    /// test gets its own credentials file without touching `~/.docker`.
    pub fn docker_login(&self, docker_config_dir: &Path) {
        let Some((user, password)) = self.credentials() else {
            return;
        };
        fs::create_dir_all(docker_config_dir).unwrap();
        let mut child = Command::new("docker")
            .arg("--config")
            .arg(docker_config_dir)
            .args(["login", "-u", user, "--password-stdin", &self.host])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run docker login: {e}"));
        child
            .stdin
            .take()
            .unwrap()
            .write_all(password.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "docker login {} ({:?}) failed: {}{}",
            self.host,
            self.kind,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A token from this registry's token server for `scope` (e.g.
    /// `repository:x/app:pull,push`), fetched with the credentials when
    /// `authenticated`, anonymously otherwise. Panics for non-token registries.
    pub fn fetch_token(&self, scope: &str, authenticated: bool) -> String {
        let realm = self
            .token_realm()
            .unwrap_or_else(|| panic!("{:?} registry has no token server", self.kind));
        let url = format!("{realm}?service={TOKEN_SERVICE}&scope={scope}");
        let auth = http::basic_auth(USER, PASSWORD);
        let headers: Vec<(&str, &str)> = if authenticated {
            vec![("Authorization", auth.as_str())]
        } else {
            vec![]
        };
        let reply = http::get(&url, &headers);
        reply.assert_status(200);
        reply.json()["token"]
            .as_str()
            .unwrap_or_else(|| panic!("token server answered without a token: {}", reply.text()))
            .to_string()
    }

    /// `Authorization` header value with full (pull, push, delete) access to `repo`,
    /// or `None` for anonymous registries. Tokens are cached per repository.
    pub fn authorization(&self, repo: &str) -> Option<String> {
        match self.kind {
            Kind::Anon => None,
            Kind::Basic => Some(http::basic_auth(USER, PASSWORD)),
            Kind::Token | Kind::TokenAnonPull => {
                let mut tokens = self.tokens.lock().unwrap();
                let token = tokens.entry(repo.to_string()).or_insert_with(|| {
                    self.fetch_token(&format!("repository:{repo}:pull,push,delete"), true)
                });
                Some(format!("Bearer {token}"))
            }
        }
    }

    /// An authenticated request to `/v2/{repo}/{rest}` (full access), for fixtures and
    /// assertions that bypass dum.
    pub fn api(
        &self,
        method: &str,
        repo: &str,
        rest: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Reply {
        let url = format!("{}/v2/{repo}/{rest}", self.url());
        let auth = self.authorization(repo);
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if let Some(auth) = &auth {
            all.push(("Authorization", auth));
        }
        http::request(method, &url, &all, body)
    }

    /// Tags of `repo` as the registry lists them (unsorted, no pagination in 2.8).
    pub fn tags(&self, repo: &str) -> Vec<String> {
        let reply = self.api("GET", repo, "tags/list", &[], None);
        reply.assert_status(200);
        reply.json()["tags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Digest of the manifest `reference` (tag or digest) of `repo`, as the registry
    /// reports it for a HEAD accepting every manifest type.
    pub fn manifest_digest(&self, repo: &str, reference: &str) -> String {
        let reply = self.api(
            "HEAD",
            repo,
            &format!("manifests/{reference}"),
            &[("Accept", http::MANIFEST_ACCEPT)],
            None,
        );
        reply.assert_status(200);
        reply
            .header("docker-content-digest")
            .unwrap_or_else(|| panic!("no Docker-Content-Digest for {repo}:{reference}"))
            .to_string()
    }

    /// The manifest `reference` of `repo`: (content type, raw bytes).
    pub fn manifest(&self, repo: &str, reference: &str) -> (String, Vec<u8>) {
        let reply = self.api(
            "GET",
            repo,
            &format!("manifests/{reference}"),
            &[("Accept", http::MANIFEST_ACCEPT)],
            None,
        );
        reply.assert_status(200);
        let media_type = reply
            .header("content-type")
            .unwrap_or(http::DOCKER_MANIFEST)
            .to_string();
        (media_type, reply.body)
    }

    /// PUTs `body` as manifest `reference` of `repo`; returns its digest.
    pub fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> String {
        let reply = self.api(
            "PUT",
            repo,
            &format!("manifests/{reference}"),
            &[("Content-Type", media_type)],
            Some(body),
        );
        assert_eq!(
            reply.status,
            201,
            "PUT manifest {repo}:{reference} ({media_type}) failed: {}",
            reply.text()
        );
        reply
            .header("docker-content-digest")
            .map(String::from)
            .unwrap_or_else(|| http::sha256_digest(body))
    }

    /// Uploads `bytes` as a blob of `repo` (monolithic POST + PUT); returns its digest.
    pub fn put_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = http::sha256_digest(bytes);
        let start = self.api("POST", repo, "blobs/uploads/", &[], Some(&[]));
        assert_eq!(
            start.status,
            202,
            "blob upload start failed: {}",
            start.text()
        );
        let location = start.header("location").unwrap().to_string();
        let sep = if location.contains('?') { '&' } else { '?' };
        let url = if location.starts_with("http") {
            format!("{location}{sep}digest={digest}")
        } else {
            format!("{}{location}{sep}digest={digest}", self.url())
        };
        let auth = self.authorization(repo);
        let mut headers = vec![("Content-Type", "application/octet-stream")];
        if let Some(auth) = &auth {
            headers.push(("Authorization", auth));
        }
        let done = http::request("PUT", &url, &headers, Some(bytes));
        assert_eq!(
            done.status,
            201,
            "blob upload of {digest} failed: {}",
            done.text()
        );
        digest
    }

    /// Deletes manifest `digest` of `repo` (and with it every tag pointing at it).
    pub fn delete_manifest(&self, repo: &str, digest: &str) {
        let reply = self.api("DELETE", repo, &format!("manifests/{digest}"), &[], None);
        assert_eq!(
            reply.status,
            202,
            "DELETE {repo}@{digest} failed: {}",
            reply.text()
        );
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("kind", &self.kind)
            .field("host", &self.host)
            .field("dir", &self.dir)
            .finish()
    }
}

fn start_token_server(kind: Kind, dir: &Path, cleanup: Option<&Path>) -> TokenServer {
    let token_dir = dir.join("token");
    fs::create_dir_all(&token_dir).unwrap();
    let port_file = token_dir.join("port");
    let log = token_dir.join("requests.jsonl");
    fs::write(&log, "").unwrap();
    let mut cmd = Command::new("python3");
    cmd.arg(super::fixture("token_server.py"))
        .arg("--dir")
        .arg(&token_dir)
        .arg("--port-file")
        .arg(&port_file)
        .arg("--log")
        .arg(&log);
    if kind == Kind::TokenAnonPull {
        cmd.arg("--anon-pull");
    }
    let server_log = token_dir.join("server.log");
    let mut process = Watched::spawn(cmd, &server_log, cleanup);
    let port = wait_for_port_file(&port_file, &mut process, &server_log);
    TokenServer {
        realm: format!("http://127.0.0.1:{port}/token"),
        log,
        _process: process,
    }
}

/// Starts the paginating proxy in front of `upstream`; returns its host and process.
fn start_proxy(
    upstream: &str,
    page_size: usize,
    dir: &Path,
    cleanup: Option<&Path>,
) -> (String, Watched) {
    let port_file = dir.join("proxy.port");
    let log = dir.join("proxy.log");
    let mut cmd = Command::new("python3");
    cmd.arg(super::fixture("paginating_proxy.py"))
        .arg("--upstream")
        .arg(upstream)
        .arg("--page-size")
        .arg(page_size.to_string())
        .arg("--port-file")
        .arg(&port_file);
    let mut process = Watched::spawn(cmd, &log, cleanup);
    let port = wait_for_port_file(&port_file, &mut process, &log);
    let host = format!("127.0.0.1:{port}");
    assert!(
        wait_until_up(&host, &mut process),
        "paginating proxy for {upstream} did not answer /v2/; log {}:\n{}",
        log.display(),
        fs::read_to_string(&log).unwrap_or_default()
    );
    (host, process)
}

/// Waits for a helper to write its listening port into `port_file`; panics with the
/// helper's log when it dies or takes over 30 s.
pub fn wait_for_port_file(port_file: &Path, process: &mut Watched, log: &Path) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(port) = fs::read_to_string(port_file)
            .ok()
            .and_then(|p| p.trim().parse().ok())
        {
            return port;
        }
        let failed = process.exited();
        if failed.is_some() || Instant::now() > deadline {
            panic!(
                "helper did not start ({failed:?}); log {}:\n{}",
                log.display(),
                fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("cannot find a free loopback port: {e}"))
}

/// True once `GET /v2/` answers (200 or 401); false if the process died or 30 s
/// passed.
fn wait_until_up(host: &str, process: &mut Watched) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if process.exited().is_some() {
            return false;
        }
        if std::net::TcpStream::connect(host).is_ok() {
            let reply = http::get(&format!("http://{host}/v2/"), &[]);
            if reply.status == 200 || reply.status == 401 {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Parses `IP - - [date] "METHOD URI PROTO" STATUS SIZE "REFERER" "UA"`.
fn parse_access_line(line: &str) -> Option<Request> {
    if line.starts_with('{') {
        return None;
    }
    let (_, rest) = line.split_once(" \"")?;
    let (request_line, rest) = rest.split_once("\" ")?;
    let mut parts = request_line.split(' ');
    let method = parts.next()?.to_string();
    let uri = parts.next()?.to_string();
    let status = rest.split(' ').next()?.parse().ok()?;
    let user_agent = rest
        .rsplit_once(" \"")
        .map(|(_, ua)| ua.trim_end_matches('"').to_string())
        .unwrap_or_default();
    Some(Request {
        method,
        uri,
        status,
        user_agent,
    })
}

/// Expected (method, uri, status, user agent) of a parsed access-log line.
type Parsed = Option<(&'static str, &'static str, u16, &'static str)>;

#[test]
fn access_lines_parse() {
    const CASES: &[(&str, Parsed)] = &[
        (
            r#"127.0.0.1 - - [27/Nov/2026:13:40:19 +0000] "GET /v2/ HTTP/1.1" 200 2 "" "myua""#,
            Some(("GET", "/v2/", 200, "myua")),
        ),
        (
            r#"127.0.0.1 - - [27/Nov/2026:13:40:41 +0000] "HEAD /v2/foo/manifests/1 HTTP/1.1" 401 146 "" "docker/20.10.24 UpstreamClient(Docker-Client/28.2.2 \\(linux\\))""#,
            Some((
                "HEAD",
                "/v2/foo/manifests/1",
                401,
                r"docker/20.10.24 UpstreamClient(Docker-Client/28.2.2 \\(linux\\))",
            )),
        ),
        (r#"{"level":"info","msg":"response completed"}"#, None),
    ];
    for (line, want) in CASES {
        let got = parse_access_line(line);
        let want = want.map(|(m, u, s, a)| Request {
            method: m.into(),
            uri: u.into(),
            status: s,
            user_agent: a.into(),
        });
        assert_eq!(got, want, "case {line}");
    }
}
