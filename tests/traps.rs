//! Traps a user can set where hearth looks (issue 7, points 5 and 6): a huge
//! sparse file at a copy target, a file hearth may not read, a directory
//! nested deeper than descriptors allow, a managed link re-pointed at a FIFO
//! or /dev/zero through `..`, and control characters in what is printed.
//! Each run has a hard time limit: a trap that works stalls hearth, and the
//! test then fails instead of hanging.

use crate::common;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::users::TestUser;
use common::*;
use nix::sys::stat::Mode;

// ---------------------------------------------------------------------------
// Helpers

fn new_home() -> TestHome {
    nix::sys::stat::umask(Mode::from_bits_truncate(0o022));
    TestHome::new()
}

/// 1 TiB: read at even 10 GiB/s, hashing it would take minutes.
const TIB: u64 = 1 << 40;

/// How long a run that never reads a trap may take (it does a few
/// syscalls; the limit is for a loaded test machine).
const LIMIT: Duration = Duration::from_secs(30);

/// Runs `cmd`, killing it and failing the test when it does not finish
/// within `limit`. With `max_fds`, the run's descriptor limit is lowered
/// to it (soft and hard), so that a walk holding one per level fails.
#[allow(
    unsafe_code,
    reason = "pre_exec is unsafe: what runs between fork and exec must be async-signal-safe"
)]
fn run_limited(mut cmd: Command, limit: Duration, max_fds: Option<u64>) -> (Run, Duration) {
    if let Some(n) = max_fds {
        // SAFETY: only setrlimit, async-signal-safe, runs in the child
        // between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, n, n)
                    .map_err(std::io::Error::from)
            });
        }
    }
    common::run_within(cmd, limit)
}

fn hearth_within(home: &TestHome, args: &[&str]) -> Run {
    home.hearth_within(args, LIMIT)
}

fn activate(home: &TestHome, gen: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["activate", path_str(gen)];
    args.extend_from_slice(extra);
    hearth_within(home, &args)
}

/// A sparse file of `size` bytes at `rel` (no data blocks: made in an
/// instant, and reading it would take as long as its size says).
fn sparse(home: &TestHome, rel: &str, size: u64) -> PathBuf {
    let p = home.join(rel);
    if let Some(dir) = p.parent() {
        fs::create_dir_all(dir).unwrap();
    }
    let f = fs::File::create(&p).unwrap();
    f.set_len(size).unwrap();
    p
}

// ---------------------------------------------------------------------------
// A huge sparse file at a copy target

#[test]
fn a_huge_file_at_a_copy_target_is_moved_aside_without_being_read() {
    let home = new_home();
    let gen = build_generation(
        &home
            .gen()
            .file(FileSpec::text(".config/app/big", "small\n").copy()),
    );
    sparse(&home, ".config/app/big", TIB);

    let start = Instant::now();
    let run = activate(&home, &gen, &["--backup-ext", "bak"]);
    let took = start.elapsed();
    run.assert_ok();
    assert!(
        took < Duration::from_secs(10),
        "took {took:?}: was it read?"
    );
    assert_eq!(read_file(&home, ".config/app/big"), "small\n");
    let moved = fs::symlink_metadata(home.join(".config/app/big.bak")).unwrap();
    assert_eq!(moved.len(), TIB, "the user's file, moved aside whole");
    assert!(
        moved.blocks() < 8,
        "still sparse: nothing was written to it"
    );
}

#[test]
fn a_huge_file_at_a_copy_target_is_a_conflict_without_being_read() {
    let home = new_home();
    let gen = build_generation(&home.gen().file(FileSpec::text(".big", "small\n").copy()));
    sparse(&home, ".big", TIB);

    let start = Instant::now();
    let run = activate(&home, &gen, &[]);
    let took = start.elapsed();
    run.assert_code(3);
    assert!(
        took < Duration::from_secs(10),
        "took {took:?}: was it read?"
    );
    assert!(
        run.stderr
            .contains("~/.big   a regular file (1099511627776 bytes), not created by hearth"),
        "{run}"
    );
    assert_eq!(fs::symlink_metadata(home.join(".big")).unwrap().len(), TIB);
}

