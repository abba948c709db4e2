//! The packages environment: what nixpkgs' `buildEnv` does for a profile.
//! The packages' trees are merged into one tree of symlinks; `plan` decides
//! (pure, over listings), `list` reads the store and `write` creates OUT.
//! Never writes anywhere but OUT, never follows a link out of the Nix store.
//!
//! The rules, and where they differ from nixpkgs (docs/generation-spec.md):
//! - a real directory of a package becomes a real directory of OUT, merged
//!   with the same directory of every other package;
//! - a symlink to a directory is linked as it is when no other package has
//!   that path, and followed (expanded into real directories) when one does,
//!   so that both merge;
//! - anything else (file, symlink to a file, dangling symlink) is a leaf:
//!   OUT/path is a symlink to PKG/path. Among leaves at one path the lowest
//!   priority number wins; equal numbers with different content collide;
//! - two leaves are the same (no collision) when they resolve to the same
//!   path, or are regular files with the same permissions and bytes (nixpkgs'
//!   default `checkCollisionContents = true`);
//! - a file and a directory at one path: the better priority wins; equal
//!   priorities collide.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fmt;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use crate::build::spec;
use crate::home::packages::{Record, RecordEntry, RECORD, RECORD_VERSION};

/// The priority of a package without `meta.priority`, as in nixpkgs.
pub const DEFAULT_PRIORITY: i64 = 5;

/// Propagated packages (nix-support/propagated-user-env-packages) come after
/// every package named in the spec, as in nixpkgs' builder.pl.
const PROPAGATED_PRIORITY: i64 = 1000;

// ---------------------------------------------------------------------------
// The spec

/// `hearth build-env SPEC.json OUT`: the packages and what to link of them.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    pub paths: Vec<SpecPackage>,
    /// Outputs to link besides each package's `path` (e.g. "dev", "man"),
    /// taken from the package's `outputs` when it has them.
    #[serde(default)]
    pub extra_outputs_to_install: Vec<String>,
    /// Only these subtrees are linked; `["/"]` (the default) links all.
    #[serde(default = "default_paths_to_link")]
    pub paths_to_link: Vec<String>,
}

fn default_paths_to_link() -> Vec<String> {
    vec!["/".to_string()]
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SpecPackage {
    /// The output to link (the package's default output).
    pub path: PathBuf,
    /// `meta.priority`; null means 5. Lower wins (`lib.hiPrio` is -10).
    #[serde(default)]
    pub priority: Option<i64>,
    /// For messages; defaults to the store path's name.
    #[serde(default)]
    pub name: Option<String>,
    /// All outputs of the package by name, for `extraOutputsToInstall`.
    #[serde(default)]
    pub outputs: BTreeMap<String, PathBuf>,
    /// Which output of the package `path` is ("out", "dev"), for the
    /// record of the packages (`hearth packages`, package changes).
    #[serde(default)]
    pub output: Option<String>,
}

// ---------------------------------------------------------------------------
// Listings: what `list` found in the store, what `plan` decides on.

/// The entries of one directory, by name (sorted: the plan is deterministic).
pub type Dir = BTreeMap<OsString, Entry>;

#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
    /// A real directory.
    Dir(Dir),
    /// A symlink to a directory in the store, with that directory's entries.
    LinkedDir(Dir),
    /// Anything else: a file, a symlink to one, a dangling symlink, a link
    /// to a directory outside the store.
    Leaf(Leaf),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leaf {
    /// The path it resolves to, or None when it dangles.
    pub real: Option<PathBuf>,
    /// Set when it resolves to a regular file: candidates for a content comparison.
    pub file: Option<FileFacts>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileFacts {
    pub size: u64,
    /// Permission bits.
    pub mode: u32,
}

/// One store path to merge, listed.
#[derive(Clone, Debug, PartialEq)]
pub struct Package {
    pub name: String,
    pub path: PathBuf,
    pub priority: i64,
    /// Propagated by another package: collisions with it are not errors (it
    /// loses to everything named in the spec), as in nixpkgs.
    pub propagated: bool,
    pub root: Dir,
}

/// The result: OUT as a tree of real directories and symlinks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tree {
    Dir(BTreeMap<OsString, Tree>),
    Link(PathBuf),
}

/// Pairs of files (in either order) whose bytes are known to be equal.
pub type SameContents = BTreeSet<(PathBuf, PathBuf)>;

// ---------------------------------------------------------------------------
// Collisions

/// One package's claim on a colliding path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claimant {
    pub name: String,
    pub package: PathBuf,
    pub priority: i64,
    /// PKG/path, what OUT/path would link to.
    pub at: PathBuf,
    pub is_dir: bool,
    pub file: Option<FileFacts>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Collision {
    /// Relative to the environment.
    pub path: PathBuf,
    /// Every package with a different thing at `path`, in spec order.
    pub claimants: Vec<Claimant>,
}

/// Every collision of an environment, reported at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Collisions(pub Vec<Collision>);

impl Collisions {
    /// Pairs of colliding regular files that could still turn out identical
    /// (same size and permissions): their bytes must be compared.
    pub fn content_candidates(&self) -> Vec<(PathBuf, PathBuf)> {
        let mut pairs = Vec::new();
        for c in &self.0 {
            for (i, a) in c.claimants.iter().enumerate() {
                for b in &c.claimants[i + 1..] {
                    if a.file.is_some() && a.file == b.file {
                        pairs.push((a.at.clone(), b.at.clone()));
                    }
                }
            }
        }
        pairs
    }
}

impl fmt::Display for Collisions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(
            f,
            "{n} path{} collide{} in the packages environment (packages with equal priority provide different files):",
            if n == 1 { "" } else { "s" },
            if n == 1 { "s" } else { "" },
        )?;
        for c in &self.0 {
            writeln!(f, "  {}", c.path.display())?;
            for who in &c.claimants {
                let what = if who.is_dir { " (a directory)" } else { "" };
                writeln!(
                    f,
                    "    {}{what}  from {} (priority {})",
                    who.at.display(),
                    who.name,
                    who.priority
                )?;
            }
        }
        write!(
            f,
            "hint: choose the package that wins: wrap it in `lib.hiPrio` (priority -10) or the other in \
             `lib.lowPrio` (priority 10), or set `meta.priority` (a lower number wins; the default is 5); \
             or remove one of them from home.packages"
        )
    }
}

