//! Compose services: compose stays in charge of the containers it created. Real compose
//! (the CLI plugin of the engine under test), real engine, real registry: after dum's
//! update `docker compose ps` lists the service, and a following `docker compose up -d`
//! recreates nothing (container IDs compared).
//!
//! The compose plugin comes with the engines of the matrix (`scripts/engine`: trixie's
//! 2.26, sid's 2.40), not with the host's Debian 12 docker.io: these tests are
//! `#[ignore]`d and `scripts/test` runs them on each engine of the matrix.

use crate::harness::{Dum, Image, Pushed, docker, registry, temp_dir, unique};
use serde_json::{Value, json};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The compose plugin the test's docker CLI uses; panics when there is none.
fn plugin() -> PathBuf {
    let mut places: Vec<PathBuf> = Vec::new();
    if let Ok(dir) = std::env::var("DOCKER_CONFIG") {
        places.push(Path::new(&dir).join("cli-plugins/docker-compose"));
    }
    places.push("/usr/libexec/docker/cli-plugins/docker-compose".into());
    places.push("/usr/lib/docker/cli-plugins/docker-compose".into());
    places.into_iter().find(|p| p.exists()).unwrap_or_else(|| {
        panic!(
            "no docker compose plugin: these tests run on the engines of the matrix \
                 (eval \"$(scripts/engine env engine28)\"; scripts/test does this)"
        )
    })
}

/// A dum whose docker CLI finds the compose plugin (dum runs with its own DOCKER_CONFIG).
fn dum_with_compose(config: Value) -> Dum {
    let dum = Dum::new().config_json(config);
    let plugins = dum.docker_config_dir().join("cli-plugins");
    fs::create_dir_all(&plugins).unwrap();
    std::os::unix::fs::symlink(plugin(), plugins.join("docker-compose")).unwrap();
    dum
}

/// One compose project in its own directory; `down -v` on drop.
struct Project {
    dir: tempfile::TempDir,
    name: String,
}

impl Project {
    fn new(compose_yaml: &str, env: &str) -> Project {
        let dir = temp_dir("dum-test-compose-");
        fs::write(dir.path().join("compose.yaml"), compose_yaml).unwrap();
        fs::write(dir.path().join(".env"), env).unwrap();
        let name = unique("proj").to_lowercase().replace(['.', '_'], "-");
        Project { dir, name }
    }

    fn file(&self) -> PathBuf {
        self.dir.path().join("compose.yaml")
    }

    fn compose(&self, args: &[&str]) -> std::process::Output {
        let mut cmd = Command::new("docker");
        cmd.current_dir(self.dir.path())
            .args(["compose", "-p", &self.name])
            .args(args);
        cmd.output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.compose(args);
        assert!(
            out.status.success(),
            "docker compose {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn up(&self) {
        self.ok(&["up", "-d", "--pull", "never"]);
    }

    /// Container name of `service`.
    fn container(&self, service: &str) -> String {
        format!("{}-{service}-1", self.name)
    }

    fn inspect(&self, service: &str) -> Value {
        let out = docker(&["inspect", &self.container(service)]);
        serde_json::from_str::<Value>(&out).unwrap()[0].clone()
    }

    /// `service -> container ID` for every container of the project.
    fn ids(&self) -> Vec<(String, String)> {
        let out = docker(&[
            "ps",
            "-a",
            "--filter",
            &format!("label=com.docker.compose.project={}", self.name),
            "--format",
            "{{.Label \"com.docker.compose.service\"}} {{.ID}} {{.State}}",
        ]);
        let mut ids: Vec<(String, String)> = out
            .lines()
            .map(|l| {
                let mut w = l.split_whitespace();
                let service = w.next().unwrap().to_string();
                let id = w.next().unwrap().to_string();
                assert_eq!(w.next(), Some("running"), "{l}");
                (service, id)
            })
            .collect();
        ids.sort();
        ids
    }

    /// The updates of `doc` (a `dum update --format json` document): one per service
    /// of `services`, in that order, each updated by compose.
    fn updated_in_order<'d>(&self, doc: &'d Value, services: &[&str]) -> &'d Vec<Value> {
        let updates = doc["updates"].as_array().unwrap();
        let order: Vec<&str> = updates
            .iter()
            .map(|u| u["container"].as_str().unwrap())
            .collect();
        let want: Vec<String> = services.iter().map(|s| self.container(s)).collect();
        assert_eq!(order, want, "dependencies first: {doc}");
        for u in updates {
            assert_eq!(u["result"], "updated", "{u}");
            assert_eq!(u["via"], "compose", "{u}");
        }
        updates
    }

    /// `docker compose up -d` recreates nothing: compose agrees the containers are
    /// current. Returns the IDs.
    fn assert_up_recreates_nothing(&self) -> Vec<(String, String)> {
        let before = self.ids();
        self.up();
        let after = self.ids();
        eprintln!(
            "compose {}: IDs before `up -d` {before:?}, after {after:?}",
            self.name
        );
        assert_eq!(before, after, "docker compose up -d recreated containers");
        // `compose ps` lists every service under the project.
        let ps = self.ok(&["ps", "--format", "{{.Service}}"]);
        for (service, _) in &after {
            assert!(ps.lines().any(|l| l.trim() == service), "{ps}");
        }
        after
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.compose(&["down", "-v", "--remove-orphans", "-t", "1"]);
    }
}

