//! Where a compose file writes a service's image, down to the bytes of its tag, so
//! dum changes those bytes and nothing else: quotes, comments, order, indentation and
//! line endings stay as the user wrote them. Pure: text in, byte ranges out. The YAML
//! is read by a real parser (its events carry source spans); nothing is re-serialized.

use std::ops::Range;

use saphyr_parser::{Event, Parser, ScalarStyle, Tag};

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
    /// `${VAR:?error}`, `$VAR`): its value is set in an env file.
    Variable {
        /// The image reference as written.
        value: String,
        /// The variable.
        name: String,
        /// The default the tag falls back to, when the reference gives one.
        default: Option<VariableDefault>,
    },
    /// Set, but not as one tag dum can change; `reason` says why.
    Uneditable {
        /// The image reference as written (empty when it is not a scalar).
        value: String,
        /// Why, in a few words.
        reason: String,
    },
}

/// The default of a `${VAR:-default}` or `${VAR-default}` tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableDefault {
    /// The default as written.
    pub value: String,
    /// Its bytes in the file (empty, between `-` and `}`, for `${VAR:-}`).
    pub span: Range<usize>,
    /// `:-`: it also applies when the variable is set but empty; `-`: only when unset.
    pub if_empty: bool,
}

/// One container level of the event stream, and where it is.
#[derive(Debug)]
struct Frame {
    kind: FrameKind,
    /// The container is a mapping key (`? {a: b}: c`): its end completes a key, not a
    /// value.
    is_key: bool,
}

#[derive(Debug)]
enum FrameKind {
    /// A mapping: `key` is `None` while a key is expected, else the key whose value
    /// comes (`Some(None)`: a key that is not a plain string).
    Map { key: Option<Option<String>> },
    /// A sequence, at its `index`th item.
    Seq { index: usize },
}

/// A node on the way to the image that carries an anchor (`&name`): were the anchor
/// aliased anywhere, editing the image would change the alias's place too.
#[derive(Debug)]
struct Anchored {
    id: usize,
    /// The anchor's name as written (for the message), if it could be read back.
    name: Option<String>,
    /// The node's key path (`services.app`).
    path: String,
}

