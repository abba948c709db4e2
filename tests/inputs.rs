//! What hearth reads that a user controls, besides the home itself: the files
//! of its state directory, the generation's manifest, and command-line
//! durations. A FIFO, socket, device or link where hearth expects a regular
//! file is refused at once with a message naming it (a hang fails the test:
//! every run has a hard time limit); a manifest that is not UTF-8, too large,
//! or names programs that cannot run is refused with nothing changed; a
//! duration too large for 64 bits is refused, and a huge age expires nothing.

use crate::common;

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use nix::sys::stat::{Mode, SFlag};
use serde_json::Value;

// ---------------------------------------------------------------------------
// Helpers

/// Long enough for a slow, shared machine; a run that blocks in `open()` never
/// finishes at all.
const LIMIT: Duration = Duration::from_secs(20);

fn new_home() -> TestHome {
    nix::sys::stat::umask(Mode::from_bits_truncate(0o022));
    TestHome::new()
}

fn hearth_within(home: &TestHome, args: &[&str]) -> Run {
    home.hearth_within(args, LIMIT)
}

/// What can be put where hearth expects a regular file.
#[derive(Clone, Copy, Debug)]
enum Special {
    Fifo,
    Socket,
    /// A symlink to `/dev/zero`: endless zeros if followed and read.
    LinkToDevZero,
    /// A character device node (`/dev/null`'s numbers; only root makes one).
    Device,
    Directory,
}

const SPECIALS: [Special; 5] = [
    Special::Fifo,
    Special::Socket,
    Special::LinkToDevZero,
    Special::Device,
    Special::Directory,
];

/// Replaces whatever is at `path` with `kind`.
fn plant(path: &Path, kind: Special) {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path).expect("remove dir"),
        Ok(_) => fs::remove_file(path).expect("remove file"),
        Err(_) => {}
    }
    match kind {
        Special::Fifo => {
            nix::unistd::mkfifo(path, Mode::from_bits_truncate(0o600)).expect("mkfifo");
        }
        Special::Socket => {
            // A socket's path must be short (108 bytes): bind through the
            // parent's descriptor. The file stays after the listener is gone.
            let parent = fs::File::open(path.parent().expect("a parent")).expect("open parent");
            let short = format!(
                "/proc/self/fd/{}/{}",
                std::os::fd::AsRawFd::as_raw_fd(&parent),
                path_str(Path::new(path.file_name().expect("a name")))
            );
            std::os::unix::net::UnixListener::bind(short).expect("bind a socket");
        }
        Special::LinkToDevZero => {
            std::os::unix::fs::symlink("/dev/zero", path).expect("symlink");
        }
        Special::Device => nix::sys::stat::mknod(
            path,
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            nix::sys::stat::makedev(1, 3),
        )
        .expect("mknod (the tests run as root)"),
        Special::Directory => fs::create_dir(path).expect("mkdir"),
    }
}

/// A scratch directory that stands for a generation outside the store.
fn gen_dir() -> TestHome {
    TestHome::new()
}

fn redacted(home: &TestHome, gen: Option<&Path>, text: &str) -> String {
    let user = current_user();
    let mut subs = vec![(path_str(home.path()).to_owned(), "~HOME".to_owned())];
    if let Some(gen) = gen {
        subs.insert(0, (path_str(gen).to_owned(), "~GEN".to_owned()));
    }
    subs.push((
        format!("hearth-generation-{user}"),
        "hearth-generation-USER".to_owned(),
    ));
    // The last line of a failed activation names the user.
    subs.push((format!("hearth: {user}: "), "hearth: USER: ".to_owned()));
    let subs: Vec<(&str, &str)> = subs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    redact(text, &subs)
}

/// Two generations for `home`: a link and a copy each, different content.
fn two_generations(home: &TestHome) -> (std::path::PathBuf, std::path::PathBuf) {
    let gens = build_generations(&[
        home.gen()
            .text(".config/a", "one\n")
            .file(FileSpec::text(".netrc", "one\n").copy()),
        home.gen()
            .text(".config/a", "two\n")
            .file(FileSpec::text(".netrc", "two\n").copy()),
    ]);
    (gens[0].clone(), gens[1].clone())
}

