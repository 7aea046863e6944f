//! Plain settings for a run: what the command line and environment asked for, with
//! defaults applied. Built once by the command layer; nothing below it sees clap.

use std::path::PathBuf;
use std::time::Duration;

/// Output format of reports on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A table for people.
    Table,
    /// The documented JSON document for scripts.
    Json,
}

/// Where the configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigPath {
    /// Given with `--config`/`CONFIG_FILE`: it must exist.
    Explicit(PathBuf),
    /// The default location: a missing file means "no configuration".
    Default(PathBuf),
}

impl ConfigPath {
    /// The path either way.
    pub fn path(&self) -> &std::path::Path {
        match self {
            ConfigPath::Explicit(p) | ConfigPath::Default(p) => p,
        }
    }
}

/// One subcommand and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Report what is pending.
    Check {
        /// Container names or images; empty = all.
        targets: Vec<String>,
        /// Where to write the Prometheus metrics (overrides the configuration's).
        metrics_file: Option<PathBuf>,
    },
    /// Write a configuration for the running containers.
    Init {
        /// Container names or images; empty = every running container.
        targets: Vec<String>,
        /// Add entries to an existing file instead of refusing to overwrite it.
        add: bool,
    },
    /// List a repository's version tags.
    Tags {
        /// The image (repository).
        image: String,
        /// Version regex; none = propose some.
        regex: Option<String>,
        /// Base tag to resolve.
        base_tag: String,
    },
    /// Apply pending updates.
    Update {
        /// Container names or images; empty = every `auto_update` image.
        targets: Vec<String>,
        /// Allow an explicitly targeted version older than the running one.
        allow_downgrade: bool,
        /// Apply a compose service's move even when its file changed since its deploy.
        force: bool,
        /// Where to write the Prometheus metrics (overrides the configuration's).
        metrics_file: Option<PathBuf>,
    },
    /// Return a container to the version it ran before its last update.
    Rollback {
        /// The container.
        target: String,
    },
    /// Show the update history.
    History {
        /// Only this container or image.
        target: Option<String>,
    },
    /// Validate a configuration file.
    Validate {
        /// The file; none = the configured one.
        path: Option<PathBuf>,
        /// Show each container's (and Swarm service's) effective settings and their sources.
        effective: bool,
    },
    /// Print the configuration's JSON Schema.
    Schema,
    /// List the notification targets, or test them.
    Notify {
        /// Send each target a test message.
        test: bool,
    },
    /// Print a shell completion script.
    Completions {
        /// For this shell.
        shell: Shell,
    },
    /// Print the man page (roff), or write all pages into a directory.
    Man {
        /// Write every page here instead of printing dum(1).
        dir: Option<PathBuf>,
    },
}

/// Shells dum prints completion scripts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    /// GNU bash.
    Bash,
    /// Z shell.
    Zsh,
    /// fish.
    Fish,
}

/// Everything a run needs to know.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The subcommand.
    pub command: Command,
    /// Configuration file.
    pub config: ConfigPath,
    /// State file (its directory also holds the lock and the history).
    pub state_file: PathBuf,
    /// Change nothing, write nothing.
    pub dry_run: bool,
    /// Report format.
    pub format: Format,
    /// How long to wait for another run's lock; `None` = fail at once.
    pub wait: Option<Duration>,
    /// Worker threads for checking.
    pub jobs: usize,
    /// Base-tag resolution strategy (the naive one exists for benchmarks).
    pub resolution: crate::check::Resolution,
}

/// Default configuration and state paths (FHS for root, XDG otherwise).
pub fn default_paths(
    is_root: bool,
    home: Option<&str>,
    xdg_config: Option<&str>,
    xdg_state: Option<&str>,
) -> (PathBuf, PathBuf) {
    if is_root {
        return (
            PathBuf::from("/etc/dum/config.json"),
            PathBuf::from("/var/lib/dum/state.json"),
        );
    }
    let home = PathBuf::from(home.filter(|h| !h.is_empty()).unwrap_or("."));
    let config_home = xdg_config
        .filter(|p| p.starts_with('/'))
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".config"));
    let state_home = xdg_state
        .filter(|p| p.starts_with('/'))
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".local/state"));
    (
        config_home.join("dum/config.json"),
        state_home.join("dum/state.json"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_paths_follow_fhs_and_xdg() {
        let cases: &[(bool, Option<&str>, Option<&str>, Option<&str>, &str, &str)] = &[
            (
                true,
                Some("/root"),
                None,
                None,
                "/etc/dum/config.json",
                "/var/lib/dum/state.json",
            ),
            (
                false,
                Some("/home/u"),
                None,
                None,
                "/home/u/.config/dum/config.json",
                "/home/u/.local/state/dum/state.json",
            ),
            (
                false,
                Some("/home/u"),
                Some("/x/cfg"),
                Some("/x/st"),
                "/x/cfg/dum/config.json",
                "/x/st/dum/state.json",
            ),
            // Relative XDG values are invalid per the spec and ignored.
            (
                false,
                Some("/home/u"),
                Some("rel"),
                Some(""),
                "/home/u/.config/dum/config.json",
                "/home/u/.local/state/dum/state.json",
            ),
        ];
        for (root, home, xc, xs, want_c, want_s) in cases {
            let (c, s) = default_paths(*root, *home, *xc, *xs);
            assert_eq!(c, PathBuf::from(want_c), "root={root} home={home:?}");
            assert_eq!(s, PathBuf::from(want_s), "root={root} home={home:?}");
        }
    }
}