/// Finds `services.<service>.image` in `text`. An error when the text is not YAML, or
/// when the file's top level, `services` or the service is not a mapping.
pub fn locate(text: &str, service: &str) -> Result<ImageSite, String> {
    let chars = CharOffsets::new(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut documents = 0;
    let mut found: Option<ImageSite> = None;
    // Whether the service's mapping exists, merges another one in (`<<: *x`), and
    // replaces what earlier files say of it (`!override`).
    let mut service_seen = false;
    let mut merged = false;
    let mut overrides = false;
    // The anchored nodes that hold the image, and every alias: (anchor id, where).
    let mut anchored: Vec<Anchored> = Vec::new();
    let mut aliases: Vec<(usize, String)> = Vec::new();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| format!("not valid YAML: {e}"))?;
        let path = value_path(&stack);
        let is_key = matches!(
            stack.last(),
            Some(Frame {
                kind: FrameKind::Map { key: None },
                ..
            })
        );
        // What the node is, on the way to the image: `None` elsewhere.
        let level = if is_key {
            None
        } else {
            match path.as_slice() {
                [] => Some(Level::Top),
                [Some("services")] => Some(Level::Services),
                [Some("services"), Some(s)] if *s == service => Some(Level::Service),
                [Some("services"), Some(s), Some("image")] if *s == service => Some(Level::Image),
                _ => None,
            }
        };
        let start = chars.byte(span.start.index());
        let end = chars.byte(span.end.index());
        let anchor_at = |id: usize, anchored: &mut Vec<Anchored>, path: String| {
            if id != 0 {
                let name = text.get(start..).and_then(|s| properties(s).0);
                anchored.push(Anchored {
                    id,
                    name: name.map(str::to_string),
                    path,
                });
            }
        };
        let tag = match &event {
            Event::MappingStart(_, tag) | Event::SequenceStart(_, tag) => tag.as_deref(),
            Event::Scalar(_, _, _, tag) => tag.as_deref(),
            _ => None,
        };
        // `!reset` removes the node and what earlier files say of it: no file sets
        // the image then.
        if let Some(level @ (Level::Services | Level::Service)) = level
            && let Some(ComposeTag::Reset) = tag.and_then(compose_tag)
        {
            return Ok(ImageSite::Uneditable {
                value: String::new(),
                reason: format!(
                    "{} is reset (!reset) in this file",
                    level_path(level, service)
                ),
            });
        }
        let overriding = matches!(tag.and_then(compose_tag), Some(ComposeTag::Override));
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
            Event::MappingStart(id, _) => {
                match level {
                    Some(Level::Image) => {
                        return Err(not_a(&level_path(Level::Image, service), "a mapping"));
                    }
                    Some(Level::Service) => {
                        service_seen = true;
                        overrides = overriding;
                    }
                    _ => {}
                }
                if let Some(level) = level {
                    anchor_at(id, &mut anchored, level_path(level, service));
                }
                if is_key {
                    set_key(&mut stack, None);
                }
                stack.push(Frame {
                    kind: FrameKind::Map { key: None },
                    is_key,
                });
            }
            Event::SequenceStart(..) => {
                if let Some(level) = level {
                    return Err(not_a(&level_path(level, service), "a list"));
                }
                if is_key {
                    set_key(&mut stack, None);
                }
                stack.push(Frame {
                    kind: FrameKind::Seq { index: 0 },
                    is_key,
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                if let Some(frame) = stack.pop()
                    && !frame.is_key
                {
                    value_done(&mut stack);
                }
            }
            Event::Scalar(ref value, style, id, _) => {
                if is_key {
                    if path.len() == 2 && path[..2] == [Some("services"), Some(service)] {
                        merged |= value == "<<";
                    }
                    set_key(&mut stack, Some(value.to_string()));
                    continue;
                }
                let null = style == ScalarStyle::Plain
                    && matches!(&**value, "" | "~" | "null" | "Null" | "NULL");
                match level {
                    Some(Level::Image) => {
                        if found.is_some() {
                            return Ok(ImageSite::Uneditable {
                                value: String::new(),
                                reason: format!("services.{service} sets image twice"),
                            });
                        }
                        anchor_at(id, &mut anchored, level_path(Level::Image, service));
                        found = Some(match tag.and_then(tag_problem) {
                            Some(reason) => ImageSite::Uneditable {
                                value: value.to_string(),
                                reason: reason.into(),
                            },
                            None => site(text, value, style, start..end),
                        });
                    }
                    // An empty top level, `services:` or `app:` sets nothing.
                    Some(level) if !null => {
                        return Err(not_a(
                            &level_path(level, service),
                            &format!("the scalar {value:?}"),
                        ));
                    }
                    _ => {}
                }
                value_done(&mut stack);
            }
            Event::Alias(id) => {
                aliases.push((id, display_path(&stack)));
                if is_key {
                    set_key(&mut stack, None);
                    continue;
                }
                match level {
                    Some(Level::Image) => {
                        found = Some(ImageSite::Uneditable {
                            value: String::new(),
                            reason: "the image is an alias (*anchor)".into(),
                        });
                    }
                    Some(level @ (Level::Services | Level::Service)) => {
                        return Ok(ImageSite::Uneditable {
                            value: String::new(),
                            reason: format!(
                                "{} is an alias (*anchor) of another mapping",
                                level_path(level, service)
                            ),
                        });
                    }
                    _ => {}
                }
                value_done(&mut stack);
            }
            _ => {}
        }
    }
    let site = match found {
        Some(site) => site,
        None if service_seen && merged => ImageSite::Uneditable {
            value: String::new(),
            reason: "the service takes its keys from a merge key (<<)".into(),
        },
        // Earlier files' image does not apply: they are not where it is set.
        None if overrides => ImageSite::Uneditable {
            value: String::new(),
            reason: format!(
                "services.{service} replaces earlier files' (!override) and sets no image"
            ),
        },
        None => ImageSite::Absent,
    };
    if let ImageSite::Literal { value, .. } | ImageSite::Variable { value, .. } = &site
        && let Some(reason) = shared(&anchored, &aliases)
    {
        return Ok(ImageSite::Uneditable {
            value: value.clone(),
            reason,
        });
    }
    Ok(site)
}

