//! User units: which of the user's systemd units a switch added, changed or
//! removed (from the old and new generations' files), and what to do about
//! each on the running user manager: stop, restart or start, as sd-switch
//! does for Home Manager. Pure: reads nothing, runs nothing; how two sources
//! compare, which units are active and what a unit file says are passed in.
//! `activate` asks the manager and acts (see `sys::systemctl`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::manifest::RelPath;

/// The unit types hearth manages (what Home Manager's systemd module writes).
const SUFFIXES: [&str; 7] = [
    ".service", ".socket", ".timer", ".target", ".path", ".mount", ".slice",
];

/// One file of a generation: its target in the home and its source.
pub struct Entry<'a> {
    pub target: &'a RelPath,
    pub source: &'a Path,
}

/// The unit directories in the home: those of the manager's `UnitPath` that
/// lie below the home (relative to it), else `$XDG_CONFIG_HOME/systemd/user`
/// when that lies below the home, else `.config/systemd/user`.
pub fn unit_dirs(home: &Path, unit_path: &[&Path], xdg_config_home: Option<&Path>) -> Vec<RelPath> {
    let below = |p: &Path| {
        p.strip_prefix(home)
            .ok()
            .and_then(|r| r.to_str())
            .and_then(|r| RelPath::parse(r).ok())
    };
    let mut dirs: Vec<RelPath> = unit_path.iter().filter_map(|p| below(p)).collect();
    if dirs.is_empty() {
        let config = xdg_config_home
            .filter(|p| p.is_absolute())
            .and_then(below)
            .map_or_else(|| ".config".to_string(), |r| r.as_str().to_string());
        if let Ok(d) = RelPath::parse(&format!("{config}/systemd/user")) {
            dirs.push(d);
        }
    }
    dirs
}

fn is_unit_name(name: &str) -> bool {
    SUFFIXES
        .iter()
        .any(|s| name.len() > s.len() && name.ends_with(s))
}

/// `foo@.service` for `foo@bar.service`; `None` for a unit that is not an
/// instance of a template.
fn template_of(unit: &str) -> Option<String> {
    let (prefix, rest) = unit.split_once('@')?;
    let dot = rest.rfind('.')?;
    if dot == 0 {
        return None;
    }
    Some(format!("{prefix}@{}", &rest[dot..]))
}

/// Targets and slices are never restarted (as NixOS does not): restarting
/// one would stop what it groups. Unit suffixes are lowercase in systemd.
#[expect(
    clippy::case_sensitive_file_extension_comparisons,
    reason = "unit suffixes are case-sensitive in systemd"
)]
fn restartable(unit: &str) -> bool {
    !(unit.ends_with(".target") || unit.ends_with(".slice"))
}

fn is_template(unit: &str) -> bool {
    unit.contains("@.")
}

/// What a path under a unit directory is, for systemd.
#[derive(Debug, PartialEq)]
enum Part {
    /// A unit file (`a.service`).
    Unit(String),
    /// A drop-in of a unit (`a.service.d/override.conf`).
    DropIn(String),
    /// `<target>.wants/<unit>` or `<target>.requires/<unit>`.
    Link { target: String, unit: String },
    /// Anything else below the directory.
    Other,
}

fn part(rel: &str) -> Part {
    let mut it = rel.split('/');
    let (Some(first), second, None) = (it.next(), it.next(), it.next()) else {
        return Part::Other;
    };
    match second {
        None if is_unit_name(first) => Part::Unit(first.to_string()),
        None => Part::Other,
        Some(second) => {
            if let Some(unit) = first.strip_suffix(".d") {
                if is_unit_name(unit) {
                    return Part::DropIn(unit.to_string());
                }
            }
            let target = first
                .strip_suffix(".wants")
                .or_else(|| first.strip_suffix(".requires"));
            match target {
                Some(t) if is_unit_name(t) && is_unit_name(second) => Part::Link {
                    target: t.to_string(),
                    unit: second.to_string(),
                },
                _ => Part::Other,
            }
        }
    }
}

