//! Go's `%q` / `strconv.Quote` for arbitrary bytes.

use super::print_table::NOT_PRINTABLE;

/// Whether Go's `strconv.IsPrint` accepts `c`: letters, marks, numbers,
/// punctuation, symbols and the ASCII space.
pub fn go_is_print(c: char) -> bool {
    let cp = c as u32;
    if cp < 0x80 {
        return (0x20..0x7f).contains(&cp);
    }
    // Binary search over the flattened [start, end] pairs.
    let n = NOT_PRINTABLE.len() / 2;
    let (mut lo, mut hi) = (0usize, n);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if NOT_PRINTABLE[2 * mid + 1] < cp {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    !(lo < n && NOT_PRINTABLE[2 * lo] <= cp)
}

/// Decodes the UTF-8 sequence at the start of `b` as Go's
/// `utf8.DecodeRune` does: `None` (one byte consumed) when it is invalid.
fn decode_rune(b: &[u8]) -> (Option<char>, usize) {
    let width = match b[0] {
        0x00..=0x7f => return (Some(b[0] as char), 1),
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return (None, 1),
    };
    match b.get(..width).map(std::str::from_utf8) {
        Some(Ok(s)) => (s.chars().next(), width),
        _ => (None, 1),
    }
}

const LOWER_HEX: &[u8; 16] = b"0123456789abcdef";

fn push_hex_byte(out: &mut String, b: u8) {
    out.push_str("\\x");
    out.push(LOWER_HEX[(b >> 4) as usize] as char);
    out.push(LOWER_HEX[(b & 0xf) as usize] as char);
}

/// Appends the Go-quoted form of `data` (with the surrounding double
/// quotes) to `out`, exactly as Go's `strconv.Quote(string(data))`.
pub fn push_go_quoted(out: &mut String, data: &[u8]) {
    out.push('"');
    let mut i = 0;
    while i < data.len() {
        let (rune, width) = decode_rune(&data[i..]);
        match rune {
            None => push_hex_byte(out, data[i]),
            Some(c @ ('"' | '\\')) => {
                out.push('\\');
                out.push(c);
            }
            Some(c) if go_is_print(c) => out.push(c),
            Some('\x07') => out.push_str("\\a"),
            Some('\x08') => out.push_str("\\b"),
            Some('\x0c') => out.push_str("\\f"),
            Some('\n') => out.push_str("\\n"),
            Some('\r') => out.push_str("\\r"),
            Some('\t') => out.push_str("\\t"),
            Some('\x0b') => out.push_str("\\v"),
            Some(c) if (c as u32) < 0x20 || c as u32 == 0x7f => push_hex_byte(out, c as u8),
            Some(c) if (c as u32) < 0x10000 => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            Some(c) => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
        i += width;
    }
    out.push('"');
}

/// The Go-quoted form of `data`, as `fmt.Sprintf("%q", data)` prints a
/// byte slice.
pub fn go_quote(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len() + 2);
    push_go_quoted(&mut out, data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii() {
        assert_eq!(go_quote(b""), r#""""#);
        assert_eq!(go_quote(b"foo"), r#""foo""#);
        assert_eq!(go_quote(b"\"foo\""), r#""\"foo\"""#);
        assert_eq!(go_quote(b"a\\b"), r#""a\\b""#);
        assert_eq!(go_quote(b" ~"), r#"" ~""#);
        assert_eq!(go_quote(b"\x07\x08\x0c\n\r\t\x0b"), r#""\a\b\f\n\r\t\v""#);
        assert_eq!(go_quote(b"\x00\x01\x1f\x7f"), r#""\x00\x01\x1f\x7f""#);
        assert_eq!(go_quote(b"'"), r#""'""#);
    }

    #[test]
    fn invalid_utf8_bytes_are_hex_escaped() {
        assert_eq!(go_quote(b"\xff"), r#""\xff""#);
        assert_eq!(go_quote(b"\x80abc"), r#""\x80abc""#);
        // A truncated sequence: each byte on its own.
        assert_eq!(go_quote(b"\xe2\x82"), r#""\xe2\x82""#);
        // Overlong encoding of '/' and an encoded surrogate are invalid.
        assert_eq!(go_quote(b"\xc0\xaf"), r#""\xc0\xaf""#);
        assert_eq!(go_quote(b"\xed\xa0\x80"), r#""\xed\xa0\x80""#);
        // Beyond U+10FFFF.
        assert_eq!(go_quote(b"\xf4\x90\x80\x80"), r#""\xf4\x90\x80\x80""#);
        assert_eq!(go_quote(b"\xc3"), r#""\xc3""#);
    }

    #[test]
    fn unicode() {
        // Printable non-ASCII runes are kept.
        assert_eq!(go_quote("héllo, 世界".as_bytes()), "\"héllo, 世界\"");
        assert_eq!(go_quote("😀".as_bytes()), "\"😀\"");
        // U+FFFD encoded properly is printable.
        assert_eq!(go_quote("\u{fffd}".as_bytes()), "\"\u{fffd}\"");
        // Non-printable runes: \u and \U forms.
        assert_eq!(go_quote("\u{a0}".as_bytes()), r#""\u00a0""#);
        assert_eq!(go_quote("\u{85}".as_bytes()), r#""\u0085""#);
        assert_eq!(go_quote("\u{200b}".as_bytes()), r#""\u200b""#);
        assert_eq!(go_quote("\u{2028}".as_bytes()), r#""\u2028""#);
        assert_eq!(go_quote("\u{feff}".as_bytes()), r#""\ufeff""#);
        assert_eq!(go_quote("\u{e000}".as_bytes()), r#""\ue000""#);
        assert_eq!(go_quote("\u{e0001}".as_bytes()), r#""\U000e0001""#);
        assert_eq!(go_quote("\u{10ffff}".as_bytes()), r#""\U0010ffff""#);
    }

    #[test]
    fn is_print_matches_categories() {
        for c in [
            'a', 'Z', '0', '~', ' ', 'é', 'ß', '世', '€', '\u{301}', '😀',
        ] {
            assert!(go_is_print(c), "{c:?}");
        }
        for c in [
            '\n', '\x7f', '\u{80}', '\u{a0}', '\u{ad}', '\u{3000}', '\u{fdd0}', '\u{ffff}',
        ] {
            assert!(!go_is_print(c), "{c:?}");
        }
    }
}
