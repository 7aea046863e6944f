//! Registry credentials exactly as `docker login` stored them: Docker's client config
//! (`config.json`) and the `docker-credential-*` helper programs it points to.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use serde::Deserialize;

/// Username Docker uses to mark a secret as an identity (OAuth2 refresh) token.
const TOKEN_USERNAME: &str = "<token>";

/// Server URL Docker stores Docker Hub credentials under, kept for compatibility with `docker login`.
const DOCKER_HUB_SERVER: &str = "https://index.docker.io/v1/";

/// Hosts that all mean Docker Hub once normalised.
const DOCKER_HUB_HOSTS: &[&str] = &["index.docker.io", "docker.io", "registry-1.docker.io"];

/// What every credential helper prints when it has nothing for the server.
const NOT_FOUND_MESSAGE: &str = "credentials not found in native keychain";

/// Helper output beyond this is not credentials; the cap keeps a runaway helper from eating memory.
const HELPER_OUTPUT_LIMIT: u64 = 1 << 20;

/// Credentials for one registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// Username and password, sent as HTTP Basic or exchanged for a bearer token.
    Basic {
        /// Account name.
        username: String,
        /// Password or personal access token.
        password: String,
    },
    /// An OAuth2 refresh token (`identitytoken`, or a helper answering with username
    /// `<token>`): exchanged at the token realm with `grant_type=refresh_token`, never sent as
    /// Basic credentials.
    IdentityToken(String),
}

impl Credentials {
    /// Username to show in messages; `<token>` for identity tokens, as Docker does.
    pub fn username(&self) -> &str {
        match self {
            Credentials::Basic { username, .. } => username,
            Credentials::IdentityToken(_) => TOKEN_USERNAME,
        }
    }
}

/// Hand-written so secrets never reach logs or error messages through `{:?}`.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Credentials {{ username: {:?}, secret: <redacted> }}",
            self.username()
        )
    }
}

/// Docker's client configuration (`config.json`), the parts that locate credentials.
#[derive(Debug, Clone, Default)]
pub struct DockerConfig {
    path: PathBuf,
    auths: BTreeMap<String, AuthEntry>,
    creds_store: Option<String>,
    cred_helpers: BTreeMap<String, String>,
}

/// The file as Docker writes it; everything dum does not need is ignored.
#[derive(Deserialize, Default)]
struct ConfigFile {
    #[serde(default)]
    auths: Option<BTreeMap<String, AuthEntry>>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: Option<BTreeMap<String, String>>,
}

/// One `auths` entry. With a credential store it is an empty placeholder.
#[derive(Deserialize, Clone, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

/// Hand-written so `auths` secrets stay out of `{:?}` of the config.
impl fmt::Debug for AuthEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthEntry { <redacted> }")
    }
}

/// What a credential helper prints for `get`.
#[derive(Deserialize)]
struct HelperReply {
    #[serde(default, rename = "Username")]
    username: Option<String>,
    #[serde(default, rename = "Secret")]
    secret: Option<String>,
}

/// Where a credential helper was configured, to tell the user what to change.
#[derive(Clone, Copy)]
enum HelperSource<'a> {
    Store,
    PerHost(&'a str),
}

impl DockerConfig {
    /// Where Docker keeps its client config: `$DOCKER_CONFIG/config.json`, else
    /// `$HOME/.docker/config.json`. The environment is passed in so callers (and tests) decide
    /// where it comes from.
    pub fn default_path(docker_config: Option<&OsStr>, home: Option<&OsStr>) -> Option<PathBuf> {
        if let Some(dir) = docker_config.filter(|d| !d.is_empty()) {
            return Some(Path::new(dir).join("config.json"));
        }
        home.filter(|h| !h.is_empty())
            .map(|home| Path::new(home).join(".docker").join("config.json"))
    }

    /// Loads the config; a missing file means no credentials (anonymous pulls), not an error.
    pub fn load(path: &Path) -> anyhow::Result<DockerConfig> {
        match std::fs::read_to_string(path) {
            Ok(text) => DockerConfig::from_json(&text, path),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(DockerConfig {
                path: path.to_owned(),
                ..DockerConfig::default()
            }),
            Err(e) => {
                Err(e).with_context(|| format!("cannot read Docker config {}", path.display()))
            }
        }
    }

