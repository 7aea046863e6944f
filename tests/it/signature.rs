//! `cosign_key`: an update is applied only when its candidate digest (the index digest
//! the update pulls) carries a cosign signature that verifies with the key. Signatures
//! are made here with a fixed P-256 key (no cosign binary) and pushed to the local
//! registry in both layouts: the legacy `sha256-<hex>.sig` tag and a Sigstore bundle
//! v0.3 artifact listed by the `sha256-<hex>` referrers fallback tag (distribution 2.8
//! has no referrers API).

use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::EncodePublicKey as _;
use serde_json::{Value, json};

use crate::harness::image::push_index;
use crate::harness::{Container, Dum, Image, Pushed, Registry, registry};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const IN_TOTO: &str = "application/vnd.in-toto+json";

/// The fixed test keys: the one configured, and another.
fn signer(seed: u8) -> SigningKey {
    SigningKey::from_slice(&[seed; 32]).unwrap()
}

const KEY: u8 = 7;
const OTHER_KEY: u8 = 8;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn sign(seed: u8, message: &[u8]) -> String {
    let signature: Signature = signer(seed).sign(message);
    b64(signature.to_der().as_bytes())
}

/// Writes the public key of `seed` into `dum`'s folder as `cosign.pub`.
fn write_key(dum: &Dum, seed: u8) -> std::path::PathBuf {
    let pem = p256::PublicKey::from(signer(seed).verifying_key())
        .to_public_key_pem(p256::pkcs8::LineEnding::LF)
        .unwrap();
    let path = dum.dir().join("cosign.pub");
    std::fs::write(&path, pem).unwrap();
    path
}

/// An app with 1.0.0 running and 2.0.0 pushed as a multi-arch index (the digest that
/// is signed and checked); `(app, v1, index digest, amd64 child digest, container)`.
fn app(name: &str) -> (Image<'static>, Pushed, String, String, Container) {
    let image = Image::new(registry::anon(), name);
    let v1 = image.clone().version("1.0.0").build_and_push();
    let v2 = image
        .clone()
        .version("2.0.0")
        .label("v", "2")
        .keep_local(false)
        .build_and_push();
    let index = push_index(registry::anon(), image.repository(), "2.0.0", "2.0.0");
    let container = Container::run(name, &v1.reference, &[]);
    (image, v1, index, v2.digest, container)
}

fn config(image: &Image, key: Option<&std::path::Path>) -> Value {
    // A release-notes template: the link then costs no request, and every request
    // counted here is the signature's.
    let mut entry = json!({"image": image.name(), "regex": r"^[0-9]+\.[0-9]+\.[0-9]+$",
        "auto_update": true, "grace_seconds": 1, "health_timeout_seconds": 20,
        "release_notes": "https://example.com/{version}"});
    if let Some(key) = key {
        entry["cosign_key"] = json!(key);
    }
    json!({"images": [entry]})
}

/// The `simple-signing` payload cosign signs for `digest`.
fn simple_payload(repo: &str, digest: &str) -> Vec<u8> {
    json!({"critical": {"identity": {"docker-reference": repo},
        "image": {"docker-manifest-digest": digest},
        "type": "cosign container image signature"}, "optional": null})
    .to_string()
    .into_bytes()
}

/// Pushes (or replaces) the legacy `.sig` tag of `subject`: one simple-signing layer
/// holding `payload` with `signature` in its annotation.
fn push_legacy(reg: &Registry, repo: &str, subject: &str, payload: &[u8], signature: &str) {
    let layer = reg.put_blob(repo, payload);
    let config = reg.put_blob(repo, b"{}");
    let manifest = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
        "layers": [{"mediaType": SIMPLE_SIGNING, "digest": layer, "size": payload.len(),
            "annotations": {"dev.cosignproject.cosign/signature": signature}}]});
    let tag = format!("{}.sig", subject.replacen(':', "-", 1));
    reg.put_manifest(repo, &tag, OCI_MANIFEST, manifest.to_string().as_bytes());
}

fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// A Sigstore bundle v0.3 as cosign 3 writes it: a DSSE envelope over an in-toto
/// statement naming `statement_digest`, signed by `seed` over `signed` (the statement
/// itself unless a test tampers with it).
fn bundle(seed: u8, statement_digest: &str, tamper: bool) -> Vec<u8> {
    let statement = |digest: &str| {
        json!({"_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "app", "digest": {"sha256": digest.trim_start_matches("sha256:")}}],
            "predicateType": "https://sigstore.dev/cosign/sign/v1", "predicate": {}})
        .to_string()
        .into_bytes()
    };
    let payload = statement(statement_digest);
    let mut shown = payload.clone();
    if tamper {
        shown = String::from_utf8(shown)
            .unwrap()
            .replace("\"app\"", "\"evil\"")
            .into_bytes();
    }
    json!({"mediaType": BUNDLE,
        "verificationMaterial": {"publicKey": {"hint": "test"}},
        "dsseEnvelope": {"payload": b64(&shown), "payloadType": IN_TOTO,
            "signatures": [{"sig": sign(seed, &pae(IN_TOTO, &payload)), "keyid": ""}]}})
    .to_string()
    .into_bytes()
}

