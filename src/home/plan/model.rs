//! A model of a home (a map from paths to nodes) on which a plan can be
//! played as `apply` would, checking every action against the ownership rules.
//! Shared by the planner's random test, its proptests and the fuzz target, so
//! that all three check one invariant. Test code: never part of a release build.
#![allow(
    clippy::unwrap_used,
    reason = "test code (the planner's tests and the fuzz target): a panic is a failed case"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::{
    assign_backup_names, compute, desired, is_home_manager_link, Action, ConflictKind, Desired,
    File, FileType, HashMap, HashSet, NewPlace, Observed, Options, Owned, Plan, Prev, Recorded,
    RelPath, Seen, SourceInfo,
};

/// The order `apply` relies on: removals (deepest first), then parent
/// directories (a parent's backup before its mkdir), then the targets.
pub fn assert_phases(plan: &Plan) -> Result<(), String> {
    let mkdirs: HashSet<&RelPath> = plan
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Mkdir { path } => Some(path),
            _ => None,
        })
        .collect();
    let phase = |a: &Action| match a {
        Action::Remove { .. } | Action::RemoveDir { .. } | Action::UnlinkHomeManager { .. } => 0,
        Action::Mkdir { .. } => 1,
        Action::Backup { path, .. } if mkdirs.contains(path) => 1,
        Action::Backup { .. } | Action::Discard { .. } | Action::Put { .. } => 2,
    };
    let mut last = 0;
    let mut last_depth = usize::MAX;
    for a in &plan.actions {
        let ph = phase(a);
        if ph < last {
            return Err(format!(
                "{a:?} comes after a later phase: {:?}",
                plan.actions
            ));
        }
        last = ph;
        if ph == 0 {
            let d = a.path().depth();
            if d > last_depth {
                return Err(format!("removals not deepest first: {:?}", plan.actions));
            }
            last_depth = d;
        }
    }
    // Within the directory phase, a directory comes after its parents.
    let mut made: HashSet<&RelPath> = HashSet::default();
    for a in &plan.actions {
        if let Action::Mkdir { path } = a {
            for anc in path.ancestors() {
                if mkdirs.contains(&anc) && !made.contains(&anc) {
                    return Err(format!("mkdir {path} before its parent {anc}"));
                }
            }
            made.insert(path);
        }
    }
    Ok(())
}

#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    Dir,
    File { sha: String, mode: u32 },
    Link(PathBuf),
    Special,
}

pub type Fs = BTreeMap<RelPath, Node>;

pub const S1: &str = "/nix/store/s1";
pub const S2: &str = "/nix/store/s2";
/// A store path of a collected generation: links to it dangle.
pub const S3: &str = "/nix/store/s3";
pub const OTHER: &str = "/nix/store/other";
pub const FOREIGN: &str = "/home/alice/elsewhere";
pub const GONE: &str = "/home/alice/gone";
/// Home Manager's files tree; its generation links every path of the model.
pub const HM: &str = "/nix/store/hm-home-manager-files";

/// A link Home Manager's activation made at `path`.
pub fn hm_link(path: &RelPath) -> Node {
    Node::Link(format!("{HM}/{path}").into())
}

/// Whether a file of this content and mode is identical to a link's
/// source: the same content, and the executable bit as the source has it.
fn identical_to(f: &File, sha: &str, mode: u32) -> bool {
    let src = source_info(&f.source);
    f.kind == FileType::Symlink
        && src.sha256 == sha
        && (mode & 0o111 == 0) == (src.mode & 0o111 == 0)
}

pub fn is_dangling(t: &Path) -> bool {
    t == Path::new(S3) || t == Path::new(GONE)
}

pub fn source_info(s: &Path) -> SourceInfo {
    let (sha, mode) = if s == Path::new(S1) {
        ("h1", 0o444)
    } else {
        ("h2", 0o555)
    };
    SourceInfo {
        sha256: sha.into(),
        mode,
        size: sha.len() as u64,
    }
}

pub fn node_of(rec: &Recorded) -> Node {
    match rec {
        Recorded::Symlink { target } => Node::Link(target.to_path_buf()),
        Recorded::Copy(c) => Node::File {
            sha: c.sha256.clone(),
            mode: c.mode,
        },
    }
}

