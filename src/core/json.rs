//! A JSON reader for the page's replies, settings and saved records (RFC 8259).
//!
//! The page reads every JSON text through this one function instead of serde_json's
//! `Value` deserializer: it keeps a number as its own text (money is read from that text,
//! never through a float, and no float parser is in the page's wasm), an object as its
//! members in document order, and nesting to [`MAX_DEPTH`] (a reply nested 10,000 deep is
//! an error, not a stack overflow). What it accepts and what it reads are the same as
//! serde_json's (property-tested against it natively), but for a number past a float's
//! range (`1e400`), which serde_json refuses and this reads as its text. The few
//! objects the page writes (a submit body, a history record, a message to the host page)
//! are written by [`Object`], as serde_json writes them (tested against it natively).

use std::fmt;

/// How deep arrays and objects may nest (serde_json's own limit).
pub const MAX_DEPTH: usize = 127;

/// A JSON value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as its text in the document (`7`, `-0.07`, `7e-2`).
    Number(String),
    /// A string, its escapes resolved.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object's members in document order (a name given twice: the last one counts).
    Object(Vec<(String, Json)>),
}

/// Where a text stops being JSON: the line (from 1) and the column of the byte that
/// broke it (from 1, in bytes; the text's length when it ended too soon).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JsonError {
    /// The line.
    pub line: usize,
    /// The column.
    pub column: usize,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at line {}, column {}", self.line, self.column)
    }
}

/// Reads one JSON value from `text`, with nothing but whitespace around it.
pub fn parse(text: &[u8]) -> Result<Json, JsonError> {
    let mut reader = Reader { text, at: 0 };
    let value = reader.value(0)?;
    reader.space();
    if reader.at < text.len() {
        reader.at += 1;
        return Err(reader.error());
    }
    Ok(value)
}

impl Json {
    /// The member `key` of an object (the last one of that name); `None` for anything
    /// that is not an object or has no such member.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text of a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// A boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The items of an array.
    pub fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    /// A number's text as written.
    pub fn number_text(&self) -> Option<&str> {
        match self {
            Json::Number(n) => Some(n),
            _ => None,
        }
    }

    /// A number written as a whole number (no fraction, no exponent) that fits a `u64`,
    /// as serde_json reads it.
    pub fn as_u64(&self) -> Option<u64> {
        self.number_text()?.parse().ok()
    }

    /// A number written as a whole number that fits an `i64` (`-0` is not one: serde_json
    /// reads it as a float).
    pub fn as_i64(&self) -> Option<i64> {
        self.number_text().filter(|n| *n != "-0")?.parse().ok()
    }

    /// `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }

    /// An object.
    pub fn is_object(&self) -> bool {
        matches!(self, Json::Object(_))
    }
}

/// A JSON object written member by member, in the order given.
#[derive(Debug)]
pub struct Object(String);

impl Object {
    /// `{`.
    pub fn new() -> Self {
        Object("{".to_owned())
    }

    fn key(mut self, key: &str) -> Self {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        string(&mut self.0, key);
        self.0.push(':');
        self
    }

    /// A string member.
    pub fn str(self, key: &str, value: &str) -> Self {
        let mut object = self.key(key);
        string(&mut object.0, value);
        object
    }

    /// A string member, or `null`.
    pub fn opt_str(self, key: &str, value: Option<&str>) -> Self {
        match value {
            Some(value) => self.str(key, value),
            None => self.raw(key, "null"),
        }
    }

    /// A whole-number member.
    pub fn num(self, key: &str, value: u64) -> Self {
        self.raw(key, &value.to_string())
    }

    /// A whole-number member, or `null`.
    pub fn opt_num(self, key: &str, value: Option<u64>) -> Self {
        match value {
            Some(value) => self.num(key, value),
            None => self.raw(key, "null"),
        }
    }

    /// `true` or `false`.
    pub fn bool(self, key: &str, value: bool) -> Self {
        self.raw(key, if value { "true" } else { "false" })
    }

