//! A configuration file drafted by `dum init`: new entries rendered as the text of a
//! new file, or spliced into an existing file's text byte for byte.
//!
//! The splice never re-serialises the file: every byte of the entries it has (their
//! order, values, spacing) and of everything else stays where it was, and the new
//! entries go after the last one, indented like it. A small scanner finds the top-level
//! `images` array; it knows JSON strings and their escapes, so a `]` or `"` inside a
//! value is never taken for the array's end. The caller validates the result.

use std::fmt;

/// One entry `dum init` proposes, in the key order it is written in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The repository (`image`).
    pub image: String,
    /// The container the entry is about (`container_name`).
    pub container_name: Option<String>,
    /// The version regex (`regex`).
    pub regex: Option<String>,
    /// The base tag, only when it is not the default (`base_tag`).
    pub base_tag: Option<String>,
}

impl Entry {
    /// The entry's keys and values (JSON-encoded), in file order.
    fn fields(&self) -> Vec<(&'static str, String)> {
        let mut fields = vec![("image", json_string(&self.image))];
        let optional = [
            ("container_name", &self.container_name),
            ("regex", &self.regex),
            ("base_tag", &self.base_tag),
        ];
        for (key, value) in optional {
            if let Some(v) = value {
                fields.push((key, json_string(v)));
            }
        }
        fields
    }

    /// On one line: `{"image": "a", "regex": "^[0-9]+$"}`.
    fn inline(&self) -> String {
        let fields: Vec<String> = self
            .fields()
            .into_iter()
            .map(|(k, v)| format!("\"{k}\": {v}"))
            .collect();
        format!("{{{}}}", fields.join(", "))
    }

    /// One key a line, the braces at `indent`, the keys one `unit` deeper.
    fn block(&self, indent: &str, unit: &str, newline: &str) -> String {
        let fields: Vec<String> = self
            .fields()
            .into_iter()
            .map(|(k, v)| format!("{indent}{unit}\"{k}\": {v}"))
            .collect();
        format!(
            "{{{newline}{}{newline}{indent}}}",
            fields.join(&format!(",{newline}"))
        )
    }
}

/// A string as a JSON literal. Encoding a `str` cannot fail; the fallback only keeps
/// the signature total.
fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| String::from("\"\""))
}

/// The text of a new configuration file holding `entries`, two spaces an indent, as
/// `config.example.json` is written.
pub fn new_file(entries: &[Entry]) -> String {
    if entries.is_empty() {
        return "{\n  \"images\": []\n}\n".to_string();
    }
    let items: Vec<String> = entries
        .iter()
        .map(|e| format!("    {}", e.block("    ", "  ", "\n")))
        .collect();
    format!("{{\n  \"images\": [\n{}\n  ]\n}}\n", items.join(",\n"))
}

/// Why a file's text could not take new entries: its layout is not a JSON object with
/// one `images` array (which a file that passed validation always is, so this means the
/// file changed or is unusual).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unusual(pub String);

