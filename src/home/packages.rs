//! The packages of a packages environment, and what changes between two:
//! names and versions taken from store path names as nixpkgs'
//! `builtins.parseDrvName` splits them (as nvd and dix do), and the closure
//! size of each environment from `nix-store`. Also which profile links
//! (`hearth-packages-N-link`) belong to which environment, for pruning.
//!
//! Where the packages come from: the record `hearth build-env` writes into
//! the environment (`nix-support/hearth-packages.json`, see [`RECORD`]),
//! or, for an environment built without one, its references in the store.
//! Never called on a no-op activation: the callers compare the store paths
//! of the two environments first, and only a change pays for this.
//!
//! Who installs an environment ([`Installer`]): hearth, as the packages
//! profile (standalone), or the system (NixOS, nix-darwin put the
//! generation's `systemPackages` into `users.users.<name>.packages`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::home::state::GenRecord;

/// The record's place in an environment. `nix-support` is never merged
/// from a package by buildEnv (hearth's nor nixpkgs'), so nothing a package
/// ships can collide with it, and an environment merged into another (a
/// NixOS user's packages) does not carry it along.
pub const RECORD: &str = "nix-support/hearth-packages.json";

/// The record's format version; a newer one is refused by name.
pub const RECORD_VERSION: u32 = 1;

/// What `hearth build-env` records about the packages it merged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Record {
    pub version: u32,
    pub packages: Vec<RecordEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordEntry {
    /// The store path linked into the environment.
    pub path: PathBuf,
    /// Which output of its package it is, when the spec said.
    pub output: Option<String>,
    pub priority: i64,
    /// Brought in by another package's `propagated-user-env-packages`.
    pub propagated: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}\nhint: it is written by `hearth build-env`; rebuild the environment with this hearth")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: record version {found} is newer than this hearth knows ({RECORD_VERSION})\nhint: use the hearth that built the environment")]
    Newer { path: PathBuf, found: u32 },
    #[error("cannot list the references of {path}: {cause}")]
    References { path: PathBuf, cause: String },
}

/// One package of an environment (one output of it).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Package {
    pub name: String,
    /// Empty when the store name has none (`hm-session-vars.sh`).
    pub version: String,
    pub output: String,
    pub path: PathBuf,
    pub propagated: bool,
}

/// `builtins.parseDrvName`: the name ends at the first `-` that is not
/// followed by a letter; the rest is the version (empty without such `-`).
pub fn parse_drv_name(s: &str) -> (&str, &str) {
    let bytes = s.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'-' && bytes.get(i + 1).is_some_and(|c| !c.is_ascii_alphabetic()) {
            return (&s[..i], &s[i + 1..]);
        }
    }
    (s, "")
}

/// A store path's name without its hash (`/nix/store/HASH-hello-1.0`:
/// `hello-1.0`).
pub fn store_name(path: &Path) -> String {
    let base = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match base.split_once('-') {
        Some((hash, rest)) if hash.len() == 32 => rest.to_string(),
        _ => base,
    }
}

/// Outputs recognised at the end of a store name when nothing says which
/// output a path is (a propagated package, an environment without record).
const KNOWN_OUTPUTS: &[&str] = &[
    "bin", "dev", "lib", "man", "doc", "devdoc", "info", "debug", "static", "out",
];

/// A package from its store path: the output suffix (`-dev`) comes off the
/// name first, then `parse_drv_name` splits it.
pub fn package(path: &Path, output: Option<&str>, propagated: bool) -> Package {
    let full = store_name(path);
    let (stem, output) = match output {
        Some(out) if out != "out" => (
            full.strip_suffix(&format!("-{out}")).unwrap_or(&full),
            out.to_string(),
        ),
        Some(_) => (full.as_str(), "out".to_string()),
        None => KNOWN_OUTPUTS
            .iter()
            .find_map(|out| {
                let stem = full.strip_suffix(&format!("-{out}"))?;
                // `foo-bin` alone is a name, not the bin output of `foo`.
                (!parse_drv_name(stem).1.is_empty()).then(|| (stem, (*out).to_string()))
            })
            .unwrap_or((full.as_str(), "out".to_string())),
    };
    let (name, version) = parse_drv_name(stem);
    Package {
        name: name.to_string(),
        version: version.to_string(),
        output,
        path: path.to_path_buf(),
        propagated,
    }
}

