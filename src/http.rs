//! What dum's two HTTP clients (the engine's, the registries') share: percent-encoding
//! and reading PEM certificates. A leaf: it imports nothing of dum.

use ureq::tls::{Certificate, PemItem};

/// Percent-encodes everything but RFC 3986 unreserved characters: safe in a path
/// segment (container and image names hold `:`, `/`, `@`) and in a query value.
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The certificates of a PEM file; anything else in it (keys, garbage) is skipped.
pub fn certificates(pem: &[u8]) -> Vec<Certificate<'static>> {
    ureq::tls::parse_pem(pem)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_keeps_only_unreserved_characters() {
        const CASES: &[(&str, &str)] = &[
            ("abc-._~XYZ09", "abc-._~XYZ09"),
            ("sha256:ab", "sha256%3Aab"),
            ("r.io/app:1", "r.io%2Fapp%3A1"),
            ("a b@c", "a%20b%40c"),
            ("é", "%C3%A9"),
        ];
        for (value, want) in CASES {
            assert_eq!(percent_encode(value), *want, "{value:?}");
        }
    }
}
