//! A compose project's model as `docker compose up` hashes its services. `up` resolves a
//! service's environment (`env_file:` content, bare `environment:` keys) and its
//! `service:NAME` references to the containers running now before it computes the hash
//! it labels the container with (`com.docker.compose.config-hash`), while
//! `docker compose config --hash` does neither (compose 2.26 to 5.5): for such a
//! service the two never agree. `docker compose config --format json` gives the model
//! with the environment resolved; [`as_deployed`] resolves the references the way `up`
//! does, and `config --hash` of the result is the hash `up` would write now. Pure: JSON
//! in, JSON out.

use std::collections::BTreeMap;

use serde_json::Value;

/// The keys whose value `service:NAME` shares a namespace of NAME's container.
const NAMESPACES: [&str; 3] = ["network_mode", "ipc", "pid"];

/// Rewrites `model` (`docker compose config --format json`) as `up` sees it before
/// hashing: `service:NAME` in `network_mode`, `ipc` and `pid` becomes
/// `container:ID`, and a `volumes_from` entry becomes the bare ID of the container it
/// names (`NAME[:mode]` a service's, `container:ID[:mode]` that ID; `up` drops the
/// mode). `containers` maps each service to its container's ID (for several replicas,
/// the one whose name sorts first: compose's choice). An error names a service whose
/// reference points at no container (`up` would fail the same way).
pub fn as_deployed(model: &mut Value, containers: &BTreeMap<String, String>) -> Result<(), String> {
    let Some(services) = model.get_mut("services").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    for (name, service) in services.iter_mut() {
        let Some(service) = service.as_object_mut() else {
            continue;
        };
        for key in NAMESPACES {
            let Some(target) = service
                .get(key)
                .and_then(Value::as_str)
                .and_then(|v| v.strip_prefix("service:"))
            else {
                continue;
            };
            let id = container_of(containers, name, key, target)?;
            service.insert(key.into(), Value::String(format!("container:{id}")));
        }
        if let Some(list) = service
            .get_mut("volumes_from")
            .and_then(Value::as_array_mut)
        {
            for entry in list.iter_mut() {
                let Some(text) = entry.as_str() else {
                    continue;
                };
                let mut parts = text.split(':');
                let first = parts.next().unwrap_or_default();
                let id = if first == "container" {
                    parts.next().unwrap_or_default().to_string()
                } else {
                    container_of(containers, name, "volumes_from", first)?
                };
                *entry = Value::String(id);
            }
        }
    }
    Ok(())
}

fn container_of(
    containers: &BTreeMap<String, String>,
    service: &str,
    key: &str,
    target: &str,
) -> Result<String, String> {
    containers.get(target).cloned().ok_or_else(|| {
        format!("service {service} shares {key} with service {target}, which has no container")
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_become_the_containers_up_resolves_them_to() {
        let ids: BTreeMap<String, String> = [("db", "id-db"), ("vpn", "id-vpn")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        // (service before, service after)
        let cases = [
            (
                json!({"network_mode": "service:vpn"}),
                json!({"network_mode": "container:id-vpn"}),
            ),
            (
                json!({"ipc": "service:db"}),
                json!({"ipc": "container:id-db"}),
            ),
            (
                json!({"pid": "service:db"}),
                json!({"pid": "container:id-db"}),
            ),
            (
                json!({"network_mode": "bridge", "ipc": "host"}),
                json!({"network_mode": "bridge", "ipc": "host"}),
            ),
            (
                json!({"network_mode": "container:abc"}),
                json!({"network_mode": "container:abc"}),
            ),
            (
                json!({"volumes_from": ["db"]}),
                json!({"volumes_from": ["id-db"]}),
            ),
            (
                json!({"volumes_from": ["db:ro"]}),
                json!({"volumes_from": ["id-db"]}),
            ),
            (
                json!({"volumes_from": ["container:abc:rw", "vpn"]}),
                json!({"volumes_from": ["abc", "id-vpn"]}),
            ),
            (
                json!({"image": "app", "environment": {"A": "1"}}),
                json!({"image": "app", "environment": {"A": "1"}}),
            ),
        ];
        for (before, after) in cases {
            let mut model = json!({"name": "p", "services": {"app": before.clone()}});
            as_deployed(&mut model, &ids).unwrap();
            assert_eq!(model["services"]["app"], after, "{before}");
        }
    }

    #[test]
    fn a_reference_to_a_service_without_a_container_is_an_error() {
        let ids = BTreeMap::new();
        for service in [
            json!({"network_mode": "service:vpn"}),
            json!({"volumes_from": ["db"]}),
        ] {
            let mut model = json!({"services": {"app": service.clone()}});
            let err = as_deployed(&mut model, &ids).unwrap_err();
            assert!(err.contains("service app shares"), "{err}");
        }
    }

    #[test]
    fn a_model_without_services_is_left_alone() {
        for model in [
            json!({}),
            json!({"services": null}),
            json!({"services": {"a": 1}}),
        ] {
            let mut m = model.clone();
            as_deployed(&mut m, &BTreeMap::new()).unwrap();
            assert_eq!(m, model);
        }
    }
}