pub fn below(fs: &Fs, dir: &RelPath) -> Vec<RelPath> {
    fs.keys().filter(|k| k.is_below(dir)).cloned().collect()
}

pub fn remove_tree(fs: &mut Fs, path: &RelPath) {
    fs.remove(path);
    for k in below(fs, path) {
        fs.remove(&k);
    }
}

pub fn dirs_up_to(fs: &Fs, path: &RelPath) -> bool {
    path.ancestors().all(|a| fs.get(&a) == Some(&Node::Dir))
}

/// Puts `node` at `path` as a user would, creating missing parents; does
/// nothing when a parent is not a directory.
pub fn place(fs: &mut Fs, path: &RelPath, node: Node) {
    if path
        .ancestors()
        .any(|a| fs.get(&a).is_some_and(|n| *n != Node::Dir))
    {
        return;
    }
    for a in path.ancestors() {
        fs.insert(a, Node::Dir);
    }
    remove_tree(fs, path);
    fs.insert(path.clone(), node);
}

/// What `observe::look` would report for this model.
pub fn observe_model(fs: &Fs, old: &Owned, new: &[File]) -> Observed {
    let mut wanted: BTreeSet<RelPath> = BTreeSet::new();
    let targets = old
        .entries
        .keys()
        .chain(old.dirs.iter())
        .chain(new.iter().map(|f| &f.target));
    // Home Manager's generation links every path (its GC root is there in
    // every model home).
    let home_manager: Vec<RelPath> = all_paths();
    for t in targets.chain(home_manager.iter()) {
        wanted.extend(t.ancestors());
        wanted.insert(t.clone());
    }
    let mut seen = Observed {
        home_manager,
        ..Observed::default()
    };
    for path in wanted {
        let new_entry = new.iter().find(|f| f.target == path);
        let s = if dirs_up_to(fs, &path) {
            match fs.get(&path) {
                None => Seen::Missing,
                Some(Node::Dir) => Seen::Dir {
                    below: new_entry.map(|_| below(fs, &path)),
                },
                Some(Node::File { sha, mode }) => {
                    // As observe: hashed only at a size the copy can have.
                    let size = sha.len() as u64;
                    // A link's source too, for a file that may be identical.
                    let want_hash = new_entry.is_some_and(|f| source_info(&f.source).size == size)
                        || matches!(
                            old.entries.get(&path),
                            Some(Recorded::Copy(c)) if c.size.is_none_or(|s| s == size)
                        );
                    Seen::File {
                        size,
                        mode: *mode,
                        sha256: want_hash.then(|| sha.clone()),
                        unreadable: false,
                    }
                }
                Some(Node::Link(t)) => Seen::Symlink {
                    target: t.as_path().into(),
                    dangling: is_dangling(t),
                },
                Some(Node::Special) => Seen::Special {
                    kind: "FIFO".into(),
                },
            }
        } else {
            Seen::Missing
        };
        seen.paths.insert(path, s);
    }
    // Where observe says each new target is: right for every other one,
    // and for the rest a wrong place (the next path's), which the plan
    // must see through (checked by `check_plan`).
    seen.new_places = new
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let at = seen.paths.get_index_of(&f.target).unwrap_or(usize::MAX);
            let old_at = old.entries.get_index_of(&f.target).unwrap_or(usize::MAX);
            if i % 2 == 0 {
                NewPlace {
                    seen: at,
                    old: old_at,
                }
            } else {
                NewPlace {
                    seen: at.wrapping_add(1),
                    old: old_at.wrapping_add(1),
                }
            }
        })
        .collect();
    for f in new {
        let at = seen.paths.get(&f.target);
        let hashed_file = matches!(
            at,
            Some(Seen::File {
                sha256: Some(_),
                ..
            })
        );
        if f.kind == FileType::Copy || hashed_file {
            seen.sources
                .insert(f.source.clone(), source_info(&f.source));
        }
    }
    seen
}

pub fn all_paths() -> Vec<RelPath> {
    let names = ["a", "b", "a.x"];
    let mut out: Vec<String> = names.iter().map(ToString::to_string).collect();
    let mut layer = out.clone();
    for _ in 1..3 {
        layer = layer
            .iter()
            .flat_map(|l| names.iter().map(move |n| format!("{l}/{n}")))
            .collect();
        out.extend(layer.iter().cloned());
    }
    out.iter().filter_map(|s| RelPath::parse(s).ok()).collect()
}

