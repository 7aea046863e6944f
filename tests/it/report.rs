//! The `dum check --format json` document as tests read it: rows found by container
//! or image, with messages that show the whole document when a lookup fails.

use crate::harness::{Dum, Output};
use serde_json::{Value, json};

/// Regex of the `vMAJOR.MINOR.PATCH` version tags most tests push.
pub const SEMVER: &str = r"^v[0-9]+\.[0-9]+\.[0-9]+$";

/// A parsed check report plus the run that printed it.
pub struct Report {
    /// The whole JSON document.
    pub doc: Value,
    /// The run, for failure messages.
    pub out: Output,
}

impl Report {
    /// Runs `dum check --format json ARGS`, asserts the exit code, parses stdout.
    pub fn run(dum: &Dum, args: &[&str], code: i32) -> Report {
        let mut all = vec!["check", "--format", "json"];
        all.extend_from_slice(args);
        let out = dum.run(&all);
        out.assert_code(code);
        let doc = out.json();
        assert_eq!(doc["command"], "check", "{out:?}");
        assert_eq!(doc["schema_version"], 1, "{out:?}");
        Report { doc, out }
    }

    /// Every row.
    pub fn rows(&self) -> &Vec<Value> {
        self.doc["images"]
            .as_array()
            .unwrap_or_else(|| panic!("no images array:\n{:?}", self.out))
    }

    /// The single row; panics unless there is exactly one.
    pub fn only(&self) -> &Value {
        assert_eq!(self.rows().len(), 1, "expected one row:\n{:?}", self.out);
        &self.rows()[0]
    }

    /// The row of `container`.
    pub fn container(&self, container: &str) -> &Value {
        let found: Vec<&Value> = self
            .rows()
            .iter()
            .filter(|r| r["container"] == container)
            .collect();
        assert_eq!(
            found.len(),
            1,
            "expected one row for container {container}:\n{:?}",
            self.out
        );
        found[0]
    }

    /// The row of `image` (which must have exactly one).
    pub fn image(&self, image: &str) -> &Value {
        let found: Vec<&Value> = self.rows().iter().filter(|r| r["image"] == image).collect();
        assert_eq!(
            found.len(),
            1,
            "expected one row for image {image}:\n{:?}",
            self.out
        );
        found[0]
    }

    /// The summary object.
    pub fn summary(&self) -> &Value {
        &self.doc["summary"]
    }

    /// Asserts `row` has every member of `want` (an object) with the same value.
    pub fn assert_fields(&self, row: &Value, want: Value) {
        for (key, value) in want.as_object().unwrap() {
            assert_eq!(
                &row[key], value,
                "member {key} of row {row:#}\n{:?}",
                self.out
            );
        }
    }

    /// Asserts the summary counts.
    pub fn assert_summary(
        &self,
        checked: u64,
        up: u64,
        update: u64,
        not_running: u64,
        failed: u64,
    ) {
        assert_eq!(
            self.summary(),
            &json!({
                "checked": checked,
                "up_to_date": up,
                "update_available": update,
                "not_running": not_running,
                "failed": failed,
                "held": 0,
            }),
            "{:?}",
            self.out
        );
    }
}

/// A config entry `{"image", "regex": SEMVER, ...extra}`; a `null` in `extra` removes
/// that key (e.g. `"regex": null` for digest tracking).
pub fn entry(image: &str, extra: Value) -> Value {
    let mut e = json!({ "image": image, "regex": SEMVER });
    let members = e.as_object_mut().unwrap();
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            members.remove(k);
        } else {
            members.insert(k.clone(), v.clone());
        }
    }
    e
}

/// A config with these entries.
pub fn config(entries: &[Value]) -> Value {
    json!({ "images": entries })
}