    /// Parses config text read from `origin` (named in errors). Empty text is an empty config,
    /// as for Docker.
    pub fn from_json(text: &str, origin: &Path) -> anyhow::Result<DockerConfig> {
        let file: ConfigFile = if text.trim().is_empty() {
            ConfigFile::default()
        } else {
            serde_json::from_str(text)
                .with_context(|| format!("Docker config {} is not valid JSON", origin.display()))?
        };
        Ok(DockerConfig {
            path: origin.to_owned(),
            auths: file.auths.unwrap_or_default(),
            creds_store: file.creds_store.filter(|s| !s.is_empty()),
            cred_helpers: file.cred_helpers.unwrap_or_default(),
        })
    }

    /// Credentials for the registry known under `keys` (most specific first, as
    /// `Reference::credential_keys()` gives them).
    ///
    /// Sources are tried as Docker does, `credHelpers` for the host, then `credsStore`, then
    /// inline `auths`; a source without credentials falls through to the next. Keys compare
    /// after normalisation, so `https://myreg:5000/v1/` in the file matches `myreg:5000`.
    pub fn credentials_for(
        &self,
        keys: &[String],
        helper_timeout: Duration,
    ) -> anyhow::Result<Option<Credentials>> {
        self.credentials_with(keys, helper_timeout, &helper_program)
    }

    /// `credentials_for` with helper lookup injected, so tests need not touch `PATH`.
    fn credentials_with(
        &self,
        keys: &[String],
        helper_timeout: Duration,
        find_helper: &dyn Fn(&str) -> Option<PathBuf>,
    ) -> anyhow::Result<Option<Credentials>> {
        if keys.is_empty() {
            return Ok(None);
        }
        let canonical_server = canonical_server_url(keys);
        if let Some((stored_key, helper)) = find_by_keys(&self.cred_helpers, keys) {
            let helper = helper.as_str();
            if !helper.is_empty() {
                let source = HelperSource::PerHost(stored_key);
                let found = self.ask_helper(
                    helper,
                    source,
                    &canonical_server,
                    helper_timeout,
                    find_helper,
                )?;
                if found.is_some() {
                    return Ok(found);
                }
            }
        }
        if let Some(helper) = &self.creds_store {
            // `docker login` leaves an empty `auths` entry under the exact server address it
            // stored in the helper; asking with that address finds what was stored.
            let server = find_by_keys(&self.auths, keys)
                .map(|(stored_key, _)| stored_key.clone())
                .unwrap_or(canonical_server);
            let found = self.ask_helper(
                helper,
                HelperSource::Store,
                &server,
                helper_timeout,
                find_helper,
            )?;
            if found.is_some() {
                return Ok(found);
            }
        }
        for (stored_key, entry) in candidates(&self.auths, keys) {
            if let Some(credentials) = self.entry_credentials(stored_key, entry)? {
                return Ok(Some(credentials));
            }
        }
        Ok(None)
    }

    fn ask_helper(
        &self,
        helper: &str,
        source: HelperSource<'_>,
        server_url: &str,
        timeout: Duration,
        find_helper: &dyn Fn(&str) -> Option<PathBuf>,
    ) -> anyhow::Result<Option<Credentials>> {
        let Some(program) = find_helper(helper) else {
            let setting = match source {
                HelperSource::Store => "credsStore".to_owned(),
                HelperSource::PerHost(host) => format!("credHelpers[\"{host}\"]"),
            };
            bail!(
                "docker-credential-{helper} not found in PATH: install it or remove {setting} from {}",
                self.path.display()
            );
        };
        log::debug!("asking docker-credential-{helper} for credentials for {server_url}");
        run_helper_at(&program, helper, server_url, timeout)
    }

    /// Reads an inline `auths` entry; an empty placeholder yields `None`.
    fn entry_credentials(
        &self,
        stored_key: &str,
        entry: &AuthEntry,
    ) -> anyhow::Result<Option<Credentials>> {
        if let Some(token) = entry.identitytoken.as_deref().filter(|t| !t.is_empty()) {
            return Ok(Some(Credentials::IdentityToken(token.to_owned())));
        }
        if let Some(auth) = entry
            .auth
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty())
        {
            return decode_auth(auth).map(Some).with_context(|| {
                format!(
                    "auths[\"{stored_key}\"].auth in {} is not base64 of user:password: run docker login again",
                    self.path.display()
                )
            });
        }
        match (entry.username.as_deref(), entry.password.as_deref()) {
            (Some(username), Some(password)) if !username.is_empty() && !password.is_empty() => {
                Ok(Some(Credentials::Basic {
                    username: username.to_owned(),
                    password: password.to_owned(),
                }))
            }
            _ => Ok(None),
        }
    }
}

