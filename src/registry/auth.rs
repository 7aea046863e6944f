//! Registry authentication: `WWW-Authenticate` challenges, token replies, and the rule
//! deciding where credentials may be sent.
//!
//! Everything here is pure: the HTTP client asks these functions what to do and does it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One authentication challenge a registry offered in `WWW-Authenticate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// Token authentication: fetch a token from `realm`, then retry with `Authorization: Bearer`.
    Bearer {
        /// URL of the token endpoint.
        realm: String,
        /// Service name to pass to the token endpoint.
        service: Option<String>,
        /// Scope the registry says the request needs.
        scope: Option<String>,
    },
    /// Plain `Authorization: Basic` with the stored username and password.
    Basic {
        /// Human-readable protection space; informational only.
        realm: Option<String>,
    },
}

/// Parses a `WWW-Authenticate` header value into the challenges dum understands, in order.
///
/// Lenient on purpose: registries in the wild vary spacing, quoting and case, so scheme and
/// parameter names are case-insensitive, values may be quoted (with backslash escapes) or bare,
/// and unknown schemes or parameters are skipped. A `Bearer` challenge without a realm cannot
/// be answered and is dropped. Parsing stops at the first malformed part, keeping what came
/// before it.
pub fn parse_challenges(header: &str) -> Vec<Challenge> {
    let mut parser = Parser::new(header);
    let mut challenges = Vec::new();
    loop {
        parser.skip_while(|c| c == ',' || c.is_whitespace());
        if parser.at_end() {
            break;
        }
        let scheme = parser.token();
        if scheme.is_empty() {
            break;
        }
        let Some(params) = parser.params() else {
            break;
        };
        if let Some(challenge) = build_challenge(&scheme, &params) {
            challenges.push(challenge);
        }
    }
    challenges
}

/// Picks the challenge dum will answer: Bearer preferred over Basic, since a token scoped to
/// one repository exposes less than sending the password on every request.
pub fn preferred(challenges: &[Challenge]) -> Option<&Challenge> {
    challenges
        .iter()
        .find(|c| matches!(c, Challenge::Bearer { .. }))
        .or_else(|| {
            challenges
                .iter()
                .find(|c| matches!(c, Challenge::Basic { .. }))
        })
}

/// Extracts the token from a token endpoint reply.
///
/// Docker's token spec names the field `token`, OAuth2 servers name it `access_token`; both
/// appear in the wild. The body is never echoed in errors because it may hold a secret.
pub fn parse_token_reply(body: &[u8], realm: &str) -> anyhow::Result<String> {
    let failure = || anyhow::anyhow!("token reply from {realm} is not JSON with a token");
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|_| failure())?;
    ["token", "access_token"]
        .iter()
        .filter_map(|field| value.get(field).and_then(serde_json::Value::as_str))
        .find(|token| !token.is_empty())
        .map(str::to_owned)
        .ok_or_else(failure)
}

/// Builds the URL asking the token endpoint `realm` for a token covering `scope`.
pub fn token_url(realm: &str, service: Option<&str>, scope: &str) -> String {
    let mut query = Vec::new();
    if let Some(service) = service.filter(|s| !s.is_empty()) {
        query.push(format!("service={}", crate::http::percent_encode(service)));
    }
    if !scope.is_empty() {
        query.push(format!("scope={}", crate::http::percent_encode(scope)));
    }
    if query.is_empty() {
        return realm.to_owned();
    }
    let separator = if !realm.contains('?') {
        "?"
    } else if realm.ends_with('?') || realm.ends_with('&') {
        ""
    } else {
        "&"
    };
    format!("{realm}{separator}{}", query.join("&"))
}

