//! Where a compose file writes a service's image, down to the bytes of its tag, so
//! dum changes those bytes and nothing else: quotes, comments, order, indentation and
//! line endings stay as the user wrote them. Pure: text in, byte ranges out. The YAML
//! is read by a real parser (its events carry source spans); nothing is re-serialized.

use std::ops::Range;

use saphyr_parser::{Event, Parser, ScalarStyle};

/// Where a service's image is written in one compose file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSite {
    /// The file does not set `services.<name>.image` (an earlier file may).
    Absent,
    /// The tag is written literally: `tag` is its byte range in the file.
    Literal {
        /// The image reference as written.
        value: String,
        /// The bytes of the tag (`1.0.0` of `image: "reg/app:1.0.0"`).
        tag: Range<usize>,
    },
    /// The tag is exactly one variable (`${VAR}`, `${VAR:-default}`, `${VAR-default}`,
    /// `$VAR`): its value is set in an env file.
    Variable {
        /// The image reference as written.
        value: String,
        /// The variable.
        name: String,
    },
    /// Set, but not as one tag dum can change; `reason` says why.
    Uneditable {
        /// The image reference as written (empty when it is not a scalar).
        value: String,
        /// Why, in a few words.
        reason: String,
    },
}

/// One container level of the event stream, and where it is.
#[derive(Debug)]
enum Frame {
    /// A mapping: `key` is `None` while a key is expected, else the key whose value
    /// comes (`Some(None)`: a key that is not a plain string).
    Map { key: Option<Option<String>> },
    /// A sequence.
    Seq,
}

/// Finds `services.<service>.image` in `text`. An error when the text is not YAML.
pub fn locate(text: &str, service: &str) -> Result<ImageSite, String> {
    let chars = CharOffsets::new(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut documents = 0;
    let mut found: Option<ImageSite> = None;
    // Whether the service's mapping exists and merges another one in (`<<: *x`).
    let mut service_seen = false;
    let mut merged = false;
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| format!("not valid YAML: {e}"))?;
        let path = value_path(&stack);
        let is_key = matches!(stack.last(), Some(Frame::Map { key: None }));
        let at = |depth: usize| path.len() == depth && !is_key;
        let in_service =
            |p: &[Option<&str>]| p.len() >= 2 && p[0] == Some("services") && p[1] == Some(service);
        match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Ok(ImageSite::Uneditable {
                        value: String::new(),
                        reason: "the file holds several YAML documents".into(),
                    });
                }
            }
            Event::MappingStart(..) => {
                if is_key {
                    set_key(&mut stack, None);
                } else if at(2) && in_service(&path) {
                    service_seen = true;
                }
                stack.push(Frame::Map { key: None });
            }
            Event::SequenceStart(..) => {
                if is_key {
                    set_key(&mut stack, None);
                }
                stack.push(Frame::Seq);
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
                value_done(&mut stack);
            }
            Event::Scalar(value, style, _, _) => {
                if is_key {
                    if path.len() == 2 && in_service(&path) && value == "<<" {
                        merged = true;
                    }
                    set_key(&mut stack, Some(value.to_string()));
                    continue;
                }
                if at(3) && in_service(&path) && path[2] == Some("image") {
                    let start = chars.byte(span.start.index());
                    let end = chars.byte(span.end.index());
                    found = Some(site(text, &value, style, start..end));
                }
                value_done(&mut stack);
            }
            Event::Alias(_) => {
                if is_key {
                    set_key(&mut stack, None);
                    continue;
                }
                if at(3) && in_service(&path) && path[2] == Some("image") {
                    found = Some(ImageSite::Uneditable {
                        value: String::new(),
                        reason: "the image is an alias (*anchor)".into(),
                    });
                } else if at(2) && in_service(&path) {
                    service_seen = true;
                    merged = true;
                }
                value_done(&mut stack);
            }
            _ => {}
        }
    }
    Ok(match found {
        Some(site) => site,
        None if service_seen && merged => ImageSite::Uneditable {
            value: String::new(),
            reason: "the service takes its keys from a merge key (<<)".into(),
        },
        None => ImageSite::Absent,
    })
}

/// The keys leading to the next value: one per mapping on the stack (`None` inside a
/// sequence or under a key that is not a string).
fn value_path(stack: &[Frame]) -> Vec<Option<&str>> {
    stack
        .iter()
        .filter_map(|f| match f {
            Frame::Map { key: Some(k) } => Some(k.as_deref()),
            Frame::Map { key: None } => None,
            Frame::Seq => Some(None),
        })
        .collect()
}

