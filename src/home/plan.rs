//! The plan: what must change in a home to go from the applied generation to a
//! new one. Pure: reads nothing from disk and writes nothing; `observe` feeds it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::manifest::{File, FileType, RelPath};
use crate::sys::fxhash::{FxHashMap as HashMap, FxHashSet as HashSet, FxIndexMap};

/// What hearth recorded of a path it created, so that it can later prove the
/// path is still exactly its own (even after the old generation is gone).
// Externally tagged: serde buffers internally tagged enums, and the state
// holds one of these per managed path. A copy's record is boxed: a home's
// paths are mostly links, whose entries are then half the size (24 bytes
// in every map of the record, the plan and the journal).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Recorded {
    Symlink { target: Arc<Path> },
    Copy(Box<RecordedCopy>),
}

/// What hearth recorded of a copy it made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedCopy {
    pub sha256: String,
    pub mode: u32,
    /// The copy's size in bytes, so that a file at its path is hashed
    /// only when its size can match, and never read past it. `None` in
    /// states written before it was recorded: then the size is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

impl Recorded {
    pub fn copy(sha256: String, mode: u32, size: Option<u64>) -> Recorded {
        Recorded::Copy(Box::new(RecordedCopy { sha256, mode, size }))
    }
}

/// What was found at a path, without following symlinks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Seen {
    Missing,
    Symlink {
        /// Shared with the source wanted there or the target recorded
        /// when it is one of those (nearly every link, in a switch).
        target: Arc<Path>,
        dangling: bool,
    },
    File {
        size: u64,
        mode: u32,
        /// Only computed where a comparison needs it: at a copy's target,
        /// when the size is one the copy can have.
        sha256: Option<String>,
        /// hearth was not allowed to read it (so it cannot be proven to be
        /// hearth's copy; it can still be moved aside or discarded).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        unreadable: bool,
    },
    Dir {
        /// Every path below it, when `observe` listed it (a directory in the
        /// way of a file); `None` when not listed or too many.
        below: Option<Vec<RelPath>>,
    },
    Special {
        kind: String,
    },
}

impl Seen {
    fn matches(&self, rec: &Recorded) -> bool {
        match (self, rec) {
            (Seen::Symlink { target, .. }, Recorded::Symlink { target: want }) => {
                **target == **want
            }
            (
                Seen::File {
                    mode,
                    sha256: Some(h),
                    ..
                },
                Recorded::Copy(want),
            ) => *h == want.sha256 && mode & 0o7777 == want.mode,
            _ => false,
        }
    }

    /// For people: what was found, with anything the user chose (a link's
    /// target) shown with control characters escaped.
    pub fn describe(&self) -> String {
        use crate::report::escape_path;
        match self {
            Seen::Missing => "nothing".into(),
            Seen::Symlink {
                target,
                dangling: true,
            } => format!("a dangling symlink to {}", escape_path(target)),
            Seen::Symlink { target, .. } => format!("a symlink to {}", escape_path(target)),
            Seen::File {
                size,
                unreadable: true,
                ..
            } => format!("a regular file ({size} bytes) that hearth cannot read"),
            Seen::File { size, .. } => format!("a regular file ({size} bytes)"),
            Seen::Dir { below: Some(b) } if b.is_empty() => "an empty directory".into(),
            Seen::Dir { below: Some(b) } => format!(
                "a directory with {} entr{} inside",
                b.len(),
                if b.len() == 1 { "y" } else { "ies" }
            ),
            Seen::Dir { below: None } => "a directory".into(),
            Seen::Special { kind } => format!("a {}", crate::report::escape(kind)),
        }
    }
}

