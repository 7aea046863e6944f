//! Test images: a busybox base imported once per process, an [`Image`] builder that
//! builds and pushes versions of a repository, and registry-side manipulations
//! (retag, multi-arch index, many tags) done over the registry HTTP API.

use super::http::{self, DOCKER_MANIFEST, OCI_INDEX};
use super::registry::Registry;
use super::{LABEL_ARG, docker, docker_ready, run, temp_dir, unique};
use serde_json::{Value, json};
use std::fs;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

/// Local tag of the busybox base image.
pub const BASE: &str = "dum-test/base:busybox-2";

/// Default command of built images: runs forever and exits at once on SIGTERM/SIGINT,
/// so stopping a container does not wait for docker's kill timeout.
pub const DEFAULT_CMD: &[&str] = &[
    "sh",
    "-c",
    "trap 'exit 0' TERM INT; while :; do sleep 1 & wait $!; done",
];

/// Imports the busybox base image (`dum-test/base:busybox-2`, labelled `dum-test=1`)
/// unless the engine has it, and returns its tag. Every busybox applet is linked in
/// `/bin`. Checked on every call (cheap) so a cleanup by another run on the same
/// engine does not break later builds.
pub fn base() -> &'static str {
    static IMPORT: Mutex<()> = Mutex::new(());
    let _serial = IMPORT.lock().unwrap_or_else(|e| e.into_inner());
    docker_ready();
    if !exists_local(BASE) {
        let dir = temp_dir("dum-test-rootfs-");
        let script = r#"set -e
busybox=/bin/busybox
[ -x "$busybox" ] || busybox=$(command -v busybox)
mkdir -p rootfs/bin rootfs/tmp rootfs/etc rootfs/data
chmod 1777 rootfs/tmp
cp "$busybox" rootfs/bin/busybox
for a in $(rootfs/bin/busybox --list); do [ -e "rootfs/bin/$a" ] || ln -s busybox "rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > rootfs/etc/passwd
tar -C rootfs -c . | docker import --change "LABEL $1" --change 'ENV PATH=/bin' - "$2" >/dev/null
"#;
        run(Command::new("sh")
            .args(["-c", script, "import-base", LABEL_ARG, BASE])
            .current_dir(dir.path()));
    }
    BASE
}

/// A repository in a registry plus build settings; [`Image::build_and_push`] builds
/// and pushes one version. Clone it to push several versions with shared settings:
///
/// ```ignore
/// let app = Image::new(reg, "app").env("MODE", "one");
/// let v1 = app.clone().version("v1.0.0").build_and_push();
/// let v2 = app.clone().version("v1.1.0").also_tag("latest").build_and_push();
/// ```
#[derive(Clone)]
pub struct Image<'r> {
    registry: &'r Registry,
    repository: String,
    version: String,
    also_tags: Vec<String>,
    env: Vec<(String, String)>,
    labels: Vec<(String, String)>,
    cmd: Option<Vec<String>>,
    healthcheck: Option<(String, Duration)>,
    volumes: Vec<String>,
    expose: Vec<String>,
    stop_signal: Option<String>,
    extra: Vec<String>,
    keep_local: bool,
}

/// A pushed image version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// `127.0.0.1:PORT/<repository>:<tag>`.
    pub reference: String,
    /// Registry host, `127.0.0.1:PORT`.
    pub host: String,
    /// Repository path inside the registry, e.g. `1a2b3c-4/app`.
    pub repository: String,
    /// The version tag pushed.
    pub tag: String,
    /// Manifest digest as the registry reports it (`sha256:...`).
    pub digest: String,
}

impl Pushed {
    /// `127.0.0.1:PORT/<repository>@<digest>`.
    pub fn by_digest(&self) -> String {
        format!("{}/{}@{}", self.host, self.repository, self.digest)
    }

    /// `127.0.0.1:PORT/<repository>:<tag>` for another tag of the same repository.
    pub fn with_tag(&self, tag: &str) -> String {
        format!("{}/{}:{tag}", self.host, self.repository)
    }

