//! Steps and hooks as they run: a line naming each as it starts, its output
//! shown line by line as it comes (prefixed with its name), its duration at
//! the end, and `--step-timeout`; the commands that only read answer while
//! a slow step holds the home's lock, and a run that must wait names the
//! holder.

use crate::common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;

/// The pid in "pid 1234" shown as `pid PID`.
fn redact_pid(text: &str, pid: u32) -> String {
    text.replace(&format!("pid {pid}"), "pid PID")
}

/// The lines of `child`'s stdout, as they come, over a channel.
fn lines_of(child: &mut std::process::Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for the line `want` on `lines`, returning every line up to it; a
/// hearth that held its step's output until the step ended never sends it
/// (the step waits for the test), and the test fails after `limit`.
fn until_line(lines: &mpsc::Receiver<String>, want: &str, limit: Duration) -> Vec<String> {
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                let done = line == want;
                seen.push(line);
                if done {
                    return seen;
                }
            }
            Err(e) => panic!(
                "no line {want:?} within {limit:?} ({e}); saw:\n{}",
                seen.join("\n")
            ),
        }
    }
}

/// A step that prints (on stdout and stderr), then waits until the test
/// creates ~/release, then prints again.
const SLOW_STEP: &str = "echo first line\n\
echo to stderr >&2\n\
while [ ! -e \"$HOME/release\" ]; do sleep 0.05; done\n\
echo last line\n";

#[test]
fn a_slow_step_is_shown_live_and_reading_commands_answer_while_it_holds_the_lock() {
    let home = TestHome::new();
    let [gen1, gen2] = build_generations(&[
        home.gen()
            .text(".a", "1\n")
            .step("slow", "files", SLOW_STEP),
        home.gen().text(".a", "2\n"),
    ])
    .try_into()
    .unwrap();
    let mut child = home.spawn(["activate", path_str(&gen1)]);
    let pid = child.id();
    let lines = lines_of(&mut child);
    // Shown before the step ends: the step waits for the test.
    let before = until_line(&lines, "[slow] to stderr", Duration::from_secs(60));
    assert!(
        before.contains(&"step slow: running".to_string()),
        "{before:?}"
    );
    assert!(
        before.contains(&"[slow] first line".to_string()),
        "{before:?}"
    );

    // The step holds the lock. The commands that only read answer at once,
    // and say what the unfinished activation means for what they show.
    let limit = Duration::from_secs(20);
    let status = home.hearth_within(&["status"], limit);
    status.assert_ok();
    let generations = home.hearth_within(&["generations"], limit);
    generations.assert_ok();
    assert!(generations.stdout.contains("(current)"), "{generations}");
    let plan = home.hearth_within(&["plan", path_str(&gen2)], limit);
    plan.assert_ok();
    assert!(plan.stdout.contains("replace  ~/.a"), "{plan}");
    let json = home.hearth_within(&["status", "--json"], limit);
    assert_eq!(json.code, 0, "{json}");
    let doc = json.json();
    assert_eq!(doc["outcome"], "clean", "{json}");
    assert!(
        doc["warnings"][0]
            .as_str()
            .unwrap()
            .contains(&format!("in progress (pid {pid}: ")),
        "{json}"
    );

    // An activation waits, and names the run it waits for.
    let waiting = home.hearth_within(&["--lock-timeout", "1", "activate", path_str(&gen2)], limit);
    waiting.assert_code(1);

    fs::write(home.join("release"), "").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let mut after: Vec<String> = before;
    after.extend(lines.iter());
    let names = [
        (path_str(&gen1), "GEN1"),
        (path_str(&gen2), "GEN2"),
        (env!("CARGO_BIN_EXE_hearth"), "hearth"),
    ];
    let show = |text: &str| redact_pid(&home.redact(&redact(text, &names)), pid);
    insta::assert_snapshot!(
        "live",
        format!(
            "activate (stdout):\n{}\nstatus (stderr):\n{}\nplan (stderr):\n{}\nwaiting activate (stderr):\n{}",
            redact_durations(&show(&after.join("\n"))),
            show(&status.stderr),
            show(&plan.stderr),
            show(&waiting.stderr),
        )
    );
}

