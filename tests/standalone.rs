//! Standalone hearth end to end: `hearth init`, `switch` and `build` with a
//! real nix-build of a home.nix (and a flake's home) over a stand-in
//! nixpkgs, whose `lib` is nixpkgs' own (`HEARTH_NIXPKGS`) and whose packages
//! are small /bin/sh derivations (tests/nix/standalone-pkgs.nix); new login
//! shells (bash, zsh, fish) that must see the packages and the session
//! variables; a second home, rollback, and a package also installed with
//! `nix-env -i`. As root, a throwaway user does it all through a
//! `nix-daemon` the test starts, as on a multi-user install. Every error a
//! user can meet on the way is pinned by a snapshot.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;
use common::{path_str, redact, Run, TestHome};

/// Marks the throwaway users of this module (see `TestUserOf`).
struct Standalone;
type TestUser = common::users::TestUserOf<Standalone>;

/// Files, XDG files, session variables and path, and packages: `hello`
/// with a `dev` output (linked through extraOutputsToInstall), and two
/// packages with a `bin/greet` each, told apart by priority.
const HOME_ONE: &str = r#"{ config, lib, pkgs, ... }:
{
  home.file."notes.txt".text = "one\n";
  xdg.configFile."app/settings".text = "theme=dark\n";
  home.sessionVariables.EDITOR = "vim";
  home.sessionVariables.GREETING = "hello from ${config.home.username}";
  home.sessionPath = [ "$HOME/mybin" ];
  home.packages = [ pkgs.hello pkgs.greet pkgs.greetLow ];
  home.extraOutputsToInstall = [ "dev" ];
}
"#;

/// The second home: a file changed, one gone, one package fewer.
const HOME_TWO: &str = r#"{ pkgs, ... }:
{
  home.file."notes.txt".text = "two\n";
  home.sessionVariables.EDITOR = "nano";
  home.packages = [ pkgs.hello ];
}
"#;

/// Two packages with `bin/greet` at the same priority: the build fails.
const HOME_COLLIDING: &str = r"{ pkgs, ... }:
{
  home.packages = [ pkgs.greet pkgs.greetToo ];
}
";

/// nixpkgs' lib directory, from what `nixpkgs_or_skip!` found.
pub(crate) fn nixpkgs_lib(nixpkgs: &str) -> PathBuf {
    let dir = if nixpkgs == "<nixpkgs>" {
        let out = Command::new("nix-instantiate")
            .args(["--find-file", "nixpkgs"])
            .output()
            .unwrap();
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    } else {
        PathBuf::from(nixpkgs)
    };
    if dir.join("lib/default.nix").is_file() {
        dir.join("lib")
    } else {
        dir
    }
}

/// A `<nixpkgs>` of the test's own: nixpkgs' real lib, and the stand-in
/// package set as its default.nix (what `import <nixpkgs> { }` gives).
pub(crate) fn fake_nixpkgs(dir: &Path, nixpkgs: &str) -> PathBuf {
    let root = dir.join("nixpkgs");
    fs::create_dir_all(&root).unwrap();
    std::os::unix::fs::symlink(nixpkgs_lib(nixpkgs), root.join("lib")).unwrap();
    let pkgs = common::nix_eval::root().join("tests/nix/standalone-pkgs.nix");
    fs::write(
        root.join("default.nix"),
        format!("{{ ... }}: import {}\n", pkgs.display()),
    )
    .unwrap();
    root
}

/// What a login shell of the home sees: each line `NAME=value`, and what
/// `hello` and `greet` print.
fn login_shell(shell: &str, home: &Path, user: Option<&str>) -> Option<String> {
    let script = "hello; greet; printf '%s\\n' \"EDITOR=$EDITOR\" \"GREETING=$GREETING\" \"PATH=$PATH\" \"MANPATH=$MANPATH\" \"XDG_DATA_DIRS=$XDG_DATA_DIRS\"";
    login_shell_runs(shell, home, user, script)
}