/// The packages of environment `env`, sorted by name, version and output:
/// from its record, or (an environment without one) its references.
pub fn read_env(env: &Path) -> Result<Vec<Package>, Error> {
    let record = env.join(RECORD);
    let mut list: Vec<Package> = match std::fs::read_to_string(&record) {
        Ok(text) => parse_record(&record, &text)?
            .packages
            .iter()
            .map(|e| package(&e.path, e.output.as_deref(), e.propagated))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => references(env)?
            .iter()
            .map(|p| package(p, None, false))
            .collect(),
        Err(source) => {
            return Err(Error::Read {
                path: record,
                source,
            })
        }
    };
    list.sort();
    Ok(list)
}

fn parse_record(path: &Path, text: &str) -> Result<Record, Error> {
    #[derive(Deserialize)]
    struct Versioned {
        version: u32,
    }
    let parse = |message: String| Error::Parse {
        path: path.to_path_buf(),
        message,
    };
    let v: Versioned = serde_json::from_str(text).map_err(|e| parse(e.to_string()))?;
    if v.version > RECORD_VERSION {
        return Err(Error::Newer {
            path: path.to_path_buf(),
            found: v.version,
        });
    }
    serde_json::from_str(text).map_err(|e| parse(e.to_string()))
}

/// The store paths `env` refers to, but itself.
fn references(env: &Path) -> Result<Vec<PathBuf>, Error> {
    let out =
        nix_store(&["-q".as_ref(), "--references".as_ref(), env.as_os_str()]).map_err(|cause| {
            Error::References {
                path: env.to_path_buf(),
                cause,
            }
        })?;
    Ok(out
        .lines()
        .map(PathBuf::from)
        .filter(|p| p != env)
        .collect())
}

/// Runs `nix-store ARGS`, its stdout or what went wrong.
fn nix_store(args: &[&std::ffi::OsStr]) -> Result<String, String> {
    let out = duct::cmd("nix-store", args)
        .stdin_null()
        .stderr_capture()
        .stdout_capture()
        .unchecked()
        .run()
        .map_err(|e| format!("cannot run nix-store: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "nix-store failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The size in bytes of `path`'s closure (what it needs in the store), as
/// `nix path-info -S` counts it; `None` when Nix cannot tell.
pub fn closure_size(path: &Path) -> Option<u64> {
    let paths = nix_store(&["-q".as_ref(), "--requisites".as_ref(), path.as_os_str()]).ok()?;
    let mut args: Vec<&std::ffi::OsStr> = vec!["-q".as_ref(), "--size".as_ref()];
    args.extend(paths.lines().map(std::ffi::OsStr::new));
    let sizes = nix_store(&args).ok()?;
    sizes
        .lines()
        .map(|l| l.trim().parse::<u64>().ok())
        .sum::<Option<u64>>()
}

/// A package name with the versions it has in each environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changed {
    pub name: String,
    pub old: Vec<String>,
    pub new: Vec<String>,
}

/// A package name only one environment has, with its versions there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Named {
    pub name: String,
    pub versions: Vec<String>,
}

/// Who installs a generation's packages environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Installer {
    /// hearth, as the packages profile (the manifest's `packages`).
    Profile,
    /// The system, from the manifest's `systemPackages`: hearth shows
    /// what changes in it and never installs it.
    System,
}

/// The packages environment a generation names, and who installs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Env {
    pub path: PathBuf,
    pub by: Installer,
}

/// The packages environment a manifest names, and who installs it.
pub fn env_of(m: &crate::manifest::Manifest) -> Option<Env> {
    match (&m.packages, &m.system_packages) {
        (Some(path), _) => Some(Env {
            path: path.clone(),
            by: Installer::Profile,
        }),
        (None, Some(path)) => Some(Env {
            path: path.clone(),
            by: Installer::System,
        }),
        (None, None) => None,
    }
}

impl Env {
    /// The environment, when it is the packages profile's.
    pub fn profile(self) -> Option<PathBuf> {
        (self.by == Installer::Profile).then_some(self.path)
    }

    /// The environment, when the system installs it.
    pub fn system(self) -> Option<PathBuf> {
        (self.by == Installer::System).then_some(self.path)
    }
}

