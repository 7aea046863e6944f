//! Image reference parsing: never a panic; an accepted reference prints to a name that
//! parses again to the same repository and registry.
#![no_main]

use dum::internals::Reference;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(reference) = Reference::parse(text) else {
        return;
    };
    let _ = reference.tag_or_latest();
    let _ = reference.api_host();
    let _ = reference.credential_keys();
    let _ = reference.familiar_name();
    let _ = reference.with_tag("1.0");
    let name = reference.name();
    let again = Reference::parse(&name)
        .unwrap_or_else(|e| panic!("{text:?} parsed, its name {name:?} does not: {e}"));
    assert_eq!(again.repository, reference.repository, "{text:?}");
    assert_eq!(again.registry, reference.registry, "{text:?}");
});
