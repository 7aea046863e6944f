//! `cosign_key`: the candidate digest of an update must carry a cosign signature that
//! verifies with the configured public key before dum pulls it.
//!
//! What is verified equals `cosign verify --key K --insecure-ignore-tlog`: the
//! signature over the digest, with the key, and nothing from a transparency log or
//! certificate. Two layouts are read:
//! - legacy: the tag `sha256-<hex>.sig` in the image's repository, a manifest whose
//!   simple-signing layers carry the base64 signature in the annotation
//!   `dev.cosignproject.cosign/signature`; the payload names the digest.
//! - bundle (cosign 3's default): a Sigstore bundle v0.3 artifact whose `subject` is
//!   the digest, listed by the OCI referrers API (or the `sha256-<hex>` fallback tag's
//!   index on registries without it); a DSSE envelope over an in-toto statement whose
//!   subject digest is the digest.
//!
//! The checks are pure (bytes in, a reason out); [`verify`] alone talks to the registry,
//! with a bounded number of requests.

use std::path::Path;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::config::cosign::Key;
use crate::image::reference::Reference;
use crate::registry::Registry;
use crate::registry::manifest::Descriptor;

/// The artifact type (and layer media type) of a Sigstore bundle v0.3.
pub const BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The media type of a legacy signature layer (a simple-signing payload).
pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation holding a legacy signature (base64 of ASN.1 DER).
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// `critical.type` of a cosign simple-signing payload.
const SIMPLE_SIGNING_TYPE: &str = "cosign container image signature";
/// The DSSE payload type of an in-toto statement.
const IN_TOTO: &str = "application/vnd.in-toto+json";
/// The predicate type cosign 3 signs images with: other predicates in a bundle are
/// attestations (provenance, SBOMs), not signatures of the image.
const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";
/// Signature layers and bundles tried per layout at most: a repository stuffed with
/// signatures costs a bounded number of requests.
const MAX_TRIED: usize = 5;

/// Which layout a verified signature was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// The `sha256-<hex>.sig` tag with simple-signing payloads.
    Legacy,
    /// A Sigstore bundle v0.3 referrer.
    Bundle,
}

impl Layout {
    /// Its name, as the JSON output spells it.
    pub fn name(self) -> &'static str {
        match self {
            Layout::Legacy => "legacy",
            Layout::Bundle => "bundle",
        }
    }
}

/// What the signature check of one candidate digest found (the `signature` field of a
/// check row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signature {
    /// The digest that was checked (the one an update pulls).
    pub digest: String,
    /// Whether a signature over it verified with the key.
    pub verified: bool,
    /// Where the verified signature was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layout: Option<Layout>,
    /// Why none verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Signature {
    fn verified(digest: &str, layout: Layout) -> Signature {
        Signature {
            digest: digest.to_string(),
            verified: true,
            layout: Some(layout),
            reason: None,
        }
    }

    /// A check that blocks the update, for `reason`.
    pub fn blocked(digest: &str, reason: impl Into<String>) -> Signature {
        Signature {
            digest: digest.to_string(),
            verified: false,
            layout: None,
            reason: Some(reason.into()),
        }
    }
}

/// What one layout's search came to.
#[derive(Debug, PartialEq, Eq)]
enum Found {
    Verified,
    /// No signature of this layout exists.
    Absent,
    /// Signatures exist (or could not be read), none verified: why.
    Failed(String),
}

/// Finds the cosign signatures of `digest` in `image`'s repository and checks them with
/// the key at `key`: the legacy tag first (one request when absent), then bundles.
/// Never an error: anything that stops a verification is the reason it is blocked.
pub fn verify(registry: &dyn Registry, image: &Reference, digest: &str, key: &Path) -> Signature {
    let key = match Key::read(key) {
        Ok(k) => k,
        Err(e) => return Signature::blocked(digest, e),
    };
    let mut reasons = Vec::new();
    // In turn, not both at once: the second search runs only when the first did not
    // verify, so a signed image costs the requests of its own layout alone.
    let searches: [(Layout, &dyn Fn() -> Found); 2] = [
        (Layout::Legacy, &|| legacy(registry, image, digest, &key)),
        (Layout::Bundle, &|| bundles(registry, image, digest, &key)),
    ];
    for (layout, search) in searches {
        match search() {
            Found::Verified => return Signature::verified(digest, layout),
            Found::Absent => {}
            Found::Failed(reason) => reasons.push(reason),
        }
    }
    if reasons.is_empty() {
        Signature::blocked(digest, format!("no cosign signature found for {digest}"))
    } else {
        Signature::blocked(digest, reasons.join("; "))
    }
}

