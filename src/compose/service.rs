//! A compose service as its container's labels describe it: the project, the files and
//! env files it was deployed from, the hash compose compares to decide a recreate, and
//! what it depends on. Pure: labels in, data out.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

/// Labels compose writes on every container it creates (`com.docker.compose.*`).
pub const PROJECT: &str = "com.docker.compose.project";
/// The service's name.
pub const SERVICE: &str = "com.docker.compose.service";
/// The project directory `up` ran in.
pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
/// The compose files, comma-separated, in `-f` order.
pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
/// The env files, comma-separated.
pub const ENVIRONMENT_FILE: &str = "com.docker.compose.project.environment_file";
/// The hash of the service's configuration at its last deploy.
pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
/// The image the container was created from, as compose identifies it: the image ID
/// (or, for newer compose on an engine that reports manifests, a manifest digest).
pub const IMAGE: &str = "com.docker.compose.image";
/// `service:condition:required,…` (compose 2.20 and newer).
pub const DEPENDS_ON: &str = "com.docker.compose.depends_on";
/// `True` on containers of `docker compose run`.
pub const ONEOFF: &str = "com.docker.compose.oneoff";

/// One compose service, as the labels of one of its containers tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    /// The project name (`-p`).
    pub project: String,
    /// The service name.
    pub service: String,
    /// The project directory, when the labels say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<PathBuf>,
    /// The compose files the project was deployed from, in `-f` order.
    pub config_files: Vec<PathBuf>,
    /// The env files it was deployed with.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env_files: Vec<PathBuf>,
    /// The services it depends on (`depends_on`), when compose recorded them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// `com.docker.compose.config-hash` at the last deploy.
    #[serde(skip)]
    pub config_hash: Option<String>,
    /// `com.docker.compose.image` at the last deploy.
    #[serde(skip)]
    pub image_label: Option<String>,
}

impl Service {
    /// The service a container with these labels belongs to; `None` for containers
    /// compose did not create, and for one-off `docker compose run` containers (compose
    /// never recreates those either).
    pub fn from_labels(labels: &BTreeMap<String, String>) -> Option<Service> {
        let get = |k: &str| labels.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let project = get(PROJECT)?;
        let service = get(SERVICE)?;
        if get(ONEOFF).is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return None;
        }
        let list = |k: &str| -> Vec<PathBuf> {
            get(k)
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(PathBuf::from)
                        .collect()
                })
                .unwrap_or_default()
        };
        let depends_on = get(DEPENDS_ON)
            .map(|v| {
                v.split(',')
                    .filter_map(|d| d.split(':').next())
                    .map(str::trim)
                    .filter(|d| !d.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        Some(Service {
            project: project.to_string(),
            service: service.to_string(),
            working_dir: get(WORKING_DIR).map(PathBuf::from),
            config_files: list(CONFIG_FILES),
            env_files: list(ENVIRONMENT_FILE),
            depends_on,
            config_hash: get(CONFIG_HASH).map(str::to_string),
            image_label: get(IMAGE).map(str::to_string),
        })
    }

    /// The global arguments that name this project to `docker compose` exactly as it
    /// was deployed: `-p`, `--project-directory`, every `-f` and `--env-file`.
    pub fn project_args(&self) -> Vec<String> {
        self.args(self.config_files.iter().map(|f| f.display().to_string()))
    }

    /// [`Service::project_args`] with the project's model read from stdin (`-f -`)
    /// instead of its files.
    pub fn stdin_project_args(&self) -> Vec<String> {
        self.args(["-".to_string()])
    }

    fn args(&self, files: impl IntoIterator<Item = String>) -> Vec<String> {
        let mut args = vec!["-p".to_string(), self.project.clone()];
        if let Some(dir) = &self.working_dir {
            args.push("--project-directory".into());
            args.push(dir.display().to_string());
        }
        for f in files {
            args.push("-f".into());
            args.push(f);
        }
        for e in &self.env_files {
            args.push("--env-file".into());
            args.push(e.display().to_string());
        }
        args
    }

    /// The first of the files compose needs that cannot be read here (dum in a container
    /// without the project mounted, a stack a NAS manager keeps to itself), or why the
    /// labels name none.
    pub fn unreadable(&self) -> Option<String> {
        if self.config_files.is_empty() {
            return Some(format!(
                "the labels of {} name no compose file",
                self.service
            ));
        }
        let files = self.config_files.iter().chain(&self.env_files);
        for f in files {
            if let Err(e) = std::fs::File::open(f) {
                return Some(format!("{} ({e})", f.display()));
            }
        }
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn services_from_labels() {
        let full = labels(&[
            (PROJECT, "shop"),
            (SERVICE, "app"),
            (WORKING_DIR, "/srv/shop"),
            (
                CONFIG_FILES,
                "/srv/shop/compose.yaml,/srv/shop/override.yaml",
            ),
            (ENVIRONMENT_FILE, "/srv/shop/.env"),
            (
                DEPENDS_ON,
                "db:service_healthy:true,cache:service_started:false",
            ),
            (CONFIG_HASH, "abc"),
            (IMAGE, "sha256:1"),
        ]);
        let s = Service::from_labels(&full).unwrap();
        assert_eq!(s.project, "shop");
        assert_eq!(s.depends_on, vec!["db", "cache"]);
        assert_eq!(
            s.project_args(),
            [
                "-p",
                "shop",
                "--project-directory",
                "/srv/shop",
                "-f",
                "/srv/shop/compose.yaml",
                "-f",
                "/srv/shop/override.yaml",
                "--env-file",
                "/srv/shop/.env"
            ]
        );
        assert_eq!(s.config_hash.as_deref(), Some("abc"));
        assert_eq!(s.image_label.as_deref(), Some("sha256:1"));

        let cases: &[(&str, BTreeMap<String, String>, bool)] = &[
            ("no labels", labels(&[]), false),
            ("project only", labels(&[(PROJECT, "p")]), false),
            (
                "empty service",
                labels(&[(PROJECT, "p"), (SERVICE, " ")]),
                false,
            ),
            (
                "one-off run",
                labels(&[(PROJECT, "p"), (SERVICE, "s"), (ONEOFF, "True")]),
                false,
            ),
            (
                "not one-off",
                labels(&[(PROJECT, "p"), (SERVICE, "s"), (ONEOFF, "False")]),
                true,
            ),
        ];
        for (case, l, some) in cases {
            assert_eq!(Service::from_labels(l).is_some(), *some, "{case}");
        }
    }

    #[test]
    fn unreadable_names_the_first_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("compose.yaml");
        std::fs::write(&file, "services: {}\n").unwrap();
        let mut s = Service::from_labels(&labels(&[(PROJECT, "p"), (SERVICE, "s")])).unwrap();
        assert!(s.unreadable().unwrap().contains("name no compose file"));
        s.config_files = vec![file.clone()];
        assert_eq!(s.unreadable(), None);
        s.env_files = vec![dir.path().join(".env")];
        assert!(s.unreadable().unwrap().contains(".env"));
    }
}