/// One planner input: old state, new generation, what is on disk, options.
#[derive(Debug, Default)]
pub struct Case {
    pub old: Owned,
    pub new: Vec<File>,
    pub seen: Observed,
    pub opts: Options,
}

fn plan_of(case: &Case) -> Plan {
    compute(&case.old, &case.new, &case.seen, &case.opts)
}

pub fn desired_node(want: &Desired) -> Node {
    node_of(&want.record())
}

/// Applies `plan` to the model as `apply` would, checking that each action is
/// allowed. Returns the home afterwards.
pub fn simulate(case: &Case, plan: &Plan, fs0: &Fs) -> Result<Fs, String> {
    let mut fs = fs0.clone();
    let new: HashMap<&RelPath, &File> = case.new.iter().map(|f| (&f.target, f)).collect();
    // Where a subtree was moved aside by a backup.
    let mut moved: Vec<(RelPath, RelPath)> = Vec::new();
    let mut discarded: Vec<RelPath> = Vec::new();
    let mut repaired: Vec<RelPath> = Vec::new();
    // Home Manager's links removed, and files identical to their link's
    // source replaced by the link: nothing of the user's in either.
    let mut unlinked: Vec<RelPath> = Vec::new();
    let mut identical: Vec<RelPath> = Vec::new();
    for a in &plan.actions {
        let path = a.path();
        if !dirs_up_to(&fs, path) {
            return Err(format!("{a:?}: a parent is not a directory"));
        }
        match a {
            Action::Remove { path, was } => {
                let rec = case.old.entries.get(path);
                if rec != Some(was) || fs.get(path) != Some(&node_of(was)) {
                    return Err(format!("{a:?}: not what hearth put there"));
                }
                fs.remove(path);
            }
            Action::RemoveDir { path, required } => {
                if !case.old.dirs.contains(path) {
                    return Err(format!("{a:?}: hearth did not create it"));
                }
                if fs.get(path) != Some(&Node::Dir) {
                    return Err(format!("{a:?}: not a directory"));
                }
                if below(&fs, path).is_empty() {
                    fs.remove(path);
                } else if *required {
                    return Err(format!("{a:?}: not empty: {:?}", below(&fs, path)));
                }
            }
            Action::Backup { path, to } => {
                let Some(to) = to else {
                    return Err(format!("{a:?}: no name"));
                };
                if case.opts.backup_ext.is_none() {
                    return Err(format!("{a:?}: no backup extension"));
                }
                if !fs.contains_key(path) || fs.contains_key(to) || !dirs_up_to(&fs, to) {
                    return Err(format!("{a:?}: cannot move there"));
                }
                for k in std::iter::once(path.clone()).chain(below(&fs, path)) {
                    let n = fs.remove(&k).unwrap();
                    let rest = &k.as_str()[path.as_str().len()..];
                    fs.insert(to.with_suffix(rest), n);
                }
                moved.push((path.clone(), to.clone()));
            }
            Action::Discard { path, .. } => {
                if case.opts.backup_ext.is_some() || !new.get(path).is_some_and(|f| f.force) {
                    return Err(format!("{a:?}: not forced"));
                }
                match fs.get(path) {
                    None => return Err(format!("{a:?}: nothing there")),
                    Some(Node::Dir) if !below(&fs, path).is_empty() => {
                        return Err(format!("{a:?}: deletes a directory tree"))
                    }
                    _ => {}
                }
                remove_tree(&mut fs, path);
                discarded.push(path.clone());
            }
            Action::UnlinkHomeManager { path, target } => {
                if !is_home_manager_link(target)
                    || fs.get(path) != Some(&Node::Link(target.clone()))
                    || new.contains_key(path)
                {
                    return Err(format!("{a:?}: not Home Manager's unwanted link"));
                }
                fs.remove(path);
                unlinked.push(path.clone());
            }
            Action::Mkdir { path } => {
                if fs.contains_key(path) {
                    return Err(format!("{a:?}: already exists: {:?}", fs[path]));
                }
                fs.insert(path.clone(), Node::Dir);
            }
            Action::Put {
                path, want, prev, ..
            } => {
                let Some(f) = new.get(path) else {
                    return Err(format!("{a:?}: not a target"));
                };
                if want.record() != desired(f, &case.seen).unwrap().record() {
                    return Err(format!("{a:?}: not what the entry asks for"));
                }
                let rec = case.old.entries.get(path);
                let now = fs.get(path);
                let ok = match prev {
                    Prev::Missing => now.is_none(),
                    Prev::Symlink { target } => {
                        now == Some(&Node::Link(target.clone()))
                            && (rec.map(node_of).as_ref() == now
                                || (rec.is_some() && target.starts_with("/nix/store/"))
                                || is_home_manager_link(target))
                    }
                    Prev::File => match now {
                        Some(Node::File { sha, mode }) if identical_to(f, sha, *mode) => {
                            identical.push(path.clone());
                            true
                        }
                        Some(Node::File { .. }) => rec.map(node_of).as_ref() == now,
                        _ => false,
                    },
                };
                if !ok {
                    return Err(format!("{a:?}: replaces {now:?}"));
                }
                if matches!(prev, Prev::Symlink { .. }) && rec.map(node_of).as_ref() != now {
                    repaired.push(path.clone());
                }
                fs.insert(path.clone(), desired_node(want));
            }
        }
    }

    // Nothing hearth does not own was lost: it is where it was, or moved
    // aside by a backup, or discarded by force, or a stray store link at a
    // managed path that was repaired.
    for (path, node) in fs0 {
        let owned = case.old.entries.get(path).map(node_of).as_ref() == Some(node)
            || (*node == Node::Dir && case.old.dirs.contains(path));
        if owned || repaired.contains(path) || unlinked.contains(path) || identical.contains(path) {
            continue;
        }
        if discarded.iter().any(|d| d == path || path.is_below(d)) {
            continue;
        }
        if let Some((from, to)) = moved
            .iter()
            .find(|(from, _)| from == path || path.is_below(from))
        {
            let there = to.with_suffix(&path.as_str()[from.as_str().len()..]);
            if fs.get(&there) != Some(node) {
                return Err(format!("{path} was not moved intact to {there}"));
            }
            continue;
        }
        if fs.get(path) != Some(node) {
            return Err(format!("{path} ({node:?}) was lost: {:?}", fs.get(path)));
        }
    }
    Ok(fs)
}

