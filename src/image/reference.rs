//! Docker image references: parsing, validation and normalisation.
//!
//! Follows the grammar of `distribution/reference` as the Docker engine applies it
//! (`ParseNormalizedNamed`): the first `/`-separated component is a registry host when
//! it contains `.` or `:` or is `localhost`; otherwise the registry is Docker Hub and a
//! single-component name is an official image under `library/`. Docker Hub's aliases
//! (`index.docker.io`, `registry-1.docker.io`) normalise to `docker.io` so that
//! `nginx`, `docker.io/library/nginx` and `index.docker.io/library/nginx` are one
//! reference. The parser is hand-written so it is cheap and cannot panic on any input.

use std::fmt;
use std::str::FromStr;

/// The canonical name of Docker Hub.
const DOCKER_HUB: &str = "docker.io";
/// The host Docker Hub's registry API is actually served from.
const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// Namespace of Docker Hub's official images.
const OFFICIAL_NAMESPACE: &str = "library/";
/// Longest allowed `registry/repository`, as in `distribution/reference`.
const NAME_MAX: usize = 255;
/// Longest allowed tag.
const TAG_MAX: usize = 128;

/// A parsed, normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// Normalised registry host, lowercase, with port if any (`docker.io`, `ghcr.io`,
    /// `localhost:5000`, `[::1]:5000`).
    pub registry: String,
    /// Repository path on the registry (`library/nginx`, `linuxserver/calibre`).
    pub repository: String,
    /// Tag, when the reference names one.
    pub tag: Option<String>,
    /// Digest (`sha256:` + 64 lowercase hex), when the reference pins one.
    pub digest: Option<String>,
}

/// Why a string is not a valid image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceError {
    input: String,
    reason: String,
}

impl ReferenceError {
    fn new(input: &str, reason: impl Into<String>) -> Self {
        ReferenceError {
            input: input.to_owned(),
            reason: reason.into(),
        }
    }

    /// The rejected input.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// What is wrong with the input, without the input itself.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for ReferenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid image reference {:?}: {}",
            self.input, self.reason
        )
    }
}

impl std::error::Error for ReferenceError {}

/// Normalises a registry host: lowercase, and Docker Hub's aliases become `docker.io`.
pub fn normalize_registry(host: &str) -> String {
    let host = host.to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_owned(),
        _ => host,
    }
}

