//! Keeps README.md honest. Code blocks fenced as ```` ```sh tested ```` are run line
//! by line (each line that starts with `dum`, with the binary under test first on
//! PATH, in a directory holding `config.example.json`) and must exit 0. Every other
//! `dum …` command line in any code block (shell, console, unit files) must at least
//! parse with dum's command-line definition, so a renamed command or option shows up
//! here. Commands that need an engine and a registry (check, update, rollback, tags,
//! history) are run by the other integration tests, the units by ship.rs, the image
//! and the package by ship.rs and packaging/test-deb. Unit files shown in ```` ```ini ````
//! blocks that start with `# /etc/systemd/system/NAME` pass `systemd-analyze verify`.

use crate::harness::dum::BIN;
use clap::Parser;
use std::path::Path;
use std::process::Command;

/// One fenced code block: its info string and its lines.
struct Block {
    info: String,
    first_line: usize,
    lines: Vec<String>,
}

fn blocks(markdown: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut current: Option<Block> = None;
    for (n, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            match current.take() {
                Some(block) => out.push(block),
                None => {
                    current = Some(Block {
                        info: info.trim().to_string(),
                        first_line: n + 2,
                        lines: Vec::new(),
                    })
                }
            }
        } else if let Some(block) = current.as_mut() {
            block.lines.push(line.to_string());
        }
    }
    out
}

/// The words of a shell command line up to the first operator, quotes removed.
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => word.extend(chars.next()),
                        _ => word.push(q),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.extend(chars.next());
            }
            // `2>&1`: the 2 is a file descriptor, not an argument.
            '>' | '<' if in_word && word.chars().all(|d| d.is_ascii_digit()) => {
                return words;
            }
            ';' | '|' | '&' | '>' | '<' | ')' | '`' => break,
            '#' if !in_word => break,
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// The dum invocation on a code line, if any: shell lines and prompts (`$ dum …`),
/// anything running `/usr/bin/dum …` (unit files, crontabs).
fn dum_command(line: &str) -> Option<&str> {
    if let Some(at) = line.find("/usr/bin/dum ") {
        return Some(&line[at + "/usr/bin/".len()..]);
    }
    let line = line.trim_start();
    let line = line.strip_prefix("$ ").unwrap_or(line);
    (line == "dum" || line.starts_with("dum ")).then_some(line)
}

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

#[test]
fn word_splitting_follows_the_shell() {
    let cases: &[(&str, &[&str])] = &[
        ("dum check", &["dum", "check"]),
        ("dum check; [ $? -eq 100 ]", &["dum", "check"]),
        ("dum schema > x.json", &["dum", "schema"]),
        (
            "dum tags img --regex '^v[0-9]+$'",
            &["dum", "tags", "img", "--regex", "^v[0-9]+$"],
        ),
        (
            "dum check --format json | jq .",
            &["dum", "check", "--format", "json"],
        ),
        ("dum update   # comment", &["dum", "update"]),
        ("dum a\"b c\"d", &["dum", "ab cd"]),
        (
            "dum check --wait 300 2>&1) || echo",
            &["dum", "check", "--wait", "300"],
        ),
    ];
    for (line, want) in cases {
        assert_eq!(words(line), *want, "{line}");
    }
}

#[test]
fn every_dum_command_line_in_the_readme_parses() {
    let text = readme();
    let mut seen = 0;
    for block in blocks(&text) {
        for (i, line) in block.lines.iter().enumerate() {
            let Some(command) = dum_command(line) else {
                continue;
            };
            seen += 1;
            let args = words(command);
            if let Err(e) = dum::cli::Cli::try_parse_from(&args) {
                use clap::error::ErrorKind;
                if !matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                    panic!(
                        "README.md line {}: {command:?} does not parse:\n{e}",
                        block.first_line + i
                    );
                }
            }
        }
    }
    assert!(
        seen >= 20,
        "only {seen} dum command lines found in README.md"
    );
}

#[test]
fn tested_readme_blocks_run() {
    let text = readme();
    let dir = crate::harness::temp_dir("dum-test-readme-");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.json"),
        dir.path().join("config.example.json"),
    )
    .unwrap();
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut ran = 0;
    for block in blocks(&text).iter().filter(|b| b.info == "sh tested") {
        for (i, line) in block.lines.iter().enumerate() {
            if dum_command(line).is_none() {
                continue;
            }
            ran += 1;
            let out = Command::new("sh")
                .args(["-ec", line])
                .current_dir(dir.path())
                .env("PATH", &path)
                .env("NO_COLOR", "1")
                // Nothing in these blocks may depend on the machine's configuration.
                .env("CONFIG_FILE", dir.path().join("config.example.json"))
                .env("STATE_FILE", dir.path().join("state/state.json"))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "README.md line {}: `{line}` exited with {}\n{}{}",
                block.first_line + i,
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    assert!(ran >= 5, "only {ran} lines in ```sh tested blocks");
}

#[test]
fn unit_files_in_the_readme_pass_systemd_analyze_verify() {
    let dir = crate::harness::temp_dir("dum-test-readme-units-");
    let mut units = Vec::new();
    for block in blocks(&readme()).iter().filter(|b| b.info == "ini") {
        let Some(name) = block
            .lines
            .first()
            .and_then(|l| l.strip_prefix("# /etc/systemd/system/"))
        else {
            continue;
        };
        // A template is verified as an instance, the way OnFailure= starts it.
        let name = name.trim().replace("@.", "@dum-check.service.");
        let path = dir.path().join(&name);
        std::fs::write(&path, block.lines.join("\n") + "\n").unwrap();
        units.push(path);
    }
    assert!(units.len() >= 2, "unit files found in README.md: {units:?}");
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(&units)
        .output()
        .expect("systemd-analyze (package systemd) is needed; scripts/test installs it");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify {units:?}: {}\n{stderr}",
        out.status
    );
}