/// The nodes on the way to the image.
#[derive(Debug, Clone, Copy)]
enum Level {
    Top,
    Services,
    Service,
    Image,
}

/// The key path of `level`, for messages.
fn level_path(level: Level, service: &str) -> String {
    match level {
        Level::Top => "the file's top level".into(),
        Level::Services => "services".into(),
        Level::Service => format!("services.{service}"),
        Level::Image => format!("services.{service}.image"),
    }
}

/// The error for a node of the wrong shape at `path`.
fn not_a(path: &str, found: &str) -> String {
    if path.ends_with(".image") {
        format!("{path} is {found}, not an image reference like reg/app:1.0")
    } else {
        format!("{path} is {found}, not a mapping of keys: compose cannot read this file")
    }
}

/// Why an image may not be edited when one of the anchored nodes that hold it is
/// aliased somewhere: the alias is a second place the edit would change.
fn shared(anchored: &[Anchored], aliases: &[(usize, String)]) -> Option<String> {
    anchored.iter().find_map(|a| {
        let uses: Vec<&str> = aliases
            .iter()
            .filter(|(id, _)| *id == a.id)
            .map(|(_, at)| at.as_str())
            .collect();
        if uses.is_empty() {
            return None;
        }
        let anchor = a
            .name
            .as_ref()
            .map_or_else(|| "an anchor".to_string(), |n| format!("anchor &{n}"));
        Some(format!(
            "{} is shared through {anchor} with {}, which editing it would change too",
            a.path,
            uses.join(", ")
        ))
    })
}

/// What compose makes of a node's tag, when it means something to it.
enum ComposeTag {
    /// `!reset`: the node is removed (earlier files' value too).
    Reset,
    /// `!override`: the node replaces earlier files' instead of merging with it.
    Override,
}

fn compose_tag(tag: &Tag) -> Option<ComposeTag> {
    match (tag.handle.as_str(), tag.suffix.as_str()) {
        ("!", "reset") => Some(ComposeTag::Reset),
        ("!", "override") => Some(ComposeTag::Override),
        _ => None,
    }
}

/// Why an image scalar with `tag` is not a string dum can edit; `None` when it is
/// (`!!str`, `!override`, or a local tag compose ignores).
fn tag_problem(tag: &Tag) -> Option<&'static str> {
    if tag.is_yaml_core_schema() && tag.suffix != "str" {
        return Some("it is tagged as a YAML type that is not a string");
    }
    match compose_tag(tag) {
        Some(ComposeTag::Reset) => Some("it is reset (!reset): the file removes the image"),
        _ => None,
    }
}

/// The keys leading to the next value: one per mapping on the stack (`None` inside a
/// sequence or under a key that is not a string).
fn value_path(stack: &[Frame]) -> Vec<Option<&str>> {
    stack
        .iter()
        .filter_map(|f| match &f.kind {
            FrameKind::Map { key: Some(k) } => Some(k.as_deref()),
            FrameKind::Map { key: None } => None,
            FrameKind::Seq { .. } => Some(None),
        })
        .collect()
}

/// Where the next node is, for messages: `services.web.<<`, `x-list[1]`.
fn display_path(stack: &[Frame]) -> String {
    let mut out = String::new();
    for frame in stack {
        match &frame.kind {
            FrameKind::Map { key: Some(key) } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key.as_deref().unwrap_or("?"));
            }
            FrameKind::Map { key: None } => {
                out.push_str(if out.is_empty() { "a key" } else { " (a key)" });
            }
            FrameKind::Seq { index } => out.push_str(&format!("[{index}]")),
        }
    }
    if out.is_empty() {
        out.push_str("the top level");
    }
    out
}

