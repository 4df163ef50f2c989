//! The libdm config syntax LVM writes its metadata in
//! (`libdm/libdm-config.c`): `#` comments, `name = value`, sections
//! `name { … }`, arrays `[v, …]` of scalars, signed integers, floats,
//! `"…"` strings with backslash escapes and `'…'` strings without.
//!
//! Hand-written and bounded: the text, the nesting depth, the number of
//! nodes and the length of one array are each capped by [`Limits`] before
//! anything is allocated for them, and every error names the byte offset
//! in the text where it was found.

use serde::Serialize;
use std::fmt;

/// Bounds on one text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest text parsed, in bytes.
    pub max_bytes: usize,
    /// Deepest nesting of sections (a VG's segment is at depth 4).
    pub max_depth: usize,
    /// Most nodes (sections, keys and array elements) in one text.
    pub max_nodes: usize,
    /// Most elements in one array.
    pub max_array: usize,
}

/// Largest metadata text read: lvm2 keeps the whole text in memory too and
/// a VG with thousands of LVs stays in single MiB.
pub const MAX_TEXT: usize = 16 << 20;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: MAX_TEXT,
            max_depth: 16,
            max_nodes: 1 << 20,
            max_array: 1 << 16,
        }
    }
}

/// A scalar or an array.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// A signed integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string, escapes resolved.
    Str(String),
    /// An array of scalars (possibly mixed).
    Array(Vec<Value>),
}

impl Value {
    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
}

/// One entry of a section.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Node {
    /// `name = value`.
    Value(Value),
    /// `name { … }`.
    Section(Section),
}

/// A section: its entries in text order, each with the offset of its name.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Section {
    /// Entries in text order.
    pub entries: Vec<Entry>,
}

/// `name = value` or `name { … }`, with where it starts in the text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// The key or section name.
    pub name: String,
    /// Byte offset of the name in the text.
    pub offset: usize,
    /// What it holds.
    pub node: Node,
}