/// Everything `observe` found, keyed by path relative to the home.
#[derive(Debug, Default)]
pub struct Observed {
    /// Every target of old ∪ new and every ancestor directory of them.
    /// A path behind a non-directory ancestor is recorded as `Missing`.
    pub paths: FxIndexMap<RelPath, Seen>,
    /// Where the target of each of the new generation's files (by its
    /// position) was found by `observe`: its place in `paths` and in the
    /// old record. Only hints, which spare the plan a lookup in tables of
    /// every path: each is checked to be that target before it is used, and
    /// one that is missing or wrong is looked up.
    pub new_places: Vec<NewPlace>,
    /// Content hash and mode of each copy source, and of each link
    /// source whose target holds a regular file of its size (a file that
    /// may be identical to it).
    pub sources: HashMap<Arc<Path>, SourceInfo>,
    /// The paths Home Manager's current generation links into the home (read
    /// from its GC root), each looked at: a link of Home Manager's there that
    /// the new generation does not want would dangle once Home Manager's
    /// generation is collected, so the plan removes it.
    pub home_manager: Vec<RelPath>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceInfo {
    pub sha256: String,
    pub mode: u32,
    pub size: u64,
}

/// See [`Observed::new_places`].
#[derive(Clone, Copy, Debug)]
pub struct NewPlace {
    pub seen: usize,
    pub old: usize,
}

impl NewPlace {
    /// Not known: a position no list of files or paths has.
    pub const UNKNOWN: NewPlace = NewPlace {
        seen: usize::MAX,
        old: usize::MAX,
    };
}

impl Observed {
    fn get(&self, p: &RelPath) -> &Seen {
        self.paths.get(p).unwrap_or(&Seen::Missing)
    }

    /// What was seen at `t`, the target of the new generation's `i`-th file.
    fn of_new(&self, i: usize, t: &RelPath) -> &Seen {
        let hint = self.new_places.get(i).map(|h| h.seen);
        match hint.and_then(|k| self.paths.get_index(k)) {
            Some((at, seen)) if at == t => seen,
            _ => self.get(t),
        }
    }

    /// Where `t`, the target of the new generation's `i`-th file, is in
    /// the old record.
    fn old_place(&self, i: usize, t: &RelPath, old: &Owned) -> Option<usize> {
        let hint = self.new_places.get(i).map(|h| h.old);
        match hint.and_then(|j| old.entries.get_index(j)) {
            Some((at, _)) if at == t => hint,
            _ => old.entries.get_index_of(t),
        }
    }
}

/// The part of the state that the plan needs: what the previous activation left.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Owned {
    pub entries: FxIndexMap<RelPath, Recorded>,
    /// Directories hearth created, removed again once nothing needs them.
    pub dirs: BTreeSet<RelPath>,
}

#[derive(Clone, Debug, Default)]
pub struct Options {
    pub backup_ext: Option<String>,
}

/// What a Put replaces, as far as undoing it is concerned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Prev {
    /// Nothing is there (any earlier occupant was moved away by an earlier action).
    Missing,
    /// A symlink hearth owns; undone by recreating it.
    Symlink { target: PathBuf },
    /// A copy hearth owns; undone from a hard link kept aside until commit.
    File,
}

/// What the new generation wants at a path. A copy is boxed, as in
/// [`Recorded`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Desired {
    Symlink { target: Arc<Path> },
    Copy(Box<DesiredCopy>),
}

/// A copy the new generation wants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredCopy {
    pub source: PathBuf,
    pub sha256: String,
    pub mode: u32,
    /// The source's size in bytes. Defaulted for journals written
    /// before it was recorded; such a journal is only ever reverted.
    #[serde(default)]
    pub size: u64,
}

impl Desired {
    pub fn copy(source: PathBuf, sha256: String, mode: u32, size: u64) -> Desired {
        Desired::Copy(Box::new(DesiredCopy {
            source,
            sha256,
            mode,
            size,
        }))
    }

