//! The fuzz targets' bodies, shared by the libFuzzer binaries
//! (`fuzz_targets/`) and the stable replay test (`tests/replay.rs`).
//! Each panics on a broken promise; a returned value means the input was fine.

use hearth::manifest::{parse, validate};
use hearth::home::plan::model::{check_plan, Scenario};

/// Arbitrary bytes as a manifest: parsing and validation must never panic,
/// and whatever validates stays inside the home.
pub fn manifest(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(m) = parse(text) else {
        return;
    };
    // Without source checks no file outside the store is looked up; copy
    // sources are still stat'ed, which is harmless.
    let Ok(files) = validate(&m, false) else {
        return;
    };
    for f in &files {
        let t = f.target.as_str();
        assert!(
            !t.is_empty()
                && !t.starts_with('/')
                && t.split('/').all(|c| !c.is_empty() && c != "." && c != ".."),
            "a validated target escapes or is not normalized: {t:?}"
        );
        assert!(f.source.is_absolute(), "relative source {:?}", f.source);
        assert!(f.mode.is_none_or(|m| m & !0o777 == 0), "mode {:?}", f.mode);
    }
    for a in &files {
        for b in &files {
            assert!(
                !a.target.is_below(&b.target),
                "{} lies inside {} yet validated",
                a.target,
                b.target
            );
        }
    }
}

/// Arbitrary bytes decoded as (old state, new generation, home): the plan,
/// played on a model of the home, must respect the ownership rules.
pub fn planner(data: &[u8]) {
    let (case, fs) = Scenario::from_bytes(data).build();
    if let Err(e) = check_plan(&case, &fs) {
        panic!("{e}\ncase: {case:?}\nhome: {fs:?}");
    }
}
