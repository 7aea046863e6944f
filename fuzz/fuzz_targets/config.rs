//! Config parsing and validation: any text yields a config or a list of problems, never a
//! panic, and every problem names a JSON pointer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match dum::config::parse(text, Path::new("fuzz.json")) {
        Ok(config) => {
            for image in &config.images {
                assert!(!image.image.is_empty(), "accepted an empty image: {text:?}");
                assert!(image.keep_versions >= 1, "keep_versions < 1 accepted: {text:?}");
            }
        }
        Err(e) => {
            assert!(!e.problems.is_empty(), "error without problems: {text:?}");
            let _ = e.to_string();
        }
    }
});