/// Body of the OAuth2 `POST` to the token realm exchanging an identity (refresh) token for an
/// access token; sent as `application/x-www-form-urlencoded`. The reply goes through
/// `parse_token_reply` (it carries `access_token`).
pub fn refresh_token_form(service: Option<&str>, scope: &str, refresh_token: &str) -> String {
    let mut fields = vec![
        ("grant_type", "refresh_token"),
        ("client_id", "dum"),
        ("refresh_token", refresh_token),
    ];
    if let Some(service) = service.filter(|s| !s.is_empty()) {
        fields.push(("service", service));
    }
    if !scope.is_empty() {
        fields.push(("scope", scope));
    }
    fields
        .iter()
        .map(|(name, value)| format!("{name}={}", crate::http::percent_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Scope for pulling a repository, as the distribution token spec spells it.
pub fn pull_scope(repository: &str) -> String {
    format!("repository:{repository}:pull")
}

/// Decides whether credentials for the registry at `registry_host` may be sent to `target_url`.
///
/// Only the registry itself and the token realm it announced may receive them, so a redirect
/// or a forged realm cannot harvest a password; and never in clear text over `http://`, except
/// to loopback or to hosts the user listed as insecure. The reason for a refusal is one line.
pub fn credentials_allowed(
    target_url: &str,
    registry_host: &str,
    announced_realm_host: Option<&str>,
    insecure_hosts: &[String],
) -> Result<(), String> {
    let host = url_host(target_url).ok_or_else(|| {
        format!("refusing to send credentials to {target_url}: not an http(s) URL")
    })?;
    let is_registry = host == normalize_host(registry_host);
    let is_realm = announced_realm_host.is_some_and(|realm| host == normalize_host(realm));
    if !is_registry && !is_realm {
        return Err(format!(
            "refusing to send credentials for {registry_host} to {host}: \
             it is neither the registry nor the token realm the registry announced"
        ));
    }
    let plain_http = target_url
        .get(..7)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("http://"));
    let insecure_listed = insecure_hosts.iter().any(|h| normalize_host(h) == host);
    if plain_http && !is_loopback_host(&host) && !insecure_listed {
        return Err(format!(
            "refusing to send credentials to {host} over plain http://: \
             use https or list {host} as an insecure registry"
        ));
    }
    Ok(())
}

/// Host of an `http`/`https` URL, lowercase, with its port unless it is the scheme's default
/// (so `https://ghcr.io:443/x` and `https://ghcr.io/y` compare equal). Userinfo is dropped.
pub fn url_host(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "https" => ":443",
        "http" => ":80",
        _ => return None,
    };
    // Backslash ends the authority too: some URL parsers treat it as '/', and reading
    // "https://evil\@registry" as host "registry" would leak credentials to "evil".
    let authority = rest.split(['/', '?', '#', '\\']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    let host = host.to_ascii_lowercase();
    let host = host.strip_suffix(default_port).unwrap_or(&host);
    let host = host.strip_suffix(':').unwrap_or(host);
    if host.is_empty() || host.starts_with(':') || host.contains(char::is_whitespace) {
        return None;
    }
    Some(host.to_owned())
}

/// Whether a host (optionally with port) names the local machine, where plain http cannot be
/// sniffed on the network.
pub fn is_loopback_host(host_with_port: &str) -> bool {
    let host = strip_port(host_with_port);
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    if let Ok(v4) = host.parse::<Ipv4Addr>() {
        return v4.is_loopback();
    }
    match host.parse::<Ipv6Addr>() {
        Ok(v6) => {
            v6.is_loopback()
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| IpAddr::V4(v4).is_loopback())
        }
        Err(_) => false,
    }
}

/// Host without its port; IPv6 literals lose their brackets.
fn strip_port(host_with_port: &str) -> &str {
    if let Some(rest) = host_with_port.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default();
    }
    match host_with_port.matches(':').count() {
        1 => host_with_port.split(':').next().unwrap_or_default(),
        // Zero colons: no port. Several: a bare IPv6 literal, which cannot carry a port.
        _ => host_with_port,
    }
}

/// Brings a host given by the caller (or a URL) to the form `url_host` produces.
fn normalize_host(host: &str) -> String {
    if let Some(from_url) = url_host(host) {
        return from_url;
    }
    let host = host.trim().trim_end_matches('/').to_ascii_lowercase();
    // Registries are https unless said otherwise, so ":443" is the default port here.
    match host.strip_suffix(":443") {
        Some(bare) => bare.to_owned(),
        None => host,
    }
}