fn set_key(stack: &mut [Frame], key: Option<String>) {
    if let Some(Frame {
        kind: FrameKind::Map { key: k },
        ..
    }) = stack.last_mut()
    {
        *k = Some(key);
    }
}

/// A value is complete: its mapping expects the next key, its sequence the next item.
fn value_done(stack: &mut [Frame]) {
    match stack.last_mut().map(|f| &mut f.kind) {
        Some(FrameKind::Map { key }) => *key = None,
        Some(FrameKind::Seq { index }) => *index += 1,
        None => {}
    }
}

/// The node properties (`&anchor`, `!tag`, in either order) `src` starts with: the
/// anchor's name, and the length of the properties with the blanks, line breaks and
/// comments that separate them from the node's content.
fn properties(src: &str) -> (Option<&str>, usize) {
    let mut anchor = None;
    let mut at = 0;
    loop {
        let rest = &src[at..];
        let len = if rest.starts_with("!<") {
            rest.find('>').map_or(rest.len(), |i| i + 1)
        } else if rest.starts_with(['&', '!']) {
            rest.find([' ', '\t', '\r', '\n', ',', '[', ']', '{', '}'])
                .unwrap_or(rest.len())
        } else {
            break;
        };
        if let Some(name) = rest[..len].strip_prefix('&') {
            anchor = Some(name);
        }
        at += len;
        loop {
            let rest = &src[at..];
            let content = rest.trim_start_matches([' ', '\t', '\r', '\n']);
            at += rest.len() - content.len();
            if !content.starts_with('#') {
                break;
            }
            at += content.find('\n').unwrap_or(content.len());
        }
    }
    (anchor, at)
}

