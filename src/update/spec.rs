//! The create request that recreates a container from a newer image.
//!
//! Recreating must keep every setting the user gave the old container, but none of
//! the old image's defaults: the engine merges the image's `Config` into the
//! container's at create time, so an inspect document mixes both. Copying it back
//! verbatim (what Watchtower-style updaters do) freezes the OLD image's ENV, CMD,
//! labels, … into the new container and the new image's defaults never apply.
//! Everything here is pure: inspect JSON in, create JSON out.

use anyhow::{Context, Result};
use serde_json::{Map, Value};

pub use crate::docker::types::CreatePlan;

/// First API version whose create endpoint takes several networks and a per-network
/// MAC address.
const MULTI_NETWORK_API: (u32, u32) = (1, 44);

/// Endpoint fields the engine fills at runtime; sending them back is meaningless.
/// Everything else in an endpoint (IPAMConfig, Links, Aliases, DriverOpts,
/// GwPriority, future user settings) passes through.
const ENDPOINT_RUNTIME_FIELDS: &[&str] = &[
    "NetworkID",
    "EndpointID",
    "Gateway",
    "IPAddress",
    "IPPrefixLen",
    "IPv6Gateway",
    "GlobalIPv6Address",
    "GlobalIPv6PrefixLen",
    "MacAddress",
    "DNSNames",
];

/// Config fields whose image value is a default the new image must be free to change:
/// omitted from the plan when the container's value equals the old image's (or is empty).
const IMAGE_DEFAULT_FIELDS: &[&str] = &["WorkingDir", "User", "StopSignal", "Shell", "OnBuild"];

/// How the container is attached to networks (`HostConfig.NetworkMode`).
#[derive(Debug, Clone, PartialEq)]
enum NetMode {
    /// A network by name or ID (`default` already mapped to `bridge`).
    Network(String),
    /// The host's namespace.
    Host,
    /// No networking.
    None,
    /// Another container's namespace (`container:<id or name>`).
    Container(String),
}

impl NetMode {
    fn parse(mode: &str) -> NetMode {
        match mode {
            "" | "default" => NetMode::Network("bridge".to_string()),
            "host" => NetMode::Host,
            "none" => NetMode::None,
            other => match other.strip_prefix("container:") {
                Some(target) => NetMode::Container(target.to_string()),
                None => NetMode::Network(other.to_string()),
            },
        }
    }

    /// Host and container modes share someone else's UTS/network namespace, so the
    /// engine rejects a hostname and the inspect shows a borrowed one.
    fn borrows_namespace(&self) -> bool {
        matches!(self, NetMode::Host | NetMode::Container(_))
    }
}