    /// Removes the local copy (`docker rmi`), so using it needs a pull.
    pub fn delete_local(&self) {
        delete_local(&self.reference);
    }
}

impl<'r> Image<'r> {
    /// A new repository `<run id>-<n>-<name>/<name>` in `registry`, unique per test
    /// and per run. The default version is `latest`.
    pub fn new(registry: &'r Registry, name: &str) -> Image<'r> {
        Image {
            registry,
            repository: format!("{}/{name}", unique(name)),
            version: "latest".into(),
            also_tags: Vec::new(),
            env: Vec::new(),
            labels: Vec::new(),
            cmd: None,
            healthcheck: None,
            volumes: Vec::new(),
            expose: Vec::new(),
            stop_signal: None,
            extra: Vec::new(),
            keep_local: true,
        }
    }

    /// Repository path inside the registry (without host).
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// `127.0.0.1:PORT/<repository>` (no tag).
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry.host(), self.repository)
    }

    /// `127.0.0.1:PORT/<repository>:<tag>`.
    pub fn reference(&self, tag: &str) -> String {
        format!("{}:{tag}", self.name())
    }

    /// The registry the image is pushed to.
    pub fn registry(&self) -> &'r Registry {
        self.registry
    }

    /// Tag to build and push; also written into `/dum-version` so every version has
    /// its own digest.
    pub fn version(mut self, tag: &str) -> Self {
        self.version = tag.into();
        self
    }

    /// After pushing, make `tag` point at the same manifest too (e.g. `latest`).
    pub fn also_tag(mut self, tag: &str) -> Self {
        self.also_tags.push(tag.into());
        self
    }

    /// `ENV key=value`.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// `LABEL key=value`.
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.push((key.into(), value.into()));
        self
    }

    /// `CMD [...]` (exec form). Default: [`DEFAULT_CMD`].
    pub fn cmd(mut self, cmd: &[&str]) -> Self {
        self.cmd = Some(cmd.iter().map(|s| s.to_string()).collect());
        self
    }

    /// `HEALTHCHECK --interval=... CMD <shell_cmd>` (shell form, i.e. `CMD-SHELL`).
    pub fn healthcheck(mut self, shell_cmd: &str, interval: Duration) -> Self {
        self.healthcheck = Some((shell_cmd.into(), interval));
        self
    }

    /// `VOLUME path`.
    pub fn volume(mut self, path: &str) -> Self {
        self.volumes.push(path.into());
        self
    }

    /// `EXPOSE port` (e.g. `8080/tcp`).
    pub fn expose(mut self, port: &str) -> Self {
        self.expose.push(port.into());
        self
    }

    /// `STOPSIGNAL signal`.
    pub fn stop_signal(mut self, signal: &str) -> Self {
        self.stop_signal = Some(signal.into());
        self
    }

    /// A raw Dockerfile line appended after the generated ones (before `CMD`).
    pub fn extra_dockerfile(mut self, line: &str) -> Self {
        self.extra.push(line.into());
        self
    }

    /// Whether the built image stays in the local engine after the push (default
    /// true). With false, the local tag is removed so running it needs a pull.
    pub fn keep_local(mut self, keep: bool) -> Self {
        self.keep_local = keep;
        self
    }

    /// The Dockerfile [`Image::build_and_push`] uses.
    pub fn dockerfile(&self) -> String {
        let q = |s: &str| serde_json::to_string(s).unwrap();
        let mut lines = vec![
            format!("FROM {}", base()),
            "COPY dum-version /dum-version".to_string(),
            format!("LABEL {LABEL_ARG} dum-test.version={}", q(&self.version)),
        ];
        for (k, v) in &self.labels {
            lines.push(format!("LABEL {}={}", q(k), q(v)));
        }
        for (k, v) in &self.env {
            lines.push(format!("ENV {k}={}", q(v)));
        }
        for v in &self.volumes {
            lines.push(format!("VOLUME {}", q(v)));
        }
        for p in &self.expose {
            lines.push(format!("EXPOSE {p}"));
        }
        if let Some(s) = &self.stop_signal {
            lines.push(format!("STOPSIGNAL {s}"));
        }
        if let Some((cmd, interval)) = &self.healthcheck {
            lines.push(format!(
                "HEALTHCHECK --interval={}ms --timeout=5s --retries=3 CMD {cmd}",
                interval.as_millis().max(1)
            ));
        }
        lines.extend(self.extra.iter().cloned());
        let cmd: Vec<String> = match &self.cmd {
            Some(c) => c.clone(),
            None => DEFAULT_CMD.iter().map(|s| s.to_string()).collect(),
        };
        lines.push(format!("CMD {}", serde_json::to_string(&cmd).unwrap()));
        lines.join("\n") + "\n"
    }

    /// Builds the version (classic builder), pushes it, applies [`Image::also_tag`],
    /// and returns the registry's digest.
    pub fn build_and_push(&self) -> Pushed {
        let dir = temp_dir("dum-test-build-");
        fs::write(dir.path().join("Dockerfile"), self.dockerfile()).unwrap();
        fs::write(
            dir.path().join("dum-version"),
            format!("{}:{}\n", self.repository, self.version),
        )
        .unwrap();
        let reference = self.reference(&self.version);
        let config = self.registry.harness_docker_config();
        run(Command::new("docker")
            .arg("--config")
            .arg(config)
            // No cache: the classic builder's cache probe walks every child
            // of the base image, and fails with "unable to find image" when a
            // parallel test's rmi removes one of them mid-walk.
            .args(["build", "-q", "--no-cache", "-t", &reference])
            .arg(dir.path())
            .env("DOCKER_BUILDKIT", "0"));
        run(Command::new("docker")
            .arg("--config")
            .arg(config)
            .args(["push", "-q", &reference]));
        let digest = self
            .registry
            .manifest_digest(&self.repository, &self.version);
        for tag in &self.also_tags {
            retag(self.registry, &self.repository, &self.version, tag);
        }
        if !self.keep_local {
            delete_local(&reference);
        }
        Pushed {
            reference,
            host: self.registry.host().to_string(),
            repository: self.repository.clone(),
            tag: self.version.clone(),
            digest,
        }
    }
}