/// A compose file with a named network, a named volume and an env file: `db` holds
/// the volume, `app` depends on it and takes `GREETING` from the env file.
fn stack(db: &str, app: &str, app_extra: &str) -> String {
    format!(
        r#"services:
  db:
    image: {db}
    labels:
      dum-test: "1"
    volumes:
      - data:/data
    networks: [back]
  app:
    image: {app}
    labels:
      dum-test: "1"
    depends_on: [db]
    environment:
      GREETING: ${{GREETING}}
    networks: [back]{app_extra}
networks:
  back:
    labels:
      dum-test: "1"
volumes:
  data:
    labels:
      dum-test: "1"
"#
    )
}

const REGEX: &str = "^[0-9]+\\.[0-9]+\\.[0-9]+$";

fn entries(images: &[&Image]) -> Value {
    let list: Vec<Value> = images
        .iter()
        .map(|i| {
            json!({"image": i.name(), "regex": REGEX, "grace_seconds": 1,
                   "health_timeout_seconds": 20, "auto_update": true})
        })
        .collect();
    json!({ "images": list })
}

/// v1.0.0 (also `latest`) of a repository, for the stack to start from.
fn first(name: &str) -> (Image<'static>, Pushed) {
    let image = Image::new(registry::anon(), name);
    let v1 = image
        .clone()
        .version("1.0.0")
        .also_tag("latest")
        .build_and_push();
    // The engine has `latest` locally as compose would after a pull.
    docker(&["pull", &image.reference("latest")]);
    (image, v1)
}

/// Publishes `version` of each image, also as `latest`.
fn release(images: &[&Image], version: &str) {
    for image in images {
        (*image)
            .clone()
            .version(version)
            .also_tag("latest")
            .build_and_push();
    }
}

fn image_id(reference: &str) -> String {
    docker(&["image", "inspect", "--format", "{{.Id}}", reference])
        .trim()
        .to_string()
}

/// Same-tag services (`image: …:latest`): compose recreates them, dependencies first;
/// they stay on `:latest`, in the project, with their volume data and network, and
/// compose agrees afterwards.
#[test]
#[ignore = "needs the compose plugin: runs on the engines of the matrix (scripts/test)"]
fn same_tag_services_are_recreated_by_compose_dependencies_first() {
    let (db, _) = first("cdb");
    let (app, _) = first("capp");
    let project = Project::new(
        &stack(&db.reference("latest"), &app.reference("latest"), ""),
        "GREETING=hello\n",
    );
    project.up();
    docker(&[
        "exec",
        &project.container("db"),
        "sh",
        "-c",
        "echo kept > /data/file",
    ]);
    let before = project.assert_up_recreates_nothing();
    release(&[&db, &app], "1.1.0");

    let dum = dum_with_compose(entries(&[&db, &app]));
    let out = dum.run(&["update", "--format", "json"]);
    out.assert_code(101);
    let doc = out.json();
    let updates = project.updated_in_order(&doc, &["db", "app"]);
    for u in updates {
        assert_eq!(u["compose"]["project"], project.name.as_str(), "{u}");
    }
    let after = project.assert_up_recreates_nothing();
    assert_ne!(before, after, "dum recreated the services");
    for (service, image) in [("db", &db), ("app", &app)] {
        let c = project.inspect(service);
        assert_eq!(c["Config"]["Image"], image.reference("latest"), "{service}");
        assert_eq!(c["Image"], image_id(&image.reference("1.1.0")), "{service}");
        assert_eq!(
            c["Config"]["Labels"]["com.docker.compose.project"],
            project.name.as_str()
        );
    }
    assert_eq!(
        docker(&["exec", &project.container("db"), "cat", "/data/file"]).trim(),
        "kept",
        "named volume data"
    );
    let app_now = project.inspect("app");
    assert!(
        app_now["Config"]["Env"]
            .as_array()
            .unwrap()
            .contains(&json!("GREETING=hello")),
        "env file: {app_now}"
    );
    assert!(
        app_now["NetworkSettings"]["Networks"]
            .as_object()
            .unwrap()
            .contains_key(&format!("{}_back", project.name)),
        "named network"
    );
    // Nothing pending now.
    dum.run(&["check"]).assert_code(0);
}

