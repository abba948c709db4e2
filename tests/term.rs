//! Output for people: a summary of large plans (every path with `-v`),
//! nothing but errors with `-q`, past-tense result lines, colour on a real
//! terminal (a pty) or when forced (`CLICOLOR_FORCE`), never with `NO_COLOR`
//! or into a pipe, and syslog priority prefixes when stderr is the journal.

use crate::common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::Stdio;

use common::*;

/// A first activation of 300 files (one directory).
fn many(home: &TestHome) -> GenSpec {
    let mut spec = home.gen();
    for i in 0..300 {
        spec = spec.text(&format!("many/file-{i:03}"), "x\n");
    }
    spec
}

#[test]
fn a_large_first_activation_is_summarized_and_listed_in_full_with_v() {
    let home = TestHome::new();
    let gen = build_generation(&many(&home));
    let run = home.hearth(["activate", path_str(&gen)]);
    run.assert_ok();
    let names = [(path_str(&gen), "GEN")];
    insta::assert_snapshot!("summary", home.redact(&redact(&run.stdout, &names)));
    assert!(
        run.stdout
            .contains("activated generation 1: created 300, made 1 directory\n"),
        "{run}"
    );

    // The same first activation again, with -v: every path.
    fs::remove_dir_all(home.join("many")).unwrap();
    fs::remove_dir_all(home.join(".local/state")).unwrap();
    let run = home.hearth(["activate", "-v", path_str(&gen)]);
    run.assert_ok();
    let creates = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("  create   ~/many/file-"))
        .count();
    assert_eq!(creates, 300, "{run}");
    assert!(!run.stdout.contains("more to create"), "{run}");

    // A plan is summarized the same way, and listed in full with -v.
    let plan = home.hearth(["plan", "-v", path_str(&gen)]);
    plan.assert_ok();
    assert!(plan.stdout.starts_with("plan for "), "{plan}");
}

/// A generation with a step that prints, and one without.
fn talking_then_quiet(home: &TestHome) -> [PathBuf; 2] {
    build_generations(&[
        home.gen()
            .text(".a", "1\n")
            .step("talk", "files", "echo talking\n"),
        home.gen().text(".b", "2\n"),
    ])
    .try_into()
    .unwrap()
}

#[test]
fn quiet_prints_nothing_on_success_and_the_error_on_failure() {
    let home = TestHome::new();
    let [gen1, gen2] = talking_then_quiet(&home);
    let run = home.hearth(["activate", "-q", path_str(&gen1)]);
    run.assert_ok();
    assert_eq!(
        (run.stdout.as_str(), run.stderr.as_str()),
        ("", ""),
        "{run}"
    );
    let run = home.hearth(["-q", "status"]);
    run.assert_ok();
    assert_eq!(
        (run.stdout.as_str(), run.stderr.as_str()),
        ("", ""),
        "{run}"
    );
    // Without -q, the result line is in the past tense.
    fs::write(home.join(".b"), "mine\n").unwrap();
    let run = home.hearth(["activate", "--quiet", path_str(&gen2)]);
    run.assert_code(3);
    assert_eq!(run.stdout, "", "{run}");
    assert!(
        run.stderr.starts_with("error: 1 path is in the way"),
        "{run}"
    );
    fs::remove_file(home.join(".b")).unwrap();
    let run = home.hearth(["activate", path_str(&gen2)]);
    run.assert_ok();
    assert!(
        run.stdout
            .ends_with("activated generation 2: created 1, removed 1\n"),
        "{run}"
    );
}

/// hearth with stdout and stderr on a real terminal (a pty, as a shell
/// would run it), `TERM` set as a terminal emulator sets it and no colour
/// variable but `env`; its exit status and what the terminal showed.
fn on_a_terminal(home: &TestHome, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    use std::io::Read;
    let pty = nix::pty::openpty(None, None).unwrap();
    let stdout = pty.slave.try_clone().unwrap();
    // The command, and with it this process's copies of the terminal's
    // side, is gone after the spawn: reading ends when hearth's end.
    let mut child = home
        .command(args)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE")
        .env("TERM", "xterm-256color")
        .envs(env.iter().copied())
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(pty.slave))
        .spawn()
        .unwrap();
    let mut shown = Vec::new();
    let mut master = fs::File::from(pty.master);
    let mut chunk = [0u8; 4096];
    // Linux says EIO once no process holds the terminal's side.
    while let Ok(n) = master.read(&mut chunk) {
        if n == 0 {
            break;
        }
        shown.extend_from_slice(&chunk[..n]);
    }
    let code = child.wait().unwrap().code().unwrap();
    (
        code,
        String::from_utf8(shown).unwrap().replace("\r\n", "\n"),
    )
}