/// Makes tag `to` of `repo` point at the manifest of tag `from` (same bytes, same
/// media type, hence same digest) through the registry API. Returns the digest.
pub fn retag(registry: &Registry, repo: &str, from: &str, to: &str) -> String {
    let (media_type, body) = registry.manifest(repo, from);
    registry.put_manifest(repo, to, &media_type, &body)
}

/// Creates an OCI image index `tag` in `repo`: linux/amd64 is the manifest of
/// `amd64_from_tag`, linux/arm64 a synthetic manifest (own config blob, same layers).
/// Pulling `tag` on amd64 gives the `amd64_from_tag` image. Returns the index digest.
pub fn push_index(registry: &Registry, repo: &str, tag: &str, amd64_from_tag: &str) -> String {
    push_index_annotated(registry, repo, tag, amd64_from_tag, None)
}

/// [`push_index`] with the index's `annotations` set to `annotations`.
pub fn push_index_annotated(
    registry: &Registry,
    repo: &str,
    tag: &str,
    amd64_from_tag: &str,
    annotations: Option<Value>,
) -> String {
    let (amd64_type, amd64_body) = registry.manifest(repo, amd64_from_tag);
    assert!(
        amd64_type.starts_with(DOCKER_MANIFEST)
            || amd64_type.starts_with("application/vnd.oci.image.manifest.v1+json"),
        "{repo}:{amd64_from_tag} is {amd64_type}, not a single-platform manifest"
    );
    let amd64: Value = serde_json::from_slice(&amd64_body).unwrap();
    let config_digest = amd64["config"]["digest"].as_str().unwrap();
    let config = registry.api("GET", repo, &format!("blobs/{config_digest}"), &[], None);
    config.assert_status(200);
    let mut arm_config = config.json();
    arm_config["architecture"] = json!("arm64");
    arm_config["variant"] = json!("v8");
    let arm_config_bytes = serde_json::to_vec(&arm_config).unwrap();
    let arm_config_digest = registry.put_blob(repo, &arm_config_bytes);
    let mut arm = amd64.clone();
    arm["config"]["digest"] = json!(arm_config_digest);
    arm["config"]["size"] = json!(arm_config_bytes.len());
    let arm_bytes = serde_json::to_vec(&arm).unwrap();
    let arm_digest = registry.put_manifest(
        repo,
        &http::sha256_digest(&arm_bytes),
        &amd64_type,
        &arm_bytes,
    );
    let mut index = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": amd64_type,
                "digest": http::sha256_digest(&amd64_body),
                "size": amd64_body.len(),
                "platform": {"architecture": "amd64", "os": "linux"}
            },
            {
                "mediaType": amd64_type,
                "digest": arm_digest,
                "size": arm_bytes.len(),
                "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}
            }
        ]
    });
    if let Some(a) = annotations {
        index["annotations"] = a;
    }
    let bytes = serde_json::to_vec(&index).unwrap();
    registry.put_manifest(repo, tag, OCI_INDEX, &bytes)
}