/// Services whose config hash `docker compose config --hash` cannot reproduce (it skips
/// what `up` resolves): environment from `env_file:` and a bare `environment:` key, and
/// `service:` references (`network_mode`, `volumes_from`, `pid`). dum updates them
/// without `--force` (the file is as deployed), and the containers sharing a replaced
/// container's namespaces or volumes are recreated by compose with it, so they join the
/// new one (`up SERVICE` alone leaves them in the old container's namespaces).
#[test]
#[ignore = "needs the compose plugin: runs on the engines of the matrix (scripts/test)"]
fn env_files_and_shared_namespaces_are_as_deployed_and_followed() {
    let (db, _) = first("cnsdb");
    let (app, _) = first("cnsapp");
    let (side, _) = first("cnsside");
    let yaml = format!(
        r#"services:
  db:
    image: {db}
    labels:
      dum-test: "1"
    volumes:
      - data:/data
  app:
    image: {app}
    labels:
      dum-test: "1"
    env_file: [app.env]
    environment: [GREETING, "LITERAL=a$$b"]
    network_mode: service:db
    volumes_from: [db]
  side:
    image: {side}
    labels:
      dum-test: "1"
    pid: service:app
volumes:
  data:
    labels:
      dum-test: "1"
"#,
        db = db.reference("latest"),
        app = app.reference("latest"),
        side = side.reference("latest"),
    );
    let project = Project::new(&yaml, "GREETING=hello\n");
    fs::write(project.dir.path().join("app.env"), "FROM_FILE=yes\n").unwrap();
    project.up();
    let before = project.assert_up_recreates_nothing();
    release(&[&db, &app], "1.1.0");

    let dum = dum_with_compose(entries(&[&db, &app]));
    let out = dum.run(&["update", "--format", "json"]);
    out.assert_code(101);
    let doc = out.json();
    let updates = project.updated_in_order(&doc, &["db", "app"]);
    assert_eq!(
        updates[0]["dependents"],
        json!([project.container("app"), project.container("side")]),
        "{doc}"
    );
    assert_eq!(
        updates[1]["dependents"],
        json!([project.container("side")]),
        "{doc}"
    );
    let after = project.assert_up_recreates_nothing();
    assert_ne!(before, after);
    let (db_now, app_now, side_now) = (
        project.inspect("db"),
        project.inspect("app"),
        project.inspect("side"),
    );
    assert_eq!(db_now["Image"], image_id(&db.reference("1.1.0")));
    assert_eq!(app_now["Image"], image_id(&app.reference("1.1.0")));
    assert_eq!(
        app_now["HostConfig"]["NetworkMode"],
        format!("container:{}", db_now["Id"].as_str().unwrap()),
        "app joins the new db's network namespace"
    );
    assert_eq!(
        side_now["HostConfig"]["PidMode"],
        format!("container:{}", app_now["Id"].as_str().unwrap()),
        "side joins the new app's pid namespace"
    );
    let env = app_now["Config"]["Env"].as_array().unwrap();
    for var in ["FROM_FILE=yes", "GREETING=hello", "LITERAL=a$b"] {
        assert!(env.contains(&json!(var)), "{var}: {env:?}");
    }
    dum.run(&["check"]).assert_code(0);

    // A new db that turns unhealthy: rolled back, and its followers join the db that
    // runs again.
    db.clone()
        .version("1.2.0")
        .also_tag("latest")
        .healthcheck(
            "test -e /nonexistent",
            std::time::Duration::from_millis(200),
        )
        .build_and_push();
    let out = dum.run(&["update", "--format", "json", &project.container("db")]);
    out.assert_code(1);
    assert_eq!(out.json()["updates"][0]["result"], "rolled_back", "{out:?}");
    let (db_back, app_back, side_back) = (
        project.inspect("db"),
        project.inspect("app"),
        project.inspect("side"),
    );
    assert_eq!(db_back["Image"], image_id(&db.reference("1.1.0")));
    assert_eq!(
        app_back["HostConfig"]["NetworkMode"],
        format!("container:{}", db_back["Id"].as_str().unwrap()),
        "app joins the restored db"
    );
    assert_eq!(
        side_back["HostConfig"]["PidMode"],
        format!("container:{}", app_back["Id"].as_str().unwrap())
    );
    project.assert_up_recreates_nothing();

    // Killed once compose applied db and its followers: the next run puts db back,
    // and the followers (journaled) join it again.
    {
        use std::os::unix::process::ExitStatusExt;
        crate::harness::dum::require_fault_injection();
        db.clone()
            .version("1.3.0")
            .also_tag("latest")
            .build_and_push();
        let killed = dum
            .command(&["update", &project.container("db")])
            .env("DUM_FAULT", "applied")
            .output()
            .unwrap();
        assert_eq!(killed.status.signal(), Some(9), "not killed");
        dum.run(&["check", "--format", "json"]).assert_code(100);
        let (db_back, app_back) = (project.inspect("db"), project.inspect("app"));
        assert_eq!(db_back["Image"], image_id(&db.reference("1.1.0")));
        assert_eq!(
            app_back["HostConfig"]["NetworkMode"],
            format!("container:{}", db_back["Id"].as_str().unwrap()),
            "app joins the db the next run put back"
        );
        assert_eq!(dum.state().unwrap()["journal"], json!([]));
        project.assert_up_recreates_nothing();
    }
}

