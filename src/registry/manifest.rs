//! Manifest media types, digests and the JSON documents of the distribution API that
//! dum reads (tag lists, indexes). Pure: bytes in, data out.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

/// OCI image index (multi-arch).
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker manifest list (multi-arch).
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image manifest v2 schema 2.
pub const DOCKER_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// The `Accept` header for manifest requests: indexes first so a tag's digest is the one
/// `docker pull` records, whatever the platform.
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json";

/// `sha256:<hex>` of a body, the way registries compute manifest digests.
pub fn sha256_digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut out = String::with_capacity(71);
    out.push_str("sha256:");
    for b in hash {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Whether a digest string has the only shape dum trusts.
pub fn is_sha256_digest(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Whether a media type is a multi-platform index.
pub fn is_index(media_type: &str) -> bool {
    let mt = media_type.split(';').next().unwrap_or("").trim();
    mt == OCI_INDEX || mt == DOCKER_LIST
}

/// Parses a `/tags/list` answer. `null` tags (an empty repository) is an empty list.
pub fn parse_tag_list(body: &[u8]) -> Result<Vec<String>> {
    let mut tags = Vec::new();
    scan_tag_list(body, &mut |t| tags.push(t.to_string()))
        .map_err(|e| anyhow::anyhow!("{e}{}", html_hint(body)))?;
    Ok(tags)
}

/// Parses a `/tags/list` answer from `reader`, handing each tag to `each` as it is read
/// and returning how many there were: a repository with thousands of tags never sits in
/// memory whole, neither as bytes nor as strings; the caller keeps what it needs.
/// `null` tags (an empty repository) is an empty list.
pub fn scan_tag_list<R: std::io::Read>(reader: R, each: &mut dyn FnMut(&str)) -> Result<usize> {
    // serde_json reads byte by byte; a small buffer in front saves most of those calls
    // into the HTTP body reader, which has its own buffer behind it.
    let mut de =
        serde_json::Deserializer::from_reader(std::io::BufReader::with_capacity(1024, reader));
    let total = serde::de::DeserializeSeed::deserialize(TagListSeed { each }, &mut de)
        .and_then(|total| de.end().map(|()| total))
        .map_err(|e| {
            if e.is_io() {
                // The reader's own error, so callers can tell a broken connection or an
                // oversized answer from a malformed list.
                anyhow::Error::new(std::io::Error::from(e))
            } else {
                anyhow::anyhow!("the tag list is not the JSON the distribution API specifies ({e})")
            }
        })?;
    Ok(total)
}

/// `{"name": …, "tags": [...]}`, every other field ignored.
struct TagListSeed<'a> {
    each: &'a mut dyn FnMut(&str),
}

impl<'de> serde::de::DeserializeSeed<'de> for TagListSeed<'_> {
    type Value = usize;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for TagListSeed<'_> {
    type Value = usize;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a tag list object")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<usize, A::Error> {
        let mut total = 0;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "tags" {
                total += map.next_value_seed(TagsSeed {
                    each: &mut *self.each,
                })?;
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(total)
    }
}

/// The `tags` array (or `null`).
struct TagsSeed<'a> {
    each: &'a mut dyn FnMut(&str),
}

impl<'de> serde::de::DeserializeSeed<'de> for TagsSeed<'_> {
    type Value = usize;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> serde::de::Visitor<'de> for TagsSeed<'_> {
    type Value = usize;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of tags or null")
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<usize, E> {
        Ok(0)
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<usize, E> {
        Ok(0)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_seq(self)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let mut total = 0;
        while seq
            .next_element_seed(TagSeed {
                each: &mut *self.each,
            })?
            .is_some()
        {
            total += 1;
        }
        Ok(total)
    }
}

/// One tag, handed over from the parser's scratch buffer without a copy.
struct TagSeed<'a> {
    each: &'a mut dyn FnMut(&str),
}

impl<'de> serde::de::DeserializeSeed<'de> for TagSeed<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for TagSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a tag")
    }
    fn visit_str<E: serde::de::Error>(self, tag: &str) -> Result<(), E> {
        (self.each)(tag);
        Ok(())
    }
}

/// What [`html_hint`] adds to an error.
pub const HTML_HINT: &str =
    " (the registry answered with an HTML page: a proxy or login page in front of it?)";

/// " (the registry answered with an HTML page)" when a body looks like HTML: the usual
/// sign of a proxy or login page in front of the registry.
pub fn html_hint(body: &[u8]) -> &'static str {
    let start: String = String::from_utf8_lossy(&body[..body.len().min(256)])
        .trim_start()
        .to_lowercase();
    if start.starts_with("<!doctype html") || start.starts_with("<html") {
        HTML_HINT
    } else {
        ""
    }
}