/// Plans `case` and plays the plan on `fs0` (the home `case.seen` was
/// observed from): every action must be allowed by the ownership rules, every
/// conflict real, and a conflict-free plan must reach the new generation so
/// that activating again plans nothing. Returns whether the plan had conflicts.
pub fn check_plan(case: &Case, fs0: &Fs) -> Result<bool, String> {
    let mut plan = plan_of(case);
    assert_phases(&plan)?;
    // The places observe found are hints only: without them (each target
    // looked up) the plan is the same.
    let unhinted = Case {
        old: case.old.clone(),
        new: case.new.clone(),
        seen: Observed {
            paths: case.seen.paths.clone(),
            new_places: Vec::new(),
            sources: case.seen.sources.clone(),
            home_manager: case.seen.home_manager.clone(),
        },
        opts: case.opts.clone(),
    };
    if format!("{:?}", plan_of(&unhinted)) != format!("{plan:?}") {
        return Err("the places observe found change the plan".into());
    }
    if let Some(ext) = &case.opts.backup_ext {
        let targets: HashSet<RelPath> = case
            .new
            .iter()
            .map(|f| f.target.clone())
            .chain(case.old.entries.keys().cloned())
            .collect();
        assign_backup_names(&mut plan, ext, &targets, |q| fs0.contains_key(q));
        if !plan.conflicts.is_empty() {
            return Err("a backup extension leaves no conflict".into());
        }
    }

    // Conflicts name something that is there and not hearth's, once.
    let mut reported = HashSet::default();
    for c in &plan.conflicts {
        if !reported.insert(&c.path) {
            return Err(format!("{} reported twice", c.path));
        }
        if case.seen.get(&c.path) != &c.found || c.found == Seen::Missing {
            return Err(format!("{c:?}: not what is there"));
        }
        if case
            .old
            .entries
            .get(&c.path)
            .is_some_and(|r| c.found.matches(r))
        {
            return Err(format!("{c:?}: hearth owns it"));
        }
        let is_target = |t: &RelPath| case.new.iter().any(|f| f.target == *t);
        let ok = match c.kind {
            ConflictKind::ParentInTheWay => c
                .needed_by
                .as_ref()
                .is_some_and(|t| t.is_below(&c.path) && is_target(t)),
            ConflictKind::ForceOnDirectory => {
                matches!(c.found, Seen::Dir { .. })
                    && case.new.iter().any(|f| f.target == c.path && f.force)
            }
            _ => is_target(&c.path),
        };
        if !ok {
            return Err(format!("{c:?}: wrong kind"));
        }
    }
    for k in &plan.kept {
        let rec = case.old.entries.get(&k.path);
        if rec.is_none()
            || k.found == Seen::Missing
            || rec.is_some_and(|r| k.found.matches(r))
            || case.new.iter().any(|f| f.target == k.path)
        {
            return Err(format!("{k:?}: not a changed orphan"));
        }
    }

    let fs = simulate(case, &plan, fs0)?;
    // What is adopted already holds exactly what the generation wants.
    for t in &plan.adopted {
        let f = case.new.iter().find(|f| f.target == *t);
        let want = f
            .and_then(|f| desired(f, &case.seen))
            .map(|d| desired_node(&d));
        if want.is_none() || fs0.get(t) != want.as_ref() || case.old.entries.contains_key(t) {
            return Err(format!("{t} adopted but not already as wanted"));
        }
    }
    if !plan.conflicts.is_empty() {
        return Ok(true);
    }
    // No link of Home Manager's that observe saw is left where it was.
    for (path, node) in &fs {
        if let Node::Link(t) = node {
            if is_home_manager_link(t) && fs0.get(path) == Some(node) && dirs_up_to(fs0, path) {
                return Err(format!("Home Manager's link {path} left in place"));
            }
        }
    }

    // The home now holds the new generation ...
    for f in &case.new {
        let want = desired_node(&desired(f, &case.seen).unwrap());
        if fs.get(&f.target) != Some(&want) || !dirs_up_to(&fs, &f.target) {
            return Err(format!(
                "{} is {:?}, not {want:?}",
                f.target,
                fs.get(&f.target)
            ));
        }
        if plan.owned.entries.get(&f.target).map(node_of) != Some(want) {
            return Err(format!("{} not recorded", f.target));
        }
    }
    if plan.owned.entries.len() != case.new.len() {
        return Err(format!("owns more than the new targets: {:?}", plan.owned));
    }
    // ... its orphans that hearth owned are gone ...
    for (path, rec) in &case.old.entries {
        if case.new.iter().all(|f| f.target != *path)
            && case.seen.get(path).matches(rec)
            && !plan
                .actions
                .iter()
                .any(|a| matches!(a, Action::Remove { path: q, .. } if q == path))
        {
            return Err(format!("owned orphan {path} not removed"));
        }
    }
    // ... and it only claims directories it made or made before.
    let made: HashSet<&RelPath> = plan
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Mkdir { path } => Some(path),
            _ => None,
        })
        .collect();
    for d in &plan.owned.dirs {
        if fs.get(d) != Some(&Node::Dir) || !(made.contains(d) || case.old.dirs.contains(d)) {
            return Err(format!("claims directory {d}"));
        }
    }

    // Activating the same generation again changes nothing.
    let again = Case {
        old: plan.owned.clone(),
        new: case.new.clone(),
        seen: observe_model(&fs, &plan.owned, &case.new),
        opts: case.opts.clone(),
    };
    let second = plan_of(&again);
    if !second.is_noop()
        || !second.conflicts.is_empty()
        || !second.kept.is_empty()
        || second.unchanged != case.new.len()
        || second.owned != plan.owned
    {
        return Err(format!(
            "second activation not a no-op: {:?} {:?} {:?}",
            second.actions, second.conflicts, second.kept
        ));
    }
    Ok(false)
}