fn set_key(stack: &mut [Frame], key: Option<String>) {
    if let Some(Frame::Map { key: k }) = stack.last_mut() {
        *k = Some(key);
    }
}

/// A value is complete: its mapping expects the next key.
fn value_done(stack: &mut [Frame]) {
    if let Some(Frame::Map { key }) = stack.last_mut() {
        *key = None;
    }
}

/// The site of an image scalar whose source is `text[span]`.
fn site(text: &str, value: &str, style: ScalarStyle, span: Range<usize>) -> ImageSite {
    let uneditable = |reason: &str| ImageSite::Uneditable {
        value: value.to_string(),
        reason: reason.to_string(),
    };
    let raw = text.get(span.clone()).unwrap_or("");
    // The source of the scalar's content, without its quotes.
    let (inner, offset) = match style {
        ScalarStyle::Plain => (raw, 0),
        ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => {
            let quote = if style == ScalarStyle::SingleQuoted {
                '\''
            } else {
                '"'
            };
            // The parser's span of a quoted scalar may run on over trailing blanks
            // and a comment: the content is what follows the opening quote, and it
            // must be the value, closed by the quote.
            let inner = raw
                .strip_prefix(quote)
                .and_then(|r| r.get(..value.len()))
                .filter(|inner| raw[1 + inner.len()..].starts_with(quote));
            match inner {
                Some(inner) => (inner, 1),
                None => return uneditable("it is written with escapes or over several lines"),
            }
        }
        _ => return uneditable("it is a block scalar (| or >)"),
    };
    // Escapes, folded lines: the source is not the value byte for byte.
    if inner != value || (style == ScalarStyle::DoubleQuoted && inner.contains('\\')) {
        return uneditable("it is written with escapes or over several lines");
    }
    if value.contains('@') {
        return uneditable("it is pinned by digest");
    }
    let Some(colon) = tag_colon(value) else {
        return uneditable("it has no tag");
    };
    let tag = &value[colon + 1..];
    if tag.contains('$') {
        return match whole_variable(tag) {
            Some(name) => ImageSite::Variable {
                value: value.to_string(),
                name,
            },
            None => uneditable("its tag is made of several parts (variables and text)"),
        };
    }
    if tag.is_empty() {
        return uneditable("its tag is empty");
    }
    let start = span.start + offset + colon + 1;
    ImageSite::Literal {
        value: value.to_string(),
        tag: start..start + tag.len(),
    }
}

/// The byte index of the `:` that starts the tag: the last one after the last `/`,
/// outside `${…}` (whose default may hold both).
fn tag_colon(value: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut colon = None;
    for (i, c) in value.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            '/' if depth == 0 => colon = None,
            ':' if depth == 0 => colon = Some(i),
            _ => {}
        }
    }
    colon
}

/// The variable when `tag` is exactly `${VAR}`, `${VAR:-default}`, `${VAR-default}` or
/// `$VAR`.
fn whole_variable(tag: &str) -> Option<String> {
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !n.starts_with(|c: char| c.is_ascii_digit())
    };
    if let Some(body) = tag.strip_prefix("${").and_then(|t| t.strip_suffix('}')) {
        let name = body
            .split_once(":-")
            .or_else(|| body.split_once('-'))
            .map_or(body, |(n, _)| n);
        let default = &body[name.len()..];
        // A default that holds another variable is more than one variable.
        if name_ok(name) && !default.contains(['$', '{', '}']) {
            return Some(name.to_string());
        }
        return None;
    }
    let name = tag.strip_prefix('$')?;
    name_ok(name).then(|| name.to_string())
}

/// Byte offsets of character indices (the parser counts characters).
struct CharOffsets {
    starts: Vec<usize>,
    len: usize,
}

