use super::model::*;
use super::*;

use std::path::Path;

// ---------------------------------------------------------------------------
// Fixtures: everything the planner reads, built by hand (no disk).

const GEN: &str = "/nix/store/00000000000000000000000000000000-hearth-generation-alice";

fn gen() -> &'static Path {
    Path::new(GEN)
}

fn p(s: &str) -> RelPath {
    RelPath::parse(s).unwrap()
}

fn link(target: &str, source: &str) -> File {
    File {
        target: p(target),
        source: Path::new(source).into(),
        kind: FileType::Symlink,
        mode: None,
        force: false,
        on_change: None,
    }
}

fn copy(target: &str, source: &str, mode: Option<u32>) -> File {
    File {
        kind: FileType::Copy,
        mode,
        ..link(target, source)
    }
}

fn forced(f: File) -> File {
    File { force: true, ..f }
}

// What `observe` can find at a path.

fn sym(target: &str) -> Seen {
    Seen::Symlink {
        target: Path::new(target).into(),
        dangling: false,
    }
}

fn dangling(target: &str) -> Seen {
    Seen::Symlink {
        target: Path::new(target).into(),
        dangling: true,
    }
}

/// A regular file that nothing asked to hash (not a copy).
fn file(size: u64) -> Seen {
    Seen::File {
        size,
        mode: 0o644,
        sha256: None,
        unreadable: false,
    }
}

/// A regular file at a copy target (hashed).
fn hashed(sha: &str, mode: u32) -> Seen {
    Seen::File {
        size: 42,
        mode,
        sha256: Some(sha.into()),
        unreadable: false,
    }
}

/// A directory at a new target, listed.
fn dir(below: &[&str]) -> Seen {
    Seen::Dir {
        below: Some(below.iter().map(|s| p(s)).collect()),
    }
}

/// A directory elsewhere (observe lists only directories at new targets).
fn a_dir() -> Seen {
    Seen::Dir { below: None }
}

fn fifo() -> Seen {
    Seen::Special {
        kind: "FIFO".into(),
    }
}

impl Case {
    fn new() -> Case {
        Case::default()
    }

    /// The old generation made `path` a symlink to `target`.
    fn was_link(mut self, path: &str, target: &str) -> Case {
        self.old.entries.insert(
            p(path),
            Recorded::Symlink {
                target: Path::new(target).into(),
            },
        );
        self
    }

    /// The old generation copied a file with this hash and mode to `path`.
    fn was_copy(mut self, path: &str, sha: &str, mode: u32) -> Case {
        self.old
            .entries
            .insert(p(path), Recorded::copy(sha.into(), mode, Some(42)));
        self
    }

    /// hearth created the directory `path`.
    fn was_dir(mut self, path: &str) -> Case {
        self.old.dirs.insert(p(path));
        self
    }

    fn want(mut self, f: File) -> Case {
        self.new.push(f);
        self
    }

    /// What is at `path` (anything not given is missing).
    fn disk(mut self, path: &str, s: Seen) -> Case {
        self.seen.paths.insert(p(path), s);
        self
    }

    fn source(mut self, path: &str, sha: &str, mode: u32) -> Case {
        self.seen.sources.insert(
            Path::new(path).into(),
            SourceInfo {
                sha256: sha.into(),
                mode,
                size: 42,
            },
        );
        self
    }

    /// The home holds exactly what the old state recorded: every parent a
    /// directory, every entry as hearth left it. Call before `disk`.
    fn home_as_recorded(mut self) -> Case {
        for (path, rec) in &self.old.entries {
            for a in path.ancestors() {
                self.seen.paths.entry(a).or_insert_with(a_dir);
            }
            let s = match rec {
                Recorded::Symlink { target } => Seen::Symlink {
                    target: target.clone(),
                    dangling: false,
                },
                Recorded::Copy(c) => Seen::File {
                    size: 42,
                    mode: c.mode,
                    sha256: Some(c.sha256.clone()),
                    unreadable: false,
                },
            };
            self.seen.paths.insert(path.clone(), s);
        }
        self
    }

    fn backup(mut self, ext: &str) -> Case {
        self.opts.backup_ext = Some(ext.into());
        self
    }

    fn plan(&self) -> Plan {
        compute(&self.old, &self.new, &self.seen, &self.opts)
    }

    /// The plan with backup names chosen, `taken` being what exists on disk.
    fn plan_named(&self, taken: &[&str]) -> Plan {
        let mut plan = self.plan();
        let targets: HashSet<RelPath> = self
            .new
            .iter()
            .map(|f| f.target.clone())
            .chain(self.old.entries.keys().cloned())
            .collect();
        let taken: HashSet<RelPath> = taken.iter().map(|s| p(s)).collect();
        let ext = self.opts.backup_ext.clone().unwrap();
        assign_backup_names(&mut plan, &ext, &targets, |q| taken.contains(q));
        plan
    }
}

// ---------------------------------------------------------------------------
// Compact renderings for table assertions.

fn acts(plan: &Plan) -> Vec<String> {
    plan.actions
        .iter()
        .map(|a| match a {
            Action::Remove { path, .. } => format!("remove {path}"),
            Action::RemoveDir {
                path,
                required: true,
            } => format!("rmdir! {path}"),
            Action::RemoveDir { path, .. } => format!("rmdir? {path}"),
            Action::Backup { path, to: None } => format!("backup {path}"),
            Action::Backup { path, to: Some(to) } => format!("backup {path} -> {to}"),
            Action::Discard { path, .. } => format!("discard {path}"),
            Action::Mkdir { path } => format!("mkdir {path}"),
            Action::Put { path, why, .. } => {
                let verb = match why {
                    Why::Create => "create",
                    Why::Replace => "replace",
                    Why::Repair => "repair",
                    Why::HomeManager => "take-hm",
                    Why::Identical => "identical",
                };
                format!("{verb} {path}")
            }
            Action::UnlinkHomeManager { path, .. } => format!("unlink-hm {path}"),
        })
        .collect()
}

fn kind_name(k: ConflictKind) -> &'static str {
    match k {
        ConflictKind::InTheWay => "in-the-way",
        ConflictKind::Modified => "modified",
        ConflictKind::ParentInTheWay => "parent-in-the-way",
        ConflictKind::ForceOnDirectory => "force-on-directory",
    }
}

fn confs(plan: &Plan) -> Vec<String> {
    plan.conflicts
        .iter()
        .map(|c| match &c.needed_by {
            Some(by) => format!("{} {} (for {by})", kind_name(c.kind), c.path),
            None => format!("{} {}", kind_name(c.kind), c.path),
        })
        .collect()
}

fn kept(plan: &Plan) -> Vec<String> {
    plan.kept.iter().map(|k| k.path.to_string()).collect()
}

/// One row of a table: the plan of `case` must have exactly these actions
/// and conflicts.
fn check(name: &str, case: &Case, actions: &[&str], conflicts: &[&str]) -> Plan {
    let plan = case.plan();
    assert_eq!(acts(&plan), actions, "{name}: actions");
    assert_eq!(confs(&plan), conflicts, "{name}: conflicts");
    assert_phases(&plan).unwrap_or_else(|e| panic!("{name}: {e}"));
    plan
}

