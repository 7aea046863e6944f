//! The update transaction on the in-memory engine (`docker::memory`): what moves where,
//! rollback (a crash, an unhealthy or never healthy container), a failure at every
//! engine call (writes, then reads too), convergence from every point a run can be
//! killed at, `AutoRemove` and paused containers, dependents (followed, restarted on a
//! rollback, their inspect errors reported), and the rollback command's move. The same behaviours run end to end on real engines in `tests/it/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::docker::memory::{Checkpoint, MemoryEngine, Model, fixture, fixture_of};
use crate::image::pin::{Change, Pin};
use crate::image::reference::Reference;
use crate::store::Store;
use crate::store::history::{Entry, ResultKind};
use crate::store::journal::Step;
use crate::update::Composer;
use crate::update::plan::{self, Move};
use crate::update::transaction::backup_name;
use crate::update::verify::Verify;
use crate::update::{apply, recovery};

const V1: &str = "sha256:c27ffdfa585395c02ddc8d8d0c75f9102e934482ce3b325118822464ea939cdd";
const V2: &str = "sha256:02aa18ac7e801fe27ac677f2cf43b82617ccc67d08aa765a9d41df836cb093cd";

const NOW: Verify = Verify {
    grace: Duration::ZERO,
    health_timeout: Duration::ZERO,
};

fn move_to_v2(container: &str) -> Move {
    Move {
        kind: "update".into(),
        container: container.into(),
        image: "dum-spec/app".into(),
        pull: "dum-spec/app@sha256:v2".into(),
        tags: vec!["dum-spec/app:2".into()],
        run_as: "dum-spec/app:2".into(),
        change: Change {
            from: Pin::new(Some("1".into()), Some("sha256:v1".into())),
            to: Pin::new(Some("2".into()), Some("sha256:v2".into())),
        },
        verify: Some(NOW),
        compose: None,
        service: None,
        hooks: Default::default(),
    }
}

/// A store in a fresh directory.
fn store() -> (tempfile::TempDir, PathBuf, Store) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let store = Store::open(&path, None).unwrap();
    (dir, path, store)
}

fn field<'a>(model: &'a Model, name: &str, pointer: &str) -> &'a Value {
    model
        .container(name)
        .and_then(|c| c.pointer(pointer))
        .unwrap_or(&Value::Null)
}

/// The one container called `name` runs (or is paused when `paused`) on `image`, and
/// nothing else is left of the transaction: no backup, no stray container.
fn settled(model: &Model, name: &str, image: &str, others: &[&str], paused: bool, case: &str) {
    let mut want: Vec<String> = others.iter().map(|o| o.to_string()).collect();
    want.push(name.to_string());
    want.sort();
    assert_eq!(model.names(), want, "{case}: the containers");
    let status = if paused { "paused" } else { "running" };
    assert_eq!(field(model, name, "/State/Status"), status, "{case}");
    assert_eq!(field(model, name, "/Image"), image, "{case}: the image");
}

fn results(entries: &[Entry]) -> Vec<ResultKind> {
    entries.iter().map(|e| e.result).collect()
}

#[test]
fn an_update_creates_the_new_container_before_stopping_the_old_one() {
    let (_dir, path, mut store) = store();
    let engine = MemoryEngine::new(fixture("web", true), Some(path));
    let old_id = field(&engine.model(), "web", "/Id").clone();
    let (applied, entries) = apply(
        &engine,
        &mut store,
        &move_to_v2("web"),
        None,
        None,
        &Composer::default(),
    );
    assert_eq!(applied.result, ResultKind::Updated, "{:?}", applied.error);
    assert_eq!(results(&entries), [ResultKind::Updated]);
    let model = engine.model();
    settled(&model, "web", V2, &[], false, "updated");
    let new_id = field(&model, "web", "/Id").clone();
    assert_ne!(new_id, old_id);
    // Every setting the container was created with, on the new image.
    assert_eq!(field(&model, "web", "/Config/Image"), "dum-spec/app:2");
    assert!(field(&model, "web", "/NetworkSettings/Networks/bridge").is_object());
    let (old, new) = (old_id.as_str().unwrap(), new_id.as_str().unwrap());
    assert_eq!(
        engine.calls(),
        [
            "pull dum-spec/app@sha256:v2".to_string(),
            "tag dum-spec/app@sha256:v2 dum-spec/app:2".into(),
            format!("rename {old} web-dum-backup"),
            "create web".into(),
            format!("stop {old}"),
            format!("start {new}"),
            format!("remove {old}"),
        ]
    );
    assert_eq!(store.pending(), [], "the journal is empty");
}

