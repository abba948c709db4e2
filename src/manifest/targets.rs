//! The one validation of targets, shared by the manifest check (every
//! activation and `hearth check`) and the generation builder: what can be
//! wrong with one target alone ([`BadTarget`], from [`RelPath::parse`]) and
//! between targets ([`Clash`]: the same target twice, a target inside another).
//! Pure: it never looks at the home or the store. It must stay about linear
//! in the number of targets (a home may have 100,000): no pairwise comparison.

use crate::manifest::RelPath;
use crate::sys::fxhash::FxHashMap;

/// What is wrong with one target on its own. The messages say it from the
/// user's side; callers add where the target came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadTarget {
    #[error("the target is empty")]
    Empty,
    #[error("the target contains a NUL byte")]
    Nul,
    #[error("the target is an absolute path; give it relative to the home")]
    Absolute,
    #[error("the target contains `..`; targets must stay inside the home")]
    DotDot,
    #[error("the target names the home itself")]
    TheHome,
}

/// Two entries whose targets cannot both be in a home. `E` names an entry the
/// way the caller reports it (an index into the manifest's `files`, an option
/// of the spec).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Clash<E> {
    /// `again` has the target `first` already has.
    Duplicate { target: RelPath, first: E, again: E },
    /// `target` (of `entry`) lies below `outer` (of `outer_entry`), which
    /// would have to be a file and a directory at once. `outer` is the
    /// innermost such target.
    Inside {
        target: RelPath,
        entry: E,
        outer: RelPath,
        outer_entry: E,
    },
}

/// Every clash among `targets`, given in entry order: first the duplicates
/// in the order of their second entry, then the targets inside others in the
/// order of their first entry (a duplicated target is reported inside
/// another once, naming its first entry).
///
/// Linear in the total length of the targets: one hash map of the targets,
/// then each target's parents looked up in it. (Sorting and comparing
/// neighbours is not enough: `a-b` sorts between `a` and `a/b`.)
pub fn clashes<'a, E: Clone>(targets: impl IntoIterator<Item = (&'a RelPath, E)>) -> Vec<Clash<E>> {
    let targets: Vec<(&RelPath, E)> = targets.into_iter().collect();
    let mut clashes = Vec::new();
    // The position in `targets` of each target's first entry.
    let mut first: FxHashMap<&str, usize> = FxHashMap::default();
    first.reserve(targets.len());
    let mut unique = Vec::with_capacity(targets.len());
    for (k, (target, entry)) in targets.iter().enumerate() {
        match first.entry(target.as_str()) {
            std::collections::hash_map::Entry::Occupied(o) => {
                clashes.push(Clash::Duplicate {
                    target: (*target).clone(),
                    first: targets[*o.get()].1.clone(),
                    again: entry.clone(),
                });
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(k);
                unique.push(k);
            }
        }
    }
    // The last directory whose parents, and itself, are no target: the
    // targets of a directory mostly come together, and each of them after
    // the first is then known to be inside none with no lookup at all.
    let mut clear: Option<&str> = None;
    for k in unique {
        let (target, entry) = &targets[k];
        let dir = crate::sys::dirfd::split(target.as_str()).0;
        if clear == Some(dir) {
            continue;
        }
        let outer = target
            .parents_inner_first()
            .find_map(|parent| first.get(parent).map(|&j| targets[j].clone()));
        if outer.is_none() {
            clear = Some(dir);
        }
        if let Some((outer, outer_entry)) = outer {
            clashes.push(Clash::Inside {
                target: (*target).clone(),
                entry: entry.clone(),
                outer: outer.clone(),
                outer_entry,
            });
        }
    }
    clashes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(s: &str) -> RelPath {
        RelPath::parse(s).unwrap()
    }

    fn check(targets: &[&str]) -> Vec<Clash<usize>> {
        let targets: Vec<RelPath> = targets.iter().map(|t| rel(t)).collect();
        clashes(targets.iter().zip(0..))
    }

    #[test]
    fn one_target_alone() {
        assert_eq!(RelPath::parse(""), Err(BadTarget::Empty));
        assert_eq!(RelPath::parse("a\0b"), Err(BadTarget::Nul));
        assert_eq!(RelPath::parse("/etc/motd"), Err(BadTarget::Absolute));
        assert_eq!(RelPath::parse("a/../../x"), Err(BadTarget::DotDot));
        assert_eq!(RelPath::parse(".."), Err(BadTarget::DotDot));
        assert_eq!(RelPath::parse("./"), Err(BadTarget::TheHome));
        assert_eq!(RelPath::parse("./."), Err(BadTarget::TheHome));
        assert_eq!(RelPath::parse(".//a/./b/").map(|p| p.0), Ok("a/b".into()));
    }

    #[test]
    fn duplicates_name_the_first_entry() {
        assert_eq!(
            check(&["a", "b", "a", "a"]),
            [
                Clash::Duplicate {
                    target: rel("a"),
                    first: 0,
                    again: 2
                },
                Clash::Duplicate {
                    target: rel("a"),
                    first: 0,
                    again: 3
                },
            ]
        );
    }

    #[test]
    fn a_target_inside_another_names_the_innermost() {
        assert_eq!(
            check(&["x/y/z", "x", "x/y", "x/y/z"]),
            [
                Clash::Duplicate {
                    target: rel("x/y/z"),
                    first: 0,
                    again: 3
                },
                Clash::Inside {
                    target: rel("x/y/z"),
                    entry: 0,
                    outer: rel("x/y"),
                    outer_entry: 2
                },
                Clash::Inside {
                    target: rel("x/y"),
                    entry: 2,
                    outer: rel("x"),
                    outer_entry: 1
                },
            ]
        );
    }

    #[test]
    fn neighbours_in_sorted_order_are_not_enough() {
        // `a-b` and `a.c` sort between `a` and `a/b` ('-' and '.' < '/').
        assert_eq!(
            check(&["a", "a-b", "a.c", "a/b"]),
            [Clash::Inside {
                target: rel("a/b"),
                entry: 3,
                outer: rel("a"),
                outer_entry: 0
            }]
        );
        assert_eq!(check(&["ab", "a/b", "abc/d", "b/a"]), []);
    }

    #[test]
    fn a_hundred_thousand_targets_with_one_clash_at_the_end() {
        // 100,000 targets in 1,000 directories, plus one target inside
        // another at the very end: a pairwise check would make 5·10⁹
        // comparisons; this one makes about one lookup per path component.
        // (Speed is the benchmark's to measure, not a test's.)
        let mut targets: Vec<RelPath> = (0..100_000)
            .map(|i| rel(&format!(".config/app{}/sub/file{i}", i % 1000)))
            .collect();
        targets.push(rel(".config/app7/sub"));
        let found = clashes(targets.iter().zip(0..));
        assert_eq!(found.len(), 100);
        assert!(found.iter().all(|c| matches!(
            c,
            Clash::Inside { outer, outer_entry: 100_000, .. } if outer.as_str() == ".config/app7/sub"
        )));
    }
}
