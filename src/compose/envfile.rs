//! A compose env file (`.env`, `--env-file`): where a variable's value is written, so
//! dum changes that value's bytes and nothing else. Pure. The file is read by the
//! rules of compose's own reader (compose-go's `dotenv` parser), quirks included, so
//! dum edits the assignment compose uses.

use std::ops::Range;

/// The byte range of the value of `name` in `text`, inside its quotes if it has some.
///
/// Read as compose reads it: statements `KEY=VALUE`, `KEY: VALUE` or `export KEY=VALUE`,
/// blanks around them; `#` comments at a statement's start or, in an unquoted value,
/// after a space; 'single' (literal) or "double" (escapes, `$`) quoted values, which
/// may run over lines; the last assignment wins. `Ok(None)`: not assigned; `Err`: the
/// file is not one compose can read, or the value is written in a way dum cannot
/// change byte for byte (escapes, several lines, other variables, no value).
pub fn locate(text: &str, name: &str) -> Result<Option<Range<usize>>, String> {
    let mut found: Option<Result<Range<usize>, String>> = None;
    let mut pos = if text.starts_with('\u{feff}') { 3 } else { 0 };
    // Each statement starts past blank lines, indentation and comment lines.
    while let Some(start) = text[pos..].find(|c: char| !c.is_whitespace()) {
        pos += start;
        if text[pos..].starts_with('#') {
            match text[pos..].find('\n') {
                Some(end) => {
                    pos += end;
                    continue;
                }
                None => break,
            }
        }
        let line = line_of(text, pos);
        // `export` and the blanks after it (which compose's `\s` allows to be a line
        // break, which then ends an empty statement).
        if let Some(rest) = text[pos..].strip_prefix("export")
            && rest.starts_with([' ', '\t', '\n', '\r', '\x0c'])
        {
            let key = rest.trim_start_matches(is_space);
            pos = text.len() - key.len();
        }
        let (key, after, no_value) = key_name(&text[pos..])
            .map_err(|c| format!("line {line}: unexpected character {c:?} in a variable name"))?;
        let key = key.trim_end();
        if key.contains(' ') {
            return Err(format!(
                "line {line}: a variable name cannot contain a space"
            ));
        }
        pos += after;
        if no_value {
            // `KEY` alone: compose takes KEY from its own environment if set there.
            if key == name {
                found = Some(Err(format!(
                    "line {line} takes its value from the environment compose runs in"
                )));
            }
            continue;
        }
        let value = text[pos..].trim_start_matches(is_space);
        pos = text.len() - value.len();
        let (span, next) = value_span(text, pos).map_err(|e| format!("line {line}: {e}"))?;
        if key == name {
            found = Some(span.map_err(|e| format!("line {line}: {e}")));
        }
        pos = next;
    }
    found.transpose()
}

/// A blank but not a line break, as compose's reader counts them.
fn is_space(c: char) -> bool {
    matches!(c, '\t' | '\x0b' | '\x0c' | '\r' | ' ' | '\u{85}' | '\u{a0}')
}

/// The line number of byte `pos`.
fn line_of(text: &str, pos: usize) -> usize {
    text[..pos].matches('\n').count() + 1
}

/// The variable name `src` starts with (blanks after it included), the length of it
/// with its `=`, `:` or line break, and whether it has no value (a line break ended
/// it). Text that runs to the end without any is, as compose has it, an empty name
/// whose value is that text. Else the character that cannot be in a name.
fn key_name(src: &str) -> Result<(&str, usize, bool), char> {
    for (i, c) in src.char_indices() {
        match c {
            '=' | ':' | '\n' => return Ok((&src[..i], i + 1, c == '\n')),
            '_' | '.' | '-' | '[' | ']' => {}
            c if is_space(c) || c.is_alphanumeric() => {}
            c => return Err(c),
        }
    }
    Ok(("", 0, false))
}

