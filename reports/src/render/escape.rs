//! Escaping for the three text formats we emit, so check names and observed
//! values (which may contain anything) can never break the document.

/// `text` with each character that `sub` maps replaced by its mapping.
fn replace_chars(text: &str, sub: impl Fn(char) -> Option<&'static str>) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match sub(c) {
            Some(s) => out.push_str(s),
            None => out.push(c),
        }
    }
    out
}

/// Text safe inside HTML element content and double-quoted attributes.
pub fn html(text: &str) -> String {
    replace_chars(text, |c| match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '"' => Some("&quot;"),
        '\'' => Some("&#39;"),
        _ => None,
    })
}

/// Text safe inside XML content and attributes; characters XML 1.0 forbids
/// (most control characters) are replaced by U+FFFD.
pub fn xml(text: &str) -> String {
    replace_chars(text, |c| match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '"' => Some("&quot;"),
        '\'' => Some("&apos;"),
        '\n' => Some("&#10;"),
        '\t' => Some("&#9;"),
        '\r' => Some("&#13;"),
        c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => Some("\u{FFFD}"),
        _ => None,
    })
}

/// Text safe inside one Markdown table cell: pipes escaped, newlines as <br>,
/// and HTML-significant characters neutralised.
pub fn md_cell(text: &str) -> String {
    replace_chars(text, |c| match c {
        '|' => Some("\\|"),
        '\n' => Some("<br>"),
        '\r' => Some(""),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        _ => None,
    })
}

/// Inline code in a Markdown table cell (backticks inside become quotes).
pub fn md_code(text: &str) -> String {
    format!(
        "`{}`",
        text.replace('`', "'")
            .replace('|', "\\|")
            .replace('\n', " ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(
            html("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(xml("a\u{1}b\nc\t\r'"), "a\u{FFFD}b&#10;c&#9;&#13;&apos;");
        assert_eq!(md_cell("a|b\r\nc<d>"), "a\\|b<br>c&lt;d&gt;");
        assert_eq!(md_code("x|`y`"), "`x\\|'y'`");
    }
}
