//! What happens once the home has changed: a record that cannot be written
//! reverts the home (and says so), a reader that goes away or a full stdout
//! never stops the hooks, hooks cut short by a kill are owed to the next
//! activation, and hearth leaves none of its temporary names behind.
//!
//! Some tests need the `fault-injection` feature:
//! `cargo test --features fault-injection --test integration commit::`.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::*;

fn activate(home: &TestHome, gen: &Path) -> Run {
    home.hearth(["activate", path_str(gen)])
}

/// A step or hook that appends its name to ~/log.
fn logging(name: &str) -> String {
    format!("echo {name} >> \"$HOME/log\"\n")
}

fn log(home: &TestHome) -> Vec<String> {
    fs::read_to_string(home.join("log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_record_that_cannot_be_written_reverts_the_home_and_says_so() {
    nix_available();
    let home = TestHome::new();
    let gens = build_generations(&[
        home.gen().text("a", "1\n"),
        home.gen().text("a", "2\n").text("b", "b\n"),
    ]);
    activate(&home, &gens[0]).assert_ok();
    let before = home.snapshot();
    // The record of generation 2 cannot be written.
    let run = home.hearth_env(
        ["activate", path_str(&gens[1])],
        &[("HEARTH_FAULT_RECORD_FAIL", "1")],
    );
    run.assert_code(4);
    insta::assert_snapshot!("record_failed", home.redact(&run.stderr));
    assert!(run.stderr.contains("could not be recorded"), "{run}");
    assert!(run.stderr.contains("every change was reverted"), "{run}");
    assert_same(&before, &home.snapshot());
    assert_eq!(litter(home.path()), Vec::<PathBuf>::new());
    // The record still says generation 1, and matches the home.
    let status = home.hearth(["status", "--json"]);
    status.assert_ok();
    assert_eq!(status.json()["number"], 1, "{status}");
    // Once the record can be written, the switch goes through.
    activate(&home, &gens[1]).assert_ok();
    assert_eq!(read_file(&home, "b"), "b\n");
}

#[test]
fn a_full_stdout_does_not_stop_the_hooks() {
    nix_available();
    let home = TestHome::new();
    let gens = build_generations(&[home
        .gen()
        .file(FileSpec::text("a", "1\n").on_change(&logging("hook")))
        .step("after", "files", &logging("step"))]);
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = home
        .command(["activate", path_str(&gens[0])])
        .stdout(Stdio::from(full))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let run = Run::from_output(out);
    run.assert_ok();
    assert_eq!(log(&home), ["hook", "step"]);
}

#[test]
fn a_reader_that_goes_away_does_not_stop_the_hooks() {
    nix_available();
    let home = TestHome::new();
    let mut gen = home.gen();
    for i in 0..200 {
        gen = gen.text(&format!("f{i:03}"), "x\n");
    }
    let gens = build_generations(&[gen
        .file(FileSpec::text("a", "1\n").on_change(&logging("hook")))
        .step("after", "files", &logging("step"))]);
    // The reader takes one line and exits; hearth writes the other 200.
    let script = format!(
        "{} activate {} | head -n 1 >/dev/null; echo \"${{PIPESTATUS[0]}}\"",
        env!("CARGO_BIN_EXE_hearth"),
        path_str(&gens[0])
    );
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .env("HOME", home.path())
        .env_remove("XDG_STATE_HOME")
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        status.trim(),
        "0",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(log(&home), ["hook", "step"]);
}

/// The first hook kills hearth (as a system shutdown or a dead parent
/// would) after the commit; the next activation runs what was owed: the
/// step after it. The hook that was running is not run again (one that
/// hung until it was killed would hang again).
#[test]
fn hooks_cut_short_by_a_kill_run_at_the_next_activation() {
    nix_available();
    let home = TestHome::new();
    let killer =
        "if [ ! -e \"$HOME/killed\" ]; then touch \"$HOME/killed\"; kill -9 $PPID; sleep 5; fi\n\
                  echo hook >> \"$HOME/log\"\n";
    let gens = build_generations(&[
        home.gen().text("other", "o\n"),
        home.gen()
            .file(FileSpec::text("a", "1\n").on_change(killer))
            .step("after", "files", &logging("step")),
    ]);
    activate(&home, &gens[0]).assert_ok();
    let run = activate(&home, &gens[1]);
    assert_eq!(run.code, 128 + 9, "{run}");
    assert_eq!(log(&home), Vec::<String>::new());
    // The home is on generation 2 (it was committed); reading commands
    // leave the hooks owed.
    home.hearth(["status"]).assert_ok();
    assert_eq!(log(&home), Vec::<String>::new());
    // The next activation (of any generation) runs them first.
    let run = activate(&home, &gens[1]);
    run.assert_ok();
    assert!(run.stderr.contains("still owed"), "{run}");
    // The owed step, then this activation's own.
    assert_eq!(log(&home), ["step", "step"]);
    assert_eq!(litter(home.path()), Vec::<PathBuf>::new());
}

/// Cleanup after the commit fails (injected at its first deletion): the
/// stash stays, the journal is kept, and the next run deletes it.
#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features fault-injection"
)]
fn a_cleanup_that_fails_is_finished_by_the_next_run() {
    nix_available();
    let home = TestHome::new();
    let gens = build_generations(&[
        home.gen().file(FileSpec::text("conf", "1\n").copy()),
        home.gen().file(FileSpec::text("conf", "2\n").copy()),
    ]);
    activate(&home, &gens[0]).assert_ok();
    let run = home.hearth_env(
        ["activate", path_str(&gens[1])],
        &[("HEARTH_FAULT_CLEANUP_FAIL_AT", "1")],
    );
    run.assert_ok();
    assert!(run.stderr.contains("warning"), "{run}");
    assert_eq!(litter(home.path()).len(), 1, "{run}");
    home.hearth(["status"]).assert_ok();
    assert_eq!(litter(home.path()), Vec::<PathBuf>::new());
    assert_eq!(read_file(&home, "conf"), "2\n");
}