    pub fn record(&self) -> Recorded {
        match self {
            Desired::Symlink { target } => Recorded::Symlink {
                target: target.clone(),
            },
            Desired::Copy(c) => Recorded::copy(c.sha256.clone(), c.mode, Some(c.size)),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Why {
    Create,
    Replace,
    Repair,
    /// What is there is a link Home Manager made (into its
    /// `-home-manager-files`): it carries nothing of the user's.
    HomeManager,
    /// What is there is a regular file with exactly the content of the
    /// link's source (as Home Manager leaves an identical file it skipped):
    /// nothing is lost when the link takes its place.
    Identical,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// Remove a path hearth created and that still holds what hearth put there.
    Remove {
        path: RelPath,
        was: Recorded,
    },
    /// Remove a directory hearth created. `required`: a file takes its place,
    /// so it must go; otherwise it goes only if empty.
    RemoveDir {
        path: RelPath,
        required: bool,
    },
    /// Move what is in the way aside; `to` is chosen just before applying.
    Backup {
        path: RelPath,
        to: Option<RelPath>,
    },
    /// `force` without a backup extension: what is in the way is deleted.
    Discard {
        path: RelPath,
        found: Seen,
    },
    Mkdir {
        path: RelPath,
    },
    Put {
        path: RelPath,
        want: Desired,
        prev: Prev,
        why: Why,
    },
    /// Remove a link Home Manager made (into its `-home-manager-files`)
    /// that the new generation does not want: it would dangle once Home
    /// Manager's generation is collected.
    UnlinkHomeManager {
        path: RelPath,
        target: PathBuf,
    },
}

impl Action {
    pub fn path(&self) -> &RelPath {
        match self {
            Action::Remove { path, .. }
            | Action::RemoveDir { path, .. }
            | Action::Backup { path, .. }
            | Action::Discard { path, .. }
            | Action::Mkdir { path }
            | Action::Put { path, .. }
            | Action::UnlinkHomeManager { path, .. } => path,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictKind {
    /// Something hearth did not create is at a target.
    InTheWay,
    /// hearth created it, but it has been changed since.
    Modified,
    /// A parent directory of a target is not a directory.
    ParentInTheWay,
    /// `force` was set, but the target is a non-empty directory and no backup
    /// extension is set; hearth does not delete directory trees.
    ForceOnDirectory,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Conflict {
    pub path: RelPath,
    pub kind: ConflictKind,
    pub found: Seen,
    /// For `ParentInTheWay`: the target that needs this path to be a directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needed_by: Option<RelPath>,
}

/// A path hearth created for the old generation, which the user changed; it
/// is left alone and no longer managed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Kept {
    pub path: RelPath,
    pub found: Seen,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub conflicts: Vec<Conflict>,
    pub kept: Vec<Kept>,
    pub unchanged: usize,
    /// Targets hearth did not own that already hold exactly what the new
    /// generation wants (what Home Manager or the user put there): taken
    /// as hearth's own, nothing written.
    pub adopted: Vec<RelPath>,
    /// What hearth will own once the plan is applied.
    #[serde(skip)]
    pub owned: Owned,
    /// For each `Why::Identical` put: the file it replaces, as apply checks
    /// it at the moment of the change (a file edited since the plan looked
    /// is left alone).
    #[serde(skip)]
    pub identical: HashMap<RelPath, Recorded>,
}

impl Plan {
    /// Nothing changes: not the home, and not what hearth owns in it.
    pub fn is_noop(&self) -> bool {
        self.actions.is_empty() && self.adopted.is_empty()
    }
}

fn desired(f: &File, seen: &Observed) -> Option<Desired> {
    match f.kind {
        FileType::Symlink => Some(Desired::Symlink {
            target: f.source.clone(),
        }),
        FileType::Copy => {
            let info = seen.sources.get(&f.source)?;
            Some(Desired::copy(
                f.source.to_path_buf(),
                info.sha256.clone(),
                // Store files are read-only; a copy keeps that unless a mode
                // is given, and never grants write to group or others.
                f.mode.unwrap_or(info.mode & 0o755),
                info.size,
            ))
        }
    }
}

fn seen_is(seen: &Seen, want: &Desired) -> bool {
    seen.matches(&want.record())
}

/// The Nix store, as the plan sees it (the plan reads no environment).
const STORE: &str = "/nix/store";

/// A symlink into the Nix store carries no user data; at a path hearth
/// manages, it is what an older generation or another tool left, and may be
/// repaired in place. Into the store means its target, `..` resolved, is
/// inside it: `/nix/store/../../home/u/x` is the user's link to their file.
fn is_store_link(seen: &Seen) -> bool {
    matches!(seen, Seen::Symlink { target, .. } if in_store(target, Path::new(STORE)))
}

/// The suffix of the store name of the tree Home Manager links a home's
/// files into; its own cleanup recognises its links by the same pattern
/// (`<store>/*-home-manager-files/*`).
const HOME_MANAGER_FILES: &str = "-home-manager-files";

/// Whether a link target points inside Home Manager's files tree: such a
/// link is Home Manager's, made by its `linkGeneration`, and carries no user
/// data. The tree itself (no path below it) is not a file Home Manager links.
pub fn is_home_manager_link(target: &Path) -> bool {
    // Nearly every link looked at is not Home Manager's: its tree's name
    // is looked for before the path is normalized.
    if target
        .to_str()
        .is_some_and(|s| !s.contains(HOME_MANAGER_FILES))
    {
        return false;
    }
    let Some(t) = normalize(target) else {
        return false;
    };
    let Ok(rest) = t.strip_prefix(STORE) else {
        return false;
    };
    let mut parts = rest.components();
    parts.next().is_some_and(|c| {
        c.as_os_str()
            .to_string_lossy()
            .ends_with(HOME_MANAGER_FILES)
    }) && parts.next().is_some()
}

/// The target of a link Home Manager made, if that is what was seen.
fn home_manager_target(seen: &Seen) -> Option<&Path> {
    match seen {
        Seen::Symlink { target, .. } if is_home_manager_link(target) => Some(target),
        _ => None,
    }
}

/// A regular file at a link target whose content is exactly the link's
/// source, and whose executable bit agrees with it: replacing it with the
/// link loses nothing. Returns what apply checks the file against.
fn identical_to_source(f: &File, s: &Seen, seen: &Observed) -> Option<Recorded> {
    let Seen::File {
        size,
        mode,
        sha256: Some(h),
        unreadable: false,
    } = s
    else {
        return None;
    };
    let src = seen.sources.get(&f.source)?;
    (f.kind == FileType::Symlink
        && src.sha256 == *h
        && src.size == *size
        && (mode & 0o111 == 0) == (src.mode & 0o111 == 0))
        .then(|| Recorded::copy(h.clone(), mode & 0o7777, Some(*size)))
}

/// `path` with `.`, `..` and repeated slashes resolved lexically, as the
/// kernel would resolve it if no component were a symlink; `None` for a
/// relative path (a link relative to its directory is never a store link).
/// `..` at the root stays at the root, as in the kernel.
pub fn normalize(path: &Path) -> Option<PathBuf> {
    use std::path::Component;
    if !path.has_root() {
        return None;
    }
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => out.push(name),
            Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// Whether `target`, normalized, names something inside the store `store`
/// (not the store itself).
pub fn in_store(target: &Path, store: &Path) -> bool {
    normalize(target).is_some_and(|t| t != store && t.starts_with(store))
}

/// Computes the plan. `old` is what the previous activation recorded (empty on
/// a first activation).
pub fn compute(old: &Owned, new: &[File], seen: &Observed, opts: &Options) -> Plan {
    let mut plan = Plan::default();
    // Each new target's place in the old record, found once (every file of
    // a home passes here), and so which old entries are still wanted: no
    // set of every new target is built and looked up again.
    let old_at: Vec<Option<usize>> = new
        .iter()
        .enumerate()
        .map(|(i, f)| seen.old_place(i, &f.target, old))
        .collect();
    let mut still_wanted = vec![false; old.entries.len()];
    for &j in old_at.iter().flatten() {
        still_wanted[j] = true;
    }
    // The new targets among the few other paths asked about below: Home
    // Manager's links and the directories hearth made.
    let asked: HashSet<&str> = seen
        .home_manager
        .iter()
        .chain(&old.dirs)
        .map(RelPath::as_str)
        .collect();
    let new_targets: HashSet<&RelPath> = if asked.is_empty() {
        HashSet::default()
    } else {
        new.iter()
            .map(|f| &f.target)
            .filter(|t| asked.contains(t.as_str()))
            .collect()
    };

    // Directories the new generation needs, and for which target first.
    let mut needed: Vec<(RelPath, &RelPath)> = Vec::new();
    let mut needed_set: HashSet<RelPath> = HashSet::default();
    // The directory of the last target, needed with its parents: the
    // targets of a directory mostly come together.
    let mut last_dir = None;
    for f in new {
        let dir = crate::sys::dirfd::split(f.target.as_str()).0;
        if last_dir == Some(dir) {
            continue;
        }
        last_dir = Some(dir);
        for d in f.target.parents_inner_first() {
            if needed_set.contains(d) {
                break;
            }
            let d = RelPath::from_parent(d);
            needed_set.insert(d.clone());
            needed.push((d, &f.target));
        }
    }
    needed.sort_by_cached_key(|(d, _)| (d.depth(), d.clone()));

    // Paths that the removal phase empties: owned orphans.
    let mut removals: Vec<Action> = Vec::new();
    let mut gone: HashSet<RelPath> = HashSet::default();
    for ((path, rec), wanted) in old.entries.iter().zip(&still_wanted) {
        if *wanted {
            continue;
        }
        let s = seen.get(path);
        if *s == Seen::Missing {
            continue;
        }
        if s.matches(rec) {
            removals.push(Action::Remove {
                path: path.clone(),
                was: rec.clone(),
            });
            gone.insert(path.clone());
        } else if needed_set.contains(path) {
            // A needed directory position: decided with the directories below.
        } else if let Some(target) = home_manager_target(s) {
            // Home Manager linked it again since (it was switched to): its
            // link, which nothing wants, not a change of the user's.
            removals.push(Action::UnlinkHomeManager {
                path: path.clone(),
                target: target.to_path_buf(),
            });
            gone.insert(path.clone());
        } else {
            plan.kept.push(Kept {
                path: path.clone(),
                found: s.clone(),
            });
        }
    }

    // By path, so that the order never depends on the record's (state.json
    // groups its links by the directory of their targets).
    removals.sort_by(|a, b| a.path().cmp(b.path()));

    // Home Manager's links that nothing wants any more (a path hearth
    // recorded is decided above; a needed directory position below).
    for p in &seen.home_manager {
        if new_targets.contains(p)
            || old.entries.contains_key(p)
            || needed_set.contains(p)
            || gone.contains(p)
        {
            continue;
        }
        if let Some(target) = home_manager_target(seen.get(p)) {
            removals.push(Action::UnlinkHomeManager {
                path: p.clone(),
                target: target.to_path_buf(),
            });
            gone.insert(p.clone());
        }
    }

    // Parent directories, outermost first. A blocked directory hides
    // everything below it from further reports.
    let mut blocked: Vec<RelPath> = Vec::new();
    let mut fixes: Vec<Action> = Vec::new();
    let mut dirs: BTreeSet<RelPath> = BTreeSet::new();
    for (d, by) in &needed {
        if blocked.iter().any(|b| d.is_below(b)) {
            continue;
        }
        match seen.get(d) {
            Seen::Dir { .. } => {
                if old.dirs.contains(d) {
                    dirs.insert(d.clone());
                }
            }
            Seen::Missing => {
                fixes.push(Action::Mkdir { path: d.clone() });
                dirs.insert(d.clone());
            }
            _ if gone.contains(d) => {
                fixes.push(Action::Mkdir { path: d.clone() });
                dirs.insert(d.clone());
            }
            // Home Manager's link to a whole directory where the new
            // generation needs a directory of its own.
            Seen::Symlink { target, .. } if is_home_manager_link(target) => {
                removals.push(Action::UnlinkHomeManager {
                    path: d.clone(),
                    target: target.to_path_buf(),
                });
                gone.insert(d.clone());
                fixes.push(Action::Mkdir { path: d.clone() });
                dirs.insert(d.clone());
            }
            other => {
                if opts.backup_ext.is_some() {
                    fixes.push(Action::Backup {
                        path: d.clone(),
                        to: None,
                    });
                    fixes.push(Action::Mkdir { path: d.clone() });
                    dirs.insert(d.clone());
                } else {
                    plan.conflicts.push(Conflict {
                        path: d.clone(),
                        kind: ConflictKind::ParentInTheWay,
                        found: other.clone(),
                        needed_by: Some((*by).clone()),
                    });
                    blocked.push(d.clone());
                }
            }
        }
    }

    // Hearth's old directories that nothing needs any more go if empty.
    for d in &old.dirs {
        if !needed_set.contains(d) && !new_targets.contains(d) {
            if let Seen::Dir { .. } = seen.get(d) {
                removals.push(Action::RemoveDir {
                    path: d.clone(),
                    required: false,
                });
            }
        }
    }

    let replaced: HashSet<&str> = fixes
        .iter()
        .filter_map(|x| match x {
            Action::Backup { path, .. } => Some(path.as_str()),
            _ => None,
        })
        .collect();
    // What empties a place before the targets are put: only those among the
    // needed directories can be a parent of a target (every parent of one
    // is needed), so a target's parents are looked up in these alone.
    let emptied: HashSet<&str> = gone
        .iter()
        .map(RelPath::as_str)
        .chain(replaced.iter().copied())
        .filter(|p| needed_set.contains(*p))
        .collect();
    // Sized once: at 100,000 files a list grown by doubling would hold
    // room for a third more, and the record's table be copied as it grew.
    let mut puts: Vec<Action> = Vec::with_capacity(new.len());
    plan.owned.entries.reserve(new.len());
    for ((i, f), old_at) in new.iter().enumerate().zip(&old_at) {
        let t = &f.target;
        if blocked.iter().any(|b| t.is_below(b)) {
            continue;
        }
        // observe hashes every copy source or fails, so this never skips.
        let Some(want) = desired(f, seen) else {
            continue;
        };
        // Behind a parent that is being replaced, the target is empty.
        let behind_fix =
            !emptied.is_empty() && t.parents_inner_first().any(|a| emptied.contains(a));
        let s = if behind_fix {
            &Seen::Missing
        } else {
            seen.of_new(i, t)
        };
        let rec = want.record();
        let old_rec = old_at
            .and_then(|j| old.entries.get_index(j))
            .map(|(_, rec)| rec);
        let owned = old_rec.is_some_and(|r| s.matches(r));
        if seen_is(s, &want) {
            if old_rec.is_some() {
                plan.unchanged += 1;
            } else {
                plan.adopted.push(t.clone());
            }
        } else if *s == Seen::Missing {
            let why = if old_rec.is_some() {
                Why::Repair
            } else {
                Why::Create
            };
            puts.push(put(t, want, Prev::Missing, why));
        } else if let Some(target) = home_manager_target(s).filter(|_| !owned) {
            let prev = Prev::Symlink {
                target: target.to_path_buf(),
            };
            puts.push(put(t, want, prev, Why::HomeManager));
        } else if owned || (old_rec.is_some() && is_store_link(s)) {
            let prev = match s {
                Seen::Symlink { target, .. } => Prev::Symlink {
                    target: target.to_path_buf(),
                },
                _ => Prev::File,
            };
            let why = if owned { Why::Replace } else { Why::Repair };
            puts.push(put(t, want, prev, why));
        } else if let Some(was) = identical_to_source(f, s, seen) {
            plan.identical.insert(t.clone(), was);
            puts.push(put(t, want, Prev::File, Why::Identical));
        } else if is_hearth_dir(t, s, old, &gone, seen) {
            removals.push(Action::RemoveDir {
                path: t.clone(),
                required: true,
            });
            puts.push(put(t, want, Prev::Missing, Why::Replace));
        } else if opts.backup_ext.is_some() {
            puts.push(Action::Backup {
                path: t.clone(),
                to: None,
            });
            puts.push(put(t, want, Prev::Missing, Why::Create));
        } else if f.force {
            if matches!(s, Seen::Dir { below: Some(b) } if b.is_empty())
                || !matches!(s, Seen::Dir { .. })
            {
                puts.push(Action::Discard {
                    path: t.clone(),
                    found: s.clone(),
                });
                puts.push(put(t, want, Prev::Missing, Why::Create));
            } else {
                plan.conflicts.push(Conflict {
                    path: t.clone(),
                    kind: ConflictKind::ForceOnDirectory,
                    found: s.clone(),
                    needed_by: None,
                });
                continue;
            }
        } else {
            // A directory hearth made that now holds the user's files is
            // hearth's work changed by the user, not a stranger's.
            let hearth_dir = old.dirs.contains(t) && matches!(s, Seen::Dir { .. });
            let kind = if old.entries.contains_key(t) || hearth_dir {
                ConflictKind::Modified
            } else {
                ConflictKind::InTheWay
            };
            plan.conflicts.push(Conflict {
                path: t.clone(),
                kind,
                found: s.clone(),
                needed_by: None,
            });
            continue;
        }
        plan.owned.entries.insert(t.clone(), rec);
    }

    // Deepest first, so that a directory is emptied before it is removed.
    removals.sort_by_key(|a| std::cmp::Reverse(a.path().depth()));
    // The puts, nearly every action, stay where they are: the few
    // removals and fixes go in before them, where a new list of all of
    // them would be a second copy of the plan.
    puts.splice(0..0, removals.into_iter().chain(fixes));
    plan.actions = puts;
    plan.owned.dirs = dirs;
    plan.conflicts.sort_by(|a, b| a.path.cmp(&b.path));
    plan.adopted.sort();
    plan.kept.sort_by(|a, b| a.path.cmp(&b.path));
    plan
}

fn put(t: &RelPath, want: Desired, prev: Prev, why: Why) -> Action {
    Action::Put {
        path: t.clone(),
        want,
        prev,
        why,
    }
}

/// A directory at a new file target may be replaced when hearth created it
/// and everything inside is hearth's and on its way out: its own entries, and
/// directories it created (still directories, not something put in their place).
fn is_hearth_dir(
    t: &RelPath,
    s: &Seen,
    old: &Owned,
    gone: &HashSet<RelPath>,
    seen: &Observed,
) -> bool {
    let Seen::Dir { below: Some(below) } = s else {
        return false;
    };
    old.dirs.contains(t)
        && below.iter().all(|p| {
            gone.contains(p) || (old.dirs.contains(p) && matches!(seen.get(p), Seen::Dir { .. }))
        })
}

/// Gives each backup a free name: `path.EXT`, else `path.EXT.1`, `.2`, ...
/// `taken` says whether a name exists on disk; names of targets, and of
/// directories the plan creates, are never used.
#[expect(
    clippy::implicit_hasher,
    reason = "every set in hearth is an FxHashSet; a generic hasher would only add a parameter"
)]
pub fn assign_backup_names(
    plan: &mut Plan,
    ext: &str,
    targets: &HashSet<RelPath>,
    mut taken: impl FnMut(&RelPath) -> bool,
) {
    let mut chosen: HashSet<RelPath> = plan
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Mkdir { path } => Some(path.clone()),
            _ => None,
        })
        .collect();
    for action in &mut plan.actions {
        if let Action::Backup { path, to } = action {
            let base = path.with_suffix(&format!(".{ext}"));
            let mut n = 0u32;
            let name = loop {
                let candidate = if n == 0 {
                    base.clone()
                } else {
                    base.with_suffix(&format!(".{n}"))
                };
                if !targets.contains(&candidate)
                    && !chosen.contains(&candidate)
                    && !taken(&candidate)
                {
                    break candidate;
                }
                n += 1;
            };
            chosen.insert(name.clone());
            *to = Some(name);
        }
    }
}

#[cfg(any(test, feature = "fuzzing"))]
pub mod model;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