/// The site of an image scalar whose source, properties (`&anchor`, `!tag`) included,
/// is `text[span]`.
fn site(text: &str, value: &str, style: ScalarStyle, span: Range<usize>) -> ImageSite {
    let uneditable = |reason: &str| ImageSite::Uneditable {
        value: value.to_string(),
        reason: reason.to_string(),
    };
    let raw = text.get(span.clone()).unwrap_or("");
    let (_, props) = properties(raw);
    let raw = &raw[props..];
    let span = span.start + props..span.end;
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
    let start = span.start + offset + colon + 1;
    if tag.contains('$') {
        return match whole_variable(tag) {
            Ok((name, default)) => ImageSite::Variable {
                value: value.to_string(),
                name,
                default: default.map(|(within, if_empty)| VariableDefault {
                    value: tag[within.clone()].to_string(),
                    span: start + within.start..start + within.end,
                    if_empty,
                }),
            },
            Err(reason) => uneditable(reason),
        };
    }
    if tag.is_empty() {
        return uneditable("its tag is empty");
    }
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

/// The variable when `tag` is exactly `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
/// `${VAR:?error}`, `${VAR?error}` or `$VAR`, with its default's range in `tag` and
/// whether it applies to an empty value too (`:-`). Else why not.
fn whole_variable(tag: &str) -> Result<(String, Option<(Range<usize>, bool)>), &'static str> {
    const PARTS: &str = "its tag is made of several parts (variables and text)";
    let name_ok = |n: &str| !n.is_empty() && !n.starts_with(|c: char| c.is_ascii_digit());
    let name_end = |s: &str| {
        s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len())
    };
    let Some(body) = tag.strip_prefix("${").and_then(|t| t.strip_suffix('}')) else {
        let name = tag.strip_prefix('$').ok_or(PARTS)?;
        return if name_ok(name) && name_end(name) == name.len() {
            Ok((name.to_string(), None))
        } else {
            Err(PARTS)
        };
    };
    let (name, rest) = body.split_at(name_end(body));
    if !name_ok(name) {
        return Err(PARTS);
    }
    let Some((op, arg)) = ["", ":-", "-", ":?", "?", ":+", "+"]
        .iter()
        .filter(|op| !op.is_empty() || rest.is_empty())
        .find_map(|op| rest.strip_prefix(op).map(|arg| (*op, arg)))
    else {
        return Err(PARTS);
    };
    // An argument that holds another variable makes the tag more than one variable.
    if arg.contains(['$', '{', '}']) {
        return Err(PARTS);
    }
    let arg_start = 2 + name.len() + op.len();
    match op {
        ":-" | "-" => Ok((
            name.to_string(),
            Some((arg_start..arg_start + arg.len(), op == ":-")),
        )),
        ":+" | "+" => Err(
            "its tag is a value used when a variable is set (${VAR:+…}), not the variable's value",
        ),
        _ => Ok((name.to_string(), None)),
    }
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
    /// `var:<name>` (then `:-<default's bytes>` or `-<default's bytes>`), `absent`,
    /// `no:<reason>`, `err:<error>`.
    fn found(text: &str) -> String {
        match locate(text, "app") {
            Err(e) => format!("err:{e}"),
            Ok(ImageSite::Absent) => "absent".into(),
            Ok(ImageSite::Literal { tag, .. }) => format!("tag:{}", &text[tag]),
            Ok(ImageSite::Variable { name, default, .. }) => match default {
                None => format!("var:{name}"),
                Some(d) => {
                    assert_eq!(text[d.span.clone()], d.value, "{text}");
                    let op = if d.if_empty { ":-" } else { "-" };
                    format!("var:{name}{op}{}", &text[d.span])
                }
            },
            Ok(ImageSite::Uneditable { reason, .. }) => format!("no:{reason}"),
        }
    }

    /// Checks each `(case, text, want)`: `tag:`, `var:` and `absent` exactly, refusals
    /// (`no:`) and errors (`err:`) by their start. A literal tag is then replaced: only
    /// its bytes change, and the new text names the new tag in the same place.
    fn check(cases: &[(&str, &str, &str)]) {
        for (case, text, want) in cases {
            let got = found(text);
            if want.starts_with("no:") || want.starts_with("err:") {
                assert!(got.starts_with(want), "{case}: got {got:?}, want {want:?}");
            } else {
                assert_eq!(got, *want, "{case}");
            }
            if let Ok(ImageSite::Literal { tag, .. }) = locate(text, "app") {
                let new = replace(text, tag.clone(), "12.3.4-x");
                assert_eq!(new[..tag.start], text[..tag.start], "{case}");
                assert_eq!(new[tag.start + 8..], text[tag.end..], "{case}");
                assert_eq!(found(&new), "tag:12.3.4-x", "{case}");
            }
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
                "var:TAG:-1.0",
            ),
            (
                "dash var",
                "services:\n  app:\n    image: reg/app:${TAG-1.0}\n",
                "var:TAG-1.0",
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
        check(cases);
    }

    /// An anchor on the way to the image is harmless until something aliases it: then
    /// the edit would move that place too, so it is refused, naming both.
    #[test]
    fn anchors_shared_with_other_places_are_refused() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "anchored image, not aliased",
                "services:\n  app:\n    image: &img reg/app:1.0.0\n",
                "tag:1.0.0",
            ),
            (
                "anchored quoted image, not aliased",
                "services:\n  app:\n    image: &img \"reg/app:1.0.0\" # c\n",
                "tag:1.0.0",
            ),
            (
                "anchor on the next line's value",
                "services:\n  app:\n    image: &img\n      reg/app:1.0.0\n",
                "tag:1.0.0",
            ),
            (
                "anchor, comment, value on the next line",
                "services:\n  app:\n    image: &img # later shared?\n      'reg/app:1.0.0'\n",
                "tag:1.0.0",
            ),
            (
                "non-ascii anchor names",
                "x-☃: &☃ reg/x:1\nservices:\n  app:\n    image: &ü reg/app:1.0.0\n",
                "tag:1.0.0",
            ),
            (
                "flow, anchored",
                "services: {app: {image: &i \"reg/app:1.0\"}}\n",
                "tag:1.0",
            ),
            (
                "image aliased by another service's image",
                "services:\n  app:\n    image: &img reg/app:1.0\n  web:\n    image: *img\n",
                "no:services.app.image is shared through anchor &img with services.web.image, which editing it would change too",
            ),
            (
                "image aliased in a list",
                "services:\n  app:\n    image: &img reg/app:1.0\nx-images:\n  - a:1\n  - *img\n",
                "no:services.app.image is shared through anchor &img with x-images[1]",
            ),
            (
                "image aliased twice",
                "services:\n  app:\n    image: &img reg/app:1.0\n  a:\n    image: *img\n  b:\n    image: *img\n",
                "no:services.app.image is shared through anchor &img with services.a.image, services.b.image, which",
            ),
            (
                "tagged and anchored image aliased",
                "services:\n  app:\n    image: !!str &img reg/app:1.0\n  web:\n    image: *img\n",
                "no:services.app.image is shared through anchor &img",
            ),
            (
                "variable image aliased",
                "services:\n  app:\n    image: &img reg/app:${TAG}\n  web:\n    image: *img\n",
                "no:services.app.image is shared through anchor &img",
            ),
            (
                "service merged into another",
                "services:\n  app: &base\n    image: reg/app:1.0\n  web:\n    <<: *base\n    ports: [80]\n",
                "no:services.app is shared through anchor &base with services.web.<<, which editing it would change too",
            ),
            (
                "service merged in a list",
                "x-other: &other {restart: always}\nservices:\n  app: &base\n    image: reg/app:1.0\n  web:\n    <<: [*other, *base]\n",
                "no:services.app is shared through anchor &base with services.web.<<[1]",
            ),
            (
                "service aliased whole",
                "services:\n  app: &base\n    image: reg/app:1.0\n  web: *base\n",
                "no:services.app is shared through anchor &base with services.web",
            ),
            (
                "flow service aliased",
                "services: {app: &b {image: reg/app:1.0}, web: *b}\n",
                "no:services.app is shared through anchor &b with services.web",
            ),
            (
                "service anchored, not aliased",
                "services:\n  app: &base\n    image: reg/app:1.0\n  web:\n    image: reg/web:1.0\n",
                "tag:1.0",
            ),
            (
                "services aliased",
                "services: &all\n  app:\n    image: reg/app:1.0\nx-copy: *all\n",
                "no:services is shared through anchor &all with x-copy",
            ),
            (
                "top level aliased inside itself",
                "&top\nservices:\n  app:\n    image: reg/app:1.0\nx-self: *top\n",
                "no:the file's top level is shared through anchor &top with x-self",
            ),
            (
                "anchor redefined after: the alias is the later one's",
                "services:\n  app:\n    image: &a reg/app:1.0\nx-a: &a other\nx-b: *a\n",
                "tag:1.0",
            ),
            (
                "anchor of the same name before: the alias is the earlier one's",
                "x-a: &a reg/x:1\nx-b: *a\nservices:\n  app:\n    image: &a reg/app:1.0\n",
                "tag:1.0",
            ),
            (
                "other service's anchor aliased",
                "services:\n  db: &db\n    image: reg/db:1.0\n  app:\n    <<: *db\n    image: reg/app:1.0\n",
                "tag:1.0",
            ),
            (
                "image is an alias",
                "x-i: &i reg/app:1.0\nservices:\n  app:\n    image: *i\n",
                "no:the image is an alias",
            ),
            (
                "service is an alias",
                "x-app: &app\n  image: reg/app:1.0\nservices:\n  app: *app\n",
                "no:services.app is an alias (*anchor) of another mapping",
            ),
            (
                "services is an alias",
                "x-s: &s\n  app:\n    image: reg/app:1.0\nservices: *s\n",
                "no:services is an alias (*anchor) of another mapping",
            ),
            (
                "merge key list, no own image",
                "x-a: &a\n  image: reg/app:1.0\nservices:\n  app:\n    <<: [*a]\n",
                "no:the service takes its keys from a merge key",
            ),
        ];
        check(cases);
    }

    /// Tags before the value are skipped like anchors; those that change what the
    /// value means to compose are refused.
    #[test]
    fn tags_before_the_value_are_skipped() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "!!str",
                "services:\n  app:\n    image: !!str reg/app:1.0.0\n",
                "tag:1.0.0",
            ),
            (
                "!!str, quoted",
                "services:\n  app:\n    image: !!str \"reg/app:1.0.0\"\n",
                "tag:1.0.0",
            ),
            (
                "tag then anchor",
                "services:\n  app:\n    image: !!str &i 'reg/app:1.0.0'\n",
                "tag:1.0.0",
            ),
            (
                "anchor then tag",
                "services:\n  app:\n    image: &i !!str reg/app:1.0.0\n",
                "tag:1.0.0",
            ),
            (
                "local tag",
                "services:\n  app:\n    image: !custom reg/app:1.0.0\n",
                "tag:1.0.0",
            ),
            (
                "verbatim tag",
                "services:\n  app:\n    image: !<tag:yaml.org,2002:str> reg/app:1.0.0\n",
                "tag:1.0.0",
            ),
            (
                "!override",
                "services:\n  app:\n    image: !override reg/app:1.0.0\n",
                "tag:1.0.0",
            ),
            (
                "tag in flow",
                "services: {app: {image: !!str reg/app:1.0}}\n",
                "tag:1.0",
            ),
            (
                "!reset",
                "services:\n  app:\n    image: !reset reg/app:1.0.0\n",
                "no:it is reset (!reset)",
            ),
            (
                "core tag that is not a string",
                "services:\n  app:\n    image: !!binary cmVnL2FwcDoxLjA=\n",
                "no:it is tagged as a YAML type that is not a string",
            ),
            (
                "service !reset",
                "services:\n  app: !reset {}\n",
                "no:services.app is reset (!reset) in this file",
            ),
            (
                "service !reset, null",
                "services:\n  app: !reset\n",
                "no:services.app is reset (!reset) in this file",
            ),
            (
                "services !reset",
                "services: !reset\n  app:\n    image: reg/app:1.0\n",
                "no:services is reset (!reset) in this file",
            ),
            (
                "another service !reset",
                "services:\n  web: !reset\n  app:\n    image: reg/app:1.0\n",
                "tag:1.0",
            ),
            (
                "service !override without image",
                "services:\n  app: !override\n    restart: always\n",
                "no:services.app replaces earlier files' (!override) and sets no image",
            ),
            (
                "service !override with image",
                "services:\n  app: !override\n    image: reg/app:1.0\n",
                "tag:1.0",
            ),
        ];
        check(cases);
    }

    /// `${VAR}` and its forms: the variable, with the default it falls back to.
    #[test]
    fn variable_tags_and_their_defaults() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "braced",
                "services:\n  app:\n    image: reg/app:${TAG}\n",
                "var:TAG",
            ),
            (
                "bare",
                "services:\n  app:\n    image: reg/app:$TAG_2\n",
                "var:TAG_2",
            ),
            (
                ":- default",
                "services:\n  app:\n    image: reg/app:${TAG:-1.0.0}\n",
                "var:TAG:-1.0.0",
            ),
            (
                "- default",
                "services:\n  app:\n    image: reg/app:${TAG-1.0.0}\n",
                "var:TAG-1.0.0",
            ),
            (
                "empty default",
                "services:\n  app:\n    image: reg/app:${TAG:-}\n",
                "var:TAG:-",
            ),
            (
                "default with dashes",
                "services:\n  app:\n    image: reg/app:${TAG-1.0-rc1}\n",
                "var:TAG-1.0-rc1",
            ),
            (
                "default with :-",
                "services:\n  app:\n    image: reg/app:${TAG-a:-b}\n",
                "var:TAG-a:-b",
            ),
            (
                "quoted, default, after non-ascii",
                "# ☃\nservices:\n  app:\n    image: \"reg/app:${TAG:-v1}\"\n",
                "var:TAG:-v1",
            ),
            (
                "anchored, default",
                "services:\n  app:\n    image: &i 'reg/app:${TAG:-v1}'\n",
                "var:TAG:-v1",
            ),
            (
                "required",
                "services:\n  app:\n    image: reg/app:${TAG:?set TAG}\n",
                "var:TAG",
            ),
            (
                "required if unset",
                "services:\n  app:\n    image: reg/app:${TAG?set TAG}\n",
                "var:TAG",
            ),
            (
                "alternative",
                "services:\n  app:\n    image: reg/app:${TAG:+1.0}\n",
                "no:its tag is a value used when a variable is set",
            ),
            (
                "alternative if set",
                "services:\n  app:\n    image: reg/app:${TAG+1.0}\n",
                "no:its tag is a value used when a variable is set",
            ),
            (
                "default is a variable",
                "services:\n  app:\n    image: reg/app:${TAG:-$OTHER}\n",
                "no:its tag is made of several parts",
            ),
            (
                "variable then text",
                "services:\n  app:\n    image: reg/app:${TAG}-alpine\n",
                "no:its tag is made of several parts",
            ),
            (
                "bare variable then text",
                "services:\n  app:\n    image: reg/app:$TAG.1\n",
                "no:its tag is made of several parts",
            ),
            (
                "two braced variables",
                "services:\n  app:\n    image: reg/app:${A}${B}\n",
                "no:its tag is made of several parts",
            ),
            (
                "unknown operator",
                "services:\n  app:\n    image: reg/app:${TAG=1}\n",
                "no:its tag is made of several parts",
            ),
            (
                "name starts with a digit",
                "services:\n  app:\n    image: reg/app:${1TAG}\n",
                "no:its tag is made of several parts",
            ),
            (
                "escaped dollar",
                "services:\n  app:\n    image: reg/app:$$TAG\n",
                "no:its tag is made of several parts",
            ),
        ];
        check(cases);
    }

    /// A top level, `services` or service that is not a mapping is a file compose
    /// cannot read: an error naming the key path, not "the file does not set it".
    #[test]
    fn wrong_shapes_are_errors() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "top level list",
                "- services\n",
                "err:the file's top level is a list, not a mapping of keys",
            ),
            (
                "top level scalar",
                "services\n",
                "err:the file's top level is the scalar \"services\", not a mapping",
            ),
            ("top level null", "~\n", "absent"),
            ("only comments", "# nothing yet\n", "absent"),
            (
                "services list",
                "services:\n  - app\n",
                "err:services is a list, not a mapping of keys",
            ),
            (
                "services scalar",
                "services: app\n",
                "err:services is the scalar \"app\", not a mapping",
            ),
            (
                "services quoted empty",
                "services: ''\n",
                "err:services is the scalar \"\", not a mapping",
            ),
            ("services empty", "services:\n", "absent"),
            ("services null", "services: null\n", "absent"),
            ("services {}", "services: {}\n", "absent"),
            (
                "service list",
                "services:\n  app:\n    - image: reg/app:1.0\n",
                "err:services.app is a list, not a mapping of keys",
            ),
            (
                "service scalar",
                "services:\n  app: reg/app:1.0\n",
                "err:services.app is the scalar \"reg/app:1.0\", not a mapping",
            ),
            ("service empty", "services:\n  app:\n", "absent"),
            (
                "image mapping",
                "services:\n  app:\n    image: {name: reg/app, tag: '1.0'}\n",
                "err:services.app.image is a mapping, not an image reference",
            ),
            (
                "image list",
                "services:\n  app:\n    image: [reg/app:1.0]\n",
                "err:services.app.image is a list, not an image reference",
            ),
            (
                "image twice",
                "services:\n  app:\n    image: reg/app:1.0\n    image: reg/app:2.0\n",
                "no:services.app sets image twice",
            ),
            (
                "another service's shape is not ours to judge",
                "services:\n  web: [1]\n  app:\n    image: reg/app:1.0\n",
                "tag:1.0",
            ),
            (
                "services not at the top",
                "x-old:\n  services: [a]\nservices:\n  app:\n    image: reg/app:1.0\n",
                "tag:1.0",
            ),
            (
                "a mapping as a key",
                "? {a: b}\n: c\nservices:\n  app:\n    image: reg/app:1.0\n",
                "tag:1.0",
            ),
        ];
        check(cases);
        // One line each, as the report shows it.
        for (_, text, _) in cases {
            if let Err(e) = locate(text, "app") {
                assert!(!e.contains('\n'), "{e}");
            }
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