// ---------------------------------------------------------------------------
// Errors

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Spec(#[from] spec::Error),
    #[error("{spec}: {json_path}: {} does not exist\nhint: the spec must name built store paths (pass them with string context)", path.display())]
    Missing {
        spec: PathBuf,
        json_path: String,
        path: PathBuf,
    },
    #[error("package {name}: {} is a file, not a directory; a single file cannot be merged into an environment\nhint: build it as a directory (e.g. writeScriptBin / writeTextDir instead of writeScript / writeText)", path.display())]
    NotADirectory { name: String, path: PathBuf },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{0}")]
    Collisions(Collisions),
    #[error("{} already exists; build-env creates its output directory itself", path.display())]
    OutExists { path: PathBuf },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
}

impl Error {
    /// The exit status: 2 for a bad spec or colliding packages (fix the
    /// configuration), 1 for I/O.
    pub fn exit_code(&self) -> crate::exit::ExitCode {
        use crate::exit::ExitCode;
        match self {
            Error::Spec(e) => e.exit_code(),
            Error::Missing { .. }
            | Error::NotADirectory { .. }
            | Error::Collisions(_)
            | Error::OutExists { .. } => ExitCode::InvalidInput,
            Error::Read { .. } | Error::Write { .. } => ExitCode::Error,
        }
    }
}

// ---------------------------------------------------------------------------
// Effects: read the spec, list the packages, write OUT.

/// The whole command: read SPEC, list, plan, write OUT.
pub fn build(spec_path: &Path, out: &Path) -> Result<Tree, Error> {
    let spec = read_spec(spec_path)?;
    let packages = list(spec_path, &spec)?;
    let links = normalize_paths_to_link(&spec.paths_to_link);
    let tree = match plan(&packages, &links, &SameContents::new()) {
        Ok(tree) => tree,
        // Comparing bytes costs reads, so it is done only for the files
        // that collide; the second plan then knows which are identical.
        Err(collisions) => {
            let same = compare_contents(&collisions.content_candidates())?;
            plan(&packages, &links, &same).map_err(Error::Collisions)?
        }
    };
    write(&tree, out)?;
    write_record(&record(&spec, &packages), out)?;
    Ok(tree)
}