/// What changes from one packages environment to another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diff {
    /// `None`: there was no environment before.
    pub old: Option<PathBuf>,
    /// `None`: there is none after (a generation of the system's whose
    /// packages were all removed).
    pub new: Option<PathBuf>,
    pub added: Vec<Named>,
    pub removed: Vec<Named>,
    /// The same name with other versions (outputs of one version count once).
    pub changed: Vec<Changed>,
    /// Closure sizes in bytes (old, new); `None` when Nix could not tell.
    pub closure: Option<(u64, u64)>,
    /// An environment whose packages could not be read: the lists are
    /// then incomplete, and this says why.
    pub problem: Option<String>,
    /// Who installs the environments: the profile's old environment is
    /// where the profile was; the system's, the previous generation's.
    pub by: Installer,
}

impl Diff {
    /// Whether a package name or version changes.
    pub fn lists_changes(&self) -> bool {
        !(self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty())
    }
}

/// The versions of each package name (outputs folded together).
fn versions(list: &[Package]) -> BTreeMap<&str, BTreeSet<&str>> {
    let mut by_name: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for p in list {
        by_name.entry(&p.name).or_default().insert(&p.version);
    }
    by_name
}

/// Compares two lists of packages by name (pure).
pub fn compare(old: &[Package], new: &[Package]) -> (Vec<Named>, Vec<Named>, Vec<Changed>) {
    let (old, new) = (versions(old), versions(new));
    let own = |set: &BTreeSet<&str>| set.iter().map(|v| (*v).to_string()).collect::<Vec<_>>();
    let mut added = Vec::new();
    let mut changed = Vec::new();
    for (name, vs) in &new {
        match old.get(name) {
            None => added.push(Named {
                name: (*name).to_string(),
                versions: own(vs),
            }),
            Some(was) if was != vs => changed.push(Changed {
                name: (*name).to_string(),
                old: own(was),
                new: own(vs),
            }),
            Some(_) => {}
        }
    }
    let removed = old
        .iter()
        .filter(|(name, _)| !new.contains_key(*name))
        .map(|(name, vs)| Named {
            name: (*name).to_string(),
            versions: own(vs),
        })
        .collect();
    (added, removed, changed)
}

/// What changes from environment `old` to `new` (the caller has checked
/// that they differ). Reads both records and asks Nix for the closures.
pub fn diff(old: Option<&Path>, new: &Path) -> Diff {
    diff_of(old, Some(new))
}

/// `diff`, where there may be no environment after either.
fn diff_of(old: Option<&Path>, new: Option<&Path>) -> Diff {
    let mut problems = Vec::new();
    let mut read = |env: &Path| {
        read_env(env).unwrap_or_else(|e| {
            problems.push(e.to_string());
            Vec::new()
        })
    };
    let new_list = new.map(&mut read).unwrap_or_default();
    let old_list = old.map(&mut read).unwrap_or_default();
    let (added, removed, changed) = compare(&old_list, &new_list);
    let size = |env: Option<&Path>| env.map_or(Some(0), closure_size);
    let closure = size(old).zip(size(new));
    Diff {
        old: old.map(Path::to_path_buf),
        new: new.map(Path::to_path_buf),
        added,
        removed,
        changed,
        closure,
        problem: (!problems.is_empty()).then(|| problems.join("\n")),
        by: Installer::Profile,
    }
}

/// What changes in the environment the system installs, from the previous
/// generation's `old` to the new generation's `new`, when they differ (one
/// of them may be none: every package added, or every one removed).
/// `old` is only looked up (in the history's record, or, for a record of
/// an older hearth, the previous manifest) when the generation itself
/// changes: the same generation names the same environment, so re-applying
/// it (every NixOS switch) reads nothing.
pub fn system_diff(
    new: Option<&Path>,
    new_gen: &Path,
    old_gen: Option<&Path>,
    old: impl FnOnce() -> Option<Env>,
) -> Option<Diff> {
    if old_gen == Some(new_gen) {
        return None;
    }
    let old = old().and_then(Env::system);
    if old.as_deref() == new || (old.is_none() && new.is_none()) {
        return None;
    }
    Some(Diff {
        by: Installer::System,
        ..diff_of(old.as_deref(), new)
    })
}

