//! The command line: clap definitions, converted once into plain [`Settings`].

pub mod settings;

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::builder::BoolishValueParser;
use clap::{ColorChoice, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::cli::settings::{Command, ConfigPath, Format, Settings, Shell};

/// Keeps Docker containers on the newest version of their images, safely.
#[derive(Debug, Parser)]
// The version carries the git commit when build.rs found one. Colour (clap's anstream)
// is used only on a terminal and never with NO_COLOR, like the logs.
#[command(name = "dum", version = env!("DUM_VERSION"), about, long_about = None)]
#[command(color = ColorChoice::Auto)]
#[command(
    after_help = "Examples:\n  dum check\n  dum update --dry-run\n  dum tags lscr.io/linuxserver/calibre\n\n\
Exit codes: 0 nothing pending, 100 updates available, 101 updated, \
1 failure, 2 usage or configuration error, 75 another run holds the lock."
)]
pub struct Cli {
    /// Configuration file [default: /etc/dum/config.json as root, else $XDG_CONFIG_HOME/dum/config.json]
    #[arg(long, global = true, env = "CONFIG_FILE", value_name = "PATH")]
    config: Option<PathBuf>,

    /// State file; the lock and history live beside it [default: /var/lib/dum/state.json as root, else $XDG_STATE_HOME/dum/state.json]
    #[arg(long, global = true, env = "STATE_FILE", value_name = "PATH")]
    state: Option<PathBuf>,

    /// Change nothing and write nothing; say what would be done
    #[arg(long, global = true, env = "DRY_RUN", value_parser = BoolishValueParser::new(), default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    dry_run: bool,

    /// Log level on stderr: error, warn, info, debug, trace
    #[arg(
        long,
        global = true,
        env = "LOG_LEVEL",
        value_name = "LEVEL",
        default_value = "warn"
    )]
    pub log_level: String,

    /// Report format on stdout
    #[arg(long, global = true, value_enum, default_value_t = FormatArg::Table)]
    format: FormatArg,

    /// Wait up to SECONDS for another dum run to finish instead of exiting with 75
    #[arg(long, global = true, value_name = "SECONDS")]
    wait: Option<u64>,

    /// Worker threads for checking (they mostly wait on the network; fewer use less memory)
    #[arg(long, global = true, env = "DUM_JOBS", value_name = "N", default_value_t = 48, value_parser = clap::value_parser!(u16).range(1..=256))]
    jobs: u16,

    /// Resolve base tags by asking every version tag's digest (benchmark baseline)
    #[arg(long, global = true, hide = true)]
    naive_resolution: bool,

    #[command(subcommand)]
    command: CommandArg,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
enum CommandArg {
    /// Report, for every configured image, what runs and whether an update is available
    #[command(
        after_help = "Examples:\n  dum check\n  dum check calibre --format json\n  \
dum check; [ $? -eq 100 ] && echo 'updates pending'"
    )]
    Check {
        /// Container names or images to check (default: all configured)
        targets: Vec<String>,
        /// Write Prometheus metrics here after the run (node_exporter's textfile format; overrides the configuration's metrics_file)
        #[arg(long, value_name = "PATH")]
        metrics_file: Option<PathBuf>,
    },
    /// Write a configuration for the running containers, with version regexes from their tags
    #[command(
        after_help = "Examples:\n  dum init --dry-run          # print the file, write nothing\n  \
dum init                    # write it (never over an existing file)\n  \
dum init --add              # add the containers the file does not cover yet\n  \
dum init calibre --add      # only this one"
    )]
    Init {
        /// Only these running containers (names or images)
        targets: Vec<String>,
        /// Append entries for the running containers an existing file does not cover,
        /// keeping every byte of what it has
        #[arg(long)]
        add: bool,
    },
    /// Apply updates: every auto_update image, or exactly the named targets
    #[command(
        after_help = "Examples:\n  dum update                 # every image with auto_update: true\n  \
dum update calibre         # this container, whatever auto_update says\n  \
dum update --dry-run       # print the plan, change nothing"
    )]
    Update {
        /// Container names or images to update (default: every auto_update image)
        targets: Vec<String>,
        /// Allow moving an explicitly named target to an older version
        #[arg(long)]
        allow_downgrade: bool,
        /// Update a compose service even when its compose file changed since its last
        /// deploy (compose then applies those edits too)
        #[arg(long)]
        force: bool,
        /// Write Prometheus metrics here after the run (node_exporter's textfile format; overrides the configuration's metrics_file)
        #[arg(long, value_name = "PATH")]
        metrics_file: Option<PathBuf>,
    },
    /// Recreate a container on the version it ran before its last update
    #[command(after_help = "Example:\n  dum rollback calibre")]
    Rollback {
        /// Container name
        target: String,
    },
    /// Show the update history (newest last)
    #[command(after_help = "Examples:\n  dum history\n  dum history calibre --format json")]
    History {
        /// Only this container or image
        target: Option<String>,
    },
    /// List a repository's version tags newest first, or propose version regexes
    #[command(after_help = "Examples:\n  dum tags lscr.io/linuxserver/calibre\n  \