/// Whether the engine keeps images in the containerd image store, where compose 5.4
/// and newer label a container with its platform manifest's digest.
fn containerd_store() -> bool {
    docker(&["info", "--format", "{{json .DriverStatus}}"]).contains("io.containerd.snapshotter")
}

/// A compose container whose files are not here (a stack a NAS manager created),
/// labelled as compose 5.4 and newer label it: on the containerd image store, with the
/// digest of the platform manifest it runs (an index's linux/amd64 entry), elsewhere
/// with the image ID. Recreated through the Engine API, the new container's label takes
/// the same form for the new image, with no warning.
#[test]
#[ignore = "needs the compose plugin: runs on the engines of the matrix (scripts/test)"]
fn a_platform_manifest_label_keeps_its_form_through_the_engine_api() {
    let reg = registry::anon();
    let app = Image::new(reg, "cplat");
    let b1 = app.clone().version("b1").build_and_push();
    crate::harness::image::push_index(reg, app.repository(), "1.0.0", "b1");
    crate::harness::image::push_index(reg, app.repository(), "latest", "b1");
    docker(&["pull", &app.reference("latest")]);
    let label_for = |platform_manifest: &str, reference: &str| {
        if containerd_store() {
            platform_manifest.to_string()
        } else {
            image_id(reference)
        }
    };
    let old_label = label_for(&b1.digest, &app.reference("latest"));
    assert_ne!(old_label, "", "no label to start from");
    let name = unique("cplat-app");
    let project = unique("cplatproj").to_lowercase().replace(['.', '_'], "-");
    struct Removed(String);
    impl Drop for Removed {
        fn drop(&mut self) {
            let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
        }
    }
    let _removed = Removed(name.clone());
    docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--label",
        "dum-test=1",
        "--label",
        &format!("com.docker.compose.project={project}"),
        "--label",
        "com.docker.compose.service=app",
        "--label",
        "com.docker.compose.project.working_dir=/nonexistent/stack",
        "--label",
        "com.docker.compose.project.config_files=/nonexistent/stack/compose.yaml",
        "--label",
        "com.docker.compose.config-hash=0000",
        "--label",
        &format!("com.docker.compose.image={old_label}"),
        &app.reference("latest"),
    ]);
    let b2 = app.clone().version("b2").build_and_push();
    crate::harness::image::push_index(reg, app.repository(), "1.1.0", "b2");
    crate::harness::image::push_index(reg, app.repository(), "latest", "b2");

    let dum = dum_with_compose(entries(&[&app]));
    let out = dum.run(&["update", "--format", "json"]);
    out.assert_code(101);
    let u = &out.json()["updates"][0];
    assert_eq!(u["via"], "api", "{u}");
    let note = u["note"].as_str().unwrap();
    assert!(note.contains("not readable"), "{note}");
    assert!(!note.contains("held"), "no label warning: {note}");
    let c: Value = serde_json::from_str::<Value>(&docker(&["inspect", &name])).unwrap()[0].clone();
    let want = label_for(&b2.digest, &app.reference("latest"));
    assert_eq!(
        c["Config"]["Labels"]["com.docker.compose.image"],
        want.as_str(),
        "{c}"
    );
    assert_eq!(c["Config"]["Image"], app.reference("latest"));
    if containerd_store() {
        // The form is the manifest's, not the image ID (the index's digest there).
        assert_ne!(want, image_id(&app.reference("latest")));
    }
}

