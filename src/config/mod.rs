//! The configuration file: which images dum watches and how it updates their containers.
//!
//! Parsing runs in three passes so that one run of `dum` reports every mistake in the file at
//! once, each with the JSON pointer of the offending value: JSON syntax, then the embedded JSON
//! schema (types, unknown keys, ranges; the same schema editors use), then checks a schema cannot
//! express (regexes compile, container names are unique, image references look sane).

pub mod cosign;
pub mod draft;
pub mod hooks;
pub mod labels;
pub mod notify;
pub mod writer;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use jsonschema::error::{TypeKind, ValidationErrorKind};
use serde_json::{Map, Value};

/// JSON schema of the configuration file (draft 2020-12), embedded so the binary can print it and
/// validation never depends on a file next to the binary.
pub const SCHEMA: &str = include_str!("config.schema.json");

// The one source of every default, duplicated only in the schema's `default`
// annotations for editors (a unit test keeps the two equal).
/// Default `base_tag`.
pub const DEFAULT_BASE_TAG: &str = "latest";
/// Default `keep_versions`.
pub const DEFAULT_KEEP_VERSIONS: u32 = 3;
/// Default `grace_seconds`.
pub const DEFAULT_GRACE_SECONDS: u64 = 10;
/// Default `health_timeout_seconds`.
pub const DEFAULT_HEALTH_TIMEOUT_SECONDS: u64 = 120;

/// The whole configuration file, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Watched images, in file order.
    pub images: Vec<ImageConfig>,
    /// Registries (host[:port]) reached over plain HTTP.
    pub insecure_registries: Vec<String>,
    /// Where to send notifications at the end of a check or update.
    pub notify: Vec<notify::Target>,
    /// Where a check or update writes its Prometheus metrics (relative paths are
    /// resolved against the configuration file's folder at load).
    pub metrics_file: Option<PathBuf>,
}

/// One watched image, with every default filled in.
#[derive(Debug, Clone)]
pub struct ImageConfig {
    /// Repository as written by the user, without tag (e.g. `lscr.io/linuxserver/calibre`).
    pub image: String,
    /// Tags that are versions; `None` means only the digest of `base_tag` is tracked.
    pub regex: Option<regex::Regex>,
    /// The moving tag that follows the wanted releases (default `latest`).
    pub base_tag: String,
    /// Whether `dum update` may recreate the container without asking.
    pub auto_update: bool,
    /// Container running this image, if dum should compare with and update it.
    pub container_name: Option<String>,
    /// The Swarm service running this image, when the entry is about that one only.
    pub service_name: Option<String>,
    /// Whether to remove old local images of this repository after an update.
    pub cleanup_old_images: bool,
    /// How many of the newest local versions cleanup keeps (at least 1).
    pub keep_versions: u32,
    /// Registry host[:port] that overrides the one in the image reference.
    pub registry: Option<String>,
    /// How long a new container must stay running before an update counts as good.
    pub grace_seconds: u64,
    /// How long to wait for a new container's healthcheck to report healthy.
    pub health_timeout_seconds: u64,
    /// How many days a new image must have been out before an update to it (0: none).
    pub min_age_days: u32,
    /// Containers this entry leaves alone though they run its image: those with an
    /// entry of their own from their `dum.*` labels, and those labelled
    /// `dum.enable=false`.
    pub except: Vec<String>,
    /// The same for Swarm services, by service name (kept apart: a container and a
    /// service may share a name).
    pub except_services: Vec<String>,
    /// A release-notes link template (`{version}`, `{image}`) that overrides the one
    /// read from the image's labels.
    pub release_notes: Option<String>,
    /// Where the settings came from, for `dum validate --effective`.
    pub origin: Origin,
    /// The cosign public key (PEM file) every update candidate's signature must
    /// verify with; relative paths are resolved against the configuration file's
    /// folder at load.
    pub cosign_key: Option<PathBuf>,
    /// Commands run before an update, after it, and after a rollback.
    pub hooks: hooks::Hooks,
}

/// Where an entry's settings came from: each one set by a label, else by the file's
/// entry, else its default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The index of the file's entry (`/images/N`), if any.
    pub entry: Option<usize>,
    /// The keys that entry sets.
    pub file_keys: Vec<String>,
    /// The keys the `dum.*` labels of the container (or Swarm service) set (without the
    /// prefix).
    pub label_keys: Vec<String>,
    /// Made for a container found running, without any entry (discovery, or labels).
    pub discovered: bool,
}

/// One problem: JSON pointer (e.g. "/images/3/regex", "" for the root) + reason.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// RFC 6901 pointer to the offending value; "" is the whole document.
    pub pointer: String,
    /// What is wrong, as one line a user can act on.
    pub message: String,
}

/// All problems of one file. Display: one line per problem: "<file>: <pointer>: <message>"
/// (pointer "/" for root).
#[derive(Debug)]
pub struct ConfigError {
    /// The configuration file the problems were found in.
    pub path: PathBuf,
    /// Every problem found, ordered by position in the document.
    pub problems: Vec<Problem>,
}