/// The same trap where the previous generation put a copy: proving the copy
/// is still hearth's needs its hash, but only a file of the recorded size
/// can be it, so this one is not read either (nor by `status`).
#[test]
fn a_huge_file_replacing_a_managed_copy_is_not_read() {
    let home = new_home();
    let [gen1, gen2] = build_generations(&[
        home.gen().file(FileSpec::text(".netrc", "v1\n").copy()),
        home.gen().file(FileSpec::text(".netrc", "v2\n").copy()),
    ])
    .try_into()
    .unwrap();
    activate(&home, &gen1, &[]).assert_ok();
    fs::remove_file(home.join(".netrc")).unwrap();
    sparse(&home, ".netrc", TIB);

    let start = Instant::now();
    let status = hearth_within(&home, &["status"]);
    status.assert_code(6);
    assert!(
        status.stdout.contains("modified"),
        "the copy is not hearth's any more:\n{status}"
    );

    let run = activate(&home, &gen2, &[]);
    run.assert_code(3);
    assert!(
        run.stderr.contains(
            "~/.netrc   a regular file (1099511627776 bytes), changed since hearth created it"
        ),
        "{run}"
    );

    let run = activate(&home, &gen2, &["--backup-ext", "bak"]);
    run.assert_ok();
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(20),
        "took {took:?}: was it read?"
    );
    assert_eq!(read_file(&home, ".netrc"), "v2\n");
    assert_eq!(
        fs::symlink_metadata(home.join(".netrc.bak")).unwrap().len(),
        TIB
    );
}

/// A file of exactly the copy's size is still compared by content: the
/// size bound decides what is read, not what matches.
#[test]
fn a_file_of_the_copys_size_but_other_content_is_not_adopted() {
    let home = new_home();
    let gen = build_generation(&home.gen().file(FileSpec::text(".netrc", "v1\n").copy()));
    write_file(&home, ".netrc", "v2\n");
    activate(&home, &gen, &[]).assert_code(3);
    assert_eq!(read_file(&home, ".netrc"), "v2\n");

    // And an identical file is adopted (hashed, since its size fits).
    fs::write(home.join(".netrc"), "v1\n").unwrap();
    fs::set_permissions(home.join(".netrc"), fs::Permissions::from_mode(0o444)).unwrap();
    activate(&home, &gen, &[]).assert_ok();
    assert_eq!(read_file(&home, ".netrc"), "v1\n");
}

// ---------------------------------------------------------------------------
// A file hearth may not read at a copy target

/// A throwaway user owning their home; hearth runs for them from root and
/// drops to them, so file permissions hold (root reads anything).
fn user_with_home() -> TestUser {
    let u = TestUser::create("htr", "trap-homes");
    for rel in ["", ".local", ".local/state"] {
        std::os::unix::fs::lchown(u.home.join(rel), Some(u.uid), Some(u.gid)).unwrap();
    }
    u
}

/// A file of the user's at `rel` that they made unreadable (mode 000). Of
/// the copy's size ("machine x\n"), so that it could be the copy and hearth
/// tries to read it: a file of another size is not even opened.
fn unreadable_file(u: &TestUser, rel: &str, content: &str) -> PathBuf {
    assert_eq!(content.len(), "machine x\n".len());
    let p = u.home.join(rel);
    fs::write(&p, content).unwrap();
    std::os::unix::fs::lchown(&p, Some(u.uid), Some(u.gid)).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o000)).unwrap();
    p
}

fn activate_for(u: &TestUser, gen: &Path, extra: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hearth"));
    cmd.args(["activate", "--user", &u.name])
        .arg(gen)
        .args(extra)
        .env("HOME", "/root")
        .env_remove("XDG_STATE_HOME")
        .current_dir("/")
        .stdin(Stdio::null());
    run_limited(cmd, LIMIT, None).0
}

#[test]
fn an_unreadable_file_at_a_copy_target_is_a_conflict_saying_so() {
    needs_root!();
    let u = user_with_home();
    let gen = build_generation(
        &GenSpec::new(&u.home)
            .user(&u.name)
            .file(FileSpec::text(".netrc", "machine x\n").copy()),
    );
    unreadable_file(&u, ".netrc", "mine mine\n");

    let run = activate_for(&u, &gen, &[]);
    // A conflict (3), not a failure of the whole activation (1).
    run.assert_code(3);
    let text = redact(
        &run.stderr,
        &[(path_str(&u.home), "~HOME"), (&u.name, "USER")],
    );
    insta::assert_snapshot!("unreadable_conflict", text);
    let m = fs::symlink_metadata(u.home.join(".netrc")).unwrap();
    assert_eq!((m.mode() & 0o7777, m.len()), (0, 10), "left as it was");
}

