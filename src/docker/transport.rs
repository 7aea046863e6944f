//! How bytes reach the Docker engine: a Unix socket (the default) or TCP, optionally
//! with TLS client certificates (`DOCKER_HOST=tcp://…`, `DOCKER_TLS_VERIFY`,
//! `DOCKER_CERT_PATH`), exactly as the docker CLI reads them.
//!
//! The Unix socket is plugged into ureq as a custom connector so the engine client
//! gets ureq's HTTP/1.1 machinery (chunked bodies, keep-alive pooling) for free.

use std::fmt;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use ureq::Agent;
use ureq::config::Config;
use ureq::http::Uri;
use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, LazyBuffers, NextTimeout, Transport,
};

/// Default socket of a local engine.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// Where the engine listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A Unix domain socket path.
    Unix(PathBuf),
    /// `host:port` over TCP; with TLS when certificate files are given.
    Tcp {
        /// `host:port`.
        address: String,
        /// Directory with `ca.pem`, `cert.pem`, `key.pem` when `DOCKER_TLS_VERIFY` is set.
        tls_dir: Option<PathBuf>,
    },
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "unix://{}", path.display()),
            Endpoint::Tcp { address, tls_dir } => {
                let scheme = if tls_dir.is_some() { "https" } else { "tcp" };
                write!(f, "{scheme}://{address}")
            }
        }
    }
}

impl Endpoint {
    /// Reads `DOCKER_HOST`, `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH` the way the docker
    /// CLI does. Values are parameters so the rule is testable without touching the
    /// process environment.
    pub fn from_env_values(
        docker_host: Option<&str>,
        tls_verify: Option<&str>,
        cert_path: Option<&str>,
        home: Option<&str>,
    ) -> Result<Endpoint> {
        let host = match docker_host.map(str::trim) {
            None | Some("") => return Ok(Endpoint::Unix(PathBuf::from(DEFAULT_SOCKET))),
            Some(h) => h,
        };
        if let Some(path) = host.strip_prefix("unix://") {
            if path.is_empty() {
                bail!("DOCKER_HOST={host} names no socket path");
            }
            return Ok(Endpoint::Unix(PathBuf::from(path)));
        }
        if let Some(address) = host.strip_prefix("tcp://") {
            let address = address.trim_end_matches('/');
            if address.is_empty() {
                bail!("DOCKER_HOST={host} names no address");
            }
            let address = if address.contains(':') {
                address.to_string()
            } else {
                // The CLI's defaults: 2376 with TLS, 2375 without.
                let port = if tls_verify.is_some_and(|v| !v.is_empty()) {
                    2376
                } else {
                    2375
                };
                format!("{address}:{port}")
            };
            let tls_dir = match tls_verify {
                Some(v) if !v.is_empty() => Some(match cert_path {
                    Some(p) if !p.is_empty() => PathBuf::from(p),
                    _ => Path::new(home.unwrap_or("/root")).join(".docker"),
                }),
                _ => None,
            };
            return Ok(Endpoint::Tcp { address, tls_dir });
        }
        bail!(
            "DOCKER_HOST={host} is not supported: use unix:///path/to/docker.sock or tcp://host:port"
        )
    }

    /// The endpoint the current process environment names.
    pub fn from_env() -> Result<Endpoint> {
        let var = |k: &str| std::env::var(k).ok();
        Endpoint::from_env_values(
            var("DOCKER_HOST").as_deref(),
            var("DOCKER_TLS_VERIFY").as_deref(),
            var("DOCKER_CERT_PATH").as_deref(),
            var("HOME").as_deref(),
        )
    }

