//! Activating the applied generation again, on a home that still holds it,
//! is confirmed from hearth's record alone (`src/home/confirm.rs`): nothing
//! is read of the manifest, nothing is written. Whatever differs sends the
//! activation down the full path, which does what it always did: each test
//! below makes one such difference and shows that work done, and the first
//! shows that the confirmed run says exactly what the full path says.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;

fn activate(home: &TestHome, gen: &Path) -> Run {
    home.hearth(["activate", path_str(gen)])
}

/// A home with links at the top and in a directory hearth made, and a
/// copy, activated once.
fn applied() -> (TestHome, PathBuf) {
    nix_available();
    let home = TestHome::new();
    let gen = build_generation(
        &home
            .gen()
            .text(".config/app/a.conf", "a\n")
            .text("top", "t\n")
            .file(FileSpec::text(".netrc", "n\n").copy().mode("0600")),
    );
    activate(&home, &gen).assert_ok();
    (home, gen)
}

/// Drops what the record keeps for confirming (as a state written before
/// it was kept), so that the next activation takes the full path.
fn forget_facts(home: &TestHome) {
    let path = home.state_dir().join("state.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    state["current"]
        .as_object_mut()
        .unwrap()
        .remove("facts")
        .expect("facts recorded");
    fs::write(&path, state.to_string()).unwrap();
}

#[test]
fn a_home_that_holds_the_generation_is_left_alone_and_told_as_the_full_path_tells_it() {
    let (home, gen) = applied();
    let state = home.state_dir().join("state.json");
    for args in [
        vec!["activate"],
        vec!["activate", "--json"],
        vec!["plan"],
        vec!["plan", "--json"],
    ] {
        let mut args: Vec<&str> = args;
        args.push(path_str(&gen));
        forget_facts(&home);
        let full = home.hearth(&args);
        full.assert_ok();
        // The full path recorded the facts again (format 2 with them).
        if args[0] == "activate" {
            assert!(fs::read_to_string(&state).unwrap().contains(r#""facts""#));
        } else {
            home.hearth(["activate", path_str(&gen)]).assert_ok();
        }
        let before = home.snapshot();
        let written = fs::read(&state).unwrap();
        let mtime = fs::metadata(&state).unwrap().modified().unwrap();
        let confirmed = home.hearth(&args);
        confirmed.assert_ok();
        assert_eq!(confirmed.stdout, full.stdout, "{args:?}");
        assert_eq!(confirmed.stderr, full.stderr, "{args:?}");
        assert_same(&before, &home.snapshot());
        assert_eq!(fs::read(&state).unwrap(), written);
        assert_eq!(fs::metadata(&state).unwrap().modified().unwrap(), mtime);
        assert!(!home.state_dir().join("journal").exists());
    }
    let run = activate(&home, &gen);
    assert!(
        run.stdout.contains("already matched (3 unchanged)"),
        "{run}"
    );
}

#[test]
fn a_link_the_user_removed_is_made_again() {
    let (home, gen) = applied();
    fs::remove_file(home.join(".config/app/a.conf")).unwrap();
    activate(&home, &gen).assert_ok();
    assert_eq!(read_file(&home, ".config/app/a.conf"), "a\n");
}

/// A home of more links than are worth a second thread for the check
/// (4,096, `src/home/confirm.rs`): the record lists these links (all to
/// one file) in the generation's order, and the two threads take runs of
/// 64 by turns, so the links removed below fall to both. Each is made again; then the home is confirmed.
#[test]
fn in_a_large_home_a_link_removed_from_either_share_is_made_again() {
    nix_available();
    let home = TestHome::new();
    let tree = build_tree(&[("one", "1\n", false)]);
    let source = tree.join("one");
    let gen = build_generation(&home.gen().links_to(&source, 32, 144));
    activate(&home, &gen).assert_ok();
    // Positions 0, 70, 144, 2,548 and 4,607 of 4,608: runs 0, 1, 2, 39, 71.
    for rel in ["d00/f000", "d00/f070", "d01/f000", "d17/f100", "d31/f143"] {
        fs::remove_file(home.join(rel)).unwrap();
        let run = activate(&home, &gen);
        run.assert_ok();
        assert!(!run.stdout.contains("already matched"), "{rel}: {run}");
        assert_eq!(fs::read_link(home.join(rel)).unwrap(), source, "{rel}");
    }
    let run = activate(&home, &gen);
    run.assert_ok();
    assert!(run.stdout.contains("already matched"), "{run}");
}

#[test]
fn a_link_the_user_replaced_is_a_conflict_and_kept() {
    let (home, gen) = applied();
    fs::remove_file(home.join("top")).unwrap();
    write_file(&home, "top", "mine\n");
    activate(&home, &gen).assert_code(3);
    assert_eq!(read_file(&home, "top"), "mine\n");
}

#[test]
fn a_copy_the_user_edited_is_a_conflict_and_kept() {
    let (home, gen) = applied();
    write_file(&home, ".netrc", "edited\n");
    activate(&home, &gen).assert_code(3);
    assert_eq!(read_file(&home, ".netrc"), "edited\n");
}

#[test]
fn a_directory_hearth_made_that_became_a_link_is_not_followed() {
    let (home, gen) = applied();
    let elsewhere = home.join("elsewhere");
    fs::create_dir_all(&elsewhere).unwrap();
    fs::rename(home.join(".config/app"), elsewhere.join("app")).unwrap();
    symlink(&home, ".config/app", elsewhere.join("app"));
    let run = activate(&home, &gen);
    assert!(!run.stdout.contains("already matched"), "{run}");
    // What is in the linked directory is not hearth's to touch.
    assert!(fs::symlink_metadata(elsewhere.join("app/a.conf")).is_ok());
}

#[test]
fn a_missing_gc_root_is_registered_again() {
    let (home, gen) = applied();
    let root = home.state_dir().join("gcroots/1");
    fs::remove_file(&root).unwrap();
    activate(&home, &gen).assert_ok();
    assert_eq!(fs::read_link(&root).unwrap(), gen);
}

#[test]
fn steps_run_on_every_activation() {
    nix_available();
    let home = TestHome::new();
    let gen = build_generation(&home.gen().text("a", "a\n").step(
        "log",
        "files",
        "echo ran >> \"$HOME/log\"\n",
    ));
    for _ in 0..3 {
        activate(&home, &gen).assert_ok();
    }
    assert_eq!(read_file(&home, "log"), "ran\nran\nran\n");
}