#[test]
fn an_unreadable_file_at_a_copy_target_is_moved_aside_with_a_backup_ext() {
    needs_root!();
    let u = user_with_home();
    let gen = build_generation(
        &GenSpec::new(&u.home)
            .user(&u.name)
            .file(FileSpec::text(".netrc", "machine x\n").copy()),
    );
    unreadable_file(&u, ".netrc", "mine mine\n");

    activate_for(&u, &gen, &["--backup-ext", "bak"]).assert_ok();
    assert_eq!(
        fs::read_to_string(u.home.join(".netrc")).unwrap(),
        "machine x\n"
    );
    let moved = u.home.join(".netrc.bak");
    let m = fs::symlink_metadata(&moved).unwrap();
    assert_eq!((m.mode() & 0o7777, m.uid()), (0, u.uid));
    assert_eq!(fs::read_to_string(&moved).unwrap(), "mine mine\n");
}

#[test]
fn an_unreadable_file_at_a_forced_copy_target_is_replaced() {
    needs_root!();
    let u = user_with_home();
    let gen = build_generation(
        &GenSpec::new(&u.home)
            .user(&u.name)
            .file(FileSpec::text(".netrc", "machine x\n").copy().force()),
    );
    unreadable_file(&u, ".netrc", "mine mine\n");

    activate_for(&u, &gen, &[]).assert_ok();
    assert_eq!(
        fs::read_to_string(u.home.join(".netrc")).unwrap(),
        "machine x\n"
    );
    let names: Vec<_> = fs::read_dir(&u.home)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.contains("hearth")),
        "nothing left behind: {names:?}"
    );
}

// ---------------------------------------------------------------------------
// A directory nested deeper than descriptors allow

const DEEP: usize = 1_100;