#[test]
fn colour_on_a_terminal_or_when_forced_never_with_no_color_or_into_a_pipe() {
    let home = TestHome::new();
    let gen = build_generation(&home.gen().text(".a", "1\n"));
    let g = path_str(&gen);
    // Into a pipe: plain.
    let plain = home.hearth(["plan", g]);
    assert!(!plain.stdout.contains('\u{1b}'), "{plain}");
    // On a terminal: coloured, and the same words.
    let (code, shown) = on_a_terminal(&home, &["plan", g], &[]);
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("\u{1b}[32mcreate\u{1b}[0m"), "{shown:?}");
    assert_eq!(strip_escapes(&shown), plain.stdout);
    // NO_COLOR on a terminal: plain.
    let (code, shown) = on_a_terminal(&home, &["plan", g], &[("NO_COLOR", "1")]);
    assert_eq!(code, 0, "{shown}");
    assert_eq!(shown, plain.stdout);
    let forced = home.hearth_env(["plan", g], &[("CLICOLOR_FORCE", "1")]);
    forced.assert_ok();
    assert!(
        forced.stdout.contains("\u{1b}[32mcreate\u{1b}[0m"),
        "{forced}"
    );
    let no = home.hearth_env(["plan", g], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]);
    assert_eq!(no.stdout, plain.stdout, "{no}");
    // The words are the same; only escapes were added.
    fs::write(home.join(".a"), "mine\n").unwrap();
    let err = home.hearth_env(["activate", g], &[("CLICOLOR_FORCE", "1")]);
    err.assert_code(3);
    assert!(
        err.stderr
            .starts_with("\u{1b}[1m\u{1b}[31merror:\u{1b}[0m 1 path"),
        "{err:?}"
    );
    // stderr on a terminal: the error coloured; with NO_COLOR, plain.
    let (code, shown) = on_a_terminal(&home, &["activate", g], &[]);
    assert_eq!(code, 3, "{shown}");
    assert!(
        shown.starts_with("\u{1b}[1m\u{1b}[31merror:\u{1b}[0m 1 path"),
        "{shown:?}"
    );
    let (code, shown) = on_a_terminal(&home, &["activate", g], &[("NO_COLOR", "1")]);
    assert_eq!(code, 3, "{shown}");
    assert!(shown.starts_with("error: 1 path"), "{shown:?}");
    assert!(!shown.contains('\u{1b}'), "{shown:?}");
}

/// `text` without its colour escapes (`ESC [ … m`).
fn strip_escapes(text: &str) -> String {
    let mut plain = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('\u{1b}') {
        plain.push_str(&rest[..at]);
        let end = rest[at..].find('m').unwrap();
        rest = &rest[at + end + 1..];
    }
    plain.push_str(rest);
    plain
}

/// hearth with stderr into a file; `journal`: `JOURNAL_STREAM` names that
/// file (as systemd names the journal's socket), or something else.
fn with_stderr_file(home: &TestHome, args: &[&str], journal: bool) -> (i32, String) {
    let path = home.join(".local/stderr");
    fs::create_dir_all(home.join(".local")).unwrap();
    let file = fs::File::create(&path).unwrap();
    let meta = file.metadata().unwrap();
    let stream = if journal {
        format!("{}:{}", meta.dev(), meta.ino())
    } else {
        format!("{}:{}", meta.dev(), meta.ino() + 1)
    };
    let status = home
        .command(args)
        .env("JOURNAL_STREAM", stream)
        .stdout(Stdio::null())
        .stderr(file)
        .status()
        .unwrap();
    (status.code().unwrap(), fs::read_to_string(&path).unwrap())
}

#[test]
fn stderr_into_the_journal_carries_syslog_priorities() {
    let home = TestHome::new();
    let [gen1, gen2] = talking_then_quiet(&home);
    // Step output on stderr (--json): information.
    let (code, stderr) = with_stderr_file(&home, &["activate", "--json", path_str(&gen1)], true);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("<6>[talk] talking\n"), "{stderr}");
    // An error, its hint and the last line: errors.
    fs::write(home.join(".b"), "mine\n").unwrap();
    let (code, stderr) = with_stderr_file(&home, &["activate", path_str(&gen2)], true);
    assert_eq!(code, 3, "{stderr}");
    let names = [(path_str(&gen2), "GEN")];
    insta::assert_snapshot!("journal", home.redact_user(&redact(&stderr, &names)));
    // Another stream named: no prefixes.
    let (code, stderr) = with_stderr_file(&home, &["activate", path_str(&gen2)], false);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(!stderr.contains("<3>"), "{stderr}");
}