/// What was merged, for `hearth packages` and the package changes that
/// `plan` and `activate` show (see `home::packages`): every store path
/// linked, with its output when the spec says it, in merge order.
pub fn record(spec: &Spec, packages: &[Package]) -> Record {
    let output_of = |path: &Path| {
        spec.paths.iter().find_map(|p| {
            if p.path == path {
                p.output.clone()
            } else {
                p.outputs
                    .iter()
                    .find(|(_, o)| o.as_path() == path)
                    .map(|(name, _)| name.clone())
            }
        })
    };
    Record {
        version: RECORD_VERSION,
        packages: packages
            .iter()
            .map(|p| RecordEntry {
                path: p.path.clone(),
                output: output_of(&p.path),
                priority: p.priority,
                propagated: p.propagated,
            })
            .collect(),
    }
}

/// Writes the record into OUT (read-only, like the rest of a store path).
fn write_record(record: &Record, out: &Path) -> Result<(), Error> {
    let file = out.join(RECORD);
    let write_err = |source| Error::Write {
        path: file.clone(),
        source,
    };
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(write_err)?;
    }
    let text = serde_json::to_string_pretty(record)
        .map_err(|e| write_err(io::Error::new(io::ErrorKind::InvalidData, e)))?;
    std::fs::write(&file, text + "\n").map_err(write_err)?;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o444)).map_err(write_err)
}

pub fn read_spec(path: &Path) -> Result<Spec, Error> {
    Ok(spec::read("build-env", path)?)
}

/// Lists every store path the spec asks for (the packages, their extra
/// outputs and what they propagate), in spec order.
pub fn list(spec_path: &Path, spec: &Spec) -> Result<Vec<Package>, Error> {
    let mut packages = Vec::new();
    let mut seen = BTreeSet::new();
    let mut propagated = Vec::new();
    for (i, p) in spec.paths.iter().enumerate() {
        let priority = p.priority.unwrap_or(DEFAULT_PRIORITY);
        let name = p.name.clone().unwrap_or_else(|| store_name(&p.path));
        let mut paths = vec![(format!("paths[{i}].path"), p.path.clone())];
        for out in &spec.extra_outputs_to_install {
            // A package without that output is skipped, as nixpkgs does.
            if let Some(path) = p.outputs.get(out) {
                paths.push((format!("paths[{i}].outputs.{out}"), path.clone()));
            }
        }
        for (json_path, path) in paths {
            // Named twice (say, once through lib.hiPrio): listed once, with
            // the better of the two priorities.
            if let Some(earlier) = packages.iter_mut().find(|q: &&mut Package| q.path == path) {
                earlier.priority = earlier.priority.min(priority);
                continue;
            }
            seen.insert(path.clone());
            if std::fs::symlink_metadata(&path).is_err() {
                return Err(Error::Missing {
                    spec: spec_path.to_path_buf(),
                    json_path,
                    path,
                });
            }
            propagated.extend(read_propagated(&path)?);
            packages.push(list_package(&name, &path, priority, false)?);
        }
    }
    // Propagated packages in rounds (they may propagate more), each round
    // sorted, each with its own priority: the result does not depend on
    // which package propagated them.
    let mut priority = PROPAGATED_PRIORITY;
    while !propagated.is_empty() {
        let round: BTreeSet<PathBuf> = propagated.drain(..).filter(|p| !seen.contains(p)).collect();
        for path in round {
            seen.insert(path.clone());
            if std::fs::symlink_metadata(&path).is_err() {
                continue;
            }
            propagated.extend(read_propagated(&path)?);
            let name = store_name(&path);
            packages.push(list_package(&name, &path, priority, true)?);
            priority += 1;
        }
    }
    Ok(packages)
}