/// Builds the recreate plan for `container` (its inspect document) created from
/// `old_image` (that image's inspect), to run `new_image` on an engine speaking `api`.
pub fn plan(
    container: &Value,
    old_image: &Value,
    new_image: &str,
    api: (u32, u32),
) -> Result<CreatePlan> {
    let id = container
        .get("Id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .context("container inspect document has no Id; cannot plan the recreate")?;
    let name = match container.get("Name").and_then(Value::as_str) {
        Some(n) if !n.trim_start_matches('/').is_empty() => n.trim_start_matches('/').to_string(),
        _ => id.to_string(),
    };
    let config = container
        .get("Config")
        .and_then(Value::as_object)
        .with_context(|| format!("container {name}: inspect document has no Config object"))?;
    let host_config = container
        .get("HostConfig")
        .and_then(Value::as_object)
        .with_context(|| format!("container {name}: inspect document has no HostConfig object"))?;
    let empty = Map::new();
    // An image without Config (e.g. a bare import) has no defaults to drop.
    let image_config = old_image
        .get("Config")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mode = NetMode::parse(
        host_config
            .get("NetworkMode")
            .and_then(Value::as_str)
            .unwrap_or(""),
    );
    let multi_network = api >= MULTI_NETWORK_API;
    let user_mac = config
        .get("MacAddress")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .map(str::to_string);

    let mut body = config_body(config, image_config, host_config, id, &mode, multi_network);
    body.insert("Image".to_string(), Value::String(new_image.to_string()));
    let mounts = container
        .get("Mounts")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    body.insert(
        "HostConfig".to_string(),
        Value::Object(host_config_body(host_config, mounts)),
    );

    let networks = container
        .pointer("/NetworkSettings/Networks")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let hostname = config.get("Hostname").and_then(Value::as_str).unwrap_or("");
    let (endpoints, extra_networks) = endpoints(
        networks,
        &mode,
        id,
        hostname,
        user_mac.as_deref(),
        multi_network,
    );
    if let Some(endpoints) = endpoints {
        let mut networking = Map::new();
        networking.insert("EndpointsConfig".to_string(), Value::Object(endpoints));
        body.insert("NetworkingConfig".to_string(), Value::Object(networking));
    }

    let state = container.get("State");
    let flag = |key: &str| {
        state
            .and_then(|s| s.get(key))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    Ok(CreatePlan {
        name,
        body: Value::Object(body),
        extra_networks,
        start: flag("Running") || flag("Restarting"),
    })
}

/// The container's `Config` minus the old image's defaults and engine-generated values.
fn config_body(
    config: &Map<String, Value>,
    image: &Map<String, Value>,
    host_config: &Map<String, Value>,
    id: &str,
    mode: &NetMode,
    multi_network: bool,
) -> Map<String, Value> {
    let mut body = config.clone();

    if let Some(env) = config.get("Env").and_then(Value::as_array) {
        let image_env = image.get("Env").and_then(Value::as_array);
        let kept: Vec<Value> = env
            .iter()
            .filter(|e| !image_env.is_some_and(|ie| ie.contains(e)))
            .cloned()
            .collect();
        set_or_remove(
            &mut body,
            "Env",
            (!kept.is_empty()).then_some(Value::Array(kept)),
        );
    }

    // The engine fills Cmd from the image only when no Entrypoint is given, and
    // `--entrypoint` clears the image's Cmd. So a user Entrypoint pins Cmd as-is (even
    // when it equals the image's, or is empty); otherwise Cmd is a default only when
    // it equals the image's.
    let entrypoint = non_empty(config.get("Entrypoint"));
    let cmd = non_empty(config.get("Cmd"));
    let image_entrypoint = non_empty(image.get("Entrypoint"));
    let image_cmd = non_empty(image.get("Cmd"));
    let user_entrypoint = entrypoint != image_entrypoint || (cmd.is_none() && image_cmd.is_some());
    if user_entrypoint {
        set_or_remove(&mut body, "Entrypoint", entrypoint.cloned());
        set_or_remove(&mut body, "Cmd", cmd.cloned());
    } else {
        body.remove("Entrypoint");
        let user_cmd = cmd.filter(|c| Some(*c) != image_cmd);
        set_or_remove(&mut body, "Cmd", user_cmd.cloned());
    }

    if let Some(labels) = config.get("Labels").and_then(Value::as_object) {
        let image_labels = image.get("Labels").and_then(Value::as_object);
        let kept: Map<String, Value> = labels
            .iter()
            .filter(|(k, v)| image_labels.and_then(|il| il.get(*k)) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        set_or_remove(
            &mut body,
            "Labels",
            (!kept.is_empty()).then_some(Value::Object(kept)),
        );
    }

    for field in IMAGE_DEFAULT_FIELDS {
        let value = non_empty(config.get(*field));
        if value.is_none() || value == non_empty(image.get(*field)) {
            body.remove(*field);
        }
    }

    // A published port must stay exposed: the engine only publishes bindings of
    // exposed ports, and the new image may drop its EXPOSE.
    let published = host_config.get("PortBindings").and_then(Value::as_object);
    strip_image_keys(&mut body, image, "ExposedPorts", published);
    strip_image_keys(&mut body, image, "Volumes", None);

    if let Some(check) = non_empty(config.get("Healthcheck"))
        && Some(check) == non_empty(image.get("Healthcheck"))
    {
        body.remove("Healthcheck");
    }

    let hostname = config.get("Hostname").and_then(Value::as_str).unwrap_or("");
    let generated = id.get(..12).is_some_and(|short| short == hostname);
    if hostname.is_empty() || generated || mode.borrows_namespace() {
        body.remove("Hostname");
    }
    if config
        .get("Domainname")
        .and_then(Value::as_str)
        .unwrap_or("")
        .is_empty()
    {
        body.remove("Domainname");
    }
    // From API 1.44 the MAC belongs to an endpoint (see `endpoints`); older engines
    // only take it here. An empty string means "engine-generated".
    let mac_empty = config
        .get("MacAddress")
        .and_then(Value::as_str)
        .unwrap_or("")
        .is_empty();
    if multi_network || mac_empty || mode.borrows_namespace() {
        body.remove("MacAddress");
    }
    body
}

/// Removes from `body[field]` (a set-like object) the keys the image defines, unless
/// `keep` lists them; drops the field when nothing user-set remains.
fn strip_image_keys(
    body: &mut Map<String, Value>,
    image: &Map<String, Value>,
    field: &str,
    keep: Option<&Map<String, Value>>,
) {
    let Some(set) = body.get(field).and_then(Value::as_object) else {
        body.remove(field);
        return;
    };
    let image_set = image.get(field).and_then(Value::as_object);
    let kept: Map<String, Value> = set
        .iter()
        .filter(|(k, _)| {
            keep.is_some_and(|keep| keep.contains_key(*k))
                || !image_set.is_some_and(|is| is.contains_key(*k))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    set_or_remove(
        body,
        field,
        (!kept.is_empty()).then_some(Value::Object(kept)),
    );
}

/// The container's `HostConfig` (all user settings, unknown fields included) in the
/// form the create endpoint takes, with every volume reattached.
fn host_config_body(host_config: &Map<String, Value>, mounts: &[Value]) -> Map<String, Value> {
    let mut hc = host_config.clone();

    if let Some(links) = host_config.get("Links").and_then(Value::as_array) {
        let links = links
            .iter()
            .map(|l| l.as_str().map_or_else(|| l.clone(), create_link))
            .collect();
        hc.insert("Links".to_string(), Value::Array(links));
    }

    // Non-empty lists are the engine's defaults of the day (the CLI and compose can
    // only send null or, with systempaths=unconfined, an empty list); freezing them
    // would keep masking gaps a newer engine closes.
    for field in ["MaskedPaths", "ReadonlyPaths"] {
        if hc
            .get(field)
            .and_then(Value::as_array)
            .is_some_and(|l| !l.is_empty())
        {
            hc.insert(field.to_string(), Value::Null);
        }
    }

    // `--mount type=volume,target=/x` without a source names no volume: point it at
    // the one the engine created, or the recreate gets a fresh empty volume.
    let volume_at = |dest: &str| {
        mounts.iter().find_map(|m| {
            (m.get("Type").and_then(Value::as_str) == Some("volume")
                && m.get("Destination").and_then(Value::as_str) == Some(dest))
            .then(|| m.get("Name").and_then(Value::as_str))
            .flatten()
            .filter(|n| !n.is_empty())
        })
    };
    if let Some(hc_mounts) = hc.get_mut("Mounts").and_then(Value::as_array_mut) {
        for m in hc_mounts.iter_mut() {
            let is_volume = m.get("Type").and_then(Value::as_str) == Some("volume");
            let no_source = m
                .get("Source")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty();
            let target = m.get("Target").and_then(Value::as_str).unwrap_or("");
            if let (true, true, Some(name), Some(obj)) =
                (is_volume, no_source, volume_at(target), m.as_object_mut())
            {
                obj.insert("Source".to_string(), Value::String(name.to_string()));
            }
        }
    }

    // Volumes the engine made for an image VOLUME or `-v /path` are only listed in the
    // top-level Mounts; naming them in Binds reattaches the same data.
    let mut covered: Vec<String> = hc
        .get("Binds")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|b| b.as_str().and_then(bind_destination))
        .chain(
            hc.get("Mounts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|m| m.get("Target").and_then(Value::as_str).map(str::to_string)),
        )
        .collect();
    let mut binds: Vec<Value> = hc
        .get("Binds")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let before = binds.len();
    for m in mounts {
        let str_of = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("");
        let (name, dest) = (str_of("Name"), str_of("Destination"));
        if str_of("Type") != "volume"
            || name.is_empty()
            || dest.is_empty()
            || covered.iter().any(|c| c == dest)
        {
            continue;
        }
        let read_only = m.get("RW").and_then(Value::as_bool) == Some(false);
        binds.push(Value::String(format!(
            "{name}:{dest}{}",
            if read_only { ":ro" } else { "" }
        )));
        covered.push(dest.to_string());
    }
    if binds.len() != before {
        hc.insert("Binds".to_string(), Value::Array(binds));
    }
    hc
}

/// Inspect form "/other:/this/alias" → create form "other:alias"; create form stays.
fn create_link(link: &str) -> Value {
    let (source, target) = link.split_once(':').unwrap_or((link, link));
    let source = source.trim_start_matches('/');
    let alias = target.rsplit('/').next().unwrap_or(target);
    Value::String(format!("{source}:{alias}"))
}

/// Container path of a `Binds` entry ("src:dst[:opts]" or an anonymous "dst").
fn bind_destination(bind: &str) -> Option<String> {
    let mut parts = bind.split(':');
    let first = parts.next()?;
    Some(parts.next().unwrap_or(first).to_string())
}

/// EndpointsConfig for create, plus the networks to connect afterwards (API < 1.44).
fn endpoints(
    networks: &Map<String, Value>,
    mode: &NetMode,
    id: &str,
    hostname: &str,
    user_mac: Option<&str>,
    multi_network: bool,
) -> (Option<Map<String, Value>>, Vec<(String, Value)>) {
    let NetMode::Network(primary_mode) = mode else {
        return (None, Vec::new());
    };
    // NetworkMode may be an ID or name while Networks is keyed by name.
    let primary = if networks.contains_key(primary_mode) {
        primary_mode.clone()
    } else {
        networks
            .iter()
            .find(|(_, ep)| {
                ep.get("NetworkID")
                    .and_then(Value::as_str)
                    .is_some_and(|nid| !nid.is_empty() && nid.starts_with(primary_mode.as_str()))
            })
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| primary_mode.clone())
    };
    let short_id = id.get(..12).unwrap_or(id);

    let mut all: Vec<(String, Map<String, Value>)> = networks
        .iter()
        .map(|(net, ep)| (net.clone(), endpoint(ep, short_id, hostname)))
        .collect();
    if !all.iter().any(|(net, _)| *net == primary) {
        all.push((primary.clone(), Map::new()));
    }
    if let (true, Some(mac)) = (multi_network, user_mac)
        && let Some((_, ep)) = all.iter_mut().find(|(net, _)| *net == primary)
    {
        ep.insert("MacAddress".to_string(), Value::String(mac.to_string()));
    }

    let mut create = Map::new();
    let mut extra = Vec::new();
    for (net, ep) in all {
        if multi_network || net == primary {
            create.insert(net, Value::Object(ep));
        } else {
            extra.push((net, Value::Object(ep)));
        }
    }
    (Some(create), extra)
}

/// One endpoint without runtime fields and engine-added aliases.
fn endpoint(ep: &Value, short_id: &str, hostname: &str) -> Map<String, Value> {
    let mut out: Map<String, Value> = ep
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, v)| !ENDPOINT_RUNTIME_FIELDS.contains(&k.as_str()) && !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // Engine 20.10 adds the short ID and the hostname as aliases on user networks (and
    // adds them again on the new container); newer engines resolve both anyway.
    if let Some(aliases) = ep.get("Aliases").and_then(Value::as_array) {
        let kept: Vec<Value> = aliases
            .iter()
            .filter(|a| a.as_str().is_some_and(|a| a != short_id && a != hostname))
            .cloned()
            .collect();
        set_or_remove(
            &mut out,
            "Aliases",
            (!kept.is_empty()).then_some(Value::Array(kept)),
        );
    }
    if out
        .get("IPAMConfig")
        .and_then(Value::as_object)
        .is_some_and(|o| o.values().all(is_empty))
    {
        out.remove("IPAMConfig");
    }
    if out
        .get("DriverOpts")
        .and_then(Value::as_object)
        .is_some_and(Map::is_empty)
    {
        out.remove("DriverOpts");
    }
    out
}

/// Containers that share `target`'s network namespace (HostConfig.NetworkMode ==
/// "container:<id>" or "container:<name>"), by name, from a list of inspect documents.
pub fn dependents(target_id: &str, target_name: &str, all: &[Value]) -> Vec<String> {
    let target_name = target_name.trim_start_matches('/');
    all.iter()
        .filter(|c| c.get("Id").and_then(Value::as_str) != Some(target_id))
        .filter(|c| {
            let mode = c
                .pointer("/HostConfig/NetworkMode")
                .and_then(Value::as_str)
                .unwrap_or("");
            let Some(other) = mode.strip_prefix("container:") else {
                return false;
            };
            let other = other.trim_start_matches('/');
            // The engine stores the full ID; API clients may have stored a short one.
            other == target_name
                || other == target_id
                || (other.len() >= 12 && target_id.starts_with(other))
        })
        .filter_map(|c| c.get("Name").and_then(Value::as_str))
        .map(|n| n.trim_start_matches('/').to_string())
        .collect()
}

/// Points a dependent's plan at the recreated target (NetworkMode "container:<new id or name>").
pub fn retarget_network(plan: &mut CreatePlan, target: &str) {
    if let Some(hc) = plan
        .body
        .get_mut("HostConfig")
        .and_then(Value::as_object_mut)
    {
        hc.insert(
            "NetworkMode".to_string(),
            Value::String(format!("container:{target}")),
        );
    }
}

/// `Some(v)` unless the value is missing, null, "" or an empty array/object: the
/// engine treats all of these as "not set".
fn non_empty(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !is_empty(v))
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn set_or_remove(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    match value {
        Some(v) => {
            map.insert(key.to_string(), v);
        }
        None => {
            map.remove(key);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    // Inspect documents from dockerd 20.10.24 (API 1.41), image dum-spec/app:1 built
    // with ENV A=1 B=2, CMD sleep 3600, LABEL img.label=x, WORKDIR /w, EXPOSE 8080,
    // VOLUME /cache, HEALTHCHECK CMD true; dum-spec/app:2 changes every default.
    /// `docker create` with no options.
    const PLAIN: &str = include_str!("../../tests/fixtures/inspect/container_plain.json");
    /// Many options, two user networks, user MAC (see the fixture for the full list).
    const FULL: &str = include_str!("../../tests/fixtures/inspect/container_full.json");
    /// `--network container:dumspec_a` (PLAIN).
    const NETNS: &str = include_str!("../../tests/fixtures/inspect/container_netns.json");
    /// `--network host`.
    const HOST: &str = include_str!("../../tests/fixtures/inspect/container_host.json");
    /// `--privileged`.
    const PRIVILEGED: &str = include_str!("../../tests/fixtures/inspect/container_privileged.json");
    /// `--entrypoint sh dum-spec/app:1 -c 'sleep 1'`.
    const ENTRYPOINT: &str = include_str!("../../tests/fixtures/inspect/container_entrypoint.json");
    /// FULL recreated from app:2 by this module's plan and started: the engine added
    /// the short ID and hostname aliases, and runtime endpoint fields are filled.
    const RUNNING: &str = include_str!("../../tests/fixtures/inspect/container_full_running.json");
    const IMAGE_V1: &str = include_str!("../../tests/fixtures/inspect/image_app.json");
    const IMAGE_V2: &str = include_str!("../../tests/fixtures/inspect/image_app_v2.json");

    const NEW: &str = "127.0.0.1:5000/a/b:v2";
    const OLD_API: (u32, u32) = (1, 41);
    const NEW_API: (u32, u32) = (1, 44);
    const PLAIN_ID: &str = "603f728b2086218d621c8c2bd5b1261745756cbbe54db6796b3470d3bf0bfe2a";

    fn json(s: &str) -> Value {
        serde_json::from_str(s).unwrap_or_else(|e| panic!("bad test JSON {s}: {e}"))
    }

    fn plan_of(container: &str, image: &str, api: (u32, u32)) -> CreatePlan {
        plan(&json(container), &json(image), NEW, api).unwrap()
    }

    /// Checks `plan.body` at a JSON pointer; `None` means the field must be absent.
    fn check_at(case: &str, body: &Value, pointer: &str, want: Option<&str>) {
        let got = body.pointer(pointer);
        match want {
            None => assert!(
                got.is_none(),
                "{case}: {pointer} should be absent, got {got:?}"
            ),
            Some(w) => assert_eq!(got, Some(&json(w)), "{case}: {pointer}"),
        }
    }

    /// (case, container fixture, old image fixture, API, pointer into the body, expected JSON or absent)
    const FIXTURE_CASES: &[(&str, &str, &str, (u32, u32), &str, Option<&str>)] = &[
        (
            "plain",
            PLAIN,
            IMAGE_V1,
            OLD_API,
            "/Image",
            Some(r#""127.0.0.1:5000/a/b:v2""#),
        ),
        ("plain", PLAIN, IMAGE_V1, OLD_API, "/Env", None),
        ("plain", PLAIN, IMAGE_V1, OLD_API, "/Cmd", None),
        ("plain", PLAIN, IMAGE_V1, OLD_API, "/Entrypoint", None),
        (
            "plain",
            PLAIN,
            IMAGE_V1,
            OLD_API,
            "/Labels",
            Some(r#"{"dumspec.test":"1"}"#),
        ),
        ("plain", PLAIN, IMAGE_V1, OLD_API, "/WorkingDir", None),
        ("plain", PLAIN, IMAGE_V1, OLD_API, "/User", None),
        ("plain", PLAIN, IMAGE_V1, OLD_API, "/StopSignal", None),
        ("plain", PLAIN, IMAGE_V1, OLD_API, "/OnBuild", None),
        ("plain", PLAIN, IMAGE_V1, OLD_API, "/ExposedPorts", None),
        ("plain", PLAIN, IMAGE_V1, OLD_API, "/Volumes", None),
        ("plain", PLAIN, IMAGE_V1, OLD_API, "/Healthcheck", None),
        ("plain", PLAIN, IMAGE_V1, OLD_API, "/Hostname", None),
        ("plain", PLAIN, IMAGE_V1, OLD_API, "/Domainname", None),
        ("plain", PLAIN, IMAGE_V1, OLD_API, "/MacAddress", None),
        (
            "plain",
            PLAIN,
            IMAGE_V1,
            OLD_API,
            "/AttachStdout",
            Some("true"),
        ),
        ("plain", PLAIN, IMAGE_V1, OLD_API, "/Tty", Some("false")),
        (
            "plain",
            PLAIN,
            IMAGE_V1,
            OLD_API,
            "/HostConfig/Binds",
            Some(r#"["cd8d43e66a58177a29bd7e42252f6e124cb03cf7ab50f8f634c18e22e05a086f:/cache"]"#),
        ),
        (
            "plain",
            PLAIN,
            IMAGE_V1,
            OLD_API,
            "/HostConfig/NetworkMode",
            Some(r#""default""#),
        ),
        (
            "plain",
            PLAIN,
            IMAGE_V1,
            OLD_API,
            "/HostConfig/MaskedPaths",
            Some("null"),
        ),
        (
            "plain",
            PLAIN,
            IMAGE_V1,
            OLD_API,
            "/HostConfig/ReadonlyPaths",
            Some("null"),
        ),
        (
            "plain",
            PLAIN,
            IMAGE_V1,
            OLD_API,
            "/HostConfig/LogConfig/Type",
            Some(r#""json-file""#),
        ),
        (
            "plain",
            PLAIN,
            IMAGE_V1,
            OLD_API,
            "/NetworkingConfig",
            Some(r#"{"EndpointsConfig":{"bridge":{}}}"#),
        ),
        (
            "full",
            FULL,
            IMAGE_V1,
            OLD_API,
            "/Image",
            Some(r#""127.0.0.1:5000/a/b:v2""#),
        ),
        (
            "full",
            FULL,
            IMAGE_V1,
            OLD_API,
            "/Env",
            Some(r#"["B=3","C=4"]"#),
        ),
        ("full", FULL, IMAGE_V1, OLD_API, "/Cmd", None),
        ("full", FULL, IMAGE_V1, OLD_API, "/Entrypoint", None),
        (
            "full",
            FULL,
            IMAGE_V1,
            OLD_API,
            "/Labels",
            Some(r#"{"dumspec.test":"1","user.label":"y"}"#),
        ),
        (
            "full",
            FULL,
            IMAGE_V1,
            OLD_API,
            "/WorkingDir",
            Some(r#""/w2""#),
        ),
        ("full", FULL, IMAGE_V1, OLD_API, "/User", Some(r#""1000""#)),
        (
            "full",
            FULL,
            IMAGE_V1,
            OLD_API,
            "/StopSignal",
            Some(r#""SIGINT""#),
        ),
        ("full", FULL, IMAGE_V1, OLD_API, "/StopTimeout", Some("20")),
        // --health-cmd 'true' is byte-identical to the image's HEALTHCHECK CMD true, so
        // it cannot be told apart from the default: the new image's check applies.
        ("full", FULL, IMAGE_V1, OLD_API, "/Healthcheck", None),
        (
            "full",
            FULL,
            IMAGE_V1,
            OLD_API,
            "/Hostname",
            Some(r#""myhost""#),
        ),
        (
            "full",
            FULL,
            IMAGE_V1,
            OLD_API,
            "/MacAddress",
            Some(r#""02:42:ac:11:00:99""#),
        ),
        // Exposed by the image, but published by the user: must stay exposed.
        (
            "full",
            FULL,
            IMAGE_V1,
            OLD_API,
            "/ExposedPorts",
            Some(r#"{"8080/tcp":{}}"#),
        ),
        ("full", FULL, IMAGE_V1, OLD_API, "/Volumes", None),
        (
            "full",
            FULL,
            IMAGE_V1,
            OLD_API,
            "/HostConfig/Binds",
            Some(
                r#"["named_vol:/data","/tmp/sp/host:/host:ro","0921fbab5a519f300b45d3d29e3fa9bb4c39acfe9d99045d0ee3e78cccdc4cbc:/cache"]"#,
            ),
        ),
        (
            "full",
            FULL,
            IMAGE_V1,
            OLD_API,
            "/HostConfig/NetworkMode",
            Some(r#""dumspec_front""#),
        ),
        (
            "full",
            FULL,
            IMAGE_V1,
            OLD_API,
            "/HostConfig/PortBindings",
            Some(r#"{"8080/tcp":[{"HostIp":"","HostPort":"18080"}]}"#),
        ),
        (
            "full",
            FULL,
            IMAGE_V1,
            OLD_API,
            "/HostConfig/RestartPolicy",
            Some(r#"{"Name":"unless-stopped","MaximumRetryCount":0}"#),
        ),
        (
            "full",
            FULL,
            IMAGE_V1,
            OLD_API,
            "/HostConfig/Tmpfs",
            Some(r#"{"/run/x":""}"#),
        ),
        (
            "full",
            FULL,
            IMAGE_V1,
            OLD_API,
            "/HostConfig/CapAdd",
            Some(r#"["CAP_NET_ADMIN"]"#),
        ),
        (
            "full",
            FULL,
            IMAGE_V1,
            OLD_API,
            "/HostConfig/CapDrop",
            Some(r#"["CAP_MKNOD"]"#),
        ),
        (
            "full",
            FULL,
            IMAGE_V1,
            OLD_API,
            "/HostConfig/Ulimits",
            Some(r#"[{"Name":"nofile","Hard":2048,"Soft":1024}]"#),
        ),
        (
            "full",
            FULL,
            IMAGE_V1,
            OLD_API,
            "/HostConfig/Sysctls",
            Some(r#"{"net.ipv4.ip_forward":"1"}"#),
        ),
        (
            "full",
            FULL,
            IMAGE_V1,
            OLD_API,
            "/HostConfig/Memory",
            Some("67108864"),
        ),
        (
            "full",
            FULL,
            IMAGE_V1,
            OLD_API,
            "/HostConfig/MemorySwap",
            Some("134217728"),
        ),
        (
            "full",
            FULL,
            IMAGE_V1,
            OLD_API,
            "/HostConfig/LogConfig",
            Some(r#"{"Type":"json-file","Config":{"max-size":"1m"}}"#),
        ),
        (
            "full",
            FULL,
            IMAGE_V1,
            OLD_API,
            "/HostConfig/Init",
            Some("true"),
        ),
        (
            "full",
            FULL,
            IMAGE_V1,
            OLD_API,
            "/HostConfig/ShmSize",
            Some("33554432"),
        ),
        (
            "full",
            FULL,
            IMAGE_V1,
            OLD_API,
            "/HostConfig/GroupAdd",
            Some(r#"["123"]"#),
        ),
        (
            "full",
            FULL,
            IMAGE_V1,
            OLD_API,
            "/HostConfig/ReadonlyRootfs",
            Some("true"),
        ),
        (
            "full",
            FULL,
            IMAGE_V1,
            OLD_API,
            "/HostConfig/Dns",
            Some(r#"["1.1.1.1"]"#),
        ),
        (
            "full",
            FULL,
            IMAGE_V1,
            OLD_API,
            "/HostConfig/ExtraHosts",
            Some(r#"["h:1.2.3.4"]"#),
        ),
        (
            "full",
            FULL,
            IMAGE_V1,
            OLD_API,
            "/HostConfig/Links",
            Some("null"),
        ),
        (
            "full",
            FULL,
            IMAGE_V1,
            OLD_API,
            "/NetworkingConfig/EndpointsConfig",
            Some(
                r#"{"dumspec_front":{"IPAMConfig":{"IPv4Address":"172.30.0.10"},"Aliases":["web"]}}"#,
            ),
        ),
        ("full 1.44", FULL, IMAGE_V1, NEW_API, "/MacAddress", None),
        (
            "full 1.44",
            FULL,
            IMAGE_V1,
            NEW_API,
            "/Hostname",
            Some(r#""myhost""#),
        ),
        (
            "full 1.44",
            FULL,
            IMAGE_V1,
            NEW_API,
            "/NetworkingConfig/EndpointsConfig",
            Some(
                r#"{"dumspec_back":{"Aliases":["api"]},
                    "dumspec_front":{"IPAMConfig":{"IPv4Address":"172.30.0.10"},"Aliases":["web"],"MacAddress":"02:42:ac:11:00:99"}}"#,
            ),
        ),
        (
            "running",
            RUNNING,
            IMAGE_V2,
            OLD_API,
            "/Env",
            Some(r#"["B=3","C=4"]"#),
        ),
        ("running", RUNNING, IMAGE_V2, OLD_API, "/Cmd", None),
        (
            "running",
            RUNNING,
            IMAGE_V2,
            OLD_API,
            "/Labels",
            Some(r#"{"dumspec.test":"1","user.label":"y"}"#),
        ),
        (
            "running",
            RUNNING,
            IMAGE_V2,
            OLD_API,
            "/ExposedPorts",
            Some(r#"{"8080/tcp":{}}"#),
        ),
        ("running", RUNNING, IMAGE_V2, OLD_API, "/Healthcheck", None),
        (
            "running",
            RUNNING,
            IMAGE_V2,
            OLD_API,
            "/WorkingDir",
            Some(r#""/w2""#),
        ),
        (
            "running",
            RUNNING,
            IMAGE_V2,
            OLD_API,
            "/HostConfig/Binds",
            Some(
                r#"["named_vol:/data","/tmp/sp/host:/host:ro","0921fbab5a519f300b45d3d29e3fa9bb4c39acfe9d99045d0ee3e78cccdc4cbc:/cache"]"#,
            ),
        ),
        (
            "running",
            RUNNING,
            IMAGE_V2,
            OLD_API,
            "/NetworkingConfig/EndpointsConfig",
            Some(
                r#"{"dumspec_front":{"IPAMConfig":{"IPv4Address":"172.30.0.10"},"Aliases":["web"]}}"#,
            ),
        ),
        // Planning against the wrong old image keeps its different values as user-set.
        (
            "running vs v1",
            RUNNING,
            IMAGE_V1,
            OLD_API,
            "/Env",
            Some(r#"["B=3","C=4","A=10"]"#),
        ),
        (
            "netns",
            NETNS,
            IMAGE_V1,
            OLD_API,
            "/HostConfig/NetworkMode",
            Some(r#""container:603f728b2086218d621c8c2bd5b1261745756cbbe54db6796b3470d3bf0bfe2a""#),
        ),
        ("netns", NETNS, IMAGE_V1, OLD_API, "/Hostname", None),
        ("netns", NETNS, IMAGE_V1, OLD_API, "/ExposedPorts", None),
        ("netns", NETNS, IMAGE_V1, OLD_API, "/MacAddress", None),
        ("netns", NETNS, IMAGE_V1, NEW_API, "/NetworkingConfig", None),
        ("netns", NETNS, IMAGE_V1, OLD_API, "/NetworkingConfig", None),
        (
            "host",
            HOST,
            IMAGE_V1,
            OLD_API,
            "/HostConfig/NetworkMode",
            Some(r#""host""#),
        ),
        ("host", HOST, IMAGE_V1, OLD_API, "/Hostname", None),
        ("host", HOST, IMAGE_V1, OLD_API, "/NetworkingConfig", None),
        (
            "privileged",
            PRIVILEGED,
            IMAGE_V1,
            OLD_API,
            "/HostConfig/Privileged",
            Some("true"),
        ),
        (
            "privileged",
            PRIVILEGED,
            IMAGE_V1,
            OLD_API,
            "/HostConfig/MaskedPaths",
            Some("null"),
        ),
        (
            "privileged",
            PRIVILEGED,
            IMAGE_V1,
            OLD_API,
            "/Hostname",
            None,
        ),
        (
            "privileged",
            PRIVILEGED,
            IMAGE_V1,
            OLD_API,
            "/NetworkingConfig/EndpointsConfig",
            Some(r#"{"bridge":{}}"#),
        ),
        (
            "entrypoint",
            ENTRYPOINT,
            IMAGE_V1,
            OLD_API,
            "/Entrypoint",
            Some(r#"["sh"]"#),
        ),
        (
            "entrypoint",
            ENTRYPOINT,
            IMAGE_V1,
            OLD_API,
            "/Cmd",
            Some(r#"["-c","sleep 1"]"#),
        ),
        ("entrypoint", ENTRYPOINT, IMAGE_V1, OLD_API, "/Env", None),
        (
            "entrypoint",
            ENTRYPOINT,
            IMAGE_V1,
            OLD_API,
            "/WorkingDir",
            None,
        ),
    ];

    #[test]
    fn fixtures_plan_precisely() {
        for &(case, container, image, api, pointer, want) in FIXTURE_CASES {
            let p = plan_of(container, image, api);
            check_at(case, &p.body, pointer, want);
        }
    }

    /// (case, container fixture, API, expected extra_networks JSON, expected start, expected name)
    const ATTACH_CASES: &[(&str, &str, (u32, u32), &str, bool, &str)] = &[
        ("plain", PLAIN, OLD_API, "[]", false, "dumspec_a"),
        (
            "full",
            FULL,
            OLD_API,
            r#"[["dumspec_back",{"Aliases":["api"]}]]"#,
            false,
            "dumspec_b",
        ),
        ("full 1.44", FULL, NEW_API, "[]", false, "dumspec_b"),
        ("full 1.50", FULL, (1, 50), "[]", false, "dumspec_b"),
        ("full 2.0", FULL, (2, 0), "[]", false, "dumspec_b"),
        (
            "running",
            RUNNING,
            OLD_API,
            r#"[["dumspec_back",{"Aliases":["api"]}]]"#,
            true,
            "dumspec_v2_full",
        ),
        ("netns", NETNS, OLD_API, "[]", false, "dumspec_c"),
        ("host", HOST, OLD_API, "[]", false, "dumspec_d"),
    ];

    #[test]
    fn extra_networks_start_and_name() {
        for &(case, container, api, extra, start, name) in ATTACH_CASES {
            let p = plan_of(container, IMAGE_V1, api);
            let extra: Vec<(String, Value)> = serde_json::from_str(extra).unwrap();
            assert_eq!(p.extra_networks, extra, "{case}: extra_networks");
            assert_eq!(p.start, start, "{case}: start");
            assert_eq!(p.name, name, "{case}: name");
        }
    }

    /// A minimal container; cases patch it.
    const SYN_CONTAINER: &str = r#"{
        "Id": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "Name": "/svc",
        "State": {"Running": false},
        "Config": {"Hostname": "0123456789ab", "Image": "img:1", "Env": null, "Cmd": null, "Entrypoint": null, "Labels": null},
        "HostConfig": {"NetworkMode": "default", "Binds": null},
        "Mounts": [],
        "NetworkSettings": {"Networks": {"bridge": {"IPAMConfig": null, "Aliases": null, "NetworkID": "n1", "MacAddress": "02:42:ac:11:00:02"}}}
    }"#;

    /// Merges `patch` into `base`: objects recursively, everything else replaced.
    fn merge(base: &mut Value, patch: &Value) {
        match (base, patch) {
            (Value::Object(b), Value::Object(p)) => {
                for (k, v) in p {
                    merge(b.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
            (b, p) => *b = p.clone(),
        }
    }

    /// (case, container patch, old image Config, API, pointer into the body, expected JSON or absent)
    const RULE_CASES: &[(&str, &str, &str, (u32, u32), &str, Option<&str>)] = &[
        // Env
        (
            "env override of image key stays",
            r#"{"Config":{"Env":["A=2","PATH=/bin"]}}"#,
            r#"{"Env":["A=1","PATH=/bin"]}"#,
            OLD_API,
            "/Env",
            Some(r#"["A=2"]"#),
        ),
        (
            "env equal to image dropped",
            r#"{"Config":{"Env":["A=1"]}}"#,
            r#"{"Env":["A=1"]}"#,
            OLD_API,
            "/Env",
            None,
        ),
        (
            "env without image env kept",
            r#"{"Config":{"Env":["A=1"]}}"#,
            r#"{"Env":null}"#,
            OLD_API,
            "/Env",
            Some(r#"["A=1"]"#),
        ),
        (
            "env key without value kept",
            r#"{"Config":{"Env":["A"]}}"#,
            r#"{"Env":["A=1"]}"#,
            OLD_API,
            "/Env",
            Some(r#"["A"]"#),
        ),
        // Cmd / Entrypoint
        (
            "cmd null both",
            r#"{"Config":{"Cmd":null}}"#,
            r#"{"Cmd":null}"#,
            OLD_API,
            "/Cmd",
            None,
        ),
        (
            "cmd empty vs missing",
            r#"{"Config":{"Cmd":[]}}"#,
            r#"{}"#,
            OLD_API,
            "/Cmd",
            None,
        ),
        (
            "cmd equal to image",
            r#"{"Config":{"Cmd":["run"]}}"#,
            r#"{"Cmd":["run"]}"#,
            OLD_API,
            "/Cmd",
            None,
        ),
        (
            "user cmd",
            r#"{"Config":{"Cmd":["echo","hi"]}}"#,
            r#"{"Cmd":["run"]}"#,
            OLD_API,
            "/Cmd",
            Some(r#"["echo","hi"]"#),
        ),
        (
            "user cmd, image entrypoint",
            r#"{"Config":{"Entrypoint":["/e"],"Cmd":["hi"]}}"#,
            r#"{"Entrypoint":["/e"],"Cmd":["run"]}"#,
            OLD_API,
            "/Entrypoint",
            None,
        ),
        (
            "user cmd, image entrypoint: cmd",
            r#"{"Config":{"Entrypoint":["/e"],"Cmd":["hi"]}}"#,
            r#"{"Entrypoint":["/e"],"Cmd":["run"]}"#,
            OLD_API,
            "/Cmd",
            Some(r#"["hi"]"#),
        ),
        (
            "entrypoint equal, no cmd",
            r#"{"Config":{"Entrypoint":["/e"]}}"#,
            r#"{"Entrypoint":["/e"]}"#,
            OLD_API,
            "/Entrypoint",
            None,
        ),
        (
            "--entrypoint clears image cmd",
            r#"{"Config":{"Entrypoint":["sh"],"Cmd":null}}"#,
            r#"{"Cmd":["sleep","3600"]}"#,
            OLD_API,
            "/Entrypoint",
            Some(r#"["sh"]"#),
        ),
        (
            "--entrypoint clears image cmd: cmd",
            r#"{"Config":{"Entrypoint":["sh"],"Cmd":null}}"#,
            r#"{"Cmd":["sleep","3600"]}"#,
            OLD_API,
            "/Cmd",
            None,
        ),
        // Same entrypoint as the image but its Cmd was cleared: only --entrypoint does that.
        (
            "--entrypoint same as image",
            r#"{"Config":{"Entrypoint":["/e"],"Cmd":null}}"#,
            r#"{"Entrypoint":["/e"],"Cmd":["x"]}"#,
            OLD_API,
            "/Entrypoint",
            Some(r#"["/e"]"#),
        ),
        // With a user Entrypoint the engine never fills Cmd from the image: keep it even when equal.
        (
            "--entrypoint with image's cmd",
            r#"{"Config":{"Entrypoint":["sh"],"Cmd":["sleep","3600"]}}"#,
            r#"{"Cmd":["sleep","3600"]}"#,
            OLD_API,
            "/Cmd",
            Some(r#"["sleep","3600"]"#),
        ),
        (
            "--entrypoint with image's cmd: entrypoint",
            r#"{"Config":{"Entrypoint":["sh"],"Cmd":["sleep","3600"]}}"#,
            r#"{"Cmd":["sleep","3600"]}"#,
            OLD_API,
            "/Entrypoint",
            Some(r#"["sh"]"#),
        ),
        // Labels
        (
            "label equal dropped",
            r#"{"Config":{"Labels":{"a":"1","b":"2"}}}"#,
            r#"{"Labels":{"a":"1"}}"#,
            OLD_API,
            "/Labels",
            Some(r#"{"b":"2"}"#),
        ),
        (
            "label value override kept",
            r#"{"Config":{"Labels":{"a":"9"}}}"#,
            r#"{"Labels":{"a":"1"}}"#,
            OLD_API,
            "/Labels",
            Some(r#"{"a":"9"}"#),
        ),
        (
            "labels all image",
            r#"{"Config":{"Labels":{"a":"1"}}}"#,
            r#"{"Labels":{"a":"1"}}"#,
            OLD_API,
            "/Labels",
            None,
        ),
        (
            "compose labels kept",
            r#"{"Config":{"Labels":{"com.docker.compose.service":"web"}}}"#,
            r#"{"Labels":null}"#,
            OLD_API,
            "/Labels",
            Some(r#"{"com.docker.compose.service":"web"}"#),
        ),
        // Plain image defaults
        (
            "workdir equal",
            r#"{"Config":{"WorkingDir":"/w"}}"#,
            r#"{"WorkingDir":"/w"}"#,
            OLD_API,
            "/WorkingDir",
            None,
        ),
        (
            "workdir empty",
            r#"{"Config":{"WorkingDir":""}}"#,
            r#"{"WorkingDir":"/w"}"#,
            OLD_API,
            "/WorkingDir",
            None,
        ),
        (
            "workdir user",
            r#"{"Config":{"WorkingDir":"/x"}}"#,
            r#"{"WorkingDir":"/w"}"#,
            OLD_API,
            "/WorkingDir",
            Some(r#""/x""#),
        ),
        (
            "user equal",
            r#"{"Config":{"User":"app"}}"#,
            r#"{"User":"app"}"#,
            OLD_API,
            "/User",
            None,
        ),
        (
            "user override",
            r#"{"Config":{"User":"0"}}"#,
            r#"{"User":"app"}"#,
            OLD_API,
            "/User",
            Some(r#""0""#),
        ),
        (
            "stop signal equal",
            r#"{"Config":{"StopSignal":"SIGQUIT"}}"#,
            r#"{"StopSignal":"SIGQUIT"}"#,
            OLD_API,
            "/StopSignal",
            None,
        ),
        (
            "stop signal user",
            r#"{"Config":{"StopSignal":"SIGINT"}}"#,
            r#"{"StopSignal":"SIGQUIT"}"#,
            OLD_API,
            "/StopSignal",
            Some(r#""SIGINT""#),
        ),
        (
            "shell equal",
            r#"{"Config":{"Shell":["/bin/bash","-c"]}}"#,
            r#"{"Shell":["/bin/bash","-c"]}"#,
            OLD_API,
            "/Shell",
            None,
        ),
        (
            "onbuild equal",
            r#"{"Config":{"OnBuild":["RUN x"]}}"#,
            r#"{"OnBuild":["RUN x"]}"#,
            OLD_API,
            "/OnBuild",
            None,
        ),
        (
            "onbuild null",
            r#"{"Config":{"OnBuild":null}}"#,
            r#"{}"#,
            OLD_API,
            "/OnBuild",
            None,
        ),
        // Sets
        (
            "exposed: image key dropped, user key kept",
            r#"{"Config":{"ExposedPorts":{"80/tcp":{},"9000/udp":{}}}}"#,
            r#"{"ExposedPorts":{"80/tcp":{}}}"#,
            OLD_API,
            "/ExposedPorts",
            Some(r#"{"9000/udp":{}}"#),
        ),
        (
            "exposed: published image key kept",
            r#"{"Config":{"ExposedPorts":{"80/tcp":{}}},"HostConfig":{"PortBindings":{"80/tcp":[{"HostPort":"8080"}]}}}"#,
            r#"{"ExposedPorts":{"80/tcp":{}}}"#,
            OLD_API,
            "/ExposedPorts",
            Some(r#"{"80/tcp":{}}"#),
        ),
        (
            "exposed: empty",
            r#"{"Config":{"ExposedPorts":{}}}"#,
            r#"{}"#,
            OLD_API,
            "/ExposedPorts",
            None,
        ),
        (
            "volumes: -v /x kept, image key dropped",
            r#"{"Config":{"Volumes":{"/x":{},"/cache":{}}}}"#,
            r#"{"Volumes":{"/cache":{}}}"#,
            OLD_API,
            "/Volumes",
            Some(r#"{"/x":{}}"#),
        ),
        (
            "volumes: null",
            r#"{"Config":{"Volumes":null}}"#,
            r#"{}"#,
            OLD_API,
            "/Volumes",
            None,
        ),
        // Healthcheck
        (
            "health equal",
            r#"{"Config":{"Healthcheck":{"Test":["CMD","x"]}}}"#,
            r#"{"Healthcheck":{"Test":["CMD","x"]}}"#,
            OLD_API,
            "/Healthcheck",
            None,
        ),
        (
            "health override",
            r#"{"Config":{"Healthcheck":{"Test":["CMD","x"],"Interval":5000000000}}}"#,
            r#"{"Healthcheck":{"Test":["CMD","x"]}}"#,
            OLD_API,
            "/Healthcheck",
            Some(r#"{"Test":["CMD","x"],"Interval":5000000000}"#),
        ),
        (
            "health disabled by user",
            r#"{"Config":{"Healthcheck":{"Test":["NONE"]}}}"#,
            r#"{"Healthcheck":{"Test":["CMD","x"]}}"#,
            OLD_API,
            "/Healthcheck",
            Some(r#"{"Test":["NONE"]}"#),
        ),
        (
            "health user, none in image",
            r#"{"Config":{"Healthcheck":{"Test":["CMD","x"]}}}"#,
            r#"{}"#,
            OLD_API,
            "/Healthcheck",
            Some(r#"{"Test":["CMD","x"]}"#),
        ),
        // Hostname, domain name, MAC
        (
            "hostname generated",
            r#"{}"#,
            r#"{}"#,
            OLD_API,
            "/Hostname",
            None,
        ),
        (
            "hostname user",
            r#"{"Config":{"Hostname":"db1"}}"#,
            r#"{}"#,
            OLD_API,
            "/Hostname",
            Some(r#""db1""#),
        ),
        (
            "hostname host mode",
            r#"{"Config":{"Hostname":"vm"},"HostConfig":{"NetworkMode":"host"}}"#,
            r#"{}"#,
            OLD_API,
            "/Hostname",
            None,
        ),
        (
            "hostname container mode",
            r#"{"Config":{"Hostname":"db1"},"HostConfig":{"NetworkMode":"container:x"}}"#,
            r#"{}"#,
            OLD_API,
            "/Hostname",
            None,
        ),
        (
            "domainname empty",
            r#"{"Config":{"Domainname":""}}"#,
            r#"{}"#,
            OLD_API,
            "/Domainname",
            None,
        ),
        (
            "domainname user",
            r#"{"Config":{"Domainname":"example.org"}}"#,
            r#"{}"#,
            OLD_API,
            "/Domainname",
            Some(r#""example.org""#),
        ),
        (
            "mac empty",
            r#"{"Config":{"MacAddress":""}}"#,
            r#"{}"#,
            OLD_API,
            "/MacAddress",
            None,
        ),
        (
            "mac user, old api",
            r#"{"Config":{"MacAddress":"02:00:00:00:00:01"}}"#,
            r#"{}"#,
            OLD_API,
            "/MacAddress",
            Some(r#""02:00:00:00:00:01""#),
        ),
        (
            "mac user, new api: not in Config",
            r#"{"Config":{"MacAddress":"02:00:00:00:00:01"}}"#,
            r#"{}"#,
            NEW_API,
            "/MacAddress",
            None,
        ),
        (
            "mac user, new api: primary endpoint",
            r#"{"Config":{"MacAddress":"02:00:00:00:00:01"}}"#,
            r#"{}"#,
            NEW_API,
            "/NetworkingConfig/EndpointsConfig/bridge/MacAddress",
            Some(r#""02:00:00:00:00:01""#),
        ),
        (
            "mac generated, new api",
            r#"{}"#,
            r#"{}"#,
            NEW_API,
            "/NetworkingConfig/EndpointsConfig",
            Some(r#"{"bridge":{}}"#),
        ),
        (
            "mac user, new api, primary not listed",
            r#"{"Config":{"MacAddress":"02:00:00:00:00:01"},"NetworkSettings":{"Networks":null}}"#,
            r#"{}"#,
            NEW_API,
            "/NetworkingConfig/EndpointsConfig",
            Some(r#"{"bridge":{"MacAddress":"02:00:00:00:00:01"}}"#),
        ),
        (
            "unknown Config field passes",
            r#"{"Config":{"FutureField":{"x":1}}}"#,
            r#"{}"#,
            OLD_API,
            "/FutureField",
            Some(r#"{"x":1}"#),
        ),
        // HostConfig
        (
            "links inspect form",
            r#"{"HostConfig":{"Links":["/db:/svc/database","/cache:/svc/cache"]}}"#,
            r#"{}"#,
            OLD_API,
            "/HostConfig/Links",
            Some(r#"["db:database","cache:cache"]"#),
        ),
        (
            "links create form",
            r#"{"HostConfig":{"Links":["db:database"]}}"#,
            r#"{}"#,
            OLD_API,
            "/HostConfig/Links",
            Some(r#"["db:database"]"#),
        ),
        (
            "unknown HostConfig field passes",
            r#"{"HostConfig":{"FutureKnob":7,"DeviceRequests":[{"Driver":"nvidia","Count":-1}]}}"#,
            r#"{}"#,
            OLD_API,
            "/HostConfig/FutureKnob",
            Some("7"),
        ),
        (
            "device requests pass",
            r#"{"HostConfig":{"DeviceRequests":[{"Driver":"nvidia","Count":-1}]}}"#,
            r#"{}"#,
            OLD_API,
            "/HostConfig/DeviceRequests",
            Some(r#"[{"Driver":"nvidia","Count":-1}]"#),
        ),
        (
            "masked paths unconfined kept",
            r#"{"HostConfig":{"MaskedPaths":[],"ReadonlyPaths":[]}}"#,
            r#"{}"#,
            OLD_API,
            "/HostConfig/MaskedPaths",
            Some("[]"),
        ),
        (
            "masked paths defaults dropped",
            r#"{"HostConfig":{"MaskedPaths":["/proc/kcore"]}}"#,
            r#"{}"#,
            OLD_API,
            "/HostConfig/MaskedPaths",
            Some("null"),
        ),
        (
            "anonymous -v volume reattached",
            r#"{"Mounts":[{"Type":"volume","Name":"abc","Destination":"/x","RW":true}]}"#,
            r#"{}"#,
            OLD_API,
            "/HostConfig/Binds",
            Some(r#"["abc:/x"]"#),
        ),
        (
            "read-only volume reattached ro",
            r#"{"Mounts":[{"Type":"volume","Name":"abc","Destination":"/x","RW":false}]}"#,
            r#"{}"#,
            OLD_API,
            "/HostConfig/Binds",
            Some(r#"["abc:/x:ro"]"#),
        ),
        (
            "volume already in Binds",
            r#"{"HostConfig":{"Binds":["data:/x:ro"]},"Mounts":[{"Type":"volume","Name":"data","Destination":"/x","RW":false}]}"#,
            r#"{}"#,
            OLD_API,
            "/HostConfig/Binds",
            Some(r#"["data:/x:ro"]"#),
        ),
        (
            "bind mounts not duplicated",
            r#"{"HostConfig":{"Binds":["/h:/x"]},"Mounts":[{"Type":"bind","Source":"/h","Destination":"/x","RW":true}]}"#,
            r#"{}"#,
            OLD_API,
            "/HostConfig/Binds",
            Some(r#"["/h:/x"]"#),
        ),
        (
            "volume covered by --mount",
            r#"{"HostConfig":{"Mounts":[{"Type":"volume","Source":"data","Target":"/x"}]},"Mounts":[{"Type":"volume","Name":"data","Destination":"/x","RW":true}]}"#,
            r#"{}"#,
            OLD_API,
            "/HostConfig/Binds",
            Some("null"),
        ),
        (
            "anonymous --mount gets its volume name",
            r#"{"HostConfig":{"Mounts":[{"Type":"volume","Target":"/x"}]},"Mounts":[{"Type":"volume","Name":"abc","Destination":"/x","RW":true}]}"#,
            r#"{}"#,
            OLD_API,
            "/HostConfig/Mounts",
            Some(r#"[{"Type":"volume","Target":"/x","Source":"abc"}]"#),
        ),
        (
            "tmpfs mount left alone",
            r#"{"HostConfig":{"Mounts":[{"Type":"tmpfs","Target":"/t"}]},"Mounts":[{"Type":"tmpfs","Destination":"/t"}]}"#,
            r#"{}"#,
            OLD_API,
            "/HostConfig/Mounts",
            Some(r#"[{"Type":"tmpfs","Target":"/t"}]"#),
        ),
        // Networks
        (
            "none mode",
            r#"{"HostConfig":{"NetworkMode":"none"},"NetworkSettings":{"Networks":{"none":{}}}}"#,
            r#"{}"#,
            NEW_API,
            "/NetworkingConfig",
            None,
        ),
        (
            "runtime endpoint fields dropped, user ones kept",
            r#"{"HostConfig":{"NetworkMode":"net1"},"NetworkSettings":{"Networks":{"bridge":null,"net1":{
                "IPAMConfig":{"IPv4Address":"10.0.0.5","IPv6Address":"","LinkLocalIPs":["169.254.0.9"]},
                "Links":["db:db"],"Aliases":["web","0123456789ab","other"],"DriverOpts":{"k":"v"},"GwPriority":3,
                "NetworkID":"n","EndpointID":"e","Gateway":"10.0.0.1","IPAddress":"10.0.0.5","IPPrefixLen":24,
                "IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"MacAddress":"02:42:0a:00:00:05",
                "DNSNames":["svc","0123456789ab"]}}}}"#,
            r#"{}"#,
            OLD_API,
            "/NetworkingConfig/EndpointsConfig",
            Some(
                r#"{"net1":{"IPAMConfig":{"IPv4Address":"10.0.0.5","IPv6Address":"","LinkLocalIPs":["169.254.0.9"]},
                    "Links":["db:db"],"Aliases":["web","other"],"DriverOpts":{"k":"v"},"GwPriority":3}}"#,
            ),
        ),
        (
            "hostname alias dropped",
            r#"{"Config":{"Hostname":"db1"},"HostConfig":{"NetworkMode":"n"},"NetworkSettings":{"Networks":{"bridge":null,"n":{"Aliases":["db1","0123456789ab"]}}}}"#,
            r#"{}"#,
            OLD_API,
            "/NetworkingConfig/EndpointsConfig",
            Some(r#"{"n":{}}"#),
        ),
        (
            "primary by network ID",
            r#"{"HostConfig":{"NetworkMode":"abcdef"},"NetworkSettings":{"Networks":{"bridge":null,"front":{"NetworkID":"abcdef0123"},"back":{"NetworkID":"99"}}}}"#,
            r#"{}"#,
            OLD_API,
            "/NetworkingConfig/EndpointsConfig",
            Some(r#"{"front":{}}"#),
        ),
        (
            "all networks with new api",
            r#"{"HostConfig":{"NetworkMode":"a"},"NetworkSettings":{"Networks":{"bridge":null,"a":{},"b":{"Aliases":["x"]}}}}"#,
            r#"{}"#,
            NEW_API,
            "/NetworkingConfig/EndpointsConfig",
            Some(r#"{"a":{},"b":{"Aliases":["x"]}}"#),
        ),
    ];

    #[test]
    fn rules() {
        for &(case, patch, image_config, api, pointer, want) in RULE_CASES {
            let mut container = json(SYN_CONTAINER);
            merge(&mut container, &json(patch));
            // `null` in a Networks patch removes the network (merge cannot delete).
            if let Some(nets) = container
                .pointer_mut("/NetworkSettings/Networks")
                .and_then(Value::as_object_mut)
            {
                nets.retain(|_, v| !v.is_null());
            }
            let image = serde_json::json!({ "Config": json(image_config) });
            let p = plan(&container, &image, NEW, api).unwrap_or_else(|e| panic!("{case}: {e:#}"));
            check_at(case, &p.body, pointer, want);
        }
    }

    /// (case, container patch, error must mention)
    const ERROR_CASES: &[(&str, &str, &str)] = &[
        ("no id", r#"{"Id":""}"#, "no Id"),
        (
            "no config",
            r#"{"Config":null}"#,
            "container svc: inspect document has no Config",
        ),
        (
            "no host config",
            r#"{"HostConfig":"x"}"#,
            "container svc: inspect document has no HostConfig",
        ),
    ];

    #[test]
    fn malformed_inspect_is_an_error() {
        for &(case, patch, want) in ERROR_CASES {
            let mut container = json(SYN_CONTAINER);
            merge(&mut container, &json(patch));
            let err = plan(&container, &json("{}"), NEW, OLD_API).expect_err(case);
            assert!(format!("{err:#}").contains(want), "{case}: {err:#}");
        }
    }

    #[test]
    fn image_without_config_drops_nothing() {
        let mut container = json(SYN_CONTAINER);
        merge(
            &mut container,
            &json(r#"{"Config":{"Env":["A=1"],"Cmd":["x"]}}"#),
        );
        for image in ["{}", r#"{"Config":null}"#] {
            let p = plan(&container, &json(image), NEW, OLD_API).unwrap();
            check_at(image, &p.body, "/Env", Some(r#"["A=1"]"#));
            check_at(image, &p.body, "/Cmd", Some(r#"["x"]"#));
        }
    }

    #[test]
    fn plan_ignores_field_order() {
        // serde_json maps are ordered by key, so reordering the source cannot matter;
        // this guards against a future `preserve_order` feature changing that.
        let a = json(
            r#"{"Id":"0123456789abcdef","Name":"/x","Config":{"Env":["A=1"],"Cmd":["c"]},"HostConfig":{"NetworkMode":"default","Memory":1}}"#,
        );
        let b = json(
            r#"{"HostConfig":{"Memory":1,"NetworkMode":"default"},"Config":{"Cmd":["c"],"Env":["A=1"]},"Name":"/x","Id":"0123456789abcdef"}"#,
        );
        assert_eq!(
            plan(&a, &json("{}"), NEW, OLD_API).unwrap(),
            plan(&b, &json("{}"), NEW, OLD_API).unwrap()
        );
    }

    /// (case, NetworkMode of the candidate, expected to depend on PLAIN (id PLAIN_ID, name dumspec_a))
    const DEPENDENT_CASES: &[(&str, &str, bool)] = &[
        (
            "full id",
            "container:603f728b2086218d621c8c2bd5b1261745756cbbe54db6796b3470d3bf0bfe2a",
            true,
        ),
        ("name", "container:dumspec_a", true),
        ("slashed name", "container:/dumspec_a", true),
        ("short id", "container:603f728b2086", true),
        ("too short prefix", "container:603f", false),
        (
            "other id",
            "container:9b6cca0847db2bb0fd623ee18de6b8d72c30d9fb009e925ef503a916d7f3a586",
            false,
        ),
        ("other name", "container:dumspec_ab", false),
        ("network named like the target", "dumspec_a", false),
        ("host", "host", false),
    ];

    #[test]
    fn dependents_by_network_mode() {
        for &(case, mode, want) in DEPENDENT_CASES {
            let other = serde_json::json!({"Id": "f00", "Name": "/dep", "HostConfig": {"NetworkMode": mode}});
            let got = dependents(PLAIN_ID, "dumspec_a", &[other]);
            let want: Vec<String> = if want {
                vec!["dep".to_string()]
            } else {
                Vec::new()
            };
            assert_eq!(got, want, "{case}");
        }
        let all: Vec<Value> = [PLAIN, FULL, NETNS, HOST, PRIVILEGED, ENTRYPOINT, RUNNING]
            .iter()
            .map(|s| json(s))
            .collect();
        assert_eq!(dependents(PLAIN_ID, "dumspec_a", &all), ["dumspec_c"]);
        assert_eq!(dependents(PLAIN_ID, "/dumspec_a", &all), ["dumspec_c"]);
        assert!(
            dependents(
                "4bf2ed7988846265d9d0d4926342867c1f5070d03ffb86bedb2333619bae229d",
                "dumspec_b",
                &all
            )
            .is_empty()
        );
    }

    #[test]
    fn retarget_points_at_the_new_target() {
        let mut p = plan_of(NETNS, IMAGE_V1, OLD_API);
        retarget_network(&mut p, "abc123");
        check_at(
            "netns",
            &p.body,
            "/HostConfig/NetworkMode",
            Some(r#""container:abc123""#),
        );
        check_at("netns", &p.body, "/NetworkingConfig", None);
    }
}