/// What a switch changed under the unit directories.
#[derive(Debug, Default, PartialEq)]
pub struct Changes {
    /// Anything under a unit directory was added, changed or removed (or a
    /// whole unit directory is one entry whose source changed).
    pub reload: bool,
    /// Units whose file is new.
    pub added: BTreeSet<String>,
    /// Units whose file or drop-ins changed (a different source, with
    /// different content).
    pub changed: BTreeSet<String>,
    /// Units whose file the new generation no longer has.
    pub removed: BTreeSet<String>,
    /// Units with a `.wants`/`.requires` link the old generation did not have.
    pub newly_wanted: BTreeSet<String>,
    /// For each unit, the targets that want or require it in the new generation.
    pub wanted_by: BTreeMap<String, BTreeSet<String>>,
}

impl Changes {
    /// The units whose state `decide` needs, sorted.
    pub fn to_query(&self) -> Vec<String> {
        let mut q: BTreeSet<String> = BTreeSet::new();
        q.extend(self.removed.iter().filter(|u| !is_template(u)).cloned());
        for u in self.touched() {
            if let Some(targets) = self.wanted_by.get(&u) {
                q.extend(targets.iter().cloned());
            }
            q.insert(u);
        }
        q.into_iter().collect()
    }

    /// Units (not templates) that are new, changed or newly wanted; an
    /// instance counts when its template does.
    fn touched(&self) -> BTreeSet<String> {
        let file_touched = |u: &str| {
            let t = template_of(u);
            [Some(u.to_string()), t]
                .iter()
                .flatten()
                .any(|f| self.added.contains(f) || self.changed.contains(f))
        };
        let mut all: BTreeSet<String> = self
            .added
            .iter()
            .chain(&self.changed)
            .filter(|u| !is_template(u))
            .cloned()
            .collect();
        all.extend(self.newly_wanted.iter().cloned());
        all.extend(self.wanted_by.keys().filter(|u| file_touched(u)).cloned());
        all
    }

    fn changed_file(&self, unit: &str) -> bool {
        self.changed.contains(unit) || template_of(unit).is_some_and(|t| self.changed.contains(&t))
    }
}

/// Compares the old and new generations' files under `dirs`. `same` says
/// whether two sources hold the same content (a rebuilt but identical unit
/// is no change).
pub fn changes(
    dirs: &[RelPath],
    old: &[Entry],
    new: &[Entry],
    same: &dyn Fn(&Path, &Path) -> bool,
) -> Changes {
    let mut ch = Changes::default();
    let classify = |t: &RelPath| -> Option<Part> {
        // The innermost directory an entry lies below.
        let dir = dirs
            .iter()
            .filter(|d| t.is_below(d))
            .max_by_key(|d| d.as_str().len())?;
        Some(part(&t.as_str()[dir.as_str().len() + 1..]))
    };
    // A whole unit directory (or one above it) as one entry: its units
    // cannot be told apart here, so only the manager is reloaded.
    let covers = |t: &RelPath| dirs.iter().any(|d| d == t || d.is_below(t));
    let old_map: BTreeMap<&RelPath, &Path> = old.iter().map(|e| (e.target, e.source)).collect();
    let new_map: BTreeMap<&RelPath, &Path> = new.iter().map(|e| (e.target, e.source)).collect();

    for e in new {
        if let Some(Part::Link { target, unit }) = classify(e.target) {
            ch.wanted_by.entry(unit).or_default().insert(target);
        }
    }
    let keys: BTreeSet<&RelPath> = old_map.keys().chain(new_map.keys()).copied().collect();
    for t in keys {
        let (was, now) = (old_map.get(t), new_map.get(t));
        let differs = match (was, now) {
            (Some(a), Some(b)) => !same(a, b),
            _ => true,
        };
        if !differs {
            continue;
        }
        if covers(t) {
            ch.reload = true;
            continue;
        }
        let Some(p) = classify(t) else { continue };
        ch.reload = true;
        match (p, was.is_some(), now.is_some()) {
            (Part::Unit(u), false, true) => {
                ch.added.insert(u);
            }
            (Part::Unit(u), true, false) => {
                ch.removed.insert(u);
            }
            (Part::Unit(u) | Part::DropIn(u), _, _) => {
                ch.changed.insert(u);
            }
            (Part::Link { unit, .. }, false, true) => {
                ch.newly_wanted.insert(unit);
            }
            (Part::Link { .. } | Part::Other, _, _) => {}
        }
    }
    // A unit whose file went away with a drop-in still there is removed,
    // not changed.
    let removed = ch.removed.clone();
    ch.changed.retain(|u| !removed.contains(u));
    ch.newly_wanted.retain(|u| !removed.contains(u));
    ch
}