/// `rel/d/d/…/d/file`, `DEEP` levels, made one level at a time through a
/// descriptor (the path is longer than `PATH_MAX`).
fn deep_dir(home: &TestHome, rel: &str) {
    use nix::fcntl::{openat, OFlag};
    let top = home.join(rel);
    fs::create_dir_all(&top).unwrap();
    let mut fd =
        nix::fcntl::open(&top, OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty()).unwrap();
    for _ in 0..DEEP {
        nix::sys::stat::mkdirat(Some(fd), "d", Mode::from_bits_truncate(0o755)).unwrap();
        let next = openat(
            Some(fd),
            "d",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY,
            Mode::empty(),
        )
        .unwrap();
        nix::unistd::close(fd).unwrap();
        fd = next;
    }
    let f = openat(
        Some(fd),
        "file",
        OFlag::O_WRONLY | OFlag::O_CREAT,
        Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    nix::unistd::close(f).unwrap();
    nix::unistd::close(fd).unwrap();
}

/// The depth of `d/d/…` below `top`, counted with one descriptor at a time.
fn depth_below(top: &Path) -> usize {
    use nix::fcntl::{openat, OFlag};
    let mut fd =
        nix::fcntl::open(top, OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty()).unwrap();
    let mut n = 0;
    while let Ok(next) = openat(
        Some(fd),
        "d",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY,
        Mode::empty(),
    ) {
        nix::unistd::close(fd).unwrap();
        fd = next;
        n += 1;
    }
    nix::unistd::close(fd).unwrap();
    n
}

/// Removes a `deep_dir` tree with a constant number of descriptors (std's
/// `remove_dir_all` holds one per level): the grandchild is moved up, then
/// the emptied child removed, level by level.
fn remove_deep(top: &Path) {
    use nix::fcntl::{openat, renameat, OFlag};
    let Ok(fd) = nix::fcntl::open(top, OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty()) else {
        return;
    };
    while let Ok(child) = openat(
        Some(fd),
        "d",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY,
        Mode::empty(),
    ) {
        let _ = nix::unistd::unlinkat(Some(child), "file", nix::unistd::UnlinkatFlags::NoRemoveDir);
        let has_grandchild = renameat(Some(child), "d", Some(fd), "up").is_ok();
        nix::unistd::close(child).unwrap();
        nix::unistd::unlinkat(Some(fd), "d", nix::unistd::UnlinkatFlags::RemoveDir).unwrap();
        if !has_grandchild {
            break;
        }
        renameat(Some(fd), "up", Some(fd), "d").unwrap();
    }
    nix::unistd::close(fd).unwrap();
    let _ = fs::remove_dir_all(top);
}

fn deep_run(home: &TestHome, gen: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["activate", path_str(gen)];
    args.extend_from_slice(extra);
    // Far fewer descriptors than levels: a walk holding one per level fails.
    run_limited(home.command(&args), LIMIT, Some(64)).0
}

#[test]
fn a_deep_directory_in_the_way_is_a_conflict_without_running_out_of_descriptors() {
    let home = new_home();
    let gen = build_generation(&home.gen().text(".config/deep", "x\n"));
    deep_dir(&home, ".config/deep");

    let run = deep_run(&home, &gen, &[]);
    let depth = depth_below(&home.join(".config/deep"));
    remove_deep(&home.join(".config/deep"));
    run.assert_code(3);
    assert!(!run.stderr.contains("Too many open files"), "{run}");
    assert!(
        run.stderr
            .contains("~/.config/deep   a directory, not created by hearth"),
        "{run}"
    );
    assert_eq!(depth, DEEP, "left as it was");

    // force does not delete a directory tree, and says so.
    let gen = build_generation(
        &home
            .gen()
            .file(FileSpec::text(".config/deep", "x\n").force()),
    );
    deep_dir(&home, ".config/deep");
    let run = deep_run(&home, &gen, &[]);
    remove_deep(&home.join(".config/deep"));
    run.assert_code(3);
    assert!(!run.stderr.contains("Too many open files"), "{run}");
    assert!(
        run.stderr
            .contains("force does not delete a non-empty directory"),
        "{run}"
    );
}

#[test]
fn a_deep_directory_in_the_way_is_moved_aside_whole() {
    let home = new_home();
    let gen = build_generation(&home.gen().text(".config/deep", "x\n"));
    deep_dir(&home, ".config/deep");

    let run = deep_run(&home, &gen, &["--backup-ext", "bak"]);
    let depth = depth_below(&home.join(".config/deep.bak"));
    remove_deep(&home.join(".config/deep.bak"));
    run.assert_ok();
    assert_eq!(read_file(&home, ".config/deep"), "x\n");
    assert_eq!(depth, DEEP, "moved aside whole");
}

// ---------------------------------------------------------------------------
// A managed link with onChange re-pointed by the user

/// An onChange hook that logs that it ran (to ~/.local/state, unmanaged).
const LOG_HOOK: &str = "echo changed >> \"$HOME/.local/state/hooks.log\"\n";

fn hook_runs(home: &TestHome) -> usize {
    fs::read_to_string(home.join(".local/state/hooks.log"))
        .unwrap_or_default()
        .lines()
        .count()
}

#[test]
fn a_managed_link_re_pointed_at_a_fifo_or_dev_zero_is_never_read() {
    let home = new_home();
    let [gen1, gen2] = build_generations(&[
        home.gen()
            .file(FileSpec::text(".config/app.conf", "v1\n").on_change(LOG_HOOK)),
        home.gen()
            .file(FileSpec::text(".config/app.conf", "v2\n").on_change(LOG_HOOK)),
    ])
    .try_into()
    .unwrap();
    activate(&home, &gen1, &[]).assert_ok();
    assert_eq!(hook_runs(&home), 1);
    let fifo = home.join("fifo");
    nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o600)).unwrap();

    let link = home.join(".config/app.conf");
    // Each looks like a path into the store to a check of its first
    // components; none is.
    let traps = [
        format!("/nix/store/../..{}", path_str(&fifo)),
        "/nix/store/../dev/zero".to_owned(),
        "/nix/store/../../dev/zero".to_owned(),
        "/dev/zero".to_owned(),
    ];
    for trap in &traps {
        fs::remove_file(&link).unwrap();
        std::os::unix::fs::symlink(trap, &link).unwrap();

        let run = activate(&home, &gen2, &[]);
        run.assert_code(3);
        assert!(
            run.stderr.contains(&format!(
                "symlink to {trap}, changed since hearth created it"
            )),
            "{trap}: {run}"
        );
        assert_eq!(read_link(&home, ".config/app.conf"), Path::new(trap));
        assert_eq!(hook_runs(&home), 1, "{trap}");
    }
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());

    // Moved aside, the user's link is kept as it is and the new content
    // is a change for the hook.
    let run = activate(&home, &gen2, &["--backup-ext", "bak"]);
    run.assert_ok();
    assert_eq!(
        read_link(&home, ".config/app.conf.bak"),
        Path::new(traps.last().unwrap())
    );
    assert_eq!(read_file(&home, ".config/app.conf"), "v2\n");
    assert_eq!(hook_runs(&home), 2);
}

