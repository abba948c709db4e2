//! `hearth diff`: a unified diff between what the current generation wants
//! and what is in the home, for a managed copy the user edited (content
//! and mode), a managed link replaced by a regular file, and other drift
//! listed after; paths relative to the home or absolute inside it; colour
//! only on request of the terminal rules (`CLICOLOR_FORCE`, `NO_COLOR`);
//! exit status 0 when nothing differs and 6 (drift) when something does.

use crate::common;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use common::*;

fn activated(home: &TestHome) -> std::path::PathBuf {
    let gen = build_generation(
        &home
            .gen()
            .file(
                FileSpec::text(".config/app/settings", "one\ntwo\nthree\nfour\n")
                    .copy()
                    .mode("0644"),
            )
            .text(".bashrc", "alias ll='ls -l'\nexport EDITOR=vi\n")
            .text(".profile", "PATH=$HOME/bin:$PATH\n")
            .text(".untouched", "same\n"),
    );
    home.hearth(["activate", path_str(&gen)]).assert_ok();
    gen
}

#[test]
fn nothing_to_show_says_so() {
    let home = TestHome::new();
    let none = home.hearth(["diff"]);
    none.assert_ok();
    assert_eq!(
        none.stdout,
        "no generation has been activated in this home; there is nothing to compare\n"
    );
    activated(&home);
    let run = home.hearth(["diff"]);
    run.assert_ok();
    insta::assert_snapshot!("clean", home.redact(&run.stdout));
}

#[test]
fn edited_copy_replaced_link_and_other_drift() {
    let home = TestHome::new();
    activated(&home);
    let settings = home.join(".config/app/settings");
    fs::write(&settings, "one\n2\nthree\nfour\nfive").unwrap();
    fs::set_permissions(&settings, fs::Permissions::from_mode(0o600)).unwrap();
    // The link is replaced by an edited copy of what it pointed at.
    fs::remove_file(home.join(".bashrc")).unwrap();
    fs::write(
        home.join(".bashrc"),
        "alias ll='ls -la'\nexport EDITOR=vi\n",
    )
    .unwrap();
    fs::remove_file(home.join(".profile")).unwrap();
    let before = home.snapshot();

    let run = home.hearth(["diff"]);
    run.assert_code(6);
    assert!(run.stderr.is_empty(), "{run}");
    // Plain: stdout is not a terminal.
    assert!(!run.stdout.contains('\x1b'), "{run}");
    insta::assert_snapshot!("all", home.redact(&run.stdout));
    assert_same(&before, &home.snapshot());

    // One path, relative to the home and absolute inside it.
    let one = home.hearth(["diff", ".bashrc"]);
    one.assert_code(6);
    let abs = home.hearth(["diff", path_str(&home.join(".bashrc"))]);
    assert_eq!(one.stdout, abs.stdout);
    insta::assert_snapshot!("one_path", home.redact(&one.stdout));
    // A directory stands for the managed paths below it.
    let dir = home.hearth(["diff", ".config"]);
    dir.assert_code(6);
    assert!(dir.stdout.contains("~/.config/app/settings"), "{dir}");
    assert!(!dir.stdout.contains(".bashrc"), "{dir}");
    // A path that matches: nothing to show.
    let same = home.hearth(["diff", ".untouched"]);
    same.assert_ok();
    insta::assert_snapshot!("one_path_clean", home.redact(&same.stdout));
}

#[test]
fn colour_follows_the_terminal_rules() {
    let home = TestHome::new();
    activated(&home);
    fs::write(home.join(".config/app/settings"), "one\n2\nthree\nfour\n").unwrap();
    let forced = home.hearth_env(["diff"], &[("CLICOLOR_FORCE", "1")]);
    forced.assert_code(6);
    insta::assert_snapshot!(
        "coloured",
        home.redact(&forced.stdout).replace('\x1b', "<ESC>")
    );
    let no_color = home.hearth_env(["diff"], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]);
    assert!(!no_color.stdout.contains('\x1b'), "{no_color}");
}

#[test]
fn bad_paths_are_refused_by_name() {
    let home = TestHome::new();
    activated(&home);
    let mut shown = String::new();
    for p in ["/etc/passwd", "../elsewhere", ".not-managed"] {
        let run = home.hearth(["diff", p]);
        run.assert_code(2);
        shown.push_str(&home.redact(&run.stderr));
    }
    insta::assert_snapshot!("bad_paths", shown);
}

/// Text from the home is escaped: a control character in an edited file
/// cannot act on the terminal.
#[test]
fn control_characters_are_escaped() {
    let home = TestHome::new();
    activated(&home);
    fs::write(
        home.join(".config/app/settings"),
        "one\ntwo\x1b[2J\nthree\nfour\n",
    )
    .unwrap();
    let run = home.hearth(["diff"]);
    run.assert_code(6);
    assert!(!run.stdout.contains('\x1b'), "{run}");
    assert!(run.stdout.contains("+two\\u{1b}[2J"), "{run}");
}