/// Pushes tag `tag` of `repo`: the image of `from_tag` with its config's `created` set
/// to `created` (RFC 3339, any date) and, when given, the manifest annotation
/// `org.opencontainers.image.created` set to `annotation`: an image "built" when the
/// test says. Returns the manifest digest.
pub fn push_dated(
    registry: &Registry,
    repo: &str,
    tag: &str,
    from_tag: &str,
    created: &str,
    annotation: Option<&str>,
) -> String {
    let (media_type, body) = registry.manifest(repo, from_tag);
    let mut manifest: Value = serde_json::from_slice(&body).unwrap();
    let config_digest = manifest["config"]["digest"].as_str().unwrap().to_string();
    let config = registry.api("GET", repo, &format!("blobs/{config_digest}"), &[], None);
    config.assert_status(200);
    let mut config = config.json();
    config["created"] = json!(created);
    let config_bytes = serde_json::to_vec(&config).unwrap();
    let new_config = registry.put_blob(repo, &config_bytes);
    manifest["config"]["digest"] = json!(new_config);
    manifest["config"]["size"] = json!(config_bytes.len());
    if let Some(a) = annotation {
        manifest["annotations"] = json!({"org.opencontainers.image.created": a});
    }
    let bytes = serde_json::to_vec(&manifest).unwrap();
    registry.put_manifest(repo, tag, &media_type, &bytes)
}

/// Creates every tag in `tags` in `repo`, each a distinct copy of the manifest of
/// `from_tag` (an extra `annotations` member naming the tag, so digests differ;
/// only `from_tag` itself is pullable-identical). Returns the digests in `tags`
/// order. Meant for listing/pagination tests with hundreds of tags; ~300 tags take
/// a few seconds.
pub fn seed_tags(registry: &Registry, repo: &str, tags: &[&str], from_tag: &str) -> Vec<String> {
    let (media_type, body) = registry.manifest(repo, from_tag);
    let manifest: Value = serde_json::from_slice(&body).unwrap();
    tags.iter()
        .map(|tag| {
            let mut copy = manifest.clone();
            copy["annotations"] = json!({ "dum-test.tag": tag });
            let bytes = serde_json::to_vec(&copy).unwrap();
            registry.put_manifest(repo, tag, &media_type, &bytes)
        })
        .collect()
}

/// `docker rmi` of `reference` (ignoring "no such image").
pub fn delete_local(reference: &str) {
    let out = super::docker_output(&["rmi", reference]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() || stderr.contains("No such image"),
        "docker rmi {reference} failed: {stderr}"
    );
}

/// Whether the local engine has an image for `reference`.
pub fn exists_local(reference: &str) -> bool {
    super::docker_output(&["image", "inspect", reference])
        .status
        .success()
}

/// `docker image inspect reference` as JSON (the single object).
pub fn inspect_local(reference: &str) -> Value {
    let text = docker(&["image", "inspect", reference]);
    let all: Value = serde_json::from_str(&text).unwrap();
    all[0].clone()
}