impl Reference {
    /// Parses an image reference such as `nginx`, `linuxserver/calibre:v1`,
    /// `localhost:5000/foo` or `ghcr.io/a/b:1.0@sha256:…`.
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        let err = |reason: String| ReferenceError::new(s, reason);
        if s.is_empty() {
            return Err(err("empty reference".into()));
        }
        if let Some(c) = s.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(err(format!("contains the character {c:?}")));
        }

        let (rest, digest) = match s.split_once('@') {
            Some((rest, digest)) => {
                check_digest(digest).map_err(err)?;
                (rest, Some(digest.to_owned()))
            }
            None => (s, None),
        };

        // A tag colon comes after the last '/', a port colon before it.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let (name, tag) = rest.split_at(last_slash + i);
                let tag = &tag[1..];
                check_tag(tag).map_err(err)?;
                (name, Some(tag.to_owned()))
            }
            None => (rest, None),
        };
        if name.is_empty() {
            return Err(err("missing repository name".into()));
        }

        let (registry, path) = match name.split_once('/') {
            Some((first, path)) if looks_like_host(first) => {
                check_host(first).map_err(err)?;
                (normalize_registry(first), path)
            }
            _ => (DOCKER_HUB.to_owned(), name),
        };
        let repository = repository_on(&registry, path).map_err(err)?;
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The tag, or `latest` when the reference has none (even when it has a digest),
    /// which is what `docker pull` would fetch.
    pub fn tag_or_latest(&self) -> &str {
        self.tag.as_deref().unwrap_or("latest")
    }

    /// The host to send registry API requests to.
    pub fn api_host(&self) -> &str {
        if self.is_docker_hub() {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// Whether the image lives on Docker Hub.
    pub fn is_docker_hub(&self) -> bool {
        self.registry == DOCKER_HUB
    }

    /// Keys to try, in order, in the `auths` map of `~/.docker/config.json`.
    ///
    /// `docker login` has written Docker Hub credentials under several spellings over
    /// the years; other registries are stored by host, sometimes with a scheme.
    pub fn credential_keys(&self) -> Vec<String> {
        if self.is_docker_hub() {
            [
                "https://index.docker.io/v1/",
                "index.docker.io",
                "docker.io",
                "registry-1.docker.io",
                "https://registry-1.docker.io",
            ]
            .iter()
            .map(|k| (*k).to_owned())
            .collect()
        } else {
            let host = &self.registry;
            vec![
                host.clone(),
                format!("https://{host}"),
                format!("http://{host}"),
            ]
        }
    }

    /// Fully qualified name without tag or digest: `docker.io/library/calibre`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The name as the Docker engine writes it in `RepoTags`/`RepoDigests`:
    /// `calibre`, `linuxserver/calibre`, `ghcr.io/a/b`, `127.0.0.1:5000/x/y`.
    pub fn familiar_name(&self) -> String {
        if !self.is_docker_hub() {
            return self.name();
        }
        match self.repository.strip_prefix(OFFICIAL_NAMESPACE) {
            Some(official) if !official.contains('/') => official.to_owned(),
            _ => self.repository.clone(),
        }
    }

    /// The same repository with `tag` and no digest.
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            tag: Some(tag.to_owned()),
            digest: None,
        }
    }

    /// The same repository path, tag and digest on another registry host (a mirror or
    /// pull-through cache). A one-component path moved to Docker Hub gains `library/`.
    pub fn with_registry(&self, registry: &str) -> Result<Reference, ReferenceError> {
        let target = format!("{registry}/{}", self.repository);
        let err = |reason: String| ReferenceError::new(&target, reason);
        check_host(registry).map_err(err)?;
        if !looks_like_host(registry) {
            return Err(err(format!(
                "registry host {registry:?} must contain '.' or ':' or be localhost, \
                 otherwise Docker reads it as a Docker Hub namespace"
            )));
        }
        let registry = normalize_registry(registry);
        let repository = repository_on(&registry, &self.repository).map_err(err)?;
        Ok(Reference {
            registry,
            repository,
            tag: self.tag.clone(),
            digest: self.digest.clone(),
        })
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

/// The engine's rule for telling a registry host from a Docker Hub namespace.
fn looks_like_host(component: &str) -> bool {
    component.contains(['.', ':']) || component == "localhost"
}

/// Validates `path` and returns the repository as stored for `registry`.
fn repository_on(registry: &str, path: &str) -> Result<String, String> {
    check_path(path)?;
    let repository = if registry == DOCKER_HUB && !path.contains('/') {
        format!("{OFFICIAL_NAMESPACE}{path}")
    } else {
        path.to_owned()
    };
    let len = registry.len() + 1 + repository.len();
    if len > NAME_MAX {
        return Err(format!(
            "name {registry}/{repository} is {len} characters long, the maximum is {NAME_MAX}"
        ));
    }
    Ok(repository)
}

/// Checks `host[:port]` where host is a DNS name, an IPv4 address or `[ipv6]`.
fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("empty registry host".into());
    }
    if host.contains('/') {
        return Err(format!(
            "registry host {host:?} must be a bare host[:port], without scheme or path"
        ));
    }
    let (name, port) = if let Some(v6) = host.strip_prefix('[') {
        let Some((addr, after)) = v6.split_once(']') else {
            return Err(format!("registry host {host:?} has an unclosed '['"));
        };
        if addr.is_empty() || !addr.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return Err(format!(
                "registry host {host:?} is not a valid IPv6 address"
            ));
        }
        match after {
            "" => (None, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (None, Some(port)),
                None => return Err(format!("unexpected {after:?} after ']' in {host:?}")),
            },
        }
    } else {
        match host.split_once(':') {
            Some((name, port)) => (Some(name), Some(port)),
            None => (Some(host), None),
        }
    };
    if let Some(port) = port
        && (port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!(
            "registry port {port:?} in {host:?} is not a number"
        ));
    }
    if let Some(name) = name {
        for label in name.split('.') {
            let ok = !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-');
            if !ok {
                return Err(format!(
                    "registry host {host:?} is not a valid host name (label {label:?})"
                ));
            }
        }
    }
    Ok(())
}

/// Checks a repository path: `/`-separated components of
/// `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`.
fn check_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("missing repository name".into());
    }
    if path.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(format!("repository {path:?} must be lowercase"));
    }
    for component in path.split('/') {
        check_component(component).map_err(|why| {
            if component.is_empty() {
                format!("repository {path:?} has an empty path component")
            } else {
                format!("repository path component {component:?} {why}")
            }
        })?;
    }
    Ok(())
}

