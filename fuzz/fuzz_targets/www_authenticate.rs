//! `WWW-Authenticate` parsing: any header value yields challenges (maybe none), never a panic.
#![no_main]

use dum::internals::auth;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    let challenges = auth::parse_challenges(header);
    let _ = auth::preferred(&challenges);
});
