//! JSON strings, fast. `serde_json` looks up every byte of every string in
//! its table of characters to escape; the journal, the state and the
//! manifest of a large activation are hundreds of thousands of paths, which
//! almost never hold one. Written, a string without any is copied as it is,
//! in one write; one with any goes through `serde_json`, so the bytes
//! written are exactly those `serde_json` writes. Read, the end of a string
//! is found eight bytes at a time (`quote`, `special`); the readers that
//! use them leave a string with an escape to `serde_json`.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` as they are (punctuation, keys already quoted).
pub fn raw(w: &mut impl Write, bytes: &[u8]) -> serde_json::Result<()> {
    w.write_all(bytes).map_err(serde_json::Error::io)
}

/// Writes `s` as a JSON string.
pub fn string(w: &mut impl Write, s: &str) -> serde_json::Result<()> {
    if needs_escape(s.as_bytes()) {
        serde_json::to_writer(w, s)
    } else {
        raw(w, b"\"")?;
        raw(w, s.as_bytes())?;
        raw(w, b"\"")
    }
}

/// Whether `bytes` hold anything `serde_json` escapes: a control
/// character, `"` or `\\`.
fn needs_escape(bytes: &[u8]) -> bool {
    special(bytes).is_some()
}

/// Writes `p` as a JSON string; one that is not UTF-8 is `serde_json`'s
/// error, as when it is serialized.
pub fn path(w: &mut impl Write, p: &Path) -> serde_json::Result<()> {
    match p.to_str() {
        Some(s) => string(w, s),
        None => serde_json::to_writer(w, p),
    }
}

/// Where the first `"` of `s` is.
#[inline(never)]
pub fn quote(s: &[u8]) -> Option<usize> {
    find(s, |w| equal(w, b'"'), |b| b == b'"')
}

/// Where the first byte of `s` that ends a plain string is: `"`, `\` or a
/// control character.
#[inline(never)]
pub fn special(s: &[u8]) -> Option<usize> {
    find(
        s,
        |w| equal(w, b'"') | equal(w, b'\\') | below(w, 0x20),
        |b| b == b'"' || b == b'\\' || b < 0x20,
    )
}

// Strings are most of a manifest or a state, and looked at a byte at a time they
// cost most of what this reader saves: `find` looks at eight at once.
// Measured with callgrind, `quote` and `special` cost least as functions
// of their own: inlined into the parser, their loops run out of registers.

/// Where the first byte of `s` is that `word` flags in the eight bytes
/// it is among, or that `byte` is true of in the last few.
fn find(s: &[u8], word: impl Fn(u64) -> u64, byte: impl Fn(u8) -> bool) -> Option<usize> {
    let mut at = 0;
    while let Some(eight) = s.get(at..at + 8) {
        let found = word(u64::from_le_bytes(eight.try_into().ok()?));
        if found != 0 {
            return Some(at + found.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    let i = s.get(at..)?.iter().position(|&b| byte(b))?;
    Some(at + i)
}

// The bytes of a word (read little-endian) that match: the high bit of
// each is set. Borrows only carry above a matching byte, so the lowest
// bit set is exact, and so is the lowest of several masks or'ed.
const ONES: u64 = u64::from_le_bytes([1; 8]);
const HIGH: u64 = ONES << 7;

fn equal(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x & HIGH
}

/// Bytes below `byte`, which is at most 0x80.
fn below(word: u64, byte: u8) -> u64 {
    word.wrapping_sub(ONES * u64::from(byte)) & !word & HIGH
}

/// What `fast` writes, checked to be the bytes `serde_json` writes for
/// `value` (the tests of the formats written with this module).
#[cfg(test)]
pub fn written_as_serde(
    value: &impl serde::Serialize,
    fast: impl FnOnce(&mut Vec<u8>) -> serde_json::Result<()>,
) -> String {
    let serde = serde_json::to_string(value).unwrap();
    let mut bytes = Vec::new();
    fast(&mut bytes).unwrap();
    assert_eq!(String::from_utf8(bytes).unwrap(), serde);
    serde
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        for s in [
            "",
            ".config/git/config",
            "/nix/store/abc-x/é ü 𝄞",
            "a\"b",
            "a\\b",
            "tab\there",
            "nul\0",
            "\u{1f}\u{7f}/",
        ] {
            let mut fast = Vec::new();
            string(&mut fast, s).unwrap();
            assert_eq!(fast, serde_json::to_vec(s).unwrap(), "{s:?}");
            let mut fast = Vec::new();
            path(&mut fast, Path::new(s)).unwrap();
            assert_eq!(fast, serde_json::to_vec(Path::new(s)).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn every_byte_that_needs_escaping_is_found_in_every_lane() {
        for b in 0..=255u8 {
            let escaped = serde_json::to_string(&char::from(b).to_string()).unwrap();
            let plain = b >= 0x80 || escaped.len() == 3;
            for at in 0..17 {
                let mut bytes = vec![b'a'; 17];
                bytes[at] = b;
                // High bytes alone are not UTF-8; the scan is of bytes.
                assert_eq!(needs_escape(&bytes), !plain, "byte {b:#x} at {at}");
            }
        }
        assert!(!needs_escape("/nix/store/é-𝄞-ÿ".as_bytes()));
    }

    #[test]
    fn a_path_that_is_not_utf8_is_serde_jsons_error() {
        let p = Path::new(OsStr::from_bytes(b"/nix/store/\xff"));
        let fast = path(&mut Vec::new(), p).unwrap_err().to_string();
        let serde = serde_json::to_vec(p).unwrap_err().to_string();
        assert_eq!(fast, serde);
    }

    #[test]
    fn finds_the_first_special_byte() {
        let text = b"0123456789abcdef0123456789\"\\\x01";
        for start in 0..text.len() {
            for end in start..=text.len() {
                let s = &text[start..end];
                let want = s.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
                assert_eq!(special(s), want, "{s:?}");
                assert_eq!(quote(s), s.iter().position(|&b| b == b'"'), "{s:?}");
            }
        }
        // Every byte value, at every place in a word and past it.
        for b in 0..=u8::MAX {
            for at in 0..20 {
                let mut s = vec![b'a'; 24];
                s[at] = b;
                let special_byte = b == b'"' || b == b'\\' || b < 0x20;
                assert_eq!(special(&s), special_byte.then_some(at), "{b:#x} at {at}");
                assert_eq!(quote(&s), (b == b'"').then_some(at), "{b:#x} at {at}");
            }
        }
        // UTF-8 (bytes of 0x80 and above) never ends a string.
        let text = "été 漢字 🦀 ok\"";
        assert_eq!(special(text.as_bytes()), text.find('"'));
    }
}