impl fmt::Display for Unusual {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unusual {}

/// `text` with `entries` appended to its top-level `images` array; every other byte
/// kept. New entries follow the last entry's layout (one per line, or all on one
/// line when the array is written on one line), or, in an empty array, the indent of
/// the `images` key.
pub fn append(text: &str, entries: &[Entry]) -> Result<String, Unusual> {
    if entries.is_empty() {
        return Ok(text.to_string());
    }
    let bytes = text.as_bytes();
    let array = images_array(bytes)?;
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let key_indent = line_indent(text, array.key);
    let (at, end, insert) = match array.last {
        Some(last) => {
            let before = &text[last.after_separator..last.start];
            let element = &text[last.start..last.end];
            let insert = match before.rfind('\n') {
                // One entry a line: the new ones at the last one's indent.
                Some(nl) => {
                    let indent = &before[nl + 1..];
                    let unit = match key_indent {
                        Some(k) if indent.len() > k.len() && indent.starts_with(k) => {
                            &indent[k.len()..]
                        }
                        _ => "  ",
                    };
                    let mut out = String::new();
                    for e in entries {
                        let rendered = if element.contains('\n') {
                            e.block(indent, unit, newline)
                        } else {
                            e.inline()
                        };
                        out.push_str(&format!(",{newline}{indent}{rendered}"));
                    }
                    out
                }
                None => {
                    let mut out = String::new();
                    for e in entries {
                        out.push_str(&format!(", {}", e.inline()));
                    }
                    out
                }
            };
            (last.end, last.end, insert)
        }
        None => {
            // Only white space between the brackets, replaced: there is no entry to keep.
            let (open, close) = (array.open + 1, array.close);
            let insert = match key_indent {
                Some(k) => {
                    let unit = if k.is_empty() { "  " } else { k };
                    let indent = format!("{k}{unit}");
                    let items: Vec<String> = entries
                        .iter()
                        .map(|e| format!("{indent}{}", e.block(&indent, unit, newline)))
                        .collect();
                    format!(
                        "{newline}{}{newline}{k}",
                        items.join(&format!(",{newline}"))
                    )
                }
                None => {
                    let items: Vec<String> = entries.iter().map(Entry::inline).collect();
                    items.join(", ")
                }
            };
            (open, close, insert)
        }
    };
    let mut out = String::with_capacity(text.len() + insert.len());
    out.push_str(&text[..at]);
    out.push_str(&insert);
    out.push_str(&text[end..]);
    Ok(out)
}

/// The white space before `at` on its line when nothing else precedes it there; `None`
/// when the line has more before `at` (a file written on one line).
fn line_indent(text: &str, at: usize) -> Option<&str> {
    let start = text[..at].rfind('\n').map_or(0, |nl| nl + 1);
    let indent = &text[start..at];
    indent
        .bytes()
        .all(|b| b == b' ' || b == b'\t')
        .then_some(indent)
}

/// Where the top-level `images` array and its last element are.
#[derive(Debug)]
struct Array {
    /// The offset of the `"images"` key's opening quote.
    key: usize,
    /// The offset of `[`.
    open: usize,
    /// The offset of `]`.
    close: usize,
    /// The last element, if any.
    last: Option<Element>,
}

/// One element of the array.
#[derive(Debug, Clone, Copy)]
struct Element {
    /// Just after the `[` or `,` before it.
    after_separator: usize,
    /// Its first byte.
    start: usize,
    /// Just after its last byte.
    end: usize,
}

/// Finds the one `images` key of the top-level object and its array.
fn images_array(bytes: &[u8]) -> Result<Array, Unusual> {
    let mut scan = Scanner { bytes, pos: 0 };
    scan.ws();
    scan.expect(b'{')?;
    let mut found: Option<Array> = None;
    scan.ws();
    if scan.peek() == Some(b'}') {
        return Err(Unusual("the file has no \"images\" key".into()));
    }
    loop {
        scan.ws();
        let key_at = scan.pos;
        let key = scan.string()?;
        let key: String = std::str::from_utf8(key)
            .ok()
            .and_then(|k| serde_json::from_str(k).ok())
            .ok_or_else(|| Unusual(format!("an unreadable key at byte {key_at}")))?;
        scan.ws();
        scan.expect(b':')?;
        scan.ws();
        if key == "images" {
            if found.is_some() {
                return Err(Unusual("the file has two \"images\" keys".into()));
            }
            found = Some(scan.array(key_at)?);
        } else {
            scan.value()?;
        }
        scan.ws();
        match scan.next() {
            Some(b',') => continue,
            Some(b'}') => break,
            _ => return Err(scan.unexpected("',' or '}'")),
        }
    }
    found.ok_or_else(|| Unusual("the file has no \"images\" key".into()))
}

/// A cursor over JSON text that never panics: every read is bounds-checked.
struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn unexpected(&self, wanted: &str) -> Unusual {
        Unusual(format!("expected {wanted} near byte {}", self.pos))
    }

    fn expect(&mut self, wanted: u8) -> Result<(), Unusual> {
        match self.next() {
            Some(b) if b == wanted => Ok(()),
            _ => Err(self.unexpected(&format!("'{}'", char::from(wanted)))),
        }
    }

    /// Skips JSON white space.
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// A string, quotes included; a backslash always escapes the byte after it.
    fn string(&mut self) -> Result<&[u8], Unusual> {
        let start = self.pos;
        self.expect(b'"')?;
        loop {
            match self.next() {
                Some(b'"') => return Ok(&self.bytes[start..self.pos]),
                Some(b'\\') => {
                    self.next();
                }
                Some(_) => {}
                None => return Err(Unusual("a string is not closed".into())),
            }
        }
    }