#[test]
fn removing_a_copy_removes_the_directory_hearth_made_for_it() {
    nix_available();
    let home = TestHome::new();
    let gens = build_generations(&[
        home.gen().file(FileSpec::text("d/e/conf", "1\n").copy()),
        home.gen().text("other", "o\n"),
        home.gen().text("d", "now a file\n"),
    ]);
    activate(&home, &gens[0]).assert_ok();
    activate(&home, &gens[1]).assert_ok();
    assert!(!home.join("d").exists(), "{:?}", home.snapshot());
    assert_eq!(litter(home.path()), Vec::<PathBuf>::new());
    activate(&home, &gens[2]).assert_ok();
    // And straight from the first to the third: the directory with the
    // copy in it makes way for the file.
    let home = TestHome::new();
    let gens = build_generations(&[
        home.gen().file(FileSpec::text("d/e/conf", "1\n").copy()),
        home.gen().text("d", "now a file\n"),
    ]);
    activate(&home, &gens[0]).assert_ok();
    activate(&home, &gens[1]).assert_ok();
    assert_eq!(read_file(&home, "d"), "now a file\n");
    assert_eq!(litter(home.path()), Vec::<PathBuf>::new());
}

#[test]
fn nothing_of_hearths_is_moved_aside_with_a_users_directory() {
    nix_available();
    let home = TestHome::new();
    let gens = build_generations(&[
        home.gen().file(FileSpec::text("a/conf", "1\n").copy()),
        home.gen().text("a", "a file now\n"),
    ]);
    activate(&home, &gens[0]).assert_ok();
    write_file(&home, "a/mine", "the user's\n");
    home.hearth(["activate", path_str(&gens[1]), "--backup-ext", "bak"])
        .assert_ok();
    assert_eq!(read_file(&home, "a"), "a file now\n");
    assert_eq!(read_file(&home, "a.bak/mine"), "the user's\n");
    assert!(!home.join("a.bak/conf").exists());
    assert_eq!(litter(home.path()), Vec::<PathBuf>::new());
}