/// A planner input as small numbers, so that proptest and the fuzzer can both
/// produce one and any numbers make a valid input (indices wrap around).
#[derive(Clone, Debug, Default)]
pub struct Scenario {
    /// Old entries: (path, what was recorded, which parents hearth made, a bit each).
    pub old: Vec<(u8, u8, u8)>,
    /// The home starts as hearth left it; otherwise empty.
    pub as_left: bool,
    /// The user's changes: (path, what is put there).
    pub edits: Vec<(u8, u8)>,
    /// New entries: (path, source, copy, mode, force).
    pub new: Vec<(u8, u8, bool, u8, bool)>,
    pub backup: bool,
}

impl Scenario {
    /// Decodes raw bytes (the fuzzer's input); missing bytes read as zero.
    pub fn from_bytes(data: &[u8]) -> Scenario {
        let mut it = data.iter().copied();
        let mut next = move || it.next().unwrap_or(0);
        let mut s = Scenario::default();
        for _ in 0..next() % 5 {
            s.old.push((next(), next(), next()));
        }
        s.as_left = next() % 8 != 0;
        for _ in 0..next() % 6 {
            s.edits.push((next(), next()));
        }
        for _ in 0..next() % 5 {
            s.new
                .push((next(), next(), next() % 2 == 1, next(), next() % 4 == 0));
        }
        s.backup = next() % 4 == 0;
        s
    }

