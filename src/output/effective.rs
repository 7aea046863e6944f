//! `dum validate --effective`: each container's (and Swarm service's) settings and
//! where each comes from.

use serde::Serialize;

use crate::config::ImageConfig;
use crate::output::{new_table, render};

/// One container or Swarm service (or an entry nothing uses) with its effective settings.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The container, or the Swarm service when `service`; `None` when nothing uses
    /// the entry's image.
    pub container: Option<String>,
    /// Set when `container` names a Swarm service (absent for containers).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub service: bool,
    /// The watched repository.
    pub image: String,
    /// Every setting, in the configuration file's field order.
    pub settings: Vec<Setting>,
}

/// One setting's value and its source.
#[derive(Debug, Clone, Serialize)]
pub struct Setting {
    /// The configuration file's field name.
    pub name: &'static str,
    /// The value, as the file would hold it (`null` when unset).
    pub value: serde_json::Value,
    /// `label dum.<name>`, `file /images/N`, `discovered` (from the container's tag) or
    /// `default`.
    pub from: String,
}

impl Row {
    /// The row of `entry` for `container`.
    pub fn of(container: Option<String>, entry: &ImageConfig) -> Row {
        use serde_json::json;
        let values: Vec<(&'static str, serde_json::Value)> = vec![
            ("regex", json!(entry.regex.as_ref().map(|r| r.as_str()))),
            ("base_tag", json!(entry.base_tag)),
            ("auto_update", json!(entry.auto_update)),
            ("cleanup_old_images", json!(entry.cleanup_old_images)),
            ("keep_versions", json!(entry.keep_versions)),
            ("grace_seconds", json!(entry.grace_seconds)),
            (
                "health_timeout_seconds",
                json!(entry.health_timeout_seconds),
            ),
            ("registry", json!(entry.registry)),
            ("min_age_days", json!(entry.min_age_days)),
            ("release_notes", json!(entry.release_notes)),
            (
                "cosign_key",
                json!(entry.cosign_key.as_ref().map(|p| p.display().to_string())),
            ),
            ("hooks", entry.hooks.to_json()),
        ];
        let origin = &entry.origin;
        let settings = values
            .into_iter()
            .map(|(name, value)| {
                // Hook labels set one phase each: name them all.
                let labels: Vec<String> = origin
                    .label_keys
                    .iter()
                    .filter(|k| *k == name || (name == "hooks" && k.starts_with("hooks.")))
                    .map(|k| format!("dum.{k}"))
                    .collect();
                let from = if !labels.is_empty() {
                    format!("label {}", labels.join(", "))
                } else if let (Some(i), true) =
                    (origin.entry, origin.file_keys.iter().any(|k| k == name))
                {
                    format!("file /images/{i}")
                } else if origin.discovered && matches!(name, "regex" | "base_tag") {
                    "discovered".to_string()
                } else {
                    "default".to_string()
                };
                Setting { name, value, from }
            })
            .collect();
        Row {
            container,
            service: false,
            image: entry.image.clone(),
            settings,
        }
    }
}

/// The table: one line per setting, the container and image on its first.
pub fn table(rows: &[Row]) -> String {
    let header = ["CONTAINER", "IMAGE", "SETTING", "VALUE", "FROM"];
    let mut table = new_table(header.to_vec());
    for row in rows {
        for (i, s) in row.settings.iter().enumerate() {
            let (container, image) = if i == 0 {
                let name = row.container.clone().unwrap_or_else(|| "-".into());
                let name = if row.service {
                    format!("{name} (service)")
                } else {
                    name
                };
                (name, row.image.clone())
            } else {
                (String::new(), String::new())
            };
            let value = match &s.value {
                serde_json::Value::String(text) => text.clone(),
                serde_json::Value::Null => "-".into(),
                other => other.to_string(),
            };
            table.add_row(vec![
                container,
                image,
                s.name.to_string(),
                value,
                s.from.clone(),
            ]);
        }
    }
    render(table, &header, &[0, 2])
}
