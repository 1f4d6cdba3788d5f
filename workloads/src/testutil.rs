//! Test helpers: a small strict JSON parser and output capture.

use std::fs::File;
use std::os::fd::AsRawFd;

use crate::report::Reporter;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Value>),
    Obj(Vec<(String, Value)>),
}

impl Value {
    pub fn get(&self, k: &str) -> Option<&Value> {
        match self {
            Value::Obj(fields) => fields.iter().find(|(n, _)| n == k).map(|(_, v)| v),
            _ => None,
        }
    }
    pub fn num(&self, k: &str) -> f64 {
        match self.get(k) {
            Some(Value::Num(n)) => *n,
            other => panic!("{k}: expected a number, got {other:?}"),
        }
    }
    pub fn str(&self, k: &str) -> &str {
        match self.get(k) {
            Some(Value::Str(s)) => s,
            other => panic!("{k}: expected a string, got {other:?}"),
        }
    }
    pub fn arr(&self, k: &str) -> &[Value] {
        match self.get(k) {
            Some(Value::Arr(a)) => a,
            other => panic!("{k}: expected an array, got {other:?}"),
        }
    }
    pub fn nums(&self, k: &str) -> Vec<f64> {
        self.arr(k)
            .iter()
            .map(|v| match v {
                Value::Num(n) => *n,
                other => panic!("{k}: expected numbers, got {other:?}"),
            })
            .collect()
    }
    pub fn event(&self) -> &str {
        self.str("event")
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected {:?} at {}", c as char, self.i))
        }
    }
    fn lit(&mut self, word: &str, v: Value) -> Result<Value, String> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(format!("bad literal at {}", self.i))
        }
    }
    fn value(&mut self) -> Result<Value, String> {
        self.ws();
        match self.s.get(self.i).copied() {
            Some(b'n') => self.lit("null", Value::Null),
            Some(b't') => self.lit("true", Value::Bool(true)),
            Some(b'f') => self.lit("false", Value::Bool(false)),
            Some(b'"') => self.string().map(Value::Str),
            Some(b'[') => self.seq(b']', "array", Self::value).map(Value::Arr),
            Some(b'{') => self.seq(b'}', "object", Self::member).map(Value::Obj),
            Some(c) if c == b'-' || c.is_ascii_digit() => {
                let st = self.i;
                self.i += 1;
                while self.i < self.s.len()
                    && matches!(
                        self.s[self.i],
                        b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-'
                    )
                {
                    self.i += 1;
                }
                let t = std::str::from_utf8(&self.s[st..self.i]).unwrap();
                if t.starts_with("0") && t.len() > 1 && t.as_bytes()[1].is_ascii_digit() {
                    return Err(format!("leading zero in {t}"));
                }
                t.parse::<f64>()
                    .map(Value::Num)
                    .map_err(|_| format!("bad number {t}"))
            }
            _ => Err(format!("unexpected input at {}", self.i)),
        }
    }
    /// `"key": value` inside an object.
    fn member(&mut self) -> Result<(String, Value), String> {
        self.ws();
        let k = self.string()?;
        self.eat(b':')?;
        Ok((k, self.value()?))
    }
    /// The comma-separated items after an opening bracket, up to `close`.
    fn seq<T>(
        &mut self,
        close: u8,
        what: &str,
        mut item: impl FnMut(&mut Self) -> Result<T, String>,
    ) -> Result<Vec<T>, String> {
        self.i += 1;
        let mut out = Vec::new();
        self.ws();
        if self.s.get(self.i) == Some(&close) {
            self.i += 1;
            return Ok(out);
        }
        loop {
            out.push(item(self)?);
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(&c) if c == close => {
                    self.i += 1;
                    return Ok(out);
                }
                _ => return Err(format!("bad {what} at {}", self.i)),
            }
        }
    }
    fn string(&mut self) -> Result<String, String> {
        if self.s.get(self.i) != Some(&b'"') {
            return Err(format!("expected string at {}", self.i));
        }
        self.i += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let c = *self.s.get(self.i).ok_or("unterminated string")?;
            self.i += 1;
            match c {
                b'"' => return String::from_utf8(out).map_err(|e| e.to_string()),
                b'\\' => {
                    let e = *self.s.get(self.i).ok_or("bad escape")?;
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'u' => {
                            let h = std::str::from_utf8(
                                self.s.get(self.i..self.i + 4).ok_or("bad \\u")?,
                            )
                            .map_err(|e| e.to_string())?;
                            self.i += 4;
                            let v = u32::from_str_radix(h, 16).map_err(|e| e.to_string())?;
                            char::from_u32(v).ok_or("surrogate \\u not supported")?
                        }
                        _ => return Err(format!("bad escape \\{}", e as char)),
                    };
                    let mut b = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
                }
                c if c < 0x20 => return Err("raw control character in string".into()),
                c => out.push(c),
            }
        }
    }
}

/// Parse exactly one JSON value (surrounding whitespace allowed).
pub fn parse(s: &str) -> Result<Value, String> {
    let mut p = Parser {
        s: s.as_bytes(),
        i: 0,
    };
    let v = p.value()?;
    p.ws();
    if p.i != s.len() {
        return Err(format!("trailing input at {}", p.i));
    }
    Ok(v)
}

/// Run `f` with a Reporter writing to a fresh temp file; return the parsed
/// lines (each checked to be one JSON object with an "event" string).
pub fn capture<R>(name: &str, f: impl FnOnce(&Reporter) -> R) -> (R, Vec<Value>) {
    let path = std::env::temp_dir().join(format!(
        "isobench-workload-test-{}-{name}.jsonl",
        std::process::id()
    ));
    let file = File::create(&path).unwrap();
    let rep = Reporter::new(file.as_raw_fd());
    let r = f(&rep);
    drop(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(text.is_empty() || text.ends_with('\n'), "{text:?}");
    let lines = text
        .lines()
        .map(|l| {
            let v = parse(l).unwrap_or_else(|e| panic!("invalid JSON line {l:?}: {e}"));
            assert!(matches!(v, Value::Obj(_)), "not an object: {l}");
            let _ = v.event();
            v
        })
        .collect();
    (r, lines)
}

pub fn sv(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}