/// The tag a layout keeps next to `digest`: `sha256-<hex>` plus `suffix`.
fn tag_for(digest: &str, suffix: &str) -> String {
    format!("{}{suffix}", digest.replacen(':', "-", 1))
}

/// The legacy layout: the `sha256-<hex>.sig` tag's simple-signing layers.
fn legacy(registry: &dyn Registry, image: &Reference, digest: &str, key: &Key) -> Found {
    let tag = tag_for(digest, ".sig");
    let manifest = match registry.manifest(image, &tag) {
        Ok(Some(m)) => m,
        Ok(None) => return Found::Absent,
        Err(e) => return Found::Failed(format!("cannot read the signature tag {tag}: {e:#}")),
    };
    let document = match manifest.document() {
        Ok(d) => d,
        Err(e) => return Found::Failed(format!("signature tag {tag}: {e:#}")),
    };
    let mut failures = Vec::new();
    let layers = document
        .layers
        .iter()
        .filter(|l| l.media_type == SIMPLE_SIGNING);
    for layer in layers.take(MAX_TRIED) {
        let Some(signature) = layer.annotations.get(SIGNATURE_ANNOTATION) else {
            failures.push(format!(
                "signature layer {} has no {SIGNATURE_ANNOTATION} annotation",
                layer.digest
            ));
            continue;
        };
        let payload = match registry.blob(image, &layer.digest) {
            Ok(Some(p)) => p,
            Ok(None) => {
                failures.push(format!(
                    "the signature payload {} is missing from the registry",
                    layer.digest
                ));
                continue;
            }
            Err(e) => {
                failures.push(format!("cannot read the signature payload: {e:#}"));
                continue;
            }
        };
        match check_simple_signing(key, digest, &payload, signature) {
            Ok(()) => return Found::Verified,
            Err(reason) => failures.push(reason),
        }
    }
    if failures.is_empty() {
        failures.push(format!("signature tag {tag} holds no simple-signing layer"));
    }
    Found::Failed(format!("legacy signature: {}", failures.join("; ")))
}

/// The bundle layout: referrers of `digest` with the bundle artifact type, from the
/// referrers API or, without one, the `sha256-<hex>` fallback tag.
fn bundles(registry: &dyn Registry, image: &Reference, digest: &str, key: &Key) -> Found {
    let listed = match registry.referrers(image, digest, Some(BUNDLE_V03)) {
        Ok(Some(listed)) => listed,
        Ok(None) => {
            let tag = tag_for(digest, "");
            match registry.manifest(image, &tag) {
                Ok(Some(index)) => match index.document() {
                    Ok(d) => d.manifests,
                    Err(e) => return Found::Failed(format!("referrers tag {tag}: {e:#}")),
                },
                Ok(None) => return Found::Absent,
                Err(e) => {
                    return Found::Failed(format!("cannot read the referrers tag {tag}: {e:#}"));
                }
            }
        }
        Err(e) => return Found::Failed(format!("cannot list the referrers of {digest}: {e:#}")),
    };
    let candidates: Vec<&Descriptor> = listed
        .iter()
        .filter(|d| d.artifact_type.as_deref() == Some(BUNDLE_V03))
        .take(MAX_TRIED)
        .collect();
    if candidates.is_empty() {
        return Found::Absent;
    }
    let mut failures = Vec::new();
    for candidate in candidates {
        match bundle(registry, image, digest, key, &candidate.digest) {
            Ok(()) => return Found::Verified,
            Err(reason) => failures.push(reason),
        }
    }
    Found::Failed(format!("bundle: {}", failures.join("; ")))
}