fn read_propagated(pkg: &Path) -> Result<Vec<PathBuf>, Error> {
    let file = pkg.join("nix-support/propagated-user-env-packages");
    match std::fs::read_to_string(&file) {
        Ok(text) => Ok(text.split_whitespace().map(PathBuf::from).collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(Error::Read { path: file, source }),
    }
}

/// `hello-2.12` for `/nix/store/<hash>-hello-2.12`.
fn store_name(path: &Path) -> String {
    let base = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    match base.split_once('-') {
        Some((hash, rest)) if hash.len() == 32 => rest.to_string(),
        _ => base,
    }
}

pub fn list_package(
    name: &str,
    path: &Path,
    priority: i64,
    propagated: bool,
) -> Result<Package, Error> {
    let meta = std::fs::metadata(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(Error::NotADirectory {
            name: name.to_string(),
            path: path.to_path_buf(),
        });
    }
    let real = canonical(path)?;
    let root = list_dir(path, &mut vec![real])?;
    Ok(Package {
        name: name.to_string(),
        path: path.to_path_buf(),
        priority,
        propagated,
        root,
    })
}

fn canonical(path: &Path) -> Result<PathBuf, Error> {
    std::fs::canonicalize(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Lists `dir`. `open` holds the real paths of the directories being listed
/// (this one and its parents): a link back to one of them is a cycle and is
/// kept as a leaf instead of being followed forever.
fn list_dir(dir: &Path, open: &mut Vec<PathBuf>) -> Result<Dir, Error> {
    let read_err = |source| Error::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries = Dir::new();
    for item in std::fs::read_dir(dir).map_err(read_err)? {
        let item = item.map_err(read_err)?;
        let path = item.path();
        let meta = std::fs::symlink_metadata(&path).map_err(|source| Error::Read {
            path: path.clone(),
            source,
        })?;
        let entry = if meta.is_dir() {
            open.push(canonical(&path)?);
            let listed = list_dir(&path, open);
            open.pop();
            Entry::Dir(listed?)
        } else if meta.is_symlink() {
            match std::fs::canonicalize(&path) {
                Err(_) => Entry::Leaf(Leaf {
                    real: None,
                    file: None,
                }),
                Ok(real) => {
                    let target = std::fs::metadata(&path).map_err(|source| Error::Read {
                        path: path.clone(),
                        source,
                    })?;
                    let in_store = real.starts_with(crate::sys::nixtools::store_dir());
                    let cycle = open.iter().any(|o| o.starts_with(&real));
                    if target.is_dir() && in_store && !cycle {
                        open.push(real);
                        let listed = list_dir(&path, open);
                        open.pop();
                        Entry::LinkedDir(listed?)
                    } else {
                        Entry::Leaf(Leaf {
                            file: target.is_file().then(|| facts(&target)),
                            real: Some(real),
                        })
                    }
                }
            }
        } else {
            Entry::Leaf(Leaf {
                real: Some(canonical(&path)?),
                file: meta.is_file().then(|| facts(&meta)),
            })
        };
        entries.insert(item.file_name(), entry);
    }
    Ok(entries)
}

fn facts(meta: &std::fs::Metadata) -> FileFacts {
    FileFacts {
        size: meta.len(),
        mode: meta.mode() & 0o7777,
    }
}

/// Compares the bytes of each pair; returns the pairs that are equal.
pub fn compare_contents(pairs: &[(PathBuf, PathBuf)]) -> Result<SameContents, Error> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|source| Error::Read {
            path: p.to_path_buf(),
            source,
        })
    };
    let mut same = SameContents::new();
    for (a, b) in pairs {
        if read(a)? == read(b)? {
            same.insert((a.clone(), b.clone()));
        }
    }
    Ok(same)
}

/// Creates OUT (which must not exist) as `tree`.
pub fn write(tree: &Tree, out: &Path) -> Result<(), Error> {
    if std::fs::symlink_metadata(out).is_ok() {
        return Err(Error::OutExists {
            path: out.to_path_buf(),
        });
    }
    write_node(tree, out)
}

