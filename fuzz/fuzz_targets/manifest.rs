//! Registry answers: tag lists, manifest indexes and `Link` headers from a hostile registry
//! never panic, and a followed link never leaves the registry's origin.
#![no_main]

use dum::internals::manifest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = manifest::parse_tag_list(data);
    let _ = manifest::index_entries(data);
    let _ = manifest::html_hint(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(target) = manifest::next_link(text) {
        let base = "https://reg.example:5000";
        if let Ok(url) = manifest::resolve_link(base, &target) {
            assert!(
                url.starts_with(&format!("{base}/")),
                "link {target:?} resolved off-origin to {url:?}"
            );
        }
    }
    let _ = manifest::checked_digest(text, "/v2/x/manifests/y");
});