/// One bundle artifact: its manifest must name `digest` as subject, its bundle layer
/// must verify.
fn bundle(
    registry: &dyn Registry,
    image: &Reference,
    digest: &str,
    key: &Key,
    artifact: &str,
) -> Result<(), String> {
    let manifest = registry
        .manifest(image, artifact)
        .map_err(|e| format!("cannot read the bundle manifest {artifact}: {e:#}"))?
        .ok_or_else(|| format!("the bundle manifest {artifact} is missing from the registry"))?;
    let document = manifest.document().map_err(|e| format!("{e:#}"))?;
    let subject = document.subject.as_ref().map(|s| s.digest.as_str());
    if subject != Some(digest) {
        return Err(format!(
            "bundle {artifact} refers to {}, not {digest}",
            subject.unwrap_or("nothing")
        ));
    }
    let layer = document
        .layers
        .iter()
        .find(|l| l.media_type == BUNDLE_V03)
        .ok_or_else(|| format!("bundle {artifact} has no {BUNDLE_V03} layer"))?;
    let bytes = registry
        .blob(image, &layer.digest)
        .map_err(|e| format!("cannot read the bundle {}: {e:#}", layer.digest))?
        .ok_or_else(|| format!("the bundle {} is missing from the registry", layer.digest))?;
    check_bundle(key, digest, &bytes)
}

/// Checks a legacy signature: `signature_b64` (the layer annotation) over `payload`
/// with `key`, and the payload's claims: the cosign type and `digest`.
pub fn check_simple_signing(
    key: &Key,
    digest: &str,
    payload: &[u8],
    signature_b64: &str,
) -> Result<(), String> {
    let signature = base64::engine::general_purpose::STANDARD
        .decode(signature_b64.trim())
        .map_err(|_| "the signature annotation is not base64".to_string())?;
    if !key.verifies(payload, &signature) {
        return Err(
            "the signature does not verify with the key (another key, or an altered payload)"
                .into(),
        );
    }
    #[derive(Deserialize)]
    struct Payload {
        critical: Critical,
    }
    #[derive(Deserialize)]
    struct Critical {
        #[serde(rename = "type")]
        kind: String,
        image: PayloadImage,
    }
    #[derive(Deserialize)]
    struct PayloadImage {
        #[serde(rename = "docker-manifest-digest")]
        digest: String,
    }
    let claims: Payload = serde_json::from_slice(payload)
        .map_err(|e| format!("the signed payload is not a simple-signing document ({e})"))?;
    if claims.critical.kind != SIMPLE_SIGNING_TYPE {
        return Err(format!(
            "the signed payload's type is {:?}, not {SIMPLE_SIGNING_TYPE:?}",
            claims.critical.kind
        ));
    }
    if claims.critical.image.digest != digest {
        return Err(format!(
            "the signature is for {}, not {digest}",
            claims.critical.image.digest
        ));
    }
    Ok(())
}

