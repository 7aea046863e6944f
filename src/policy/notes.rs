//! Release-notes links: where to read what changed between the running image and the
//! candidate, from the labels both carry.
//!
//! The source repository is the first of [`SOURCE_LABELS`] that names a known forge
//! (GitHub, GitLab, Gitea/Forgejo), normalised to its `https://host/path` page. The
//! link is the forge's releases page, or a compare link when both images carry an
//! `org.opencontainers.image.revision` (different, and from the same repository). A
//! host dum does not recognise gets no link: its page layout is unknown, and a guessed
//! `/releases` is as likely a 404 as not. A per-image `release_notes` template covers
//! those (and overrides every rule).

use std::collections::BTreeMap;

/// The labels a repository is read from, first usable wins.
pub const SOURCE_LABELS: [&str; 3] = [
    "org.opencontainers.image.source",
    "org.label-schema.vcs-url",
    "org.opencontainers.image.url",
];

/// The label an image's commit is read from.
pub const REVISION_LABEL: &str = "org.opencontainers.image.revision";

/// Whether release notes read the label `key` (the ones worth keeping in the state).
pub fn reads(key: &str) -> bool {
    key == REVISION_LABEL || SOURCE_LABELS.contains(&key)
}

/// The forges whose page layout dum knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forge {
    /// github.com.
    GitHub,
    /// gitlab.com, or a host whose name contains `gitlab`.
    GitLab,
    /// codeberg.org, or a host whose name contains `gitea` or `forgejo`.
    Gitea,
}

/// A repository's web page on a known forge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    /// Which forge serves it.
    pub forge: Forge,
    /// `https://host/path`, no trailing slash.
    pub url: String,
}

impl Repository {
    /// The page listing its releases.
    pub fn releases(&self) -> String {
        match self.forge {
            Forge::GitHub | Forge::Gitea => format!("{}/releases", self.url),
            Forge::GitLab => format!("{}/-/releases", self.url),
        }
    }

    /// The page comparing two commits.
    pub fn compare(&self, old: &str, new: &str) -> String {
        match self.forge {
            Forge::GitHub | Forge::Gitea => format!("{}/compare/{old}...{new}", self.url),
            Forge::GitLab => format!("{}/-/compare/{old}...{new}", self.url),
        }
    }
}

/// The forge of `host` (lowercase, no port), by name.
fn forge_of(host: &str) -> Option<Forge> {
    let name = host.split(':').next().unwrap_or(host);
    if name == "github.com" || name == "www.github.com" {
        Some(Forge::GitHub)
    } else if name.contains("gitlab") {
        Some(Forge::GitLab)
    } else if name == "codeberg.org" || name.contains("gitea") || name.contains("forgejo") {
        Some(Forge::Gitea)
    } else {
        None
    }
}

/// `value` (a label) as a repository page: fragment and query dropped, `git@host:path`,
/// `ssh://`, `git://` and `git+https://` forms made `https://`, `.git` and trailing
/// slashes dropped, and the path cut at a file or branch view (`/tree/…`, `/blob/…`,
/// `/-/…`, `/src/…`). `None` for anything that is not a known forge's repository.
pub fn normalise(value: &str) -> Option<Repository> {
    let value = value.trim();
    let value = value.split(['#', '?']).next().unwrap_or_default();
    let (scheme, rest) = if let Some(rest) = value.strip_prefix("git@") {
        // scp-like `git@host:owner/repo`.
        let (host, path) = rest.split_once(':')?;
        ("https", format!("{host}/{path}"))
    } else {
        let (scheme, rest) = value.split_once("://")?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            // A plain-http forge (a self-hosted Gitea) is kept as it is served.
            "http" => "http",
            "https" | "git+https" | "ssh" | "git+ssh" | "git" => "https",
            _ => return None,
        };
        // `ssh://git@host:22/path`: drop the user, and a port that is SSH's.
        let (authority, path) = rest.split_once('/')?;
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let ssh = value.starts_with("ssh") || value.starts_with("git+ssh");
        let host = if ssh {
            host.split(':').next().unwrap_or(host)
        } else {
            host
        };
        (scheme, format!("{host}/{path}"))
    };
    let (host, path) = rest.split_once('/')?;
    let host = host.to_ascii_lowercase();
    if host.is_empty() || host.contains(char::is_whitespace) {
        return None;
    }
    let forge = forge_of(&host)?;
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        // Views of a repository, never part of its name.
        if part == "-" || (forge != Forge::GitLab && parts.len() >= 2) {
            break;
        }
        if matches!(
            part,
            "tree" | "blob" | "src" | "releases" | "commit" | "tags"
        ) && parts.len() >= 2
        {
            break;
        }
        parts.push(part);
    }
    if let Some(last) = parts.last_mut() {
        *last = last.strip_suffix(".git").unwrap_or(last);
    }
    parts.retain(|p| !p.is_empty());
    let ok = |p: &&str| {
        p.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    if parts.len() < 2 || !parts.iter().all(ok) {
        return None;
    }
    Some(Repository {
        forge,
        url: format!("{scheme}://{host}/{}", parts.join("/")),
    })
}