dum tags lscr.io/linuxserver/calibre --regex '^v[0-9]+\\.[0-9]+\\.[0-9]+-ls[0-9]+$'")]
    Tags {
        /// Image (repository), e.g. lscr.io/linuxserver/calibre
        image: String,
        /// Version regex; without it dum proposes regexes from the tags' shapes
        #[arg(long)]
        regex: Option<String>,
        /// Base tag to resolve to a version
        #[arg(long, default_value = "latest")]
        base_tag: String,
    },
    /// Validate a configuration file and the containers' dum.* labels; list every problem (exit 0 or 2)
    #[command(
        after_help = "Examples:\n  dum validate\n  dum validate /etc/dum/config.json\n  dum validate --effective"
    )]
    Validate {
        /// The file (default: the configured one)
        path: Option<PathBuf>,
        /// Show each container's (and Swarm service's) effective settings and where each comes from (label, file, default)
        #[arg(long)]
        effective: bool,
    },
    /// Print the configuration's JSON Schema
    #[command(after_help = "Example:\n  dum schema > dum.schema.json")]
    Schema,
    /// List the notification targets; with --test send each a test message (exit 0 or 1)
    #[command(after_help = "Examples:\n  dum notify\n  dum notify --test")]
    Notify {
        /// Send a test message to every target
        #[arg(long)]
        test: bool,
    },
    /// Print a shell completion script
    #[command(
        after_help = "Examples:\n  dum completions bash > /etc/bash_completion.d/dum\n  \
dum completions zsh > \"${fpath[1]}/_dum\"\n  \
dum completions fish > ~/.config/fish/completions/dum.fish"
    )]
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: ShellArg,
    },
    /// Print the man page dum(1) (roff), or write every page into a directory
    #[command(
        hide = true,
        after_help = "Examples:\n  dum man | man -l -\n  dum man --dir target/man   # dum.1, dum-check.1, …"
    )]
    Man {
        /// Write dum.1 and one dum-COMMAND.1 per command here instead
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ShellArg {
    Bash,
    Zsh,
    Fish,
}

/// The completion script for `shell`, generated from the command-line definition so it
/// never drifts from it.
pub fn completions(shell: Shell) -> String {
    let generator = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut out = Vec::new();
    clap_complete::generate(generator, &mut Cli::command(), "dum", &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The man pages in roff, generated from the command-line definition: `dum.1` first,
/// then `dum-COMMAND.1` for every visible command (dum.1 refers to them by those names).
pub fn man_pages() -> anyhow::Result<Vec<(String, String)>> {
    // The `help` command is for terminals; a page for it would be noise.
    let mut root = Cli::command().disable_help_subcommand(true);
    // Propagates the global options into the commands' pages.
    root.build();
    let mut pages = vec![("dum.1".to_string(), render_man(root.clone())?)];
    for sub in root.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("dum-{}", sub.get_name());
        let page = render_man(
            sub.clone()
                .name(name.clone())
                .bin_name(format!("dum {}", sub.get_name())),
        )?;
        pages.push((format!("{name}.1"), page));
    }
    Ok(pages)
}

fn render_man(cmd: clap::Command) -> anyhow::Result<String> {
    let name = cmd.get_name().to_string();
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut out)
        .with_context(|| format!("cannot render the man page of {name}"))?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

impl Cli {
    /// Converts the parsed command line into plain settings, applying path defaults.
    pub fn into_settings(self) -> Settings {
        let is_root = std::fs::metadata("/proc/self")
            .map(|m| m.uid() == 0)
            .unwrap_or(false);
        let var = |k: &str| std::env::var(k).ok();
        let (default_config, default_state) = settings::default_paths(
            is_root,
            var("HOME").as_deref(),
            var("XDG_CONFIG_HOME").as_deref(),
            var("XDG_STATE_HOME").as_deref(),
        );
        let config = match self.config {
            Some(p) if !p.as_os_str().is_empty() => ConfigPath::Explicit(p),
            _ => ConfigPath::Default(default_config),
        };
        let command = match self.command {
            CommandArg::Check {
                targets,
                metrics_file,
            } => Command::Check {
                targets,
                metrics_file: metrics_file.filter(|p| !p.as_os_str().is_empty()),
            },
            CommandArg::Init { targets, add } => Command::Init { targets, add },
            CommandArg::Update {
                targets,
                allow_downgrade,
                force,
                metrics_file,
            } => Command::Update {
                targets,
                allow_downgrade,
                force,
                metrics_file: metrics_file.filter(|p| !p.as_os_str().is_empty()),
            },
            CommandArg::Rollback { target } => Command::Rollback { target },
            CommandArg::History { target } => Command::History { target },
            CommandArg::Tags {
                image,
                regex,
                base_tag,
            } => Command::Tags {
                image,
                regex,
                base_tag,
            },
            CommandArg::Validate { path, effective } => Command::Validate { path, effective },
            CommandArg::Schema => Command::Schema,
            CommandArg::Notify { test } => Command::Notify { test },
            CommandArg::Completions { shell } => Command::Completions {
                shell: match shell {
                    ShellArg::Bash => Shell::Bash,
                    ShellArg::Zsh => Shell::Zsh,
                    ShellArg::Fish => Shell::Fish,
                },
            },
            CommandArg::Man { dir } => Command::Man { dir },
        };
        Settings {
            command,
            config,
            state_file: self
                .state
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(default_state),
            dry_run: self.dry_run,
            format: match self.format {
                FormatArg::Table => Format::Table,
                FormatArg::Json => Format::Json,
            },
            wait: self.wait.map(Duration::from_secs),
            jobs: usize::from(self.jobs),
            resolution: if self.naive_resolution {
                crate::check::Resolution::Naive
            } else {
                crate::check::Resolution::Probe
            },
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn global_flags_go_before_or_after_the_subcommand() {
        for args in [
            &["dum", "--format", "json", "--dry-run", "check", "a"][..],
            &["dum", "check", "a", "--format", "json", "--dry-run"][..],
        ] {
            let s = Cli::try_parse_from(args).unwrap().into_settings();
            assert_eq!(s.format, Format::Json, "{args:?}");
            assert!(s.dry_run, "{args:?}");
            assert_eq!(
                s.command,
                Command::Check {
                    targets: vec!["a".into()],
                    metrics_file: None,
                }
            );
        }
    }

    #[test]
    fn dry_run_accepts_boolish_values() {
        for (value, want) in [
            ("true", true),
            ("1", true),
            ("yes", true),
            ("false", false),
            ("0", false),
        ] {
            let s = Cli::try_parse_from(["dum", "check", &format!("--dry-run={value}")])
                .unwrap()
                .into_settings();
            assert_eq!(s.dry_run, want, "{value}");
        }
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_subcommand_help_has_an_example() {
        let mut cli = Cli::command();
        let root = cli.render_help().to_string();
        assert!(root.contains("Examples:"), "dum --help:\n{root}");
        // clap's own `help` command is the only one without an example.
        for sub in cli.get_subcommands_mut().filter(|s| s.get_name() != "help") {
            let name = sub.get_name().to_string();
            let help = sub.render_help().to_string();
            assert!(
                help.contains("Example:") || help.contains("Examples:"),
                "dum {name} --help has no example:\n{help}"
            );
            assert!(
                help.contains(&format!("dum {name}")),
                "dum {name} --help: the example does not run `dum {name}`:\n{help}"
            );
        }
    }

    #[test]
    fn completions_name_every_visible_subcommand() {
        let cases: &[(Shell, &str)] = &[
            (Shell::Bash, "complete -F _dum"),
            (Shell::Zsh, "#compdef dum"),
            (Shell::Fish, "complete -c dum"),
        ];
        for (shell, marker) in cases {
            let script = completions(*shell);
            assert!(script.contains(marker), "{shell:?}: no {marker:?}");
            for sub in [
                "check", "init", "update", "rollback", "history", "tags", "validate",
            ] {
                assert!(script.contains(sub), "{shell:?} completion lacks {sub}");
            }
        }
    }

    #[test]
    fn man_pages_cover_every_visible_command() {
        let pages = man_pages().unwrap();
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        let cases: &[(&str, &str)] = &[
            ("dum.1", "Exit codes"),
            ("dum-check.1", "dum check"),
            ("dum-update.1", "\\-\\-allow\\-downgrade"),
            ("dum-init.1", "\\-\\-add"),
            ("dum-completions.1", "fish"),
        ];
        for (name, needle) in cases {
            let (_, page) = pages
                .iter()
                .find(|(n, _)| n == name)
                .unwrap_or_else(|| panic!("no {name} in {names:?}"));
            assert!(page.contains(".TH"), "{name} is not roff");
            assert!(page.contains(needle), "{name} lacks {needle:?}:\n{page}");
        }
        assert!(!names.contains(&"dum-man.1"), "hidden command got a page");
        assert!(!names.contains(&"dum-help.1"), "help got a page");
    }
}