fn check_component(component: &str) -> Result<(), &'static str> {
    let bytes = component.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !bytes.first().is_some_and(alnum) || !bytes.last().is_some_and(alnum) {
        return Err("must start and end with a lowercase letter or digit");
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(&bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(&bytes[i]) {
            i += 1;
        }
        let sep = &component[start..i];
        let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|b| b == b'-');
        if !ok {
            return Err(
                "may only contain lowercase letters and digits separated by '.', '_', '__' or dashes",
            );
        }
    }
    Ok(())
}

/// Checks a tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn check_tag(tag: &str) -> Result<(), String> {
    let bytes = tag.as_bytes();
    let Some(first) = bytes.first() else {
        return Err("empty tag after ':'".into());
    };
    if bytes.len() > TAG_MAX {
        return Err(format!(
            "tag is {} characters long, the maximum is {TAG_MAX}",
            bytes.len()
        ));
    }
    let word = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    if !word(first) || !bytes.iter().all(|b| word(b) || *b == b'.' || *b == b'-') {
        return Err(format!(
            "tag {tag:?} must be letters, digits, '_', '.' or '-' and not start with '.' or '-'"
        ));
    }
    Ok(())
}

/// Checks a digest; only `sha256` is accepted since that is all registries serve.
fn check_digest(digest: &str) -> Result<(), String> {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Err(format!(
            "digest {digest:?} must look like sha256:<64 hex characters>"
        ));
    };
    if algorithm != "sha256" {
        return Err(format!(
            "unsupported digest algorithm {algorithm:?}, only sha256 is supported"
        ));
    }
    if hex.len() != 64
        || !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(format!(
            "sha256 digest must be 64 lowercase hex characters, got {hex:?}"
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// (input, registry, repository, tag, digest-present)
    const VALID: &[(&str, &str, &str, Option<&str>, bool)] = &[
        ("calibre", "docker.io", "library/calibre", None, false),
        (
            "calibre:latest",
            "docker.io",
            "library/calibre",
            Some("latest"),
            false,
        ),
        (
            "linuxserver/calibre:v1",
            "docker.io",
            "linuxserver/calibre",
            Some("v1"),
            false,
        ),
        (
            "lscr.io/linuxserver/calibre:version-1",
            "lscr.io",
            "linuxserver/calibre",
            Some("version-1"),
            false,
        ),
        ("localhost:5000/foo", "localhost:5000", "foo", None, false),
        ("localhost/foo", "localhost", "foo", None, false),
        ("localhost", "docker.io", "library/localhost", None, false),
        (
            "localhost:5000",
            "docker.io",
            "library/localhost",
            Some("5000"),
            false,
        ),
        (
            "index.docker.io/library/nginx",
            "docker.io",
            "library/nginx",
            None,
            false,
        ),
        (
            "index.docker.io/nginx",
            "docker.io",
            "library/nginx",
            None,
            false,
        ),
        ("docker.io/nginx", "docker.io", "library/nginx", None, false),
        ("DOCKER.IO/nginx", "docker.io", "library/nginx", None, false),
        ("registry-1.docker.io/x/y", "docker.io", "x/y", None, false),
        ("ghcr.io/a/b/c:1.0", "ghcr.io", "a/b/c", Some("1.0"), false),
        ("GHCR.io/a/b", "ghcr.io", "a/b", None, false),
        (
            "[::1]:5000/foo:bar",
            "[::1]:5000",
            "foo",
            Some("bar"),
            false,
        ),
        ("[fe80::1]/foo", "[fe80::1]", "foo", None, false),
        ("foo.bar", "docker.io", "library/foo.bar", None, false),
        ("a/b/c/d", "docker.io", "a/b/c/d", None, false),
        (
            "a__b/c-----d/e.f_g",
            "docker.io",
            "a__b/c-----d/e.f_g",
            None,
            false,
        ),
        (
            "nginx:_x.Y-1",
            "docker.io",
            "library/nginx",
            Some("_x.Y-1"),
            false,
        ),
    ];

    #[test]
    fn parses_valid_references() {
        for &(input, registry, repository, tag, digest) in VALID {
            let r = Reference::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(r.registry, registry, "registry of {input:?}");
            assert_eq!(r.repository, repository, "repository of {input:?}");
            assert_eq!(r.tag.as_deref(), tag, "tag of {input:?}");
            assert_eq!(r.digest.is_some(), digest, "digest of {input:?}");
            let again = Reference::parse(&r.to_string()).unwrap();
            assert_eq!(again, r, "round trip of {input:?} via {r}");
        }
    }

    #[test]
    fn parses_digests() {
        let cases = [
            (format!("nginx@{D}"), None),
            (format!("127.0.0.1:5000/ns/img:tag@{D}"), Some("tag")),
        ];
        for (input, tag) in &cases {
            let r = Reference::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(r.digest.as_deref(), Some(D), "{input}");
            assert_eq!(r.tag.as_deref(), *tag, "{input}");
            assert_eq!(r.tag_or_latest(), tag.unwrap_or("latest"), "{input}");
            assert_eq!(Reference::parse(&r.to_string()).unwrap(), r, "{input}");
        }
    }

    /// (input, substring the error message must contain)
    const INVALID: &[(&str, &str)] = &[
        ("", "empty"),
        (" ", "character"),
        ("nginx ", "character"),
        ("ng\tinx", "character"),
        (":", "empty tag"),
        (":tag", "missing repository"),
        ("nginx:", "empty tag"),
        ("nginx/", "empty path component"),
        ("/nginx", "empty path component"),
        ("a//b", "empty path component"),
        ("ghcr.io/", "missing repository"),
        ("Nginx", "lowercase"),
        ("ghcr.io/Foo/bar", "lowercase"),
        ("foo/-bar", "start and end"),
        ("foo/bar-", "start and end"),
        ("foo/a..b", "separated by"),
        ("foo/a___b", "separated by"),
        ("foo/a._b", "separated by"),
        ("foo/a$b", "separated by"),
        ("nginx:-tag", "must be letters"),
        ("nginx:.tag", "must be letters"),
        ("nginx:a+b", "must be letters"),
        ("nginx@", "must look like sha256"),
        ("nginx@sha256:abc", "64 lowercase hex"),
        ("nginx@sha512:abc", "unsupported digest algorithm"),
        ("nginx@md5:abc", "unsupported digest algorithm"),
        ("host:port/foo", "not a number"),
        ("host:/foo", "not a number"),
        ("-host.io/foo", "not a valid host name"),
        ("a..io/foo", "not a valid host name"),
        ("ho_st.io/foo", "not a valid host name"),
        ("[::1/foo", "unclosed"),
        ("[]:5000/foo", "IPv6"),
        ("[::1]x/foo", "after ']'"),
        ("[::1]", "must be letters"),
        ("ünïcode", "lowercase letter"),
    ];

    #[test]
    fn rejects_invalid_references() {
        for &(input, want) in INVALID {
            match Reference::parse(input) {
                Ok(r) => panic!("{input:?} parsed as {r:?}"),
                Err(e) => {
                    let msg = e.to_string();
                    assert!(msg.contains(want), "{input:?}: {msg:?} lacks {want:?}");
                    assert!(msg.contains(&format!("{input:?}")), "{input:?}: {msg:?}");
                }
            }
        }
    }

    #[test]
    fn rejects_overlong_names_and_tags() {
        let long_path = format!("x/{}", "a".repeat(250));
        assert!(Reference::parse(&long_path).is_err(), "long path");
        let ok_path = format!("x/{}", "a".repeat(255 - "docker.io/x/".len()));
        assert!(Reference::parse(&ok_path).is_ok(), "255 characters");
        assert!(Reference::parse(&format!("nginx:{}", "t".repeat(128))).is_ok());
        assert!(Reference::parse(&format!("nginx:{}", "t".repeat(129))).is_err());
    }

    /// (input, Display, name, familiar_name, api_host)
    const NAMES: &[(&str, &str, &str, &str, &str)] = &[
        (
            "calibre",
            "docker.io/library/calibre",
            "docker.io/library/calibre",
            "calibre",
            "registry-1.docker.io",
        ),
        (
            "calibre:latest",
            "docker.io/library/calibre:latest",
            "docker.io/library/calibre",
            "calibre",
            "registry-1.docker.io",
        ),
        (
            "linuxserver/calibre:v1",
            "docker.io/linuxserver/calibre:v1",
            "docker.io/linuxserver/calibre",
            "linuxserver/calibre",
            "registry-1.docker.io",
        ),
        (
            "library/a/b",
            "docker.io/library/a/b",
            "docker.io/library/a/b",
            "library/a/b",
            "registry-1.docker.io",
        ),
        (
            "ghcr.io/a/b",
            "ghcr.io/a/b",
            "ghcr.io/a/b",
            "ghcr.io/a/b",
            "ghcr.io",
        ),
        (
            "127.0.0.1:5000/x/y:t",
            "127.0.0.1:5000/x/y:t",
            "127.0.0.1:5000/x/y",
            "127.0.0.1:5000/x/y",
            "127.0.0.1:5000",
        ),
        (
            "ghcr.io/library/x",
            "ghcr.io/library/x",
            "ghcr.io/library/x",
            "ghcr.io/library/x",
            "ghcr.io",
        ),
    ];

    #[test]
    fn names_and_hosts() {
        for &(input, display, name, familiar, api) in NAMES {
            let r = Reference::parse(input).unwrap();
            assert_eq!(r.to_string(), display, "Display of {input:?}");
            assert_eq!(r.name(), name, "name of {input:?}");
            assert_eq!(r.familiar_name(), familiar, "familiar_name of {input:?}");
            assert_eq!(r.api_host(), api, "api_host of {input:?}");
            assert_eq!(r.is_docker_hub(), api == DOCKER_HUB_API, "hub {input:?}");
            let familiar = Reference::parse(&r.familiar_name()).unwrap();
            assert_eq!(familiar.name(), r.name(), "familiar round trip {input:?}");
        }
    }

    #[test]
    fn credential_keys_in_lookup_order() {
        let hub = Reference::parse("nginx").unwrap().credential_keys();
        assert_eq!(
            hub,
            [
                "https://index.docker.io/v1/",
                "index.docker.io",
                "docker.io",
                "registry-1.docker.io",
                "https://registry-1.docker.io"
            ]
        );
        let other = Reference::parse("localhost:5000/x")
            .unwrap()
            .credential_keys();
        assert_eq!(
            other,
            [
                "localhost:5000",
                "https://localhost:5000",
                "http://localhost:5000"
            ]
        );
    }

    #[test]
    fn with_tag_drops_digest() {
        let r = Reference::parse(&format!("ghcr.io/a/b:1@{D}")).unwrap();
        let t = r.with_tag("2");
        assert_eq!(t.to_string(), "ghcr.io/a/b:2");
        assert_eq!(t.tag_or_latest(), "2");
    }

    /// (reference, registry override, expected Display or error substring)
    const WITH_REGISTRY: &[(&str, &str, Result<&str, &str>)] = &[
        (
            "nginx:1",
            "mirror.example:5000",
            Ok("mirror.example:5000/library/nginx:1"),
        ),
        ("ghcr.io/a/b", "index.docker.io", Ok("docker.io/a/b")),
        (
            "ghcr.io/b",
            "registry-1.docker.io",
            Ok("docker.io/library/b"),
        ),
        (
            "linuxserver/calibre",
            "LSCR.IO",
            Ok("lscr.io/linuxserver/calibre"),
        ),
        ("nginx", "[::1]:5000", Ok("[::1]:5000/library/nginx")),
        ("nginx", "https://mirror", Err("without scheme or path")),
        ("nginx", "mirror/x", Err("without scheme or path")),
        ("nginx", "mirror", Err("Docker Hub namespace")),
        ("nginx", "localhost", Ok("localhost/library/nginx")),
        ("nginx", "", Err("empty registry host")),
    ];

    #[test]
    fn with_registry_moves_the_repository() {
        for &(input, registry, want) in WITH_REGISTRY {
            let r = Reference::parse(input).unwrap();
            match (r.with_registry(registry), want) {
                (Ok(moved), Ok(display)) => {
                    assert_eq!(moved.to_string(), display, "{input:?} on {registry:?}")
                }
                (Err(e), Err(why)) => {
                    assert!(
                        e.to_string().contains(why),
                        "{input:?} on {registry:?}: {e}"
                    )
                }
                (got, _) => panic!("{input:?} on {registry:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    /// Deterministic fuzzing: parsing never panics and accepted input round-trips.
    #[test]
    fn random_inputs_never_panic_and_round_trip() {
        const ALPHABET: &[u8] = b"abAB09:/@.-_[] xsha256lcoth";
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..50_000 {
            let len = (next() % 24) as usize;
            let s: String = (0..len)
                .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize] as char)
                .collect();
            if let Ok(r) = Reference::parse(&s) {
                let again = Reference::parse(&r.to_string())
                    .unwrap_or_else(|e| panic!("{s:?} -> {r} does not reparse: {e}"));
                assert_eq!(again, r, "round trip of {s:?}");
            }
        }
    }
}
