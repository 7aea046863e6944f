//! `dum check TARGET...`: a configured image, a configured container_name, or the name
//! of a container running a configured image; anything else is a usage error.

use crate::harness::{Container, Dum, Image, registry};
use crate::report::{Report, config, entry};
use serde_json::json;

#[test]
fn targets_select_images_and_containers() {
    let reg = registry::anon();
    let named = Image::new(reg, "named");
    let n1 = named.clone().version("v1.0.0").build_and_push();
    let shared = Image::new(reg, "shared");
    let s1 = shared.clone().version("v1.0.0").build_and_push();
    let s2 = shared.clone().version("v1.1.0").build_and_push();
    let named_c = Container::run("named", &n1.reference, &[]);
    let old_c = Container::run("shared-old", &s1.reference, &[]);
    let new_c = Container::run("shared-new", &s2.reference, &[]);
    let dum = Dum::new().config_json(config(&[
        entry(&named.name(), json!({"container_name": named_c.name()})),
        entry(&shared.name(), json!({})),
    ]));

    // Everything.
    let all = Report::run(&dum, &[], 100);
    all.assert_summary(3, 2, 1, 0, 0);

    // A configured container_name.
    let r = Report::run(&dum, &[named_c.name()], 0);
    r.assert_fields(
        r.only(),
        json!({"image": named.name(), "container": named_c.name(), "status": "up_to_date"}),
    );

    // A configured image: all its containers.
    let r = Report::run(&dum, &[&shared.name()], 100);
    r.assert_summary(2, 1, 1, 0, 0);
    r.assert_fields(
        r.container(old_c.name()),
        json!({"status": "update_available"}),
    );

    // The name of a container running a configured image: just that container.
    let r = Report::run(&dum, &[new_c.name()], 0);
    r.assert_fields(
        r.only(),
        json!({"image": shared.name(), "container": new_c.name(), "current_version": "v1.1.0", "status": "up_to_date"}),
    );
    let r = Report::run(&dum, &[old_c.name(), named_c.name()], 100);
    r.assert_summary(2, 1, 1, 0, 0);
    r.assert_fields(
        r.container(old_c.name()),
        json!({"current_version": "v1.0.0", "latest_version": "v1.1.0"}),
    );

    // Anything else: usage error, nothing checked, no state written.
    let fresh = Dum::new().config_json(config(&[entry(&shared.name(), json!({}))]));
    let out = fresh.run(&["check", "no-such-container-or-image"]);
    out.assert_code(2);
    out.assert_stderr_contains("no-such-container-or-image");
    assert_eq!(out.stdout, "", "{out:?}");
    assert!(fresh.state().is_none(), "state written on a usage error");
}