/// DSSE's pre-authentication encoding: what a DSSE signature is over.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// Checks a Sigstore bundle v0.3: a DSSE envelope over an in-toto statement, one of
/// whose signatures verifies with `key`, whose predicate is cosign's image signature
/// and whose subject digest is `digest`.
pub fn check_bundle(key: &Key, digest: &str, bundle: &[u8]) -> Result<(), String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Bundle {
        media_type: String,
        dsse_envelope: Option<Envelope>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Envelope {
        payload: String,
        payload_type: String,
        #[serde(default)]
        signatures: Vec<EnvelopeSignature>,
    }
    #[derive(Deserialize)]
    struct EnvelopeSignature {
        sig: String,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Statement {
        #[serde(rename = "_type")]
        kind: String,
        #[serde(default)]
        subject: Vec<Subject>,
        predicate_type: String,
    }
    #[derive(Deserialize)]
    struct Subject {
        #[serde(default)]
        digest: std::collections::BTreeMap<String, String>,
    }
    let b64 = &base64::engine::general_purpose::STANDARD;
    let bundle: Bundle = serde_json::from_slice(bundle)
        .map_err(|e| format!("the bundle is not a Sigstore bundle ({e})"))?;
    if bundle.media_type != BUNDLE_V03 {
        return Err(format!(
            "the bundle's media type is {:?}, not {BUNDLE_V03:?}",
            bundle.media_type
        ));
    }
    let envelope = bundle
        .dsse_envelope
        .ok_or("the bundle holds no DSSE envelope")?;
    if envelope.payload_type != IN_TOTO {
        return Err(format!(
            "the envelope's payload type is {:?}, not {IN_TOTO:?}",
            envelope.payload_type
        ));
    }
    let payload = b64
        .decode(envelope.payload.trim())
        .map_err(|_| "the envelope's payload is not base64".to_string())?;
    let signed = pae(&envelope.payload_type, &payload);
    let verifies = envelope.signatures.iter().any(|s| {
        b64.decode(s.sig.trim())
            .is_ok_and(|sig| key.verifies(&signed, &sig))
    });
    if !verifies {
        return Err(
            "the envelope's signature does not verify with the key (another key, or an altered statement)"
                .into(),
        );
    }
    let statement: Statement = serde_json::from_slice(&payload)
        .map_err(|e| format!("the signed statement is not an in-toto statement ({e})"))?;
    if !statement.kind.starts_with("https://in-toto.io/Statement/") {
        return Err(format!(
            "the signed statement's type is {:?}, not an in-toto statement",
            statement.kind
        ));
    }
    if statement.predicate_type != COSIGN_SIGN_PREDICATE {
        return Err(format!(
            "the signed statement is a {:?} attestation, not a cosign signature ({COSIGN_SIGN_PREDICATE})",
            statement.predicate_type
        ));
    }
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    let signed: Vec<&str> = statement
        .subject
        .iter()
        .filter_map(|s| s.digest.get("sha256").map(String::as_str))
        .collect();
    if !signed.contains(&hex) {
        return Err(format!(
            "the signature is for sha256:{}, not {digest}",
            signed.first().copied().unwrap_or("nothing")
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::registry::manifest::{IndexEntry, Manifest, sha256_digest};
    use p256::ecdsa::signature::Signer as _;
    use p256::ecdsa::{Signature as EcdsaSignature, SigningKey};
    use p256::pkcs8::EncodePublicKey as _;
    use serde_json::json;
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const D: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const OTHER: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    fn signer(seed: u8) -> SigningKey {
        SigningKey::from_slice(&[seed; 32]).unwrap()
    }

    fn pem(key: &SigningKey) -> String {
        p256::PublicKey::from(key.verifying_key())
            .to_public_key_pem(p256::pkcs8::LineEnding::LF)
            .unwrap()
    }

    fn key(seed: u8) -> Key {
        Key::from_pem(&pem(&signer(seed))).unwrap()
    }

    fn sign(key: &SigningKey, message: &[u8]) -> String {
        let sig: EcdsaSignature = key.sign(message);
        base64::engine::general_purpose::STANDARD.encode(sig.to_der().as_bytes())
    }

    fn simple_payload(digest: &str, kind: &str) -> Vec<u8> {
        json!({"critical": {"identity": {"docker-reference": "r/app"},
            "image": {"docker-manifest-digest": digest}, "type": kind}, "optional": null})
        .to_string()
        .into_bytes()
    }

    fn statement(digest: &str, predicate: &str) -> Vec<u8> {
        json!({"_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "r/app", "digest": {"sha256": digest.trim_start_matches("sha256:")}}],
            "predicateType": predicate, "predicate": {}})
        .to_string()
        .into_bytes()
    }

    fn bundle_bytes(
        signing: &SigningKey,
        payload_type: &str,
        payload: &[u8],
        signed: &[u8],
    ) -> Vec<u8> {
        let b64 = &base64::engine::general_purpose::STANDARD;
        json!({"mediaType": BUNDLE_V03,
            "verificationMaterial": {"publicKey": {"hint": ""}},
            "dsseEnvelope": {"payload": b64.encode(payload), "payloadType": payload_type,
                "signatures": [{"sig": sign(signing, &pae(payload_type, signed)), "keyid": ""}]}})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn keys_parse_from_pem_only() {
        assert!(Key::from_pem(&pem(&signer(7))).is_ok());
        for bad in [
            "",
            "hello",
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        ] {
            let err = Key::from_pem(bad).unwrap_err();
            assert!(err.contains("P-256"), "{bad}: {err}");
        }
        let err = Key::read(Path::new("/nonexistent/cosign.pub")).unwrap_err();
        assert!(err.contains("/nonexistent/cosign.pub"), "{err}");
    }

    #[test]
    fn pae_matches_the_dsse_spec() {
        // The example of the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn legacy_signatures() {
        let good = signer(7);
        let wrong = signer(8);
        let payload = simple_payload(D, SIMPLE_SIGNING_TYPE);
        let mut tampered = payload.clone();
        tampered.push(b' ');
        let cases: Vec<(&str, Vec<u8>, String, Option<&str>)> = vec![
            ("good", payload.clone(), sign(&good, &payload), None),
            (
                "wrong key",
                payload.clone(),
                sign(&wrong, &payload),
                Some("does not verify"),
            ),
            (
                "tampered",
                tampered,
                sign(&good, &payload),
                Some("does not verify"),
            ),
            (
                "other digest",
                simple_payload(OTHER, SIMPLE_SIGNING_TYPE),
                sign(&good, &simple_payload(OTHER, SIMPLE_SIGNING_TYPE)),
                Some("is for sha256:2222"),
            ),
            (
                "other type",
                simple_payload(D, "atomic container signature"),
                sign(&good, &simple_payload(D, "atomic container signature")),
                Some("type"),
            ),
            (
                "not base64",
                payload.clone(),
                "***".into(),
                Some("not base64"),
            ),
            (
                "not json",
                b"x".to_vec(),
                sign(&good, b"x"),
                Some("not a simple-signing"),
            ),
        ];
        for (name, payload, signature, want) in cases {
            let got = check_simple_signing(&key(7), D, &payload, &signature);
            match want {
                None => assert_eq!(got, Ok(()), "{name}"),
                Some(w) => assert!(got.as_ref().unwrap_err().contains(w), "{name}: {got:?}"),
            }
        }
    }

    #[test]
    fn bundles_check_envelope_statement_and_subject() {
        let good = signer(7);
        let wrong = signer(8);
        let st = statement(D, COSIGN_SIGN_PREDICATE);
        let cases: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
            ("good", bundle_bytes(&good, IN_TOTO, &st, &st), None),
            (
                "wrong key",
                bundle_bytes(&wrong, IN_TOTO, &st, &st),
                Some("does not verify"),
            ),
            (
                "tampered",
                bundle_bytes(
                    &good,
                    IN_TOTO,
                    &statement(OTHER, COSIGN_SIGN_PREDICATE),
                    &st,
                ),
                Some("does not verify"),
            ),
            (
                "other digest",
                bundle_bytes(
                    &good,
                    IN_TOTO,
                    &statement(OTHER, COSIGN_SIGN_PREDICATE),
                    &statement(OTHER, COSIGN_SIGN_PREDICATE),
                ),
                Some("is for sha256:2222"),
            ),
            (
                "attestation",
                bundle_bytes(
                    &good,
                    IN_TOTO,
                    &statement(D, "https://slsa.dev/provenance/v1"),
                    &statement(D, "https://slsa.dev/provenance/v1"),
                ),
                Some("attestation"),
            ),
            (
                "payload type",
                bundle_bytes(&good, "text/plain", &st, &st),
                Some("payload type"),
            ),
            (
                "no envelope",
                json!({"mediaType": BUNDLE_V03}).to_string().into_bytes(),
                Some("no DSSE envelope"),
            ),
            (
                "not json",
                b"<html>".to_vec(),
                Some("not a Sigstore bundle"),
            ),
        ];
        for (name, bytes, want) in cases {
            let got = check_bundle(&key(7), D, &bytes);
            match want {
                None => assert_eq!(got, Ok(()), "{name}"),
                Some(w) => assert!(got.as_ref().unwrap_err().contains(w), "{name}: {got:?}"),
            }
        }
    }

    /// A registry in memory: manifests by tag and digest, blobs, an optional referrers
    /// API; counts requests.
    #[derive(Default)]
    struct Memory {
        manifests: BTreeMap<String, Vec<u8>>,
        blobs: BTreeMap<String, Vec<u8>>,
        referrers: Option<Vec<Descriptor>>,
        requests: AtomicUsize,
    }

    impl Memory {
        fn put_blob(&mut self, bytes: &[u8]) -> String {
            let digest = sha256_digest(bytes);
            self.blobs.insert(digest.clone(), bytes.to_vec());
            digest
        }
        fn put_manifest(&mut self, tag: Option<&str>, doc: serde_json::Value) -> String {
            let bytes = doc.to_string().into_bytes();
            let digest = sha256_digest(&bytes);
            self.manifests.insert(digest.clone(), bytes.clone());
            if let Some(t) = tag {
                self.manifests.insert(t.to_string(), bytes);
            }
            digest
        }
    }

    impl Registry for Memory {
        fn tags(&self, _: &Reference) -> anyhow::Result<Vec<String>> {
            unreachable!()
        }
        fn digest(&self, _: &Reference, _: &str) -> anyhow::Result<Option<String>> {
            unreachable!()
        }
        fn index_children(
            &self,
            _: &Reference,
            _: &str,
        ) -> anyhow::Result<Option<Vec<IndexEntry>>> {
            unreachable!()
        }
        fn manifest(&self, _: &Reference, reference: &str) -> anyhow::Result<Option<Manifest>> {
            self.requests.fetch_add(1, Ordering::Relaxed);
            Ok(self.manifests.get(reference).map(|body| Manifest {
                media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                digest: sha256_digest(body),
                body: body.clone(),
            }))
        }
        fn blob(&self, _: &Reference, digest: &str) -> anyhow::Result<Option<Vec<u8>>> {
            self.requests.fetch_add(1, Ordering::Relaxed);
            Ok(self.blobs.get(digest).cloned())
        }
        fn referrers(
            &self,
            _: &Reference,
            _: &str,
            _: Option<&str>,
        ) -> anyhow::Result<Option<Vec<Descriptor>>> {
            self.requests.fetch_add(1, Ordering::Relaxed);
            Ok(self.referrers.clone())
        }
        fn requests(&self) -> usize {
            self.requests.load(Ordering::Relaxed)
        }
    }

    fn legacy_into(registry: &mut Memory, signing: &SigningKey, digest: &str) {
        let payload = simple_payload(digest, SIMPLE_SIGNING_TYPE);
        let layer = registry.put_blob(&payload);
        registry.put_manifest(
            Some(&tag_for(D, ".sig")),
            json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": layer, "size": 1},
                "layers": [{"mediaType": SIMPLE_SIGNING, "digest": layer, "size": payload.len(),
                    "annotations": {SIGNATURE_ANNOTATION: sign(signing, &payload)}}]}),
        );
    }

    /// A bundle artifact for `subject`; returns its descriptor as referrers list it.
    fn bundle_into(registry: &mut Memory, signing: &SigningKey, subject: &str) -> Descriptor {
        let st = statement(D, COSIGN_SIGN_PREDICATE);
        let bytes = bundle_bytes(signing, IN_TOTO, &st, &st);
        let layer = registry.put_blob(&bytes);
        let digest = registry.put_manifest(
            None,
            json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "artifactType": BUNDLE_V03,
                "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2},
                "layers": [{"mediaType": BUNDLE_V03, "digest": layer, "size": bytes.len()}],
                "subject": {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": subject, "size": 1}}),
        );
        Descriptor {
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            digest,
            artifact_type: Some(BUNDLE_V03.into()),
            ..Descriptor::default()
        }
    }

    fn key_file(seed: u8) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), pem(&signer(seed))).unwrap();
        file
    }

    fn run(registry: &Memory, seed: u8) -> (Signature, usize) {
        let image = Reference::parse("r.io/app").unwrap();
        let file = key_file(seed);
        let got = verify(registry, &image, D, file.path());
        (got, registry.requests())
    }

    #[test]
    fn legacy_tag_verified_in_two_requests() {
        let mut registry = Memory::default();
        legacy_into(&mut registry, &signer(7), D);
        let (got, requests) = run(&registry, 7);
        assert_eq!(got, Signature::verified(D, Layout::Legacy));
        assert_eq!(requests, 2, "the .sig manifest and its payload");
    }

    #[test]
    fn bundles_through_the_referrers_api() {
        let mut registry = Memory::default();
        let listed = bundle_into(&mut registry, &signer(7), D);
        registry.referrers = Some(vec![listed]);
        let (got, requests) = run(&registry, 7);
        assert_eq!(got, Signature::verified(D, Layout::Bundle));
        // .sig tag (404), referrers, bundle manifest, bundle blob.
        assert_eq!(requests, 4);
    }

    #[test]
    fn bundles_through_the_fallback_tag() {
        let mut registry = Memory::default();
        let listed = bundle_into(&mut registry, &signer(7), D);
        registry.put_manifest(
            Some(&tag_for(D, "")),
            json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": [{"mediaType": listed.media_type, "digest": listed.digest,
                    "size": 1, "artifactType": BUNDLE_V03}]}),
        );
        let (got, requests) = run(&registry, 7);
        assert_eq!(got, Signature::verified(D, Layout::Bundle));
        // .sig tag (404), referrers (none), fallback tag, bundle manifest, bundle blob.
        assert_eq!(requests, 5);
    }

    #[test]
    fn what_blocks() {
        let unsigned = Memory::default();
        let (got, requests) = run(&unsigned, 7);
        assert_eq!(
            got.reason.as_deref(),
            Some(format!("no cosign signature found for {D}").as_str())
        );
        assert_eq!(requests, 3, ".sig, referrers, fallback tag");

        let mut wrong = Memory::default();
        legacy_into(&mut wrong, &signer(8), D);
        let (got, _) = run(&wrong, 7);
        assert!(got.reason.unwrap().contains("does not verify"));

        let mut other = Memory::default();
        legacy_into(&mut other, &signer(7), OTHER);
        let (got, _) = run(&other, 7);
        assert!(got.reason.unwrap().contains("is for sha256:2222"));

        // A bundle artifact attached to another digest, listed for D all the same.
        let mut misfiled = Memory::default();
        let listed = bundle_into(&mut misfiled, &signer(7), OTHER);
        misfiled.referrers = Some(vec![listed]);
        let (got, _) = run(&misfiled, 7);
        assert!(got.reason.unwrap().contains("refers to sha256:2222"));

        let mut missing = Memory::default();
        legacy_into(&mut missing, &signer(7), D);
        missing.blobs.clear();
        let (got, _) = run(&missing, 7);
        assert!(got.reason.unwrap().contains("missing from the registry"));

        let registry = Memory::default();
        let image = Reference::parse("r.io/app").unwrap();
        let got = verify(&registry, &image, D, Path::new("/nonexistent/key.pub"));
        assert!(got.reason.unwrap().contains("cannot read the cosign key"));
        assert_eq!(registry.requests(), 0);
    }

    #[test]
    fn reports_serialize_as_documented() {
        assert_eq!(
            serde_json::to_value(Signature::verified(D, Layout::Bundle)).unwrap(),
            json!({"digest": D, "verified": true, "layout": "bundle"})
        );
        assert_eq!(
            serde_json::to_value(Signature::blocked(D, "unsigned")).unwrap(),
            json!({"digest": D, "verified": false, "reason": "unsigned"})
        );
    }
}
