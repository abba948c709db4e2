//! The files hearth keeps in a home's state directory have formats of their
//! own (docs/state.md): `state.json` and the journal carry a `version`. A
//! file from a newer hearth is refused by every command, by name, with
//! nothing changed; one from an older hearth is read (a journal without a
//! version is format 1) or refused clearly.
//!
//! The kill test needs the `fault-injection` feature.

use crate::common;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use common::*;

/// gen1: a link, a copy and a link in a directory gen2 no longer has; gen2
/// changes both, and puts a link where the user has a file (moved aside
/// with `--backup-ext bak`) and one in a new directory.
fn specs(home: &TestHome) -> Vec<GenSpec> {
    vec![
        home.gen()
            .text(".vimrc", "one\n")
            .file(FileSpec::text(".netrc", "one\n").copy().mode("0600"))
            .text(".config/old/x", "old\n"),
        home.gen()
            .text(".vimrc", "two\n")
            .file(FileSpec::text(".netrc", "two\n").copy().mode("0600"))
            .text(".bashrc", "managed\n")
            .text(".config/new/y", "new\n"),
    ]
}

#[expect(
    clippy::struct_field_names,
    reason = "the fixture's TestHome is its home"
)]
struct Home {
    home: TestHome,
    gen1: PathBuf,
    gen2: PathBuf,
}

/// A home on gen1, with the user's own `.bashrc` in gen2's way.
fn on_gen1() -> Home {
    let home = TestHome::new();
    let [gen1, gen2] = build_generations(&specs(&home)).try_into().unwrap();
    home.hearth(["activate", path_str(&gen1)]).assert_ok();
    write_file(&home, ".bashrc", "mine\n");
    Home { home, gen1, gen2 }
}

/// The write at which the switch to gen2 is killed: the user's `.bashrc` is
/// moved aside, `.netrc` replaced (its old copy stashed), `.vimrc`
/// switched, and gen2's `.bashrc` link made under its temporary name.
const KILL_AT: &str = "12";

/// `on_gen1`, then the switch to gen2 killed mid-way: a journal is pending.
fn interrupted() -> (Home, Snapshot) {
    let h = on_gen1();
    let before = h.home.snapshot();
    let run = h.home.hearth_env(
        ["activate", path_str(&h.gen2), "--backup-ext", "bak"],
        &[("HEARTH_FAULT_KILL_AT", KILL_AT)],
    );
    run.assert_code(128 + 9);
    assert!(journal_body(&h.home).is_some(), "no journal pending");
    (h, before)
}

fn journal_path(home: &TestHome) -> PathBuf {
    home.state_dir().join("journal")
}

/// The JSON of the pending journal, if any: the header line says how long.
fn journal_body(home: &TestHome) -> Option<String> {
    let bytes = fs::read(journal_path(home)).ok()?;
    let len: usize = std::str::from_utf8(&bytes[..16])
        .ok()?
        .trim()
        .parse()
        .ok()?;
    (len > 0).then(|| String::from_utf8(bytes[16..16 + len].to_vec()).unwrap())
}

/// Puts `body` in the journal as hearth does: over the file's first bytes,
/// behind a header with its length, the file's size unchanged.
fn set_journal_body(home: &TestHome, body: &str) {
    let path = journal_path(home);
    let mut bytes = fs::read(&path).unwrap();
    let new = format!("{:<15}\n{body}", body.len());
    assert!(bytes.len() >= new.len(), "the journal file is too small");
    bytes[..new.len()].copy_from_slice(new.as_bytes());
    fs::write(&path, bytes).unwrap();
}

/// The commands the issue names, each of which reads the state and the journal.
fn commands(gen: &Path) -> Vec<Vec<String>> {
    let g = path_str(gen).to_owned();
    [
        vec!["activate", &g],
        vec!["plan", &g],
        vec!["status"],
        vec!["generations"],
    ]
    .iter()
    .map(|args| args.iter().map(ToString::to_string).collect())
    .collect()
}

/// Runs every command against the home as it is: each must fail with exit
/// status 1, print nothing on stdout, and change nothing in the home nor in
/// hearth's state. Returns the messages, each with the commands that gave it.
fn refused_by_every_command(h: &Home) -> String {
    let everything = || snapshot(h.home.path(), &[]);
    let before = everything();
    let mut by_message: Vec<(String, Vec<String>)> = Vec::new();
    for args in commands(&h.gen2) {
        let run = h.home.hearth(&args);
        run.assert_code(1);
        assert_eq!(run.stdout, "", "{args:?}: {run}");
        let text = h.home.redact(&run.stderr);
        match by_message.iter_mut().find(|(m, _)| *m == text) {
            Some((_, cmds)) => cmds.push(args[0].clone()),
            None => by_message.push((text, vec![args[0].clone()])),
        }
    }
    assert_untouched(&before, &everything());
    let mut shown = String::new();
    for (text, cmds) in by_message {
        let _ = writeln!(shown, "{}: exit 1", cmds.join(", "));
        for line in text.lines() {
            let _ = writeln!(shown, "  {line}");
        }
    }
    shown
}