impl ImageConfig {
    /// An entry for `image` with every default, as a file naming only the image gives.
    pub fn new(image: impl Into<String>) -> ImageConfig {
        ImageConfig {
            image: image.into(),
            regex: None,
            base_tag: DEFAULT_BASE_TAG.to_string(),
            auto_update: false,
            container_name: None,
            service_name: None,
            cleanup_old_images: false,
            keep_versions: DEFAULT_KEEP_VERSIONS,
            registry: None,
            grace_seconds: DEFAULT_GRACE_SECONDS,
            health_timeout_seconds: DEFAULT_HEALTH_TIMEOUT_SECONDS,
            min_age_days: 0,
            except: Vec::new(),
            except_services: Vec::new(),
            release_notes: None,
            origin: Origin::default(),
            cosign_key: None,
            hooks: hooks::Hooks::default(),
        }
    }

    /// The image's reference, and the one to query: the same repository on the
    /// `registry` override when one is set (a mirror), else the image's own.
    pub fn references(
        &self,
    ) -> Result<
        (
            crate::image::reference::Reference,
            crate::image::reference::Reference,
        ),
        crate::image::reference::ReferenceError,
    > {
        let reference = crate::image::reference::Reference::parse(&self.image)?;
        let query = match &self.registry {
            Some(host) => reference.with_registry(host)?,
            None => reference.clone(),
        };
        Ok((reference, query))
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            let pointer = if problem.pointer.is_empty() {
                "/"
            } else {
                problem.pointer.as_str()
            };
            write!(
                f,
                "{}: {}: {}",
                self.path.display(),
                pointer,
                problem.message
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Reads and validates the configuration file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    // Running as root, a config another user can edit would let that user pick what root runs.
    if let Err(e) = crate::store::ownership::check(path, "config file") {
        return Err(ConfigError {
            path: path.to_path_buf(),
            problems: vec![problem("", format!("{e:#}"))],
        });
    }
    let config = match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, path)?,
        Err(err) => {
            return Err(ConfigError {
                path: path.to_path_buf(),
                problems: vec![problem("", format!("cannot read: {}", io_reason(&err)))],
            });
        }
    };
    // Likewise for the files secrets are read from when sending.
    let mut problems = Vec::new();
    notify::check_secret_files(&config.notify, &mut problems);
    let mut config = config;
    cosign_keys(&mut config.images, path, &mut problems);
    if let Some(file) = &mut config.metrics_file
        && file.is_relative()
    {
        *file = path.parent().unwrap_or(Path::new("")).join(&*file);
    }
    if !problems.is_empty() {
        return Err(ConfigError {
            path: path.to_path_buf(),
            problems,
        });
    }
    Ok(config)
}

/// Resolves every `cosign_key` against the configuration file's folder and checks that
/// it is a P-256 public key now: a key that cannot be read would otherwise block every
/// update of its image at the first candidate, long after the edit.
fn cosign_keys(images: &mut [ImageConfig], path: &Path, problems: &mut Vec<Problem>) {
    let folder = path.parent().unwrap_or(Path::new(""));
    for image in images {
        let (Some(key), Some(index)) = (&mut image.cosign_key, image.origin.entry) else {
            continue;
        };
        if key.is_relative() {
            *key = folder.join(&*key);
        }
        // Whoever may replace the key decides what is trusted, as with the file itself.
        let checked = crate::store::ownership::check(key, "cosign key")
            .map_err(|e| format!("{e:#}"))
            .and_then(|()| cosign::Key::read(key).map(|_| ()));
        if let Err(message) = checked {
            problems.push(problem(format!("/images/{index}/cosign_key"), message));
        }
    }
}

/// Validates configuration `text`; `path` only names the file in errors.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let fail = |problems: Vec<Problem>| ConfigError {
        path: path.to_path_buf(),
        problems,
    };
    let doc: Value = serde_json::from_str(text).map_err(|err| fail(vec![json_syntax(&err)]))?;

    let mut problems = schema_problems(&doc);
    // Semantic checks run even when the schema failed: they only look at values of the right
    // type, and reporting everything at once saves the user edit-and-rerun rounds.
    let images = semantic_checks(&doc, &mut problems);
    let notify = notify_targets(&doc, &mut problems);
    if !problems.is_empty() {
        sort_by_position(&mut problems);
        return Err(fail(problems));
    }

    let insecure_registries = doc
        .get("insecure_registries")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Ok(Config {
        images,
        insecure_registries,
        notify,
        metrics_file: doc
            .get("metrics_file")
            .and_then(Value::as_str)
            .map(PathBuf::from),
    })
}

/// The `notify` entries; checks beyond the schema live with the target type.
fn notify_targets(doc: &Value, problems: &mut Vec<Problem>) -> Vec<notify::Target> {
    let entries = doc.get("notify").and_then(Value::as_array);
    entries
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(index, entry)| notify::parse(entry, &format!("/notify/{index}"), problems))
        .collect()
}

fn problem(pointer: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        pointer: pointer.into(),
        message: message.into(),
    }
}

/// `io::Error` text without the trailing "(os error N)", which means nothing to users.
fn io_reason(err: &std::io::Error) -> String {
    let text = err.to_string();
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_owned(),
        _ => text,
    }
}