/// A dependency whose new version turns unhealthy is rolled back through compose (the
/// tag back on the old image); its dependent is not updated; compose agrees.
#[test]
#[ignore = "needs the compose plugin: runs on the engines of the matrix (scripts/test)"]
fn a_failed_dependency_is_rolled_back_and_stops_its_dependents() {
    let (db, _) = first("cdbbad");
    let (app, _) = first("cappok");
    let project = Project::new(
        &stack(&db.reference("latest"), &app.reference("latest"), ""),
        "GREETING=hello\n",
    );
    project.up();
    let before = project.assert_up_recreates_nothing();
    let old_db = image_id(&db.reference("latest"));
    db.clone()
        .version("1.1.0")
        .also_tag("latest")
        .healthcheck(
            "test -e /nonexistent",
            std::time::Duration::from_millis(200),
        )
        .build_and_push();
    app.clone()
        .version("1.1.0")
        .also_tag("latest")
        .build_and_push();

    let dum = dum_with_compose(entries(&[&db, &app]));
    let out = dum.run(&["update", "--format", "json"]);
    out.assert_code(1);
    let doc = out.json();
    let updates = doc["updates"].as_array().unwrap();
    assert_eq!(updates.len(), 1, "only db was tried: {doc}");
    assert_eq!(updates[0]["result"], "rolled_back", "{doc}");
    let skipped = doc["skipped"].as_array().unwrap();
    assert!(
        skipped
            .iter()
            .any(|s| s["container"] == project.container("app").as_str()
                && s["reason"].as_str().unwrap().contains("db")),
        "{doc}"
    );
    assert_eq!(image_id(&db.reference("latest")), old_db, "tag restored");
    assert_eq!(project.inspect("db")["Image"], old_db.as_str());
    let after = project.assert_up_recreates_nothing();
    let app_id = |ids: &[(String, String)]| ids.iter().find(|(s, _)| s == "app").cloned();
    assert_eq!(app_id(&before), app_id(&after), "app untouched");
}

/// Without the compose plugin, or without the project's files, the container is
/// recreated through the Engine API with compose's labels, `com.docker.compose.image`
/// written as compose reads it: compose still agrees.
#[test]
#[ignore = "needs the compose plugin: runs on the engines of the matrix (scripts/test)"]
fn without_the_plugin_or_the_files_the_engine_api_keeps_compose_in_agreement() {
    for case in ["no plugin", "files gone"] {
        let (app, _) = first("capi");
        let (db, _) = first("cdbapi");
        let project = Project::new(
            &stack(&db.reference("latest"), &app.reference("latest"), ""),
            "GREETING=hello\n",
        );
        project.up();
        app.clone()
            .version("1.1.0")
            .also_tag("latest")
            .build_and_push();
        let dum = match case {
            // No `docker` on PATH: no plugin.
            "no plugin" => Dum::new()
                .config_json(entries(&[&app]))
                .env("PATH", "/nonexistent"),
            _ => dum_with_compose(entries(&[&app])),
        };
        let moved = project.dir.path().with_extension("away");
        if case == "files gone" {
            fs::rename(project.dir.path(), &moved).unwrap();
        }
        let out = dum.run(&["update", "--format", "json"]);
        if case == "files gone" {
            fs::rename(&moved, project.dir.path()).unwrap();
        }
        out.assert_code(101);
        let u = &out.json()["updates"][0];
        assert_eq!(u["via"], "api", "{case}: {u}");
        let note = u["note"].as_str().unwrap();
        assert!(note.contains("Engine API"), "{case}: {note}");
        let c = project.inspect("app");
        assert_eq!(c["Config"]["Image"], app.reference("latest"), "{case}");
        let new_id = image_id(&app.reference("1.1.0"));
        assert_eq!(c["Image"], new_id.as_str(), "{case}");
        assert_eq!(
            c["Config"]["Labels"]["com.docker.compose.image"],
            new_id.as_str(),
            "{case}"
        );
        project.assert_up_recreates_nothing();
    }
}

/// A compose file edited since the last deploy is not deployed behind the user's back:
/// the update fails and says so; `--force` applies both.
#[test]
#[ignore = "needs the compose plugin: runs on the engines of the matrix (scripts/test)"]
fn an_edited_compose_file_is_applied_only_with_force() {
    let (app, v1) = first("cedit");
    let (db, _) = first("cdbedit");
    let project = Project::new(
        &stack(&db.reference("latest"), &app.reference("latest"), ""),
        "GREETING=hello\n",
    );
    project.up();
    app.clone()
        .version("1.1.0")
        .also_tag("latest")
        .build_and_push();
    fs::write(
        project.file(),
        stack(
            &db.reference("latest"),
            &app.reference("latest"),
            "\n    working_dir: /tmp",
        ),
    )
    .unwrap();
    let before = project.ids();
    let dum = dum_with_compose(entries(&[&app]));
    let out = dum.run(&["update", "--format", "json"]);
    out.assert_code(1);
    let u = &out.json()["updates"][0];
    assert_eq!(u["result"], "failed", "{u}");
    assert!(
        u["error"]
            .as_str()
            .unwrap()
            .contains("changed since its last deploy"),
        "{u}"
    );
    assert_eq!(project.ids(), before, "nothing touched");
    assert_eq!(project.inspect("app")["Image"], image_id(&v1.reference));

    let out = dum.run(&["update", "--force", &project.container("app")]);
    out.assert_code(101);
    let c = project.inspect("app");
    assert_eq!(c["Config"]["WorkingDir"], "/tmp", "the edit is applied too");
    assert_eq!(c["Image"], image_id(&app.reference("1.1.0")));
    project.assert_up_recreates_nothing();
}