// ---------------------------------------------------------------------------
// state.json

#[test]
fn a_state_from_a_newer_hearth_is_refused_and_nothing_changes() {
    let h = on_gen1();
    let path = h.home.state_dir().join("state.json");
    let ours = fs::read_to_string(&path).unwrap();
    assert!(ours.starts_with(r#"{"version":2,"#), "{ours}");
    let mut shown = String::new();
    // A newer format in the shape this hearth knows, and in one it does not
    // know at all: the same refusal.
    for (what, text) in [
        (
            "same shape",
            ours.replacen(r#""version":2"#, r#""version":3"#, 1),
        ),
        (
            "new shape",
            r#"{"version":3,"homes":{"alice":{}}}"#.to_string(),
        ),
    ] {
        fs::write(&path, &text).unwrap();
        let _ = write!(shown, "{what}:\n{}", refused_by_every_command(&h));
        assert_eq!(fs::read_to_string(&path).unwrap(), text);
    }
    insta::assert_snapshot!("state_newer", shown);
    // Put back, the state is this hearth's again.
    fs::write(&path, &ours).unwrap();
    h.home.hearth(["status"]).assert_ok();
}

#[test]
fn a_state_in_an_unknown_older_format_is_refused_clearly() {
    let h = on_gen1();
    let path = h.home.state_dir().join("state.json");
    let ours = fs::read_to_string(&path).unwrap();
    fs::write(&path, ours.replacen(r#""version":2"#, r#""version":0"#, 1)).unwrap();
    insta::assert_snapshot!("state_unknown", refused_by_every_command(&h));
}

/// `state.json` in format 2 rewritten as format 1 (what hearth wrote
/// before): every link and copy under `owned.entries`, no `facts`.
fn as_format_1(v2: &serde_json::Value) -> serde_json::Value {
    use serde_json::{json, Map, Value};
    let mut v = v2.clone();
    v["version"] = json!(1);
    let cur = v["current"].as_object_mut().unwrap();
    let mut entries = Map::new();
    for (dir, links) in cur.remove("links").unwrap().as_object().unwrap() {
        for (path, name) in links.as_object().unwrap() {
            let target = format!("{dir}{}", name.as_str().unwrap());
            entries.insert(path.clone(), json!({ "symlink": { "target": target } }));
        }
    }
    for (path, copy) in cur.remove("copies").unwrap().as_object().unwrap() {
        entries.insert(path.clone(), json!({ "copy": copy }));
    }
    cur.remove("facts");
    let dirs = cur.remove("dirs").unwrap();
    cur.insert(
        "owned".into(),
        json!({ "entries": Value::Object(entries), "dirs": dirs }),
    );
    v
}

/// A state in format 1 is read as it is (nothing to do, no drift), and the
/// next activation writes it in format 2 with the same record.
#[test]
fn a_state_in_format_1_is_read_and_written_again_in_format_2() {
    let h = on_gen1();
    let path = h.home.state_dir().join("state.json");
    let ours: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    let old = as_format_1(&ours);
    assert!(
        old["current"]["owned"]["entries"]
            .as_object()
            .unwrap()
            .len()
            >= 2,
        "{old}"
    );
    fs::write(&path, old.to_string()).unwrap();
    let status = h.home.hearth(["status", "--json"]);
    status.assert_ok();
    assert_eq!(status.json()["drift"], serde_json::json!([]), "{status}");
    let plan = h.home.hearth(["plan", path_str(&h.gen1)]);
    plan.assert_ok();
    h.home.hearth(["activate", path_str(&h.gen1)]).assert_ok();
    let again: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(again["version"], 2, "{again}");
    for field in ["links", "copies", "dirs", "facts"] {
        assert_eq!(again["current"][field], ours["current"][field], "{field}");
    }
}

// ---------------------------------------------------------------------------
// The journal

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features fault-injection"
)]
fn a_journal_from_a_newer_hearth_is_refused_and_kept() {
    let (h, before) = interrupted();
    let ours = journal_body(&h.home).unwrap();
    assert!(ours.starts_with(r#"{"version":1,"#), "{ours}");
    let mut shown = String::new();
    for (what, text) in [
        (
            "same shape",
            ours.replacen(r#""version":1"#, r#""version":2"#, 1),
        ),
        ("new shape", r#"{"version":2,"changes":[]}"#.to_string()),
    ] {
        set_journal_body(&h.home, &text);
        let _ = write!(shown, "{what}:\n{}", refused_by_every_command(&h));
        // Not discarded: it is what completes or reverts that activation.
        assert_eq!(journal_body(&h.home).as_deref(), Some(text.as_str()));
    }
    insta::assert_snapshot!("journal_newer", shown);
    // Given back to a hearth that reads it, the activation is reverted.
    set_journal_body(&h.home, &ours);
    let run = h.home.hearth(["status"]);
    run.assert_ok();
    assert!(
        run.stderr.contains("reverted an interrupted activation"),
        "{run}"
    );
    assert_same(&before, &h.home.snapshot());
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features fault-injection"
)]
fn a_journal_in_an_unknown_older_format_is_refused_clearly() {
    let (h, _) = interrupted();
    let ours = journal_body(&h.home).unwrap();
    set_journal_body(
        &h.home,
        &ours.replacen(r#""version":1"#, r#""version":0"#, 1),
    );
    insta::assert_snapshot!("journal_unknown", refused_by_every_command(&h));
}

/// What the hearth before format versions (commit 3792b38) left in the journal
/// when killed at [`KILL_AT`] in this switch, taken from its output: the
/// home, generations and transaction id shown as ~HOME, GEN1, GEN2 and TXID.
const JOURNAL_BEFORE_VERSIONS: &str = r#"{"txid":"TXID","home":"~HOME","generation":"GEN2","ops":[{"op":"remove","path":".config/old/x","was":{"symlink":{"target":"/nix/store/HASH-hearth-x"}},"trash":".config/.hearth-TXID-0.trash"},{"op":"remove-dir","path":".config/old","required":false,"mode":493},{"op":"mkdir","path":".config/new"},{"op":"put","path":".vimrc","want":{"type":"symlink","target":"/nix/store/HASH-hearth-.vimrc"},"prev":{"type":"symlink","target":"/nix/store/HASH-hearth-.vimrc"},"tmp":".hearth-TXID-3.tmp","stash":".hearth-TXID-3.stash"},{"op":"put","path":".netrc","want":{"type":"copy","source":"/nix/store/HASH-hearth-.netrc","sha256":"27dd8ed44a83ff94d557f9fd0412ed5a8cbca69ea04922d88c01184a07300a5a","mode":384,"size":4},"prev":{"type":"file"},"tmp":".hearth-TXID-4.tmp","stash":".hearth-TXID-4.stash","was":{"copy":{"sha256":"2c8b08da5ce60398e1f19af0e5dccc744df274b826abe585eaba68c525434806","mode":384,"size":4}}},{"op":"move-aside","path":".bashrc","to":".bashrc.bak","discard":false},{"op":"put","path":".bashrc","want":{"type":"symlink","target":"/nix/store/HASH-hearth-.bashrc"},"prev":{"type":"missing"},"tmp":".hearth-TXID-6.tmp","stash":".hearth-TXID-6.stash"},{"op":"put","path":".config/new/y","want":{"type":"symlink","target":"/nix/store/HASH-hearth-y"},"prev":{"type":"missing"},"tmp":".config/new/.hearth-TXID-7.tmp","stash":".config/new/.hearth-TXID-7.stash"}],"profile":null,"hooks":[],"previous":"GEN1"}"#;

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs --features fault-injection"
)]
fn a_journal_from_before_versions_is_recovered() {
    let (h, before) = interrupted();
    let ours = journal_body(&h.home).unwrap();
    // This hearth writes that same journal, with its version in front.
    let txid = serde_json::from_str::<serde_json::Value>(&ours).unwrap()["txid"]
        .as_str()
        .unwrap()
        .to_owned();
    let old = ours.replacen(r#""version":1,"#, "", 1);
    let shown = redact(
        &old,
        &[
            (path_str(&h.gen1), "GEN1"),
            (path_str(&h.gen2), "GEN2"),
            (path_str(h.home.path()), "~HOME"),
            (&txid, "TXID"),
        ],
    );
    assert_eq!(shown, JOURNAL_BEFORE_VERSIONS);
    // Written as the earlier hearth wrote it (no version), it is read as
    // format 1 and the interrupted switch is reverted: the user's .bashrc
    // is back, gen1's files are, and nothing of the switch is left.
    set_journal_body(&h.home, &old);
    let run = h.home.hearth(["activate", path_str(&h.gen1)]);
    run.assert_ok();
    assert!(
        run.stderr.contains("reverted an interrupted activation"),
        "{run}"
    );
    assert_same(&before, &h.home.snapshot());
    assert_eq!(journal_body(&h.home), None);
    h.home.hearth(["status"]).assert_ok();
    // And the switch then goes through.
    h.home
        .hearth(["activate", path_str(&h.gen2), "--backup-ext", "bak"])
        .assert_ok();
    assert_eq!(read_file(&h.home, ".bashrc.bak"), "mine\n");
}

// ---------------------------------------------------------------------------
// What the history keeps of each generation

/// No copy of the manifest is kept beside the state (at 100,000 files one
/// is 18 MB a generation): the history records what cleanup needs of a
/// generation, its packages environment (`null`: none), in a few bytes.
#[test]
fn the_history_records_the_packages_environment_not_a_manifest_copy() {
    let h = on_gen1();
    assert!(
        fs::symlink_metadata(h.home.state_dir().join("manifests")).is_err(),
        "a manifest copy was kept"
    );
    let state: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(h.home.state_dir().join("state.json")).unwrap())
            .unwrap();
    let first = &state["history"][0];
    assert_eq!(first["number"], 1, "{state}");
    assert!(
        first
            .get("packages")
            .is_some_and(serde_json::Value::is_null),
        "{state}"
    );
}
