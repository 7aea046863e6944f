//! The run lock: a second run exits 75 at once while the lock is held, `--wait` waits
//! for it, dry runs ignore it.

use crate::harness::{Container, Dum, Image, registry};
use crate::report::{Report, config, entry};
use serde_json::json;
use std::fs::OpenOptions;
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Holds the exclusive flock on a file from a thread of the test process; released
/// after the hold time or on drop, whichever comes first.
struct Holder {
    release: mpsc::Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl Holder {
    /// Returns once the lock on `path` is held.
    fn take(path: PathBuf, hold: Duration) -> Holder {
        let (locked, is_locked) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .unwrap();
            let mut lock = fd_lock::RwLock::new(file);
            let guard = lock.try_write().unwrap();
            locked.send(()).unwrap();
            let _ = released.recv_timeout(hold);
            drop(guard);
        });
        is_locked.recv().unwrap();
        Holder {
            release,
            thread: Some(thread),
        }
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.release.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn a_held_lock_gives_75_and_wait_waits_for_it() {
    let reg = registry::anon();
    let app = Image::new(reg, "lock");
    let v1 = app.clone().version("v1.0.0").build_and_push();
    let c = Container::run("lock", &v1.reference, &[]);
    let dum = Dum::new().config_json(config(&[entry(
        &app.name(),
        json!({"container_name": c.name()}),
    )]));
    let lock_path = dum.state_path().with_file_name("dum.lock");

    let holder = Holder::take(lock_path.clone(), Duration::from_secs(60));
    let started = Instant::now();
    let out = dum.run(&["check"]);
    out.assert_code(75);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "exit 75 took {:?}",
        started.elapsed()
    );
    out.assert_stderr_contains(lock_path.to_str().unwrap());
    assert_eq!(out.stdout, "", "{out:?}");
    assert!(dum.state().is_none(), "state written without the lock");

    // A short wait that runs out is 75 too.
    let started = Instant::now();
    dum.run(&["check", "--wait", "1"]).assert_code(75);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(6),
        "--wait 1 gave up after {waited:?}"
    );

    // A dry run takes no lock and is not blocked.
    Report::run(&dum, &["--dry-run"], 0);
    drop(holder);

    // Released while a run waits: that run proceeds.
    let holder = Holder::take(lock_path, Duration::from_millis(700));
    let started = Instant::now();
    let report = Report::run(&dum, &["--wait", "10"], 0);
    let waited = started.elapsed();
    drop(holder);
    report.assert_fields(report.only(), json!({"status": "up_to_date"}));
    assert!(
        waited >= Duration::from_millis(500),
        "--wait 10 did not wait for the lock ({waited:?})"
    );
    assert!(dum.state().is_some(), "no state after the waiting run");
}