/// A service whose file pins a version tag moves by an edit of that file: only the
/// tag's bytes change (quotes, comment, mode kept), `--dry-run` shows the diff and
/// changes nothing, compose agrees afterwards, and `dum rollback` puts the file's tag
/// back.
#[test]
#[ignore = "needs the compose plugin: runs on the engines of the matrix (scripts/test)"]
fn a_pinned_service_moves_by_an_edit_of_its_file() {
    use std::os::unix::fs::PermissionsExt;
    let (app, v1) = first("cpin");
    let (db, _) = first("cdbpin");
    let pinned = format!("\"{}\"   # pinned by hand", v1.reference);
    let project = Project::new(
        &stack(&db.reference("latest"), &pinned, ""),
        "GREETING=hello\n",
    );
    fs::set_permissions(project.file(), fs::Permissions::from_mode(0o640)).unwrap();
    project.up();
    let original = fs::read_to_string(project.file()).unwrap();
    app.clone()
        .version("1.1.0")
        .also_tag("latest")
        .build_and_push();
    let dum = dum_with_compose(entries(&[&app]));

    let out = dum.run(&["check", "--format", "json"]);
    out.assert_code(100);
    let row = out.json()["images"][0].clone();
    assert_eq!(row["tag"], "1.0.0", "{row}");
    assert_eq!(
        row["pinned"]["file"],
        project.file().display().to_string(),
        "{row}"
    );
    assert_eq!(row["pinned"]["writes"], "1.1.0", "{row}");
    assert!(
        row["note"].as_str().unwrap().starts_with("pinned by"),
        "{row}"
    );

    let out = dum.run(&["update", "--dry-run"]);
    out.assert_code(100);
    let minus = format!("-    image: \"{}\"   # pinned by hand", v1.reference);
    let plus = format!(
        "+    image: \"{}\"   # pinned by hand",
        app.reference("1.1.0")
    );
    assert!(
        out.stdout.contains(&minus) && out.stdout.contains(&plus),
        "{out:?}"
    );
    assert_eq!(fs::read_to_string(project.file()).unwrap(), original);

    let before = project.ids();
    let out = dum.run(&["update", "--format", "json"]);
    out.assert_code(101);
    assert_eq!(out.json()["updates"][0]["via"], "compose", "{out:?}");
    let edited = fs::read_to_string(project.file()).unwrap();
    assert_eq!(
        edited,
        original.replacen(&v1.reference, &app.reference("1.1.0"), 1),
        "exactly the tag changed"
    );
    let mode = fs::metadata(project.file()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640, "mode kept");
    let c = project.inspect("app");
    assert_eq!(c["Config"]["Image"], app.reference("1.1.0"));
    let after = project.assert_up_recreates_nothing();
    assert_ne!(before, after);
    dum.run(&["check"]).assert_code(0);

    let out = dum.run(&["rollback", &project.container("app")]);
    out.assert_code(101);
    assert_eq!(
        fs::read_to_string(project.file()).unwrap(),
        original,
        "file back"
    );
    assert_eq!(project.inspect("app")["Image"], image_id(&v1.reference));
    project.assert_up_recreates_nothing();
}

/// `image: repo:${APP_TAG}`: the variable's value moves in the env file, the compose
/// file is not touched.
#[test]
#[ignore = "needs the compose plugin: runs on the engines of the matrix (scripts/test)"]
fn a_variable_tag_moves_in_the_env_file() {
    let (app, v1) = first("cvar");
    let (db, _) = first("cdbvar");
    let project = Project::new(
        &stack(
            &db.reference("latest"),
            &format!("{}:${{APP_TAG}}", app.name()),
            "",
        ),
        "GREETING=hello\n# the app's version\nAPP_TAG=1.0.0 # pinned\n",
    );
    project.up();
    assert_eq!(project.inspect("app")["Image"], image_id(&v1.reference));
    let compose_before = fs::read_to_string(project.file()).unwrap();
    app.clone().version("1.1.0").build_and_push();
    let dum = dum_with_compose(entries(&[&app]));
    let out = dum.run(&["update", "--format", "json"]);
    out.assert_code(101);
    assert_eq!(fs::read_to_string(project.file()).unwrap(), compose_before);
    assert_eq!(
        fs::read_to_string(project.dir.path().join(".env")).unwrap(),
        "GREETING=hello\n# the app's version\nAPP_TAG=1.1.0 # pinned\n"
    );
    assert_eq!(
        project.inspect("app")["Config"]["Image"],
        app.reference("1.1.0")
    );
    project.assert_up_recreates_nothing();
}