fn json_syntax(err: &serde_json::Error) -> Problem {
    let position = format!(" at line {} column {}", err.line(), err.column());
    let text = err.to_string();
    let reason = text.strip_suffix(&position).unwrap_or(&text);
    problem(
        "",
        format!(
            "invalid JSON at line {}, column {}: {reason}",
            err.line(),
            err.column()
        ),
    )
}

/// The embedded schema, parsed and compiled. Not kept for the process: a run
/// validates one file, and the compiled schema (about half a megabyte) would otherwise
/// stay resident through the check.
fn schema() -> Result<(Value, jsonschema::Validator), String> {
    let value: Value = serde_json::from_str(SCHEMA).map_err(|e| e.to_string())?;
    let validator = jsonschema::draft202012::new(&value).map_err(|e| e.to_string())?;
    Ok((value, validator))
}

fn schema_problems(doc: &Value) -> Vec<Problem> {
    let (schema, validator) = match schema() {
        Ok(compiled) => compiled,
        // Only reachable if the embedded schema is broken, which a unit test rules out.
        Err(err) => return vec![problem("", format!("internal error: bad schema: {err}"))],
    };
    let mut problems = Vec::new();
    for error in validator.iter_errors(doc) {
        let pointer = error.instance_path().as_str();
        let message = match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                let known = known_keys(&schema, pointer);
                for key in unexpected {
                    problems.push(problem(pointer, unknown_key(key, &known)));
                }
                continue;
            }
            ValidationErrorKind::Required { property } => {
                format!("missing required key {property}")
            }
            ValidationErrorKind::Type {
                kind: TypeKind::Single(expected),
            } => format!(
                "must be {}, found {}",
                with_article(expected.as_str()),
                describe(error.instance())
            ),
            ValidationErrorKind::Minimum { limit } => {
                format!("must be at least {limit}, found {}", error.instance())
            }
            ValidationErrorKind::Maximum { limit } => {
                format!("must be at most {limit}, found {}", error.instance())
            }
            ValidationErrorKind::MinLength { limit } if *limit == 1 => "must not be empty".into(),
            _ => error.to_string(),
        };
        problems.push(problem(pointer, message));
    }
    problems
}