impl Section {
    /// The first entry named `name`.
    pub fn get(&self, name: &str) -> Option<&Node> {
        self.entries
            .iter()
            .find(|e| e.name == name)
            .map(|e| &e.node)
    }
    /// The first entry named `name` with its offset.
    pub fn entry(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }
    /// The value `name`, if it is a value.
    pub fn value(&self, name: &str) -> Option<&Value> {
        match self.get(name) {
            Some(Node::Value(v)) => Some(v),
            _ => None,
        }
    }
    /// The subsection `name`, if it is a section.
    pub fn section(&self, name: &str) -> Option<&Section> {
        match self.get(name) {
            Some(Node::Section(s)) => Some(s),
            _ => None,
        }
    }
    /// Integer value `name`.
    pub fn int(&self, name: &str) -> Option<i64> {
        self.value(name).and_then(Value::as_int)
    }
    /// String value `name`.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.value(name).and_then(Value::as_str)
    }
    /// The subsections, in text order, with their names and offsets.
    pub fn sections(&self) -> impl Iterator<Item = (&str, usize, &Section)> {
        self.entries.iter().filter_map(|e| match &e.node {
            Node::Section(s) => Some((e.name.as_str(), e.offset, s)),
            Node::Value(_) => None,
        })
    }
    /// A string array `name` (`status = ["READ", "WRITE"]`); non-strings
    /// are skipped. Empty when absent.
    pub fn strings(&self, name: &str) -> Vec<String> {
        self.value(name)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Why a text did not parse, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParseError {
    /// Byte offset in the text.
    pub offset: usize,
    /// What was wrong there.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Parses a whole text (the top level is an implicit section). The text
/// ends at the first NUL, as LVM reads it.
pub fn parse(text: &[u8], limits: &Limits) -> Result<Section, ParseError> {
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    if end > limits.max_bytes {
        return Err(ParseError {
            offset: 0,
            message: format!(
                "text of {end} bytes is longer than the {}-byte bound",
                limits.max_bytes
            ),
        });
    }
    let mut p = Parser {
        s: text.get(..end).unwrap_or(&[]),
        pos: 0,
        nodes: 0,
        limits: *limits,
    };
    let root = p.section_body(0, None)?;
    Ok(root)
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    nodes: usize,
    limits: Limits,
}

/// Bytes that end a bare word (a name or a number).
fn is_delim(b: u8) -> bool {
    b.is_ascii_whitespace()
        || matches!(
            b,
            b'#' | b'=' | b'{' | b'}' | b'[' | b']' | b',' | b'"' | b'\''
        )
}

impl<'a> Parser<'a> {
    fn err<T>(&self, at: usize, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError {
            offset: at,
            message: message.into(),
        })
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn bump(&mut self) {
        self.pos = self.pos.saturating_add(1);
    }

    fn count(&mut self) -> Result<(), ParseError> {
        self.nodes = self.nodes.saturating_add(1);
        if self.nodes > self.limits.max_nodes {
            return self.err(
                self.pos,
                format!("more than {} entries", self.limits.max_nodes),
            );
        }
        Ok(())
    }

    /// Skips whitespace and `#` comments.
    fn skip(&mut self) {
        while let Some(b) = self.peek() {
            if b.is_ascii_whitespace() {
                self.bump();
            } else if b == b'#' {
                while let Some(c) = self.peek() {
                    if c == b'\n' {
                        break;
                    }
                    self.bump();
                }
            } else {
                break;
            }
        }
    }

    fn word(&mut self) -> &'a [u8] {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if is_delim(b) {
                break;
            }
            self.bump();
        }
        self.s.get(start..self.pos).unwrap_or(&[])
    }

    /// Entries up to `}` (a section, `open` = where its `{` was) or the end
    /// of the text (the top level, `open` = None).
    fn section_body(&mut self, depth: usize, open: Option<usize>) -> Result<Section, ParseError> {
        let mut sec = Section::default();
        loop {
            self.skip();
            let Some(b) = self.peek() else {
                return match open {
                    None => Ok(sec),
                    Some(at) => self.err(at, "section not closed: '}' missing before the end"),
                };
            };
            if b == b'}' {
                if open.is_none() {
                    return self.err(self.pos, "'}' without a section to close");
                }
                self.bump();
                return Ok(sec);
            }
            let at = self.pos;
            let name = self.word();
            if name.is_empty() {
                return self.err(at, format!("expected a name, found {:?}", char::from(b)));
            }
            let Ok(name) = std::str::from_utf8(name).map(str::to_owned) else {
                return self.err(at, "name is not UTF-8");
            };
            self.count()?;
            self.skip();
            match self.peek() {
                Some(b'{') => {
                    let brace = self.pos;
                    if depth >= self.limits.max_depth {
                        return self.err(
                            brace,
                            format!("sections nested deeper than {}", self.limits.max_depth),
                        );
                    }
                    self.bump();
                    let inner = self.section_body(depth.saturating_add(1), Some(brace))?;
                    sec.entries.push(Entry {
                        name,
                        offset: at,
                        node: Node::Section(inner),
                    });
                }
                Some(b'=') => {
                    self.bump();
                    self.skip();
                    let v = self.value(true)?;
                    sec.entries.push(Entry {
                        name,
                        offset: at,
                        node: Node::Value(v),
                    });
                }
                _ => return self.err(self.pos, format!("expected '=' or '{{' after {name:?}")),
            }
        }
    }

    fn value(&mut self, array_ok: bool) -> Result<Value, ParseError> {
        let at = self.pos;
        match self.peek() {
            Some(b'[') if array_ok => {
                self.bump();
                let mut items = Vec::new();
                loop {
                    self.skip();
                    match self.peek() {
                        Some(b']') => {
                            self.bump();
                            return Ok(Value::Array(items));
                        }
                        None => return self.err(at, "array not closed: ']' missing"),
                        _ => {}
                    }
                    if items.len() >= self.limits.max_array {
                        return self.err(
                            self.pos,
                            format!("array longer than {} elements", self.limits.max_array),
                        );
                    }
                    self.count()?;
                    items.push(self.value(false)?);
                    self.skip();
                    match self.peek() {
                        Some(b',') => self.bump(),
                        Some(b']') => {}
                        None => return self.err(at, "array not closed: ']' missing"),
                        Some(c) => {
                            return self.err(
                                self.pos,
                                format!("expected ',' or ']' in array, found {:?}", char::from(c)),
                            );
                        }
                    }
                }
            }
            Some(b'[') => self.err(at, "arrays do not nest"),
            Some(q @ (b'"' | b'\'')) => self.string(q),
            Some(_) => {
                let w = self.word();
                if w.is_empty() {
                    return self.err(at, "expected a value");
                }
                let s = std::str::from_utf8(w).unwrap_or("");
                if let Ok(i) = s.parse::<i64>() {
                    return Ok(Value::Int(i));
                }
                let numeric = s
                    .bytes()
                    .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+'));
                match s.parse::<f64>() {
                    _ if numeric && !s.contains('.') => {
                        self.err(at, format!("integer {s} out of range"))
                    }
                    Ok(f) if numeric && f.is_finite() => Ok(Value::Float(f)),
                    _ => self.err(at, format!("expected a number or a string, found {s:?}")),
                }
            }
            None => self.err(at, "expected a value before the end"),
        }
    }

    fn string(&mut self, quote: u8) -> Result<Value, ParseError> {
        let at = self.pos;
        self.bump();
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return self.err(at, "string not closed"),
                Some(b) if b == quote => {
                    self.bump();
                    break;
                }
                Some(b'\\') if quote == b'"' => {
                    self.bump();
                    match self.peek() {
                        Some(c) => {
                            out.push(c);
                            self.bump();
                        }
                        None => return self.err(at, "string not closed"),
                    }
                }
                Some(b) => {
                    out.push(b);
                    self.bump();
                }
            }
        }
        match String::from_utf8(out) {
            Ok(s) => Ok(Value::Str(s)),
            Err(_) => self.err(at, "string is not UTF-8"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Section, ParseError> {
        parse(s.as_bytes(), &Limits::default())
    }

    #[test]
    fn lvm_text() {
        let t = "# Generated by LVM2\nvg {\nid = \"abc\"\nseqno = 4\nstatus = [\"READ\", \"WRITE\"]\n\
                 physical_volumes {\npv0 {\ndev_size = 81920\n}\n}\n}\n\
                 contents = \"Text Format Volume Group\"\nversion = 1\nf = -1.5\n\
                 d = \"a \\\"q\\\" \\\\ b\" s = 'x\\y' e = []\n5a5a-0001 { mixed = [\"pv0\", 3] }\0garbage";
        let root = p(t).unwrap();
        let vg = root.section("vg").unwrap();
        assert_eq!(vg.int("seqno"), Some(4));
        assert_eq!(vg.strings("status"), ["READ", "WRITE"]);
        let pv0 = vg
            .section("physical_volumes")
            .unwrap()
            .section("pv0")
            .unwrap();
        assert_eq!(pv0.int("dev_size"), Some(81920));
        assert_eq!(root.value("f"), Some(&Value::Float(-1.5)));
        assert_eq!(root.str("d"), Some("a \"q\" \\ b"));
        assert_eq!(root.str("s"), Some("x\\y"));
        assert_eq!(root.value("e"), Some(&Value::Array(vec![])));
        let m = root.section("5a5a-0001").unwrap().value("mixed").unwrap();
        assert_eq!(
            m,
            &Value::Array(vec![Value::Str("pv0".into()), Value::Int(3)])
        );
        assert_eq!(root.entry("vg").unwrap().offset, 20);
    }

    #[test]
    fn errors_name_the_offset() {
        assert_eq!(p("vg {\nid = \"x\"\n").unwrap_err().offset, 3);
        let e = p("vg { seqno = }").unwrap_err();
        assert_eq!(e.offset, 13, "{e}");
        assert!(p("a = [1, [2]]").unwrap_err().message.contains("nest"));
        assert!(
            p("a = 99999999999999999999")
                .unwrap_err()
                .message
                .contains("range")
        );
        assert_eq!(p("a = \"open").unwrap_err().offset, 4);
        assert!(p("}").is_err());
        assert!(p("a b").is_err());
        assert!(p("a = [1 2]").is_err());
        assert!(p("a = bare").is_err());
    }

    #[test]
    fn bounds() {
        let deep = "a {".repeat(40) + &"}".repeat(40);
        assert!(p(&deep).unwrap_err().message.contains("deeper"));
        let lim = Limits {
            max_array: 3,
            ..Limits::default()
        };
        assert!(parse(b"a = [1,2,3,4]", &lim).is_err());
        assert!(parse(b"a = [1,2,3]", &lim).is_ok());
        let lim = Limits {
            max_nodes: 2,
            ..Limits::default()
        };
        assert!(parse(b"a = 1 b = 2 c = 3", &lim).is_err());
        let lim = Limits {
            max_bytes: 5,
            ..Limits::default()
        };
        assert!(parse(b"a = 12", &lim).is_err());
        assert!(parse(b"a = 1\0 long tail ignored", &lim).is_ok());
    }
}