/// A pinned service whose new version turns unhealthy: the file's bytes and the old
/// container's image come back, and compose agrees.
#[test]
#[ignore = "needs the compose plugin: runs on the engines of the matrix (scripts/test)"]
fn a_failed_pinned_update_restores_the_file() {
    let (app, v1) = first("cpinbad");
    let (db, _) = first("cdbpinbad");
    let project = Project::new(
        &stack(&db.reference("latest"), &v1.reference, ""),
        "GREETING=hello\n",
    );
    project.up();
    let original = fs::read_to_string(project.file()).unwrap();
    app.clone()
        .version("1.1.0")
        .healthcheck(
            "test -e /nonexistent",
            std::time::Duration::from_millis(200),
        )
        .build_and_push();
    let dum = dum_with_compose(entries(&[&app]));
    let out = dum.run(&["update", "--format", "json"]);
    out.assert_code(1);
    assert_eq!(out.json()["updates"][0]["result"], "rolled_back", "{out:?}");
    assert_eq!(fs::read_to_string(project.file()).unwrap(), original);
    let c = project.inspect("app");
    assert_eq!(c["Image"], image_id(&v1.reference));
    assert_eq!(c["Config"]["Image"], v1.reference.as_str());
    project.assert_up_recreates_nothing();
}

/// A pinned service whose compose file is not readable here is reported and never
/// moved off its file's tag through the Engine API.
#[test]
#[ignore = "needs the compose plugin: runs on the engines of the matrix (scripts/test)"]
fn a_pinned_service_with_an_unreadable_file_is_skipped() {
    let (app, v1) = first("cpinaway");
    let (db, _) = first("cdbpinaway");
    let project = Project::new(
        &stack(&db.reference("latest"), &v1.reference, ""),
        "GREETING=hello\n",
    );
    project.up();
    app.clone().version("1.1.0").build_and_push();
    let before = project.ids();
    let dum = dum_with_compose(entries(&[&app]));
    let moved = project.dir.path().with_extension("away");
    fs::rename(project.dir.path(), &moved).unwrap();
    let check = dum.run(&["check", "--format", "json"]);
    let update = dum.run(&["update", "--format", "json"]);
    fs::rename(&moved, project.dir.path()).unwrap();
    check.assert_code(100);
    let want = format!(
        "pinned by compose file {} (not readable): skipped",
        project.file().display()
    );
    assert_eq!(
        check.json()["images"][0]["note"],
        want.as_str(),
        "{check:?}"
    );
    update.assert_code(0);
    assert_eq!(
        update.json()["skipped"][0]["reason"],
        want.as_str(),
        "{update:?}"
    );
    assert_eq!(project.ids(), before);
    project.assert_up_recreates_nothing();
}

/// A service configured only by `dum.*` labels in its compose file (no entry in dum's
/// configuration) is updated through compose like any other. Its labels concern every
/// dum run on the engine, so `scripts/test` runs it after the other compose tests.
#[test]
#[ignore = "needs the compose plugin: runs on the engines of the matrix (scripts/test)"]
fn labelled_a_service_configured_only_by_labels_is_updated_by_compose() {
    let (app, _) = first("clab");
    let yaml = format!(
        r#"services:
  app:
    image: {}
    labels:
      dum-test: "1"
      dum.regex: '{REGEX}'
      dum.auto_update: "true"
      dum.grace_seconds: "1"
"#,
        app.reference("latest")
    );
    let project = Project::new(&yaml, "");
    project.up();
    app.clone()
        .version("1.1.0")
        .also_tag("latest")
        .build_and_push();
    let dum = dum_with_compose(json!({"images": []}));
    let out = dum.run(&["update", "--format", "json"]);
    out.assert_code(101);
    let u = &out.json()["updates"][0];
    assert_eq!(u["container"], project.container("app").as_str(), "{u}");
    assert_eq!(u["via"], "compose", "{u}");
    let c = project.inspect("app");
    assert_eq!(c["Config"]["Image"], app.reference("latest"));
    assert_eq!(c["Image"], image_id(&app.reference("1.1.0")));
    assert_eq!(c["Config"]["Labels"]["dum.regex"], REGEX, "labels kept");
    project.assert_up_recreates_nothing();
    dum.run(&["check"]).assert_code(0);
}