/// Decodes `auth`: base64 of `user:password`, where only the first ':' separates (passwords may
/// contain ':'). The error never includes the value.
fn decode_auth(auth: &str) -> anyhow::Result<Credentials> {
    // Some tools write the base64 without padding; Docker's files have it. Accept both.
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let bytes = LENIENT
        .decode(auth)
        .map_err(|_| anyhow::anyhow!("invalid base64"))?;
    let text = String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("not UTF-8"))?;
    match text.split_once(':') {
        Some((username, password)) if !username.is_empty() => Ok(Credentials::Basic {
            username: username.to_owned(),
            password: password.to_owned(),
        }),
        _ => bail!("no user:password pair"),
    }
}

/// Brings a config key to a bare lowercase host, as Docker's `ConvertToHostname` does.
fn normalize_key(key: &str) -> String {
    let key = key.trim();
    let lower = key.to_ascii_lowercase();
    let without_scheme = ["https://", "http://"]
        .iter()
        .find_map(|scheme| lower.strip_prefix(scheme))
        .unwrap_or(&lower);
    without_scheme
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Server URL to hand a credential helper: Docker Hub's legacy URL, else the host.
fn canonical_server_url(keys: &[String]) -> String {
    let is_hub = keys
        .iter()
        .any(|key| DOCKER_HUB_HOSTS.contains(&normalize_key(key).as_str()));
    if is_hub {
        return DOCKER_HUB_SERVER.to_owned();
    }
    keys.first()
        .map(|key| normalize_key(key))
        .unwrap_or_default()
}

/// Entries of `map` matching `keys`, best first: per key, an exact match before normalised ones.
fn candidates<'m, V>(map: &'m BTreeMap<String, V>, keys: &[String]) -> Vec<(&'m String, &'m V)> {
    let mut found: Vec<(&String, &V)> = Vec::new();
    for key in keys {
        let wanted = normalize_key(key);
        let exact = map.get_key_value(key.as_str());
        let normalised = map
            .iter()
            .filter(|(stored, _)| normalize_key(stored) == wanted);
        for (stored, value) in exact.into_iter().chain(normalised) {
            if !found.iter().any(|(seen, _)| *seen == stored) {
                found.push((stored, value));
            }
        }
    }
    found
}

/// The best entry of `map` matching `keys`.
fn find_by_keys<'m, V>(
    map: &'m BTreeMap<String, V>,
    keys: &[String],
) -> Option<(&'m String, &'m V)> {
    candidates(map, keys).into_iter().next()
}

/// Absolute path of `docker-credential-<helper>` found in `PATH`, or `None`. Names that could
/// escape the `docker-credential-` prefix (slashes, `..`) are refused.
pub fn helper_program(helper: &str) -> Option<PathBuf> {
    find_helper_in(helper, std::env::var_os("PATH").as_deref())
}

/// `helper_program` against an explicit `PATH` value.
fn find_helper_in(helper: &str, path_var: Option<&OsStr>) -> Option<PathBuf> {
    let valid = !helper.is_empty()
        && helper
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !helper.starts_with('.');
    if !valid {
        return None;
    }
    let name: OsString = format!("docker-credential-{helper}").into();
    std::env::split_paths(path_var?)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(&name))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// Runs `docker-credential-<helper> get` for `server_url` (the program already located),