/// Pushes a bundle artifact whose `subject` is `subject` and (re)writes the referrers
/// fallback tag `sha256-<hex>` of `subject` to list it alone; returns the artifact's
/// manifest digest.
fn push_bundle(reg: &Registry, repo: &str, subject: &str, bundle: &[u8]) -> String {
    let layer = reg.put_blob(repo, bundle);
    let empty = reg.put_blob(repo, b"{}");
    let (subject_type, subject_body) = reg.manifest(repo, subject);
    let manifest = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": BUNDLE,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [{"mediaType": BUNDLE, "digest": layer, "size": bundle.len()}],
        "subject": {"mediaType": subject_type, "digest": subject, "size": subject_body.len()},
        "annotations": {"dev.sigstore.bundle.content": "dsse-envelope",
            "dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1"}});
    let bytes = manifest.to_string().into_bytes();
    let digest = crate::harness::http::sha256_digest(&bytes);
    reg.put_manifest(repo, &digest, OCI_MANIFEST, &bytes);
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": digest, "size": bytes.len(),
            "artifactType": BUNDLE}]});
    let tag = subject.replacen(':', "-", 1);
    reg.put_manifest(repo, &tag, OCI_INDEX, index.to_string().as_bytes());
    digest
}

/// Requests dum sent so far that only a signature check sends: signature and
/// referrers tags, the referrers API, blobs (bundle manifests, fetched by digest,
/// are counted by the bundle test itself).
fn signature_requests(reg: &Registry, repo: &str) -> usize {
    ["/manifests/sha256-", "/referrers/", "/blobs/"]
        .iter()
        .map(|p| reg.count_requests("GET", &format!("/v2/{repo}{p}")))
        .sum()
}

/// `dum check --format json`: exit 100, the one row's `signature`.
fn checked(dum: &Dum) -> Value {
    let out = dum.run(&["check", "--format", "json"]);
    out.assert_code(100);
    out.json()["images"][0]["signature"].clone()
}

