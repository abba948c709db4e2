//! The merge decision on listings built by hand: no disk involved.

use super::*;

fn file(real: &str) -> Entry {
    Entry::Leaf(Leaf {
        real: Some(PathBuf::from(real)),
        file: Some(FileFacts {
            size: 3,
            mode: 0o444,
        }),
    })
}

fn dir(entries: Vec<(&str, Entry)>) -> Entry {
    Entry::Dir(entries.into_iter().map(|(n, e)| (n.into(), e)).collect())
}

fn linked(entries: Vec<(&str, Entry)>) -> Entry {
    Entry::LinkedDir(entries.into_iter().map(|(n, e)| (n.into(), e)).collect())
}

fn pkg(name: &str, priority: i64, entries: Vec<(&str, Entry)>) -> Package {
    Package {
        name: name.to_string(),
        path: PathBuf::from(format!("/s/{name}")),
        priority,
        propagated: false,
        root: entries.into_iter().map(|(n, e)| (n.into(), e)).collect(),
    }
}

/// The tree as sorted lines: `path/` for a directory, `path -> target` for a link.
fn lines(tree: &Tree) -> Vec<String> {
    fn walk(t: &Tree, rel: &str, out: &mut Vec<String>) {
        match t {
            Tree::Link(to) => out.push(format!("{rel} -> {}", to.display())),
            Tree::Dir(children) => {
                if !rel.is_empty() {
                    out.push(format!("{rel}/"));
                }
                for (name, child) in children {
                    let name = name.to_string_lossy();
                    let child_rel = if rel.is_empty() {
                        name.into_owned()
                    } else {
                        format!("{rel}/{name}")
                    };
                    walk(child, &child_rel, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(tree, "", &mut out);
    out
}

fn all() -> Vec<PathBuf> {
    normalize_paths_to_link(&["/".to_string()])
}

fn ok(pkgs: &[Package]) -> Vec<String> {
    lines(&plan(pkgs, &all(), &SameContents::new()).expect("no collision"))
}

#[test]
fn nested_directories_merge_into_real_directories() {
    let a = pkg(
        "a",
        5,
        vec![
            ("bin", dir(vec![("a", file("/s/a/bin/a"))])),
            (
                "share",
                dir(vec![(
                    "man",
                    dir(vec![("a.1", file("/s/a/share/man/a.1"))]),
                )]),
            ),
        ],
    );
    let b = pkg(
        "b",
        5,
        vec![(
            "share",
            dir(vec![(
                "man",
                dir(vec![("b.1", file("/s/b/share/man/b.1"))]),
            )]),
        )],
    );
    assert_eq!(
        ok(&[a, b]),
        [
            "bin/",
            "bin/a -> /s/a/bin/a",
            "share/",
            "share/man/",
            "share/man/a.1 -> /s/a/share/man/a.1",
            "share/man/b.1 -> /s/b/share/man/b.1",
        ]
    );
}

#[test]
fn the_lower_priority_number_wins_whatever_the_order() {
    for (pa, pb, want) in [(-10, 5, "/s/a/x"), (5, -10, "/s/b/x"), (10, 5, "/s/b/x")] {
        let a = pkg("a", pa, vec![("x", file("/s/a/x"))]);
        let b = pkg("b", pb, vec![("x", file("/s/b/x"))]);
        let want = format!("x -> {want}");
        assert_eq!(ok(&[a.clone(), b.clone()]), std::slice::from_ref(&want));
        assert_eq!(ok(&[b, a]), [want]);
    }
}

#[test]
fn equal_priorities_collide_and_every_collision_is_listed() {
    let a = pkg(
        "a",
        5,
        vec![(
            "bin",
            dir(vec![("x", file("/s/a/bin/x")), ("y", file("/s/a/bin/y"))]),
        )],
    );
    let b = pkg(
        "b",
        5,
        vec![(
            "bin",
            dir(vec![("x", file("/s/b/bin/x")), ("y", file("/s/b/bin/y"))]),
        )],
    );
    let c = pkg("c", 5, vec![("bin", dir(vec![("x", file("/s/c/bin/x"))]))]);
    let err = plan(&[a, b, c], &all(), &SameContents::new()).unwrap_err();
    let got: Vec<(String, Vec<String>)> = err
        .0
        .iter()
        .map(|c| {
            (
                c.path.display().to_string(),
                c.claimants.iter().map(|w| w.name.clone()).collect(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "bin/x".to_string(),
                vec!["a".into(), "b".into(), "c".into()]
            ),
            ("bin/y".to_string(), vec!["a".into(), "b".into()]),
        ]
    );
    // Same size and mode: the bytes must be compared before it counts.
    assert_eq!(err.content_candidates().len(), 4);
}

#[test]
fn identical_targets_are_no_collision() {
    // The same store file reached from two packages.
    let a = pkg("a", 5, vec![("x", file("/s/shared/x"))]);
    let b = pkg("b", 5, vec![("x", file("/s/shared/x"))]);
    assert_eq!(ok(&[a.clone(), b.clone()]), ["x -> /s/a/x"]);

    // Different files with the same bytes.
    let c = pkg("c", 5, vec![("y", file("/s/c/y"))]);
    let d = pkg("d", 5, vec![("y", file("/s/d/y"))]);
    let same: SameContents = [(PathBuf::from("/s/d/y"), PathBuf::from("/s/c/y"))].into();
    let tree = plan(&[c, d], &all(), &same).unwrap();
    assert_eq!(lines(&tree), ["y -> /s/c/y"]);
}

#[test]
fn a_lone_link_to_a_directory_stays_a_link_and_is_expanded_to_merge() {
    let a = pkg(
        "a",
        5,
        vec![(
            "lib",
            linked(vec![("liba.so", file("/s/other/lib/liba.so"))]),
        )],
    );
    assert_eq!(ok(std::slice::from_ref(&a)), ["lib -> /s/a/lib"]);
    let b = pkg(
        "b",
        5,
        vec![("lib", dir(vec![("libb.so", file("/s/b/lib/libb.so"))]))],
    );
    assert_eq!(
        ok(&[a, b]),
        [
            "lib/",
            "lib/liba.so -> /s/a/lib/liba.so",
            "lib/libb.so -> /s/b/lib/libb.so",
        ]
    );
}

#[test]
fn a_file_against_a_directory_goes_by_priority() {
    let f = |p| pkg("f", p, vec![("x", file("/s/f/x"))]);
    let d = || pkg("d", 5, vec![("x", dir(vec![("y", file("/s/d/x/y"))]))]);
    assert_eq!(ok(&[f(1), d()]), ["x -> /s/f/x"]);
    assert_eq!(ok(&[f(9), d()]), ["x/", "x/y -> /s/d/x/y"]);
    let err = plan(&[f(5), d()], &all(), &SameContents::new()).unwrap_err();
    assert_eq!(err.0.len(), 1);
    assert!(err.0[0].claimants[1].is_dir);
    assert!(err.content_candidates().is_empty());
}

#[test]
fn paths_to_link_restrict_what_is_linked() {
    let a = pkg(
        "a",
        5,
        vec![
            ("bin", dir(vec![("a", file("/s/a/bin/a"))])),
            (
                "share",
                linked(vec![
                    ("man", dir(vec![("a.1", file("/s/a/share/man/a.1"))])),
                    ("doc", dir(vec![])),
                ]),
            ),
            ("top", file("/s/a/top")),
        ],
    );
    let links = normalize_paths_to_link(&["/share/man".to_string()]);
    let tree = plan(&[a], &links, &SameContents::new()).unwrap();
    assert_eq!(
        lines(&tree),
        [
            "share/",
            "share/man/",
            "share/man/a.1 -> /s/a/share/man/a.1"
        ]
    );
}

#[test]
fn build_metadata_is_never_linked() {
    let a = pkg(
        "a",
        5,
        vec![
            (
                "nix-support",
                dir(vec![("setup-hook", file("/s/a/nix-support/setup-hook"))]),
            ),
            (
                "share",
                dir(vec![(
                    "info",
                    dir(vec![("dir", file("/s/a/share/info/dir"))]),
                )]),
            ),
        ],
    );
    assert_eq!(ok(&[a]), ["share/", "share/info/"]);
}

#[test]
fn a_propagated_package_loses_without_a_collision() {
    let a = pkg("a", 5, vec![("x", file("/s/a/x"))]);
    let mut p = pkg(
        "p",
        PROPAGATED_PRIORITY,
        vec![("x", file("/s/p/x")), ("y", file("/s/p/y"))],
    );
    p.propagated = true;
    assert_eq!(ok(&[a, p]), ["x -> /s/a/x", "y -> /s/p/y"]);
}

#[test]
fn collision_message() {
    let a = pkg(
        "hello-2.12",
        5,
        vec![("bin", dir(vec![("hello", file("/s/a/bin/hello"))]))],
    );
    let b = pkg(
        "hello-fork-1.0",
        5,
        vec![("bin", dir(vec![("hello", file("/s/b/bin/hello"))]))],
    );
    let err = plan(&[a, b], &all(), &SameContents::new()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "1 path collides in the packages environment (packages with equal priority provide different files):
  bin/hello
    /s/hello-2.12/bin/hello  from hello-2.12 (priority 5)
    /s/hello-fork-1.0/bin/hello  from hello-fork-1.0 (priority 5)
hint: choose the package that wins: wrap it in `lib.hiPrio` (priority -10) or the other in `lib.lowPrio` (priority 10), or set `meta.priority` (a lower number wins; the default is 5); or remove one of them from home.packages"
    );
}

#[test]
fn store_names_drop_the_hash() {
    assert_eq!(
        store_name(Path::new(
            "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-hello-2.12"
        )),
        "hello-2.12"
    );
    assert_eq!(store_name(Path::new("/tmp/x")), "x");
}