/// One entry of an index.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IndexEntry {
    /// The platform manifest's digest.
    pub digest: String,
    /// Its platform, when given.
    #[serde(default)]
    pub platform: Option<Platform>,
}

/// A platform of an index entry.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct Platform {
    /// e.g. `amd64`.
    #[serde(default)]
    pub architecture: String,
    /// e.g. `linux`.
    #[serde(default)]
    pub os: String,
    /// e.g. `v8`; empty when none.
    #[serde(default)]
    pub variant: String,
}

/// A manifest as a registry served it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Its media type (the `Content-Type` of the answer, else the document's own).
    pub media_type: String,
    /// `sha256:…` of its bytes.
    pub digest: String,
    /// The bytes, as served (digests are over these).
    pub body: Vec<u8>,
}

/// An OCI descriptor as indexes, manifests and the referrers API list them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The media type of what it points at.
    #[serde(default)]
    pub media_type: String,
    /// `sha256:…` of what it points at.
    pub digest: String,
    /// Its size in bytes.
    #[serde(default)]
    pub size: u64,
    /// The artifact type (referrers API, OCI 1.1).
    #[serde(default)]
    pub artifact_type: Option<String>,
    /// Its annotations.
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, String>,
    /// For an index entry: its platform.
    #[serde(default)]
    pub platform: Option<Platform>,
}

/// The parts of an index or image manifest dum reads.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    /// The document's own media type (optional in OCI).
    #[serde(default)]
    pub media_type: Option<String>,
    /// An index's entries.
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    /// An image manifest's config.
    #[serde(default)]
    pub config: Option<Descriptor>,
    /// An image manifest's layers.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// The artifact type (OCI 1.1).
    #[serde(default)]
    pub artifact_type: Option<String>,
    /// What this manifest refers to (OCI 1.1 `subject`).
    #[serde(default)]
    pub subject: Option<Descriptor>,
    /// Its annotations.
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, String>,
}

impl Manifest {
    /// The manifest's JSON document; an error names what it is not.
    pub fn document(&self) -> Result<Document> {
        serde_json::from_slice(&self.body).map_err(|e| {
            anyhow::anyhow!(
                "manifest {} is not a valid manifest document ({e}){}",
                self.digest,
                html_hint(&self.body)
            )
        })
    }

    /// Whether it is a multi-platform index.
    pub fn is_index(&self) -> bool {
        is_index(&self.media_type)
    }
}

#[derive(Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Vec<IndexEntry>,
}

/// The child manifests of an index body. A body that is not an index has none.
pub fn index_entries(body: &[u8]) -> Result<Vec<IndexEntry>> {
    let index: Index = serde_json::from_slice(body)
        .map_err(|e| anyhow::anyhow!("the manifest is not valid JSON ({e}){}", html_hint(body)))?;
    Ok(index.manifests)
}

/// The `rel="next"` target of a `Link` header, if any.
pub fn next_link(link: &str) -> Option<String> {
    for part in link.split(',') {
        let part = part.trim();
        let Some(rest) = part.strip_prefix('<') else {
            continue;
        };
        let Some(end) = rest.find('>') else { continue };
        let target = &rest[..end];
        let params = &rest[end + 1..];
        let is_next = params.split(';').any(|p| {
            let p = p.trim().to_ascii_lowercase();
            p == "rel=\"next\"" || p == "rel=next"
        });
        if is_next {
            return Some(target.to_string());
        }
    }
    None
}

/// Resolves a `Link` target against the registry's base URL (`scheme://host`).
/// Only same-origin targets are followed: a link to another host is refused.
pub fn resolve_link(base: &str, target: &str) -> Result<String> {
    if target.starts_with('/') {
        return Ok(format!("{base}{target}"));
    }
    if target.starts_with(base) && target[base.len()..].starts_with('/') {
        return Ok(target.to_string());
    }
    if target.contains("://") {
        bail!("the registry's next-page link points to another host ({target})");
    }
    Ok(format!("{base}/{target}"))
}