/// Whether a unit file lets a switch restart it: `X-RestartIfChanged=false`
/// (in any section, as NixOS writes it in `[Unit]`) says no; the last
/// setting wins.
pub fn restart_if_changed(text: &str) -> bool {
    let mut restart = true;
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if k.trim() == "X-RestartIfChanged" {
            restart = !matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "false" | "no" | "0" | "off"
            );
        }
    }
    restart
}

/// What to do on the manager, in this order: reload, stop, restart, start.
#[derive(Debug, Default, PartialEq)]
pub struct Decision {
    pub reload: bool,
    pub stop: Vec<String>,
    pub restart: Vec<String>,
    pub start: Vec<String>,
    /// Changed and active, but `X-RestartIfChanged=false`: left running.
    pub kept: Vec<String>,
}

impl Decision {
    pub fn is_empty(&self) -> bool {
        !self.reload && self.stop.is_empty() && self.restart.is_empty() && self.start.is_empty()
    }
}

/// Decides what to do: removed units that are active are stopped; changed
/// units that are active are restarted (not a `.target` or `.slice`, nor a
/// unit that says `X-RestartIfChanged=false`); new, changed or newly wanted
/// units that are not active are started when a target that wants them in
/// the new generation is active. `active` and `may_restart` answer for one
/// unit name.
pub fn decide(
    ch: &Changes,
    active: &dyn Fn(&str) -> bool,
    may_restart: &dyn Fn(&str) -> bool,
) -> Decision {
    let mut d = Decision {
        reload: ch.reload,
        ..Decision::default()
    };
    for u in ch.removed.iter().filter(|u| !is_template(u)) {
        if active(u) {
            d.stop.push(u.clone());
        }
    }
    for u in ch.touched() {
        if ch.removed.contains(&u) {
            continue;
        }
        if active(&u) {
            if !ch.changed_file(&u) || !restartable(&u) {
                continue;
            }
            if may_restart(&u) {
                d.restart.push(u);
            } else {
                d.kept.push(u);
            }
            continue;
        }
        let wanted = ch
            .wanted_by
            .get(&u)
            .is_some_and(|targets| targets.iter().any(|t| active(t)));
        if wanted {
            d.start.push(u);
        }
    }
    d
}

/// The new generation's unit files by unit name, for reading what a unit
/// says (`restart_if_changed`); an instance is found by its template.
pub fn unit_sources<'a>(dirs: &[RelPath], new: &[Entry<'a>]) -> BTreeMap<String, &'a Path> {
    let mut map = BTreeMap::new();
    for e in new {
        let dir = dirs
            .iter()
            .filter(|d| e.target.is_below(d))
            .max_by_key(|d| d.as_str().len());
        if let Some(dir) = dir {
            if let Part::Unit(u) = part(&e.target.as_str()[dir.as_str().len() + 1..]) {
                map.insert(u, e.source);
            }
        }
    }
    map
}

/// The source of `unit`'s file in `sources`, or its template's.
pub fn source_of<'a>(sources: &BTreeMap<String, &'a Path>, unit: &str) -> Option<&'a Path> {
    sources
        .get(unit)
        .or_else(|| template_of(unit).and_then(|t| sources.get(&t)))
        .copied()
}

/// A `systemctl --user` action on one unit that failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// "start", "restart", "stop" or "daemon-reload".
    pub action: &'static str,
    /// The unit (empty for daemon-reload).
    pub unit: String,
    /// What systemctl said.
    pub error: String,
}

/// What the units phase did (or, for a dry run, would do).
#[derive(Debug, Default)]
pub struct Outcome {
    pub dry_run: bool,
    /// Why nothing was done to units (the user manager does not run).
    pub skipped: Option<String>,
    /// What was done, without what failed (or what would be done).
    pub done: Decision,
    pub failed: Vec<Failure>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn rel(s: &str) -> RelPath {
        RelPath::parse(s).unwrap()
    }

    /// (target, source) pairs as a generation's files.
    fn gen(files: &[(&str, &str)]) -> Vec<(RelPath, PathBuf)> {
        files
            .iter()
            .map(|(t, s)| (rel(t), PathBuf::from(s)))
            .collect()
    }

