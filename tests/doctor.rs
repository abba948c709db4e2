//! `hearth doctor` against real setups: a healthy home, then one broken
//! three ways at once (a generation's GC root removed, the packages
//! profile not on PATH, an activation killed half-way leaving its
//! journal), and without the Nix tools on PATH. The report is pinned; the
//! exit status is 0 only when no check failed; nothing is changed.

use crate::common;

use std::fs;

use common::*;

const KILLED: i32 = 128 + 9;

/// The report without the Nix tools' lines (their versions and places are
/// the machine's), which must all be `ok`.
#[track_caller]
fn without_nix_lines(run: &Run) -> String {
    let mut lines = run.stdout.lines();
    for tool in ["nix-build", "nix-store", "nix-env"] {
        let line = lines.next().unwrap_or_default();
        assert!(line.starts_with(&format!("ok    {tool}")), "{run}");
        assert!(line.contains("(Nix)"), "{run}");
    }
    lines.fold(String::new(), |mut s, l| {
        s.push_str(l);
        s.push('\n');
        s
    })
}

#[test]
fn a_broken_setup_is_reported_with_what_to_do() {
    let home = TestHome::new();
    let gens = build_generations(&[
        home.gen()
            .text(".a", "1\n")
            .packages(&[("bin/hello", "#!/bin/sh\necho hello\n", true)]),
        home.gen().text(".a", "2\n").text(".b", "2\n").packages(&[(
            "bin/hello",
            "#!/bin/sh\necho hello\n",
            true,
        )]),
        home.gen().text(".a", "3\n").text(".c", "3\n"),
    ]);
    let fresh = home.hearth(["doctor"]);
    fresh.assert_ok();
    insta::assert_snapshot!("fresh", home.redact(&without_nix_lines(&fresh)));

    home.hearth(["activate", path_str(&gens[0])]).assert_ok();
    home.hearth(["activate", path_str(&gens[1])]).assert_ok();
    let profile_bin = home.join(".local/state/nix/profiles/hearth-packages/bin");
    let path = format!(
        "{}:{}",
        path_str(&profile_bin),
        std::env::var("PATH").unwrap()
    );
    let healthy = home.hearth_env(
        ["doctor"],
        &[("PATH", &path), ("__HEARTH_SESS_VARS_SOURCED", "1")],
    );
    healthy.assert_ok();
    insta::assert_snapshot!("healthy", home.redact(&without_nix_lines(&healthy)));

    // Broken: generation 1's root is gone, the profile is not on PATH,
    // and an activation was killed after its journal was written.
    fs::remove_file(home.state_dir().join("gcroots/1")).unwrap();
    let mut k = 1;
    loop {
        let run = home.hearth_env(
            ["activate", path_str(&gens[2])],
            &[("HEARTH_FAULT_KILL_AT", &k.to_string())],
        );
        assert_eq!(run.code, KILLED, "k = {k}: {run}");
        if home.state_dir().join("journal").exists() {
            break;
        }
        k += 1;
    }
    let state_before = snapshot(home.state_dir(), &[]);
    let home_before = home.snapshot();
    let broken = home.hearth(["doctor"]);
    broken.assert_code(1);
    insta::assert_snapshot!("broken", home.redact(&without_nix_lines(&broken)));
    // Read only: the journal is still there for the next real run.
    assert_same(&state_before, &snapshot(home.state_dir(), &[]));
    assert_same(&home_before, &home.snapshot());
}

#[test]
fn missing_nix_tools_fail() {
    let home = TestHome::new();
    let run = home.hearth_env(["doctor"], &[("PATH", "/nonexistent")]);
    run.assert_code(1);
    insta::assert_snapshot!("no_nix", home.redact(&run.stdout));
}
