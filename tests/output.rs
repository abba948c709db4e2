//! Output that is safe to pipe and to parse: every command piped into a
//! reader that closes early ends normally (no panic, the activation finishes
//! and runs its hooks), and every `--json` outcome is exactly one JSON
//! document on stdout, with `version`, whatever happened (docs/json.md).

use crate::common;

use std::fs;
use std::path::Path;
use std::process::Stdio;

use common::users::TestUser;
use common::*;
use nix::sys::stat::Mode;
use serde_json::Value;

fn new_home() -> TestHome {
    nix::sys::stat::umask(Mode::from_bits_truncate(0o022));
    TestHome::new()
}

/// Runs hearth with stdout into a pipe whose reader takes one byte (a
/// `head -c 1`) and closes it, waits for hearth to end, and returns its
/// exit status and stderr. Output long enough to need more than the pipe's
/// buffer is what makes an unguarded print fail with EPIPE.
fn piped_into_closed_reader(home: &TestHome, args: &[&str]) -> (i32, String) {
    common::with_stdout_closed_early(home.command(args))
}

/// stdout holds exactly one JSON document, an object with `version` 1, a
/// `command`, an `outcome` and the `exit` status the process ended with.
#[track_caller]
fn one_document(run: &Run, command: &str, outcome: &str) -> Value {
    let mut docs = serde_json::Deserializer::from_str(&run.stdout).into_iter::<Value>();
    let doc = match docs.next() {
        Some(Ok(doc)) => doc,
        other => panic!("no JSON document on stdout ({other:?}):\n{run}"),
    };
    assert!(docs.next().is_none(), "more than one document:\n{run}");
    assert_eq!(doc["version"], 1, "{run}");
    assert_eq!(doc["command"], command, "{run}");
    assert_eq!(doc["outcome"], outcome, "{run}");
    assert_eq!(doc["exit"], run.code, "{run}");
    doc
}

/// A generation with many files (so that its plan outgrows a pipe's
/// 64 KiB buffer), and a step after the files that leaves a mark.
fn big_generation(home: &TestHome, mark: &Path) -> GenSpec {
    let mut spec = home.gen().step(
        "mark",
        "files",
        &format!("echo marking; echo done > {}", mark.display()),
    );
    for i in 0..1000 {
        spec = spec.text(
            &format!("files/with/a/rather/long/name/number-{i:04}"),
            "x\n",
        );
    }
    spec
}