// ---------------------------------------------------------------------------
// Control characters in what is printed

/// What a user's names and link targets could do to root's terminal:
/// clear it, home the cursor, and write over a line.
const EVIL: &str = "\x1b[2J\x1b[H\rall good\x07";

fn has_raw_control(text: &str) -> bool {
    text.chars().any(|c| c.is_control() && c != '\n')
}

#[test]
fn names_and_link_targets_from_the_home_are_printed_escaped() {
    let home = new_home();
    let gen = build_generation(&home.gen().text(".config/a", "a\n").text(".config/b", "b\n"));
    activate(&home, &gen, &[]).assert_ok();
    // The user re-points a managed link and deletes another.
    fs::remove_file(home.join(".config/a")).unwrap();
    std::os::unix::fs::symlink(format!("/tmp/{EVIL}"), home.join(".config/a")).unwrap();
    fs::remove_file(home.join(".config/b")).unwrap();
    std::os::unix::fs::symlink(format!("dangling{EVIL}"), home.join(".config/b")).unwrap();

    let status = hearth_within(&home, &["status"]);
    status.assert_code(6);
    assert!(!has_raw_control(&status.stdout), "{:?}", status.stdout);
    insta::assert_snapshot!("escaped_status", home.redact_user(&status.stdout));
    let json = hearth_within(&home, &["status", "--json"]);
    json.assert_code(6);
    let v = json.json();
    assert!(!has_raw_control(&json.stdout), "JSON escapes them itself");
    assert_eq!(v["drift"].as_array().unwrap().len(), 2, "{v}");

    let plan = hearth_within(&home, &["plan", path_str(&gen)]);
    assert!(!has_raw_control(&plan.stdout), "{:?}", plan.stdout);
    assert!(!has_raw_control(&plan.stderr), "{:?}", plan.stderr);
    insta::assert_snapshot!(
        "escaped_plan",
        home.redact_user(&format!("{}{}", plan.stdout, plan.stderr))
    );
    let run = activate(&home, &gen, &[]);
    run.assert_code(3);
    assert!(!has_raw_control(&run.stderr), "{:?}", run.stderr);
    insta::assert_snapshot!("escaped_conflicts", home.redact_user(&run.stderr));

    // --json carries the exact target, escaped by JSON.
    let run = activate(&home, &gen, &["--json"]);
    assert!(!has_raw_control(&run.stdout), "{:?}", run.stdout);
    let v = run.json();
    let targets: Vec<&str> = v["conflicts"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .filter_map(|c| c["found"]["target"].as_str())
        .collect();
    assert!(targets.contains(&format!("/tmp/{EVIL}").as_str()), "{v}");
}

#[test]
fn a_file_name_with_control_characters_in_the_way_is_printed_escaped() {
    let home = new_home();
    // A target name with control characters, chosen by whoever wrote the
    // home's configuration, and a file of the user's in its way.
    let name = format!("in{EVIL}way");
    let gen_spec = home.gen().text(&name, "x\n");
    let gen = build_generation(&gen_spec);
    write_file(&home, &name, "mine\n");
    let run = activate(&home, &gen, &[]);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(!has_raw_control(&all), "{all:?}");
    insta::assert_snapshot!("escaped_name", home.redact_user(&all));
}