    /// The planner input and the home it was observed from.
    pub fn build(&self) -> (Case, Fs) {
        let paths = all_paths();
        let mut case = Case::default();
        // Half the byte range picks an old target, so that the generations
        // and the user's changes meet often.
        let pick = |i: u8, old: &[RelPath]| -> RelPath {
            if i >= 128 && !old.is_empty() {
                old[i as usize % old.len()].clone()
            } else {
                paths[i as usize % paths.len()].clone()
            }
        };
        let fits = |taken: &[&RelPath], t: &RelPath| {
            taken
                .iter()
                .all(|o| *o != t && !o.is_below(t) && !t.is_below(o))
        };
        for &(i, rec, dirs) in &self.old {
            let t = pick(i, &[]);
            if !fits(&case.old.entries.keys().collect::<Vec<_>>(), &t) {
                continue;
            }
            let rec = match rec % 12 {
                r @ 0..=2 => Recorded::Symlink {
                    target: Path::new([S1, S2, S3][r as usize]).into(),
                },
                r => Recorded::copy(
                    ["h1", "h2", "h3"][(r % 3) as usize].into(),
                    [0o444, 0o555, 0o644][(r / 3 % 3) as usize],
                    Some(2),
                ),
            };
            for (k, a) in t.ancestors().enumerate() {
                if dirs >> k & 1 == 1 {
                    case.old.dirs.insert(a);
                }
            }
            case.old.entries.insert(t, rec);
        }
        let old_targets: Vec<RelPath> = case.old.entries.keys().cloned().collect();

        let mut fs = Fs::new();
        if self.as_left {
            for (t, rec) in &case.old.entries {
                for a in t.ancestors() {
                    fs.insert(a, Node::Dir);
                }
                fs.insert(t.clone(), node_of(rec));
            }
        }
        for &(i, what) in &self.edits {
            let path = pick(i, &old_targets);
            let node = match what % 9 {
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
                7 => match what / 9 % 3 {
                    2 => hm_link(&path),
                    n => Node::Link([S1, S2][n as usize].into()),
                },
                _ => Node::File {
                    sha: ["h1", "h2"][(what / 9 % 2) as usize].into(),
                    mode: [0o444, 0o555, 0o644][(what / 18 % 3) as usize],
                },
            };
            place(&mut fs, &path, node);
        }

        for &(i, source, copy, mode, force) in &self.new {
            let target = pick(i, &old_targets);
            if !fits(
                &case.new.iter().map(|f| &f.target).collect::<Vec<_>>(),
                &target,
            ) {
                continue;
            }
            let (kind, mode) = if copy {
                (
                    FileType::Copy,
                    [None, Some(0o444), Some(0o644)][mode as usize % 3],
                )
            } else {
                (FileType::Symlink, None)
            };
            case.new.push(File {
                target,
                source: Path::new([S1, S2][source as usize % 2]).into(),
                kind,
                mode,
                force,
                on_change: None,
            });
        }
        if self.backup {
            case.opts.backup_ext = Some("x".into());
        }
        case.seen = observe_model(&fs, &case.old, &case.new);
        (case, fs)
    }
}