/// The value that starts at byte `at` of `text`: its span (or why dum cannot edit it)
/// and where the next statement may start. An error when compose cannot read it.
fn value_span(text: &str, at: usize) -> Result<(Result<Range<usize>, String>, usize), String> {
    let src = &text[at..];
    let Some(quote) = src.chars().next().filter(|c| matches!(c, '"' | '\'')) else {
        // Unquoted: to the end of the line, less a comment (after a space) and blanks.
        let line_end = src.find('\n').unwrap_or(src.len());
        let line = &src[..line_end];
        let value = line.split(" #").next().unwrap_or("").trim_end();
        let next = (at + line_end + 1).min(text.len());
        if value.contains('$') {
            return Ok((Err("its value refers to other variables".into()), next));
        }
        return Ok((Ok(at..at + value.len()), next));
    };
    // Quoted: to the next quote that no backslash escapes, over line breaks; what
    // follows it on the line is the next statement (compose does not skip it).
    let mut escaped = false;
    let mut end = None;
    for (i, c) in src.char_indices().skip(1) {
        if c == quote && !escaped {
            end = Some(i);
            break;
        }
        escaped = !escaped && c == '\\';
    }
    let Some(end) = end else {
        let first_line = src.lines().next().unwrap_or("");
        return Err(format!("unterminated quoted value {first_line}"));
    };
    let inner = &src[1..end];
    let span = if inner.contains('\n') {
        Err("its quoted value runs over several lines".into())
    } else if inner.contains('\\') {
        Err("its quoted value holds escapes (\\)".into())
    } else if quote == '"' && inner.contains('$') {
        Err("its value refers to other variables".into())
    } else {
        Ok(at + 1..at + end)
    };
    Ok((span, at + end + 1))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// Each row: the file, and what [`locate`] finds for `TAG`: `Ok(Some(bytes of the
    /// span))`, `Ok(None)`, or `Err(start of the reason)`. A found span is then
    /// replaced: only its bytes change, and the new file gives `TAG` the new value.
    #[test]
    fn values_are_found_to_the_byte() {
        let cases: &[(&str, &str, Result<Option<&str>, &str>)] = &[
            ("plain", "TAG=1.0.0\n", Ok(Some("1.0.0"))),
            ("export", "export TAG=1.0.0\n", Ok(Some("1.0.0"))),
            ("export, blanks", "export \t TAG=1.0.0\n", Ok(Some("1.0.0"))),
            ("export as a name", "export=1\nTAG=2\n", Ok(Some("2"))),
            ("exportTAG is another name", "exportTAG=1\n", Ok(None)),
            ("colon", "TAG: 1.0.0\n", Ok(Some("1.0.0"))),
            ("colon, no blank", "TAG:1.0.0\n", Ok(Some("1.0.0"))),
            ("export, colon", "export TAG: 1.0.0\n", Ok(Some("1.0.0"))),
            ("equals in the value", "TAG: a=b\n", Ok(Some("a=b"))),
            ("colon in the value", "TAG=a:b\n", Ok(Some("a:b"))),
            ("double", "TAG=\"1.0.0\"\n", Ok(Some("1.0.0"))),
            ("single", "TAG='1.0.0'\n", Ok(Some("1.0.0"))),
            ("empty", "TAG=\nA=1\n", Ok(Some(""))),
            ("empty at the end", "TAG=", Ok(Some(""))),
            ("empty double", "TAG=\"\"\n", Ok(Some(""))),
            ("comment", "TAG=1.0.0 # pinned\n", Ok(Some("1.0.0"))),
            ("hash without a space", "TAG=1.0#2\n", Ok(Some("1.0#2"))),
            (
                "hash after a tab is the value's",
                "TAG=1.0\t# x\n",
                Ok(Some("1.0\t# x")),
            ),
            ("hash right after =", "TAG=#1\n", Ok(Some("#1"))),
            ("hash after = and a blank", "TAG= # x\n", Ok(Some("# x"))),
            (
                "comment after a quote",
                "TAG='1.0' # pinned\n",
                Ok(Some("1.0")),
            ),
            ("hash in quotes", "TAG=\"1.0 #2\"\n", Ok(Some("1.0 #2"))),
            ("single quoted $ is literal", "TAG='v$1'\n", Ok(Some("v$1"))),
            ("spaces", "  TAG = 1.0.0  \n", Ok(Some("1.0.0"))),
            ("tabs", "\tTAG\t=\t1.0.0\t\n", Ok(Some("1.0.0"))),
            ("blank lines", "\n\n  \nTAG=1\n\n", Ok(Some("1"))),
            ("indented comment", "  # TAG=0\nTAG=1\n", Ok(Some("1"))),
            ("last wins", "TAG=1.0\nOTHER=x\nTAG=2.0\n", Ok(Some("2.0"))),
            (
                "last wins over forms",
                "export TAG='1'\nTAG: \"2\"\n",
                Ok(Some("2")),
            ),
            (
                "a later good line wins over a bad one",
                "TAG=${X}\nTAG=2\n",
                Ok(Some("2")),
            ),
            (
                "a later bad line wins over a good one",
                "TAG=2\nTAG=${X}\n",
                Err("line 2: its value refers to other variables"),
            ),
            ("crlf", "A=1\r\nTAG=3.0\r\n", Ok(Some("3.0"))),
            ("crlf, quoted", "A=1\r\nTAG=\"3.0\"\r\n", Ok(Some("3.0"))),
            ("bom", "\u{feff}TAG=1\n", Ok(Some("1"))),
            (
                "non-ascii before",
                "NOTE=café ☃\nTAG=1.1\n",
                Ok(Some("1.1")),
            ),
            ("no newline at end", "A=1\nTAG=4.0", Ok(Some("4.0"))),
            (
                "multi-line value of another",
                "A=\"x\nTAG=no\"\nTAG=5\n",
                Ok(Some("5")),
            ),
            (
                "only the multi-line value of another",
                "A='x\nTAG=no'\n",
                Ok(None),
            ),
            (
                "statement after a quote on the line",
                "A=\"1\" TAG=6\n",
                Ok(Some("6")),
            ),
            (
                "names with dots and brackets",
                "A.B[0]-c=1\nTAG=7\n",
                Ok(Some("7")),
            ),
            ("commented out", "# TAG=1.0\n", Ok(None)),
            ("other names", "TAGS=1\nMY_TAG=2\ntag=3\n", Ok(None)),
            ("absent", "", Ok(None)),
            (
                "no value: from the environment",
                "TAG\n",
                Err("line 1 takes its value from the environment"),
            ),
            (
                "no value after a value",
                "TAG=1\nTAG\n",
                Err("line 2 takes its value from the environment"),
            ),
            ("a value after no value", "TAG\nTAG=1\n", Ok(Some("1"))),
            (
                "variable",
                "TAG=${BASE}\n",
                Err("line 1: its value refers to other variables"),
            ),
            (
                "bare variable",
                "TAG=v$BASE\n",
                Err("line 1: its value refers to other variables"),
            ),
            (
                "variable, double quoted",
                "TAG=\"${BASE}\"\n",
                Err("line 1: its value refers to other variables"),
            ),
            (
                "escaped",
                "TAG=\"1.\\x30\"\n",
                Err("line 1: its quoted value holds escapes"),
            ),
            (
                "escaped quote",
                "TAG=\"1\\\"0\"\n",
                Err("line 1: its quoted value holds escapes"),
            ),
            (
                "single quoted, escaped quote",
                "TAG='1\\'0'\n",
                Err("line 1: its quoted value holds escapes"),
            ),
            (
                "multi-line double",
                "TAG=\"1.0\n2.0\"\n",
                Err("line 1: its quoted value runs over several lines"),
            ),
            (
                "multi-line single",
                "A=1\nTAG='1.0\n'\n",
                Err("line 2: its quoted value runs over several lines"),
            ),
            (
                "unterminated",
                "TAG=\"1.0\nA=1\n",
                Err("line 1: unterminated quoted value \"1.0"),
            ),
            (
                "unterminated elsewhere: compose cannot read the file",
                "TAG=1\nA='x\n",
                Err("line 2: unterminated quoted value 'x"),
            ),
            (
                "bad name",
                "TAG=1\nA/B=2\n",
                Err("line 2: unexpected character '/' in a variable name"),
            ),
            (
                "space in a name",
                "MY TAG=2\n",
                Err("line 1: a variable name cannot contain a space"),
            ),
        ];
        for (case, text, want) in cases {
            let got = locate(text, "TAG");
            match (&got, want) {
                (Ok(g), Ok(w)) => assert_eq!(g.clone().map(|r| &text[r]), *w, "{case}"),
                (Err(e), Err(w)) => {
                    assert!(e.starts_with(w), "{case}: {e}");
                    assert!(!e.contains('\n'), "{case}: {e}");
                }
                (g, w) => panic!("{case}: got {g:?}, want {w:?}"),
            }
            if let Ok(Some(span)) = got {
                let new = crate::compose::file::replace(text, span.clone(), "9.9-z");
                assert_eq!(new[..span.start], text[..span.start], "{case}");
                assert_eq!(new[span.start + 5..], text[span.end..], "{case}");
                let again = locate(&new, "TAG").unwrap().unwrap();
                assert_eq!(&new[again], "9.9-z", "{case}");
            }
        }
    }
}