/// Every command that opens the state, with its arguments.
fn state_commands(gen: &Path) -> Vec<Vec<String>> {
    let g = path_str(gen).to_owned();
    [
        vec!["activate", &g],
        vec!["plan", &g],
        vec!["status"],
        vec!["generations"],
        vec!["rollback"],
        vec!["remove-generations", "1"],
        vec!["expire-generations", "--keep-last", "1"],
    ]
    .iter()
    .map(|args| args.iter().map(ToString::to_string).collect())
    .collect()
}

#[test]
fn the_planted_kinds_are_what_they_say() {
    // The fixtures above rely on `plant`; check it makes each kind.
    let dir = gen_dir();
    for (i, kind) in SPECIALS.into_iter().enumerate() {
        let path = dir.join(&format!("k{i}"));
        plant(&path, kind);
        let ft = fs::symlink_metadata(&path).unwrap().file_type();
        let ok = match kind {
            Special::Fifo => ft.is_fifo(),
            Special::Socket => ft.is_socket(),
            Special::LinkToDevZero => ft.is_symlink(),
            Special::Device => ft.is_char_device(),
            Special::Directory => ft.is_dir(),
        };
        assert!(ok, "{kind:?}");
    }
}

// ---------------------------------------------------------------------------
// Special files in the state directory

/// With `file` of the state directory replaced by each special kind, every
/// command fails at once (exit 1) naming the file and what it is, and the
/// home is not touched. The messages, grouped by the commands that gave
/// them, are the snapshot.
fn special_state_file_is_refused(file: &str) {
    let mut shown = String::new();
    for kind in SPECIALS {
        let home = new_home();
        let (one, two) = two_generations(&home);
        hearth_within(&home, &["activate", path_str(&one)]).assert_ok();
        plant(&home.state_dir().join(file), kind);
        let before = home.snapshot();

        let mut by_message: Vec<(String, Vec<String>)> = Vec::new();
        for args in state_commands(&two) {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let run = hearth_within(&home, &args);
            run.assert_code(1);
            assert_eq!(run.stdout, "", "{args:?}: {run}");
            let text = redacted(&home, None, &run.stderr);
            match by_message.iter_mut().find(|(m, _)| *m == text) {
                Some((_, cmds)) => cmds.push(args[0].to_owned()),
                None => by_message.push((text, vec![args[0].to_owned()])),
            }
        }
        assert_untouched(&before, &home.snapshot());
        // Refused, not replaced: the planted file is still there.
        let still = fs::symlink_metadata(home.state_dir().join(file)).expect("still there");
        assert!(!still.is_file(), "{file} was replaced by a regular file");

        let _ = writeln!(shown, "{kind:?}:");
        for (text, cmds) in by_message {
            let _ = writeln!(shown, "  {}: exit 1", cmds.join(", "));
            for line in text.lines() {
                let _ = writeln!(shown, "    {line}");
            }
        }
    }
    insta::assert_snapshot!(format!("state_{file}_special"), shown);
}

#[test]
fn a_special_lock_is_refused_at_once() {
    special_state_file_is_refused("lock");
}

#[test]
fn a_special_state_json_is_refused_at_once() {
    special_state_file_is_refused("state.json");
}

#[test]
fn a_special_journal_is_refused_at_once() {
    special_state_file_is_refused("journal");
}