    fn entries(g: &[(RelPath, PathBuf)]) -> Vec<Entry<'_>> {
        g.iter()
            .map(|(target, source)| Entry { target, source })
            .collect()
    }

    fn diff(old: &[(&str, &str)], new: &[(&str, &str)]) -> Changes {
        let (old, new) = (gen(old), gen(new));
        changes(
            &[rel(".config/systemd/user")],
            &entries(&old),
            &entries(&new),
            &|a, b| a == b,
        )
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(ToString::to_string).collect()
    }

    const U: &str = ".config/systemd/user";

    #[test]
    fn names_parts_of_a_unit_directory() {
        assert_eq!(part("a.service"), Part::Unit("a.service".into()));
        assert_eq!(part("a.service.d/x.conf"), Part::DropIn("a.service".into()));
        assert_eq!(
            part("default.target.wants/a.service"),
            Part::Link {
                target: "default.target".into(),
                unit: "a.service".into()
            }
        );
        assert_eq!(part("README"), Part::Other);
        assert_eq!(part(".service"), Part::Other);
        assert_eq!(part("a/b/c.service"), Part::Other);
        assert_eq!(
            template_of("foo@bar.service").as_deref(),
            Some("foo@.service")
        );
        assert_eq!(template_of("foo@.service"), None);
        assert_eq!(template_of("foo.service"), None);
    }

    #[test]
    fn the_unit_directory_follows_the_manager_then_xdg_config_home() {
        let home = Path::new("/home/alice");
        let up = [
            Path::new("/home/alice/.config/systemd/user"),
            Path::new("/etc/systemd/user"),
        ];
        assert_eq!(unit_dirs(home, &up, None), [rel(".config/systemd/user")]);
        assert_eq!(
            unit_dirs(home, &[], Some(Path::new("/home/alice/cfg"))),
            [rel("cfg/systemd/user")]
        );
        assert_eq!(
            unit_dirs(home, &[], Some(Path::new("/elsewhere"))),
            [rel(".config/systemd/user")]
        );
        assert_eq!(unit_dirs(home, &[], None), [rel(".config/systemd/user")]);
    }

    #[test]
    fn finds_added_changed_and_removed_units() {
        let old = [
            (&*format!("{U}/a.service"), "/s/a1"),
            (&*format!("{U}/default.target.wants/a.service"), "/s/a1"),
            (&*format!("{U}/c.service"), "/s/c"),
            (&*format!("{U}/default.target.wants/c.service"), "/s/c"),
            (&*format!("{U}/d.service"), "/s/d"),
            (".bashrc", "/s/bashrc1"),
        ];
        let new = [
            (&*format!("{U}/a.service"), "/s/a2"),
            (&*format!("{U}/default.target.wants/a.service"), "/s/a2"),
            (&*format!("{U}/b.service"), "/s/b"),
            (&*format!("{U}/default.target.wants/b.service"), "/s/b"),
            (&*format!("{U}/d.service"), "/s/d"),
            (".bashrc", "/s/bashrc2"),
        ];
        let ch = diff(&old, &new);
        assert!(ch.reload);
        assert_eq!(ch.added, set(&["b.service"]));
        assert_eq!(ch.changed, set(&["a.service"]));
        assert_eq!(ch.removed, set(&["c.service"]));
        assert_eq!(ch.newly_wanted, set(&["b.service"]));
        assert_eq!(ch.wanted_by["a.service"], set(&["default.target"]));
        assert_eq!(
            ch.to_query(),
            ["a.service", "b.service", "c.service", "default.target"]
        );
    }

    #[test]
    fn nothing_under_the_unit_directory_changed_means_no_reload() {
        let same = [(&*format!("{U}/a.service"), "/s/a"), (".bashrc", "/s/b1")];
        let other = [(&*format!("{U}/a.service"), "/s/a"), (".bashrc", "/s/b2")];
        assert_eq!(
            diff(&same, &other),
            Changes {
                wanted_by: BTreeMap::new(),
                ..Changes::default()
            }
        );
        // Identical content from another store path is no change either.
        let (old, new) = (
            gen(&[(&format!("{U}/a.service"), "/s/1-a")]),
            gen(&[(&format!("{U}/a.service"), "/s/2-a")]),
        );
        let ch = changes(&[rel(U)], &entries(&old), &entries(&new), &|_, _| true);
        assert!(!ch.reload && ch.changed.is_empty());
    }

    #[test]
    fn a_drop_in_changes_its_unit_and_other_files_only_reload() {
        let ch = diff(
            &[(&format!("{U}/a.service.d/x.conf"), "/s/1")],
            &[
                (&format!("{U}/a.service.d/x.conf"), "/s/2"),
                (&format!("{U}/notes.txt"), "/s/n"),
            ],
        );
        assert!(ch.reload);
        assert_eq!(ch.changed, set(&["a.service"]));
        assert!(ch.added.is_empty());
        // The whole directory as one entry: reload only.
        let ch = diff(&[(U, "/s/dir1")], &[(U, "/s/dir2")]);
        assert!(ch.reload && ch.changed.is_empty());
        let ch = diff(
            &[(".config/systemd", "/s/dir1")],
            &[(".config/systemd", "/s/dir2")],
        );
        assert!(ch.reload);
    }

    fn decide_with(ch: &Changes, active: &[&str], no_restart: &[&str]) -> Decision {
        let active = set(active);
        let no = set(no_restart);
        decide(ch, &|u| active.contains(u), &|u| !no.contains(u))
    }

    #[test]
    fn stops_removed_restarts_changed_starts_new_wanted() {
        let ch = Changes {
            reload: true,
            added: set(&["b.service", "lonely.service"]),
            changed: set(&["a.service", "idle.service", "t.target", "s.slice"]),
            removed: set(&["c.service", "gone.service"]),
            newly_wanted: set(&["b.service"]),
            wanted_by: [
                ("a.service", "default.target"),
                ("b.service", "default.target"),
                ("idle.service", "default.target"),
            ]
            .iter()
            .map(|(u, t)| (u.to_string(), set(&[t])))
            .collect(),
        };
        let d = decide_with(
            &ch,
            &[
                "a.service",
                "c.service",
                "default.target",
                "t.target",
                "s.slice",
            ],
            &[],
        );
        assert_eq!(
            d,
            Decision {
                reload: true,
                stop: vec!["c.service".into()],
                restart: vec!["a.service".into()],
                // idle.service: changed, inactive, wanted by an active target.
                start: vec!["b.service".into(), "idle.service".into()],
                kept: vec![],
            }
        );
        // With default.target inactive nothing is started.
        let d = decide_with(&ch, &["a.service"], &[]);
        assert!(d.start.is_empty());
        assert_eq!(d.restart, ["a.service"]);
        // X-RestartIfChanged=false: left running.
        let d = decide_with(&ch, &["a.service", "default.target"], &["a.service"]);
        assert!(d.restart.is_empty());
        assert_eq!(d.kept, ["a.service"]);
    }

    #[test]
    fn a_changed_template_restarts_its_active_wanted_instances() {
        let ch = diff(
            &[
                (&format!("{U}/w@.service"), "/s/1"),
                (&format!("{U}/default.target.wants/w@x.service"), "/s/1"),
            ],
            &[
                (&format!("{U}/w@.service"), "/s/2"),
                (&format!("{U}/default.target.wants/w@x.service"), "/s/2"),
            ],
        );
        let d = decide_with(&ch, &["w@x.service", "default.target"], &[]);
        assert_eq!(d.restart, ["w@x.service"]);
        assert!(d.start.is_empty() && d.stop.is_empty());
    }

    #[test]
    fn newly_wanted_unchanged_unit_is_started_not_restarted() {
        let ch = diff(
            &[(&format!("{U}/a.service"), "/s/a")],
            &[
                (&format!("{U}/a.service"), "/s/a"),
                (&format!("{U}/default.target.wants/a.service"), "/s/a"),
            ],
        );
        assert_eq!(
            decide_with(&ch, &["default.target"], &[]).start,
            ["a.service"]
        );
        let d = decide_with(&ch, &["default.target", "a.service"], &[]);
        assert!(d.restart.is_empty() && d.start.is_empty() && d.reload);
    }

    #[test]
    fn reads_x_restart_if_changed() {
        assert!(restart_if_changed("[Unit]\nDescription=x\n"));
        assert!(!restart_if_changed("[Unit]\nX-RestartIfChanged=false\n"));
        assert!(!restart_if_changed("[Unit]\nX-RestartIfChanged = no\n"));
        assert!(restart_if_changed(
            "[Unit]\nX-RestartIfChanged=false\nX-RestartIfChanged=true\n"
        ));
    }
}
