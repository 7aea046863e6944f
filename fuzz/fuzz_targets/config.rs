//! Config parsing and validation: any text yields a config or a list of problems, never a
//! panic, and every problem names a JSON pointer. Accepted notification targets are
//! labelled as messages label them (host of an inline URL, else where the URL comes from).
//! Seeds: `fuzz/seeds/config/` (multi-byte characters where byte offsets fall mid-character).
#![no_main]

use dum::internals::{Secret, host_of};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match dum::internals::parse_config(text, Path::new("fuzz.json")) {
        Ok(config) => {
            for image in &config.images {
                assert!(!image.image.is_empty(), "accepted an empty image: {text:?}");
                assert!(image.keep_versions >= 1, "keep_versions < 1 accepted: {text:?}");
            }
            for target in &config.notify {
                let url = match &target.url {
                    Some(Secret::Inline(url)) => Some(url.as_str()),
                    _ => None,
                };
                if let Some(url) = url {
                    assert!(url.contains(host_of(url)), "host outside the URL: {text:?}");
                }
                let _ = target.label(url);
            }
        }
        Err(e) => {
            assert!(!e.problems.is_empty(), "error without problems: {text:?}");
            let _ = e.to_string();
        }
    }
});