/// giving up (and killing it) after `timeout` so a helper waiting on a locked keyring
/// cannot hang a cron run. `Ok(None)` when the helper has nothing for the server. The
/// secret never appears in errors.
fn run_helper_at(
    program: &Path,
    helper: &str,
    server_url: &str,
    timeout: Duration,
) -> anyhow::Result<Option<Credentials>> {
    let name = format!("docker-credential-{helper}");
    let deadline = Instant::now() + timeout;
    let mut child = spawn_helper(program)
        .with_context(|| format!("cannot run {name} ({}) for {server_url}", program.display()))?;
    let stdout = read_in_background(child.stdout.take());
    let stderr = read_in_background(child.stderr.take());
    if let Some(mut stdin) = child.stdin.take() {
        // A helper may exit without reading stdin; its answer still counts, so a failed write
        // is not an error.
        if let Err(e) = stdin.write_all(server_url.as_bytes()) {
            log::debug!("writing server URL to {name}: {e}");
        }
    }
    let status = wait_until(&mut child, deadline).with_context(|| format!("waiting for {name}"))?;
    let Some(status) = status else {
        bail!(
            "{name} get gave no answer for {server_url} within {:.1}s and was stopped: unlock the credential store or raise the helper timeout",
            timeout.as_secs_f64()
        );
    };
    let late = || {
        anyhow::anyhow!(
            "{name} get for {server_url} exited but kept its output open past the timeout"
        )
    };
    let out = receive_until(&stdout, deadline).ok_or_else(late)?;
    let err = receive_until(&stderr, deadline).ok_or_else(late)?;
    interpret_reply(&name, server_url, status, &out, &err)
}