/// The environment a profile (or one of its `-N-link`s) points at now.
pub fn resolve(link: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(link).ok()
}

/// The `packages` or `systemPackages` field of a manifest, read without
/// validating the rest (the generation was validated when it was applied);
/// `None` when the manifest cannot be read.
pub fn manifest_packages(manifest: &Path) -> Option<Option<Env>> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Only {
        #[serde(default)]
        packages: Option<PathBuf>,
        #[serde(default)]
        system_packages: Option<PathBuf>,
    }
    let text = std::fs::read_to_string(manifest).ok()?;
    let only = serde_json::from_str::<Only>(&text).ok()?;
    Some(match (only.packages, only.system_packages) {
        (Some(path), _) => Some(Env {
            path,
            by: Installer::Profile,
        }),
        (None, Some(path)) => Some(Env {
            path,
            by: Installer::System,
        }),
        (None, None) => None,
    })
}

/// The packages environment of a recorded generation, and who installs
/// it, as the history records it. A record written before hearth recorded
/// it: from the generation's manifest, or from the copy of it that hearth
/// then kept beside its state (`manifests/N.json`) once the generation is
/// gone from the store.
pub fn generation_packages(g: &GenRecord, state_dir: &Path) -> Option<Env> {
    if let Some(recorded) = &g.packages {
        return recorded.clone();
    }
    manifest_packages(&g.path.join(crate::manifest::MANIFEST_NAME))
        .or_else(|| manifest_packages(&state_dir.join(format!("manifests/{}.json", g.number))))
        .flatten()
}

/// `hearth status`: the packages profile against the current generation's
/// environment. `None` when it is on it (two paths compared, nothing else
/// read) or the generation has none; otherwise the profile and what
/// activating the generation again would change in it.
pub fn status(home: &Path, cur: &GenRecord) -> Option<(PathBuf, Diff)> {
    let state_dir = crate::home::state::dir_for(home);
    // The system's environment: nothing of hearth's to compare it with.
    let want = generation_packages(cur, &state_dir)?.profile()?;
    let profile = crate::home::roots::profile(&state_dir, home);
    let have = resolve(&profile);
    if have.as_ref() == Some(&want) {
        return None;
    }
    let diff = diff(have.as_deref(), &want);
    Some((profile, diff))
}

/// The profile's generations: (N, what `NAME-N-link` points at), by N.
pub fn profile_generations(profile: &Path) -> Vec<(u64, PathBuf)> {
    let (Some(dir), Some(base)) = (profile.parent(), profile.file_name()) else {
        return Vec::new();
    };
    let prefix = format!("{}-", base.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(u64, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let n = name
                .to_str()?
                .strip_prefix(&prefix)?
                .strip_suffix("-link")?
                .parse::<u64>()
                .ok()?;
            Some((n, resolve(&e.path())?))
        })
        .collect();
    found.sort();
    found
}

/// The profile generations to delete once hearth generations are removed:
/// those that point at an environment of a removed generation (`gone`)
/// that no remaining generation uses (`kept`), never the profile's current
/// one. A link of the user's own making, to anything else, stays.
pub fn prunable(
    links: &[(u64, PathBuf)],
    current: Option<u64>,
    gone: &[PathBuf],
    kept: &[PathBuf],
) -> Vec<u64> {
    links
        .iter()
        .filter(|(n, env)| Some(*n) != current && gone.contains(env) && !kept.contains(env))
        .map(|(n, _)| *n)
        .collect()
}