/// Turns a scheme and its parameters into a challenge dum can answer, if any.
fn build_challenge(scheme: &str, params: &[(String, String)]) -> Option<Challenge> {
    let param = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .filter(|value| !value.is_empty())
    };
    if scheme.eq_ignore_ascii_case("bearer") {
        Some(Challenge::Bearer {
            realm: param("realm")?,
            service: param("service"),
            scope: param("scope"),
        })
    } else if scheme.eq_ignore_ascii_case("basic") {
        Some(Challenge::Basic {
            realm: param("realm"),
        })
    } else {
        None
    }
}

/// RFC 7230 `tchar`: the characters allowed in a scheme or parameter name.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// Cursor over a header value.
struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn new(text: &str) -> Self {
        Parser {
            chars: text.chars().collect(),
            pos: 0,
        }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_while(&mut self, keep: impl Fn(char) -> bool) -> String {
        let start = self.pos;
        while self.peek().is_some_and(&keep) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    fn token(&mut self) -> String {
        self.skip_while(is_tchar)
    }

    /// Reads the parameters after a scheme, stopping before the next challenge's scheme.
    /// `None` means the rest of the header is malformed.
    fn params(&mut self) -> Option<Vec<(String, String)>> {
        let mut params: Vec<(String, String)> = Vec::new();
        let mut first = true;
        loop {
            let item_start = self.pos;
            self.skip_while(char::is_whitespace);
            let after_comma = self.peek() == Some(',');
            self.skip_while(|c| c == ',' || c.is_whitespace());
            if self.at_end() {
                return Some(params);
            }
            let name_start = self.pos;
            let name = self.token();
            self.skip_while(char::is_whitespace);
            let is_param = self.peek() == Some('=') && !name.is_empty();
            if is_param {
                self.pos += 1;
                if first && !after_comma && matches!(self.peek(), None | Some('=' | ',')) {
                    // token68 credentials ("Negotiate abc=="): nothing dum can use.
                    self.skip_while(|c| c != ',' && !c.is_whitespace());
                } else {
                    self.skip_while(char::is_whitespace);
                    let value = if self.peek() == Some('"') {
                        self.quoted()?
                    } else {
                        self.skip_while(|c| c != ',' && !c.is_whitespace())
                    };
                    let name = name.to_ascii_lowercase();
                    if !params.iter().any(|(key, _)| *key == name) {
                        params.push((name, value));
                    }
                }
            } else if first && !after_comma && self.pos > item_start {
                // token68 with characters outside tchar, e.g. base64 "ab/c+d".
                self.pos = name_start;
                self.skip_while(|c| c != ',' && !c.is_whitespace());
                if self.pos == name_start {
                    return None;
                }
            } else {
                // A name not followed by '=' starts the next challenge.
                self.pos = item_start;
                return Some(params);
            }
            first = false;
        }
    }

    /// Reads a quoted-string starting at the opening quote; `None` if it is never closed.
    fn quoted(&mut self) -> Option<String> {
        self.pos += 1;
        let mut value = String::new();
        loop {
            let c = self.peek()?;
            self.pos += 1;
            match c {
                '"' => return Some(value),
                '\\' => {
                    value.push(self.peek()?);
                    self.pos += 1;
                }
                _ => value.push(c),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn bearer(realm: &str, service: Option<&str>, scope: Option<&str>) -> Challenge {
        Challenge::Bearer {
            realm: realm.to_owned(),
            service: service.map(str::to_owned),
            scope: scope.map(str::to_owned),
        }
    }

    fn basic(realm: Option<&str>) -> Challenge {
        Challenge::Basic {
            realm: realm.map(str::to_owned),
        }
    }

    #[test]
    fn parses_real_and_odd_headers() {
        let cases: Vec<(&str, &str, Vec<Challenge>)> = vec![
            (
                "docker hub",
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#,
                vec![bearer(
                    "https://auth.docker.io/token",
                    Some("registry.docker.io"),
                    Some("repository:library/nginx:pull"),
                )],
            ),
            (
                "ghcr.io",
                r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:user/image:pull""#,
                vec![bearer(
                    "https://ghcr.io/token",
                    Some("ghcr.io"),
                    Some("repository:user/image:pull"),
                )],
            ),
            (
                "quay.io",
                r#"Bearer realm="https://quay.io/v2/auth",service="quay.io",scope="repository:coreos/etcd:pull""#,
                vec![bearer(
                    "https://quay.io/v2/auth",
                    Some("quay.io"),
                    Some("repository:coreos/etcd:pull"),
                )],
            ),
            (
                "distribution with auth: token, on /v2/",
                r#"Bearer realm="https://auth.example.com:5001/auth",service="Docker registry""#,
                vec![bearer(
                    "https://auth.example.com:5001/auth",
                    Some("Docker registry"),
                    None,
                )],
            ),
            (
                "distribution with htpasswd",
                r#"Basic realm="Registry Realm""#,
                vec![basic(Some("Registry Realm"))],
            ),
            ("basic without realm", "Basic", vec![basic(None)]),
            (
                "params in another order, scope with comma inside quotes",
                r#"Bearer scope="repository:a/b:pull,push", service="svc", realm="https://r/t""#,
                vec![bearer(
                    "https://r/t",
                    Some("svc"),
                    Some("repository:a/b:pull,push"),
                )],
            ),
            (
                "weird spacing",
                "  Bearer   realm = \"https://r/t\" ,\tservice=\"svc\"  ,scope = \"s\"  ",
                vec![bearer("https://r/t", Some("svc"), Some("s"))],
            ),
            (
                "escaped quotes and backslashes",
                r#"Bearer realm="https://r/t",service="a \"quoted\" \\ name""#,
                vec![bearer("https://r/t", Some(r#"a "quoted" \ name"#), None)],
            ),
            (
                "lowercase scheme and uppercase param names",
                r#"bearer REALM="https://r/t",Service="svc""#,
                vec![bearer("https://r/t", Some("svc"), None)],
            ),
            (
                "unquoted token values",
                "Bearer realm=https://r/t,service=svc,scope=repository:a/b:pull",
                vec![bearer(
                    "https://r/t",
                    Some("svc"),
                    Some("repository:a/b:pull"),
                )],
            ),
            (
                "unknown params ignored",
                r#"Bearer realm="https://r/t",error="invalid_token",error_description="expired""#,
                vec![bearer("https://r/t", None, None)],
            ),
            (
                "two challenges, Basic first",
                r#"Basic realm="x", Bearer realm="https://r/t",service="svc""#,
                vec![basic(Some("x")), bearer("https://r/t", Some("svc"), None)],
            ),
            (
                "bare Basic before Bearer",
                r#"Basic, Bearer realm="https://r/t""#,
                vec![basic(None), bearer("https://r/t", None, None)],
            ),
            (
                "unknown scheme with token68 between known ones",
                r#"Negotiate abc/+d==, Basic realm="x", Digest realm="d", nonce="n", Bearer realm="https://r/t""#,
                vec![basic(Some("x")), bearer("https://r/t", None, None)],
            ),
            (
                "bearer without realm is skipped",
                r#"Bearer service="svc",scope="s""#,
                vec![],
            ),
            (
                "bearer without realm skipped, next one kept",
                r#"Bearer service="svc", Basic realm="x""#,
                vec![basic(Some("x"))],
            ),
            ("bearer with empty realm", r#"Bearer realm="""#, vec![]),
            ("empty", "", vec![]),
            ("only commas and spaces", " , ,, ", vec![]),
            ("garbage", "=====", vec![]),
            ("garbage json", r#"{"realm": "x"}"#, vec![]),
            ("unknown scheme only", "Digest realm=\"x\"", vec![]),
            ("unterminated quote", r#"Bearer realm="https://r/t"#, vec![]),
            (
                "unterminated quote after a good challenge",
                r#"Basic realm="x", Bearer realm="https://r/t"#,
                vec![basic(Some("x"))],
            ),
            (
                "duplicate param: first wins",
                r#"Bearer realm="https://first/t",realm="https://second/t""#,
                vec![bearer("https://first/t", None, None)],
            ),
        ];
        for (name, header, expected) in cases {
            assert_eq!(parse_challenges(header), expected, "case {name}: {header}");
        }
    }

    #[test]
    fn prefers_bearer() {
        let cases: Vec<(&str, Vec<Challenge>, Option<Challenge>)> = vec![
            ("none", vec![], None),
            ("basic only", vec![basic(None)], Some(basic(None))),
            (
                "bearer after basic",
                vec![basic(None), bearer("r", None, None)],
                Some(bearer("r", None, None)),
            ),
            (
                "first bearer",
                vec![bearer("a", None, None), bearer("b", None, None)],
                Some(bearer("a", None, None)),
            ),
        ];
        for (name, challenges, expected) in cases {
            assert_eq!(preferred(&challenges), expected.as_ref(), "case {name}");
        }
    }

    #[test]
    fn token_replies() {
        const CASES: &[(&str, &str, Option<&str>)] = &[
            ("token", r#"{"token":"abc","expires_in":300}"#, Some("abc")),
            ("access_token", r#"{"access_token":"xyz"}"#, Some("xyz")),
            (
                "both: token preferred",
                r#"{"token":"t","access_token":"a","expires_in":60,"issued_at":"2024-01-01T00:00:00Z"}"#,
                Some("t"),
            ),
            (
                "empty token falls back",
                r#"{"token":"","access_token":"a"}"#,
                Some("a"),
            ),
            ("no token", r#"{"expires_in":60}"#, None),
            ("token not a string", r#"{"token":42}"#, None),
            ("not json", "<html>secret-ish</html>", None),
            ("json array", "[]", None),
            ("empty body", "", None),
        ];
        for (name, body, expected) in CASES {
            let got = parse_token_reply(body.as_bytes(), "https://auth.example/token");
            match expected {
                Some(token) => assert_eq!(got.unwrap(), *token, "case {name}"),
                None => {
                    let message = got.unwrap_err().to_string();
                    assert_eq!(
                        message,
                        "token reply from https://auth.example/token is not JSON with a token",
                        "case {name}"
                    );
                }
            }
        }
    }

    #[test]
    fn token_urls() {
        const CASES: &[(&str, &str, Option<&str>, &str, &str)] = &[
            (
                "docker hub",
                "https://auth.docker.io/token",
                Some("registry.docker.io"),
                "repository:library/nginx:pull",
                "https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Alibrary%2Fnginx%3Apull",
            ),
            (
                "realm with query",
                "https://r/token?account=me",
                Some("svc"),
                "s",
                "https://r/token?account=me&service=svc&scope=s",
            ),
            (
                "realm ending with ?",
                "https://r/token?",
                None,
                "s",
                "https://r/token?scope=s",
            ),
            (
                "no service, spaces and unicode encoded",
                "https://r/token",
                None,
                "a b,é~",
                "https://r/token?scope=a%20b%2C%C3%A9~",
            ),
            (
                "empty service and scope",
                "https://r/token",
                Some(""),
                "",
                "https://r/token",
            ),
        ];
        for (name, realm, service, scope, expected) in CASES {
            assert_eq!(token_url(realm, *service, scope), *expected, "case {name}");
        }
        assert_eq!(pull_scope("library/nginx"), "repository:library/nginx:pull");
        assert_eq!(
            refresh_token_form(Some("registry.docker.io"), "repository:a/b:pull", "r+t/="),
            "grant_type=refresh_token&client_id=dum&refresh_token=r%2Bt%2F%3D\
             &service=registry.docker.io&scope=repository%3Aa%2Fb%3Apull"
        );
        assert_eq!(
            refresh_token_form(None, "", "t"),
            "grant_type=refresh_token&client_id=dum&refresh_token=t"
        );
    }

    #[test]
    fn url_hosts() {
        const CASES: &[(&str, Option<&str>)] = &[
            ("https://ghcr.io/v2/", Some("ghcr.io")),
            ("HTTPS://GHCR.IO", Some("ghcr.io")),
            ("https://ghcr.io:443/token", Some("ghcr.io")),
            ("http://reg:80/v2/", Some("reg")),
            ("http://reg:443/v2/", Some("reg:443")),
            ("https://reg:5000?x=1", Some("reg:5000")),
            ("https://user:pw@reg:5000/v2/", Some("reg:5000")),
            ("https://registry.example@evil.com/", Some("evil.com")),
            ("https://evil.com\\@registry.example/", Some("evil.com")),
            ("http://[::1]:5000/v2/", Some("[::1]:5000")),
            ("ftp://reg/", None),
            ("reg:5000", None),
            ("https:///path", None),
            ("https://", None),
        ];
        for (url, expected) in CASES {
            assert_eq!(url_host(url).as_deref(), *expected, "case {url}");
        }
    }

    #[test]
    fn loopback_hosts() {
        const CASES: &[(&str, bool)] = &[
            ("localhost", true),
            ("LOCALHOST:5000", true),
            ("localhost.", true),
            ("127.0.0.1", true),
            ("127.1.2.3:5000", true),
            ("[::1]:5000", true),
            ("[::1]", true),
            ("::1", true),
            ("[::ffff:127.0.0.1]:5000", true),
            ("10.0.0.1:5000", false),
            ("localhost.evil.com", false),
            ("127.0.0.1.evil.com", false),
            ("[::2]", false),
            ("", false),
        ];
        for (host, expected) in CASES {
            assert_eq!(is_loopback_host(host), *expected, "case {host}");
        }
    }

    #[test]
    fn where_credentials_may_go() {
        /// (case, target, registry host, announced realm host, insecure hosts, allowed)
        type Case<'a> = (
            &'a str,
            &'a str,
            &'a str,
            Option<&'a str>,
            &'a [&'a str],
            bool,
        );
        let cases: &[Case] = &[
            (
                "registry itself",
                "https://ghcr.io/v2/x/manifests/1",
                "ghcr.io",
                None,
                &[],
                true,
            ),
            (
                "registry, case and default port",
                "https://GHCR.io:443/v2/",
                "ghcr.io",
                None,
                &[],
                true,
            ),
            (
                "registry given with :443",
                "https://myreg/v2/",
                "myreg:443",
                None,
                &[],
                true,
            ),
            (
                "registry with port",
                "https://myreg:5000/v2/",
                "myreg:5000",
                None,
                &[],
                true,
            ),
            (
                "same host, other port",
                "https://myreg:5001/v2/",
                "myreg:5000",
                None,
                &[],
                false,
            ),
            (
                "announced realm",
                "https://auth.docker.io/token?scope=x",
                "registry-1.docker.io",
                Some("auth.docker.io"),
                &[],
                true,
            ),
            (
                "realm not announced",
                "https://auth.docker.io/token",
                "registry-1.docker.io",
                None,
                &[],
                false,
            ),
            (
                "redirect to blob storage",
                "https://production.cloudflare.docker.com/blob",
                "registry-1.docker.io",
                Some("auth.docker.io"),
                &[],
                false,
            ),
            (
                "userinfo trick",
                "https://ghcr.io@evil.com/",
                "ghcr.io",
                None,
                &[],
                false,
            ),
            (
                "plain http to remote",
                "http://myreg:5000/v2/",
                "myreg:5000",
                None,
                &[],
                false,
            ),
            (
                "plain http to loopback",
                "http://localhost:5000/v2/",
                "localhost:5000",
                None,
                &[],
                true,
            ),
            (
                "plain http to 127.0.0.1",
                "http://127.0.0.1:5000/v2/",
                "127.0.0.1:5000",
                None,
                &[],
                true,
            ),
            (
                "plain http to [::1]",
                "http://[::1]:5000/v2/",
                "[::1]:5000",
                None,
                &[],
                true,
            ),
            (
                "plain http to insecure host",
                "http://myreg:5000/v2/",
                "myreg:5000",
                None,
                &["MyReg:5000"],
                true,
            ),
            (
                "plain http to realm not listed insecure",
                "http://auth.myreg/token",
                "myreg:5000",
                Some("auth.myreg"),
                &["myreg:5000"],
                false,
            ),
            ("not http", "ftp://ghcr.io/", "ghcr.io", None, &[], false),
        ];
        for (name, target, registry, realm, insecure, allowed) in cases {
            let insecure: Vec<String> = insecure.iter().map(|h| (*h).to_owned()).collect();
            let got = credentials_allowed(target, registry, *realm, &insecure);
            assert_eq!(got.is_ok(), *allowed, "case {name}: {got:?}");
            if let Err(reason) = got {
                assert!(!reason.contains('\n'), "case {name}: reason is one line");
            }
        }
    }
}