    /// A list of strings.
    pub fn strs(self, key: &str, values: &[String]) -> Self {
        let mut object = self.key(key);
        object.0.push('[');
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                object.0.push(',');
            }
            string(&mut object.0, value);
        }
        object.0.push(']');
        object
    }

    /// A list of `true` and `false`.
    pub fn bools(self, key: &str, values: &[bool]) -> Self {
        let mut object = self.key(key);
        object.0.push('[');
        for (i, &value) in values.iter().enumerate() {
            if i > 0 {
                object.0.push(',');
            }
            object.0.push_str(if value { "true" } else { "false" });
        }
        object.0.push(']');
        object
    }

    /// A member already written as JSON (by this module: an array of objects, say).
    pub fn json(self, key: &str, json: &str) -> Self {
        self.raw(key, json)
    }

    /// A member already written as JSON.
    fn raw(self, key: &str, json: &str) -> Self {
        let mut object = self.key(key);
        object.0.push_str(json);
        object
    }

    /// `}`: the text.
    pub fn end(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

impl Default for Object {
    fn default() -> Self {
        Self::new()
    }
}

/// `value` as a JSON string, escaped as serde_json escapes (quotes, backslashes and
/// control characters; everything else as it is).
fn string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c < ' ' => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(c as u8 >> 4)]));
                out.push(char::from(HEX[usize::from(c as u8 & 15)]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Reads a text from the start; `at` is the next byte.
struct Reader<'a> {
    text: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    /// The error at the current byte: its line and column, counted as serde_json counts.
    fn error(&self) -> JsonError {
        let upto = &self.text[..self.at.min(self.text.len())];
        let line = 1 + upto.iter().filter(|&&b| b == b'\n').count();
        let column = upto.iter().rev().take_while(|&&b| b != b'\n').count();
        JsonError { line, column }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    /// The next byte, consumed; an error at the end of the text.
    fn next(&mut self) -> Result<u8, JsonError> {
        let b = self.peek().ok_or_else(|| self.error())?;
        self.at += 1;
        Ok(b)
    }

    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// Consumes `word` (after its first byte, already read).
    fn word(&mut self, rest: &[u8], value: Json) -> Result<Json, JsonError> {
        for &b in rest {
            if self.next()? != b {
                return Err(self.error());
            }
        }
        Ok(value)
    }

    fn value(&mut self, depth: usize) -> Result<Json, JsonError> {
        self.space();
        match self.next()? {
            b'n' => self.word(b"ull", Json::Null),
            b't' => self.word(b"rue", Json::Bool(true)),
            b'f' => self.word(b"alse", Json::Bool(false)),
            b'"' => self.string().map(Json::String),
            b'[' | b'{' if depth == MAX_DEPTH => Err(self.error()),
            b'[' => {
                let mut items = Vec::new();
                self.space();
                if self.peek() == Some(b']') {
                    self.at += 1;
                    return Ok(Json::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.space();
                    match self.next()? {
                        b',' => {}
                        b']' => return Ok(Json::Array(items)),
                        _ => return Err(self.error()),
                    }
                }
            }
            b'{' => {
                let mut members = Vec::new();
                self.space();
                if self.peek() == Some(b'}') {
                    self.at += 1;
                    return Ok(Json::Object(members));
                }
                loop {
                    self.space();
                    if self.next()? != b'"' {
                        return Err(self.error());
                    }
                    let key = self.string()?;
                    self.space();
                    if self.next()? != b':' {
                        return Err(self.error());
                    }
                    members.push((key, self.value(depth + 1)?));
                    self.space();
                    match self.next()? {
                        b',' => {}
                        b'}' => return Ok(Json::Object(members)),
                        _ => return Err(self.error()),
                    }
                }
            }
            b'-' | b'0'..=b'9' => {
                self.at -= 1;
                self.number()
            }
            _ => Err(self.error()),
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Result<Json, JsonError> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.next()? {
            b'0' => {}
            b'1'..=b'9' => self.digits(),
            _ => return Err(self.error()),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.some_digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            self.some_digits()?;
        }
        // ASCII only, so always text.
        let text = String::from_utf8_lossy(&self.text[start..self.at]).into_owned();
        Ok(Json::Number(text))
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
    }

    fn some_digits(&mut self) -> Result<(), JsonError> {
        if !self.next()?.is_ascii_digit() {
            return Err(self.error());
        }
        self.digits();
        Ok(())
    }

    /// A string's contents after its opening quote, through its closing one.
    fn string(&mut self) -> Result<String, JsonError> {
        let mut out = Vec::new();
        loop {
            match self.next()? {
                b'"' => break,
                b'\\' => {
                    let c = match self.next()? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.escaped_char()?,
                        _ => return Err(self.error()),
                    };
                    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                }
                0..=0x1f => return Err(self.error()),
                b => out.push(b),
            }
        }
        String::from_utf8(out).map_err(|_| self.error())
    }

    /// The character of a `\u` escape (after the `u`), a surrogate pair's two escapes
    /// read as one character; a lone surrogate is an error.
    fn escaped_char(&mut self) -> Result<char, JsonError> {
        let high = self.hex4()?;
        let code = match high {
            0xD800..=0xDBFF => {
                if self.next()? != b'\\' || self.next()? != b'u' {
                    return Err(self.error());
                }
                let low = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return Err(self.error());
                }
                0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.error()),
            code => code,
        };
        char::from_u32(code).ok_or_else(|| self.error())
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = char::from(self.next()?)
                .to_digit(16)
                .ok_or_else(|| self.error())?;
            code = code * 16 + digit;
        }
        Ok(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// serde_json's reading of a text, in this module's terms (its numbers as the
    /// text they were written with is not kept by serde_json: compared by value).
    fn same(ours: &Json, theirs: &serde_json::Value) -> bool {
        use serde_json::Value;
        match (ours, theirs) {
            (Json::Null, Value::Null) => true,
            (Json::Bool(a), Value::Bool(b)) => a == b,
            (Json::String(a), Value::String(b)) => a == b,
            (Json::Number(a), Value::Number(b)) => {
                (ours.as_u64() == b.as_u64())
                    && (ours.as_i64() == b.as_i64())
                    // (serde_json's float reader is not always correctly rounded.)
                    && a.parse::<f64>().ok().zip(b.as_f64()).is_some_and(|(x, y)| {
                        (x - y).abs() <= 1e-14 * x.abs().max(1.0)
                    })
            }
            (Json::Array(a), Value::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
            }
            (Json::Object(a), Value::Object(b)) => {
                b.iter()
                    .all(|(k, v)| ours.get(k).is_some_and(|o| same(o, v)))
                    && a.iter().all(|(k, _)| b.contains_key(k))
            }
            _ => false,
        }
    }

    fn agree(text: &[u8]) -> Result<(), TestCaseError> {
        let ours = parse(text);
        let theirs = serde_json::from_slice::<serde_json::Value>(text);
        match (&ours, &theirs) {
            (Ok(o), Ok(t)) => prop_assert!(same(o, t), "{:?} vs {:?}", o, t),
            (Err(_), Err(_)) => {}
            // The one difference, documented: a number past a float's range is kept as
            // its text here, where serde_json refuses it.
            (Ok(_), Err(e)) if e.to_string().starts_with("number out of range") => {}
            _ => prop_assert!(
                false,
                "{:?}: ours {:?}, serde_json {:?}",
                String::from_utf8_lossy(text),
                ours,
                theirs
            ),
        }
        Ok(())
    }

    #[test]
    fn reads_what_the_api_sends() {
        let text = br#" {"code":200,"data":{"id":"abc","outputs":["https://x/1.jpg"],
            "has_nsfw_contents":[false,true],"timings":{"inference":1234},
            "error":null,"price":0.07,"e":"\u00e9\ud83d\ude00\n\"\/"}} "#;
        let json = parse(text).unwrap();
        assert_eq!(json.get("code").and_then(Json::as_u64), Some(200));
        let data = json.get("data").unwrap();
        assert_eq!(data.get("id").and_then(Json::as_str), Some("abc"));
        assert_eq!(data.get("price").and_then(Json::number_text), Some("0.07"));
        assert_eq!(data.get("price").and_then(Json::as_u64), None);
        assert_eq!(
            data.get("timings")
                .and_then(|t| t.get("inference"))
                .and_then(Json::as_u64),
            Some(1234)
        );
        assert_eq!(data.get("e").and_then(Json::as_str), Some("é😀\n\"/"));
        assert!(data.get("error").unwrap().is_null());
        assert_eq!(
            data.get("has_nsfw_contents")
                .and_then(Json::as_array)
                .map(|a| a.len()),
            Some(2)
        );
    }

    #[test]
    fn refuses_what_is_not_json_and_says_where() {
        for (text, line, column) in [
            (&b""[..], 1, 0),
            (b"{", 1, 1),
            (b"{\"a\":1,}", 1, 8),
            (b"[1 2]", 1, 4),
            (b"\n\n  tru", 3, 5),
            (b"01", 1, 2),
            (b"1.", 1, 2),
            (b"\"\\ud800\"", 1, 8),
            (b"\"a\x01\"", 1, 3),
            (b"nul", 1, 3),
        ] {
            let error = parse(text).unwrap_err();
            let theirs = serde_json::from_slice::<serde_json::Value>(text).unwrap_err();
            assert_eq!(
                (error.line, error.column),
                (line, column),
                "{:?}",
                String::from_utf8_lossy(text)
            );
            // Where serde_json says it stops, within a byte or two: the same line.
            assert_eq!(
                error.line,
                theirs.line(),
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn nesting_past_the_limit_is_an_error_not_a_crash() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(parse(deep(MAX_DEPTH).as_bytes()).is_ok());
        assert!(parse(deep(MAX_DEPTH + 1).as_bytes()).is_err());
        assert!(parse(deep(10_000).as_bytes()).is_err());
        agree(deep(MAX_DEPTH).as_bytes()).unwrap();
        agree(deep(MAX_DEPTH + 1).as_bytes()).unwrap();
    }

    #[test]
    fn a_name_given_twice_counts_once_as_serde_json_reads_it() {
        let json = parse(br#"{"a":1,"a":2}"#).unwrap();
        assert_eq!(json.get("a").and_then(Json::as_u64), Some(2));
        agree(br#"{"a":1,"a":2}"#).unwrap();
    }

    #[test]
    fn whole_numbers_read_as_serde_json_reads_them() {
        for text in [
            "0",
            "-0",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "-9223372036854775809",
            "1e2",
            "1.0",
            "-1",
        ] {
            agree(text.as_bytes()).unwrap();
        }
    }

    /// JSON-like texts: real JSON pieces with some bytes that break it.
    fn jsonish() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("false".to_owned()),
            "-?(0|[1-9][0-9]{0,20})(\\.[0-9]{1,3})?([eE][+-]?[0-9]{1,2})?",
            "\"([a-z é\\\\\"/]|\\\\[\"\\\\/bfnrt]|\\\\u[0-9a-fA-F]{4}){0,8}\"",
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                prop::collection::vec(("[a-c]{1,2}", inner), 0..5).prop_map(|v| {
                    let members: Vec<String> = v
                        .into_iter()
                        .map(|(k, x)| format!("\"{k}\" : {x}"))
                        .collect();
                    format!("{{ {} }}", members.join(","))
                }),
            ]
        })
    }

    #[test]
    fn an_object_is_written_as_serde_json_writes_it() {
        let written = Object::new()
            .str("a", "x\"y\\z\n\u{1}é/")
            .opt_str("b", None)
            .num("c", 18_446_744_073_709_551_615)
            .opt_num("d", Some(0))
            .bool("e", false)
            .strs("f", &["1".into(), "".into()])
            .bools("g", &[true, false])
            .strs("h", &[])
            .end();
        let expected = serde_json::json!({
            "a": "x\"y\\z\n\u{1}é/", "b": null, "c": 18_446_744_073_709_551_615_u64, "d": 0,
            "e": false, "f": ["1", ""], "g": [true, false], "h": [],
        });
        assert_eq!(written, expected.to_string());
        assert_eq!(Object::new().end(), "{}");
    }

    proptest! {
        /// Any text is written as serde_json writes it, and read back as it was.
        #[test]
        fn any_string_is_written_as_serde_json_writes_it(text in any::<String>(), n in any::<u64>()) {
            // A member named "n" would be given twice (the last one counts on reading).
            prop_assume!(text != "n");
            let written = Object::new().str(&text, &text).num("n", n).end();
            let mut expected = serde_json::Map::new();
            expected.insert(text.clone(), serde_json::Value::String(text.clone()));
            expected.insert("n".into(), n.into());
            // (serde_json's map is sorted; compare as values, and the string's own text.)
            prop_assert_eq!(serde_json::from_str::<serde_json::Value>(&written).unwrap(), serde_json::Value::Object(expected));
            let quoted = serde_json::to_string(&text).unwrap();
            let head = format!("{{{quoted}:{quoted},");
            prop_assert!(written.starts_with(&head), "{}", written);
            let read = parse(written.as_bytes()).unwrap();
            prop_assert_eq!(read.get(&text).and_then(Json::as_str), Some(text.as_str()));
        }

        #[test]
        fn reads_json_as_serde_json_does(text in jsonish()) {
            agree(text.as_bytes())?;
        }

        #[test]
        fn refuses_what_serde_json_refuses(text in jsonish(), at in any::<prop::sample::Index>(), byte in prop_oneof![Just(b'"'), Just(b','), Just(b'\\'), Just(b'{'), Just(b']'), Just(0x01u8), Just(0xffu8), any::<u8>()], cut in any::<bool>()) {
            let mut bytes = text.into_bytes();
            let i = at.index(bytes.len() + 1);
            if cut {
                bytes.truncate(i);
            } else {
                bytes.insert(i, byte);
            }
            agree(&bytes)?;
        }

        #[test]
        fn any_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            agree(&bytes)?;
        }
    }
}