impl CharOffsets {
    fn new(text: &str) -> CharOffsets {
        CharOffsets {
            starts: text.char_indices().map(|(b, _)| b).collect(),
            len: text.len(),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        self.starts.get(char_index).copied().unwrap_or(self.len)
    }
}

/// `text` with `span` replaced by `new`.
pub fn replace(text: &str, span: Range<usize>, new: &str) -> String {
    let mut out = String::with_capacity(text.len() + new.len());
    out.push_str(&text[..span.start]);
    out.push_str(new);
    out.push_str(&text[span.end..]);
    out
}

/// A unified diff of `old` and `new`, which differ in one place: the changed lines with
/// `---`/`+++` headers naming `path`.
pub fn diff(path: &str, old: &str, new: &str) -> String {
    let old_lines: Vec<&str> = old.split_inclusive('\n').collect();
    let new_lines: Vec<&str> = new.split_inclusive('\n').collect();
    let head = old_lines
        .iter()
        .zip(&new_lines)
        .take_while(|(a, b)| a == b)
        .count();
    let tail = old_lines[head..]
        .iter()
        .rev()
        .zip(new_lines[head..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let removed = &old_lines[head..old_lines.len() - tail];
    let added = &new_lines[head..new_lines.len() - tail];
    let mut out = format!(
        "--- {path}\n+++ {path}\n@@ -{},{} +{},{} @@\n",
        head + 1,
        removed.len(),
        head + 1,
        added.len()
    );
    for (sign, lines) in [('-', removed), ('+', added)] {
        for l in lines {
            out.push(sign);
            out.push_str(l.trim_end_matches(['\n', '\r']));
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// What [`locate`] finds for `app`, as a short string: `tag:<the tag's bytes>`,
    /// `var:<name>`, `absent`, `no:<reason start>`.
    fn found(text: &str) -> String {
        match locate(text, "app").unwrap() {
            ImageSite::Absent => "absent".into(),
            ImageSite::Literal { tag, .. } => format!("tag:{}", &text[tag]),
            ImageSite::Variable { name, .. } => format!("var:{name}"),
            ImageSite::Uneditable { reason, .. } => format!("no:{reason}"),
        }
    }

    #[test]
    fn image_tags_are_found_to_the_byte() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "plain",
                "services:\n  app:\n    image: reg/app:1.0.0\n",
                "tag:1.0.0",
            ),
            (
                "single",
                "services:\n  app:\n    image: 'reg/app:1.0.0'\n",
                "tag:1.0.0",
            ),
            (
                "double",
                "services:\n  app:\n    image: \"reg/app:1.0.0\"\n",
                "tag:1.0.0",
            ),
            (
                "comment after",
                "services:\n  app:\n    image: reg/app:1.0.0 # pinned\n",
                "tag:1.0.0",
            ),
            (
                "quoted, comment after",
                "services:\n  app:\n    image: \"reg/app:1.0.0\"   # pinned\n    x: 1\n",
                "tag:1.0.0",
            ),
            (
                "crlf",
                "services:\r\n  app:\r\n    image: reg/app:1.0\r\n",
                "tag:1.0",
            ),
            (
                "bom",
                "\u{feff}services:\n  app:\n    image: reg/app:1.0\n",
                "tag:1.0",
            ),
            (
                "non-ascii before",
                "# café — ünïcode\nx-note: \"naïve ☃\"\nservices:\n  app:\n    image: reg/app:2.1\n",
                "tag:2.1",
            ),
            (
                "flow",
                "services: {app: {image: \"reg/app:1.0\"}}\n",
                "tag:1.0",
            ),
            (
                "registry port",
                "services:\n  app:\n    image: reg.lan:5000/team/app:v1.2-ls3\n",
                "tag:v1.2-ls3",
            ),
            (
                "other services and x- fields",
                "x-img: &img\n  image: reg/app:9.9\nservices:\n  db:\n    image: reg/db:1.0\n  app:\n    build: {context: .}\n    image: reg/app:1.0\n  web:\n    image: reg/app:3.0\n",
                "tag:1.0",
            ),
            (
                "image key order",
                "services:\n  app:\n    environment:\n      image: no\n    labels: [a, b]\n    image: reg/app:4.0\n",
                "tag:4.0",
            ),
            (
                "braced var",
                "services:\n  app:\n    image: reg/app:${TAG}\n",
                "var:TAG",
            ),
            (
                "default var",
                "services:\n  app:\n    image: reg/app:${TAG:-1.0}\n",
                "var:TAG",
            ),
            (
                "dash var",
                "services:\n  app:\n    image: reg/app:${TAG-1.0}\n",
                "var:TAG",
            ),
            (
                "bare var",
                "services:\n  app:\n    image: reg/app:$TAG\n",
                "var:TAG",
            ),
            (
                "var registry, literal tag",
                "services:\n  app:\n    image: ${REG}/app:1.0\n",
                "tag:1.0",
            ),
            (
                "two vars",
                "services:\n  app:\n    image: reg/app:v${MAJOR}.${MINOR}\n",
                "no:its tag is made of several parts",
            ),
            (
                "no tag",
                "services:\n  app:\n    image: reg.lan:5000/app\n",
                "no:it has no tag",
            ),
            (
                "digest",
                "services:\n  app:\n    image: reg/app:1.0@sha256:abc\n",
                "no:it is pinned by digest",
            ),
            (
                "escapes",
                "services:\n  app:\n    image: \"reg/app:1.\\x30\"\n",
                "no:it is written with escapes",
            ),
            (
                "alias",
                "x-i: &i reg/app:1.0\nservices:\n  app:\n    image: *i\n",
                "no:the image is an alias",
            ),
            (
                "merge key",
                "x-base: &base\n  image: reg/app:1.0\nservices:\n  app:\n    <<: *base\n",
                "no:the service takes its keys from a merge key",
            ),
            (
                "merge key, own image",
                "x-base: &base\n  restart: always\nservices:\n  app:\n    <<: *base\n    image: reg/app:1.0\n",
                "tag:1.0",
            ),
            (
                "absent service",
                "services:\n  db:\n    image: reg/db:1.0\n",
                "absent",
            ),
            ("no image", "services:\n  app:\n    build: .\n", "absent"),
            (
                "image under build",
                "services:\n  app:\n    build:\n      image: a:1\n",
                "absent",
            ),
            ("empty", "", "absent"),
            (
                "two documents",
                "services: {}\n---\nservices: {}\n",
                "no:the file holds several YAML documents",
            ),
            (
                "block scalar",
                "services:\n  app:\n    image: |\n      reg/app:1.0\n",
                "no:it is a block scalar",
            ),
        ];
        for (case, text, want) in cases {
            let got = found(text);
            assert!(got.starts_with(want), "{case}: got {got:?}, want {want:?}");
        }
    }

    #[test]
    fn invalid_yaml_is_an_error() {
        assert!(locate("services: [\n", "app").is_err());
        assert!(locate("a: b: c\n", "app").is_err());
    }

    /// Replacing the tag's bytes changes nothing else, and the file then names the new
    /// tag in the same place.
    #[test]
    fn replacing_the_tag_changes_only_the_tag() {
        let texts = [
            "services:\n  app:\n    image: reg/app:1.0.0 # keep me\n    restart: always\n",
            "\u{feff}# ☃\r\nservices:\r\n  app:\r\n    image: 'reg:5000/app:1.0.0'\r\n",
            "services: {db: {image: \"d:1\"}, app: {image: \"reg/app:1.0.0\"}}\n",
        ];
        for text in texts {
            let ImageSite::Literal { tag, value } = locate(text, "app").unwrap() else {
                panic!("{text}");
            };
            assert!(value.ends_with(":1.0.0"), "{value}");
            let new = replace(text, tag.clone(), "12.3.4");
            assert_eq!(&new[..tag.start], &text[..tag.start]);
            assert_eq!(&new[tag.start + 6..], &text[tag.end..]);
            let ImageSite::Literal { tag: again, value } = locate(&new, "app").unwrap() else {
                panic!("{new}");
            };
            assert_eq!(&new[again], "12.3.4");
            assert!(value.ends_with(":12.3.4"), "{value}");
        }
    }

    #[test]
    fn diffs_show_the_changed_line() {
        let old = "services:\n  app:\n    image: a:1.0\n    restart: always\n";
        let new = "services:\n  app:\n    image: a:1.1\n    restart: always\n";
        assert_eq!(
            diff("/srv/compose.yaml", old, new),
            "--- /srv/compose.yaml\n+++ /srv/compose.yaml\n@@ -3,1 +3,1 @@\n-    image: a:1.0\n+    image: a:1.1\n"
        );
        let crlf_old = "A=1\r\nTAG=1.0\r\n";
        let crlf_new = "A=1\r\nTAG=2.0\r\n";
        assert_eq!(
            diff(".env", crlf_old, crlf_new),
            "--- .env\n+++ .env\n@@ -2,1 +2,1 @@\n-TAG=1.0\n+TAG=2.0\n"
        );
    }
}