/// Spawns the helper, retrying briefly on ETXTBSY: a helper script written moments ago can
/// still be open for writing in a forked process of this one.
fn spawn_helper(program: &Path) -> std::io::Result<Child> {
    let mut attempts = 0;
    loop {
        let spawned = Command::new(program)
            .arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        match spawned {
            Err(e) if e.kind() == ErrorKind::ExecutableFileBusy && attempts < 5 => {
                attempts += 1;
                thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// Reads a pipe to its end on a thread, so a full stderr pipe cannot block the helper while we
/// wait for it.
fn read_in_background<R: Read + Send + 'static>(pipe: Option<R>) -> mpsc::Receiver<Vec<u8>> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let mut buffer = Vec::new();
        if let Some(pipe) = pipe {
            // A read error leaves what was read so far, judged like any other reply.
            let _ = pipe.take(HELPER_OUTPUT_LIMIT).read_to_end(&mut buffer);
        }
        let _ = sender.send(buffer);
    });
    receiver
}

/// Waits for the child until `deadline`; on timeout kills it and returns `None`.
fn wait_until(child: &mut Child, deadline: Instant) -> std::io::Result<Option<ExitStatus>> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Output collected by a reader thread, waiting at most until `deadline` (with a short grace
/// for a helper that exited right at it).
fn receive_until(receiver: &mpsc::Receiver<Vec<u8>>, deadline: Instant) -> Option<Vec<u8>> {
    let wait = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(200));
    receiver.recv_timeout(wait).ok()
}

/// Turns a finished helper's output into credentials.
fn interpret_reply(
    name: &str,
    server_url: &str,
    status: ExitStatus,
    stdout: &[u8],
    stderr: &[u8],
) -> anyhow::Result<Option<Credentials>> {
    let out = String::from_utf8_lossy(stdout);
    let err = String::from_utf8_lossy(stderr);
    if out.contains(NOT_FOUND_MESSAGE) || err.contains(NOT_FOUND_MESSAGE) {
        return Ok(None);
    }
    if !status.success() {
        // Helpers report errors as plain text; a line that looks like JSON might carry a
        // secret, so it is never quoted.
        let detail = err
            .lines()
            .chain(out.lines())
            .map(str::trim)
            .find(|line| !line.is_empty() && !line.starts_with('{'))
            .map(|line| format!(": {}", line.chars().take(200).collect::<String>()))
            .unwrap_or_default();
        bail!("{name} get failed for {server_url} ({status}){detail}");
    }
    if out.trim().is_empty() {
        return Ok(None);
    }
    let reply: HelperReply = serde_json::from_str(out.trim()).map_err(|_| {
        anyhow::anyhow!("{name} get printed something other than credentials JSON for {server_url}")
    })?;
    let secret = reply.secret.unwrap_or_default();
    if secret.is_empty() {
        return Ok(None);
    }
    let username = reply.username.unwrap_or_default();
    if username == TOKEN_USERNAME {
        return Ok(Some(Credentials::IdentityToken(secret)));
    }
    Ok(Some(Credentials::Basic {
        username,
        password: secret,
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn basic(username: &str, password: &str) -> Credentials {
        Credentials::Basic {
            username: username.to_owned(),
            password: password.to_owned(),
        }
    }

    fn keys(list: &[&str]) -> Vec<String> {
        list.iter().map(|k| (*k).to_owned()).collect()
    }

    fn hub_keys() -> Vec<String> {
        keys(&[
            "https://index.docker.io/v1/",
            "index.docker.io",
            "docker.io",
            "registry-1.docker.io",
        ])
    }

    fn myreg_keys() -> Vec<String> {
        keys(&["myreg:5000", "https://myreg:5000", "http://myreg:5000"])
    }

    fn b64(text: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    fn no_helpers(_: &str) -> Option<PathBuf> {
        None
    }

    #[test]
    fn default_paths() {
        /// (case, $DOCKER_CONFIG, $HOME, expected path)
        type Case<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>);
        let cases: &[Case] = &[
            (
                "DOCKER_CONFIG wins",
                Some("/etc/dc"),
                Some("/home/u"),
                Some("/etc/dc/config.json"),
            ),
            (
                "HOME fallback",
                None,
                Some("/home/u"),
                Some("/home/u/.docker/config.json"),
            ),
            (
                "empty DOCKER_CONFIG ignored",
                Some(""),
                Some("/home/u"),
                Some("/home/u/.docker/config.json"),
            ),
            ("nothing", None, None, None),
            ("empty HOME", None, Some(""), None),
        ];
        for (name, docker_config, home, expected) in cases {
            let got =
                DockerConfig::default_path(docker_config.map(OsStr::new), home.map(OsStr::new));
            assert_eq!(got, expected.map(PathBuf::from), "case {name}");
        }
    }

    #[test]
    fn inline_auths() {
        let user_pass = b64("alice:s3cret");
        let colon_pass = b64("bob:pa:ss:word");
        let unpadded = b64("carol:x").trim_end_matches('=').to_owned();
        let cases: Vec<(&str, String, Vec<String>, Option<Credentials>)> = vec![
            (
                "hub legacy key",
                format!(
                    r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{user_pass}"}}}}}}"#
                ),
                hub_keys(),
                Some(basic("alice", "s3cret")),
            ),
            (
                "hub stored as docker.io",
                format!(r#"{{"auths":{{"docker.io":{{"auth":"{user_pass}"}}}}}}"#),
                hub_keys(),
                Some(basic("alice", "s3cret")),
            ),
            (
                "scheme and /v1/ path normalised",
                format!(r#"{{"auths":{{"https://MyReg:5000/v1/":{{"auth":"{user_pass}"}}}}}}"#),
                myreg_keys(),
                Some(basic("alice", "s3cret")),
            ),
            (
                "password with colons",
                format!(r#"{{"auths":{{"myreg:5000":{{"auth":"{colon_pass}"}}}}}}"#),
                myreg_keys(),
                Some(basic("bob", "pa:ss:word")),
            ),
            (
                "unpadded base64",
                format!(r#"{{"auths":{{"myreg:5000":{{"auth":"{unpadded}"}}}}}}"#),
                myreg_keys(),
                Some(basic("carol", "x")),
            ),
            (
                "username and password fields",
                r#"{"auths":{"myreg:5000":{"username":"dave","password":"pw"}}}"#.to_owned(),
                myreg_keys(),
                Some(basic("dave", "pw")),
            ),
            (
                "identity token wins over auth",
                format!(
                    r#"{{"auths":{{"myreg:5000":{{"auth":"{user_pass}","identitytoken":"refresh-me"}}}}}}"#
                ),
                myreg_keys(),
                Some(Credentials::IdentityToken("refresh-me".to_owned())),
            ),
            (
                "exact key preferred over normalised one",
                format!(
                    r#"{{"auths":{{"http://myreg:5000":{{"auth":"{colon_pass}"}},"myreg:5000":{{"auth":"{user_pass}"}}}}}}"#
                ),
                myreg_keys(),
                Some(basic("alice", "s3cret")),
            ),
            (
                "empty placeholder skipped for a later usable entry",
                format!(
                    r#"{{"auths":{{"myreg:5000":{{}},"https://myreg:5000":{{"auth":"{user_pass}"}}}}}}"#
                ),
                myreg_keys(),
                Some(basic("alice", "s3cret")),
            ),
            (
                "empty auth",
                r#"{"auths":{"myreg:5000":{"auth":""}}}"#.to_owned(),
                myreg_keys(),
                None,
            ),
            (
                "other registry only",
                format!(r#"{{"auths":{{"ghcr.io":{{"auth":"{user_pass}"}}}}}}"#),
                myreg_keys(),
                None,
            ),
            (
                "other port does not match",
                format!(r#"{{"auths":{{"myreg:5001":{{"auth":"{user_pass}"}}}}}}"#),
                myreg_keys(),
                None,
            ),
            ("empty object", "{}".to_owned(), myreg_keys(), None),
            ("empty file", "  \n".to_owned(), myreg_keys(), None),
            (
                "null auths",
                r#"{"auths":null}"#.to_owned(),
                myreg_keys(),
                None,
            ),
            (
                "unrelated settings ignored",
                r#"{"psFormat":"table","proxies":{"default":{}},"currentContext":"x","auths":{}}"#
                    .to_owned(),
                myreg_keys(),
                None,
            ),
            (
                "no keys",
                format!(r#"{{"auths":{{"":{{"auth":"{user_pass}"}}}}}}"#),
                vec![],
                None,
            ),
        ];
        for (name, json, keys, expected) in cases {
            let config = DockerConfig::from_json(&json, Path::new("/cfg/config.json"))
                .unwrap_or_else(|e| panic!("case {name}: {e:#}"));
            let got = config
                .credentials_with(&keys, Duration::from_secs(1), &no_helpers)
                .unwrap_or_else(|e| panic!("case {name}: {e:#}"));
            assert_eq!(got, expected, "case {name}");
        }
    }

    #[test]
    fn config_errors_name_the_file_and_not_the_secret() {
        let cases: &[(&str, String, &str)] = &[
            (
                "invalid json",
                "{not json".to_owned(),
                "Docker config /cfg/config.json is not valid JSON",
            ),
            (
                "auths of wrong type",
                r#"{"auths":[1]}"#.to_owned(),
                "Docker config /cfg/config.json is not valid JSON",
            ),
            (
                "auth not base64",
                r#"{"auths":{"myreg:5000":{"auth":"!!hunter2!!"}}}"#.to_owned(),
                "auths[\"myreg:5000\"].auth in /cfg/config.json is not base64 of user:password",
            ),
            (
                "auth without colon",
                format!(
                    r#"{{"auths":{{"myreg:5000":{{"auth":"{}"}}}}}}"#,
                    b64("hunter2")
                ),
                "auths[\"myreg:5000\"].auth in /cfg/config.json is not base64 of user:password",
            ),
        ];
        for (name, json, expected) in cases {
            let result =
                DockerConfig::from_json(json, Path::new("/cfg/config.json")).and_then(|c| {
                    c.credentials_with(&myreg_keys(), Duration::from_secs(1), &no_helpers)
                });
            let message = format!("{:#}", result.unwrap_err());
            assert!(message.contains(expected), "case {name}: {message}");
            assert!(!message.contains("hunter2"), "case {name} leaks: {message}");
        }
    }

    #[test]
    fn load_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.json");
        let config = DockerConfig::load(&missing).unwrap();
        assert_eq!(config.path, missing);
        assert!(config.auths.is_empty() && config.creds_store.is_none());

        let present = dir.path().join("config.json");
        std::fs::write(&present, r#"{"credsStore":"pass"}"#).unwrap();
        assert_eq!(
            DockerConfig::load(&present).unwrap().creds_store.as_deref(),
            Some("pass")
        );

        let invalid = dir.path().join("bad.json");
        std::fs::write(&invalid, "{").unwrap();
        let message = format!("{:#}", DockerConfig::load(&invalid).unwrap_err());
        assert!(
            message.contains(&invalid.display().to_string()),
            "{message}"
        );

        let message = format!("{:#}", DockerConfig::load(dir.path()).unwrap_err());
        assert!(message.contains("cannot read Docker config"), "{message}");
    }

    #[test]
    fn debug_hides_secrets() {
        let cases: &[(Credentials, &str)] = &[
            (
                basic("x", "hunter2"),
                r#"Credentials { username: "x", secret: <redacted> }"#,
            ),
            (
                Credentials::IdentityToken("hunter2".to_owned()),
                r#"Credentials { username: "<token>", secret: <redacted> }"#,
            ),
        ];
        for (credentials, expected) in cases {
            assert_eq!(format!("{credentials:?}"), *expected);
        }
        let json = format!(r#"{{"auths":{{"r":{{"auth":"{}"}}}}}}"#, b64("u:hunter2"));
        let config = DockerConfig::from_json(&json, Path::new("/c")).unwrap();
        assert!(!format!("{config:?}").contains(&b64("u:hunter2")));
    }

    /// Writes executable fake helpers into a temporary directory.
    struct FakeHelpers {
        dir: tempfile::TempDir,
    }

    impl FakeHelpers {
        fn new() -> Self {
            let helpers = FakeHelpers {
                dir: tempfile::tempdir().unwrap(),
            };
            // Echoes the server URL it was asked for back as the username.
            helpers.write(
                "fake",
                r#"url=$(cat)
printf '{"ServerURL":"%s","Username":"user-for-%s","Secret":"hunter2"}\n' "$url" "$url""#,
            );
            helpers.write(
                "token",
                r#"cat >/dev/null; echo '{"ServerURL":"x","Username":"<token>","Secret":"refresh"}'"#,
            );
            helpers.write("slow", "exec sleep 10");
            helpers.write(
                "notfound",
                "cat >/dev/null; echo 'credentials not found in native keychain'; exit 1",
            );
            helpers.write(
                "broken",
                "echo 'gpg: decryption failed: No secret key' >&2; exit 3",
            );
            helpers.write(
                "jsonfail",
                r#"echo '{"Username":"u","Secret":"hunter2"}'; exit 1"#,
            );
            helpers.write("garbage", "echo 'password=hunter2'");
            helpers.write("empty", "exit 0");
            helpers.write(
                "nosecret",
                r#"echo '{"ServerURL":"x","Username":"","Secret":""}'"#,
            );
            helpers.write("ignores-stdin", r#"echo '{"Username":"u","Secret":"p"}'"#);
            helpers
        }

        fn write(&self, helper: &str, body: &str) {
            use std::os::unix::fs::PermissionsExt;
            let path = self.dir.path().join(format!("docker-credential-{helper}"));
            std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }

        fn find(&self, helper: &str) -> Option<PathBuf> {
            find_helper_in(helper, Some(self.dir.path().as_os_str()))
        }

        fn run(&self, helper: &str, timeout: Duration) -> anyhow::Result<Option<Credentials>> {
            let program = self.find(helper).unwrap();
            run_helper_at(&program, helper, "myreg:5000", timeout)
        }
    }

    #[test]
    fn helpers_for_real() {
        let helpers = FakeHelpers::new();
        let second = Duration::from_secs(5);
        let cases: &[(&str, Option<Credentials>)] = &[
            ("fake", Some(basic("user-for-myreg:5000", "hunter2"))),
            (
                "token",
                Some(Credentials::IdentityToken("refresh".to_owned())),
            ),
            ("notfound", None),
            ("empty", None),
            ("nosecret", None),
            ("ignores-stdin", Some(basic("u", "p"))),
        ];
        for (helper, expected) in cases {
            let got = helpers
                .run(helper, second)
                .unwrap_or_else(|e| panic!("helper {helper}: {e:#}"));
            assert_eq!(got, *expected, "helper {helper}");
        }
        let failures: &[(&str, &str)] = &[
            (
                "broken",
                "docker-credential-broken get failed for myreg:5000 (exit status: 3): gpg: decryption failed: No secret key",
            ),
            (
                "jsonfail",
                "docker-credential-jsonfail get failed for myreg:5000 (exit status: 1)",
            ),
            (
                "garbage",
                "docker-credential-garbage get printed something other than credentials JSON for myreg:5000",
            ),
        ];
        for (helper, expected) in failures {
            let message = format!("{:#}", helpers.run(helper, second).unwrap_err());
            assert_eq!(message, *expected, "helper {helper}");
            assert!(
                !message.contains("hunter2"),
                "helper {helper} leaks: {message}"
            );
        }
    }

    #[test]
    fn slow_helper_is_killed() {
        let helpers = FakeHelpers::new();
        let started = Instant::now();
        let message = format!(
            "{:#}",
            helpers.run("slow", Duration::from_millis(300)).unwrap_err()
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "took {:?}",
            started.elapsed()
        );
        assert!(
            message.starts_with(
                "docker-credential-slow get gave no answer for myreg:5000 within 0.3s"
            ),
            "{message}"
        );
    }

    #[test]
    fn finding_helpers() {
        let helpers = FakeHelpers::new();
        std::fs::write(
            helpers.dir.path().join("docker-credential-noexec"),
            "#!/bin/sh\n",
        )
        .unwrap();
        let cases: &[(&str, bool)] = &[
            ("fake", true),
            ("missing", false),
            ("noexec", false),
            ("../fake", false),
            ("", false),
            (".", false),
        ];
        for (helper, found) in cases {
            assert_eq!(helpers.find(helper).is_some(), *found, "helper {helper:?}");
        }
        assert_eq!(find_helper_in("fake", None), None);
        let config = DockerConfig::from_json(r#"{"credsStore":"x"}"#, Path::new("/c")).unwrap();
        let message = format!(
            "{:#}",
            config
                .ask_helper(
                    "dum-test-surely-missing",
                    HelperSource::Store,
                    "myreg",
                    Duration::from_secs(1),
                    &|_| None,
                )
                .unwrap_err()
        );
        assert!(
            message.starts_with("docker-credential-dum-test-surely-missing not found in PATH"),
            "{message}"
        );
    }

    #[test]
    fn config_with_helpers() {
        let helpers = FakeHelpers::new();
        let find = |helper: &str| helpers.find(helper);
        let user_pass = b64("alice:s3cret");
        let cases: Vec<(&str, String, Vec<String>, Option<Credentials>)> = vec![
            (
                "credsStore with hub legacy URL",
                r#"{"credsStore":"fake"}"#.to_owned(),
                hub_keys(),
                Some(basic("user-for-https://index.docker.io/v1/", "hunter2")),
            ),
            (
                "credsStore with plain host",
                r#"{"credsStore":"fake"}"#.to_owned(),
                myreg_keys(),
                Some(basic("user-for-myreg:5000", "hunter2")),
            ),
            (
                "credsStore asked with the address docker login stored",
                r#"{"credsStore":"fake","auths":{"https://myreg:5000":{}}}"#.to_owned(),
                myreg_keys(),
                Some(basic("user-for-https://myreg:5000", "hunter2")),
            ),
            (
                "credHelpers before credsStore",
                r#"{"credsStore":"token","credHelpers":{"myreg:5000":"fake"}}"#.to_owned(),
                myreg_keys(),
                Some(basic("user-for-myreg:5000", "hunter2")),
            ),
            (
                "credHelpers for hub keyed by legacy URL",
                r#"{"credHelpers":{"https://index.docker.io/v1/":"token"}}"#.to_owned(),
                hub_keys(),
                Some(Credentials::IdentityToken("refresh".to_owned())),
            ),
            (
                "credHelpers for another host ignored",
                r#"{"credHelpers":{"ghcr.io":"fake"}}"#.to_owned(),
                myreg_keys(),
                None,
            ),
            (
                "helper not found falls through to auths",
                format!(
                    r#"{{"credHelpers":{{"myreg:5000":"notfound"}},"credsStore":"notfound","auths":{{"myreg:5000":{{"auth":"{user_pass}"}}}}}}"#
                ),
                myreg_keys(),
                Some(basic("alice", "s3cret")),
            ),
            (
                "helper not found and no auths",
                r#"{"credsStore":"notfound"}"#.to_owned(),
                myreg_keys(),
                None,
            ),
            (
                "empty credsStore means none",
                r#"{"credsStore":""}"#.to_owned(),
                myreg_keys(),
                None,
            ),
        ];
        for (name, json, keys, expected) in cases {
            let config = DockerConfig::from_json(&json, Path::new("/cfg/config.json")).unwrap();
            let got = config
                .credentials_with(&keys, Duration::from_secs(5), &find)
                .unwrap_or_else(|e| panic!("case {name}: {e:#}"));
            assert_eq!(got, expected, "case {name}");
        }
    }

    #[test]
    fn missing_helper_names_setting_and_file() {
        let helpers = FakeHelpers::new();
        let find = |helper: &str| helpers.find(helper);
        let cases: &[(&str, &str)] = &[
            (
                r#"{"credsStore":"pass"}"#,
                "docker-credential-pass not found in PATH: install it or remove credsStore from /cfg/config.json",
            ),
            (
                r#"{"credHelpers":{"https://myreg:5000":"ecr-login"}}"#,
                "docker-credential-ecr-login not found in PATH: install it or remove credHelpers[\"https://myreg:5000\"] from /cfg/config.json",
            ),
        ];
        for (json, expected) in cases {
            let config = DockerConfig::from_json(json, Path::new("/cfg/config.json")).unwrap();
            let message = format!(
                "{:#}",
                config
                    .credentials_with(&myreg_keys(), Duration::from_secs(1), &find)
                    .unwrap_err()
            );
            assert_eq!(message, *expected, "config {json}");
        }
    }
}
