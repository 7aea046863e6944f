//! Containers, networks and volumes owned by one test: uniquely named, labelled
//! `dum-test=1`, removed on drop (by name, so a container dum recreated under the
//! same name is removed too).

use super::{LABEL_ARG, docker, docker_output, docker_ready, unique};
use serde_json::Value;
use std::time::{Duration, Instant};

/// A container started with `docker run -d`; `docker rm -fv` on drop.
#[derive(Debug)]
pub struct Container {
    name: String,
}

impl Container {
    /// `docker run -d --name dumt-<run>-<n>-<hint> --label dum-test=1 ARGS IMAGE`
    /// (the image's own command). Panics with docker's stderr if it fails.
    pub fn run(name_hint: &str, image: &str, args: &[&str]) -> Container {
        Container::run_cmd(name_hint, image, args, &[])
    }

    /// Like [`Container::run`], with `cmd` appended after the image.
    pub fn run_cmd(name_hint: &str, image: &str, args: &[&str], cmd: &[&str]) -> Container {
        docker_ready();
        // Own the name before running, so a failed `run` that left a created
        // container is still cleaned up.
        let container = Container {
            name: format!("dumt-{}", unique(name_hint)),
        };
        let mut all = vec!["run", "-d", "--name", &container.name, "--label", LABEL_ARG];
        all.extend_from_slice(args);
        all.push(image);
        all.extend_from_slice(cmd);
        docker(&all);
        container
    }

    /// Takes ownership (removal on drop) of an existing container by name.
    pub fn adopt(name: &str) -> Container {
        Container { name: name.into() }
    }

    /// The container name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `docker inspect` of the container (the single object); panics if it is gone.
    pub fn inspect(&self) -> Value {
        let text = docker(&["container", "inspect", &self.name]);
        let all: Value = serde_json::from_str(&text).unwrap();
        all[0].clone()
    }

    /// Whether a container with this name exists.
    pub fn exists(&self) -> bool {
        docker_output(&["container", "inspect", &self.name])
            .status
            .success()
    }

    /// Full id of the container currently bearing this name.
    pub fn id(&self) -> String {
        self.inspect()["Id"].as_str().unwrap().to_string()
    }

    /// Image id (`sha256:...`) the container runs.
    pub fn image_id(&self) -> String {
        self.inspect()["Image"].as_str().unwrap().to_string()
    }

    /// `State.Status`, e.g. `running`.
    pub fn status(&self) -> String {
        self.inspect()["State"]["Status"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// Waits until `State.Health.Status` is `healthy`; panics after `timeout`.
    pub fn wait_healthy(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let state = self.inspect()["State"].clone();
            if state["Health"]["Status"] == "healthy" {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "container {} not healthy after {timeout:?}: {state}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `docker logs` (stdout and stderr together).
    pub fn logs(&self) -> String {
        let out = docker_output(&["logs", &self.name]);
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker_output(&["rm", "-fv", &self.name]);
    }
}

/// A user-defined bridge network; removed on drop (drop containers first).
#[derive(Debug)]
pub struct Network {
    name: String,
}

impl Network {
    /// `docker network create --label dum-test=1 dumt-<run>-<n>-<hint>`.
    pub fn create(name_hint: &str) -> Network {
        docker_ready();
        let name = format!("dumt-{}", unique(name_hint));
        docker(&["network", "create", "--label", LABEL_ARG, &name]);
        Network { name }
    }

    /// The network name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let _ = docker_output(&["network", "rm", &self.name]);
    }
}

/// A named volume; removed on drop (drop containers first).
#[derive(Debug)]
pub struct Volume {
    name: String,
}

impl Volume {
    /// `docker volume create --label dum-test=1 dumt-<run>-<n>-<hint>`.
    pub fn create(name_hint: &str) -> Volume {
        docker_ready();
        let name = format!("dumt-{}", unique(name_hint));
        docker(&["volume", "create", "--label", LABEL_ARG, &name]);
        Volume { name }
    }

    /// The volume name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Volume {
    fn drop(&mut self) {
        let _ = docker_output(&["volume", "rm", "-f", &self.name]);
    }
}