#[test]
fn a_new_version_that_fails_verification_is_rolled_back() {
    for auto_remove in [false, true] {
        let case = format!("AutoRemove {auto_remove}");
        let (_dir, path, mut store) = store();
        let mut model = fixture("web", true).crashing(V2);
        model.containers[0]["HostConfig"]["AutoRemove"] = json!(auto_remove);
        let engine = MemoryEngine::new(model, Some(path));
        let (applied, entries) = apply(
            &engine,
            &mut store,
            &move_to_v2("web"),
            None,
            None,
            &Composer::default(),
        );
        assert_eq!(applied.result, ResultKind::RolledBack, "{case}");
        let error = applied.error.unwrap_or_default();
        assert!(
            error.contains("the new container stopped"),
            "{case}: {error}"
        );
        // What the container printed, also when the engine removed it (AutoRemove).
        assert!(
            error.contains("last output: crashed on start"),
            "{case}: {error}"
        );
        assert!(
            error.ends_with("rolled back to the old container"),
            "{case}: {error}"
        );
        assert_eq!(results(&entries), [ResultKind::RolledBack], "{case}");
        let model = engine.model();
        settled(&model, "web", V1, &[], false, &case);
        assert_eq!(
            field(&model, "web", "/HostConfig/AutoRemove"),
            auto_remove,
            "{case}"
        );
        assert_eq!(store.pending(), [], "{case}");
    }
}

#[test]
fn an_autoremove_container_is_updated_and_keeps_autoremove() {
    let (_dir, path, mut store) = store();
    let mut model = fixture("web", true);
    model.containers[0]["HostConfig"]["AutoRemove"] = json!(true);
    let engine = MemoryEngine::new(model, Some(path));
    let (applied, _) = apply(
        &engine,
        &mut store,
        &move_to_v2("web"),
        None,
        None,
        &Composer::default(),
    );
    assert_eq!(applied.result, ResultKind::Updated, "{:?}", applied.error);
    let model = engine.model();
    settled(&model, "web", V2, &[], false, "autoremove");
    assert_eq!(field(&model, "web", "/HostConfig/AutoRemove"), true);
}

#[test]
fn a_paused_container_is_paused_again_after_its_update() {
    let (_dir, path, mut store) = store();
    let mut model = fixture("web", true);
    model.containers[0]["State"]["Status"] = json!("paused");
    model.containers[0]["State"]["Paused"] = json!(true);
    let engine = MemoryEngine::new(model, Some(path));
    let (applied, _) = apply(
        &engine,
        &mut store,
        &move_to_v2("web"),
        None,
        None,
        &Composer::default(),
    );
    assert_eq!(applied.result, ResultKind::Updated, "{:?}", applied.error);
    settled(&engine.model(), "web", V2, &[], true, "paused");
}

#[test]
fn dependents_follow_the_new_container() {
    let (_dir, path, mut store) = store();
    let model = fixture("web", true);
    let web_id = text_of(&model, "web", "/Id");
    let mut side = model.containers[0].clone();
    side["Name"] = json!("/side");
    side["Id"] = json!(format!("{:064x}", 0x51de_u64));
    side["HostConfig"]["NetworkMode"] = json!(format!("container:{web_id}"));
    side["NetworkSettings"]["Networks"] = json!({});
    let engine = MemoryEngine::new(model.with_container(side, true), Some(path));
    let (applied, entries) = apply(
        &engine,
        &mut store,
        &move_to_v2("web"),
        None,
        None,
        &Composer::default(),
    );
    assert_eq!(applied.result, ResultKind::Updated, "{:?}", applied.error);
    assert_eq!(applied.dependents, ["side"]);
    assert_eq!(results(&entries), [ResultKind::Updated]);
    let model = engine.model();
    settled(&model, "web", V2, &["side"], false, "dependents");
    let new_web = text_of(&model, "web", "/Id");
    assert_eq!(
        field(&model, "side", "/HostConfig/NetworkMode"),
        format!("container:{new_web}").as_str()
    );
    assert_eq!(field(&model, "side", "/State/Status"), "running");
    // The dependent keeps its own image.
    assert_eq!(field(&model, "side", "/Image"), V1);
}

