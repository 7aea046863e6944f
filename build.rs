//! Sets `DUM_VERSION` for `dum --version`: the package version, plus the git commit
//! when one is known. `DUM_GIT_COMMIT` wins (builds from a tarball or inside a
//! Docker build, where there is no `.git`); otherwise `git rev-parse` is asked, and a
//! missing git or repository just leaves the commit out.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=DUM_GIT_COMMIT");
    let commit = std::env::var("DUM_GIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .map(|c| c.trim().to_string())
        .or_else(|| git(&["rev-parse", "--short=10", "HEAD"]));
    // Rebuild when HEAD moves: HEAD itself (branch switch, detached commits) and the
    // branch it points at (new commits); both paths resolve correctly in worktrees.
    let mut watched = vec!["HEAD".to_string()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    watched.push("packed-refs".to_string());
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--git-path", &name])
            && std::path::Path::new(&path).exists()
        {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    let version = env!("CARGO_PKG_VERSION");
    match commit {
        Some(c) => println!("cargo:rustc-env=DUM_VERSION={version} (commit {c})"),
        None => println!("cargo:rustc-env=DUM_VERSION={version}"),
    }
}