/// `dum update`: exit 1, the container left on 1.0.0, the skip's reason.
fn blocked(dum: &Dum, container: &Container, v1: &Pushed) -> String {
    let out = dum.run(&["update", "--format", "json"]);
    out.assert_code(1);
    let reason = out.json()["skipped"][0]["reason"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(reason.starts_with("blocked: "), "{out:?}");
    assert!(
        out.json()["updates"].as_array().unwrap().is_empty(),
        "{out:?}"
    );
    assert_eq!(container.inspect()["Config"]["Image"], json!(v1.reference));
    reason
}

#[test]
fn legacy_signatures_gate_the_update() {
    let reg = registry::anon();
    let (image, v1, index, child, c) = app("siglegacy");
    let repo = image.repository();
    let dum = Dum::new();
    let key = write_key(&dum, KEY);

    // Without cosign_key: not one signature request.
    dum.write_config(&config(&image, None));
    dum.run(&["check"]).assert_code(100);
    assert_eq!(signature_requests(reg, repo), 0);

    dum.write_config(&config(&image, Some(&key)));
    // Unsigned: the legacy tag, the referrers API (absent), the fallback tag; all 404.
    let before = signature_requests(reg, repo);
    let signature = checked(&dum);
    assert_eq!(
        signature,
        json!({"digest": index, "verified": false,
            "reason": format!("no cosign signature found for {index}")})
    );
    assert_eq!(signature_requests(reg, repo) - before, 3);
    let out = dum.run(&["check"]);
    out.assert_stdout_contains("blocked: no cosign signature found");
    assert_eq!(
        blocked(&dum, &c, &v1),
        format!("blocked: no cosign signature found for {index}")
    );

    let payload = simple_payload(repo, &index);
    let other = simple_payload(repo, &child);
    let tampered = String::from_utf8(payload.clone())
        .unwrap()
        .replace("siglegacy", "evil")
        .into_bytes();
    let cases: [(&str, &[u8], String, String); 3] = [
        (
            "wrong key",
            &payload,
            sign(OTHER_KEY, &payload),
            "does not verify".into(),
        ),
        (
            "another digest (the amd64 manifest, not the index)",
            &other,
            sign(KEY, &other),
            format!("the signature is for {child}"),
        ),
        (
            "tampered payload",
            &tampered,
            sign(KEY, &payload),
            "does not verify".into(),
        ),
    ];
    for (name, payload, signature, want) in cases {
        push_legacy(reg, repo, &index, payload, &signature);
        let got = checked(&dum);
        assert_eq!(got["verified"], json!(false), "{name}: {got}");
        assert!(
            got["reason"].as_str().unwrap().contains(&want),
            "{name}: {got}"
        );
        assert!(blocked(&dum, &c, &v1).contains(&want), "{name}");
    }

    // Unreachable: the signature manifest is there, its payload blob is gone.
    push_legacy(reg, repo, &index, &payload, &sign(KEY, &payload));
    let payload_digest = crate::harness::http::sha256_digest(&payload);
    reg.api(
        "DELETE",
        repo,
        &format!("blobs/{payload_digest}"),
        &[],
        None,
    )
    .assert_status(202);
    let got = checked(&dum);
    assert!(
        got["reason"]
            .as_str()
            .unwrap()
            .contains("missing from the registry"),
        "{got}"
    );
    blocked(&dum, &c, &v1);

    // Signed: the .sig manifest and its payload, and the update pulls exactly the index.
    push_legacy(reg, repo, &index, &payload, &sign(KEY, &payload));
    let before = signature_requests(reg, repo);
    assert_eq!(
        checked(&dum),
        json!({"digest": index, "verified": true, "layout": "legacy"})
    );
    assert_eq!(signature_requests(reg, repo) - before, 2);
    dum.run(&["check"])
        .assert_stdout_contains("signed (legacy layout)");
    let out = dum.run(&["update", "--format", "json"]);
    out.assert_code(101);
    assert_eq!(
        out.json()["updates"][0]["result"],
        json!("updated"),
        "{out:?}"
    );
    assert_eq!(
        out.json()["updates"][0]["pull"],
        json!(format!("{}@{index}", image.name())),
        "{out:?}"
    );
    assert_eq!(
        c.inspect()["Config"]["Image"],
        json!(image.reference("2.0.0"))
    );
}

#[test]
fn bundles_found_through_the_referrers_fallback_tag_gate_the_update() {
    let reg = registry::anon();
    let (image, v1, index, child, c) = app("sigbundle");
    let repo = image.repository();
    let dum = Dum::new();
    let key = write_key(&dum, KEY);
    dum.write_config(&config(&image, Some(&key)));

    let cases: [(&str, Vec<u8>, String); 3] = [
        (
            "wrong key",
            bundle(OTHER_KEY, &index, false),
            "does not verify".into(),
        ),
        (
            "another digest",
            bundle(KEY, &child, false),
            format!("the signature is for {child}"),
        ),
        (
            "tampered statement",
            bundle(KEY, &index, true),
            "does not verify".into(),
        ),
    ];
    for (name, bytes, want) in cases {
        push_bundle(reg, repo, &index, &bytes);
        let got = checked(&dum);
        assert_eq!(got["verified"], json!(false), "{name}: {got}");
        assert!(
            got["reason"].as_str().unwrap().contains(&want),
            "{name}: {got}"
        );
        assert!(blocked(&dum, &c, &v1).contains(&want), "{name}");
    }

    // Unreachable: the fallback tag lists a bundle whose layer blob is gone.
    let unreachable = bundle(KEY, &index, false);
    push_bundle(reg, repo, &index, &unreachable);
    let layer = crate::harness::http::sha256_digest(&unreachable);
    reg.api("DELETE", repo, &format!("blobs/{layer}"), &[], None)
        .assert_status(202);
    let got = checked(&dum);
    assert!(
        got["reason"]
            .as_str()
            .unwrap()
            .contains("missing from the registry"),
        "{got}"
    );
    blocked(&dum, &c, &v1);

    // Signed: .sig (404), referrers API (404), fallback tag, bundle manifest, bundle.
    let artifact = push_bundle(reg, repo, &index, &bundle(KEY, &index, false));
    let artifact_path = format!("/v2/{repo}/manifests/{artifact}");
    let before = signature_requests(reg, repo) + reg.count_requests("GET", &artifact_path);
    assert_eq!(
        checked(&dum),
        json!({"digest": index, "verified": true, "layout": "bundle"})
    );
    let after = signature_requests(reg, repo) + reg.count_requests("GET", &artifact_path);
    assert_eq!(after - before, 5);
    let out = dum.run(&["update", "--format", "json"]);
    out.assert_code(101);
    assert_eq!(
        out.json()["updates"][0]["pull"],
        json!(format!("{}@{index}", image.name())),
        "{out:?}"
    );
    assert_eq!(
        c.inspect()["Config"]["Image"],
        json!(image.reference("2.0.0"))
    );
}

#[test]
fn a_cosign_key_that_is_not_a_key_is_a_configuration_error() {
    let dum = Dum::new();
    let key = dum.dir().join("cosign.pub");
    std::fs::write(
        &key,
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    let missing = dum.dir().join("missing.pub");
    let cases: [(Value, &str); 3] = [
        (json!(key), "not an ECDSA P-256 public key"),
        (json!(missing), "cannot read the cosign key"),
        (json!(true), "must be a string"),
    ];
    for (value, want) in cases {
        dum.write_config(&json!({"images": [{"image": "r.invalid/app", "cosign_key": value}]}));
        for args in [&["validate"][..], &["check"][..]] {
            let out = dum.run(args);
            out.assert_code(2);
            let text = format!("{}{}", out.stdout, out.stderr);
            assert!(text.contains("/images/0/cosign_key"), "{out:?}");
            assert!(text.contains(want), "{want}: {out:?}");
            if value.is_string() {
                assert!(
                    text.contains(value.as_str().unwrap()),
                    "names the file: {out:?}"
                );
            }
        }
    }
}