fn text_of(model: &Model, name: &str, pointer: &str) -> String {
    field(model, name, pointer)
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn the_rollback_command_moves_back_to_the_version_before() {
    let (_dir, path, mut store) = store();
    let engine = MemoryEngine::new(fixture("web", true), Some(path));
    let (_, entries) = apply(
        &engine,
        &mut store,
        &move_to_v2("web"),
        None,
        None,
        &Composer::default(),
    );
    store.append_history(&entries).unwrap();
    let last = crate::store::history::last_update(store.history().unwrap(), "web")
        .cloned()
        .unwrap();
    let reference = Reference::parse("dum-spec/app").unwrap();
    let mv = plan::rollback(&last, &reference, &reference, None, "sha256:v1".into());
    assert_eq!(mv.kind, "rollback");
    assert_eq!(mv.change.from.version.as_deref(), Some("2"));
    assert_eq!(
        mv.change.to,
        Pin::new(Some("1".into()), Some("sha256:v1".into()))
    );
    assert_eq!(mv.run_as, "dum-spec/app:1");
    let mv = Move {
        verify: Some(NOW),
        compose: None,
        service: None,
        ..mv
    };
    let (applied, entries) = apply(&engine, &mut store, &mv, None, None, &Composer::default());
    assert_eq!(applied.result, ResultKind::Updated, "{:?}", applied.error);
    assert_eq!(entries[0].kind, "rollback");
    settled(&engine.model(), "web", V1, &[], false, "rolled back");
    // v1 was still local: nothing was pulled for the rollback.
    let pulls = engine
        .calls()
        .iter()
        .filter(|c| c.starts_with("pull"))
        .count();
    assert_eq!(pulls, 1);
}

/// The write calls a transaction makes on `model` (with or without a failing image).
fn writes(model: &Model) -> usize {
    let (_dir, path, mut store) = store();
    let engine = MemoryEngine::new(model.clone(), Some(path));
    apply(
        &engine,
        &mut store,
        &move_to_v2("web"),
        None,
        None,
        &Composer::default(),
    );
    engine.calls().len()
}

#[test]
fn a_failure_at_any_engine_write_leaves_the_journal_and_the_engine_in_agreement() {
    let good = fixture("web", true);
    let bad = fixture("web", true).crashing(V2);
    let mut cases = 0;
    for (variant, model) in [("verifies", &good), ("crashes", &bad)] {
        for n in 1..=writes(model) {
            let case = format!("{variant}, write {n} fails");
            let (_dir, path, mut store) = store();
            let engine = MemoryEngine::new(model.clone(), Some(path.clone())).fail_write(n);
            let (applied, _) = apply(
                &engine,
                &mut store,
                &move_to_v2("web"),
                None,
                None,
                &Composer::default(),
            );
            let failed_call = engine.calls()[n - 1].clone();
            let mut now = engine.model();
            if !store.pending().is_empty() {
                // The journal kept it: the next run converges it.
                assert_eq!(applied.result, ResultKind::Failed, "{case}");
                let healthy = MemoryEngine::new(now, None);
                drop(store);
                let mut next = Store::open(&path, None).unwrap();
                recovery::converge(&healthy, &mut next).unwrap();
                assert_eq!(next.pending(), [], "{case}");
                now = healthy.model();
            }
            // Only a verified update moves the container; whatever failed before left
            // (or put back) the old one; a failure after it leaves the new one.
            let updated = applied.result == ResultKind::Updated
                || (failed_call.starts_with("remove") && variant == "verifies");
            let image = if updated { V2 } else { V1 };
            settled(
                &now,
                "web",
                image,
                &[],
                false,
                &format!("{case} ({failed_call})"),
            );
            cases += 1;
        }
    }
    assert!(cases >= 13, "{cases} cases");
}

/// Puts the journal and the engine back as they were at `checkpoint`, as a dum killed
/// there would have left them. Unless the engine is still carrying out the stop (a kill
/// `during` it), any stop deadline has passed: the next run came later.
fn resume(checkpoint: &Checkpoint, dir: &Path) -> (MemoryEngine, Store) {
    let path = dir.join("state.json");
    match &checkpoint.state {
        Some(bytes) => {
            let mut state: Value = serde_json::from_slice(bytes).unwrap();
            for tx in state["journal"].as_array_mut().into_iter().flatten() {
                if checkpoint.when != "during" {
                    tx["stop_deadline_ms"] = json!(0);
                }
            }
            std::fs::write(&path, serde_json::to_vec(&state).unwrap()).unwrap();
        }
        None => {
            let _ = std::fs::remove_file(&path);
        }
    }
    let engine = MemoryEngine::new(checkpoint.model.clone(), None);
    (engine, Store::open(&path, None).unwrap())
}

#[test]
fn a_run_killed_at_any_point_is_converged_by_the_next() {
    let mut resumed = 0;
    for auto_remove in [false, true] {
        for (variant, crashing) in [("verifies", false), ("crashes", true)] {
            let (dir, path, mut store) = store();
            let mut model = fixture("web", true);
            model.containers[0]["HostConfig"]["AutoRemove"] = json!(auto_remove);
            if crashing {
                model = model.crashing(V2);
            }
            let engine = MemoryEngine::new(model, Some(path));
            apply(
                &engine,
                &mut store,
                &move_to_v2("web"),
                None,
                None,
                &Composer::default(),
            );
            for checkpoint in engine.checkpoints() {
                let case = format!(
                    "AutoRemove {auto_remove}, {variant}, killed {} `{}`",
                    checkpoint.when, checkpoint.call
                );
                let journal: Value = checkpoint
                    .state
                    .as_deref()
                    .map(|b| serde_json::from_slice(b).unwrap())
                    .unwrap_or(json!({"journal": []}));
                let step = journal["journal"][0]["step"].as_str().map(str::to_string);
                let kill_dir = tempfile::tempdir().unwrap();
                let (engine, mut next) = resume(&checkpoint, kill_dir.path());
                recovery::converge(&engine, &mut next).unwrap_or_else(|e| panic!("{case}: {e:#}"));
                assert_eq!(next.pending(), [], "{case}");
                // Whatever the engine was still doing has landed by now.
                engine.finish_stops();
                let model = engine.model();
                // A verified new container is kept; anything before is undone. After
                // the journal was cleared the update is simply done.
                let kept_new = matches!(step.as_deref(), Some("verified"))
                    || (step.is_none() && !crashing && checkpoint.call.starts_with("remove"));
                let image = if kept_new { V2 } else { V1 };
                settled(&model, "web", image, &[], false, &case);
                assert_eq!(
                    field(&model, "web", "/HostConfig/AutoRemove"),
                    auto_remove,
                    "{case}"
                );
                assert!(model.container(&backup_name("web")).is_none(), "{case}");
                let history = next.history().unwrap();
                assert_eq!(history.len(), usize::from(step.is_some()), "{case}");
                resumed += 1;
            }
            drop(dir);
        }
    }
    assert!(resumed >= 50, "{resumed} points");
}

#[test]
fn a_healthcheck_decides_verification() {
    let cases = [
        ("healthy", ResultKind::Updated, ""),
        (
            "unhealthy",
            ResultKind::RolledBack,
            "the new container turned unhealthy",
        ),
        (
            "starting",
            ResultKind::RolledBack,
            "the new container was not healthy after",
        ),
    ];
    for (health, want, error) in cases {
        let (_dir, path, mut store) = store();
        let model = fixture("web", true).health(V2, health);
        let old_id = text_of(&model, "web", "/Id");
        let engine = MemoryEngine::new(model, Some(path));
        let (applied, entries) = apply(
            &engine,
            &mut store,
            &move_to_v2("web"),
            None,
            None,
            &Composer::default(),
        );
        assert_eq!(applied.result, want, "{health}: {:?}", applied.error);
        assert_eq!(results(&entries), [want], "{health}");
        let message = applied.error.unwrap_or_default();
        assert!(message.contains(error), "{health}: {message}");
        let model = engine.model();
        let updated = want == ResultKind::Updated;
        settled(
            &model,
            "web",
            if updated { V2 } else { V1 },
            &[],
            false,
            health,
        );
        // A rollback brings back the old container itself, not a copy.
        assert_eq!(
            text_of(&model, "web", "/Id") == old_id,
            !updated,
            "{health}"
        );
        assert_eq!(store.pending(), [], "{health}");
    }
}

/// `model` with a container `side` that shares the network namespace of `web`
/// (`--network container:web`, stored by the engine as the full ID).
fn with_dependent(model: Model) -> Model {
    let web_id = text_of(&model, "web", "/Id");
    let mut side = model.containers[0].clone();
    side["Name"] = json!("/side");
    side["Id"] = json!(format!("{:064x}", 0x51de_u64));
    side["HostConfig"]["NetworkMode"] = json!(format!("container:{web_id}"));
    side["HostConfig"]["AutoRemove"] = json!(false);
    side["NetworkSettings"]["Networks"] = json!({});
    model.with_container(side, true)
}

/// The container `side` runs in the network namespace of the container called `web`.
fn joins_web(model: &Model) -> bool {
    let web = text_of(model, "web", "/Id");
    field(model, "side", "/State/Status") == "running"
        && field(model, "side", "/HostConfig/NetworkMode") == format!("container:{web}").as_str()
}

#[test]
fn a_rollback_restarts_the_dependents_in_the_old_container_namespace() {
    let (_dir, path, mut store) = store();
    let model = with_dependent(fixture("web", true).crashing(V2));
    let old_id = text_of(&model, "web", "/Id");
    let engine = MemoryEngine::new(model, Some(path));
    let (applied, _) = apply(
        &engine,
        &mut store,
        &move_to_v2("web"),
        None,
        None,
        &Composer::default(),
    );
    assert_eq!(
        applied.result,
        ResultKind::RolledBack,
        "{:?}",
        applied.error
    );
    let model = engine.model();
    settled(&model, "web", V1, &["side"], false, "rolled back");
    assert_eq!(text_of(&model, "web", "/Id"), old_id);
    assert!(joins_web(&model), "{:?}", model.container("side"));
    // Its namespace went with the old container's stop: it was restarted to rejoin it.
    let calls = engine.calls();
    let restarted = calls.iter().position(|c| *c == format!("start {old_id}"));
    let rejoined = calls.iter().position(|c| c == "start side");
    assert!(restarted.is_some() && rejoined > restarted, "{calls:?}");
}

#[test]
fn a_rollback_of_an_autoremove_container_brings_its_dependents_along() {
    let (_dir, path, mut store) = store();
    let mut model = fixture("web", true).crashing(V2);
    model.containers[0]["HostConfig"]["AutoRemove"] = json!(true);
    let engine = MemoryEngine::new(with_dependent(model), Some(path));
    let (applied, _) = apply(
        &engine,
        &mut store,
        &move_to_v2("web"),
        None,
        None,
        &Composer::default(),
    );
    assert_eq!(
        applied.result,
        ResultKind::RolledBack,
        "{:?}",
        applied.error
    );
    let model = engine.model();
    settled(&model, "web", V1, &["side"], false, "rolled back");
    // The engine removed the old web as it stopped; the restored one is a new
    // container, and side must join it (or the failure must say side was left).
    let reported = applied.error.unwrap_or_default().contains("side");
    assert!(
        joins_web(&model) || reported,
        "{:?}",
        model.container("side")
    );
}

#[test]
fn errors_while_looking_for_dependents_are_reported() {
    let side_id = format!("{:064x}", 0x51de_u64);
    let cases = [
        (
            "containers",
            "cannot list the dependents of web".to_string(),
        ),
        (
            &*format!("inspect_container {side_id}"),
            "cannot tell whether side depends on web".to_string(),
        ),
    ];
    for (call, want) in cases {
        let (_dir, path, mut store) = store();
        let model = with_dependent(fixture("web", true));
        let engine = MemoryEngine::new(model, Some(path)).fail_on(call, 1);
        let (applied, entries) = apply(
            &engine,
            &mut store,
            &move_to_v2("web"),
            None,
            None,
            &Composer::default(),
        );
        // The update itself went through; the run says what it could not check.
        assert_eq!(results(&entries), [ResultKind::Updated], "{call}");
        assert_eq!(applied.result, ResultKind::Failed, "{call}");
        let error = applied.error.unwrap_or_default();
        assert!(error.contains(&want), "{call}: {error}");
        settled(&engine.model(), "web", V2, &["side"], false, call);
    }
}

/// The variants a failure at every call runs on: (name, model, other containers, paused).
fn variants() -> Vec<(&'static str, Model, Vec<&'static str>, bool)> {
    let mut auto_remove = fixture("web", true);
    auto_remove.containers[0]["HostConfig"]["AutoRemove"] = json!(true);
    let mut paused = fixture("web", true);
    paused.containers[0]["State"]["Status"] = json!("paused");
    paused.containers[0]["State"]["Paused"] = json!(true);
    let two_networks = fixture_of(
        include_str!("../../tests/fixtures/inspect/container_full.json"),
        "web",
        true,
    );
    vec![
        ("verifies", fixture("web", true), vec![], false),
        ("crashes", fixture("web", true).crashing(V2), vec![], false),
        ("AutoRemove", auto_remove.clone(), vec![], false),
        (
            "AutoRemove, crashes",
            auto_remove.crashing(V2),
            vec![],
            false,
        ),
        ("paused", paused.clone(), vec![], true),
        ("paused, crashes", paused.crashing(V2), vec![], true),
        ("two networks", two_networks.clone(), vec![], false),
        (
            "two networks, crashes",
            two_networks.crashing(V2),
            vec![],
            false,
        ),
        (
            "a dependent",
            with_dependent(fixture("web", true)),
            vec!["side"],
            false,
        ),
    ]
}

#[test]
fn a_failure_at_any_engine_call_reads_included_leaves_the_journal_and_the_engine_in_agreement() {
    let mut cases = 0;
    for (variant, model, others, paused) in variants() {
        let old_id = text_of(&model, "web", "/Id");
        let auto_remove = field(&model, "web", "/HostConfig/AutoRemove") == true;
        let all = {
            let (_dir, path, mut store) = store();
            let engine = MemoryEngine::new(model.clone(), Some(path));
            apply(
                &engine,
                &mut store,
                &move_to_v2("web"),
                None,
                None,
                &Composer::default(),
            );
            engine.log()
        };
        assert!(all.iter().any(|c| c.starts_with("inspect_")), "{variant}");
        for (n, call) in all.iter().enumerate() {
            let case = format!("{variant}, call {} fails: `{call}`", n + 1);
            let (_dir, path, mut store) = store();
            let engine = MemoryEngine::new(model.clone(), Some(path.clone())).fail_call(n + 1);
            let (applied, entries) = apply(
                &engine,
                &mut store,
                &move_to_v2("web"),
                None,
                None,
                &Composer::default(),
            );
            let touched = engine.calls().iter().any(|c| c.starts_with("rename"));
            let pending = store.pending();
            let mut now = engine.model();
            if !pending.is_empty() {
                // The journal kept a transaction: the run says what failed (a
                // transaction still bringing its dependents along was updated or rolled
                // back: it says which dependents it could not place), and the next run
                // converges it.
                let settling = pending
                    .iter()
                    .all(|t| matches!(t.step, Step::Updated | Step::Restored));
                if settling {
                    let error = applied.error.as_deref().unwrap_or("");
                    for t in &pending {
                        let said = format!("dependents of {}", t.container);
                        assert!(error.contains(&said), "{case}: {error}");
                    }
                } else {
                    assert_eq!(applied.result, ResultKind::Failed, "{case}");
                }
                let healthy = MemoryEngine::new(now, None);
                drop(store);
                let mut next = Store::open(&path, None).unwrap();
                recovery::converge(&healthy, &mut next).unwrap_or_else(|e| panic!("{case}: {e:#}"));
                assert_eq!(next.pending(), [], "{case}");
                now = healthy.model();
            }
            // The new version stays only once verified; anything else is undone.
            let web_updated = entries.first().map(|e| e.result) == Some(ResultKind::Updated)
                || pending
                    .iter()
                    .any(|t| t.container == "web" && t.step == Step::Verified);
            settled(
                &now,
                "web",
                if web_updated { V2 } else { V1 },
                &others,
                paused,
                &case,
            );
            if !web_updated && !auto_remove {
                // Untouched or rolled back: the old container itself, not a copy.
                assert_eq!(text_of(&now, "web", "/Id"), old_id, "{case}");
            }
            if !touched {
                assert_eq!(now.containers, model.containers, "{case}: untouched");
            }
            if others.contains(&"side") {
                // A dependent is never left behind silently.
                let error = applied.error.as_deref().unwrap_or("");
                let reported = error.contains("side") || error.contains("dependents of web");
                assert!(
                    joins_web(&now) || reported,
                    "{case}: {:?}",
                    now.container("side")
                );
            }
            cases += 1;
        }
    }
    assert!(cases >= 150, "{cases} cases");
}

/// Kills a run that updates `web` (with its dependent `side`) at every checkpoint
/// `wanted` picks (given the journaled transactions then), converges, and returns
/// every point after which `side` does not run in the namespace of the container
/// called `web` (or the convergence failed), and how many points were tried.
fn killed_with_a_dependent(wanted: impl Fn(&[String]) -> bool) -> (Vec<String>, usize) {
    let mut stranded = Vec::new();
    let mut resumed = 0;
    for (variant, crashing) in [("verifies", false), ("crashes", true)] {
        let (_dir, path, mut store) = store();
        let mut model = with_dependent(fixture("web", true));
        if crashing {
            model = model.crashing(V2);
        }
        let engine = MemoryEngine::new(model, Some(path));
        apply(
            &engine,
            &mut store,
            &move_to_v2("web"),
            None,
            None,
            &Composer::default(),
        );
        for checkpoint in engine.checkpoints() {
            let journal: Value = checkpoint
                .state
                .as_deref()
                .map(|b| serde_json::from_slice(b).unwrap())
                .unwrap_or(json!({"journal": []}));
            let journaled: Vec<String> = journal["journal"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| t["container"].as_str().unwrap_or("").to_string())
                .collect();
            if !wanted(&journaled) {
                continue;
            }
            let case = format!(
                "{variant}, killed {} `{}` (journal: {journaled:?})",
                checkpoint.when, checkpoint.call
            );
            let kill_dir = tempfile::tempdir().unwrap();
            let (engine, mut next) = resume(&checkpoint, kill_dir.path());
            resumed += 1;
            if let Err(e) = recovery::converge(&engine, &mut next) {
                stranded.push(format!("{case}: {e:#}"));
                continue;
            }
            assert_eq!(next.pending(), [], "{case}");
            engine.finish_stops();
            let model = engine.model();
            assert_eq!(model.names(), ["side", "web"], "{case}");
            assert_eq!(field(&model, "web", "/State/Status"), "running", "{case}");
            if !joins_web(&model) {
                stranded.push(format!(
                    "{case}: side is {}, {}; web is {}",
                    text_of(&model, "side", "/State/Status"),
                    text_of(&model, "side", "/HostConfig/NetworkMode"),
                    text_of(&model, "web", "/Id")
                ));
            }
        }
    }
    (stranded, resumed)
}

#[test]
fn a_run_killed_during_the_transaction_of_a_container_brings_its_dependents_along() {
    let (stranded, resumed) = killed_with_a_dependent(|journaled| journaled == ["web"]);
    assert!(stranded.is_empty(), "{}", stranded.join("\n"));
    assert!(resumed >= 20, "{resumed} points");
}

#[test]
fn a_run_killed_while_the_dependents_follow_leaves_them_in_the_namespace_of_the_container() {
    let (stranded, resumed) = killed_with_a_dependent(|_| true);
    assert!(stranded.is_empty(), "{}", stranded.join("\n"));
    assert!(resumed >= 40, "{resumed} points");
}

#[test]
fn a_dependent_that_fails_to_start_is_converged() {
    let (_dir, path, mut store) = store();
    let model = with_dependent(fixture("web", true));
    // The second start is the new side's (the first is the new web's).
    let engine = MemoryEngine::new(model, Some(path.clone())).fail_on("start", 2);
    let (applied, _) = apply(
        &engine,
        &mut store,
        &move_to_v2("web"),
        None,
        None,
        &Composer::default(),
    );
    let error = applied.error.unwrap_or_default();
    assert!(error.contains("dependent side"), "{error}");
    let healthy = MemoryEngine::new(engine.model(), None);
    drop(store);
    let mut next = Store::open(&path, None).unwrap();
    recovery::converge(&healthy, &mut next).unwrap();
    assert_eq!(next.pending(), []);
    assert!(joins_web(&healthy.model()), "{:?}", healthy.model().names());
}

/// `move_to_v2` with in-container hooks running `pre` before and `post` after, and a
/// `post_rollback` one.
fn hooked(pre: Option<&str>, post: Option<&str>) -> Move {
    use crate::config::hooks::{Hook, Hooks, Place};
    let hook = |program: &str| Hook {
        place: Place::Container,
        argv: vec![program.to_string()],
        timeout_seconds: 5,
    };
    Move {
        hooks: Hooks {
            pre_update: pre.map(hook),
            post_update: post.map(hook),
            post_rollback: Some(hook("after-rollback")),
        },
        ..move_to_v2("web")
    }
}

/// The `pre_update` hook's exit decides before anything is touched: 0 goes on, 75
/// skips (not a failure), anything else or a timeout vetoes; the old container is
/// never touched by the last three, and the journal is empty after each.
#[test]
fn the_pre_update_hook_goes_on_skips_or_vetoes() {
    let cases: &[(Option<i64>, &str, ResultKind, &str)] = &[
        (Some(0), "", ResultKind::Updated, ""),
        (
            Some(75),
            "busy",
            ResultKind::Skipped,
            "skipped by pre_update hook",
        ),
        (
            Some(3),
            "dumping\nno space left\n",
            ResultKind::Failed,
            "vetoed: the pre_update hook exited with 3: no space left; web is untouched",
        ),
        (
            None,
            "",
            ResultKind::Failed,
            "the pre_update hook timed out after 5 s",
        ),
    ];
    for (exit, output, want, reason) in cases {
        let (_dir, path, mut store) = store();
        let mut model = fixture("web", true);
        model.exec = vec![("backup".into(), *exit, output.to_string())];
        let engine = MemoryEngine::new(model, Some(path));
        let old_id = field(&engine.model(), "web", "/Id").clone();
        let mv = hooked(Some("backup"), None);
        let (applied, entries) = apply(&engine, &mut store, &mv, None, None, &Composer::default());
        let case = format!("exit {exit:?}");
        assert_eq!(applied.result, *want, "{case}: {:?}", applied.error);
        assert!(
            applied.error.as_deref().unwrap_or("").contains(reason),
            "{case}: {:?}",
            applied.error
        );
        assert_eq!(applied.hooks.len(), 1, "{case}");
        assert_eq!(applied.hooks[0].phase, "pre_update");
        assert_eq!(
            entries[0].hooks, applied.hooks,
            "{case}: the history keeps it"
        );
        // The hook ran in the old container, before any write.
        let log = engine.log();
        let exec = log
            .iter()
            .position(|c| c.starts_with("exec"))
            .unwrap_or(usize::MAX);
        assert_eq!(
            log.get(exec),
            Some(&format!("exec {} backup", old_id.as_str().unwrap())),
            "{case}"
        );
        if *want != ResultKind::Updated {
            assert_eq!(engine.calls().len(), 1, "{case}: only the exec");
        }
        if *want != ResultKind::Updated {
            assert_eq!(field(&engine.model(), "web", "/Id"), &old_id, "{case}");
            settled(&engine.model(), "web", V1, &[], false, &case);
        }
        assert_eq!(store.pending(), [], "{case}: the journal is empty");
    }
}

/// A `post_update` hook that fails is a failed verification: the old container comes
/// back, and the `post_rollback` hook runs in it.
#[test]
fn a_failing_post_update_hook_rolls_back() {
    let (_dir, path, mut store) = store();
    let mut model = fixture("web", true);
    model.exec = vec![("smoke".into(), Some(1), "HTTP 500\n".into())];
    let engine = MemoryEngine::new(model, Some(path));
    let old_id = field(&engine.model(), "web", "/Id").clone();
    let (applied, entries) = apply(
        &engine,
        &mut store,
        &hooked(None, Some("smoke")),
        None,
        None,
        &Composer::default(),
    );
    assert_eq!(
        applied.result,
        ResultKind::RolledBack,
        "{:?}",
        applied.error
    );
    let error = applied.error.unwrap_or_default();
    assert!(
        error.contains("the post_update hook exited with 1: HTTP 500"),
        "{error}"
    );
    settled(&engine.model(), "web", V1, &[], false, "rolled back");
    assert_eq!(field(&engine.model(), "web", "/Id"), &old_id);
    let phases: Vec<&str> = applied.hooks.iter().map(|h| h.phase.as_str()).collect();
    assert_eq!(phases, ["post_update", "post_rollback"]);
    assert_eq!(entries[0].hooks.len(), 2);
    let log = engine.log();
    assert!(
        log.contains(&"exec web after-rollback".to_string()),
        "{log:?}"
    );
    assert_eq!(store.pending(), []);
}

/// A run killed while a hook runs converges: during `pre_update` nothing was touched
/// (the entry is only cleared); during `post_update` the update had not been confirmed,
/// so it is rolled back.
#[test]
fn a_run_killed_during_a_hook_converges() {
    let cases = [
        (
            hooked(Some("backup"), None),
            "pre_update",
            ResultKind::Failed,
        ),
        (
            hooked(None, Some("smoke")),
            "post_update",
            ResultKind::RolledBack,
        ),
    ];
    for (mv, step, want) in cases {
        let (_dir, path, mut store) = store();
        let engine = MemoryEngine::new(fixture("web", true), Some(path));
        let old_id = field(&engine.model(), "web", "/Id").clone();
        let (applied, _) = apply(&engine, &mut store, &mv, None, None, &Composer::default());
        assert_eq!(applied.result, ResultKind::Updated, "{:?}", applied.error);
        // Killed while the hook ran: the engine and the journal as they were then.
        let during = engine
            .checkpoints()
            .into_iter()
            .find(|c| c.call.starts_with("exec") && c.when == "before")
            .unwrap();
        let journal: Value = serde_json::from_slice(during.state.as_deref().unwrap()).unwrap();
        assert_eq!(journal["journal"][0]["step"], step);
        let kill_dir = tempfile::tempdir().unwrap();
        let (engine, mut next) = resume(&during, kill_dir.path());
        recovery::converge(&engine, &mut next).unwrap();
        engine.finish_stops();
        settled(&engine.model(), "web", V1, &[], false, step);
        assert_eq!(field(&engine.model(), "web", "/Id"), &old_id, "{step}");
        assert_eq!(next.pending(), [], "{step}");
        let last = next.history().unwrap().last().cloned().unwrap();
        assert_eq!(last.result, want, "{step}");
    }
}
