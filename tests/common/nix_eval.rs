//! The Nix side's test harness: where nixpkgs' lib comes from (or the loud
//! skip without it), evaluating the test drivers in tests/nix/, and scratch
//! directories. Shared by the nix_* test modules.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// What a test prints, and passes with, when there is no nixpkgs.
pub const SKIP: &str = "skipped: no nixpkgs (set HEARTH_NIXPKGS or NIX_PATH)";

/// The repository: the drivers are named relative to it.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The `nixpkgs` argument of tests/nix/*.nix, as a Nix expression:
/// `HEARTH_NIXPKGS` (a nixpkgs or nixpkgs.lib checkout, or its lib
/// directory), else `<nixpkgs>` when `NIX_PATH` has one, else None.
pub fn nixpkgs() -> Option<String> {
    if let Some(dir) = std::env::var_os("HEARTH_NIXPKGS").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        let dir = dir
            .canonicalize()
            .unwrap_or_else(|e| panic!("HEARTH_NIXPKGS={}: {e}", dir.display()));
        return Some(dir.display().to_string());
    }
    let found = Command::new("nix-instantiate")
        .args(["--find-file", "nixpkgs"])
        .output()
        .is_ok_and(|o| o.status.success());
    found.then(|| "<nixpkgs>".to_owned())
}

/// The nixpkgs expression, or prints the skip notice and returns from the
/// calling test.
macro_rules! nixpkgs_or_skip {
    () => {
        match $crate::common::nix_eval::nixpkgs() {
            Some(n) => n,
            None => {
                println!("{}", $crate::common::nix_eval::SKIP);
                eprintln!("{}", $crate::common::nix_eval::SKIP);
                return;
            }
        }
    };
}

/// `nix-instantiate --eval --strict --json ARGS` in the repository: the
/// JSON value, or Nix's error output.
pub fn instantiate(args: &[&str]) -> Result<Value, String> {
    let out = Command::new("nix-instantiate")
        .current_dir(root())
        .args(["--eval", "--strict", "--json"])
        .args(args)
        .output()
        .expect("run nix-instantiate (is Nix installed?)");
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).expect("nix-instantiate prints JSON"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// tests/nix/home.nix evaluated with `module` (Nix source of a module, or
/// of a list of them): the JSON of `attr`, or Nix's error output.
pub fn eval_home(nixpkgs: &str, module: &str, attr: &str) -> Result<Value, String> {
    instantiate(&[
        "tests/nix/home.nix",
        "--arg",
        "nixpkgs",
        nixpkgs,
        "--arg",
        "module",
        module,
        "-A",
        attr,
    ])
}

/// `eval_home`, which must succeed.
#[track_caller]
pub fn eval_home_ok(nixpkgs: &str, module: &str, attr: &str) -> Value {
    eval_home(nixpkgs, module, attr).unwrap_or_else(|e| panic!("evaluation failed:\n{e}"))
}

/// The line of Nix's error output holding `needle`, without the `error: `
/// prefix and indentation (Nix versions differ in what surrounds it).
#[track_caller]
pub fn error_line(stderr: &str, needle: &str) -> String {
    let line = stderr
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{stderr}"));
    line.trim().trim_start_matches("error: ").to_owned()
}

/// An empty scratch directory `<module>-<name>` under cargo's tmp dir.
pub fn tempdir(module: &str, name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{module}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What a test prints, and passes with, when there is no Home Manager.
pub const SKIP_HM: &str = "skipped: no Home Manager (set HEARTH_HOME_MANAGER to a checkout)";

/// `HEARTH_HOME_MANAGER`: a Home Manager checkout (the directory holding
/// `modules/`), canonical, or None.
pub fn home_manager() -> Option<String> {
    let dir = std::env::var_os("HEARTH_HOME_MANAGER").filter(|d| !d.is_empty())?;
    let dir = PathBuf::from(dir);
    let dir = dir
        .canonicalize()
        .unwrap_or_else(|e| panic!("HEARTH_HOME_MANAGER={}: {e}", dir.display()));
    assert!(
        dir.join("modules/modules.nix").is_file(),
        "HEARTH_HOME_MANAGER={}: not a Home Manager checkout (no modules/modules.nix)",
        dir.display()
    );
    Some(dir.display().to_string())
}

/// (nixpkgs, Home Manager) as Nix expressions, or prints the skip notice
/// and returns from the calling test.
macro_rules! home_manager_or_skip {
    () => {{
        let n = nixpkgs_or_skip!();
        match $crate::common::nix_eval::home_manager() {
            Some(hm) => (n, hm),
            None => {
                println!("{}", $crate::common::nix_eval::SKIP_HM);
                eprintln!("{}", $crate::common::nix_eval::SKIP_HM);
                return;
            }
        }
    }};
}

/// The `pkgs.path` of tests/nix/hm-pkgs.nix: a directory (made once per
/// test process) holding nixpkgs' `lib` and tests/nix/hm-pkgs-path/nixos,
/// which is what Home Manager imports from nixpkgs' tree.
pub fn hm_pkgs_path(nixpkgs: &str) -> PathBuf {
    let checkout = if nixpkgs.starts_with('<') {
        let out = Command::new("nix-instantiate")
            .args(["--find-file", "nixpkgs"])
            .output()
            .expect("run nix-instantiate --find-file");
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    } else {
        PathBuf::from(nixpkgs)
    };
    let lib = if checkout.join("lib/default.nix").is_file() {
        checkout.join("lib")
    } else {
        checkout
    };
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("hm-pkgs-path-{}", std::process::id()));
    if !dir.exists() {
        let tmp = dir.with_extension("tmp");
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).unwrap();
        std::os::unix::fs::symlink(&lib, tmp.join("lib")).unwrap();
        std::os::unix::fs::symlink(
            root().join("tests/nix/hm-pkgs-path/nixos"),
            tmp.join("nixos"),
        )
        .unwrap();
        // Another test of this process may have made it meanwhile.
        let _ = std::fs::rename(&tmp, &dir);
        let _ = std::fs::remove_dir_all(&tmp);
    }
    dir
}

/// The generation of the home module `module` (Nix text) for the current
/// user with `home` as its home, built by tests/nix/home.nix with the
/// hearth binary under test: its store path, or nix-build's error output.
pub fn build_home(
    nixpkgs: &str,
    home: &crate::common::TestHome,
    module: &str,
) -> Result<PathBuf, String> {
    crate::common::nix_available();
    let user = crate::common::current_user();
    let owner = format!(
        r#"{{ lib, ... }}: {{
          home.username = lib.mkForce "{user}";
          home.homeDirectory = lib.mkForce "{}";
        }}"#,
        home.path().display()
    );
    let modules = format!("[ ({owner}) ({module}) ]");
    let out = Command::new("nix-build")
        .current_dir(root())
        .args(["--no-out-link", "--option", "substituters", ""])
        .arg("tests/nix/home.nix")
        .args(["--arg", "nixpkgs", nixpkgs, "--arg", "module", &modules])
        .args([
            "--arg",
            "hearthBin",
            env!("CARGO_BIN_EXE_hearth"),
            "-A",
            "build",
        ])
        .output()
        .expect("run nix-build");
    if out.status.success() {
        Ok(PathBuf::from(String::from_utf8(out.stdout).unwrap().trim()))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}