fn the_put(plan: &Plan, path: &str) -> (Desired, Prev, Why) {
    plan.actions
        .iter()
        .find_map(|a| match a {
            Action::Put {
                path: q,
                want,
                prev,
                why,
            } if *q == p(path) => Some((want.clone(), prev.clone(), *why)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no put of {path} in {:?}", plan.actions))
}

const VIMRC: &str = "/nix/store/aaaa-vimrc";
const VIMRC2: &str = "/nix/store/bbbb-vimrc";
const GITCONFIG: &str = "/nix/store/cccc-gitconfig";
const NVIM: &str = "/nix/store/dddd-nvim-config";
const INIT: &str = "/nix/store/eeee-init.lua";
const SSH: &str = "/nix/store/ffff-ssh-config";
const SSH2: &str = "/nix/store/gggg-ssh-config";

// ---------------------------------------------------------------------------
// First activation and re-activation.

fn first_activation() -> Case {
    Case::new()
        .want(link(".vimrc", VIMRC))
        .want(link(".config/git/config", GITCONFIG))
        .want(copy(".ssh/config", SSH, Some(0o600)))
        .want(link(".local/share/nvim/site/init.lua", INIT))
        .source(SSH, "5511", 0o444)
}

#[test]
fn first_activation_into_an_empty_home() {
    let case = first_activation();
    let plan = check(
        "empty home",
        &case,
        &[
            "mkdir .config",
            "mkdir .local",
            "mkdir .ssh",
            "mkdir .config/git",
            "mkdir .local/share",
            "mkdir .local/share/nvim",
            "mkdir .local/share/nvim/site",
            "create .vimrc",
            "create .config/git/config",
            "create .ssh/config",
            "create .local/share/nvim/site/init.lua",
        ],
        &[],
    );
    assert_eq!(plan.unchanged, 0);
    assert!(plan.kept.is_empty());
    assert_eq!(
        the_put(&plan, ".ssh/config"),
        (
            Desired::copy(SSH.into(), "5511".into(), 0o600, 42),
            Prev::Missing,
            Why::Create
        )
    );
    // hearth owns what it creates, and remembers the directories it made.
    assert_eq!(
        plan.owned
            .entries
            .keys()
            .map(RelPath::as_str)
            .collect::<Vec<_>>(),
        [
            ".vimrc",
            ".config/git/config",
            ".ssh/config",
            ".local/share/nvim/site/init.lua"
        ]
    );
    assert_eq!(
        plan.owned
            .dirs
            .iter()
            .map(RelPath::as_str)
            .collect::<Vec<_>>(),
        [
            ".config",
            ".config/git",
            ".local",
            ".local/share",
            ".local/share/nvim",
            ".local/share/nvim/site",
            ".ssh"
        ]
    );
    insta::assert_snapshot!("first_activation", crate::report::plan_text(gen(), &plan));
}

#[test]
fn existing_parent_directories_are_used_but_not_owned() {
    let case = first_activation()
        .disk(".config", a_dir())
        .disk(".local", a_dir())
        .disk(".local/share", a_dir());
    let plan = check(
        "home with .config and .local/share",
        &case,
        &[
            "mkdir .ssh",
            "mkdir .config/git",
            "mkdir .local/share/nvim",
            "mkdir .local/share/nvim/site",
            "create .vimrc",
            "create .config/git/config",
            "create .ssh/config",
            "create .local/share/nvim/site/init.lua",
        ],
        &[],
    );
    assert!(!plan.owned.dirs.contains(&p(".config")));
    assert!(!plan.owned.dirs.contains(&p(".local/share")));
    assert!(plan.owned.dirs.contains(&p(".config/git")));
}

fn applied() -> Case {
    Case::new()
        .was_link(".vimrc", VIMRC)
        .was_link(".config/git/config", GITCONFIG)
        .was_copy(".ssh/config", "5511", 0o600)
        .was_dir(".config/git")
        .was_dir(".ssh")
        .want(link(".vimrc", VIMRC))
        .want(link(".config/git/config", GITCONFIG))
        .want(copy(".ssh/config", SSH, Some(0o600)))
        .source(SSH, "5511", 0o444)
        .home_as_recorded()
}

#[test]
fn reactivation_of_a_matching_home_does_nothing() {
    let case = applied();
    let plan = check("no-op", &case, &[], &[]);
    assert!(plan.is_noop());
    assert_eq!(plan.unchanged, 3);
    assert!(plan.kept.is_empty());
    // Ownership carries over unchanged, including the directories.
    assert_eq!(plan.owned, case.old);
    insta::assert_snapshot!("noop", crate::report::plan_text(gen(), &plan));
}

#[test]
fn a_matching_link_hearth_did_not_create_is_adopted() {
    let case = Case::new()
        .want(link(".vimrc", VIMRC))
        .disk(".vimrc", sym(VIMRC));
    let plan = check("same link already there", &case, &[], &[]);
    assert_eq!(plan.unchanged, 0);
    assert_eq!(plan.adopted, [p(".vimrc")]);
    assert!(plan.owned.entries.contains_key(&p(".vimrc")));
}

// ---------------------------------------------------------------------------
// Drift: the home changed behind hearth's back since the last activation.

#[test]
fn drift_repair() {
    let rows: Vec<(&str, Case, &[&str], &[&str])> = vec![
        (
            "managed link deleted",
            applied().disk(".vimrc", Seen::Missing),
            &["repair .vimrc"],
            &[],
        ),
        (
            "managed link replaced by another store link",
            applied().disk(".vimrc", sym(VIMRC2)),
            &["repair .vimrc"],
            &[],
        ),
        (
            "managed link replaced by a dangling store link (old generation collected)",
            applied().disk(".vimrc", dangling("/nix/store/zzzz-gone")),
            &["repair .vimrc"],
            &[],
        ),
        (
            "managed link replaced by a regular file",
            applied().disk(".vimrc", file(12)),
            &[],
            &["modified .vimrc"],
        ),
        (
            "managed link replaced by a link outside the store",
            applied().disk(".vimrc", sym("/home/alice/dotfiles/vimrc")),
            &[],
            &["modified .vimrc"],
        ),
        (
            "managed link replaced by a directory",
            applied().disk(".vimrc", dir(&[".vimrc/x"])),
            &[],
            &["modified .vimrc"],
        ),
        (
            "managed copy edited",
            applied().disk(".ssh/config", hashed("edited", 0o600)),
            &[],
            &["modified .ssh/config"],
        ),
        (
            "managed copy chmodded",
            applied().disk(".ssh/config", hashed("5511", 0o644)),
            &[],
            &["modified .ssh/config"],
        ),
        (
            "managed copy replaced by a store link",
            applied().disk(".ssh/config", sym(SSH)),
            &["repair .ssh/config"],
            &[],
        ),
        (
            "directory of a managed link deleted",
            applied()
                .disk(".config/git", Seen::Missing)
                .disk(".config/git/config", Seen::Missing),
            &["mkdir .config/git", "repair .config/git/config"],
            &[],
        ),
        (
            "managed copy deleted",
            applied().disk(".ssh/config", Seen::Missing),
            &["repair .ssh/config"],
            &[],
        ),
    ];
    for (name, case, actions, conflicts) in &rows {
        check(name, case, actions, conflicts);
    }

    let plan = applied().disk(".vimrc", sym(VIMRC2)).plan();
    assert_eq!(
        the_put(&plan, ".vimrc"),
        (
            Desired::Symlink {
                target: Path::new(VIMRC).into()
            },
            Prev::Symlink {
                target: VIMRC2.into()
            },
            Why::Repair
        )
    );
    assert_eq!(plan.unchanged, 2);
    let plan = applied().disk(".vimrc", Seen::Missing).plan();
    assert_eq!(the_put(&plan, ".vimrc").1, Prev::Missing);
}

// ---------------------------------------------------------------------------
// Conflicts: something hearth does not own is in the way.

#[test]
fn conflict_kinds() {
    let target = || Case::new().want(link(".vimrc", VIMRC));
    let rows: Vec<(&str, Case, &[&str], Seen)> = vec![
        (
            "regular file",
            target().disk(".vimrc", file(312)),
            &["in-the-way .vimrc"],
            file(312),
        ),
        (
            "directory with entries",
            target().disk(".vimrc", dir(&[".vimrc/a", ".vimrc/b"])),
            &["in-the-way .vimrc"],
            dir(&[".vimrc/a", ".vimrc/b"]),
        ),
        (
            "empty directory",
            target().disk(".vimrc", dir(&[])),
            &["in-the-way .vimrc"],
            dir(&[]),
        ),
        (
            "foreign symlink",
            target().disk(".vimrc", sym("/home/alice/dotfiles/vimrc")),
            &["in-the-way .vimrc"],
            sym("/home/alice/dotfiles/vimrc"),
        ),
        (
            "dangling symlink",
            target().disk(".vimrc", dangling("/home/alice/gone")),
            &["in-the-way .vimrc"],
            dangling("/home/alice/gone"),
        ),
        (
            // Only a path hearth managed may be repaired from a store link.
            "store symlink hearth never created",
            target().disk(".vimrc", sym(VIMRC2)),
            &["in-the-way .vimrc"],
            sym(VIMRC2),
        ),
        (
            "FIFO",
            target().disk(".vimrc", fifo()),
            &["in-the-way .vimrc"],
            fifo(),
        ),
    ];
    for (name, case, conflicts, found) in &rows {
        let plan = check(name, case, &[], conflicts);
        assert_eq!(plan.conflicts[0].found, *found, "{name}");
        assert_eq!(plan.conflicts[0].needed_by, None, "{name}");
        assert!(plan.owned.entries.is_empty(), "{name}");
    }
}

#[test]
fn parent_in_the_way() {
    let rows: Vec<(&str, Case, &[&str], &[&str])> = vec![
        (
            "parent is a foreign symlink to a directory",
            Case::new()
                .want(link(".config/git/config", GITCONFIG))
                .disk(".config", sym("/home/alice/dotfiles/config")),
            &[],
            &["parent-in-the-way .config (for .config/git/config)"],
        ),
        (
            "parent is a store symlink hearth never created",
            Case::new()
                .want(link(".config/git/config", GITCONFIG))
                .disk(".config", a_dir())
                .disk(".config/git", sym("/nix/store/xxxx-git")),
            &[],
            &["parent-in-the-way .config/git (for .config/git/config)"],
        ),
        (
            "parent is a regular file",
            Case::new()
                .want(link(".config/git/config", GITCONFIG))
                .disk(".config", a_dir())
                .disk(".config/git", file(3)),
            &[],
            &["parent-in-the-way .config/git (for .config/git/config)"],
        ),
        (
            // Reported once, for the first target that needs it; nothing
            // below it is looked at or reported again.
            "one report for a blocked parent of several targets",
            Case::new()
                .want(link("a/b/c", VIMRC))
                .want(link("a/d", VIMRC))
                .want(link("a/b/e/f", VIMRC))
                .want(link("z", VIMRC))
                .disk("a", dangling("/nowhere")),
            &["create z"],
            &["parent-in-the-way a (for a/b/c)"],
        ),
        (
            // force is about the target, not its parents.
            "force does not clear a parent",
            Case::new()
                .want(forced(link(".config/git/config", GITCONFIG)))
                .disk(".config", file(3)),
            &[],
            &["parent-in-the-way .config (for .config/git/config)"],
        ),
        (
            // The user replaced a directory hearth made with a symlink.
            "hearth's directory replaced by a symlink",
            applied().disk(".config/git", sym("/home/alice/git")),
            &[],
            &["parent-in-the-way .config/git (for .config/git/config)"],
        ),
        (
            // An old managed file the user changed, now needed as a
            // directory: a conflict, not a silent keep.
            "old managed file, user-modified, now a parent",
            Case::new()
                .was_link("a", VIMRC)
                .home_as_recorded()
                .want(link("a/b", VIMRC))
                .disk("a", file(5)),
            &[],
            &["parent-in-the-way a (for a/b)"],
        ),
    ];
    for (name, case, actions, conflicts) in &rows {
        let plan = check(name, case, actions, conflicts);
        assert!(plan.kept.is_empty(), "{name}: {:?}", plan.kept);
    }
}

#[test]
fn every_conflict_is_reported_at_once() {
    let case = Case::new()
        .was_link(".zshrc", "/nix/store/hhhh-zshrc")
        .was_link(".old", "/nix/store/iiii-old")
        .home_as_recorded()
        .want(link(".zshrc", "/nix/store/jjjj-zshrc"))
        .want(link(".vimrc", VIMRC))
        .want(link(".config/git/config", GITCONFIG))
        .want(forced(link(".config/nvim", NVIM)))
        .want(link(".bashrc", "/nix/store/kkkk-bashrc"))
        .want(link(".inputrc", "/nix/store/llll-inputrc"))
        .want(link(".fifo", "/nix/store/mmmm-fifo"))
        .want(link(".profile", "/nix/store/nnnn-profile"))
        .disk(".zshrc", file(1024))
        .disk(".vimrc", dir(&[".vimrc/a", ".vimrc/b", ".vimrc/b/c"]))
        .disk(".config", sym("/home/alice/dotfiles/config"))
        .disk(".bashrc", sym("/etc/bashrc"))
        .disk(".inputrc", dangling("/home/alice/old/inputrc"))
        .disk(".fifo", fifo());
    let plan = check(
        "many",
        &case,
        // What is not in conflict is still planned (and then not applied).
        &["remove .old", "create .profile"],
        &[
            "in-the-way .bashrc",
            "parent-in-the-way .config (for .config/git/config)",
            "in-the-way .fifo",
            "in-the-way .inputrc",
            "in-the-way .vimrc",
            "modified .zshrc",
        ],
    );
    insta::assert_snapshot!(
        "conflicts_report",
        crate::report::conflicts_text(gen(), &plan.conflicts, true)
    );
    insta::assert_snapshot!("conflicts_in_plan", crate::report::plan_text(gen(), &plan));

    let one = Case::new()
        .want(link(".config/git/config", GITCONFIG))
        .disk(".config", a_dir())
        .disk(".config/git/config", file(312))
        .plan();
    insta::assert_snapshot!(
        "conflict_report_one",
        crate::report::conflicts_text(gen(), &one.conflicts, true)
    );
}

#[test]
fn force_on_directory_report() {
    let case = Case::new()
        .want(forced(link(".config/nvim", NVIM)))
        .disk(".config", a_dir())
        .disk(".config/nvim", dir(&[".config/nvim/init.vim"]));
    let plan = check(
        "force on a directory",
        &case,
        &[],
        &["force-on-directory .config/nvim"],
    );
    insta::assert_snapshot!(
        "conflict_force_on_directory",
        crate::report::conflicts_text(gen(), &plan.conflicts, true)
    );
}

// ---------------------------------------------------------------------------
// Backup extension: what is in the way is moved aside, never deleted.

#[test]
fn backup_moves_what_is_in_the_way_aside() {
    let rows: Vec<(&str, Case, &[&str])> = vec![
        (
            "regular file at a target",
            Case::new()
                .backup("bak")
                .want(link(".vimrc", VIMRC))
                .disk(".vimrc", file(12)),
            &["backup .vimrc", "create .vimrc"],
        ),
        (
            "non-empty directory at a target",
            Case::new()
                .backup("bak")
                .want(link(".vimrc", VIMRC))
                .disk(".vimrc", dir(&[".vimrc/x"])),
            &["backup .vimrc", "create .vimrc"],
        ),
        (
            "foreign symlink as a parent",
            Case::new()
                .backup("bak")
                .want(link(".config/git/config", GITCONFIG))
                .want(link(".config/nvim/init.lua", INIT))
                .disk(".config", sym("/home/alice/dotfiles/config")),
            &[
                "backup .config",
                "mkdir .config",
                "mkdir .config/git",
                "mkdir .config/nvim",
                "create .config/git/config",
                "create .config/nvim/init.lua",
            ],
        ),
        (
            "file as an inner parent",
            Case::new()
                .backup("bak")
                .want(link(".config/git/config", GITCONFIG))
                .disk(".config", a_dir())
                .disk(".config/git", file(3)),
            &[
                "backup .config/git",
                "mkdir .config/git",
                "create .config/git/config",
            ],
        ),
        (
            "user-modified managed file",
            applied().backup("bak").disk(".vimrc", file(12)),
            &["backup .vimrc", "create .vimrc"],
        ),
        (
            "force with a backup extension still backs up",
            Case::new()
                .backup("bak")
                .want(forced(link(".vimrc", VIMRC)))
                .want(forced(link(".config/nvim", NVIM)))
                .disk(".vimrc", file(12))
                .disk(".config", a_dir())
                .disk(".config/nvim", dir(&[".config/nvim/init.vim"])),
            &[
                "backup .vimrc",
                "create .vimrc",
                "backup .config/nvim",
                "create .config/nvim",
            ],
        ),
    ];
    for (name, case, actions) in &rows {
        let plan = check(name, case, actions, &[]);
        assert!(
            plan.owned.entries.len() == case.new.len(),
            "{name}: everything is owned afterwards"
        );
    }
}

#[test]
fn backup_names() {
    let case = Case::new()
        .backup("bak")
        .want(link(".vimrc", VIMRC))
        .want(link(".config/git/config", GITCONFIG))
        .disk(".vimrc", file(12))
        .disk(".config", file(7));

    let plan = case.plan_named(&[".vimrc", ".config"]);
    assert_eq!(
        acts(&plan),
        [
            "backup .config -> .config.bak",
            "mkdir .config",
            "mkdir .config/git",
            "backup .vimrc -> .vimrc.bak",
            "create .vimrc",
            "create .config/git/config",
        ]
    );

    // An existing backup is never overwritten: .1, .2, ...
    let plan = case.plan_named(&[
        ".vimrc",
        ".vimrc.bak",
        ".vimrc.bak.1",
        ".config",
        ".config.bak",
    ]);
    assert_eq!(
        acts(&plan)
            .into_iter()
            .filter(|a| a.starts_with("backup"))
            .collect::<Vec<_>>(),
        [
            "backup .config -> .config.bak.1",
            "backup .vimrc -> .vimrc.bak.2"
        ]
    );
    insta::assert_snapshot!("backups", crate::report::plan_text(gen(), &plan));

    // A name that is a target of the new (or old) generation is never used,
    // even when nothing is there yet.
    let case = Case::new()
        .backup("bak")
        .was_link(".profile.bak", "/nix/store/oooo-profile")
        .want(link(".vimrc", VIMRC))
        .want(link(".vimrc.bak", VIMRC2))
        .want(link(".profile", "/nix/store/pppp-profile"))
        .disk(".vimrc", file(12))
        .disk(".profile", file(12));
    let plan = case.plan_named(&[".vimrc", ".profile"]);
    assert_eq!(
        acts(&plan),
        [
            "backup .vimrc -> .vimrc.bak.1",
            "create .vimrc",
            "create .vimrc.bak",
            "backup .profile -> .profile.bak.1",
            "create .profile",
        ]
    );

    // Two backups never get the same name, even when the numbering of one
    // runs into the plain name of the other (extension "1": a → a.1 → a.1.1).
    let case = Case::new()
        .backup("1")
        .want(link("a/f", VIMRC))
        .want(link("a.1/g", VIMRC))
        .disk("a", file(1))
        .disk("a.1", file(1));
    let plan = case.plan_named(&["a", "a.1"]);
    assert_eq!(
        acts(&plan)
            .into_iter()
            .filter(|a| a.starts_with("backup"))
            .collect::<Vec<_>>(),
        ["backup a -> a.1.1", "backup a.1 -> a.1.1.1"]
    );

    // Nor the name of a directory the plan is about to create.
    let case = Case::new()
        .backup("bak")
        .want(link("a", VIMRC))
        .want(link("a.bak/f", VIMRC))
        .disk("a", file(1));
    let plan = case.plan_named(&["a"]);
    assert_eq!(
        acts(&plan),
        [
            "mkdir a.bak",
            "backup a -> a.bak.1",
            "create a",
            "create a.bak/f"
        ]
    );
}

// ---------------------------------------------------------------------------
// force without a backup extension: what is in the way is discarded.

#[test]
fn force_discards() {
    let target = || Case::new().want(forced(link(".vimrc", VIMRC)));
    let rows: Vec<(&str, Case, &[&str], &[&str])> = vec![
        (
            "regular file",
            target().disk(".vimrc", file(12)),
            &["discard .vimrc", "create .vimrc"],
            &[],
        ),
        (
            "foreign symlink",
            target().disk(".vimrc", sym("/home/alice/vimrc")),
            &["discard .vimrc", "create .vimrc"],
            &[],
        ),
        (
            "dangling symlink",
            target().disk(".vimrc", dangling("/home/alice/gone")),
            &["discard .vimrc", "create .vimrc"],
            &[],
        ),
        (
            "FIFO",
            target().disk(".vimrc", fifo()),
            &["discard .vimrc", "create .vimrc"],
            &[],
        ),
        (
            "empty directory",
            target().disk(".vimrc", dir(&[])),
            &["discard .vimrc", "create .vimrc"],
            &[],
        ),
        (
            "non-empty directory",
            target().disk(".vimrc", dir(&[".vimrc/x"])),
            &[],
            &["force-on-directory .vimrc"],
        ),
        (
            "directory too large to list",
            target().disk(".vimrc", a_dir()),
            &[],
            &["force-on-directory .vimrc"],
        ),
        (
            "user-modified managed file",
            Case::new()
                .was_link(".vimrc", VIMRC)
                .want(forced(link(".vimrc", VIMRC)))
                .disk(".vimrc", file(12)),
            &["discard .vimrc", "create .vimrc"],
            &[],
        ),
        ("nothing in the way", target(), &["create .vimrc"], &[]),
        (
            "already right",
            target().disk(".vimrc", sym(VIMRC)),
            &[],
            &[],
        ),
    ];
    for (name, case, actions, conflicts) in &rows {
        let plan = check(name, case, actions, conflicts);
        if let Some(Action::Discard { found, .. }) = plan.actions.first() {
            assert_eq!(found, &case.seen.paths[&p(".vimrc")], "{name}");
        }
    }
    let plan = target().disk(".vimrc", file(12)).plan();
    insta::assert_snapshot!("force", crate::report::plan_text(gen(), &plan));
}

// ---------------------------------------------------------------------------
// Orphans: entries of the old generation that the new one dropped.

#[test]
fn orphans() {
    let old = || {
        Case::new()
            .was_link(".vimrc", VIMRC)
            .was_copy(".ssh/config", "5511", 0o600)
            .was_dir(".ssh")
            .home_as_recorded()
    };
    let rows: Vec<(&str, Case, &[&str], &[&str])> = vec![
        (
            "owned and unchanged",
            old(),
            &["remove .ssh/config", "remove .vimrc", "rmdir? .ssh"],
            &[],
        ),
        (
            "user-modified link",
            old().disk(".vimrc", sym("/home/alice/vimrc")),
            &["remove .ssh/config", "rmdir? .ssh"],
            &[".vimrc"],
        ),
        (
            // Not even a store link may go: it is not what hearth put there.
            "link replaced by another store link",
            old().disk(".vimrc", sym(VIMRC2)),
            &["remove .ssh/config", "rmdir? .ssh"],
            &[".vimrc"],
        ),
        (
            "link replaced by a file",
            old().disk(".vimrc", file(3)),
            &["remove .ssh/config", "rmdir? .ssh"],
            &[".vimrc"],
        ),
        (
            "edited copy",
            old().disk(".ssh/config", hashed("edited", 0o600)),
            &["remove .vimrc", "rmdir? .ssh"],
            &[".ssh/config"],
        ),
        (
            "chmodded copy",
            old().disk(".ssh/config", hashed("5511", 0o644)),
            &["remove .vimrc", "rmdir? .ssh"],
            &[".ssh/config"],
        ),
        (
            "already missing",
            old()
                .disk(".vimrc", Seen::Missing)
                .disk(".ssh/config", Seen::Missing),
            &["rmdir? .ssh"],
            &[],
        ),
        (
            "hearth's directory already gone",
            old()
                .disk(".ssh", Seen::Missing)
                .disk(".ssh/config", Seen::Missing),
            &["remove .vimrc"],
            &[],
        ),
    ];
    for (name, case, actions, kept_paths) in &rows {
        let plan = check(name, case, actions, &[]);
        assert_eq!(kept(&plan), *kept_paths, "{name}: kept");
        assert!(plan.owned.entries.is_empty(), "{name}");
        assert!(plan.owned.dirs.is_empty(), "{name}");
    }

    let plan = old()
        .disk(".vimrc", sym("/home/alice/vimrc"))
        .disk(".ssh/config", hashed("edited", 0o600))
        .plan();
    insta::assert_snapshot!("kept", crate::report::plan_text(gen(), &plan));
    insta::assert_snapshot!("kept_note", crate::report::kept_text(&plan.kept));
}

#[test]
fn directories_hearth_created_go_when_no_longer_needed() {
    let case = Case::new()
        .was_link("a/b/c/x", VIMRC)
        .was_link("a/y", VIMRC)
        .was_link("k/z", VIMRC)
        .was_link("m/n/w", VIMRC)
        .was_dir("a")
        .was_dir("a/b")
        .was_dir("a/b/c")
        .was_dir("k")
        .was_dir("m/n")
        .home_as_recorded()
        // k is still needed; m was there before hearth.
        .want(link("k/new", VIMRC2));
    let plan = check(
        "cleanup",
        &case,
        &[
            "remove a/b/c/x",
            "remove m/n/w",
            "rmdir? a/b/c",
            "remove a/y",
            "remove k/z",
            "rmdir? a/b",
            "rmdir? m/n",
            "rmdir? a",
            "create k/new",
        ],
        &[],
    );
    assert_eq!(
        plan.owned
            .dirs
            .iter()
            .map(RelPath::as_str)
            .collect::<Vec<_>>(),
        ["k"]
    );
    // Every directory comes after everything removed below it.
    for (i, a) in plan.actions.iter().enumerate() {
        if let Action::RemoveDir { path, .. } = a {
            assert!(plan.actions[i..].iter().all(|b| !b.path().is_below(path)));
        }
    }
    insta::assert_snapshot!("cleanup", crate::report::plan_text(gen(), &plan));
}

// ---------------------------------------------------------------------------
// Type changes at a path between generations.

#[test]
fn type_changes() {
    let rows: Vec<(&str, Case, &[&str], &[&str])> = vec![
        (
            "file becomes a directory",
            Case::new()
                .was_link("a", VIMRC)
                .home_as_recorded()
                .want(link("a/b", VIMRC)),
            &["remove a", "mkdir a", "create a/b"],
            &[],
        ),
        (
            "copy becomes a directory",
            Case::new()
                .was_copy("a", "5511", 0o444)
                .home_as_recorded()
                .want(link("a/b/c", VIMRC)),
            &["remove a", "mkdir a", "mkdir a/b", "create a/b/c"],
            &[],
        ),
        (
            "directory link becomes files under that directory",
            Case::new()
                .was_link(".config/nvim", NVIM)
                .home_as_recorded()
                .want(link(".config/nvim/init.lua", INIT))
                .want(link(".config/nvim/lua/plugins.lua", VIMRC)),
            &[
                "remove .config/nvim",
                "mkdir .config/nvim",
                "mkdir .config/nvim/lua",
                "create .config/nvim/init.lua",
                "create .config/nvim/lua/plugins.lua",
            ],
            &[],
        ),
        (
            "directory becomes a file",
            Case::new()
                .was_link("a/x", VIMRC)
                .was_link("a/y", VIMRC2)
                .was_dir("a")
                .home_as_recorded()
                .want(link("a", NVIM))
                .disk("a", dir(&["a/x", "a/y"])),
            &["remove a/x", "remove a/y", "rmdir! a", "replace a"],
            &[],
        ),
        (
            "nested directories become a file",
            Case::new()
                .was_link("a/b/x", VIMRC)
                .was_link("a/y", VIMRC2)
                .was_dir("a")
                .was_dir("a/b")
                .home_as_recorded()
                .want(link("a", NVIM))
                .disk("a", dir(&["a/b", "a/b/x", "a/y"])),
            &[
                "remove a/b/x",
                "remove a/y",
                "rmdir? a/b",
                "rmdir! a",
                "replace a",
            ],
            &[],
        ),
        (
            "directory becomes a file, but holds a user file",
            Case::new()
                .was_link("a/x", VIMRC)
                .was_link("a/y", VIMRC2)
                .was_dir("a")
                .home_as_recorded()
                .want(link("a", NVIM))
                .disk("a", dir(&["a/notes", "a/x", "a/y"])),
            &["remove a/x", "remove a/y"],
            &["modified a"],
        ),
        (
            "directory becomes a file, but holds a user-modified entry",
            Case::new()
                .was_link("a/x", VIMRC)
                .was_link("a/y", VIMRC2)
                .was_dir("a")
                .home_as_recorded()
                .want(link("a", NVIM))
                .disk("a", dir(&["a/x", "a/y"]))
                .disk("a/y", file(4)),
            &["remove a/x"],
            &["modified a"],
        ),
        (
            // Not created by hearth: even empty, it is not hearth's to remove.
            "directory hearth did not create becomes a file",
            Case::new()
                .was_link("a/x", VIMRC)
                .home_as_recorded()
                .want(link("a", NVIM))
                .disk("a", dir(&["a/x"])),
            &["remove a/x"],
            &["in-the-way a"],
        ),
        (
            "directory becomes a file, user file inside, backup",
            Case::new()
                .backup("bak")
                .was_link("a/x", VIMRC)
                .was_dir("a")
                .home_as_recorded()
                .want(link("a", NVIM))
                .disk("a", dir(&["a/notes", "a/x"])),
            &["remove a/x", "backup a", "create a"],
            &[],
        ),
        (
            "link becomes a copy",
            Case::new()
                .was_link(".ssh/config", SSH)
                .home_as_recorded()
                .want(copy(".ssh/config", SSH, None))
                .source(SSH, "5511", 0o444),
            &["replace .ssh/config"],
            &[],
        ),
        (
            "copy becomes a link",
            Case::new()
                .was_copy(".ssh/config", "5511", 0o444)
                .home_as_recorded()
                .want(link(".ssh/config", SSH)),
            &["replace .ssh/config"],
            &[],
        ),
    ];
    for (name, case, actions, conflicts) in &rows {
        check(name, case, actions, conflicts);
    }

    let plan = rows[3].1.plan();
    insta::assert_debug_snapshot!("dir_to_file_actions", plan.actions);
    let plan = rows[2].1.plan();
    insta::assert_snapshot!("dir_link_to_files", crate::report::plan_text(gen(), &plan));
    assert_eq!(
        plan.owned
            .dirs
            .iter()
            .map(RelPath::as_str)
            .collect::<Vec<_>>(),
        [".config/nvim", ".config/nvim/lua"]
    );
    let plan = rows[9].1.plan();
    assert_eq!(
        the_put(&plan, ".ssh/config").1,
        Prev::Symlink { target: SSH.into() }
    );
    let plan = rows[10].1.plan();
    assert_eq!(the_put(&plan, ".ssh/config").1, Prev::File);
}

// ---------------------------------------------------------------------------
// Copies: content and mode are compared, not just the kind.

#[test]
fn copies() {
    let old = || {
        Case::new()
            .was_copy(".ssh/config", "5511", 0o600)
            .home_as_recorded()
    };
    let rows: Vec<(&str, Case, &[&str], &[&str])> = vec![
        (
            "same content and mode",
            old()
                .want(copy(".ssh/config", SSH, Some(0o600)))
                .source(SSH, "5511", 0o444),
            &[],
            &[],
        ),
        (
            "mode differs",
            old()
                .want(copy(".ssh/config", SSH, Some(0o400)))
                .source(SSH, "5511", 0o444),
            &["replace .ssh/config"],
            &[],
        ),
        (
            "content differs",
            old()
                .want(copy(".ssh/config", SSH2, Some(0o600)))
                .source(SSH2, "7722", 0o444),
            &["replace .ssh/config"],
            &[],
        ),
        (
            "edited by the user",
            old()
                .want(copy(".ssh/config", SSH2, Some(0o600)))
                .source(SSH2, "7722", 0o444)
                .disk(".ssh/config", hashed("edited", 0o600)),
            &[],
            &["modified .ssh/config"],
        ),
        (
            // The user made it by hand, identically: adopted.
            "identical file hearth did not create",
            Case::new()
                .want(copy(".ssh/config", SSH, Some(0o600)))
                .source(SSH, "5511", 0o444)
                .disk(".ssh", a_dir())
                .disk(".ssh/config", hashed("5511", 0o600)),
            &[],
            &[],
        ),
        (
            "same content, different mode, hearth did not create it",
            Case::new()
                .want(copy(".ssh/config", SSH, Some(0o600)))
                .source(SSH, "5511", 0o444)
                .disk(".ssh", a_dir())
                .disk(".ssh/config", hashed("5511", 0o644)),
            &[],
            &["in-the-way .ssh/config"],
        ),
    ];
    for (name, case, actions, conflicts) in &rows {
        let plan = check(name, case, actions, conflicts);
        if actions.is_empty() && conflicts.is_empty() {
            // Hearth's own, or adopted (it did not create it).
            assert_eq!(plan.unchanged + plan.adopted.len(), 1, "{name}");
        }
    }
    let plan = rows[1].1.plan();
    assert_eq!(
        the_put(&plan, ".ssh/config"),
        (
            Desired::copy(SSH.into(), "5511".into(), 0o400, 42),
            Prev::File,
            Why::Replace
        )
    );

    // Without a mode, a copy keeps the source's mode minus write for others.
    for (source_mode, want) in [
        (0o444, 0o444),
        (0o555, 0o555),
        (0o666, 0o644),
        (0o777, 0o755),
    ] {
        let plan = Case::new()
            .want(copy("f", SSH, None))
            .source(SSH, "5511", source_mode)
            .plan();
        match the_put(&plan, "f").0 {
            Desired::Copy(c) => assert_eq!(c.mode, want, "{source_mode:o}"),
            other @ Desired::Symlink { .. } => panic!("{other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------
// A switch with a bit of everything: ordering and the text of the plan.

#[test]
fn a_switch() {
    let case = Case::new()
        .was_link(".vimrc", VIMRC)
        .was_link(".config/nvim", NVIM)
        .was_link(".zshrc", "/nix/store/hhhh-zshrc")
        .was_link(".old/deep/file", "/nix/store/iiii-old")
        .was_copy(".ssh/config", "5511", 0o600)
        .was_link(".bashrc", "/nix/store/kkkk-bashrc")
        .was_dir(".old")
        .was_dir(".old/deep")
        .was_dir(".ssh")
        .home_as_recorded()
        .backup("bak")
        .want(link(".vimrc", VIMRC2))
        .want(link(".config/nvim/init.lua", INIT))
        .want(copy(".ssh/config", SSH2, Some(0o600)))
        .source(SSH2, "7722", 0o444)
        .want(link(".gitconfig", GITCONFIG))
        .want(link(".bashrc", "/nix/store/kkkk-bashrc"))
        .want(link(".local/bin/tool", "/nix/store/qqqq-tool"))
        .disk(".zshrc", file(20))
        .disk(".gitconfig", file(99))
        .disk(".bashrc", Seen::Missing)
        .disk(".local", a_dir());
    let plan = case.plan_named(&[".gitconfig", ".gitconfig.bak"]);
    assert_eq!(
        acts(&plan),
        [
            "remove .old/deep/file",
            "remove .config/nvim",
            "rmdir? .old/deep",
            "rmdir? .old",
            "mkdir .config/nvim",
            "mkdir .local/bin",
            "replace .vimrc",
            "create .config/nvim/init.lua",
            "replace .ssh/config",
            "backup .gitconfig -> .gitconfig.bak.1",
            "create .gitconfig",
            "repair .bashrc",
            "create .local/bin/tool",
        ]
    );
    assert_eq!(kept(&plan), [".zshrc"]);
    assert_phases(&plan).unwrap();
    insta::assert_snapshot!("switch", crate::report::plan_text(gen(), &plan));
    insta::assert_snapshot!("switch_json", crate::report::plan_json(gen(), &plan));
}

// ---------------------------------------------------------------------------
// Property: over many random (old, new, home) triples, applying the plan to a
// model of the home never loses anything hearth does not own, never writes
// through a non-directory, and reaches the new generation when there is no
// conflict; activating again then plans nothing.

/// xorshift64*: small, deterministic, good enough to shuffle test inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    #[expect(
        clippy::cast_possible_truncation,
        reason = "the remainder is below n, itself a usize"
    )]
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// Up to `max` targets, none inside another.
fn pick_targets(rng: &mut Rng, paths: &[RelPath], start: Vec<RelPath>, max: usize) -> Vec<RelPath> {
    let mut out: Vec<RelPath> = Vec::new();
    let n = rng.below(max + 1);
    let mut candidates = start;
    for _ in 0..2 * max {
        candidates.push(rng.pick(paths).clone());
    }
    for c in candidates {
        if out.len() >= n {
            break;
        }
        if out
            .iter()
            .all(|o| *o != c && !o.is_below(&c) && !c.is_below(o))
        {
            out.push(c);
        }
    }
    out
}

fn random_case(rng: &mut Rng, paths: &[RelPath]) -> (Case, Fs) {
    let mut case = Case::new();
    for t in pick_targets(rng, paths, vec![], 4) {
        let rec = if rng.chance(50) {
            Recorded::Symlink {
                target: Path::new(rng.pick(&[S1, S2, S3])).into(),
            }
        } else {
            Recorded::copy(
                rng.pick(&["h1", "h2", "h3"]).to_string(),
                *rng.pick(&[0o444, 0o555, 0o644]),
                Some(2),
            )
        };
        for a in t.ancestors() {
            if rng.chance(70) {
                case.old.dirs.insert(a);
            }
        }
        case.old.entries.insert(t, rec);
    }

    // The home: usually as hearth left it, then changed by the user.
    let mut fs = Fs::new();
    if rng.chance(85) {
        for (t, rec) in &case.old.entries {
            for a in t.ancestors() {
                fs.insert(a, Node::Dir);
            }
            fs.insert(t.clone(), node_of(rec));
        }
    }
    let old_targets: Vec<RelPath> = case.old.entries.keys().cloned().collect();
    for _ in 0..rng.below(5) {
        let path = if !old_targets.is_empty() && rng.chance(40) {
            rng.pick(&old_targets).clone()
        } else {
            rng.pick(paths).clone()
        };
        let node = match rng.below(9) {
            0 => {
                remove_tree(&mut fs, &path);
                continue;
            }
            1 => Node::File {
                sha: "user".into(),
                mode: 0o644,
            },
            2 => Node::Link(FOREIGN.into()),
            3 => Node::Link(OTHER.into()),
            4 => Node::Link(GONE.into()),
            5 => Node::Dir,
            6 => Node::Special,
            7 => Node::Link(rng.pick(&[S1, S2]).into()),
            _ => Node::File {
                sha: rng.pick(&["h1", "h2"]).to_string(),
                mode: *rng.pick(&[0o444, 0o555, 0o644]),
            },
        };
        place(&mut fs, &path, node);
    }

    // The new generation: some old targets kept, some new ones.
    let keep: Vec<RelPath> = old_targets
        .iter()
        .filter(|_| rng.chance(60))
        .cloned()
        .collect();
    for t in pick_targets(rng, paths, keep, 4) {
        let source = *rng.pick(&[S1, S2]);
        let mut f = if rng.chance(50) {
            link(t.as_str(), source)
        } else {
            copy(
                t.as_str(),
                source,
                *rng.pick(&[None, Some(0o444), Some(0o644)]),
            )
        };
        f.force = rng.chance(25);
        case.new.push(f);
    }
    if rng.chance(30) {
        case.opts.backup_ext = Some("x".into());
    }
    case.seen = observe_model(&fs, &case.old, &case.new);
    (case, fs)
}

#[test]
fn random_plans_are_safe() {
    let paths = all_paths();
    let mut rng = Rng(
        std::env::var("HEARTH_PLAN_SEED").map_or(0x9e37_79b9_7f4a_7c15, |n| n.parse().unwrap())
    );
    let (mut clean, mut conflicted) = (0, 0);
    for i in 0..std::env::var("HEARTH_PLAN_CASES").map_or(5000, |n| n.parse().unwrap()) {
        let (case, fs) = random_case(&mut rng, &paths);
        if let Err(e) = check_plan(&case, &fs) {
            panic!(
                "case {i}: {e}\nold: {:?}\nnew: {:?}\nhome: {fs:?}\nbackup: {:?}\nplan: {:?}\nconflicts: {:?}",
                case.old,
                case.new
                    .iter()
                    .map(|f| (f.target.as_str(), f.kind, f.source.display().to_string(), f.mode, f.force))
                    .collect::<Vec<_>>(),
                case.opts.backup_ext,
                acts(&case.plan()),
                confs(&case.plan()),
            );
        }
        if case.plan().conflicts.is_empty() {
            clean += 1;
        } else {
            conflicted += 1;
        }
    }
    // The generator reaches both outcomes often.
    assert!(
        clean > 1000 && conflicted > 500,
        "{clean} clean, {conflicted} conflicted"
    );
}

// ---------------------------------------------------------------------------
// The size of a copy, recorded so that a file at its path is hashed only when
// it can match.

#[test]
fn a_copy_records_its_size_and_older_states_still_load() {
    let plan = Case::new()
        .want(copy("f", SSH, None))
        .source(SSH, "5511", 0o444)
        .plan();
    let rec = &plan.owned.entries[&p("f")];
    assert_eq!(*rec, Recorded::copy("5511".into(), 0o444, Some(42)));
    assert_eq!(
        serde_json::to_string(rec).unwrap(),
        r#"{"copy":{"sha256":"5511","mode":292,"size":42}}"#
    );
    // A state written before sizes were recorded: the size is unknown.
    let old: Recorded = serde_json::from_str(r#"{"copy":{"sha256":"5511","mode":292}}"#).unwrap();
    assert_eq!(old, Recorded::copy("5511".into(), 0o444, None));
    // And it serializes back to the same shape.
    assert_eq!(
        serde_json::to_string(&old).unwrap(),
        r#"{"copy":{"sha256":"5511","mode":292}}"#
    );
}

// ---------------------------------------------------------------------------
// Traps a user can set at a target (issue 7): links that only look like
// store links, files hearth may not read, names that rewrite a terminal.

#[test]
fn normalize_resolves_dots_lexically() {
    let n = |s: &str| normalize(Path::new(s)).map(|p| p.display().to_string());
    assert_eq!(n("/nix/store/abc-x/y"), Some("/nix/store/abc-x/y".into()));
    assert_eq!(
        n("/nix/store/../../home/u/fifo"),
        Some("/home/u/fifo".into())
    );
    assert_eq!(n("/nix/store/./abc//y/."), Some("/nix/store/abc/y".into()));
    assert_eq!(n("/nix/store/abc/../def"), Some("/nix/store/def".into()));
    // `..` at the root stays there, as the kernel resolves it.
    assert_eq!(n("/../../nix/store/a"), Some("/nix/store/a".into()));
    assert_eq!(n("/"), Some("/".into()));
    assert_eq!(n("relative/../x"), None);
    assert_eq!(n("../nix/store/a"), None);

    let store = Path::new("/nix/store");
    let inside = |s: &str| in_store(Path::new(s), store);
    assert!(inside("/nix/store/abc-x"));
    assert!(inside("/nix/store/abc-x/../def-y/f"));
    assert!(inside("/nix//store/abc"));
    assert!(!inside("/nix/store/../../home/u/fifo"));
    assert!(!inside("/nix/store/abc/../../store2/x"));
    assert!(!inside("/nix/store"));
    assert!(!inside("/nix/store/.."));
    assert!(!inside("/nix/store/abc/.."));
    assert!(!inside("/nix/storefoo/x"));
    assert!(!inside("nix/store/abc"));
}

#[test]
fn a_link_leaving_the_store_by_dotdot_is_the_users() {
    let rows: Vec<(&str, Case, &[&str], &[&str])> = vec![
        (
            "managed link re-pointed through .. to the user's FIFO",
            applied().disk(".vimrc", sym("/nix/store/../../home/alice/fifo")),
            &[],
            &["modified .vimrc"],
        ),
        (
            "managed link re-pointed to the store's parent",
            applied().disk(".vimrc", sym("/nix/store/aaaa-vimrc/../..")),
            &[],
            &["modified .vimrc"],
        ),
        (
            "managed link re-pointed to another store path by a detour",
            applied().disk(".vimrc", sym("/nix/store/zzzz/../bbbb-vimrc")),
            &["repair .vimrc"],
            &[],
        ),
        (
            "the same with a backup extension: moved aside, never replaced",
            applied()
                .disk(".vimrc", sym("/nix/store/../../home/alice/fifo"))
                .backup("bak"),
            &["backup .vimrc", "create .vimrc"],
            &[],
        ),
    ];
    for (name, case, actions, conflicts) in &rows {
        check(name, case, actions, conflicts);
    }
}

#[test]
fn an_unreadable_file_at_a_copy_target_is_not_a_match() {
    let unreadable = |size| Seen::File {
        size,
        mode: 0o000,
        sha256: None,
        unreadable: true,
    };
    let want = || {
        Case::new()
            .want(copy("f", SSH, None))
            .source(SSH, "5511", 0o444)
    };
    let rows: Vec<(&str, Case, &[&str], &[&str])> = vec![
        (
            "in the way",
            want().disk("f", unreadable(42)),
            &[],
            &["in-the-way f"],
        ),
        (
            "moved aside",
            want().disk("f", unreadable(42)).backup("bak"),
            &["backup f", "create f"],
            &[],
        ),
        (
            "discarded by force",
            Case::new()
                .want(forced(copy("f", SSH, None)))
                .source(SSH, "5511", 0o444)
                .disk("f", unreadable(42)),
            &["discard f", "create f"],
            &[],
        ),
        (
            "hearth's old copy made unreadable",
            Case::new()
                .was_copy("f", "5511", 0o444)
                .want(copy("f", SSH, None))
                .source(SSH, "5511", 0o444)
                .disk("f", unreadable(42)),
            &[],
            &["modified f"],
        ),
        (
            "hearth's old copy, no longer wanted, made unreadable: kept",
            Case::new()
                .was_copy("f", "5511", 0o444)
                .disk("f", unreadable(42)),
            &[],
            &[],
        ),
    ];
    for (name, case, actions, conflicts) in &rows {
        check(name, case, actions, conflicts);
    }
    let plan = rows[0].1.plan();
    insta::assert_snapshot!(
        "conflict_unreadable",
        crate::report::conflicts_text(gen(), &plan.conflicts, true)
    );
    assert_eq!(kept(&rows[4].1.plan()), ["f"]);
}

#[test]
fn names_and_targets_from_the_home_are_escaped_in_reports() {
    // A user's names and link targets that would clear the screen, move the
    // cursor and overwrite a line if printed raw.
    let evil = "\x1b[2J\x1b[Hall good\r";
    let case = Case::new()
        .was_link(".vimrc", VIMRC)
        .want(link(".vimrc", VIMRC))
        .want(link("in\x1b[31mred", VIMRC2))
        .want(forced(link("forced", VIMRC2)))
        .disk(".vimrc", sym(&format!("/home/alice/{evil}")))
        .disk("forced", sym(&format!("/tmp/{evil}")));
    let plan = case.plan();
    // The plan's text ends with the conflicts, as `plan` prints them.
    let text = crate::report::plan_text(gen(), &plan);
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "a raw control character in {text:?}"
    );
    insta::assert_snapshot!("escaped_reports", text);

    let kept = Case::new()
        .was_link(".vimrc", VIMRC)
        .disk(".vimrc", sym(&format!("/home/alice/{evil}")))
        .plan();
    let note = crate::report::kept_text(&kept.kept);
    assert!(
        !note.chars().any(|c| c.is_control() && c != '\n'),
        "{note:?}"
    );
    insta::assert_snapshot!("escaped_kept", note);

    // JSON stays valid and carries the exact bytes (escaped by serde).
    let json: serde_json::Value =
        serde_json::from_str(&crate::report::plan_json(gen(), &plan)).unwrap();
    assert_eq!(
        json["conflicts"][0]["found"]["target"],
        format!("/home/alice/{evil}")
    );
}

// ---------------------------------------------------------------------------
// Moving a home from Home Manager: what its activation left is adopted.

const HM: &str = "/nix/store/hhhh-home-manager-files";

fn hm(rel: &str) -> String {
    format!("{HM}/{rel}")
}

/// A regular file whose content was hashed (a link's source is the same size).
fn same_as(sha: &str, mode: u32) -> Seen {
    hashed(sha, mode)
}

#[test]
fn home_manager_links_are_recognised_by_their_store_name() {
    let yes = [
        "/nix/store/hhhh-home-manager-files/.vimrc",
        "/nix/store/hhhh-home-manager-files/.config/git/config",
        "/nix/store/./hhhh-home-manager-files/a",
        "/nix/store/zz/../hhhh-home-manager-files/a",
    ];
    for t in yes {
        assert!(is_home_manager_link(Path::new(t)), "{t}");
    }
    let no = [
        // The tree itself is not a file Home Manager links.
        "/nix/store/hhhh-home-manager-files",
        // Its generation, its packages, a user's own file.
        "/nix/store/hhhh-home-manager-generation/home-files/.vimrc",
        "/nix/store/hhhh-home-manager-path/bin/vim",
        "/nix/store/hhhh-home-manager-files-extra/a",
        "/home/alice/hhhh-home-manager-files/a",
        // Leaves the store by `..`.
        "/nix/store/hhhh-home-manager-files/../../../home/alice/x",
        // Relative: never a store link.
        "hhhh-home-manager-files/a",
        "/nix/store/aaaa-vimrc",
    ];
    for t in no {
        assert!(!is_home_manager_link(Path::new(t)), "{t}");
    }
}

/// A home as Home Manager's activation leaves it, and what hearth wants there.
fn home_manager_home() -> Case {
    let mut case = Case::new()
        .want(link(".vimrc", VIMRC))
        .want(link(".config/git/config", GITCONFIG))
        .want(link(".inputrc", VIMRC2))
        .want(copy(".ssh/config", SSH, Some(0o600)))
        .want(link(".profile", SSH2))
        .want(link(".zshrc", NVIM))
        .source(SSH, "5511", 0o444)
        .source(SSH2, "p", 0o444)
        .source(NVIM, "z", 0o444)
        // Home Manager's links: replaced, no backup, no conflict.
        .disk(".vimrc", sym(&hm(".vimrc")))
        .disk(".config", a_dir())
        .disk(".config/git", a_dir())
        .disk(".config/git/config", sym(&hm(".config/git/config")))
        // Already exactly what is wanted: adopted, nothing written.
        .disk(".inputrc", sym(VIMRC2))
        .disk(".ssh", a_dir())
        .disk(".ssh/config", hashed("5511", 0o600))
        // A regular file with the link source's content (Home Manager
        // skipped it as identical): the link replaces it, nothing lost.
        .disk(".profile", same_as("p", 0o644))
        // The user's own file: still in the way.
        .disk(".zshrc", same_as("mine", 0o644))
        // Home Manager's link that nothing wants now, and its link that the
        // user replaced with their own file.
        .disk(".old", sym(&hm(".old")))
        .disk(".mine", file(3));
    case.seen.home_manager = vec![p(".old"), p(".mine"), p(".vimrc")];
    case
}

#[test]
fn adopting_a_home_manager_home() {
    let case = home_manager_home();
    let plan = check(
        "adoption",
        &case,
        &[
            "unlink-hm .old",
            "take-hm .vimrc",
            "take-hm .config/git/config",
            "identical .profile",
        ],
        &["in-the-way .zshrc"],
    );
    assert_eq!(plan.adopted, [p(".inputrc"), p(".ssh/config")]);
    assert_eq!(plan.unchanged, 0);
    assert_eq!(
        the_put(&plan, ".vimrc").1,
        Prev::Symlink {
            target: hm(".vimrc").into()
        }
    );
    assert_eq!(the_put(&plan, ".profile").1, Prev::File);
    assert_eq!(
        plan.identical.get(&p(".profile")),
        Some(&Recorded::copy("p".into(), 0o644, Some(42)))
    );
    // Adopted targets are hearth's own from now on.
    for t in [".inputrc", ".ssh/config", ".vimrc", ".profile"] {
        assert!(plan.owned.entries.contains_key(&p(t)), "{t}");
    }
    insta::assert_snapshot!("adoption", crate::report::plan_text(gen(), &plan));
    insta::assert_snapshot!("adoption_json", crate::report::plan_json(gen(), &plan));

    // With a backup extension only the user's file is moved aside.
    let plan = home_manager_home().backup("bak").plan_named(&[]);
    assert_eq!(
        acts(&plan),
        [
            "unlink-hm .old",
            "take-hm .vimrc",
            "take-hm .config/git/config",
            "identical .profile",
            "backup .zshrc -> .zshrc.bak",
            "create .zshrc",
        ]
    );
}

#[test]
fn only_identical_content_is_adopted() {
    // Differing content, a differing executable bit, an unreadable file, a
    // file hashed against nothing: each is the user's, in the way.
    let base = || {
        Case::new()
            .want(link(".a", VIMRC))
            .source(VIMRC, "v", 0o444)
    };
    let cases = [
        ("other content", same_as("w", 0o644)),
        ("executable, source is not", same_as("v", 0o755)),
        (
            "unreadable",
            Seen::File {
                size: 42,
                mode: 0o600,
                sha256: None,
                unreadable: true,
            },
        ),
        ("not hashed", file(42)),
        ("a link elsewhere", sym(VIMRC2)),
        (
            "a link into Home Manager's generation",
            sym("/nix/store/hhhh-home-manager-generation/home-files/.a"),
        ),
    ];
    for (name, seen) in cases {
        check(name, &base().disk(".a", seen), &[], &["in-the-way .a"]);
    }
    // An executable file is identical to an executable source.
    let exec = Case::new()
        .want(link(".a", VIMRC))
        .source(VIMRC, "v", 0o555)
        .disk(".a", same_as("v", 0o700));
    check("both executable", &exec, &["identical .a"], &[]);
}

#[test]
fn home_manager_links_nothing_wants_go_and_others_stay() {
    let mut case = Case::new()
        .want(link(".config/nvim/init.lua", INIT))
        // A whole directory linked by Home Manager where a directory is needed.
        .disk(".config", a_dir())
        .disk(".config/nvim", sym(&hm(".config/nvim")))
        // The user's own link at a path Home Manager once had.
        .disk(".user", sym("/home/alice/dotfiles/user"))
        // A link into another store path.
        .disk(".store", sym(VIMRC))
        .disk(".gone", Seen::Missing)
        .disk(".dang", dangling(&hm(".dang")));
    case.seen.home_manager = vec![p(".user"), p(".store"), p(".gone"), p(".dang")];
    check(
        "stale links",
        &case,
        &[
            "unlink-hm .config/nvim",
            "unlink-hm .dang",
            "mkdir .config/nvim",
            "create .config/nvim/init.lua",
        ],
        &[],
    );
    // At a path hearth recorded (Home Manager was switched to again since):
    // still Home Manager's link, gone, not kept as the user's change.
    let owned = Case::new().was_link(".x", VIMRC).disk(".x", sym(&hm(".x")));
    let plan = check("recorded", &owned, &["unlink-hm .x"], &[]);
    assert!(kept(&plan).is_empty());
}
