//! Writing JSON strings fast. `serde_json` looks up every byte of every
//! string in its table of characters to escape; the journal and the state
//! of a large activation are hundreds of thousands of paths, which almost
//! never hold one. A string without any is copied as it is, in one write;
//! one with any goes through `serde_json`, so the bytes written are exactly
//! those `serde_json` writes.

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
/// character, `"` or `\\`. Eight bytes at a time: a byte below 0x20, or
/// equal to one of the two, sets the high bit of its lane in the tests
/// below (a false positive can only follow a true one, so `any` is exact).
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let zero_lane = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let special = |x: u64| {
        let below_space = x.wrapping_sub(ONES * 0x20) & !x & HIGHS;
        below_space
            | zero_lane(x ^ (ONES * u64::from(b'"')))
            | zero_lane(x ^ (ONES * u64::from(b'\\')))
    };
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut lane = [0u8; 8];
        lane.copy_from_slice(chunk);
        if special(u64::from_ne_bytes(lane)) != 0 {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// Writes `p` as a JSON string; one that is not UTF-8 is `serde_json`'s
/// error, as when it is serialized.
pub fn path(w: &mut impl Write, p: &Path) -> serde_json::Result<()> {
    match p.to_str() {
        Some(s) => string(w, s),
        None => serde_json::to_writer(w, p),
    }
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
}
