//! Minimum image age (`min_age_days`): an update waits until the new image has been
//! out for a while, so a bad or hostile push is caught by someone else first. Pure:
//! build times and first sightings in, a judgement out.
//!
//! A digest's age counts from its build time (the first usable of the
//! `org.opencontainers.image.created` annotations and the config's `created`,
//! see [`crate::registry::image_config`]) or from when dum first saw it, whichever is
//! later, so a backdated image does not pass. Unknown is held: fail closed.

use jiff::{SignedDuration, Timestamp};

use crate::registry::image_config::CreatedSource;

/// Build times before this are placeholders (reproducible builds write 1970): unknown.
const EARLIEST: i64 = 315_532_800; // 1980-01-01T00:00:00Z

/// The first usable build time of `created` (in the order they count): a valid RFC 3339
/// timestamp from 1980 on.
pub fn build_time(created: &[(CreatedSource, String)]) -> Option<(Timestamp, CreatedSource)> {
    created.iter().find_map(|(source, text)| {
        let t = crate::store::state::parse_rfc3339(text)?;
        (t.as_second() >= EARLIEST).then_some((t, *source))
    })
}

/// How old a digest is for the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// At least the minimum age.
    OldEnough,
    /// Younger: `age` old (0 for a build time in the future), old enough at `until`.
    TooYoung {
        /// Its age now.
        age: SignedDuration,
        /// When it is old enough.
        until: Timestamp,
    },
    /// No usable build time: held, for this reason.
    Unknown(String),
}

/// Judges a digest built at `built` (`None`: no usable build time) and first seen by
/// dum at `first_seen` (`None`: present at the first check of its repository) against
/// `min_age_days` at `now`.
pub fn judge(
    built: Option<Timestamp>,
    first_seen: Option<Timestamp>,
    now: Timestamp,
    min_age_days: u32,
) -> Judgement {
    let Some(built) = built else {
        return Judgement::Unknown(
            "no build time (no org.opencontainers.image.created annotation, no config created from 1980 on)"
                .into(),
        );
    };
    let start = first_seen.map_or(built, |seen| seen.max(built));
    let min = SignedDuration::from_hours(i64::from(min_age_days) * 24);
    // A start in the future is age 0: the wait counts from now.
    let age = now.duration_since(start).max(SignedDuration::ZERO);
    if age >= min {
        return Judgement::OldEnough;
    }
    let from = if start > now { now } else { start };
    Judgement::TooYoung {
        age,
        until: from.checked_add(min).unwrap_or(Timestamp::MAX),
    }
}

/// An age for people: `3 d`, `5 h`, `12 min`.
pub fn show(age: SignedDuration) -> String {
    let secs = age.as_secs().max(0);
    match secs {
        s if s >= 86_400 => format!("{} d", s / 86_400),
        s if s >= 3_600 => format!("{} h", s / 3_600),
        s => format!("{} min", s / 60),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn the_first_usable_build_time_counts() {
        use CreatedSource::*;
        let cases: Vec<(Vec<(CreatedSource, &str)>, Option<(&str, CreatedSource)>)> = vec![
            (vec![], None),
            (
                vec![(Config, "2024-05-01T10:00:00Z")],
                Some(("2024-05-01T10:00:00Z", Config)),
            ),
            (
                vec![
                    (IndexAnnotation, "2024-05-02T00:00:00+02:00"),
                    (Config, "2024-05-01T10:00:00Z"),
                ],
                Some(("2024-05-01T22:00:00Z", IndexAnnotation)),
            ),
            // Reproducible builds write 1970: unknown, the next source counts.
            (vec![(Config, "1970-01-01T00:00:00Z")], None),
            (
                vec![
                    (ManifestAnnotation, "1979-12-31T23:59:59Z"),
                    (Config, "2024-05-01T10:00:00.123456Z"),
                ],
                Some(("2024-05-01T10:00:00.123456Z", Config)),
            ),
            (
                vec![
                    (DescriptorAnnotation, "not a date"),
                    (Config, "2024-05-01T10:00:00Z"),
                ],
                Some(("2024-05-01T10:00:00Z", Config)),
            ),
            (
                vec![(Config, "1980-01-01T00:00:00Z")],
                Some(("1980-01-01T00:00:00Z", Config)),
            ),
        ];
        for (created, want) in cases {
            let created: Vec<_> = created
                .into_iter()
                .map(|(s, v)| (s, v.to_string()))
                .collect();
            assert_eq!(
                build_time(&created),
                want.map(|(w, s)| (t(w), s)),
                "{created:?}"
            );
        }
    }

    #[test]
    fn judgements() {
        let now = t("2026-12-04T12:00:00Z");
        let cases: Vec<(Option<&str>, Option<&str>, u32, Judgement)> = vec![
            (Some("2026-11-20T12:00:00Z"), None, 7, Judgement::OldEnough),
            (Some("2026-11-27T12:00:00Z"), None, 7, Judgement::OldEnough),
            (
                Some("2026-12-02T12:00:00Z"),
                None,
                7,
                Judgement::TooYoung {
                    age: SignedDuration::from_hours(48),
                    until: t("2026-12-09T12:00:00Z"),
                },
            ),
            // Backdated: built long ago, first seen yesterday.
            (
                Some("2020-01-01T00:00:00Z"),
                Some("2026-12-03T12:00:00Z"),
                7,
                Judgement::TooYoung {
                    age: SignedDuration::from_hours(24),
                    until: t("2026-12-10T12:00:00Z"),
                },
            ),
            // First seen before its build time: the build time counts.
            (
                Some("2026-11-01T00:00:00Z"),
                Some("2026-10-01T00:00:00Z"),
                7,
                Judgement::OldEnough,
            ),
            // In the future: age 0, the wait counts from now.
            (
                Some("2027-01-01T00:00:00Z"),
                None,
                1,
                Judgement::TooYoung {
                    age: SignedDuration::ZERO,
                    until: t("2026-12-05T12:00:00Z"),
                },
            ),
            (Some("2026-12-04T11:00:00Z"), None, 0, Judgement::OldEnough),
        ];
        for (built, seen, days, want) in cases {
            assert_eq!(
                judge(built.map(t), seen.map(t), now, days),
                want,
                "{built:?} {seen:?} {days}"
            );
        }
        assert!(matches!(judge(None, None, now, 7), Judgement::Unknown(_)));
    }

    #[test]
    fn ages_read_in_the_largest_unit() {
        let cases = [
            (0, "0 min"),
            (59 * 60, "59 min"),
            (3_600, "1 h"),
            (47 * 3_600, "1 d"),
            (3 * 86_400 + 5, "3 d"),
        ];
        for (secs, want) in cases {
            assert_eq!(show(SignedDuration::from_secs(secs)), want);
        }
    }
}