/// `manifests/N.json` are copies an older hearth kept; this one never
/// opens them: whatever special file is there, no command waits on it, and
/// removing generation N removes its copy.
#[test]
fn special_files_among_kept_manifests_are_never_opened() {
    for kind in [
        Special::Fifo,
        Special::Socket,
        Special::LinkToDevZero,
        Special::Device,
    ] {
        let home = new_home();
        let (one, two) = two_generations(&home);
        hearth_within(&home, &["activate", path_str(&one)]).assert_ok();
        let kept = home.state_dir().join("manifests");
        fs::create_dir_all(&kept).unwrap();
        plant(&kept.join("1.json"), kind);
        plant(&kept.join("2.json"), kind);

        for args in [
            vec!["status"],
            vec!["generations"],
            vec!["plan", path_str(&two)],
            vec!["activate", path_str(&two)],
            vec!["status"],
            vec!["packages"],
            vec!["remove-generations", "1"],
        ] {
            let run = hearth_within(&home, &args);
            run.assert_ok();
        }
        assert_eq!(read_link(&home, ".config/a"), {
            let m: Value =
                serde_json::from_str(&fs::read_to_string(two.join("manifest.json")).unwrap())
                    .unwrap();
            std::path::PathBuf::from(m["files"][0]["source"].as_str().unwrap())
        });
        assert!(
            fs::symlink_metadata(kept.join("2.json")).is_ok_and(|m| !m.is_file()),
            "{kind:?}: 2.json was replaced"
        );
        assert!(
            fs::symlink_metadata(kept.join("1.json")).is_err(),
            "{kind:?}: 1.json kept"
        );
    }
}

// ---------------------------------------------------------------------------
// The manifest

/// manifest.json as a FIFO, a socket, a link to /dev/zero, a device or a
/// directory: `check`, `plan` and `activate` refuse it at once (exit 2),
/// naming the generation, and change nothing.
#[test]
fn a_manifest_that_is_not_a_regular_file_is_refused_at_once() {
    let mut shown = String::new();
    for kind in SPECIALS {
        let home = new_home();
        let gen = gen_dir();
        plant(&gen.join("manifest.json"), kind);
        let before = home.snapshot();
        let mut texts = Vec::new();
        for cmd in ["check", "plan", "activate"] {
            let run = hearth_within(&home, &[cmd, path_str(gen.path())]);
            run.assert_code(2);
            texts.push(redacted(&home, Some(gen.path()), &run.stderr));
        }
        assert_same(&before, &home.snapshot());
        assert!(!home.state_dir().exists(), "the state was created");
        // One message, whichever command read the manifest.
        assert!(texts.iter().all(|t| *t == texts[0]), "{texts:#?}");
        let _ = writeln!(shown, "{kind:?}:\n{}", texts[0]);
    }
    insta::assert_snapshot!("manifest_special", shown);
}

/// A manifest over the limit (a sparse file: nothing to read, only its
/// size) is refused without being read.
#[test]
fn a_manifest_too_large_is_refused_unread() {
    let home = new_home();
    let gen = gen_dir();
    let f = fs::File::create(gen.join("manifest.json")).unwrap();
    f.set_len((256 << 20) + 1).unwrap();
    drop(f);
    let start = Instant::now();
    let run = hearth_within(&home, &["check", path_str(gen.path())]);
    run.assert_code(2);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    insta::assert_snapshot!(
        "manifest_too_large",
        redacted(&home, Some(gen.path()), &run.stderr)
    );
}

/// A byte that is not UTF-8 is reported with its offset, line and column.
#[test]
fn invalid_utf8_in_a_manifest_is_located() {
    let home = new_home();
    let gen = gen_dir();
    let mut text = format!(
        "{{\n  \"version\": 1,\n  \"user\": \"{}\",\n  \"home\": \"caf",
        current_user()
    )
    .into_bytes();
    text.push(0xe9); // Latin-1 é, alone: not UTF-8.
    text.extend_from_slice(b"\",\n  \"files\": []\n}\n");
    fs::write(gen.join("manifest.json"), &text).unwrap();
    let offset = text.iter().position(|b| *b == 0xe9).unwrap();

    let run = hearth_within(&home, &["check", path_str(gen.path())]);
    run.assert_code(2);
    assert!(
        run.stderr
            .contains(&format!("byte offset {offset} (line 4, column 15)")),
        "{run}"
    );
    insta::assert_snapshot!(
        "manifest_not_utf8",
        redacted(&home, Some(gen.path()), &run.stderr)
    );
}