#[test]
fn a_plan_while_the_home_is_being_changed_says_so_instead_of_waiting() {
    let home = TestHome::new();
    let [gen1, gen2] = build_generations(&[
        home.gen()
            .text(".a", "1\n")
            .step("hold", "check", SLOW_STEP),
        home.gen().text(".a", "2\n"),
    ])
    .try_into()
    .unwrap();
    // A check step runs before the journal: the lock is held, nothing is
    // pending, and what is recorded is exact.
    let mut child = home.spawn(["activate", path_str(&gen1)]);
    let lines = lines_of(&mut child);
    until_line(&lines, "[hold] first line", Duration::from_secs(60));
    let plan = home.hearth_within(&["plan", path_str(&gen2)], Duration::from_secs(20));
    plan.assert_ok();
    assert_eq!(plan.stderr, "", "{plan}");
    let status = home.hearth_within(&["status"], Duration::from_secs(20));
    status.assert_ok();
    assert!(
        status.stdout.contains("no generation has been activated"),
        "{status}"
    );
    fs::write(home.join("release"), "").unwrap();
    assert!(child.wait().unwrap().success());

    // A journal that is not committed, under a lock that is held: the home
    // may be changing. Made by hand (the lock taken by this test), as a
    // real activation holds that state for microseconds.
    let lock = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(home.state_dir().join("lock"))
        .unwrap();
    let _held = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|(_, e)| e)
        .unwrap();
    fs::write(
        home.state_dir().join("journal"),
        format!("{:<15}\n{{", 999_999),
    )
    .unwrap();
    let plan = home.hearth_within(&["plan", path_str(&gen2)], Duration::from_secs(20));
    plan.assert_code(1);
    let status = home.hearth_within(&["status"], Duration::from_secs(20));
    status.assert_ok();
    // The holder named is this test's process.
    let me = format!("(pid {}: ", std::process::id());
    let show = |text: &str| {
        let mut text = home.redact(text);
        while let Some(at) = text.find(&me) {
            let end = at + text[at..].find(')').unwrap();
            text.replace_range(at..=end, "(pid TEST: the test)");
        }
        text
    };
    insta::assert_snapshot!(
        "changing",
        format!(
            "plan (stderr):\n{}\nstatus (stderr):\n{}",
            show(&plan.stderr),
            show(&status.stderr)
        )
    );
}

/// A step that starts a process in the background and waits for it.
const HANGING_STEP: &str = "sleep 300 &\n\
echo $! > \"$HOME/.local/state/background.pid\"\n\
echo waiting for it\n\
wait\n";

#[test]
fn a_step_past_its_timeout_is_killed_with_what_it_started_and_fails() {
    let home = TestHome::new();
    let gen = build_generation(
        &home
            .gen()
            .text(".a", "1\n")
            .step("hang", "files", HANGING_STEP)
            .step("after", "files", "echo never\n"),
    );
    let start = Instant::now();
    let run = home.hearth_within(
        &["activate", "--step-timeout", "1", path_str(&gen)],
        Duration::from_secs(60),
    );
    let took = start.elapsed();
    run.assert_code(5);
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert!(!run.stdout.contains("never"), "{run}");
    assert_background_gone(&home.join(".local/state/background.pid"));
    // The files are applied and recorded, as for any failed step.
    assert_eq!(fs::read_to_string(home.join(".a")).unwrap(), "1\n");
    let names = [(path_str(&gen), "GEN")];
    insta::assert_snapshot!(
        "timeout",
        format!(
            "stdout:\n{}\nstderr:\n{}",
            redact_durations(&home.redact_user(&redact(&run.stdout, &names))),
            home.redact_user(&redact(&run.stderr, &names))
        )
    );

    // Not a duration: refused before anything runs.
    let bad = home.hearth(["activate", "--step-timeout", "soon", path_str(&gen)]);
    bad.assert_code(2);
    assert!(bad.stderr.contains("--step-timeout"), "{bad}");
}

#[test]
fn with_json_step_output_goes_to_stderr_live_and_into_the_document() {
    let home = TestHome::new();
    let gen = build_generation(&home.gen().text(".a", "1\n").step(
        "talk",
        "files",
        "echo out; echo err >&2; sleep 0.2\n",
    ));
    let run = home.hearth(["activate", "--json", path_str(&gen)]);
    run.assert_ok();
    let doc = run.json();
    let hook = &doc["hooks"][0];
    assert_eq!(hook["name"], "talk", "{run}");
    assert_eq!(hook["output"], "out\nerr\n", "{run}");
    assert_eq!(hook["timedOut"], false, "{run}");
    assert!(hook["seconds"].as_f64().unwrap() >= 0.2, "{run}");
    assert!(
        run.stderr
            .contains("step talk: running\n[talk] out\n[talk] err\nstep talk: done in "),
        "{run}"
    );
}

#[test]
fn a_step_that_leaves_a_process_holding_its_output_does_not_hold_the_activation() {
    let home = TestHome::new();
    let gen = build_generation(&home.gen().text(".a", "1\n").step(
        "daemon",
        "files",
        // The background process keeps the step's stdout open.
        "sleep 30 &\necho started\n",
    ));
    let start = Instant::now();
    let run = home.hearth_within(&["activate", path_str(&gen)], Duration::from_secs(60));
    run.assert_ok();
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
    assert!(run.stdout.contains("[daemon] started"), "{run}");
}
