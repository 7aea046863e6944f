//! Version order on the two halves of the input: antisymmetric, reflexive and consistent
//! with string equality, whatever the bytes.
#![no_main]

use dum::internals::compare;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut mid = text.len() / 2;
    while !text.is_char_boundary(mid) {
        mid -= 1;
    }
    let (a, b) = text.split_at(mid);
    let ab = compare(a, b);
    assert_eq!(ab, compare(b, a).reverse(), "{a:?} vs {b:?}");
    assert_eq!(ab.is_eq(), a == b, "{a:?} vs {b:?}");
    assert!(compare(a, a).is_eq(), "{a:?}");
});