/// `onChange` hooks and steps that cannot be run (a directory, /dev/null, a
/// file without an execute bit, nothing) are refused by `check`, naming each
/// JSON path, and by `activate` before anything changes.
#[test]
fn programs_that_cannot_run_are_refused() {
    let home = new_home();
    let built = build_generation(
        &home
            .gen()
            .file(FileSpec::text(".a", "a\n").on_change("true\n"))
            .file(FileSpec::text(".b", "b\n").on_change("true\n"))
            .file(FileSpec::text(".c", "c\n").on_change("true\n"))
            .file(FileSpec::text(".d", "d\n").on_change("true\n"))
            .step("first", "check", "true\n")
            .step("second", "files", "true\n")
            .step("third", "files", "true\n")
            .step("fourth", "files", "true\n"),
    );
    let gen = gen_dir();
    let not_exec = write_file(&gen, "not-executable", "#!/bin/sh\ntrue\n");
    fs::set_permissions(&not_exec, fs::Permissions::from_mode(0o644)).unwrap();
    let dir = mkdirs(&gen, "a-directory");
    let missing = gen.join("missing");
    let mut m: Value =
        serde_json::from_str(&fs::read_to_string(built.join("manifest.json")).unwrap()).unwrap();
    // files[3] and activation[3] keep their good programs: not reported.
    m["files"][0]["onChange"] = path_str(&dir).into();
    m["files"][1]["onChange"] = "/dev/null".into();
    m["files"][2]["onChange"] = path_str(&not_exec).into();
    m["activation"][0]["script"] = "/dev/null".into();
    m["activation"][1]["script"] = path_str(&missing).into();
    m["activation"][2]["script"] = path_str(&dir).into();
    fs::write(gen.join("manifest.json"), m.to_string()).unwrap();

    let run = hearth_within(&home, &["check", path_str(gen.path())]);
    run.assert_code(2);
    let shown = redacted(&home, Some(gen.path()), &run.stderr);
    insta::assert_snapshot!("programs_that_cannot_run", shown);

    let before = home.snapshot();
    let run = hearth_within(&home, &["activate", path_str(gen.path())]);
    run.assert_code(2);
    assert_eq!(redacted(&home, Some(gen.path()), &run.stderr), shown);
    assert_same(&before, &home.snapshot());

    // The same generation with its own programs is fine: the check is not
    // refusing everything.
    hearth_within(&home, &["check", path_str(&built)]).assert_ok();
}

// ---------------------------------------------------------------------------
// Durations

/// An age that does not fit in 64 bits of seconds is refused (it used to
/// wrap to a few seconds); one that fits but reaches past the end of time
/// from any generation's date removes nothing.
#[test]
fn huge_durations_are_refused_or_remove_nothing() {
    let home = new_home();
    let (one, two) = two_generations(&home);
    hearth_within(&home, &["activate", path_str(&one)]).assert_ok();
    hearth_within(&home, &["activate", path_str(&two)]).assert_ok();
    let listed = |home: &TestHome| hearth_within(home, &["generations", "--json"]).json();
    let before = listed(&home);
    assert_eq!(before["generations"].as_array().map(Vec::len), Some(2));

    let mut shown = String::new();
    for raw in [
        "144115188075855872d",
        "18446744073709551616s",
        "30500568904944w",
        "99999999999999999999999",
    ] {
        let run = hearth_within(&home, &["expire-generations", "--older-than", raw]);
        run.assert_code(2);
        shown.push_str(&run.stderr);
    }
    insta::assert_snapshot!("durations_too_large", shown);
    assert_eq!(listed(&home), before);

    for raw in ["18446744073709551615s", "213503982334601d"] {
        let run = hearth_within(&home, &["expire-generations", "--older-than", raw]);
        run.assert_ok();
        assert_eq!(run.stdout, "no generation to remove\n");
        assert_eq!(listed(&home), before);
    }
    // And an ordinary age still expires the old one.
    hearth_within(&home, &["expire-generations", "--older-than", "0s"]).assert_ok();
    assert_eq!(
        listed(&home)["generations"].as_array().map(Vec::len),
        Some(1)
    );
}