    /// Skips one value of any kind.
    fn value(&mut self) -> Result<(), Unusual> {
        match self.peek() {
            Some(b'"') => self.string().map(|_| ()),
            Some(b'{' | b'[') => {
                // Nesting by depth alone: the file parsed as JSON, so brackets pair up.
                let mut depth = 0usize;
                loop {
                    match self.peek() {
                        Some(b'"') => {
                            self.string()?;
                            continue;
                        }
                        Some(b'{' | b'[') => depth += 1,
                        Some(b'}' | b']') => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                self.pos += 1;
                                return Ok(());
                            }
                        }
                        Some(_) => {}
                        None => return Err(Unusual("an object or array is not closed".into())),
                    }
                    self.pos += 1;
                }
            }
            Some(_) => {
                let start = self.pos;
                while matches!(self.peek(), Some(b) if !b",]} \t\r\n".contains(&b)) {
                    self.pos += 1;
                }
                if self.pos == start {
                    return Err(self.unexpected("a value"));
                }
                Ok(())
            }
            None => Err(Unusual("the text ends where a value was expected".into())),
        }
    }

    /// The array starting here, its elements skipped and the last one remembered.
    fn array(&mut self, key: usize) -> Result<Array, Unusual> {
        let open = self.pos;
        self.expect(b'[')
            .map_err(|_| Unusual("\"images\" is not an array".into()))?;
        let mut last = None;
        let mut after_separator = self.pos;
        loop {
            self.ws();
            if self.peek() == Some(b']') && last.is_none() {
                break;
            }
            let start = self.pos;
            self.value()?;
            last = Some(Element {
                after_separator,
                start,
                end: self.pos,
            });
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    after_separator = self.pos;
                }
                Some(b']') => break,
                _ => return Err(self.unexpected("',' or ']'")),
            }
        }
        let close = self.pos;
        self.pos += 1;
        Ok(Array {
            key,
            open,
            close,
            last,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn entry(image: &str, container: &str, regex: Option<&str>) -> Entry {
        Entry {
            image: image.into(),
            container_name: Some(container.into()),
            regex: regex.map(str::to_string),
            base_tag: None,
        }
    }

    #[test]
    fn a_new_file_is_written_like_the_example() {
        let cases: &[(&[Entry], &str)] = &[
            (&[], "{\n  \"images\": []\n}\n"),
            (
                &[
                    entry("r/a", "a", Some(r"^[0-9]+\.[0-9]+$")),
                    Entry {
                        base_tag: Some("stable".into()),
                        ..entry("r/b", "b", Some("^v[0-9]+$"))
                    },
                ],
                concat!(
                    "{\n  \"images\": [\n",
                    "    {\n      \"image\": \"r/a\",\n      \"container_name\": \"a\",\n",
                    "      \"regex\": \"^[0-9]+\\\\.[0-9]+$\"\n    },\n",
                    "    {\n      \"image\": \"r/b\",\n      \"container_name\": \"b\",\n",
                    "      \"regex\": \"^v[0-9]+$\",\n      \"base_tag\": \"stable\"\n    }\n",
                    "  ]\n}\n"
                ),
            ),
        ];
        for (entries, want) in cases {
            let got = new_file(entries);
            assert_eq!(got, *want);
            let parsed: serde_json::Value = serde_json::from_str(&got).unwrap();
            assert_eq!(parsed["images"].as_array().unwrap().len(), entries.len());
        }
    }

    #[test]
    fn entries_are_spliced_in_keeping_every_byte() {
        let new = [entry("r/n", "n", Some("^[0-9]+$"))];
        let two = [entry("r/n", "n", None), entry("r/m", "m", None)];
        let cases: &[(&str, &str, &[Entry], &str)] = &[
            (
                "empty array, pretty",
                "{\n  \"images\": []\n}\n",
                &new,
                "{\n  \"images\": [\n    {\n      \"image\": \"r/n\",\n      \"container_name\": \"n\",\n      \"regex\": \"^[0-9]+$\"\n    }\n  ]\n}\n",
            ),
            (
                "empty array with white space inside, two new",
                "{\n  \"images\": [ \n  ],\n  \"insecure_registries\": []\n}",
                &two,
                "{\n  \"images\": [\n    {\n      \"image\": \"r/n\",\n      \"container_name\": \"n\"\n    },\n    {\n      \"image\": \"r/m\",\n      \"container_name\": \"m\"\n    }\n  ],\n  \"insecure_registries\": []\n}",
            ),
            (
                "empty array on one line",
                "{\"images\":[]}",
                &two,
                "{\"images\":[{\"image\": \"r/n\", \"container_name\": \"n\"}, {\"image\": \"r/m\", \"container_name\": \"m\"}]}",
            ),
            (
                "one entry, trailing white space kept",
                "{\n  \"images\": [\n    {\n      \"image\": \"r/a\"\n    }\n  ]\n}\n\n  ",
                &new,
                "{\n  \"images\": [\n    {\n      \"image\": \"r/a\"\n    },\n    {\n      \"image\": \"r/n\",\n      \"container_name\": \"n\",\n      \"regex\": \"^[0-9]+$\"\n    }\n  ]\n}\n\n  ",
            ),
            (
                "tabs and CRLF",
                "{\r\n\t\"images\": [\r\n\t\t{\r\n\t\t\t\"image\": \"r/a\"\r\n\t\t}\r\n\t]\r\n}\r\n",
                &two[..1],
                "{\r\n\t\"images\": [\r\n\t\t{\r\n\t\t\t\"image\": \"r/a\"\r\n\t\t},\r\n\t\t{\r\n\t\t\t\"image\": \"r/n\",\r\n\t\t\t\"container_name\": \"n\"\r\n\t\t}\r\n\t]\r\n}\r\n",
            ),
            (
                "one entry a line, each on one line",
                "{\n  \"images\": [\n    {\"image\": \"r/a\"}\n  ]\n}\n",
                &two[..1],
                "{\n  \"images\": [\n    {\"image\": \"r/a\"},\n    {\"image\": \"r/n\", \"container_name\": \"n\"}\n  ]\n}\n",
            ),
            (
                "strings holding brackets, quotes and an images key",
                "{\"notify\": [{\"type\": \"webhook\", \"url\": \"http://h/]}\\\"images\\\": [\"}], \"images\": [{\"image\": \"r/a\", \"regex\": \"^a\\\\]\\\"$\"}] }",
                &two[..1],
                "{\"notify\": [{\"type\": \"webhook\", \"url\": \"http://h/]}\\\"images\\\": [\"}], \"images\": [{\"image\": \"r/a\", \"regex\": \"^a\\\\]\\\"$\"}, {\"image\": \"r/n\", \"container_name\": \"n\"}] }",
            ),
            (
                "images not first, nested values before it",
                "{\n  \"$schema\": \"x\",\n  \"insecure_registries\": [\"a:5000\"],\n  \"images\": [\n    {\"image\": \"r/a\", \"base_tag\": \"1\"}, {\"image\": \"r/b\"}\n  ]\n}",
                &two[..1],
                "{\n  \"$schema\": \"x\",\n  \"insecure_registries\": [\"a:5000\"],\n  \"images\": [\n    {\"image\": \"r/a\", \"base_tag\": \"1\"}, {\"image\": \"r/b\"}, {\"image\": \"r/n\", \"container_name\": \"n\"}\n  ]\n}",
            ),
            (
                "an escaped key",
                "{\"\\u0069mages\": [1]}",
                &two[..1],
                "{\"\\u0069mages\": [1, {\"image\": \"r/n\", \"container_name\": \"n\"}]}",
            ),
        ];
        for (name, text, entries, want) in cases {
            let got = append(text, entries).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(got, *want, "{name}");
            let parsed: serde_json::Value =
                serde_json::from_str(&got).unwrap_or_else(|e| panic!("{name}: {e}\n{got}"));
            let before: serde_json::Value = serde_json::from_str(text).unwrap();
            let (old, new) = (
                before["images"].as_array().unwrap(),
                parsed["images"].as_array().unwrap(),
            );
            assert_eq!(new.len(), old.len() + entries.len(), "{name}");
            assert_eq!(new[..old.len()], old[..], "{name}");
        }
    }

    #[test]
    fn the_existing_entries_are_a_byte_prefix_of_the_result() {
        let text =
            "{\n  \"images\": [\n    { \"image\" : \"r/a\" ,\"auto_update\":true }\n  ]\n}\n";
        let got = append(text, &[entry("r/n", "n", None)]).unwrap();
        let cut = text.find("}\n  ]").unwrap() + 1;
        assert!(got.starts_with(&text[..cut]), "{got}");
        assert!(got.ends_with(&text[cut..]), "{got}");
    }

    #[test]
    fn unusual_layouts_are_refused() {
        let cases: &[&str] = &[
            "",
            "[]",
            "{}",
            "{\"insecure_registries\": []}",
            "{\"images\": {}}",
            "{\"images\": [], \"images\": []}",
            "{\"images\": [",
            "{\"images\": [{\"image\": \"r/a]}",
            "{\"images\" [] }",
        ];
        for text in cases {
            assert!(
                append(text, &[entry("r/n", "n", None)]).is_err(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn nothing_to_add_changes_nothing() {
        assert_eq!(append("anything", &[]).unwrap(), "anything");
    }
}