fn write_node(tree: &Tree, at: &Path) -> Result<(), Error> {
    let write_err = |source| Error::Write {
        path: at.to_path_buf(),
        source,
    };
    match tree {
        Tree::Link(target) => std::os::unix::fs::symlink(target, at).map_err(write_err),
        Tree::Dir(children) => {
            std::fs::create_dir(at).map_err(write_err)?;
            // The store makes it read-only anyway; outside it, a fixed mode
            // keeps the output independent of the umask.
            std::fs::set_permissions(at, std::fs::Permissions::from_mode(0o755))
                .map_err(write_err)?;
            for (name, child) in children {
                write_node(child, &at.join(name))?;
            }
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------
// The decision

/// `pathsToLink` as relative paths; "/" becomes the empty path (everything).
pub fn normalize_paths_to_link(raw: &[String]) -> Vec<PathBuf> {
    raw.iter()
        .map(|p| {
            Path::new(p)
                .components()
                .filter(|c| matches!(c, Component::Normal(_)))
                .collect()
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Inside a path to link: linked.
    Inside,
    /// A parent of a path to link: only its directories are followed.
    Above,
    /// Neither: left out.
    Outside,
}

fn scope(rel: &Path, links: &[PathBuf]) -> Scope {
    if links.iter().any(|l| rel.starts_with(l)) {
        Scope::Inside
    } else if links.iter().any(|l| l.starts_with(rel)) {
        Scope::Above
    } else {
        Scope::Outside
    }
}

/// What nixpkgs' buildEnv never links: build metadata and files that are
/// regenerated per environment (so every package's copy would collide).
fn ignored(rel: &Path) -> bool {
    let parts: Vec<&std::ffi::OsStr> = rel.iter().collect();
    let base = parts.last().map(|b| b.to_string_lossy());
    rel == Path::new("nix-support")
        || rel == Path::new("propagated-build-inputs")
        || rel.ends_with("info/dir")
        || (rel.starts_with("share/mime")
            && rel != Path::new("share/mime")
            && !rel.starts_with("share/mime/packages"))
        || base.as_deref() == Some("perllocal.pod")
        || base.as_deref() == Some("log")
}

/// One package's entry at the path being decided.
#[derive(Clone)]
struct Claim<'p> {
    pkg: &'p Package,
    entry: &'p Entry,
    /// PKG/path.
    at: PathBuf,
}

impl<'p> Claim<'p> {
    fn dir(&self) -> Option<&'p Dir> {
        match self.entry {
            Entry::Dir(d) | Entry::LinkedDir(d) => Some(d),
            Entry::Leaf(_) => None,
        }
    }

    fn leaf(&self) -> Option<&'p Leaf> {
        match self.entry {
            Entry::Leaf(l) => Some(l),
            _ => None,
        }
    }

    fn claimant(&self) -> Claimant {
        Claimant {
            name: self.pkg.name.clone(),
            package: self.pkg.path.clone(),
            priority: self.pkg.priority,
            at: self.at.clone(),
            is_dir: self.dir().is_some(),
            file: self.leaf().and_then(|l| l.file),
        }
    }
}

/// Merges the packages (in spec order) into one tree, or lists every
/// collision. `links` comes from [`normalize_paths_to_link`]; `same` holds
/// pairs of files known to be byte-identical.
pub fn plan(
    packages: &[Package],
    links: &[PathBuf],
    same: &SameContents,
) -> Result<Tree, Collisions> {
    // The roots are real directories: their entries are `Package::root`.
    let claims = packages
        .iter()
        .map(|pkg| Claim {
            pkg,
            entry: &EMPTY_ENTRY,
            at: pkg.path.clone(),
        })
        .collect::<Vec<_>>();
    let mut collisions = Vec::new();
    let mut ctx = Ctx {
        links,
        same,
        collisions: &mut collisions,
    };
    let children = ctx.merge_dirs(Path::new(""), &claims, |c| &c.pkg.root);
    if collisions.is_empty() {
        Ok(Tree::Dir(children))
    } else {
        Err(Collisions(collisions))
    }
}

// Stands in for a package root's entry, which `plan` never looks at.
static EMPTY_ENTRY: Entry = Entry::Dir(BTreeMap::new());

struct Ctx<'a, 'c> {
    links: &'a [PathBuf],
    same: &'a SameContents,
    collisions: &'c mut Vec<Collision>,
}

impl Ctx<'_, '_> {
    /// The union of the directories claimed at `rel`, each name decided in turn.
    fn merge_dirs<'p>(
        &mut self,
        rel: &Path,
        claims: &[Claim<'p>],
        dir_of: impl Fn(&Claim<'p>) -> &'p Dir,
    ) -> BTreeMap<OsString, Tree> {
        let names: BTreeSet<&OsString> = claims.iter().flat_map(|c| dir_of(c).keys()).collect();
        let mut out = BTreeMap::new();
        for name in names {
            let child_rel = rel.join(name);
            let child_claims: Vec<Claim<'p>> = claims
                .iter()
                .filter_map(|c| {
                    dir_of(c).get(name).map(|entry| Claim {
                        pkg: c.pkg,
                        entry,
                        at: c.at.join(name),
                    })
                })
                .collect();
            if let Some(tree) = self.decide(&child_rel, &child_claims) {
                out.insert(name.clone(), tree);
            }
        }
        out
    }

    /// What OUT/rel becomes, given every package's entry there (None: nothing).
    fn decide<'p>(&mut self, rel: &Path, claims: &[Claim<'p>]) -> Option<Tree> {
        if ignored(rel) {
            return None;
        }
        let scope = scope(rel, self.links);
        if scope == Scope::Outside {
            return None;
        }
        let dirs: Vec<Claim<'p>> = claims
            .iter()
            .filter(|c| c.dir().is_some())
            .cloned()
            .collect();
        let leaves: Vec<Claim<'p>> = claims
            .iter()
            .filter(|c| c.dir().is_none())
            .cloned()
            .collect();
        let best = |cs: &[Claim]| cs.iter().map(|c| c.pkg.priority).min();
        // Above a path to link only directories lead somewhere.
        if scope == Scope::Above {
            let merged = self.merge_dirs(rel, &dirs, |c| c.dir().unwrap_or(&EMPTY_DIR));
            return (!merged.is_empty()).then_some(Tree::Dir(merged));
        }
        match (best(&dirs), best(&leaves)) {
            (None, None) => None,
            (Some(_), None) => Some(self.dirs(rel, &dirs)),
            (None, Some(p)) => self.leaves(rel, &leaves, p),
            (Some(d), Some(l)) if l < d => self.leaves(rel, &leaves, l),
            (Some(d), Some(l)) if d < l => Some(self.dirs(rel, &dirs)),
            (Some(p), Some(_)) => {
                // In spec order, whether directory or file.
                let claimants: Vec<&Claim> =
                    claims.iter().filter(|c| c.pkg.priority == p).collect();
                // A propagated package never wins over, nor blocks, another.
                if claimants.iter().any(|c| c.pkg.propagated) {
                    return Some(self.dirs(rel, &dirs));
                }
                self.collide(rel, claimants.iter().map(|c| c.claimant()).collect());
                // Still merge the directories: collisions below are reported too.
                let _ = self.dirs(rel, &dirs);
                None
            }
        }
    }

    /// Directories only: a lone link to a directory is kept as a link;
    /// anything else becomes a real directory holding the union.
    fn dirs(&mut self, rel: &Path, dirs: &[Claim]) -> Tree {
        if let [only] = dirs {
            if matches!(only.entry, Entry::LinkedDir(_)) {
                return Tree::Link(only.at.clone());
            }
        }
        Tree::Dir(self.merge_dirs(rel, dirs, |c| c.dir().unwrap_or(&EMPTY_DIR)))
    }

    /// Leaves only, `best` being the lowest priority among them.
    fn leaves(&mut self, rel: &Path, leaves: &[Claim], best: i64) -> Option<Tree> {
        let group: Vec<&Claim> = leaves.iter().filter(|c| c.pkg.priority == best).collect();
        // One representative per distinct content, in spec order.
        let mut distinct: Vec<&Claim> = Vec::new();
        for c in &group {
            if !distinct.iter().any(|d| self.identical(d, c)) {
                distinct.push(c);
            }
        }
        let winner = distinct.first()?;
        if distinct.len() > 1 && !distinct.iter().any(|c| c.pkg.propagated) {
            self.collide(rel, distinct.iter().map(|c| c.claimant()).collect());
            return None;
        }
        Some(Tree::Link(winner.at.clone()))
    }

    fn identical(&self, a: &Claim, b: &Claim) -> bool {
        let (Some(la), Some(lb)) = (a.leaf(), b.leaf()) else {
            return false;
        };
        (la.real.is_some() && la.real == lb.real)
            || self.same.contains(&(a.at.clone(), b.at.clone()))
            || self.same.contains(&(b.at.clone(), a.at.clone()))
    }

    fn collide(&mut self, rel: &Path, claimants: Vec<Claimant>) {
        self.collisions.push(Collision {
            path: rel.to_path_buf(),
            claimants,
        });
    }
}

static EMPTY_DIR: Dir = BTreeMap::new();

#[cfg(test)]
mod tests;