#[test]
fn every_command_survives_a_reader_that_closes_early() {
    let home = new_home();
    // In the home, not managed: `status` does not look at it.
    let mark = home.join("step-ran");
    let gen = build_generation(&big_generation(&home, &mark));
    let g = path_str(&gen);

    for args in [vec!["plan", g], vec!["plan", "--json", g]] {
        let (code, stderr) = piped_into_closed_reader(&home, &args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }

    // The activation finishes, records the generation and runs its step,
    // although nobody reads what it prints.
    let (code, stderr) = piped_into_closed_reader(&home, &["activate", g]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(fs::read_to_string(&mark).unwrap(), "done\n", "the step ran");
    home.hearth(["status"]).assert_ok();

    for args in [
        vec!["status"],
        vec!["status", "--json"],
        vec!["generations"],
        vec!["generations", "--json"],
        vec!["activate", "--json", g],
        vec!["activate", "--dry-run", g],
        vec!["check", g],
    ] {
        let (code, stderr) = piped_into_closed_reader(&home, &args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    // A status that finds drift still says so by its exit status.
    fs::remove_file(home.join("files/with/a/rather/long/name/number-0000")).unwrap();
    let (code, stderr) = piped_into_closed_reader(&home, &["status"]);
    assert_eq!(code, 6, "{stderr}");
}

#[test]
fn every_json_outcome_is_one_document() {
    let home = new_home();
    let gens = build_generations(&[
        home.gen()
            .text("a", "a\n")
            .file(FileSpec::text("c", "c\n").copy().mode("0600")),
        home.gen().text("a", "a2\n").text("b", "b\n").step(
            "hello",
            "files",
            "echo from the step; echo to stderr >&2",
        ),
        home.gen()
            .text("a", "a\n")
            .step("broken", "files", "echo about to fail; exit 9"),
        home.gen()
            .text("a", "a\n")
            .step("refuse", "check", "echo checking; exit 1"),
    ]);
    let g: Vec<&str> = gens.iter().map(|p| path_str(p)).collect();

    // Nothing activated yet.
    let doc = one_document(
        &home.hearth(["status", "--json"]),
        "status",
        "no-generation",
    );
    assert_eq!(doc["generation"], Value::Null);
    let doc = one_document(
        &home.hearth(["generations", "--json"]),
        "generations",
        "listed",
    );
    assert_eq!(doc["generations"], Value::Array(vec![]));

    // A plan, then the activation: paths relative to the home, given once.
    let doc = one_document(&home.hearth(["plan", "--json", g[0]]), "plan", "planned");
    assert_eq!(doc["home"], path_str(home.path()));
    let run = home.hearth(["activate", "--json", g[0]]);
    let doc = one_document(&run, "activate", "activated");
    assert_eq!(doc["number"], 1);
    let copy = doc["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["path"] == "c")
        .unwrap_or_else(|| panic!("{doc}"));
    assert_eq!(copy["kind"], "put");
    assert_eq!(copy["want"]["kind"], "copy");
    assert_eq!(copy["want"]["mode"], "0600", "modes are octal strings");

    // No-op.
    let doc = one_document(
        &home.hearth(["activate", "--json", g[0]]),
        "activate",
        "unchanged",
    );
    assert_eq!(doc["actions"], Value::Array(vec![]));

    // A step's output is in the document (and on stderr), never before it.
    let run = home.hearth(["activate", "--json", g[1]]);
    let doc = one_document(&run, "activate", "activated");
    assert_eq!(doc["hooks"][0]["name"], "hello", "{doc}");
    assert_eq!(doc["hooks"][0]["ok"], true);
    assert!(
        doc["hooks"][0]["output"]
            .as_str()
            .unwrap()
            .contains("from the step"),
        "{doc}"
    );
    assert!(run.stderr.contains("[hello] from the step"), "{run}");

    // A failed step: the files are applied and recorded, and it says so.
    let run = home.hearth(["activate", "--json", g[2]]);
    run.assert_code(5);
    let doc = one_document(&run, "activate", "hook-failed");
    assert_eq!(doc["number"], 3, "{doc}");
    assert!(!doc["actions"].as_array().unwrap().is_empty(), "{doc}");
    assert!(doc["error"].as_str().unwrap().contains("broken"), "{doc}");
    assert_eq!(doc["hooks"][0]["ok"], false);

    // A failed check step: nothing changed.
    let run = home.hearth(["activate", "--json", g[3]]);
    run.assert_code(5);
    let doc = one_document(&run, "activate", "check-failed");
    assert!(doc["error"].as_str().unwrap().contains("refuse"), "{doc}");

    // Conflicts.
    write_file(&home, "b", "mine\n");
    let run = home.hearth(["activate", "--json", g[1]]);
    run.assert_code(3);
    let doc = one_document(&run, "activate", "conflicts");
    assert_eq!(doc["conflicts"][0]["path"], "b", "{doc}");
    assert_eq!(doc["conflicts"][0]["kind"], "in-the-way");
    assert_eq!(doc["conflicts"][0]["found"]["kind"], "file");
    assert_eq!(doc["conflicts"][0]["found"]["mode"], "0644");
    fs::remove_file(home.join("b")).unwrap();

    // A failure, reverted.
    let run = home.hearth_env(
        ["activate", "--json", g[1]],
        &[("HEARTH_FAULT_FAIL_AT", "2")],
    );
    run.assert_code(4);
    let doc = one_document(&run, "activate", "reverted");
    assert!(doc["error"].as_str().unwrap().contains("reverted"), "{doc}");

    // Refused input: no such generation, a bad backup extension.
    let run = home.hearth(["activate", "--json", "/nonexistent/generation"]);
    run.assert_code(2);
    one_document(&run, "activate", "refused");
    let run = home.hearth(["plan", "--json", "--backup-ext", "a/b", g[1]]);
    run.assert_code(2);
    one_document(&run, "plan", "refused");

    // Status with drift: paths relative, what was found as an object.
    fs::remove_file(home.join("a")).unwrap();
    let run = home.hearth(["status", "--json"]);
    run.assert_code(6);
    let doc = one_document(&run, "status", "drift");
    assert_eq!(doc["drift"][0]["path"], "a", "{doc}");
    assert_eq!(doc["drift"][0]["problem"], "missing");
    assert_eq!(doc["drift"][0]["found"]["kind"], "missing");

    let doc = one_document(
        &home.hearth(["generations", "--json"]),
        "generations",
        "listed",
    );
    assert_eq!(doc["current"], 3, "{doc}");
    assert_eq!(doc["generations"].as_array().unwrap().len(), 3);

    // The history commands.
    let doc = one_document(
        &home.hearth(["remove-generations", "--json", "1"]),
        "remove-generations",
        "removed",
    );
    assert_eq!(doc["removed"], serde_json::json!([1]));
    let run = home.hearth(["remove-generations", "--json", "3"]);
    run.assert_code(2);
    one_document(&run, "remove-generations", "refused");
    one_document(
        &home.hearth(["expire-generations", "--json", "--keep-last", "5"]),
        "expire-generations",
        "removed",
    );
    let run = home.hearth(["rollback", "--json"]);
    let doc = one_document(&run, "rollback", "activated");
    assert_eq!(doc["number"], 2, "{doc}");
}

/// A recovery on the way is told on stderr and in the document.
#[test]
fn a_recovery_is_in_the_document() {
    let home = new_home();
    let gens = build_generations(&[
        home.gen().text("a", "a\n"),
        home.gen().text("a", "a2\n").text("b", "b\n"),
    ]);
    home.hearth(["activate", path_str(&gens[0])]).assert_ok();
    let killed = home.hearth_env(
        ["activate", path_str(&gens[1])],
        &[("HEARTH_FAULT_KILL_AT", "2")],
    );
    assert_eq!(killed.code, 128 + 9, "{killed}");
    let run = home.hearth(["status", "--json"]);
    let doc = one_document(&run, "status", "clean");
    let recovered = doc["recovered"].as_array().unwrap();
    assert_eq!(recovered.len(), 1, "{doc}");
    assert!(recovered[0]
        .as_str()
        .unwrap()
        .contains("reverted an interrupted activation"));
    assert!(run.stderr.contains("reverted an interrupted activation"));
}

/// hearth as root, on root's own HOME-less environment.
fn hearth_root(args: &[&str]) -> Run {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(args)
        .env("HOME", "/root")
        .current_dir("/")
        .stdin(Stdio::null())
        .output()
        .expect("run hearth");
    Run::from_output(out)
}

/// Root mode: the user's document, passed through whole (not prefixed
/// line by line); a refusal before the user's process starts, and a
/// timeout, still give one document.
#[test]
fn root_mode_json_is_one_document() {
    needs_root!();
    let u = TestUser::create("hjs", "output-homes");
    for rel in ["", ".local", ".local/state"] {
        std::os::unix::fs::lchown(u.home.join(rel), Some(u.uid), Some(u.gid)).unwrap();
    }
    let gens = build_generations(&[
        GenSpec::new(&u.home).user(&u.name).text("a", "a\n").step(
            "hello",
            "files",
            "echo hello from the step",
        ),
        GenSpec::new(&u.home)
            .user(&u.name)
            .step("hang", "files", "sleep 30"),
    ]);
    let g = path_str(&gens[0]);

    let run = hearth_root(&["activate", "--json", "--user", &u.name, g]);
    run.assert_ok();
    let doc = one_document(&run, "activate", "activated");
    assert_eq!(doc["home"], path_str(&u.home), "{doc}");
    assert_eq!(doc["hooks"][0]["name"], "hello");
    assert!(run.stderr.contains("hello from the step"), "{run}");

    let run = hearth_root(&["activate", "--json", "--user", "no-such-user-hjs", g]);
    run.assert_code(2);
    one_document(&run, "activate", "refused");

    let run = hearth_root(&[
        "activate",
        "--json",
        "--user",
        &u.name,
        "--timeout",
        "2",
        path_str(&gens[1]),
    ]);
    run.assert_code(1);
    let doc = one_document(&run, "activate", "timed-out");
    assert_eq!(doc["user"], u.name.as_str(), "{doc}");
}
