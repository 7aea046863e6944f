//! Name resolution for registry connections, once per host per run.
//!
//! ureq's default resolver spawns a thread for every new connection when a timeout is
//! set (getaddrinfo cannot be interrupted). A check opens a connection per parallel
//! request, so that is hundreds of threads and lookups for the same few names; this
//! resolver answers IP literals directly and remembers each host's addresses.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// Caches the default resolver's answers by `host:port`.
#[derive(Debug, Default)]
pub struct CachingResolver {
    inner: DefaultResolver,
    cache: Mutex<HashMap<String, Vec<SocketAddr>>>,
}

impl CachingResolver {
    fn answer(&self, addrs: &[SocketAddr]) -> ResolvedSocketAddrs {
        let mut out = self.empty();
        for a in addrs.iter().take(16) {
            out.push(*a);
        }
        out
    }
}

/// The address of an IP-literal authority (`127.0.0.1:5000`, `[::1]:5000`), if it is one.
fn literal(uri: &Uri) -> Option<SocketAddr> {
    let authority = uri.authority()?;
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let ip: IpAddr = host.parse().ok()?;
    let port = authority
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        });
    Some(SocketAddr::new(ip, port))
}

impl Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        if let Some(addr) = literal(uri) {
            return Ok(self.answer(&[addr]));
        }
        let key = uri.authority().map(|a| a.to_string()).unwrap_or_default();
        if let Ok(cache) = self.cache.lock()
            && let Some(found) = cache.get(&key)
        {
            return Ok(self.answer(found));
        }
        let resolved = self.inner.resolve(uri, config, timeout)?;
        let addrs: Vec<SocketAddr> = resolved.iter().copied().collect();
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(key, addrs);
        }
        Ok(resolved)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn ip_literals_need_no_lookup() {
        let cases: &[(&str, Option<&str>)] = &[
            ("http://127.0.0.1:5000/v2/", Some("127.0.0.1:5000")),
            ("https://[::1]:5443/v2/", Some("[::1]:5443")),
            ("https://10.0.0.1/v2/", Some("10.0.0.1:443")),
            ("http://10.0.0.1/v2/", Some("10.0.0.1:80")),
            ("https://registry-1.docker.io/v2/", None),
        ];
        for (uri, want) in cases {
            let got = literal(&uri.parse().unwrap()).map(|a| a.to_string());
            assert_eq!(got.as_deref(), *want, "{uri}");
        }
    }
}
