//! A compose env file (`.env`, `--env-file`): where a variable's value is written, so
//! dum changes that value's bytes and nothing else. Pure.

use std::ops::Range;

/// The byte range of the value of `name` in `text` (`KEY=VALUE`, optionally `export
/// KEY=VALUE`, the value unquoted, 'single' or "double" quoted; `#` comments). The last
/// assignment wins, as in compose. `Ok(None)`: not assigned; `Err`: assigned in a way
/// dum cannot change as one value.
pub fn locate(text: &str, name: &str) -> Result<Option<Range<usize>>, String> {
    let mut found = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let content = line.trim_end_matches(['\n', '\r']);
        let body = content.trim_start();
        let lead = content.len() - body.len();
        let (body, lead) = match body.strip_prefix("export ") {
            Some(rest) => {
                let trimmed = rest.trim_start();
                (trimmed, lead + (body.len() - trimmed.len()))
            }
            None => (body, lead),
        };
        if body.starts_with('#') {
            continue;
        }
        let Some((key, rest)) = body.split_once('=') else {
            continue;
        };
        if key.trim_end() != name {
            continue;
        }
        let value_start = start + lead + key.len() + 1;
        let value = rest.trim_start();
        let value_start = value_start + (rest.len() - value.len());
        found = Some(value_span(value, value_start).map_err(|e| format!("{name}: {e}")));
    }
    found.transpose()
}

/// The span of the value text `value` (the rest of the line after `=` and blanks),
/// starting at byte `at`.
fn value_span(value: &str, at: usize) -> Result<Range<usize>, String> {
    for quote in ['"', '\''] {
        if let Some(rest) = value.strip_prefix(quote) {
            let Some(end) = rest.find(quote) else {
                return Err("its quoted value goes on over several lines".into());
            };
            let inner = &rest[..end];
            if quote == '"' && inner.contains(['\\', '$']) {
                return Err("its value holds escapes or variables".into());
            }
            return Ok(at + 1..at + 1 + end);
        }
    }
    // Unquoted: a comment starts at ` #`.
    let end = value.find(" #").unwrap_or(value.len());
    let text = value[..end].trim_end();
    if text.contains('$') {
        return Err("its value refers to other variables".into());
    }
    Ok(at..at + text.len())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn values_are_found_to_the_byte() {
        let cases: &[(&str, &str, Result<Option<&str>, &str>)] = &[
            ("plain", "TAG=1.0.0\n", Ok(Some("1.0.0"))),
            ("export", "export TAG=1.0.0\n", Ok(Some("1.0.0"))),
            ("double", "TAG=\"1.0.0\"\n", Ok(Some("1.0.0"))),
            ("single", "TAG='1.0.0'\n", Ok(Some("1.0.0"))),
            ("comment", "TAG=1.0.0 # pinned\n", Ok(Some("1.0.0"))),
            ("spaces", "  TAG = 1.0.0  \n", Ok(Some("1.0.0"))),
            ("last wins", "TAG=1.0\nOTHER=x\nTAG=2.0\n", Ok(Some("2.0"))),
            ("crlf", "A=1\r\nTAG=3.0\r\n", Ok(Some("3.0"))),
            ("no newline at end", "A=1\nTAG=4.0", Ok(Some("4.0"))),
            ("commented out", "# TAG=1.0\n", Ok(None)),
            ("other names", "TAGS=1\nMY_TAG=2\n", Ok(None)),
            ("absent", "", Ok(None)),
            (
                "variable",
                "TAG=${BASE}\n",
                Err("its value refers to other variables"),
            ),
            (
                "escaped",
                "TAG=\"1.\\x30\"\n",
                Err("its value holds escapes"),
            ),
        ];
        for (case, text, want) in cases {
            let got = locate(text, "TAG").map(|r| r.map(|r| &text[r]));
            match (got, want) {
                (Ok(g), Ok(w)) => assert_eq!(g, *w, "{case}"),
                (Err(e), Err(w)) => assert!(e.contains(w), "{case}: {e}"),
                (g, w) => panic!("{case}: got {g:?}, want {w:?}"),
            }
        }
    }
}
