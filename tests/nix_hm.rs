//! The Home Manager module bridge (nix/hm): Home Manager configurations
//! using its program and service modules (tests/nix/hm-configs/) evaluated
//! with Home Manager's own module collection, built into hearth generations
//! with real nix-build, activated with the hearth binary into throwaway
//! homes, and compared with the tree Home Manager's own `home-files` (built
//! from the same evaluation with the same stub pkgs, tests/nix/hm-pkgs.nix)
//! would link.
//!
//! Needs nixpkgs' lib (`HEARTH_NIXPKGS`) and a Home Manager checkout
//! (`HEARTH_HOME_MANAGER`); without either each test prints a `skipped: …`
//! line and passes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::common;
use crate::common::nix_eval::{hm_pkgs_path, root};

/// What nix-build made for one configuration.
pub(crate) struct Built {
    /// hearth's generation.
    pub(crate) generation: PathBuf,
    /// Home Manager's own `home-files` for the same configuration.
    pub(crate) home_files: PathBuf,
    /// The packages environment (`users.users.<name>.packages`).
    pub(crate) packages: PathBuf,
}

/// The arguments of tests/nix/hm.nix for `config` (a file of
/// tests/nix/hm-configs/, without `.nix`) in `home`, owned by the current
/// user.
fn args(n: &str, hm: &str, config: &str, home: &common::TestHome) -> Vec<String> {
    [
        "tests/nix/hm.nix",
        "--arg",
        "nixpkgs",
        n,
        "--arg",
        "homeManager",
        hm,
        "--arg",
        "configuration",
        &format!("./tests/nix/hm-configs/{config}.nix"),
        "--arg",
        "pkgsPath",
        common::path_str(&hm_pkgs_path(n)),
        "--argstr",
        "username",
        &common::current_user(),
        "--argstr",
        "homeDirectory",
        common::path_str(home.path()),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

fn build(n: &str, hm: &str, config: &str, home: &common::TestHome) -> Built {
    common::nix_available();
    let out = Command::new("nix-build")
        .current_dir(root())
        .args(["--no-out-link", "--option", "substituters", ""])
        .args(args(n, hm, config, home))
        .args(["--arg", "hearthBin", env!("CARGO_BIN_EXE_hearth")])
        .args(["-A", "generation", "-A", "homeFiles", "-A", "packages"])
        .output()
        .expect("run nix-build");
    assert!(
        out.status.success(),
        "nix-build of {config} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let paths: Vec<PathBuf> = stdout.lines().map(PathBuf::from).collect();
    assert_eq!(paths.len(), 3, "nix-build printed:\n{stdout}");
    Built {
        generation: paths[0].clone(),
        home_files: paths[1].clone(),
        packages: paths[2].clone(),
    }
}

/// What is at a path of a tree, as the user sees it: a directory, a link
/// to a path outside the generation (its target), or a file with its
/// content and executable bit (a copy: a regular file in Home Manager's
/// `home-files`, a link into the generation in hearth's home).
fn describe(path: &Path, generation: Option<&Path>) -> String {
    let meta = fs::symlink_metadata(path).unwrap();
    if meta.is_dir() {
        return "dir".to_owned();
    }
    let copy = |p: &Path| {
        let data = fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
        let exec = fs::metadata(p).unwrap().permissions().mode() & 0o111 != 0;
        format!("file sha256:{:x} exec={exec}", Sha256::digest(&data))
    };
    if meta.file_type().is_symlink() {
        let target = fs::read_link(path).unwrap();
        if generation.is_some_and(|g| target.starts_with(g)) {
            copy(&target)
        } else {
            format!("link {}", target.display())
        }
    } else {
        copy(path)
    }
}

/// Every path below `dir` (relative), described; `skip` (relative) and
/// what is below it left out.
fn tree(dir: &Path, generation: Option<&Path>, skip: &[&str]) -> BTreeMap<String, String> {
    fn walk(
        base: &Path,
        rel: &Path,
        generation: Option<&Path>,
        skip: &[&str],
        out: &mut BTreeMap<String, String>,
    ) {
        let mut entries: Vec<_> = fs::read_dir(base.join(rel))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        entries.sort();
        for name in entries {
            let r = rel.join(&name);
            let key = common::path_str(&r).to_owned();
            if skip.contains(&key.as_str()) {
                continue;
            }
            let abs = base.join(&r);
            out.insert(key, describe(&abs, generation));
            if fs::symlink_metadata(&abs).unwrap().is_dir() {
                walk(base, &r, generation, skip, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, Path::new(""), generation, skip, &mut out);
    out
}

/// The home after activation equals Home Manager's `home-files`.
#[track_caller]
fn assert_same_tree(home: &common::TestHome, built: &Built) {
    assert_same_tree_but(home, built, &[]);
}

/// `assert_same_tree`, with `also` (files the test made) left out. Also
/// used by the standalone tests (tests/standalone.rs).
#[track_caller]
pub(crate) fn assert_same_tree_but(home: &common::TestHome, built: &Built, also: &[&str]) {
    let mut skip = vec![".local/state/hearth"];
    skip.extend(also);
    let applied = tree(home.path(), Some(&built.generation), &skip);
    let expected = tree(&built.home_files, None, &[]);
    if applied != expected {
        let mut diff = String::new();
        for (k, v) in &expected {
            match applied.get(k) {
                None => writeln!(diff, "missing  {k}: {v}").unwrap(),
                Some(a) if a != v => {
                    writeln!(diff, "differs  {k}: {a}, Home Manager: {v}").unwrap();
                }
                Some(_) => {}
            }
        }
        for (k, v) in &applied {
            if !expected.contains_key(k) {
                writeln!(diff, "extra    {k}: {v}").unwrap();
            }
        }
        panic!("the activated home is not Home Manager's home-files:\n{diff}");
    }
}

/// One configuration end to end: evaluates, builds, activates into a
/// throwaway home, matches Home Manager's `home-files`, puts `bins` and
/// Home Manager's `hm-session-vars.sh` into the packages environment, and
/// a second activation of the same generation changes nothing.
fn check_config(config: &str, bins: &[&str]) {
    let (n, hm) = home_manager_or_skip!();
    let home = common::TestHome::new();
    let built = build(&n, &hm, config, &home);
    let gen = common::path_str(&built.generation);

    home.hearth(["activate", gen]).assert_ok();
    assert_same_tree(&home, &built);

    for bin in bins {
        let p = built.packages.join("bin").join(bin);
        assert!(
            p.exists(),
            "{config}: no bin/{bin} in {}",
            built.packages.display()
        );
    }
    let vars = built.packages.join("etc/profile.d/hm-session-vars.sh");
    let text = fs::read_to_string(&vars).unwrap_or_else(|e| panic!("{}: {e}", vars.display()));
    assert!(
        text.contains("__HM_SESS_VARS_SOURCED"),
        "{config}: hm-session-vars.sh is not Home Manager's:\n{text}"
    );

    let before = home.snapshot();
    home.hearth(["activate", gen]).assert_ok();
    common::assert_same(&before, &home.snapshot());
}

macro_rules! configs {
    ($($name:ident: [$($bin:literal),*],)*) => {
        $(
            #[test]
            fn $name() {
                check_config(&stringify!($name).replace('_', "-"), &[$($bin),*]);
            }
        )*
    };
}

configs! {
    git: ["git"],
    bash: [],
    zsh: ["zsh"],
    starship: ["starship", "zsh"],
    direnv: ["direnv"],
    fzf: ["fzf"],
    tmux: ["tmux"],
    neovim: ["nvim", "vi", "vim"],
    ssh: [],
    gpg: ["gpg"],
    alacritty: ["alacritty"],
    systemd_service: [],
    gtk: [],
    xdg: [],
    dotfiles: [],
    shell_tools: ["bat", "eza", "zoxide", "htop"],
}

/// tests/nix/os.nix (NixOS or nix-darwin stand-ins) with
/// `hearth.homeManager.source` set and alice's home `config` (a file of
/// tests/nix/hm-configs/): the JSON of `attr`, or Nix's error output.
fn eval_os(
    n: &str,
    hm: &str,
    platform: &str,
    config: &str,
    attr: &str,
) -> Result<serde_json::Value, String> {
    let extra = format!(
        r#"{{ lib, ... }}: {{
          _module.args.pkgs = lib.mkForce (import ./tests/nix/hm-pkgs.nix {{ inherit lib; path = {path}; }});
          hearth.package = "/nix/store/00000000000000000000000000000000-hearth";
          hearth.homeManager.source = {hm};
          # Home Manager's manual needs nixpkgs' docs tools (see hm.nix);
          # bob's home (os.nix) is written without a stateVersion.
          hearth.sharedModules = [ {{ home.stateVersion = lib.mkDefault "25.05"; manual.manpages.enable = false; }} ];
          hearth.users.alice = ./tests/nix/hm-configs/{config}.nix;
        }}"#,
        path = common::path_str(&hm_pkgs_path(n)),
    );
    common::nix_eval::instantiate(&[
        "tests/nix/os.nix",
        "--arg",
        "nixpkgs",
        n,
        "--argstr",
        "platform",
        platform,
        "--arg",
        "extra",
        &extra,
        "-A",
        attr,
    ])
}

/// On NixOS and nix-darwin, `hearth.homeManager.source` makes each home a
/// Home Manager configuration: its packages environment is the user's
/// packages, its generation is what the platform activates, and the
/// session variables the system's shells read are Home Manager's.
#[test]
fn nixos_and_darwin_homes_go_through_the_bridge() {
    let (n, hm) = home_manager_or_skip!();
    for platform in ["nixos", "darwin"] {
        let ok = |attr: &str| {
            eval_os(&n, &hm, platform, "git", attr)
                .unwrap_or_else(|e| panic!("{platform}: {attr}:\n{e}"))
        };
        assert_eq!(ok("failedAssertions"), serde_json::json!([]), "{platform}");
        assert_eq!(
            ok("alicePackages"),
            serde_json::json!(["hearth-packages-alice"]),
            "{platform}"
        );
        let init = ok("config.environment.extraInit");
        assert!(
            init.as_str()
                .unwrap()
                .contains("-hm-session-vars.sh/etc/profile.d/hm-session-vars.sh"),
            "{platform}: the shells do not read Home Manager's hm-session-vars.sh:\n{init}"
        );
        let gen = ok("config.hearth.internal.homes.alice.home.generation.drvPath");
        assert!(
            gen.as_str()
                .unwrap()
                .ends_with("-hearth-generation-alice.drv"),
            "{gen}"
        );
        let files = ok("config.hearth.internal.homes.alice.home.generationSpec.files");
        let targets: Vec<&str> = files
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["target"].as_str().unwrap())
            .collect();
        assert!(
            targets.contains(&".config/git/config"),
            "{platform}: {targets:?}"
        );
    }
}

/// Home Manager's assertions are the home's, named for the user.
#[test]
fn home_managers_assertions_name_the_user() {
    let (n, hm) = home_manager_or_skip!();
    let failed = eval_os(&n, &hm, "nixos", "bad-targets", "failedAssertions").unwrap();
    let text: Vec<String> = failed
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m.as_str()
                .unwrap()
                .replace(common::path_str(root()), "<repo>")
        })
        .collect();
    insta::assert_snapshot!(text.join("\n---\n"));
}

/// An option no Home Manager module declares: the module system's error
/// names the option under the user's home (`hearth.users.alice.…`, as the
/// options of a home of hearth's own module read) and the file that sets
/// it.
#[test]
fn unknown_options_name_the_user_option_and_file() {
    let (n, hm) = home_manager_or_skip!();
    let err = eval_os(&n, &hm, "nixos", "bad-option", "alicePackages").unwrap_err();
    let line = common::nix_eval::error_line(&err, "programs.gitt");
    let at = err.find(&line).unwrap();
    let lines: Vec<&str> = err[at..].lines().take(2).map(str::trim).collect();
    insta::assert_snapshot!(lines.join("\n").replace(common::path_str(root()), "<repo>"));
}

/// A value of the wrong type for a Home Manager option: the module
/// system's error names the option under the user's home
/// (`hearth.users.alice.…`) and the file.
#[test]
fn type_errors_name_the_user_option_and_file() {
    let (n, hm) = home_manager_or_skip!();
    let err = eval_os(&n, &hm, "nixos", "bad-type", "failedAssertions").unwrap_err();
    let line = common::nix_eval::error_line(&err, "is not of type");
    let at = err.find(&line).unwrap();
    let lines: Vec<&str> = err[at..].lines().take(2).map(str::trim).collect();
    insta::assert_snapshot!(lines.join("\n").replace(common::path_str(root()), "<repo>"));
}

/// Home Manager's own activation order for `config` (its `topoSort` of
/// `home.activation`, anchors included).
fn hm_order(n: &str, hm: &str, config: &str, home: &common::TestHome) -> Vec<String> {
    let mut a = args(n, hm, config, home);
    a.extend(["-A".to_owned(), "hmActivation".to_owned()]);
    let refs: Vec<&str> = a.iter().map(String::as_str).collect();
    let v = common::nix_eval::instantiate(&refs).unwrap_or_else(|e| panic!("{e}"));
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

/// What the steps and hooks logged, in Home Manager's terms: its order
/// with the anchors hearth does itself left out and `onFilesChange` as the
/// hooks it runs.
fn expected_log(order: &[String], hooks: &[&str]) -> Vec<String> {
    order
        .iter()
        .flat_map(|s| match s.as_str() {
            "onFilesChange" => hooks.iter().map(|h| (*h).to_owned()).collect(),
            "checkFilesChanged" | "checkLinkTargets" | "writeBoundary" | "installPackages"
            | "linkGeneration" | "reloadSystemd" => Vec::new(),
            // Steps of Home Manager's modules that these configurations
            // do not log (none here).
            other => vec![other.to_owned()],
        })
        .collect()
}

/// A home switched from one Home Manager configuration to another keeps
/// what both have, removes what only the first had, adds the second's, and
/// ends as Home Manager's home-files of the second; the steps and onChange
/// hooks run in Home Manager's order each time.
#[test]
fn switching_between_configurations() {
    let (n, hm) = home_manager_or_skip!();
    let home = common::TestHome::new();
    let a = build(&n, &hm, "switch-a", &home);
    let b = build(&n, &hm, "switch-b", &home);
    let order = home.join("order");

    home.hearth(["activate", common::path_str(&a.generation)])
        .assert_ok();
    assert_same_tree_but(&home, &a, &["order"]);
    assert_eq!(
        common::read_file(home.path(), "order")
            .lines()
            .collect::<Vec<_>>(),
        expected_log(
            &hm_order(&n, &hm, "switch-a", &home),
            &["onChange .inputrc"]
        ),
    );
    let kept = fs::read_link(home.join(".config/git/ignore")).ok();
    fs::remove_file(&order).unwrap();

    home.hearth(["activate", common::path_str(&b.generation)])
        .assert_ok();
    assert_same_tree_but(&home, &b, &["order"]);
    assert!(!home.join(".config/tmux").exists(), "tmux's files stay");
    assert!(home.join(".zshrc").exists(), "zsh's files are missing");
    assert_eq!(fs::read_link(home.join(".config/git/ignore")).ok(), kept);
    assert_eq!(
        common::read_file(home.path(), "order")
            .lines()
            .collect::<Vec<_>>(),
        expected_log(
            &hm_order(&n, &hm, "switch-b", &home),
            &["onChange .inputrc"]
        ),
    );
}