/// SIGKILL at every step of a compose transaction, for a same-tag service and for one
/// its file pins: the next run converges (back on the old image under the file's tag,
/// the file's bytes back), and compose agrees.
#[test]
#[ignore = "needs the compose plugin: runs on the engines of the matrix (scripts/test)"]
fn sigkill_during_a_compose_update_converges() {
    use std::os::unix::process::ExitStatusExt;
    crate::harness::dum::require_fault_injection();
    let (app, v1) = first("ckill");
    let (db, _) = first("cdbkill");
    app.clone()
        .version("1.1.0")
        .also_tag("latest")
        .build_and_push();
    let old = image_id(&v1.reference);
    let points: Vec<(&str, bool)> = dum::fault::COMPOSE_POINTS
        .iter()
        .flat_map(|p| [(*p, false), (*p, true)])
        // Only an edit of the file reaches `edited`.
        .filter(|(p, pinned)| *p != "edited" || *pinned)
        .collect();
    for (point, pinned) in points {
        if point == "rolling-back" && !pinned {
            // A newest version that fails verification, to reach the rollback (the
            // rolling-back points come last).
            app.clone()
                .version("1.2.0")
                .also_tag("latest")
                .healthcheck(
                    "test -e /nonexistent",
                    std::time::Duration::from_millis(200),
                )
                .build_and_push();
        }
        let why = format!("{point} (pinned: {pinned})");
        // The service starts on 1.0.0, under `latest` as after a pull a while ago, or
        // pinned to it.
        docker(&["tag", &v1.reference, &app.reference("latest")]);
        let runs = if pinned {
            v1.reference.clone()
        } else {
            app.reference("latest")
        };
        let project = Project::new(
            &stack(&db.reference("latest"), &runs, ""),
            "GREETING=hello\n",
        );
        project.up();
        let original = fs::read_to_string(project.file()).unwrap();
        assert_eq!(project.inspect("app")["Image"], old.as_str(), "{why}");
        let dum = dum_with_compose(entries(&[&app]));
        let killed = dum
            .command(&["update", &project.container("app")])
            .env("DUM_FAULT", point)
            .output()
            .unwrap();
        assert_eq!(
            killed.status.signal(),
            Some(9),
            "{why}: not killed: {}",
            String::from_utf8_lossy(&killed.stderr)
        );
        // The next run converges before anything else: the old version is back under
        // the file's tag, and an update is pending again.
        let next = dum.run(&["check", "--format", "json"]);
        next.assert_code(100);
        let state = dum.state().unwrap();
        assert_eq!(state["journal"], json!([]), "{why}: journal cleared");
        let c = project.inspect("app");
        assert_eq!(c["Image"], old.as_str(), "{why}");
        assert_eq!(c["Config"]["Image"], runs.as_str(), "{why}");
        assert_eq!(image_id(&runs), old, "{why}: tag back");
        assert_eq!(
            fs::read_to_string(project.file()).unwrap(),
            original,
            "{why}: file back"
        );
        project.assert_up_recreates_nothing();
        let history = dum.run(&["history", "--format", "json"]);
        assert!(
            history.stdout.contains("rolled_back"),
            "{why}: {}",
            history.stdout
        );
    }
}

/// Lifecycle hooks for a compose service: `pre_update` runs in the old container before
/// compose touches anything, and a failing `post_update` (run in the container compose
/// created) rolls the service back through compose, the `post_rollback` hook told.
#[test]
#[ignore = "needs the compose plugin: runs on the engines of the matrix (scripts/test)"]
fn a_compose_service_runs_its_hooks_and_a_failed_post_update_rolls_it_back() {
    let (db, _) = first("cdbhook");
    let (app, _) = first("capphook");
    let project = Project::new(
        &stack(&db.reference("latest"), &app.reference("latest"), ""),
        "GREETING=hello\n",
    );
    project.up();
    let before = project.assert_up_recreates_nothing();
    let old_app = image_id(&app.reference("latest"));
    release(&[&app], "1.1.0");
    let dir = temp_dir("dum-test-composehook-");
    let told = dir.path().join("told");
    let mut config = entries(&[&app]);
    config["images"][0]["hooks"] = json!({
        "pre_update": {"container": ["sh", "-c", "echo $DUM_PHASE > /pre"]},
        "post_update": {"container": ["sh", "-c", "echo smoke failed; exit 1"]},
        "post_rollback": {"host": ["sh", "-c", format!("echo $DUM_PHASE > {}", told.display())]},
    });
    let dum = dum_with_compose(config);
    let out = dum.run(&["update", "--format", "json"]);
    out.assert_code(1);
    let doc = out.json();
    let update = &doc["updates"][0];
    assert_eq!(update["via"], "compose", "{doc}");
    assert_eq!(update["result"], "rolled_back", "{doc}");
    let error = update["error"].as_str().unwrap();
    assert!(
        error.contains("the post_update hook exited with 1: smoke failed"),
        "{error}"
    );
    let phases: Vec<&str> = update["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["phase"].as_str().unwrap())
        .collect();
    assert_eq!(
        phases,
        ["pre_update", "post_update", "post_rollback"],
        "{doc}"
    );
    assert_eq!(image_id(&app.reference("latest")), old_app, "tag restored");
    assert_eq!(project.inspect("app")["Image"], old_app.as_str());
    assert_eq!(
        std::fs::read_to_string(&told).unwrap().trim(),
        "post_rollback"
    );
    let after = project.assert_up_recreates_nothing();
    let db_id = |ids: &[(String, String)]| ids.iter().find(|(s, _)| s == "db").cloned();
    assert_eq!(db_id(&before), db_id(&after), "db untouched");
    assert_eq!(dum.state().unwrap()["journal"], json!([]));
}
