//! Moving a home from Home Manager in place: a home laid out exactly as Home
//! Manager's activation leaves it (links into its `-home-manager-files`
//! tree, a directory linked whole, an identical file it skipped, its GC root
//! and profile) is taken over by one hearth activation. Only what the user
//! made is in the way; nothing of theirs is lost; no link into Home
//! Manager's tree is left; its GC root and profile stay for the user.

use crate::common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use nix::sys::stat::Mode;
use serde_json::Value;

/// Home Manager's store paths for the test, built by a real nix-build: its
/// files tree (named `home-manager-files`, as Home Manager names it), a
/// directory it links whole, and its generation whose `home-files` links
/// the tree.
struct HomeManager {
    files: PathBuf,
    generation: PathBuf,
}

/// Builds Home Manager's store paths: each home file a link into the store,
/// as Home Manager's `home-files` holds them, and `.config/nvim` a link to
/// a whole directory (a non-recursive directory source).
fn build_home_manager() -> HomeManager {
    nix_available();
    let expr = r#"
let
  run = name: script: builtins.derivation {
    inherit name;
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-e" "-c" script ];
    PATH = "/bin:/usr/bin";
  };
  src = name: text: builtins.toFile name text;
  nvim = run "nvim-config" ''
    mkdir $out
    echo 'vim.o.number = true' > $out/init.lua
  '';
  files = run "home-manager-files" ''
    mkdir -p $out/.config/git $out/.config
    ln -s ${src "hm-vimrc" "set nocompatible\n"} $out/.vimrc
    ln -s ${src "hm-gitconfig" "[user]\n  name = Alice\n"} $out/.config/git/config
    ln -s ${src "hm-old" "an option since removed\n"} $out/.old-option
    ln -s ${src "hm-profile" "export EDITOR=vim\n"} $out/.profile
    ln -s ${nvim} $out/.config/nvim
  '';
  generation = run "home-manager-generation" ''
    mkdir $out
    ln -s ${files} $out/home-files
  '';
in
{ inherit files generation; }
"#;
    let dir = std::env::temp_dir().join(format!("hearth-migrate-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let file = dir.join("home-manager.nix");
    fs::write(&file, expr).unwrap();
    let out = Command::new("nix-build")
        .args(["--no-out-link", "--option", "substituters", ""])
        .arg(&file)
        .args(["-A", "files", "-A", "generation"])
        .stdin(Stdio::null())
        .output()
        .expect("run nix-build");
    fs::remove_dir_all(&dir).unwrap();
    assert!(
        out.status.success(),
        "nix-build failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let paths: Vec<PathBuf> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(PathBuf::from)
        .collect();
    assert_eq!(paths.len(), 2, "{paths:?}");
    assert!(
        paths[0].to_string_lossy().ends_with("-home-manager-files"),
        "{paths:?}"
    );
    HomeManager {
        files: paths[0].clone(),
        generation: paths[1].clone(),
    }
}

/// A fresh home; directories made by hand get the mode hearth gives its own.
fn new_home() -> TestHome {
    nix::sys::stat::umask(Mode::from_bits_truncate(0o022));
    TestHome::new()
}

/// The `source` of the entry for `target` in a generation's manifest.
fn source(gen: &Path, target: &str) -> PathBuf {
    let text = fs::read_to_string(gen.join("manifest.json")).unwrap();
    let manifest: Value = serde_json::from_str(&text).unwrap();
    let entry = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["target"] == target)
        .unwrap_or_else(|| panic!("no entry for {target}"));
    PathBuf::from(entry["source"].as_str().unwrap())
}

/// What hearth's first generation holds: the same files as Home Manager's,
/// some with new content, plus one file that exists in the home already.
fn hearth_generation(home: &TestHome) -> PathBuf {
    build_generation(
        &home
            .gen()
            .text(".vimrc", "set number\n")
            .text(".config/git/config", "[user]\n  name = Alice\n")
            // Home Manager skipped this identical file: a regular file.
            .text(".profile", "export EDITOR=vim\n")
            .text(".inputrc", "set editing-mode vi\n")
            .text(".config/nvim/init.lua", "vim.o.number = true\n")
            .text(".zshrc", "bindkey -v\n")
            .file(
                FileSpec::text(".ssh/config", "Host *\n  ForwardAgent no\n")
                    .copy()
                    .mode("0600"),
            ),
    )
}

/// Lays the home out as Home Manager's activation leaves it, with the
/// user's own files beside.
fn lay_out_as_home_manager_left_it(home: &TestHome, hm: &HomeManager, gen: &Path) {
    let files = &hm.files;
    // Its links, each into its files tree; its directories real.
    symlink(home, ".vimrc", files.join(".vimrc"));
    symlink(home, ".config/git/config", files.join(".config/git/config"));
    symlink(home, ".old-option", files.join(".old-option"));
    symlink(home, ".config/nvim", files.join(".config/nvim"));
    // A file that was there before Home Manager, with the very content it
    // links: Home Manager skipped it, it stays a regular file.
    write_file(home, ".profile", "export EDITOR=vim\n");
    // Already exactly what hearth's generation wants: a link to its source,
    // and a copy with its content and mode.
    symlink(home, ".inputrc", source(gen, ".inputrc"));
    let ssh = write_file(home, ".ssh/config", "Host *\n  ForwardAgent no\n");
    fs::set_permissions(&ssh, fs::Permissions::from_mode(0o600)).unwrap();
    // The user's own: a differing file at a target, and things beside.
    write_file(home, ".zshrc", "# mine\nsetopt autocd\n");
    write_file(home, "notes.txt", "keep me\n");
    symlink(home, ".notes", home.join("notes.txt"));
    // Home Manager's own state: its GC root and its profile.
    symlink(
        home,
        ".local/state/home-manager/gcroots/current-home",
        &hm.generation,
    );
    symlink(
        home,
        ".local/state/nix/profiles/home-manager-1-link",
        &hm.generation,
    );
    symlink(
        home,
        ".local/state/nix/profiles/home-manager",
        "home-manager-1-link",
    );
}

/// Every link in the home (Home Manager's state included) into `tree`.
fn links_into(root: &Path, tree: &Path) -> Vec<PathBuf> {
    snapshot(root, &[])
        .nodes
        .into_iter()
        .filter_map(|(path, node)| match node.kind {
            Kind::Symlink { target } if target.starts_with(tree) => Some(path),
            _ => None,
        })
        .collect()
}

#[test]
fn a_home_manager_home_is_taken_over_in_one_activation() {
    let hm = build_home_manager();
    let home = new_home();
    let gen = hearth_generation(&home);
    lay_out_as_home_manager_left_it(&home, &hm, &gen);
    let before = home.snapshot();
    let ssh_inode = fs::symlink_metadata(home.join(".ssh/config"))
        .unwrap()
        .ino();

    // The plan: Home Manager's links replaced or removed, identical files
    // adopted, and only the user's own file in the way.
    let plan = home.hearth(["plan", path_str(&gen)]);
    insta::assert_snapshot!(
        "plan",
        home.redact_user(&format!("{}{}", plan.stdout, plan.stderr))
    );
    let json = home.hearth(["plan", path_str(&gen), "--json"]).json();
    insta::assert_snapshot!(
        "plan_json",
        home.redact_user(&serde_json::to_string_pretty(&json).unwrap())
    );
    let conflicts: Vec<&str> = json["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert_eq!(conflicts, [".zshrc"]);

    // Without a backup extension the user's file stops it: nothing changes.
    let run = home.hearth(["activate", path_str(&gen)]);
    assert_ne!(run.code, 0, "{run}");
    insta::assert_snapshot!("conflict", home.redact_user(&run.stderr));
    assert_untouched(&before, &home.snapshot());

    // With one, only the user's file is moved aside.
    let run = home.hearth(["activate", path_str(&gen), "--backup-ext", "bak"]);
    run.assert_ok();
    insta::assert_snapshot!("activate", home.redact_user(&run.stdout));

    let want = new_home();
    for (rel, target) in [
        (".vimrc", ".vimrc"),
        (".config/git/config", ".config/git/config"),
        (".profile", ".profile"),
        (".inputrc", ".inputrc"),
        (".config/nvim/init.lua", ".config/nvim/init.lua"),
        (".zshrc", ".zshrc"),
    ] {
        symlink(&want, rel, source(&gen, target));
    }
    let ssh = write_file(&want, ".ssh/config", "Host *\n  ForwardAgent no\n");
    fs::set_permissions(&ssh, fs::Permissions::from_mode(0o600)).unwrap();
    write_file(&want, ".zshrc.bak", "# mine\nsetopt autocd\n");
    write_file(&want, "notes.txt", "keep me\n");
    symlink(&want, ".notes", home.join("notes.txt"));
    assert_same(&want.snapshot(), &home.snapshot());
    // The identical copy was adopted, not rewritten.
    assert_eq!(
        fs::symlink_metadata(home.join(".ssh/config"))
            .unwrap()
            .ino(),
        ssh_inode
    );

    // No link into Home Manager's files is left in the home; its GC root
    // and profile (under .local/state) are the user's to remove.
    assert_eq!(links_into(home.path(), &hm.files), Vec::<PathBuf>::new());
    assert_eq!(
        read_link(&home, ".local/state/home-manager/gcroots/current-home"),
        hm.generation
    );
    assert_eq!(
        read_link(&home, ".local/state/nix/profiles/home-manager-1-link"),
        hm.generation
    );

    // hearth owns it all now.
    let status = home.hearth(["status"]);
    status.assert_ok();
    assert!(
        status.stdout.contains("all 7 managed paths match"),
        "{status}"
    );
    let again = home.hearth(["activate", path_str(&gen)]);
    again.assert_ok();
    assert!(again.stdout.contains("already matched"), "{again}");
}

#[test]
fn without_home_managers_state_its_links_at_targets_are_still_replaced() {
    // Home Manager's state already removed: its stale links elsewhere cannot
    // be known, but those at the generation's targets are still its links.
    let hm = build_home_manager();
    let home = new_home();
    let gen = build_generation(&home.gen().text(".vimrc", "set number\n"));
    symlink(&home, ".vimrc", hm.files.join(".vimrc"));
    symlink(&home, ".old-option", hm.files.join(".old-option"));

    home.hearth(["activate", path_str(&gen)]).assert_ok();

    assert_eq!(read_link(&home, ".vimrc"), source(&gen, ".vimrc"));
    // Not known to be Home Manager's current generation's: left alone.
    assert_eq!(
        read_link(&home, ".old-option"),
        hm.files.join(".old-option")
    );
}