/// What `script` prints in a login shell of the home (None: the shell is
/// not installed).
fn login_shell_runs(shell: &str, home: &Path, user: Option<&str>, script: &str) -> Option<String> {
    let Some(program) = ["/usr/bin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(shell))
        .find(|p| p.is_file())
    else {
        println!("skipped: {shell} is not installed; its login shell is not checked");
        eprintln!("skipped: {shell} is not installed; its login shell is not checked");
        return None;
    };
    let name = user.map_or_else(common::current_user, str::to_string);
    let mut cmd = if let Some(u) = user {
        let mut c = Command::new("runuser");
        c.args(["-u", u, "--", "env", "-i"]);
        c
    } else {
        let mut c = Command::new("env");
        c.arg("-i");
        c
    };
    cmd.arg(format!("HOME={}", home.display()))
        .arg(format!("USER={name}"))
        .arg("PATH=/usr/bin:/bin")
        .arg(&program)
        .args(["-l", "-c", script])
        .stdin(Stdio::null());
    let out = cmd.output().unwrap();
    let run = Run::from_output(out);
    assert_eq!(run.code, 0, "{shell} -l failed:\n{run}");
    Some(run.stdout)
}

/// Checks what a login shell saw against the first home.
fn assert_sees_home_one(seen: &str, home: &Path, shell: &str) {
    let profile = home.join(".local/state/nix/profiles/hearth-packages");
    let line = |name: &str| {
        seen.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{shell}: no {name} in:\n{seen}"))
            .to_string()
    };
    assert!(seen.contains("hello from hearth\n"), "{shell}:\n{seen}");
    // greet's priority (5) beats greetLow's (10).
    assert!(seen.contains("greet-high\n"), "{shell}:\n{seen}");
    assert_eq!(line("EDITOR"), "vim", "{shell}");
    assert!(line("GREETING").starts_with("hello from "), "{shell}");
    let path = line("PATH");
    assert!(
        path.starts_with(&format!("{}/mybin:", home.display())),
        "{shell}: PATH={path}"
    );
    assert!(
        path.contains(&format!("{}/bin", profile.display())),
        "{shell}: PATH={path}"
    );
    assert!(
        line("MANPATH").contains(&format!("{}/share/man", profile.display())),
        "{shell}: {seen}"
    );
    assert!(
        line("XDG_DATA_DIRS").starts_with(&format!("{}/share", profile.display())),
        "{shell}: {seen}"
    );
}

/// The profile's contents that the first home promises.
fn assert_profile_one(home: &Path) {
    let profile = home.join(".local/state/nix/profiles/hearth-packages");
    assert!(profile.join("bin/hello").exists());
    assert!(
        profile.join("include/hello.h").exists(),
        "the dev output is linked (extraOutputsToInstall)"
    );
    assert!(profile.join("share/man/man1/hello.1").exists());
    assert!(profile.join("etc/profile.d/hm-session-vars.sh").exists());
    assert!(profile.join("etc/profile.d/hearth.sh").exists());
    let greet = fs::read_to_string(profile.join("bin/greet")).unwrap();
    assert!(greet.contains("greet-high"), "{greet}");
}

fn hearth_in(home: &TestHome, args: &[&str]) -> Run {
    let out = home
        .command(args)
        .env("SHELL", "/bin/bash")
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .unwrap();
    Run::from_output(out)
}

/// As the user running the tests (root here): the whole path from
/// `hearth init` to a login shell, a second home, rollback, and a package
/// also installed with nix-env into another profile.
#[test]
fn switch_applies_a_home_nix_that_new_login_shells_see() {
    let nixpkgs = nixpkgs_or_skip!();
    let home = TestHome::new();
    let scratch = common::nix_eval::tempdir("standalone", "switch");
    let np = fake_nixpkgs(&scratch, &nixpkgs);
    let include = format!("nixpkgs={}", np.display());

    let init = hearth_in(&home, &["init", "--yes"]);
    init.assert_ok();
    let file = home.join(".config/hearth/home.nix");
    let written = fs::read_to_string(&file).unwrap();
    assert!(
        written.contains(&format!("home.username = \"{}\";", common::current_user())),
        "{written}"
    );
    assert!(written.contains(&format!(
        "home.homeDirectory = \"{}\";",
        home.path().display()
    )));
    assert!(fs::read_to_string(home.join(".profile"))
        .unwrap()
        .contains("hearth.sh"));
    // The starting home.nix builds as written.
    hearth_in(&home, &["switch", "-I", &include]).assert_ok();

    fs::write(&file, HOME_ONE).unwrap();
    let run = hearth_in(&home, &["switch", "-I", &include]);
    run.assert_ok();
    assert!(run.stdout.contains("activated generation 2"), "{run}");
    // Nix's own output stays visible.
    assert!(run.stderr.contains("building '"), "{run}");
    assert_eq!(
        fs::read_link(home.join("notes.txt"))
            .map(|t| fs::read_to_string(t).unwrap())
            .unwrap(),
        "one\n"
    );
    assert!(home
        .join(".config/app/settings")
        .symlink_metadata()
        .unwrap()
        .is_symlink());
    assert_profile_one(home.path());
    // Apart from ~/.nix-profile, which hearth never touches.
    assert!(home.join(".nix-profile").symlink_metadata().is_err());

    for shell in ["bash", "zsh", "fish"] {
        if let Some(seen) = login_shell(shell, home.path(), None) {
            assert_sees_home_one(&seen, home.path(), shell);
        }
    }
    // Everything `hearth activate` does works on what switch applied.
    hearth_in(&home, &["status"]).assert_ok();

    // A package the user also installs with nix-env, into a profile of
    // its own, collides with nothing: the environments stay apart.
    let user_profile = home.join(".local/state/nix/profiles/profile");
    let pkgs = common::nix_eval::root().join("tests/nix/standalone-pkgs.nix");
    let env_out = Command::new("nix-env")
        .env("HOME", home.path())
        .args(["--profile", path_str(&user_profile), "-f", path_str(&pkgs)])
        .args(["-iA", "hello", "greetToo"])
        .output()
        .unwrap();
    assert!(
        env_out.status.success(),
        "{}",
        String::from_utf8_lossy(&env_out.stderr)
    );
    assert!(user_profile.join("bin/hello").exists());

    // A second home.nix, given with -f; then back.
    let two = scratch.join("two.nix");
    fs::write(&two, HOME_TWO).unwrap();
    hearth_in(&home, &["switch", "-f", path_str(&two), "-I", &include]).assert_ok();
    let profile = home.join(".local/state/nix/profiles/hearth-packages");
    assert!(!profile.join("bin/greet").exists());
    assert!(home
        .join(".config/app/settings")
        .symlink_metadata()
        .is_err());
    assert_eq!(fs::read_to_string(home.join("notes.txt")).unwrap(), "two\n");

    let back = hearth_in(&home, &["rollback"]);
    back.assert_ok();
    assert_eq!(fs::read_to_string(home.join("notes.txt")).unwrap(), "one\n");
    assert_profile_one(home.path());
    let gens = hearth_in(&home, &["generations"]);
    gens.assert_ok();
    // Rolled back to generation 2 (the first home.nix's), not a new one.
    assert_eq!(gens.stdout.lines().count(), 3, "{gens}");
    assert!(
        gens.stdout.lines().nth(1).unwrap().ends_with("(current)"),
        "{gens}"
    );
    let _ = fs::remove_dir_all(&scratch);
}

/// `--dry-run` is the plan (nothing changes); `build` prints the generation
/// and links it as nix-build does.
#[test]
fn dry_run_plans_and_build_only_builds() {
    let nixpkgs = nixpkgs_or_skip!();
    let home = TestHome::new();
    let scratch = common::nix_eval::tempdir("standalone", "build");
    let np = fake_nixpkgs(&scratch, &nixpkgs);
    let include = format!("nixpkgs={}", np.display());
    let file = scratch.join("home.nix");
    fs::write(&file, HOME_ONE).unwrap();
    let before = home.snapshot();

    let plan = hearth_in(
        &home,
        &["switch", "--dry-run", "-f", path_str(&file), "-I", &include],
    );
    plan.assert_ok();
    assert!(plan.stdout.contains("plan for /nix/store/"), "{plan}");
    assert!(plan.stdout.contains("create   ~/notes.txt"), "{plan}");
    common::assert_same(&before, &home.snapshot());

    let link = scratch.join("result");
    let built = hearth_in(
        &home,
        &[
            "build",
            "-f",
            path_str(&file),
            "-I",
            &include,
            "--out-link",
            path_str(&link),
        ],
    );
    built.assert_ok();
    let generation = fs::read_link(&link).unwrap();
    assert!(
        built
            .stdout
            .starts_with(&format!("{}\n", generation.display())),
        "{built}"
    );
    assert!(generation.join("manifest.json").is_file());
    common::assert_same(&before, &home.snapshot());
    let _ = fs::remove_dir_all(&scratch);
}

/// A copy of what hearth's flake reads (flake.nix, nix/), as a `path:`
/// input: the checkout itself holds target/, which Nix would copy whole.
fn hearth_flake_copy(dir: &Path) -> PathBuf {
    let copy = dir.join("hearth");
    fs::create_dir_all(&copy).unwrap();
    let root = common::nix_eval::root();
    fs::copy(root.join("flake.nix"), copy.join("flake.nix")).unwrap();
    let status = Command::new("cp")
        .arg("-r")
        .arg(root.join("nix"))
        .arg(&copy)
        .status()
        .unwrap();
    assert!(status.success());
    copy
}

/// The test binary as a package in the store (bin/hearth), for a flake's
/// `hearth.package`: a pure evaluation cannot read it from target/.
fn hearth_in_store(dir: &Path) -> String {
    let pkg = dir.join("hearth-pkg");
    fs::create_dir_all(pkg.join("bin")).unwrap();
    fs::copy(env!("CARGO_BIN_EXE_hearth"), pkg.join("bin/hearth")).unwrap();
    let out = Command::new("nix-store")
        .arg("--add")
        .arg(&pkg)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// `--flake REF#NAME`: hearthConfigurations.NAME made by
/// `hearth.lib.homeConfiguration`, built with `nix build`; a name the flake
/// does not have, and a Home Manager configuration, are refused by name.
#[test]
fn a_flake_home_switches_and_unknown_names_are_refused() {
    let nixpkgs = nixpkgs_or_skip!();
    let nixpkgs_dir = nixpkgs_lib(&nixpkgs)
        .parent()
        .map(Path::to_path_buf)
        .filter(|d| d.join("flake.nix").is_file());
    let Some(nixpkgs_dir) = nixpkgs_dir else {
        println!(
            "skipped: the nixpkgs found ({nixpkgs}) is not a flake; the flake home is not checked"
        );
        eprintln!(
            "skipped: the nixpkgs found ({nixpkgs}) is not a flake; the flake home is not checked"
        );
        return;
    };
    let home = TestHome::new();
    // Outside the checkout: Nix would take a flake inside it for part of
    // hearth's git tree.
    let scratch =
        std::env::temp_dir().join(format!("hearth-standalone-flake-{}", std::process::id()));
    let _ = fs::remove_dir_all(&scratch);
    fs::create_dir_all(&scratch).unwrap();
    let hearth = hearth_flake_copy(&scratch);
    let package = hearth_in_store(&scratch);
    let flake = scratch.join("flake");
    fs::create_dir_all(&flake).unwrap();
    let stubs = common::nix_eval::root().join("tests/nix");
    for f in ["standalone-pkgs.nix", "stubs.nix"] {
        fs::copy(stubs.join(f), flake.join(f)).unwrap();
    }
    fs::write(flake.join("home.nix"), HOME_ONE).unwrap();
    let user = common::current_user();
    fs::write(
        flake.join("flake.nix"),
        format!(
            r#"{{
  inputs.nixpkgs.url = "path:{nixpkgs}";
  inputs.hearth.url = "path:{hearth}";
  inputs.hearth.inputs.nixpkgs.follows = "nixpkgs";
  outputs = {{ nixpkgs, hearth, ... }}: {{
    hearthConfigurations.me = hearth.lib.homeConfiguration {{
      pkgs = import ./standalone-pkgs.nix;
      modules = [
        ./home.nix
        {{ home.username = "{user}"; home.homeDirectory = "{home}"; hearth.package = "{package}"; }}
      ];
    }};
    # What Home Manager's homeManagerConfiguration gives: not a hearth home.
    homeConfigurations.hm = {{ activationPackage = throw "not built"; config = {{ }}; }};
  }};
}}
"#,
            nixpkgs = nixpkgs_dir.display(),
            hearth = hearth.display(),
            home = home.path().display(),
        ),
    )
    .unwrap();
    let in_flake = |args: &[&str]| {
        let out = home
            .command(args)
            .current_dir(&flake)
            .env_remove("XDG_CONFIG_HOME")
            .output()
            .unwrap();
        Run::from_output(out)
    };
    // The stand-in packages read builtins.currentSystem, which a pure
    // evaluation has not: --option goes to Nix.
    let run = in_flake(&[
        "switch",
        "--flake",
        ".#me",
        "--option",
        "pure-eval",
        "false",
    ]);
    run.assert_ok();
    assert!(run.stdout.contains("activated generation 1"), "{run}");
    assert_profile_one(home.path());
    assert_eq!(fs::read_to_string(home.join("notes.txt")).unwrap(), "one\n");
    hearth_in(&home, &["status"]).assert_ok();

    let redactions = [(path_str(&flake), "~FLAKE")];
    let missing = in_flake(&["switch", "--flake", ".#nobody"]);
    missing.assert_code(2);
    insta::assert_snapshot!("flake_unknown_home", redact(&missing.stderr, &redactions));
    let hm = in_flake(&["build", "--flake", ".#hm"]);
    hm.assert_code(2);
    insta::assert_snapshot!(
        "flake_home_manager_configuration",
        redact(&hm.stderr, &redactions)
    );
    let _ = fs::remove_dir_all(&scratch);
}