/// The number of the profile generation the profile points at now.
pub fn current_profile_generation(profile: &Path) -> Option<u64> {
    let link = std::fs::read_link(profile).ok()?;
    let name = link.file_name()?.to_str()?.to_string();
    let base = profile.file_name()?.to_str()?;
    name.strip_prefix(&format!("{base}-"))?
        .strip_suffix("-link")?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drv_names_split_like_nix() {
        for (s, want) in [
            ("hello-1.0", ("hello", "1.0")),
            ("hello-fork-1.0", ("hello-fork", "1.0")),
            ("hm-session-vars.sh", ("hm-session-vars.sh", "")),
            (
                "python3.11-requests-2.31.0",
                ("python3.11-requests", "2.31.0"),
            ),
            ("foo-unstable-2024-01-01", ("foo-unstable", "2024-01-01")),
            // Nix splits at a `-` before any non-letter, not only a digit.
            ("foo-_bar", ("foo", "_bar")),
            ("trailing-", ("trailing-", "")),
        ] {
            assert_eq!(parse_drv_name(s), want, "{s}");
        }
    }

    #[test]
    fn outputs_come_off_the_name() {
        let p = |name: &str| PathBuf::from(format!("/nix/store/{}-{name}", "a".repeat(32)));
        let got = package(&p("libfoo-1.0-dev"), Some("dev"), false);
        assert_eq!(
            (got.name.as_str(), got.version.as_str(), got.output.as_str()),
            ("libfoo", "1.0", "dev")
        );
        let got = package(&p("libfoo-1.0-man"), None, true);
        assert_eq!((got.version.as_str(), got.output.as_str()), ("1.0", "man"));
        // A name ending in an output's name is not that output.
        let got = package(&p("foo-bin"), None, false);
        assert_eq!(
            (got.name.as_str(), got.version.as_str(), got.output.as_str()),
            ("foo-bin", "", "out")
        );
        let got = package(&p("hello-1.0"), Some("out"), false);
        assert_eq!((got.name.as_str(), got.version.as_str()), ("hello", "1.0"));
    }

    #[test]
    fn compare_by_name_and_versions() {
        let p = |name: &str| {
            package(
                Path::new(&format!("/x/{}-{name}", "a".repeat(32))),
                None,
                false,
            )
        };
        let old = [
            p("hello-1.0"),
            p("gone-2.0"),
            p("same-1"),
            p("libfoo-1.0"),
            p("libfoo-1.0-dev"),
        ];
        let new = [p("hello-1.1"), p("added-3.1"), p("same-1"), p("libfoo-1.0")];
        let (added, removed, changed) = compare(&old, &new);
        assert_eq!(
            added.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
            ["added"]
        );
        assert_eq!(
            removed.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
            ["gone"]
        );
        assert_eq!(
            changed,
            [Changed {
                name: "hello".into(),
                old: vec!["1.0".into()],
                new: vec!["1.1".into()]
            }]
        );
    }

    /// The system's environment is compared by store path, and the
    /// previous generation is not even looked up when it is the same.
    #[test]
    fn system_diff_only_when_the_environment_changes() {
        let (gen, other) = (Path::new("/nix/store/g1"), Path::new("/nix/store/g2"));
        let env = Path::new("/nix/store/e1");
        let sys = |p: &str| Env {
            path: p.into(),
            by: Installer::System,
        };
        let unread = || -> Option<Env> { panic!("the previous generation was read") };
        assert_eq!(system_diff(Some(env), gen, Some(gen), unread), None);
        assert_eq!(system_diff(None, gen, Some(gen), unread), None);
        // No environment before nor after: nothing to tell.
        assert_eq!(system_diff(None, gen, Some(other), || None), None);
        // The profile's environment before is not the system's.
        let profile = || {
            Some(Env {
                path: "/nix/store/e0".into(),
                by: Installer::Profile,
            })
        };
        assert_eq!(system_diff(None, gen, Some(other), profile), None);
        // Every package removed: told, with no environment after (the
        // environment does not exist here, so its packages are unread,
        // which the diff says).
        let gone = system_diff(None, gen, Some(other), || Some(sys("/nix/store/e0"))).unwrap();
        assert_eq!(gone.old, Some(PathBuf::from("/nix/store/e0")));
        assert_eq!(gone.new, None);
        assert_eq!(gone.by, Installer::System);
        assert_eq!(
            system_diff(Some(env), gen, Some(other), || Some(sys("/nix/store/e1"))),
            None
        );
    }

    #[test]
    fn prune_only_what_removed_generations_used() {
        let e = |s: &str| PathBuf::from(format!("/nix/store/{s}"));
        let links = vec![(1, e("a")), (2, e("b")), (3, e("c")), (4, e("user"))];
        // Generation with env a removed; b is still used; c is current.
        assert_eq!(
            prunable(&links, Some(3), &[e("a"), e("b"), e("c")], &[e("b")]),
            [1]
        );
    }
}
