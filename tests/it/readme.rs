//! Keeps README.md honest. Code blocks fenced as ```` ```console tested ```` are run
//! command by command (each `$ dum …` line, with the binary under test first on PATH,
//! in a directory holding `config.example.json`): each must exit 0 and print the lines
//! that follow it in the block (`…` ends a line's prefix, or alone ends the output
//! compared). Every other
//! `dum …` command line in any code block (shell, console, unit files) must at least
//! parse with dum's command-line definition, so a renamed command or option shows up
//! here. Commands that need an engine and a registry (check, update, rollback, tags,
//! history) are run by the other integration tests, the units by ship.rs, the image
//! and the package by ship.rs and packaging/test-deb. Unit files shown in ```` ```ini ````
//! blocks that start with `# /etc/systemd/system/NAME` pass `systemd-analyze verify`; a
//! drop-in (`# /etc/systemd/system/UNIT.d/NAME.conf`) passes it with the shipped UNIT.

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
            // In a console block only prompts are commands; the rest is their output.
            if block.info.starts_with("console") && !line.starts_with("$ ") {
                continue;
            }
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

/// Whether `actual` (a command's stdout) is what the README shows: line by line, a
/// line ending in `…` matching any line it starts, a line `…` alone any rest.
fn shows(expected: &[String], actual: &str) -> bool {
    let actual: Vec<&str> = actual.lines().collect();
    for (i, want) in expected.iter().enumerate() {
        if want == "…" {
            return true;
        }
        let Some(got) = actual.get(i) else {
            return false;
        };
        let same = match want.strip_suffix('…') {
            Some(prefix) => got.starts_with(prefix),
            None => got == want,
        };
        if !same {
            return false;
        }
    }
    actual.len() == expected.len()
}

#[test]
fn output_comparison_follows_the_ellipsis_rules() {
    let lines = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let cases: &[(&[&str], &str, bool)] = &[
        (&["a", "b"], "a\nb\n", true),
        (&["a", "b"], "a\nc\n", false),
        (&["a"], "a\nb\n", false),
        (&["a", "b"], "a\n", false),
        (&["dum 0.1.0…"], "dum 0.1.0 (commit 1)\n", true),
        (&["dum 0.2…"], "dum 0.1.0\n", false),
        (&["a", "…"], "a\nb\nc\n", true),
        (&[], "", true),
        (&[], "x\n", false),
    ];
    for (expected, actual, want) in cases {
        assert_eq!(
            shows(&lines(expected), actual),
            *want,
            "{expected:?} vs {actual:?}"
        );
    }
}

#[test]
fn tested_readme_blocks_run_and_print_what_the_readme_shows() {
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
    for block in blocks(&text).iter().filter(|b| b.info == "console tested") {
        let mut i = 0;
        while i < block.lines.len() {
            let line = &block.lines[i];
            let command = line.strip_prefix("$ ").unwrap_or_else(|| {
                panic!(
                    "README.md line {}: a tested block holds commands (`$ …`) and their output",
                    block.first_line + i
                )
            });
            assert!(dum_command(command).is_some(), "{command}");
            let expected: Vec<String> = block.lines[i + 1..]
                .iter()
                .take_while(|l| !l.starts_with("$ "))
                .cloned()
                .collect();
            ran += 1;
            let out = Command::new("sh")
                .args(["-ec", command])
                .current_dir(dir.path())
                .env("PATH", &path)
                .env("NO_COLOR", "1")
                // Nothing in these blocks may depend on the machine's configuration.
                .env("CONFIG_FILE", dir.path().join("config.example.json"))
                .env("STATE_FILE", dir.path().join("state/state.json"))
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "README.md line {}: `{command}` exited with {}\n{stdout}{}",
                block.first_line + i,
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                shows(&expected, &stdout),
                "README.md line {}: `{command}` printed\n{stdout}\nwhere the README shows\n{}",
                block.first_line + i,
                expected.join("\n")
            );
            i += 1 + expected.len();
        }
    }
    assert!(ran >= 8, "only {ran} commands in ```console tested blocks");
    // What the redirected commands wrote is what they are for.
    let schema = std::fs::read_to_string(dir.path().join("dum.schema.json")).unwrap();
    assert!(serde_json::from_str::<serde_json::Value>(&schema).is_ok());
    let completion = std::fs::read_to_string(dir.path().join("dum.bash")).unwrap();
    assert!(completion.contains("complete "), "a bash completion script");
    let page = std::fs::read_to_string(dir.path().join("dum.1")).unwrap();
    assert!(page.contains("\n.TH dum 1 "), "a man page");
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
        let name = name.trim();
        // A drop-in is verified with the shipped unit it extends beside it (whose
        // ExecStart runs the binary under test: verify insists that it exists).
        if let Some((unit, conf)) = name.split_once(".d/") {
            let shipped = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("systemd")
                .join(unit);
            let text = std::fs::read_to_string(&shipped)
                .unwrap_or_else(|e| panic!("a drop-in for {unit}, not in systemd/: {e}"));
            let text = text.replace("ExecStart=/usr/bin/dum ", &format!("ExecStart={BIN} "));
            std::fs::write(dir.path().join(unit), text).unwrap();
            let drop_ins = dir.path().join(format!("{unit}.d"));
            std::fs::create_dir_all(&drop_ins).unwrap();
            std::fs::write(drop_ins.join(conf), block.lines.join("\n") + "\n").unwrap();
            units.push(dir.path().join(unit));
            continue;
        }
        // A template is verified as an instance, the way OnFailure= starts it.
        let name = name.replace("@.", "@dum-check.service.");
        let path = dir.path().join(&name);
        std::fs::write(&path, block.lines.join("\n") + "\n").unwrap();
        units.push(path);
    }
    units.sort();
    units.dedup();
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