/// The repository `labels` name: the first of [`SOURCE_LABELS`] that is a known
/// forge's repository.
pub fn repository(labels: &BTreeMap<String, String>) -> Option<Repository> {
    SOURCE_LABELS
        .iter()
        .filter_map(|key| labels.get(*key))
        .find_map(|value| normalise(value))
}

/// A revision safe to put in a URL path (a commit hash, a tag name).
fn revision(labels: &BTreeMap<String, String>) -> Option<&str> {
    labels.get(REVISION_LABEL).map(|r| r.trim()).filter(|r| {
        !r.is_empty()
            && r.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    })
}

/// `template` with `{version}` and `{image}` filled in.
pub fn fill(template: &str, version: &str, image: &str) -> String {
    template
        .replace("{version}", version)
        .replace("{image}", image)
}

/// Whether [`link`] reads the running image's labels for `candidate`: only a compare
/// link does, so the running image is not looked at otherwise.
pub fn needs_running(candidate: &BTreeMap<String, String>) -> bool {
    revision(candidate).is_some() && repository(candidate).is_some()
}

/// The release-notes link for an update from the image labelled `running` to the one
/// labelled `candidate`: the compare link when both carry a revision (different, and
/// the running image names no other repository), else the releases page.
pub fn link(
    running: &BTreeMap<String, String>,
    candidate: &BTreeMap<String, String>,
) -> Option<String> {
    let repo = repository(candidate)?;
    let same_repo = repository(running).is_none_or(|r| r.url == repo.url);
    match (revision(running), revision(candidate)) {
        (Some(old), Some(new)) if old != new && same_repo => Some(repo.compare(old, new)),
        _ => Some(repo.releases()),
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
    fn labels_are_normalised_to_a_repository_page() {
        let cases: &[(&str, Option<&str>)] = &[
            ("https://github.com/o/r", Some("https://github.com/o/r")),
            ("https://github.com/o/r/", Some("https://github.com/o/r")),
            ("https://github.com/o/r.git", Some("https://github.com/o/r")),
            (
                "https://github.com/o/r.git/",
                Some("https://github.com/o/r"),
            ),
            (
                "https://github.com/o/r#readme",
                Some("https://github.com/o/r"),
            ),
            (
                "https://github.com/o/r?tab=x",
                Some("https://github.com/o/r"),
            ),
            (
                "https://github.com/o/r/tree/main/sub/dir",
                Some("https://github.com/o/r"),
            ),
            (
                "https://github.com/o/r/blob/main/Dockerfile",
                Some("https://github.com/o/r"),
            ),
            ("https://GitHub.com/O/R", Some("https://github.com/O/R")),
            ("  https://github.com/o/r  ", Some("https://github.com/o/r")),
            ("git@github.com:o/r.git", Some("https://github.com/o/r")),
            (
                "ssh://git@github.com/o/r.git",
                Some("https://github.com/o/r"),
            ),
            (
                "ssh://git@gitlab.example.com:2222/g/r.git",
                Some("https://gitlab.example.com/g/r"),
            ),
            (
                "git+https://github.com/o/r.git",
                Some("https://github.com/o/r"),
            ),
            ("git://github.com/o/r", Some("https://github.com/o/r")),
            (
                "https://gitlab.com/g/sub/r",
                Some("https://gitlab.com/g/sub/r"),
            ),
            (
                "https://gitlab.com/g/sub/r.git",
                Some("https://gitlab.com/g/sub/r"),
            ),
            (
                "https://gitlab.com/g/r/-/tree/main",
                Some("https://gitlab.com/g/r"),
            ),
            (
                "git@gitlab.com:g/sub/r.git",
                Some("https://gitlab.com/g/sub/r"),
            ),
            (
                "https://gitlab.example.org/g/r",
                Some("https://gitlab.example.org/g/r"),
            ),
            ("https://codeberg.org/o/r", Some("https://codeberg.org/o/r")),
            (
                "https://codeberg.org/o/r/src/branch/main",
                Some("https://codeberg.org/o/r"),
            ),
            (
                "http://gitea.lan:3000/o/r",
                Some("http://gitea.lan:3000/o/r"),
            ),
            (
                "https://forgejo.example.net/o/r.git",
                Some("https://forgejo.example.net/o/r"),
            ),
            // Not a repository, or not a forge dum knows.
            ("https://github.com/o", None),
            ("https://github.com/", None),
            ("https://example.com/o/r", None),
            ("https://bitbucket.org/o/r", None),
            ("ftp://github.com/o/r", None),
            ("github.com/o/r", None),
            ("", None),
            ("https://github.com/o/r x", None),
        ];
        for (input, want) in cases {
            assert_eq!(
                normalise(input).map(|r| r.url).as_deref(),
                *want,
                "{input:?}"
            );
        }
    }

    #[test]
    fn each_forge_has_its_releases_and_compare_pages() {
        let cases = [
            (
                "https://github.com/o/r",
                "https://github.com/o/r/releases",
                "https://github.com/o/r/compare/a1...b2",
            ),
            (
                "https://gitlab.com/g/r",
                "https://gitlab.com/g/r/-/releases",
                "https://gitlab.com/g/r/-/compare/a1...b2",
            ),
            (
                "https://codeberg.org/o/r",
                "https://codeberg.org/o/r/releases",
                "https://codeberg.org/o/r/compare/a1...b2",
            ),
        ];
        for (source, releases, compare) in cases {
            let repo = normalise(source).unwrap();
            assert_eq!(repo.releases(), releases);
            assert_eq!(repo.compare("a1", "b2"), compare);
        }
    }

    #[test]
    fn the_first_label_naming_a_known_forge_wins() {
        const SRC: &str = "org.opencontainers.image.source";
        const VCS: &str = "org.label-schema.vcs-url";
        const URL: &str = "org.opencontainers.image.url";
        let cases: &[(&[(&str, &str)], Option<&str>)] = &[
            (
                &[
                    (SRC, "https://github.com/a/src"),
                    (VCS, "https://github.com/a/vcs"),
                ],
                Some("https://github.com/a/src"),
            ),
            (
                &[
                    (VCS, "https://github.com/a/vcs"),
                    (URL, "https://github.com/a/url"),
                ],
                Some("https://github.com/a/vcs"),
            ),
            (
                &[(URL, "https://github.com/a/url")],
                Some("https://github.com/a/url"),
            ),
            // An unknown host is passed over for the next label.
            (
                &[
                    (SRC, "https://example.com/a/b"),
                    (URL, "https://gitlab.com/a/url"),
                ],
                Some("https://gitlab.com/a/url"),
            ),
            (&[(URL, "https://www.example.com")], None),
            (&[], None),
        ];
        for (pairs, want) in cases {
            assert_eq!(
                repository(&labels(pairs)).map(|r| r.url).as_deref(),
                *want,
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn a_compare_link_needs_both_revisions_from_one_repository() {
        const SRC: &str = "org.opencontainers.image.source";
        let gh = "https://github.com/o/r";
        let cases: &[(&[(&str, &str)], &[(&str, &str)], Option<&str>)] = &[
            (
                &[(SRC, gh), (REVISION_LABEL, "aaa")],
                &[(SRC, gh), (REVISION_LABEL, "bbb")],
                Some("https://github.com/o/r/compare/aaa...bbb"),
            ),
            // The running image without a source: same repository assumed.
            (
                &[(REVISION_LABEL, "aaa")],
                &[(SRC, gh), (REVISION_LABEL, "bbb")],
                Some("https://github.com/o/r/compare/aaa...bbb"),
            ),
            (
                &[(SRC, gh)],
                &[(SRC, gh), (REVISION_LABEL, "bbb")],
                Some("https://github.com/o/r/releases"),
            ),
            (
                &[(SRC, gh), (REVISION_LABEL, "aaa")],
                &[(SRC, gh)],
                Some("https://github.com/o/r/releases"),
            ),
            (
                &[(SRC, gh), (REVISION_LABEL, "same")],
                &[(SRC, gh), (REVISION_LABEL, "same")],
                Some("https://github.com/o/r/releases"),
            ),
            // Moved repository: a compare across two would be a 404.
            (
                &[(SRC, "https://github.com/old/r"), (REVISION_LABEL, "aaa")],
                &[(SRC, gh), (REVISION_LABEL, "bbb")],
                Some("https://github.com/o/r/releases"),
            ),
            // A revision that is not URL-safe is ignored.
            (
                &[(SRC, gh), (REVISION_LABEL, "a/../x")],
                &[(SRC, gh), (REVISION_LABEL, "bbb")],
                Some("https://github.com/o/r/releases"),
            ),
            (
                &[(SRC, "https://gitlab.com/g/r"), (REVISION_LABEL, "aaa")],
                &[(SRC, "git@gitlab.com:g/r.git"), (REVISION_LABEL, "bbb")],
                Some("https://gitlab.com/g/r/-/compare/aaa...bbb"),
            ),
            // The candidate names no known forge: no link.
            (
                &[(SRC, gh), (REVISION_LABEL, "aaa")],
                &[(SRC, "https://example.com/o/r"), (REVISION_LABEL, "bbb")],
                None,
            ),
            (&[], &[], None),
        ];
        for (running, candidate, want) in cases {
            assert_eq!(
                link(&labels(running), &labels(candidate)).as_deref(),
                *want,
                "{running:?} -> {candidate:?}"
            );
        }
    }

    #[test]
    fn templates_fill_version_and_image() {
        let cases = [
            (
                "https://example.com/{image}/v{version}",
                "https://example.com/r.io/app/v2.0.0",
            ),
            ("https://x/{version}/{version}", "https://x/2.0.0/2.0.0"),
            ("https://x/changelog", "https://x/changelog"),
            ("{unknown}", "{unknown}"),
        ];
        for (template, want) in cases {
            assert_eq!(fill(template, "2.0.0", "r.io/app"), want, "{template}");
        }
    }
}