/// Keys the schema allows on the object at `pointer`, to suggest a fix for a misspelt key.
fn known_keys<'s>(schema: &'s Value, pointer: &str) -> Vec<&'s str> {
    let object_schema = if pointer.is_empty() {
        Some(schema)
    } else if pointer.starts_with("/notify/") {
        schema.pointer("/$defs/notify_target")
    } else if pointer.ends_with("/hooks") {
        schema.pointer("/$defs/hooks")
    } else if pointer.contains("/hooks/") {
        schema.pointer("/$defs/hook")
    } else {
        schema.pointer("/$defs/image")
    };
    object_schema
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
        .map(|props| props.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

fn unknown_key(key: &str, known: &[&str]) -> String {
    let closest = known
        .iter()
        .map(|k| (strsim::levenshtein(key, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min();
    match closest {
        Some((_, suggestion)) => format!("unknown key {key:?} (did you mean {suggestion:?}?)"),
        None => format!("unknown key {key:?}"),
    }
}

fn with_article(type_name: &str) -> String {
    match type_name {
        "array" | "integer" | "object" => format!("an {type_name}"),
        "null" => type_name.to_owned(),
        _ => format!("a {type_name}"),
    }
}

fn describe(value: &Value) -> String {
    let kind = match value {
        Value::Null => return "null".into(),
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => return "an array".into(),
        Value::Object(_) => return "an object".into(),
    };
    format!("{kind} {value}")
}

/// Checks the schema cannot express and builds the image list from whatever is well typed.
/// The returned list is only meaningful when no problem was recorded.
fn semantic_checks(doc: &Value, problems: &mut Vec<Problem>) -> Vec<ImageConfig> {
    let mut images = Vec::new();
    let mut containers: HashMap<&str, usize> = HashMap::new();
    let entries = doc.get("images").and_then(Value::as_array);
    for (index, entry) in entries.into_iter().flatten().enumerate() {
        let Some(entry) = entry.as_object() else {
            continue; // the schema already reported the wrong type
        };
        let at = format!("/images/{index}");
        if let Some(name) = string(entry, "container_name") {
            if let Some(first) = containers.get(name) {
                problems.push(problem(
                    format!("{at}/container_name"),
                    format!("duplicate container_name {name:?}, already used by /images/{first}"),
                ));
            } else {
                containers.insert(name, index);
            }
        }
        // An empty image was already reported by the schema's minLength.
        if let Some(image) = string(entry, "image").filter(|i| !i.is_empty())
            && let Err(message) = check_image(image)
        {
            problems.push(problem(format!("{at}/image"), message));
        }
        if let Some(tag) = string(entry, "base_tag").filter(|t| !t.is_empty())
            && let Err(message) = check_tag(tag)
        {
            problems.push(problem(format!("{at}/base_tag"), message));
        }
        if let Some(registry) = string(entry, "registry")
            && let Err(message) = check_host(registry)
        {
            problems.push(problem(format!("{at}/registry"), message));
        }
        let regex = string(entry, "regex").and_then(|pattern| match regex::Regex::new(pattern) {
            Ok(regex) => Some(regex),
            Err(err) => {
                problems.push(problem(format!("{at}/regex"), regex_reason(pattern, &err)));
                None
            }
        });
        let keep_versions = uint(entry, "keep_versions", &at, problems)
            .map_or(Some(DEFAULT_KEEP_VERSIONS), |n| u32::try_from(n).ok())
            .unwrap_or_else(|| {
                problems.push(problem(format!("{at}/keep_versions"), "is too large"));
                DEFAULT_KEEP_VERSIONS
            });
        let min_age_days = uint(entry, "min_age_days", &at, problems)
            .map_or(Some(0), |n| u32::try_from(n).ok())
            .unwrap_or_else(|| {
                problems.push(problem(format!("{at}/min_age_days"), "is too large"));
                0
            });
        images.push(ImageConfig {
            image: string(entry, "image").unwrap_or_default().to_owned(),
            regex,
            base_tag: string(entry, "base_tag")
                .unwrap_or(DEFAULT_BASE_TAG)
                .to_owned(),
            auto_update: flag(entry, "auto_update"),
            container_name: string(entry, "container_name").map(str::to_owned),
            service_name: string(entry, "service_name").map(str::to_owned),
            cleanup_old_images: flag(entry, "cleanup_old_images"),
            keep_versions,
            registry: string(entry, "registry").map(str::to_owned),
            grace_seconds: uint(entry, "grace_seconds", &at, problems)
                .unwrap_or(DEFAULT_GRACE_SECONDS),
            health_timeout_seconds: uint(entry, "health_timeout_seconds", &at, problems)
                .unwrap_or(DEFAULT_HEALTH_TIMEOUT_SECONDS),
            min_age_days,
            except: Vec::new(),
            except_services: Vec::new(),
            release_notes: string(entry, "release_notes").map(str::to_owned),
            origin: Origin {
                entry: Some(index),
                file_keys: entry.keys().cloned().collect(),
                ..Origin::default()
            },
            cosign_key: string(entry, "cosign_key").map(PathBuf::from),
            hooks: hooks::parse(entry.get("hooks"), &format!("{at}/hooks"), problems),
        });
    }
    let registries = doc.get("insecure_registries").and_then(Value::as_array);
    for (index, host) in registries.into_iter().flatten().enumerate() {
        if let Some(Err(message)) = host.as_str().map(check_host) {
            problems.push(problem(format!("/insecure_registries/{index}"), message));
        }
    }
    images
}

fn string<'v>(entry: &'v Map<String, Value>, key: &str) -> Option<&'v str> {
    entry.get(key).and_then(Value::as_str)
}

fn flag(entry: &Map<String, Value>, key: &str) -> bool {
    entry.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// A non-negative integer field. JSON schema counts `10.0` as an integer, so accept whole floats
/// too rather than fail after validation said yes; values out of range are reported here.
fn uint(
    entry: &Map<String, Value>,
    key: &str,
    at: &str,
    problems: &mut Vec<Problem>,
) -> Option<u64> {
    let number = entry.get(key)?.as_number()?;
    if let Some(n) = number.as_u64() {
        return Some(n);
    }
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53: every whole f64 below is exact
    match number.as_f64() {
        Some(f) if f.fract() == 0.0 && (0.0..EXACT).contains(&f) => Some(f as u64),
        Some(f) if f >= EXACT => {
            problems.push(problem(format!("{at}/{key}"), "is too large"));
            None
        }
        // Negative or fractional: the schema's minimum or type already reported it.
        _ => None,
    }
}

/// regex errors span several lines with a caret diagram; keep only the reason line.
fn regex_reason(pattern: &str, err: &regex::Error) -> String {
    let text = err.to_string();
    let reason = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("error: "))
        .unwrap_or_else(|| text.lines().last().unwrap_or_default().trim());
    format!("invalid regular expression {pattern:?}: {reason}")
}

/// An image is a repository: the tag lives in `base_tag` (one place for it), and the
/// rest must be a reference Docker would accept.
fn check_image(image: &str) -> Result<(), String> {
    if image.is_empty() {
        return Err("must not be empty".into());
    }
    if image.chars().any(char::is_whitespace) {
        return Err(format!("image reference {image:?} contains whitespace"));
    }
    if let Some((name, _digest)) = image.split_once('@') {
        return Err(format!(
            "image reference {image:?} must not pin a digest; use {name:?} and base_tag"
        ));
    }
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    if let Some(colon) = image[last_slash..].find(':') {
        let (name, tag) = image.split_at(last_slash + colon);
        return Err(format!(
            "image reference {image:?} must not carry a tag; use {name:?} and set \"base_tag\": {:?}",
            &tag[1..]
        ));
    }
    crate::image::reference::Reference::parse(image).map_err(|e| e.reason().to_string())?;
    Ok(())
}

/// A tag as the distribution spec allows it: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
fn check_tag(tag: &str) -> Result<(), String> {
    let mut chars = tag.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if first_ok && rest_ok && tag.len() <= 128 {
        return Ok(());
    }
    Err(format!(
        "{tag:?} is not a tag: letters, digits, `_`, `.` and `-`, at most 128, not starting with `.` or `-` (e.g. \"latest\")"
    ))
}

/// A registry is named as host[:port], the form docker uses; a URL here is a common slip.
fn check_host(host: &str) -> Result<(), String> {
    if host.contains("://") || host.contains('/') || host.chars().any(char::is_whitespace) {
        return Err(format!(
            "registry {host:?} must be host[:port], without scheme or path"
        ));
    }
    if let Some((_, port)) = host.rsplit_once(':')
        && !host.ends_with(']')
        && port.parse::<u16>().is_err()
    {
        return Err(format!("registry {host:?} has an invalid port {port:?}"));
    }
    Ok(())
}

/// Orders problems as they appear in the document, comparing array indexes as numbers so that
/// /images/10 comes after /images/9. The sort is stable, so problems at one pointer keep their
/// discovery order.
fn sort_by_position(problems: &mut [Problem]) {
    fn key(pointer: &str) -> Vec<(u64, &str)> {
        pointer
            .split('/')
            .skip(1)
            .map(|seg| match seg.parse::<u64>() {
                Ok(n) => (n, ""),
                Err(_) => (u64::MAX, seg),
            })
            .collect()
    }
    problems.sort_by(|a, b| key(&a.pointer).cmp(&key(&b.pointer)));
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn problems_of(text: &str) -> Vec<(String, String)> {
        match parse(text, Path::new("dum.json")) {
            Ok(_) => Vec::new(),
            Err(err) => err
                .problems
                .into_iter()
                .map(|p| (p.pointer, p.message))
                .collect(),
        }
    }

    #[test]
    fn schema_is_valid_and_compiles() {
        let value: Value = serde_json::from_str(SCHEMA).unwrap();
        jsonschema::meta::validate(&value).unwrap();
        assert!(schema().is_ok());
    }

    /// (case, config text, expected problems as (pointer, message substring)).
    type Case = (
        &'static str,
        &'static str,
        &'static [(&'static str, &'static str)],
    );
    const CASES: &[Case] = &[
        ("valid minimal", r#"{"images":[]}"#, &[]),
        (
            "valid image only",
            r#"{"images":[{"image":"postgres"}]}"#,
            &[],
        ),
        (
            "valid with $schema",
            r#"{"$schema":"./config.schema.json","images":[],"insecure_registries":["reg.lan:5000"]}"#,
            &[],
        ),
        (
            "malformed JSON",
            "{\"images\": [\n  {\"image\": \"a\"}\n  {\"image\": \"b\"}\n]}",
            &[("", "invalid JSON at line 3, column 3: expected `,` or `]`")],
        ),
        (
            "top level is not an object",
            "[]",
            &[("", "must be an object, found an array")],
        ),
        (
            "wrong types",
            r#"{"images":[{"image":5,"auto_update":"yes","keep_versions":2.5,"regex":null}],"insecure_registries":"x"}"#,
            &[
                (
                    "/images/0/auto_update",
                    "must be a boolean, found string \"yes\"",
                ),
                ("/images/0/image", "must be a string, found integer 5"),
                (
                    "/images/0/keep_versions",
                    "must be an integer, found number 2.5",
                ),
                ("/images/0/regex", "must be a string, found null"),
                (
                    "/insecure_registries",
                    "must be an array, found string \"x\"",
                ),
            ],
        ),
        (
            "unknown key at top level",
            r#"{"images":[],"imgaes":[]}"#,
            &[("", "unknown key \"imgaes\" (did you mean \"images\"?)")],
        ),
        (
            "unknown keys at image level",
            r#"{"images":[{"image":"a","keep_version":2,"colour":"red"}]}"#,
            &[
                ("/images/0", "unknown key \"colour\""),
                (
                    "/images/0",
                    "unknown key \"keep_version\" (did you mean \"keep_versions\"?)",
                ),
            ],
        ),
        (
            "missing images",
            r#"{}"#,
            &[("", "missing required key \"images\"")],
        ),
        (
            "missing image",
            r#"{"images":[{"image":"a"},{"base_tag":"16"}]}"#,
            &[("/images/1", "missing required key \"image\"")],
        ),
        (
            "invalid regex",
            r#"{"images":[{"image":"a","regex":"^v(["}]}"#,
            &[(
                "/images/0/regex",
                "invalid regular expression \"^v([\": unclosed character class",
            )],
        ),
        (
            "keep_versions 0",
            r#"{"images":[{"image":"a","keep_versions":0}]}"#,
            &[("/images/0/keep_versions", "must be at least 1, found 0")],
        ),
        (
            "huge grace_seconds",
            r#"{"images":[{"image":"a","grace_seconds":1e300}]}"#,
            &[("/images/0/grace_seconds", "is too large")],
        ),
        (
            "min_age_days of the wrong type or range",
            r#"{"images":[{"image":"a","min_age_days":"7"},{"image":"b","min_age_days":-2},{"image":"c","min_age_days":1.5}]}"#,
            &[
                ("/images/0/min_age_days", "must be an integer, found string"),
                ("/images/1/min_age_days", "must be at least 0, found -2"),
                ("/images/2/min_age_days", "must be an integer"),
            ],
        ),
        (
            "keep_versions too large",
            r#"{"images":[{"image":"a","keep_versions":5000000000}]}"#,
            &[("/images/0/keep_versions", "is too large")],
        ),
        (
            "health timeout 0 and negative grace",
            r#"{"images":[{"image":"a","health_timeout_seconds":0,"grace_seconds":-1}]}"#,
            &[
                ("/images/0/grace_seconds", "must be at least 0, found -1"),
                (
                    "/images/0/health_timeout_seconds",
                    "must be at least 1, found 0",
                ),
            ],
        ),
        (
            "release_notes not a string, or empty",
            r#"{"images":[{"image":"a","release_notes":5},{"image":"b","release_notes":""}]}"#,
            &[
                (
                    "/images/0/release_notes",
                    "must be a string, found integer 5",
                ),
                ("/images/1/release_notes", "must not be empty"),
            ],
        ),
        (
            "duplicate container_name",
            r#"{"images":[{"image":"a","container_name":"web"},{"image":"b","container_name":"db"},{"image":"c","container_name":"web"}]}"#,
            &[(
                "/images/2/container_name",
                "duplicate container_name \"web\", already used by /images/0",
            )],
        ),
        (
            "empty strings",
            r#"{"images":[{"image":"","base_tag":""}]}"#,
            &[
                ("/images/0/base_tag", "must not be empty"),
                ("/images/0/image", "must not be empty"),
            ],
        ),
        (
            "image reference sanity",
            r#"{"images":[{"image":"My/App"},{"image":"a b"},{"image":"postgres:16"},{"image":"Registry.LAN:5000/app"},{"image":"x@sha256:00"},{"image":"a//b"}]}"#,
            &[
                ("/images/0/image", "repository \"My/App\" must be lowercase"),
                ("/images/1/image", "contains whitespace"),
                (
                    "/images/2/image",
                    "must not carry a tag; use \"postgres\" and set \"base_tag\": \"16\"",
                ),
                ("/images/4/image", "must not pin a digest"),
                ("/images/5/image", "empty path component"),
            ],
        ),
        (
            "base tags",
            r#"{"images":[{"image":"a","base_tag":"16-alpine"},{"image":"b","base_tag":"latest version"},{"image":"c","base_tag":".hidden"},{"image":"d","base_tag":"é"}]}"#,
            &[
                ("/images/1/base_tag", "\"latest version\" is not a tag"),
                ("/images/2/base_tag", "\".hidden\" is not a tag"),
                ("/images/3/base_tag", "\"é\" is not a tag"),
            ],
        ),
        (
            "registry hosts",
            r#"{"images":[{"image":"a","registry":"https://mirror.lan"},{"image":"b","registry":"mirror.lan:80a"}],"insecure_registries":["reg.lan:5000","reg.lan/v2"]}"#,
            &[
                (
                    "/images/0/registry",
                    "must be host[:port], without scheme or path",
                ),
                ("/images/1/registry", "invalid port \"80a\""),
                ("/insecure_registries/1", "must be host[:port]"),
            ],
        ),
        (
            "notify targets",
            r#"{"images":[],"notify":[{"type":"ntfy","url":"https://ntfy.sh/x","events":["failed"],"priority":4},{"type":"discord","url_env":"DISCORD_URL"}]}"#,
            &[],
        ),
        (
            "notify mistakes",
            r#"{"images":[],"notify":[{"type":"signal","url":"https://p"},{"type":"slack","ur":"https://s"},{"type":"ntfy","url":"https://n","events":["updates"]}]}"#,
            &[
                ("/notify/0/type", "\"signal\" is not one of"),
                ("/notify/1", "unknown key \"ur\" (did you mean \"url\"?)"),
                ("/notify/1", "needs one of url, url_env, url_file"),
                ("/notify/2/events/0", "\"updates\" is not one of"),
            ],
        ),
        (
            "several errors at once, ordered by position",
            r#"{"images":[{"image":"a","regex":"("},{"image":"b"},{"image":"c"},{"image":"d"},{"image":"e"},{"image":"f"},{"image":"g"},{"image":"h"},{"image":"i"},{"image":"j","container_name":"x","bogus":1},{"image":"k","container_name":"x"}],"extra":true}"#,
            &[
                ("", "unknown key \"extra\""),
                ("/images/0/regex", "invalid regular expression"),
                ("/images/9", "unknown key \"bogus\""),
                ("/images/10/container_name", "already used by /images/9"),
            ],
        ),
    ];

    #[test]
    fn parse_reports_expected_problems() {
        for (case, text, expected) in CASES {
            let got = problems_of(text);
            assert_eq!(
                got.len(),
                expected.len(),
                "{case}: wrong number of problems: {got:#?}"
            );
            for ((pointer, message), (want_pointer, want_message)) in got.iter().zip(*expected) {
                assert_eq!(pointer, want_pointer, "{case}: pointer, got {got:#?}");
                assert!(
                    message.contains(want_message),
                    "{case}: message {message:?} lacks {want_message:?}"
                );
            }
        }
    }

    #[test]
    fn metrics_file_is_read_relative_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let cases: &[(&str, Option<PathBuf>)] = &[
            (r#"{"images":[]}"#, None),
            (
                r#"{"images":[],"metrics_file":"/var/lib/node_exporter/dum.prom"}"#,
                Some(PathBuf::from("/var/lib/node_exporter/dum.prom")),
            ),
            (
                r#"{"images":[],"metrics_file":"out/dum.prom"}"#,
                Some(dir.path().join("out/dum.prom")),
            ),
        ];
        for (text, want) in cases {
            std::fs::write(&path, text).unwrap();
            assert_eq!(&load(&path).unwrap().metrics_file, want, "{text}");
        }
        let cases: &[(&str, &str)] = &[
            (
                r#"{"images":[],"metrics_file":""}"#,
                "/metrics_file: must not be empty",
            ),
            (
                r#"{"images":[],"metrics_file":7}"#,
                "/metrics_file: must be a string",
            ),
            (
                r#"{"images":[],"metrics_fil":"x"}"#,
                "unknown key \"metrics_fil\" (did you mean \"metrics_file\"?)",
            ),
        ];
        for (text, want) in cases {
            let err = parse(text, Path::new("c")).unwrap_err().to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn cosign_keys_are_read_at_load_relative_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let good = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEjChyZ3k/V7bPcqScayXcXJImftPb\nVCuwvHPXQ+rKidLC8oYPlrD1C78wOf4mnQKC+L13++3r2bylP7wyxn3CKQ==\n-----END PUBLIC KEY-----\n";
        std::fs::write(dir.path().join("cosign.pub"), good).unwrap();
        std::fs::write(dir.path().join("not.pub"), "hello").unwrap();
        let cases: &[(&str, Option<&str>)] = &[
            ("cosign.pub", None),
            ("not.pub", Some("not.pub: not an ECDSA P-256 public key")),
            ("missing.pub", Some("cannot read the cosign key")),
        ];
        for (key, want) in cases {
            let path = dir.path().join("config.json");
            let text = serde_json::json!({"images": [{"image": "r.io/app", "cosign_key": key}]});
            std::fs::write(&path, text.to_string()).unwrap();
            match (load(&path), want) {
                (Ok(config), None) => {
                    assert_eq!(config.images[0].cosign_key, Some(dir.path().join(key)));
                }
                (Err(e), Some(w)) => {
                    assert_eq!(e.problems.len(), 1, "{e}");
                    assert_eq!(e.problems[0].pointer, "/images/0/cosign_key");
                    assert!(e.problems[0].message.contains(w), "{e}");
                }
                (got, _) => panic!("{key}: {got:?}"),
            }
        }
        let typed = parse(
            r#"{"images": [{"image": "r.io/app", "cosign_key": 1}]}"#,
            Path::new("c"),
        );
        assert!(
            typed
                .unwrap_err()
                .to_string()
                .contains("/images/0/cosign_key: must be a string")
        );
    }

    #[test]
    fn defaults_are_filled_in() {
        let config = parse(r#"{"images":[{"image":"postgres"}]}"#, Path::new("x")).unwrap();
        let image = &config.images[0];
        assert_eq!(image.image, "postgres");
        assert!(image.regex.is_none());
        assert_eq!(image.base_tag, "latest");
        assert!(!image.auto_update);
        assert_eq!(image.container_name, None);
        assert!(!image.cleanup_old_images);
        assert_eq!(image.keep_versions, 3);
        assert_eq!(image.registry, None);
        assert_eq!(image.grace_seconds, 10);
        assert_eq!(image.health_timeout_seconds, 120);
        assert!(config.insecure_registries.is_empty());
        assert!(config.notify.is_empty());
    }

    #[test]
    fn a_release_notes_template_is_read() {
        let text = r#"{"images":[{"image":"a","release_notes":"https://x/{image}/{version}"},
            {"image":"b"}]}"#;
        let config = parse(text, Path::new("x")).unwrap();
        assert_eq!(
            config.images[0].release_notes.as_deref(),
            Some("https://x/{image}/{version}")
        );
        assert_eq!(config.images[1].release_notes, None);
    }

    #[test]
    fn full_entry_is_read() {
        let text = r#"{"images":[{"image":"ghcr.io/owner/app","regex":"^[0-9]+$","base_tag":"stable",
            "auto_update":true,"container_name":"app","cleanup_old_images":true,"keep_versions":5,
            "registry":"mirror.lan:5000","grace_seconds":0,"health_timeout_seconds":30.0}],
            "insecure_registries":["mirror.lan:5000"]}"#;
        let config = parse(text, Path::new("x")).unwrap();
        let image = &config.images[0];
        assert_eq!(image.image, "ghcr.io/owner/app");
        assert!(image.regex.as_ref().unwrap().is_match("42"));
        assert_eq!(image.base_tag, "stable");
        assert!(image.auto_update);
        assert_eq!(image.container_name.as_deref(), Some("app"));
        assert!(image.cleanup_old_images);
        assert_eq!(image.keep_versions, 5);
        assert_eq!(image.registry.as_deref(), Some("mirror.lan:5000"));
        assert_eq!(image.grace_seconds, 0);
        assert_eq!(image.health_timeout_seconds, 30);
        assert_eq!(config.insecure_registries, ["mirror.lan:5000"]);
    }

    #[test]
    fn display_prefixes_file_and_pointer() {
        let err = parse(
            r#"{"images":[{"image":"a","x":1}],"y":2}"#,
            Path::new("/etc/dum.json"),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "/etc/dum.json: /: unknown key \"y\"\n/etc/dum.json: /images/0: unknown key \"x\""
        );
    }

    #[test]
    fn load_reports_unreadable_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(&dir.path().join("missing.json")).unwrap_err();
        assert_eq!(
            err.problems,
            [problem("", "cannot read: No such file or directory")]
        );
    }

    #[test]
    fn example_config_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.json");
        let config = load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.images.len(), 3);
        let calibre = &config.images[0];
        assert!(calibre.regex.as_ref().unwrap().is_match("v7.16.0-ls301"));
        assert!(!calibre.regex.as_ref().unwrap().is_match("latest"));
        assert_eq!(config.notify.len(), 2);
        let dump = config.images[1].hooks.pre_update.as_ref().unwrap();
        assert_eq!(dump.timeout_seconds, 600);
    }

    /// The schema's `default` annotations (for editors) say what the code does.
    #[test]
    fn schema_defaults_are_the_code_defaults() {
        let schema: Value = serde_json::from_str(SCHEMA).unwrap();
        let image = &schema["$defs"]["image"]["properties"];
        let defaults = ImageConfig::new("x");
        const KEYS: &[&str] = &[
            "base_tag",
            "keep_versions",
            "grace_seconds",
            "health_timeout_seconds",
            "auto_update",
            "cleanup_old_images",
            "min_age_days",
        ];
        let code = serde_json::json!({
            "base_tag": defaults.base_tag,
            "keep_versions": defaults.keep_versions,
            "grace_seconds": defaults.grace_seconds,
            "health_timeout_seconds": defaults.health_timeout_seconds,
            "auto_update": defaults.auto_update,
            "cleanup_old_images": defaults.cleanup_old_images,
            "min_age_days": defaults.min_age_days,
        });
        for key in KEYS {
            assert_eq!(image[key]["default"], code[key], "{key}");
        }
    }

    #[test]
    fn unknown_keys_suggest_the_closest_within_two_edits() {
        const KNOWN: &[&str] = &["images", "keep_versions", "regex", "registry"];
        const CASES: &[(&str, &str)] = &[
            (
                "keep_version",
                "unknown key \"keep_version\" (did you mean \"keep_versions\"?)",
            ),
            (
                "imgaes",
                "unknown key \"imgaes\" (did you mean \"images\"?)",
            ),
            ("regexp", "unknown key \"regexp\" (did you mean \"regex\"?)"),
            ("colour", "unknown key \"colour\""),
        ];
        for (key, want) in CASES {
            assert_eq!(unknown_key(key, KNOWN), *want, "{key:?}");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod multibyte_tests {
    use super::*;

    /// Every string a user can write, each holding multi-byte characters where a byte
    /// index would land mid-character: parsing never panics, and a bad value is a problem
    /// with a pointer.
    #[test]
    fn multi_byte_values_never_panic() {
        const VALUES: &[&str] = &[
            "€",
            "abcdef€x",
            "http€://x",
            "https:/€x",
            "ht€tps://x",
            "€€€€€€€€€€€€€€",
            "a/€:1",
            "€/a:€",
            "sha256:€€€€€€€€€€€€€€",
            "🦀🦀🦀🦀:🦀",
            "e\u{301}e\u{301}/x:y",
            "[€]:5000",
            "r€g.lan:5€",
        ];
        const TEMPLATES: &[&str] = &[
            r#"{"images":[{"image":V}]}"#,
            r#"{"images":[{"image":"a","regex":V,"base_tag":V}]}"#,
            r#"{"images":[{"image":"a","container_name":V}]}"#,
            r#"{"images":[{"image":"a","registry":V}]}"#,
            r#"{"images":[],"insecure_registries":[V]}"#,
            r#"{"images":[],"notify":[{"type":"ntfy","url":V}]}"#,
            r#"{"images":[],"notify":[{"type":"webhook","url":V,"token":V}]}"#,
            r#"{"images":[],"notify":[{"type":"ntfy","url_env":V,"token_file":V,"topic":V}]}"#,
            r#"{"images":[],"notify":[{"type":V,"url_file":V,"events":[V]}]}"#,
            r#"{"images":[{"image":"a",V:1}],V:2}"#,
        ];
        for template in TEMPLATES {
            for value in VALUES {
                let text = template.replace('V', &serde_json::to_string(value).unwrap());
                if let Err(e) = parse(&text, Path::new("x.json")) {
                    assert!(!e.problems.is_empty(), "{text}");
                    assert!(!e.to_string().is_empty(), "{text}");
                }
            }
        }
    }

    /// The config fuzz target's seeds parse without a panic in every test run, not only
    /// when someone fuzzes.
    #[test]
    fn fuzz_seeds_never_panic() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/config");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            if let Err(e) = parse(&text, &path) {
                assert!(!e.problems.is_empty(), "{}", path.display());
            }
            seen += 1;
        }
        assert!(seen > 0, "no seeds in {}", dir.display());
    }
}