    /// A ureq agent that reaches this endpoint, and the base URL to put paths under.
    pub fn agent(&self, timeout: Duration) -> Result<(Agent, String)> {
        let builder = Config::builder()
            .http_status_as_error(false)
            // The engine is never reached through an HTTP proxy, whatever HTTPS_PROXY says.
            .proxy(None)
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_per_read(Some(timeout))
            .timeout_per_write(Some(timeout))
            .user_agent(concat!("dum/", env!("CARGO_PKG_VERSION")))
            .max_redirects(0)
            // ureq's 128 KiB default buffers, times one connection per worker thread,
            // were most of a check's memory; bodies are streamed through them anyway.
            .input_buffer_size(16 * 1024)
            // The longest request line is a pull's X-Registry-Auth: base64 JSON around a
            // registry password, which for ECR is several kilobytes.
            .output_buffer_size(16 * 1024);
        match self {
            Endpoint::Unix(path) => {
                let config = builder.build();
                let connector = UnixConnector { path: path.clone() };
                let agent = Agent::with_parts(config, connector, NoResolver);
                // The host part is never resolved: every connection goes to the socket.
                Ok((agent, "http://docker".to_string()))
            }
            Endpoint::Tcp {
                address,
                tls_dir: None,
            } => Ok((builder.build().new_agent(), format!("http://{address}"))),
            Endpoint::Tcp {
                address,
                tls_dir: Some(dir),
            } => {
                let tls = tls_config(dir)?;
                Ok((
                    builder.tls_config(tls).build().new_agent(),
                    format!("https://{address}"),
                ))
            }
        }
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn tls_config(dir: &Path) -> Result<TlsConfig> {
    let ca = read_file(&dir.join("ca.pem"))?;
    let cert = read_file(&dir.join("cert.pem"))?;
    let key = read_file(&dir.join("key.pem"))?;
    let roots = crate::http::certificates(&ca);
    if roots.is_empty() {
        bail!("{} holds no certificate", dir.join("ca.pem").display());
    }
    let chain = Certificate::from_pem(&cert).with_context(|| {
        format!(
            "{} is not a PEM certificate",
            dir.join("cert.pem").display()
        )
    })?;
    let key = PrivateKey::from_pem(&key)
        .with_context(|| format!("{} is not a PEM private key", dir.join("key.pem").display()))?;
    Ok(TlsConfig::builder()
        .root_certs(RootCerts::new_with_certs(&roots))
        .client_cert(Some(ClientCert::new_with_certs(&[chain], key)))
        .build())
}

/// Resolver for the socket agent: there is nothing to resolve.
#[derive(Debug)]
struct NoResolver;

impl Resolver for NoResolver {
    fn resolve(
        &self,
        _uri: &Uri,
        _config: &Config,
        _timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let mut addrs = self.empty();
        addrs.push(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
        Ok(addrs)
    }
}

/// Opens a connection to a Unix socket for every request ureq wants to send.
#[derive(Debug)]
struct UnixConnector {
    path: PathBuf,
}

impl<In: Transport> Connector<In> for UnixConnector {
    type Out = UnixTransport;

    fn connect(
        &self,
        details: &ConnectionDetails,
        _chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let stream = UnixStream::connect(&self.path).map_err(|e| {
            ureq::Error::Io(std::io::Error::new(
                e.kind(),
                format!(
                    "cannot connect to the Docker engine at {}: {e}",
                    self.path.display()
                ),
            ))
        })?;
        let config = details.config;
        let buffers = LazyBuffers::new(config.input_buffer_size(), config.output_buffer_size());
        Ok(Some(UnixTransport { stream, buffers }))
    }
}

/// One socket connection with ureq's buffers.
struct UnixTransport {
    stream: UnixStream,
    buffers: LazyBuffers,
}

impl fmt::Debug for UnixTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixTransport").finish_non_exhaustive()
    }
}

fn io_timeout(timeout: &NextTimeout) -> Option<Duration> {
    timeout.not_zero().map(|d| *d)
}

fn map_io(e: std::io::Error, timeout: &NextTimeout) -> ureq::Error {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            ureq::Error::Timeout(timeout.reason)
        }
        _ => ureq::Error::Io(e),
    }
}

impl Transport for UnixTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let timeout = timeout.for_write();
        self.stream
            .set_write_timeout(io_timeout(&timeout))
            .map_err(ureq::Error::Io)?;
        let output = &self.buffers.output()[..amount];
        self.stream
            .write_all(output)
            .map_err(|e| map_io(e, &timeout))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let timeout = timeout.for_read();
        self.stream
            .set_read_timeout(io_timeout(&timeout))
            .map_err(ureq::Error::Io)?;
        let input = self.buffers.input_append_buf();
        let amount = loop {
            match self.stream.read(input) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(map_io(e, &timeout)),
            }
        };
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        // A pooled connection is reusable when a non-blocking read finds nothing to read:
        // EOF means the engine closed it, and unexpected bytes make it unusable anyway.
        if self.stream.set_nonblocking(true).is_err() {
            return false;
        }
        let mut buf = [0u8; 1];
        let open = matches!((&self.stream).read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
        self.stream.set_nonblocking(false).is_ok() && open
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_from_env_values() {
        let cases: &[(Option<&str>, Option<&str>, Option<&str>, Endpoint)] = &[
            (
                None,
                None,
                None,
                Endpoint::Unix(PathBuf::from(DEFAULT_SOCKET)),
            ),
            (
                Some(""),
                None,
                None,
                Endpoint::Unix(PathBuf::from(DEFAULT_SOCKET)),
            ),
            (
                Some("unix:///run/user/1000/docker.sock"),
                None,
                None,
                Endpoint::Unix(PathBuf::from("/run/user/1000/docker.sock")),
            ),
            (
                Some("tcp://10.0.0.5:2375"),
                None,
                None,
                Endpoint::Tcp {
                    address: "10.0.0.5:2375".into(),
                    tls_dir: None,
                },
            ),
            (
                Some("tcp://nas"),
                Some("1"),
                None,
                Endpoint::Tcp {
                    address: "nas:2376".into(),
                    tls_dir: Some(PathBuf::from("/home/u/.docker")),
                },
            ),
            (
                Some("tcp://nas:2376"),
                Some("1"),
                Some("/etc/certs"),
                Endpoint::Tcp {
                    address: "nas:2376".into(),
                    tls_dir: Some(PathBuf::from("/etc/certs")),
                },
            ),
        ];
        for (host, verify, certs, want) in cases {
            let got = Endpoint::from_env_values(*host, *verify, *certs, Some("/home/u")).unwrap();
            assert_eq!(&got, want, "DOCKER_HOST={host:?}");
        }
    }

    #[test]
    fn unsupported_docker_host_is_one_clear_line() {
        for host in ["ssh://me@nas", "npipe:////./pipe/docker_engine", "unix://"] {
            let err = Endpoint::from_env_values(Some(host), None, None, None).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains("DOCKER_HOST"), "{host}: {msg}");
            assert!(!msg.contains('\n'), "{host}: {msg}");
        }
    }
}