/// Validates a digest header value.
pub fn checked_digest(value: &str, url: &str) -> Result<String> {
    let value = value.trim();
    if is_sha256_digest(value) {
        Ok(value.to_string())
    } else {
        Err(anyhow::anyhow!(
            "{url} answered with an invalid digest {value:?}"
        ))
        .context("registry sent a Docker-Content-Digest dum cannot use")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_bytes() {
        assert_eq!(
            sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(is_sha256_digest(&sha256_digest(b"x")));
        for bad in [
            "",
            "sha256:",
            "sha256:XYZ",
            "md5:abc",
            &format!("sha256:{}", "A".repeat(64)),
        ] {
            assert!(!is_sha256_digest(bad), "{bad}");
        }
    }

    #[test]
    fn tag_lists() {
        let cases: &[(&str, Option<&[&str]>)] = &[
            (r#"{"name":"a/b","tags":["1","2"]}"#, Some(&["1", "2"])),
            (r#"{"name":"a/b","tags":null}"#, Some(&[])),
            (r#"{"name":"a/b"}"#, Some(&[])),
            ("<html><body>login</body></html>", None),
            (r#"{"tags":"x"}"#, None),
            ("", None),
        ];
        for (body, want) in cases {
            let got = parse_tag_list(body.as_bytes()).ok();
            let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(got, want, "{body}");
        }
        let err = parse_tag_list(b"<!DOCTYPE html><html>")
            .unwrap_err()
            .to_string();
        assert!(err.contains("HTML"), "{err}");
    }

    #[test]
    fn tag_scans_hand_over_every_tag_and_count_them() {
        let cases: &[(&str, Option<&[&str]>)] = &[
            (
                r#"{"name":"a","tags":["1.0","latest","2.0"]}"#,
                Some(&["1.0", "latest", "2.0"]),
            ),
            // Fields in any order, unknown ones (objects, arrays) skipped.
            (
                r#"{"tags":["3"],"name":"a","extra":{"k":[1,{"x":null}]}}"#,
                Some(&["3"]),
            ),
            // Escapes are decoded before the tag is handed over.
            (r#"{"tags":["1\u002e0","v\u0031"]}"#, Some(&["1.0", "v1"])),
            (r#"{"tags":null}"#, Some(&[])),
            (r#"{"tags":[]}"#, Some(&[])),
            (r#"{"tags":[1]}"#, None),
            (r#"{"tags":["1"]} trailing"#, None),
            (r#"{"tags":["1""#, None),
        ];
        for (body, want) in cases {
            let mut seen = Vec::new();
            let got = scan_tag_list(body.as_bytes(), &mut |t| seen.push(t.to_string()))
                .ok()
                .map(|total| (total, seen));
            let want = want.map(|w| (w.len(), w.iter().map(|s| s.to_string()).collect()));
            assert_eq!(got, want, "{body}");
        }
    }

    #[test]
    fn a_large_tag_list_streams_through_a_small_reader() {
        // One byte per read: the scanner must not depend on how the body is chunked.
        struct Trickle<'a>(&'a [u8]);
        impl std::io::Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let Some((first, rest)) = self.0.split_first() else {
                    return Ok(0);
                };
                buf[0] = *first;
                self.0 = rest;
                Ok(1)
            }
        }
        let tags: Vec<String> = (0..3000).map(|i| format!("1.{i}")).collect();
        let body = serde_json::json!({"name": "a", "tags": tags}).to_string();
        let mut kept = Vec::new();
        let total = scan_tag_list(Trickle(body.as_bytes()), &mut |t| {
            if t.ends_with('7') {
                kept.push(t.to_string());
            }
        })
        .unwrap();
        assert_eq!(total, 3000);
        assert_eq!(kept.len(), 300);
        assert_eq!(kept[0], "1.7");
    }

    #[test]
    fn link_headers() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                r#"</v2/a/tags/list?last=x&n=100>; rel="next""#,
                Some("/v2/a/tags/list?last=x&n=100"),
            ),
            (
                r#"<https://r.io/v2/a/tags/list?n=2&last=b>; rel=next"#,
                Some("https://r.io/v2/a/tags/list?n=2&last=b"),
            ),
            (r#"</prev>; rel="prev", </next>; rel="next""#, Some("/next")),
            (r#"</x>; rel="prev""#, None),
            ("garbage", None),
            ("", None),
        ];
        for (header, want) in cases {
            assert_eq!(next_link(header).as_deref(), *want, "{header}");
        }
    }

    #[test]
    fn link_resolution_stays_on_the_registry() {
        let base = "http://127.0.0.1:5000";
        assert_eq!(
            resolve_link(base, "/v2/x?n=1").unwrap(),
            "http://127.0.0.1:5000/v2/x?n=1"
        );
        assert_eq!(
            resolve_link(base, "http://127.0.0.1:5000/v2/x").unwrap(),
            "http://127.0.0.1:5000/v2/x"
        );
        assert!(resolve_link(base, "http://evil.example/v2/x").is_err());
        assert!(resolve_link(base, "http://127.0.0.1:50001/v2/x").is_err());
    }

    #[test]
    fn index_children() {
        let body = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"digest":"sha256:aa","platform":{"architecture":"amd64","os":"linux"}},{"digest":"sha256:bb"}]}"#;
        let entries = index_entries(body).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].platform.as_ref().unwrap().architecture, "amd64");
        assert!(index_entries(b"{}").unwrap().is_empty());
        assert!(is_index(
            "application/vnd.oci.image.index.v1+json; charset=utf-8"
        ));
        assert!(!is_index(DOCKER_V2));
    }
}
