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

/// hearth doctor with none of the session guards of the test's own
/// environment, and `env`.
fn doctor_with(home: &TestHome, env: &[(&str, &str)]) -> Run {
    let out = home
        .command(["doctor"])
        .env_remove("__HEARTH_SESS_VARS_SOURCED")
        .env_remove("__HM_SESS_VARS_SOURCED")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    Run::from_output(out)
}

/// The `session` line of a report, and its hint.
#[track_caller]
fn session_part(run: &Run) -> String {
    let mut part = String::new();
    let mut lines = run.stdout.lines();
    let line = lines
        .find(|l| l.split_whitespace().nth(1) == Some("session"))
        .unwrap_or_else(|| panic!("no session line:\n{run}"));
    part.push_str(line);
    part.push('\n');
    for hint in lines.take_while(|l| l.starts_with("  ")) {
        part.push_str(hint);
        part.push('\n');
    }
    part
}

/// A home built and switched to by `hearth switch` (packages and a
/// session variable), whose variables are not sourced: reported with what
/// to do, whether no shell file sources them or one does (log in again);
/// a real login shell that reads the line has them.
#[test]
fn session_variables_not_sourced_are_reported_with_what_to_do() {
    let nixpkgs = nixpkgs_or_skip!();
    let home = TestHome::new();
    let scratch = common::nix_eval::tempdir("doctor", "session");
    let np = crate::standalone::fake_nixpkgs(&scratch, &nixpkgs);
    let include = format!("nixpkgs={}", np.display());
    let file = home.join(".config/hearth/home.nix");
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    fs::write(
        &file,
        format!(
            "{{ pkgs, ... }}: {{\n  home.username = \"{}\";\n  home.homeDirectory = \"{}\";\n  home.sessionVariables.EDITOR = \"vim\";\n  home.packages = [ pkgs.hello ];\n}}\n",
            common::current_user(),
            home.path().display()
        ),
    )
    .unwrap();
    let switch = home
        .command(["switch", "-I", &include])
        .env("SHELL", "/bin/bash")
        .output()
        .unwrap();
    Run::from_output(switch).assert_ok();
    let profile_bin = home.join(".local/state/nix/profiles/hearth-packages/bin");
    let path = format!(
        "{}:{}",
        path_str(&profile_bin),
        std::env::var("PATH").unwrap()
    );

    // No shell file sources them.
    let none = doctor_with(&home, &[("PATH", &path)]);
    none.assert_ok();
    // Home Manager's, not hearth's.
    let hm = doctor_with(&home, &[("PATH", &path), ("__HM_SESS_VARS_SOURCED", "1")]);
    hm.assert_ok();
    // `hearth init` adds the line to ~/.profile: this environment still
    // lacks them, and the hint says to log in again.
    let init = home
        .command(["init", "--yes"])
        .env("SHELL", "/bin/bash")
        .output()
        .unwrap();
    Run::from_output(init).assert_ok();
    let added = doctor_with(&home, &[("PATH", &path)]);
    added.assert_ok();
    // A login shell reads ~/.profile, which sources them.
    let login = std::process::Command::new("/bin/sh")
        .args([
            "-l",
            "-c",
            "exec \"$0\" doctor",
            env!("CARGO_BIN_EXE_hearth"),
        ])
        .env_clear()
        .env("HOME", home.path())
        .env("USER", common::current_user())
        .env("PATH", &path)
        .output()
        .unwrap();
    let login = Run::from_output(login);
    assert!(session_part(&login).starts_with("ok    session"), "{login}");
    let report = [&none, &hm, &added, &login]
        .iter()
        .map(|r| session_part(r))
        .collect::<Vec<_>>()
        .join("---\n");
    insta::assert_snapshot!("session_not_sourced", home.redact(&report));
}

/// A generation that names no packages environment (the system installs
/// the packages, as on NixOS): its variables are the system's login
/// shells' to source, and the hint says so.
#[test]
fn session_variables_of_a_system_installed_home_point_at_the_login_shells() {
    let nixpkgs = nixpkgs_or_skip!();
    let home = TestHome::new();
    let gen = common::nix_eval::build_home(
        &nixpkgs,
        &home,
        r#"{ ... }: { home.stateVersion = "25.05"; home.sessionVariables.EDITOR = "vim"; }"#,
    )
    .unwrap_or_else(|e| panic!("nix-build failed:\n{e}"));
    home.hearth(["activate", path_str(&gen)]).assert_ok();
    let run = doctor_with(&home, &[]);
    run.assert_ok();
    let names = [(path_str(&gen), "GEN")];
    insta::assert_snapshot!(
        "session_system",
        home.redact(&redact(&session_part(&run), &names))
    );
}
