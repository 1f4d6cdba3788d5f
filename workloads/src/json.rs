//! Minimal JSON building: string escaping and a one-line object builder.

use std::fmt::Write as _;

/// Append `s` to `out` as a JSON string literal (with quotes).
///
/// Escapes `"`, `\` and all control characters (U+0000..U+001F, U+007F);
/// other characters, non-ASCII included, are emitted as UTF-8.
pub fn escape_into(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `s` as a JSON string literal.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    escape_into(&mut out, s);
    out
}

/// Builder for one JSON object on one line: `{"event":"..",...}\n`.
pub struct Obj {
    buf: String,
}

impl Obj {
    /// Start an object whose first field is `"event":name`.
    pub fn event(name: &str) -> Obj {
        let mut buf = String::with_capacity(128);
        buf.push_str("{\"event\":");
        escape_into(&mut buf, name);
        Obj { buf }
    }

    fn key(&mut self, k: &str) {
        self.buf.push(',');
        escape_into(&mut self.buf, k);
        self.buf.push(':');
    }

    pub fn u64(mut self, k: &str, v: u64) -> Obj {
        self.key(k);
        let _ = write!(self.buf, "{v}");
        self
    }

    pub fn i64(mut self, k: &str, v: i64) -> Obj {
        self.key(k);
        let _ = write!(self.buf, "{v}");
        self
    }

    /// A finite f64 as a JSON number; NaN/infinity become null.
    pub fn f64(mut self, k: &str, v: f64) -> Obj {
        self.key(k);
        if v.is_finite() {
            let _ = write!(self.buf, "{v}");
        } else {
            self.buf.push_str("null");
        }
        self
    }

    pub fn str(mut self, k: &str, v: &str) -> Obj {
        self.key(k);
        escape_into(&mut self.buf, v);
        self
    }

    pub fn u64s(self, k: &str, vs: &[u64]) -> Obj {
        self.array(k, vs, |buf, v| {
            let _ = write!(buf, "{v}");
        })
    }

    pub fn strs(self, k: &str, vs: &[String]) -> Obj {
        self.array(k, vs, |buf, v| escape_into(buf, v))
    }

    /// `"k":[..]` with each item written by `item`.
    fn array<T>(mut self, k: &str, vs: &[T], item: impl Fn(&mut String, &T)) -> Obj {
        self.key(k);
        self.buf.push('[');
        for (i, v) in vs.iter().enumerate() {
            if i > 0 {
                self.buf.push(',');
            }
            item(&mut self.buf, v);
        }
        self.buf.push(']');
        self
    }

    pub fn bool(mut self, k: &str, v: bool) -> Obj {
        self.key(k);
        self.buf.push_str(if v { "true" } else { "false" });
        self
    }

    pub fn opt_bool(self, k: &str, v: Option<bool>) -> Obj {
        match v {
            Some(v) => self.bool(k, v),
            None => self.null(k),
        }
    }

    pub fn null(mut self, k: &str) -> Obj {
        self.key(k);
        self.buf.push_str("null");
        self
    }

    pub fn opt_u64(self, k: &str, v: Option<u64>) -> Obj {
        match v {
            Some(v) => self.u64(k, v),
            None => self.null(k),
        }
    }

    pub fn opt_str(self, k: &str, v: Option<&str>) -> Obj {
        match v {
            Some(v) => self.str(k, v),
            None => self.null(k),
        }
    }

    pub fn opt_u64s(self, k: &str, v: Option<&[u64]>) -> Obj {
        match v {
            Some(v) => self.u64s(k, v),
            None => self.null(k),
        }
    }

    pub fn opt_strs(self, k: &str, v: Option<&[String]>) -> Obj {
        match v {
            Some(v) => self.strs(k, v),
            None => self.null(k),
        }
    }

    /// Add `"k":v` only when `v` is `Some`.
    pub fn maybe_u64(self, k: &str, v: Option<u64>) -> Obj {
        match v {
            Some(v) => self.u64(k, v),
            None => self,
        }
    }

    /// Close the object and terminate the line.
    pub fn line(mut self) -> String {
        self.buf.push_str("}\n");
        self.buf
    }
}
