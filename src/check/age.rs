//! The minimum-age policy applied to a row with an update pending: the newest version
//! is held while it is younger than `min_age_days`, and the newest version that is old
//! enough and newer than what runs becomes the target (never a downgrade). Reads the
//! build time of each candidate digest from the registry once (index, platform
//! manifest, config blob: three requests at most), then from the state. Images with
//! nothing pending cost nothing.

use jiff::Timestamp;

use crate::check::{ImageReport, Known, Remote, Status};
use crate::config::ImageConfig;
use crate::image::reference::Reference;
use crate::image::select::{self, Direction};
use crate::policy::age::{self, Judgement};
use crate::registry::Registry;
use crate::registry::image_config::CreatedSource;
use crate::store::state;

/// How many versions newer than the running one are judged at most, newest first: each
/// may cost a HEAD and three reads; a project that released more often than that within
/// `min_age_days` stays held until the newest of them is old enough.
const MAX_CANDIDATES: usize = 6;

/// What the policy judges with, the same for every image of a run.
pub struct Policy<'a> {
    /// What earlier checks learnt of the digests.
    pub known: &'a Known,
    /// The time ages are judged at.
    pub now: Timestamp,
}

/// The build times the registry gives for a digest (from [`crate::registry::image_config::ImageFacts`], fetched once
/// per digest and shared with the other policies); `None` when they cannot be read.
pub type BuildTimes<'f> = dyn FnMut(&str) -> Option<Vec<(CreatedSource, String)>> + 'f;

/// A version (or, without a regex, the base tag) that an update could go to.
struct Candidate {
    /// The version tag, or the base tag.
    tag: String,
    /// Its digest.
    digest: String,
}

/// Applies `config.min_age_days` to `report` (an update pending), judged at `now` on
/// `platform`.
pub fn hold(
    registry: &dyn Registry,
    query: &Reference,
    config: &ImageConfig,
    remote: &Remote,
    policy: &Policy<'_>,
    facts: &mut BuildTimes<'_>,
    report: &mut ImageReport,
) {
    let (known, now) = (policy.known, policy.now);
    let days = config.min_age_days;
    let mut held: Option<(String, Option<Timestamp>, String)> = None;
    let mut target = None;
    for candidate in candidates(registry, query, config, remote, report) {
        let judged = match build_time(facts, &candidate) {
            Ok(built) => {
                let first_seen = match known.digest(&config.image, &candidate.digest) {
                    // The repository's first check: how long it had been there is unknown.
                    None => None,
                    // First seen now.
                    Some(None) => Some(now),
                    Some(Some(r)) => r.first_seen.as_deref().and_then(state::parse_rfc3339),
                };
                age::judge(built, first_seen, now, days)
            }
            Err(e) => Judgement::Unknown(format!("cannot read its build time: {e:#}")),
        };
        match judged {
            Judgement::OldEnough => {
                target = Some(candidate);
                break;
            }
            Judgement::TooYoung { age, until } if held.is_none() => {
                let why = format!(
                    "{} is {} old (< {days} d): held",
                    candidate.tag,
                    age::show(age)
                );
                held = Some((candidate.tag, Some(until), why));
            }
            Judgement::Unknown(why) if held.is_none() => {
                let why = format!("{} has an unknown age ({why}): held", candidate.tag);
                held = Some((candidate.tag, None, why));
            }
            _ => {}
        }
    }
    let Some((version, until, why)) = held else {
        // The newest is old enough (or nothing was judged): nothing held.
        return;
    };
    report.hold.held_version = Some(version);
    report.hold.held_until = until.map(|t| t.to_string());
    let note = match target {
        Some(t) => {
            let note = format!("{why}; target {}", t.tag);
            report.hold.target_version = Some(t.tag);
            report.hold.target_digest = Some(t.digest);
            note
        }
        None => {
            report.status = Status::Held;
            why.clone()
        }
    };
    report.hold.reason = Some(why);
    report.note = Some(match report.note.take() {
        Some(n) => format!("{note}; {n}"),
        None => note,
    });
}

/// The versions an update could go to, newest first, newer than what runs: with a
/// regex, the newest versions down to the running one (only the newest when the running
/// version is unknown, so nothing is ever a downgrade); without, the base tag.
fn candidates<'a>(
    registry: &'a dyn Registry,
    query: &'a Reference,
    config: &'a ImageConfig,
    remote: &'a Remote,
    report: &ImageReport,
) -> Box<dyn Iterator<Item = Candidate> + 'a> {
    if config.regex.is_none() {
        return Box::new(remote.base_digest.iter().map(|d| Candidate {
            tag: config.base_tag.clone(),
            digest: d.clone(),
        }));
    }
    let newer: Vec<&String> = match &report.current_version {
        Some(current) => remote
            .versions
            .iter()
            .take_while(|v| select::direction(current, v) == Direction::Newer)
            .take(MAX_CANDIDATES)
            .collect(),
        None => remote.versions.iter().take(1).collect(),
    };
    // Lazily: a version's digest is asked only when the ones before it were too young.
    Box::new(newer.into_iter().filter_map(move |tag| {
        let digest = match remote.digests.get(tag) {
            Some(d) => Some(d.clone()),
            None => match registry.digest(query, tag) {
                Ok(d) => d,
                Err(e) => {
                    log::debug!("{}: cannot resolve {tag}: {e:#}", config.image);
                    None
                }
            },
        };
        digest.map(|digest| Candidate {
            tag: tag.clone(),
            digest,
        })
    }))
}

/// The build time of `candidate`, from its facts: the candidates read them from the
/// state when an earlier check did, else from the registry (and keep them for the
/// state).
fn build_time(
    facts: &mut BuildTimes<'_>,
    candidate: &Candidate,
) -> anyhow::Result<Option<Timestamp>> {
    let created = facts(&candidate.digest).ok_or_else(|| {
        anyhow::anyhow!(
            "the registry does not describe {} (see the debug log)",
            candidate.digest
        )
    })?;
    Ok(age::build_time(&created).map(|(t, _)| t))
}