/// hearth's own message at the end of stderr (after Nix's), from its
/// `error:` line on.
fn hearth_error(stderr: &str) -> &str {
    stderr
        .rfind("error: building the home")
        .or_else(|| stderr.rfind("error: "))
        .map_or(stderr, |i| &stderr[i..])
}

/// Every error a user can meet on the way to a switch: a clear message
/// with what to do, and nothing activated.
#[test]
fn errors_on_the_way_say_what_to_do() {
    let nixpkgs = nixpkgs_or_skip!();
    let home = TestHome::new();
    let scratch = common::nix_eval::tempdir("standalone", "errors");
    let np = fake_nixpkgs(&scratch, &nixpkgs);
    let include = format!("nixpkgs={}", np.display());
    let before = home.snapshot();
    let redactions = [
        (path_str(&scratch), "~SCRATCH"),
        (path_str(home.path()), "~HOME"),
    ];

    // No home.nix where hearth looks.
    let run = hearth_in(&home, &["switch"]);
    run.assert_code(2);
    insta::assert_snapshot!("no_home_nix", redact(&run.stderr, &redactions));

    // No nixpkgs in the search path (nor channels: HOME is the test's).
    let file = scratch.join("home.nix");
    fs::write(&file, HOME_ONE).unwrap();
    let out = home
        .command(["switch", "-f", path_str(&file)])
        .env("NIX_PATH", "")
        .output()
        .unwrap();
    let run = Run::from_output(out);
    run.assert_code(1);
    insta::assert_snapshot!("no_nixpkgs", redact(&run.stderr, &redactions));

    // Nix is not installed (not on PATH).
    let out = home
        .command(["switch", "-f", path_str(&file), "-I", &include])
        .env("PATH", scratch.join("empty-bin"))
        .output()
        .unwrap();
    let run = Run::from_output(out);
    run.assert_code(1);
    insta::assert_snapshot!("nix_missing", redact(&run.stderr, &redactions));

    // The build fails (two packages with bin/greet at one priority): Nix
    // says why, then hearth says what it means.
    let colliding = scratch.join("colliding.nix");
    fs::write(&colliding, HOME_COLLIDING).unwrap();
    let run = hearth_in(
        &home,
        &["switch", "-f", path_str(&colliding), "-I", &include],
    );
    run.assert_code(1);
    assert!(
        run.stderr.contains("bin/greet"),
        "Nix's own message names the file:\n{run}"
    );
    insta::assert_snapshot!(
        "build_failure",
        redact(hearth_error(&run.stderr), &redactions)
    );

    // --home-manager of a directory that is not Home Manager's, and of a
    // name Nix's search path does not have.
    let run = hearth_in(
        &home,
        &[
            "switch",
            "-f",
            path_str(&file),
            "-I",
            &include,
            "--home-manager",
            path_str(&scratch),
        ],
    );
    run.assert_code(2);
    insta::assert_snapshot!("not_home_manager", redact(&run.stderr, &redactions));
    let run = hearth_in(
        &home,
        &[
            "build",
            "-f",
            path_str(&file),
            "-I",
            &include,
            "--home-manager",
            "<home-manager>",
        ],
    );
    run.assert_code(2);
    insta::assert_snapshot!(
        "home_manager_not_in_search_path",
        redact(&run.stderr, &redactions)
    );

    // An evaluation error is shown as Nix prints it.
    let broken = scratch.join("broken.nix");
    fs::write(&broken, "{ ... }: { home.file.x.text = 1; }\n").unwrap();
    let run = hearth_in(&home, &["build", "-f", path_str(&broken), "-I", &include]);
    run.assert_code(1);
    assert!(run.stderr.contains("home.file.x.text"), "{run}");

    common::assert_same(&before, &home.snapshot());
    let _ = fs::remove_dir_all(&scratch);
}

