//! An image version named two ways, by version tag and by manifest digest, and a change
//! from one to another: the pair every record of a move carries (the planned move, its
//! journal entry, its history entry).

use serde::{Deserialize, Serialize};

/// A version of an image: its version tag and its manifest digest, either of which may
/// be unknown (digest tracking has no version; some engines do not tell the digest).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pin {
    /// The version tag.
    pub version: Option<String>,
    /// The manifest digest.
    pub digest: Option<String>,
}

impl Pin {
    /// A pin from its two names.
    pub fn new(version: Option<String>, digest: Option<String>) -> Pin {
        Pin { version, digest }
    }

    /// The version, else the digest: how a person recognises it.
    pub fn name(&self) -> Option<&str> {
        self.version.as_deref().or(self.digest.as_deref())
    }
}

/// A move between two versions. In JSON its four members sit in the record that holds
/// it (`#[serde(flatten)]`): `from_version`, `to_version`, `from_digest`, `to_digest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Fields", into = "Fields")]
pub struct Change {
    /// What ran before.
    pub from: Pin,
    /// What runs after (the target).
    pub to: Pin,
}

/// The JSON layout of a [`Change`], as journal, history and documents have it.
#[derive(Serialize, Deserialize)]
struct Fields {
    from_version: Option<String>,
    to_version: Option<String>,
    from_digest: Option<String>,
    to_digest: Option<String>,
}

impl From<Fields> for Change {
    fn from(f: Fields) -> Change {
        Change {
            from: Pin::new(f.from_version, f.from_digest),
            to: Pin::new(f.to_version, f.to_digest),
        }
    }
}

impl From<Change> for Fields {
    fn from(c: Change) -> Fields {
        Fields {
            from_version: c.from.version,
            to_version: c.to.version,
            from_digest: c.from.digest,
            to_digest: c.to.digest,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Record {
        name: String,
        #[serde(flatten)]
        change: Change,
        after: u8,
    }

    /// Flattened, a change keeps the layout and the member order records always had.
    #[test]
    fn a_flattened_change_keeps_the_record_layout() {
        let record = Record {
            name: "web".into(),
            change: Change {
                from: Pin::new(Some("1.0".into()), None),
                to: Pin::new(Some("2.0".into()), Some("sha256:2".into())),
            },
            after: 1,
        };
        let text = serde_json::to_string(&record).unwrap();
        assert_eq!(
            text,
            r#"{"name":"web","from_version":"1.0","to_version":"2.0","from_digest":null,"to_digest":"sha256:2","after":1}"#
        );
        assert_eq!(serde_json::from_str::<Record>(&text).unwrap(), record);
        // Older records may lack members: they read as unknown.
        let sparse: Record = serde_json::from_str(r#"{"name":"a","after":2}"#).unwrap();
        assert_eq!(sparse.change, Change::default());
    }
}