/// A `nix-daemon` of the test's own, on a socket of its own (nothing else
/// on the machine talks to it), stopped on drop.
struct Daemon {
    child: Child,
    socket: PathBuf,
}

impl Daemon {
    fn start(dir: &Path) -> Option<Daemon> {
        let program = Path::new("/usr/bin/nix-daemon");
        if !program.is_file() {
            return None;
        }
        fs::create_dir_all(dir).unwrap();
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
        let socket = dir.join("socket");
        let child = Command::new(program)
            .env("NIX_DAEMON_SOCKET_PATH", &socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while !socket.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "nix-daemon did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Daemon { child, socket })
    }

    fn remote(&self) -> String {
        format!("unix://{}", self.socket.display())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// As root: a fresh throwaway user whose every Nix operation goes through
/// a `nix-daemon` (`NIX_REMOTE`), as on a multi-user install: init, switch,
/// login shells, a second home, rollback, and `nix-env -i` of a package
/// the home also has, into the user's own ~/.nix-profile.
#[test]
fn a_new_user_switches_through_the_nix_daemon() {
    needs_root!();
    let nixpkgs = nixpkgs_or_skip!();
    let scratch = common::nix_eval::tempdir("standalone", "daemon");
    fs::set_permissions(&scratch, fs::Permissions::from_mode(0o755)).unwrap();
    let Some(daemon) = Daemon::start(&scratch.join("daemon")) else {
        println!("skipped: no /usr/bin/nix-daemon; the daemon route is not checked");
        eprintln!("skipped: no /usr/bin/nix-daemon; the daemon route is not checked");
        return;
    };
    let np = fake_nixpkgs(&scratch, &nixpkgs);
    let include = format!("nixpkgs={}", np.display());
    let user = TestUser::create("hstandalone", "standalone");
    user.chown_home(user.uid, user.gid);
    let remote = daemon.remote();
    let as_user = |args: &[&str]| {
        let out = Command::new("runuser")
            .args(["-u", &user.name, "--", "env", "-i"])
            .arg(format!("HOME={}", user.home.display()))
            .arg(format!("USER={}", user.name))
            .arg("SHELL=/bin/bash")
            .arg("PATH=/usr/bin:/bin")
            .arg(format!("NIX_REMOTE={remote}"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        Run::from_output(out)
    };
    let hearth = env!("CARGO_BIN_EXE_hearth");

    as_user(&[hearth, "init", "--yes"]).assert_ok();
    let file = user.home.join(".config/hearth/home.nix");
    fs::write(&file, HOME_ONE).unwrap();
    let run = as_user(&[hearth, "switch", "-I", &include]);
    run.assert_ok();
    assert_profile_one(&user.home);
    for shell in ["bash", "zsh", "fish"] {
        if let Some(seen) = login_shell(shell, &user.home, Some(&user.name)) {
            assert_sees_home_one(&seen, &user.home, shell);
        }
    }
    // Where a daemon install puts them: the per-user GC-roots directory
    // made by the daemon (owned by the user), the profile's root
    // registered by the daemon in gcroots/auto.
    let per_user = Path::new("/nix/var/nix/gcroots/per-user").join(&user.name);
    let meta = fs::metadata(&per_user).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), user.uid);
    let profile_link = user
        .home
        .join(".local/state/nix/profiles/hearth-packages-1-link");
    let registered = fs::read_dir("/nix/var/nix/gcroots/auto")
        .unwrap()
        .flatten()
        .any(|e| fs::read_link(e.path()).is_ok_and(|t| t == profile_link));
    assert!(registered, "the profile is a GC root through the daemon");

    // nix-env -i of a package the home also has: the user's own profile.
    let pkgs = common::nix_eval::root().join("tests/nix/standalone-pkgs.nix");
    let env_run = as_user(&["nix-env", "-f", path_str(&pkgs), "-iA", "hello", "greetToo"]);
    env_run.assert_ok();
    assert!(
        user.home.join(".nix-profile/bin/hello").exists(),
        "{env_run}"
    );
    if let Some(seen) = login_shell("bash", &user.home, Some(&user.name)) {
        assert_sees_home_one(&seen, &user.home, "bash");
    }

    let two = user.home.join("two.nix");
    fs::write(&two, HOME_TWO).unwrap();
    as_user(&[hearth, "switch", "-f", path_str(&two), "-I", &include]).assert_ok();
    assert_eq!(
        fs::read_to_string(user.home.join("notes.txt")).unwrap(),
        "two\n"
    );
    as_user(&[hearth, "rollback"]).assert_ok();
    assert_eq!(
        fs::read_to_string(user.home.join("notes.txt")).unwrap(),
        "one\n"
    );
    assert_profile_one(&user.home);

    drop(daemon);
    let _ = fs::remove_dir_all(Path::new("/nix/var/nix/profiles/per-user").join(&user.name));
    let _ = fs::remove_dir_all(&scratch);
}

/// `hearth init` with its input on stdin (`None`: none given).
fn init_with(home: &TestHome, args: &[&str], answer: Option<&str>) -> Run {
    let mut child = home
        .command(["init"].iter().chain(args))
        .env("SHELL", "/bin/bash")
        .env("PATH", "/usr/bin:/bin")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("ZDOTDIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(a) = answer {
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(a.as_bytes()).unwrap();
    } else {
        drop(child.stdin.take());
    }
    Run::from_output(child.wait_with_output().unwrap())
}

/// `hearth init` asks before it touches a shell file, appends only, once,
/// and keeps a home.nix that exists.
#[test]
fn init_asks_appends_once_and_keeps_what_exists() {
    let home = TestHome::new();
    fs::write(home.join(".bash_profile"), "export MINE=1").unwrap();
    let shell_files = |home: &TestHome| {
        [
            ".bash_profile",
            ".profile",
            ".zprofile",
            ".config/fish/conf.d/hearth.fish",
        ]
        .iter()
        .filter(|f| home.join(f).exists())
        .map(|f| (*f, fs::read_to_string(home.join(f)).unwrap()))
        .collect::<Vec<_>>()
    };
    let before = shell_files(&home);

    // No answer (end of input) and "n" are no.
    let run = init_with(&home, &[], None);
    run.assert_ok();
    assert_eq!(shell_files(&home), before);
    let redactions = [(path_str(home.path()), "~HOME")];
    // Without the zsh and fish lines, which depend on what is installed.
    let text = redact(
        &format!("--- stdout\n{}--- stderr\n{}", run.stdout, run.stderr),
        &redactions,
    );
    let shown: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains(".zprofile") && !l.contains("fish"))
        .collect();
    insta::assert_snapshot!("init_declined", shown.join("\n"));
    let file = home.join(".config/hearth/home.nix");
    fs::write(&file, "# mine\n{ ... }: { }\n").unwrap();
    init_with(&home, &[], Some("n\n")).assert_ok();
    assert_eq!(shell_files(&home), before);

    // "y": one line appended to bash's (the existing .bash_profile, so
    // .profile is not created), a new .zprofile and fish file when those
    // shells are installed; home.nix kept.
    let run = init_with(&home, &[], Some("y\n"));
    run.assert_ok();
    assert_eq!(fs::read_to_string(&file).unwrap(), "# mine\n{ ... }: { }\n");
    let bash = fs::read_to_string(home.join(".bash_profile")).unwrap();
    assert!(bash.starts_with("export MINE=1\nif [ -r "), "{bash}");
    assert_eq!(bash.lines().count(), 2);
    assert!(!home.join(".profile").exists());
    let redacted = redact(&run.stdout, &redactions);
    let mut shown: Vec<&str> = redacted
        .lines()
        .filter(|l| !l.contains(".zprofile") && !l.contains("fish"))
        .collect();
    shown.sort_unstable();
    insta::assert_snapshot!("init_agreed", shown.join("\n"));

    // Again, with --yes: nothing more is added.
    let after = shell_files(&home);
    let run = init_with(&home, &["--yes"], None);
    run.assert_ok();
    assert_eq!(shell_files(&home), after);
    assert!(
        run.stdout.contains("already reads hearth's profile"),
        "{run}"
    );
}

/// `nix flake init -t hearth` copies templates/default: its files parse,
/// and its home.nix evaluates as a home (with a stand-in for ripgrep).
#[test]
fn the_template_parses_and_its_home_evaluates() {
    let dir = common::nix_eval::root().join("templates/default");
    for f in ["flake.nix", "home.nix"] {
        let out = Command::new("nix-instantiate")
            .arg("--parse")
            .arg(dir.join(f))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{f}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let nixpkgs = nixpkgs_or_skip!();
    let lib = nixpkgs_lib(&nixpkgs);
    let expr = format!(
        r#"let
  lib = import {lib};
  pkgs = import {pkgs} // {{ ripgrep = (import {stubs}).tool "ripgrep"; }};
  home = import {conf} {{ inherit lib pkgs; modules = [ {home} ]; hearthPackage = "/nix/store/00000000000000000000000000000000-hearth"; }};
in [ home.config.home.username (map (p: p.name) home.config.home.packages) ]"#,
        lib = lib.display(),
        pkgs = common::nix_eval::root()
            .join("tests/nix/standalone-pkgs.nix")
            .display(),
        stubs = common::nix_eval::root()
            .join("tests/nix/stubs.nix")
            .display(),
        conf = common::nix_eval::root()
            .join("nix/standalone/configuration.nix")
            .display(),
        home = dir.join("home.nix").display(),
    );
    let value = common::nix_eval::instantiate(&["--expr", &expr]).unwrap();
    assert_eq!(
        value,
        serde_json::json!(["alice", ["ripgrep", "hearth-profile-hook"]])
    );
}

/// An unchanged Home Manager home.nix: Home Manager's git module, an XDG
/// file, session variables and path, and a package. `{user}` and `{home}`
/// are filled in as a Home Manager user writes them.
const HOME_HM: &str = r#"{ config, pkgs, ... }:
{
  home.username = "{user}";
  home.homeDirectory = "{home}";
  home.stateVersion = "25.05";
  # Home Manager's manual page is built with nixos-render-docs, which the
  # stand-in pkgs (tests/nix/hm-pkgs.nix) do not have.
  manual.manpages.enable = false;

  programs.git = {
    enable = true;
    settings.user.name = "Alice Example";
    settings.alias.st = "status -sb";
    ignores = [ "*~" "result" ];
  };
  xdg.configFile."app/settings".text = "theme=dark\n";
  home.sessionVariables.EDITOR = "vim";
  home.sessionPath = [ "$HOME/mybin" ];
  home.packages = [ pkgs.htop ];
}
"#;

fn home_hm(home: &Path) -> String {
    HOME_HM
        .replace("{user}", &common::current_user())
        .replace("{home}", path_str(home))
}

/// A `<nixpkgs>` for Home Manager's modules: nixpkgs' real lib, the
/// stand-in package set of tests/nix/hm-pkgs.nix as its default.nix, and
/// the part of nixpkgs' tree Home Manager imports (`pkgs.path`).
fn fake_hm_nixpkgs(dir: &Path, nixpkgs: &str) -> PathBuf {
    let root = dir.join("nixpkgs-hm");
    fs::create_dir_all(&root).unwrap();
    std::os::unix::fs::symlink(nixpkgs_lib(nixpkgs), root.join("lib")).unwrap();
    let tree = common::nix_eval::root().join("tests/nix");
    std::os::unix::fs::symlink(tree.join("hm-pkgs-path/nixos"), root.join("nixos")).unwrap();
    fs::write(
        root.join("default.nix"),
        format!(
            "{{ ... }}: import {} {{ lib = import ./lib; path = ./.; }}\n",
            tree.join("hm-pkgs.nix").display()
        ),
    )
    .unwrap();
    root
}

/// nix-build, tried again when Nix 2.8 kills a builder that has just
/// ended (see `tests/nix_hm.rs`); the store path it printed.
fn nix_build_retrying(args: &[&str]) -> PathBuf {
    let run = || {
        Command::new("nix-build")
            .args(["--no-out-link", "--option", "substituters", ""])
            .args(args)
            .output()
            .unwrap()
    };
    let mut out = run();
    for _ in 0..10 {
        if out.status.success() || !String::from_utf8_lossy(&out.stderr).contains("signal 9") {
            break;
        }
        out = run();
    }
    assert!(
        out.status.success(),
        "nix-build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// What `hearth.sh` gives a login shell of the home: the packages on PATH,
/// and Home Manager's session variables.
fn assert_login_shells_see_the_hm_home(home: &Path) {
    let profile = home.join(".local/state/nix/profiles/hearth-packages");
    let script = "command -v htop; command -v git; printf '%s\\n' \"EDITOR=$EDITOR\" \"PATH=$PATH\" \"HM=${__HM_SESS_VARS_SOURCED-}\"";
    for shell in ["bash", "zsh", "fish"] {
        let script = if shell == "fish" {
            "command -v htop; command -v git; printf '%s\\n' \"EDITOR=$EDITOR\" \"PATH=$PATH\" \"HM=$__HM_SESS_VARS_SOURCED\""
        } else {
            script
        };
        let Some(seen) = login_shell_runs(shell, home, None, script) else {
            continue;
        };
        let lines: Vec<&str> = seen.lines().collect();
        assert_eq!(
            lines.first().copied(),
            Some(path_str(&profile.join("bin/htop"))),
            "{shell}:\n{seen}"
        );
        assert_eq!(
            lines.get(1).copied(),
            Some(path_str(&profile.join("bin/git"))),
            "{shell}: programs.git's package:\n{seen}"
        );
        assert!(lines.contains(&"EDITOR=vim"), "{shell}:\n{seen}");
        assert!(
            lines.contains(&"HM=1"),
            "{shell}: Home Manager's hm-session-vars.sh was not sourced:\n{seen}"
        );
        let path = lines
            .iter()
            .find_map(|l| l.strip_prefix("PATH="))
            .unwrap_or_default()
            .replace(' ', ":");
        assert!(
            path.contains(&format!("{}/mybin", home.display())),
            "{shell}: home.sessionPath: {path}"
        );
    }
}

/// The profile of a Home Manager home switched with hearth: its packages
/// (programs.git's included), Home Manager's hm-session-vars.sh (where
/// hearth.sh and Home Manager's shell modules look), and hearth.sh.
fn assert_hm_profile(home: &Path) -> PathBuf {
    let profile = home.join(".local/state/nix/profiles/hearth-packages");
    assert!(profile.join("bin/htop").exists());
    assert!(profile.join("bin/git").exists());
    assert!(profile.join("etc/profile.d/hearth.sh").exists());
    let vars = fs::read_to_string(profile.join("etc/profile.d/hm-session-vars.sh")).unwrap();
    assert!(
        vars.contains("__HM_SESS_VARS_SOURCED") && vars.contains("export EDITOR=\"vim\""),
        "not Home Manager's hm-session-vars.sh:\n{vars}"
    );
    fs::canonicalize(&profile).unwrap()
}

/// `hearth switch -f home.nix --home-manager PATH`: an unchanged Home
/// Manager home.nix evaluated with Home Manager's modules, activated as
/// Home Manager's `home-files` would link it (built from the same
/// evaluation), its packages in hearth's profile, Home Manager's session
/// variables in new login shells. `<home-manager>` is looked up in Nix's
/// search path as Home Manager's channel users have it.
#[test]
fn switch_with_home_managers_modules() {
    let (n, hm) = home_manager_or_skip!();
    let home = TestHome::new();
    let scratch = common::nix_eval::tempdir("standalone", "hm");
    let np = fake_hm_nixpkgs(&scratch, &n);
    let include = format!("nixpkgs={}", np.display());
    hearth_in(&home, &["init", "--yes"]).assert_ok();
    let file = scratch.join("home.nix");
    fs::write(&file, home_hm(home.path())).unwrap();
    let before = home.snapshot();

    let link = scratch.join("result");
    // No substituter: Nix would otherwise keep its cache in the home.
    let hm_args = [
        "-f",
        path_str(&file),
        "--home-manager",
        &hm,
        "-I",
        &include,
        "--option",
        "substituters",
        "",
    ];
    let built = hearth_in(
        &home,
        &[&["build", "--out-link", path_str(&link)], &hm_args[..]].concat(),
    );
    built.assert_ok();
    let generation = fs::read_link(&link).unwrap();
    common::assert_same(&before, &home.snapshot());

    let search = format!("home-manager={hm}");
    let run = hearth_in(
        &home,
        &[
            "switch",
            "-f",
            path_str(&file),
            "--home-manager",
            "<home-manager>",
            "-I",
            &search,
            "-I",
            &include,
        ],
    );
    run.assert_ok();
    assert!(run.stdout.contains("activated generation 1"), "{run}");
    assert!(
        run.stdout.contains(&format!("{}:", generation.display())),
        "switch built what build did:\n{run}"
    );

    // Home Manager's own home-files, from the same evaluation.
    let home_files = nix_build_retrying(&[
        path_str(&common::nix_eval::root().join("nix/standalone.nix")),
        "--argstr",
        "home",
        path_str(&file),
        "--argstr",
        "username",
        &common::current_user(),
        "--argstr",
        "homeDirectory",
        path_str(home.path()),
        "--argstr",
        "hearthBin",
        env!("CARGO_BIN_EXE_hearth"),
        "--argstr",
        "homeManager",
        &hm,
        "-I",
        &include,
        "-A",
        "homeManager.config.home-files",
    ]);
    let packages = assert_hm_profile(home.path());
    let shell_files = [".profile", ".bash_profile", ".zprofile", ".config/fish"];
    let mut skip = vec![".local/state/nix", ".config/hearth"];
    skip.extend(shell_files.iter().filter(|f| home.join(f).exists()));
    crate::nix_hm::assert_same_tree_but(
        &home,
        &crate::nix_hm::Built {
            generation,
            home_files,
            packages,
        },
        &skip,
    );
    assert!(home
        .join(".config/git/config")
        .symlink_metadata()
        .unwrap()
        .is_symlink());
    assert_login_shells_see_the_hm_home(home.path());
    hearth_in(&home, &["status"]).assert_ok();
    let _ = fs::remove_dir_all(&scratch);
}

/// A copy of a Home Manager checkout without its .git (what a flake input
/// of it holds), for a `path:` input.
fn home_manager_copy(dir: &Path, hm: &str) -> PathBuf {
    let copy = dir.join("home-manager");
    fs::create_dir_all(&copy).unwrap();
    for entry in fs::read_dir(hm).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() == ".git" {
            continue;
        }
        let status = Command::new("cp")
            .arg("-r")
            .arg(entry.path())
            .arg(&copy)
            .status()
            .unwrap();
        assert!(status.success());
    }
    copy
}

/// `--flake REF#NAME` of a `hearth.lib.homeConfiguration { homeManager =
/// inputs.home-manager; ... }`: the home's modules are Home Manager's, and
/// it switches like a hearth home.
#[test]
fn a_flake_home_with_home_managers_modules_switches() {
    let (n, hm) = home_manager_or_skip!();
    let Some(nixpkgs_dir) = nixpkgs_lib(&n)
        .parent()
        .map(Path::to_path_buf)
        .filter(|d| d.join("flake.nix").is_file())
    else {
        println!("skipped: the nixpkgs found ({n}) is not a flake; the flake home is not checked");
        eprintln!("skipped: the nixpkgs found ({n}) is not a flake; the flake home is not checked");
        return;
    };
    let home = TestHome::new();
    // Outside the checkout, as in a_flake_home_switches_and_unknown_names_are_refused.
    let scratch =
        std::env::temp_dir().join(format!("hearth-standalone-hm-flake-{}", std::process::id()));
    let _ = fs::remove_dir_all(&scratch);
    fs::create_dir_all(&scratch).unwrap();
    let hearth = hearth_flake_copy(&scratch);
    let package = hearth_in_store(&scratch);
    let hm_copy = home_manager_copy(&scratch, &hm);
    let flake = scratch.join("flake");
    fs::create_dir_all(&flake).unwrap();
    fs::copy(
        common::nix_eval::root().join("tests/nix/hm-pkgs.nix"),
        flake.join("hm-pkgs.nix"),
    )
    .unwrap();
    fs::write(flake.join("home.nix"), home_hm(home.path())).unwrap();
    fs::write(
        flake.join("flake.nix"),
        format!(
            r#"{{
  inputs.nixpkgs.url = "path:{nixpkgs}";
  inputs.hearth.url = "path:{hearth}";
  inputs.hearth.inputs.nixpkgs.follows = "nixpkgs";
  inputs.home-manager = {{ url = "path:{hm}"; flake = false; }};
  outputs = {{ nixpkgs, hearth, home-manager, ... }}: {{
    hearthConfigurations.me = hearth.lib.homeConfiguration {{
      pkgs = import ./hm-pkgs.nix {{ inherit (nixpkgs) lib; path = {pkgs_path}; }};
      modules = [ ./home.nix ];
      homeManager = home-manager;
      hearthModules = [ {{ hearth.package = "{package}"; }} ];
    }};
  }};
}}
"#,
            nixpkgs = nixpkgs_dir.display(),
            hearth = hearth.display(),
            hm = hm_copy.display(),
            pkgs_path = common::nix_eval::hm_pkgs_path(&n).display(),
        ),
    )
    .unwrap();
    // The stand-in packages read builtins.currentSystem and pkgs.path is
    // outside the flake: not a pure evaluation.
    let out = home
        .command([
            "switch",
            "--flake",
            ".#me",
            "--option",
            "pure-eval",
            "false",
        ])
        .current_dir(&flake)
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .unwrap();
    let run = Run::from_output(out);
    run.assert_ok();
    assert!(run.stdout.contains("activated generation 1"), "{run}");
    assert_hm_profile(home.path());
    let config = fs::read_to_string(home.join(".config/git/config")).unwrap();
    assert!(config.contains("name = \"Alice Example\""), "{config}");
    assert_eq!(
        fs::read_to_string(home.join(".config/app/settings")).unwrap(),
        "theme=dark\n"
    );
    hearth_in(&home, &["status"]).assert_ok();
    let _ = fs::remove_dir_all(&scratch);
}
