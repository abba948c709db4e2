//! Shared fixtures for the integration tests: generations built by a real
//! nix-build, throwaway homes, the hearth binary run as a process, and full
//! snapshots of a home to compare before and after.
//! Nothing here may depend on how hearth behaves: it only sets the stage.

#[macro_use]
pub mod users;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------
// Generations

/// One file of a tree: (path relative to the tree, content, executable).
pub type TreeEntry<'a> = (&'a str, &'a str, bool);

/// Where a file entry's `source` comes from.
#[derive(Clone, Debug)]
pub enum Source {
    /// A store file holding this text.
    Text(String),
    /// A store directory holding these files: (relative path, content, executable).
    Tree(Vec<(String, String, bool)>),
    /// This string, as it is (need not exist, nor be in the store).
    Path(String),
}

/// One entry of the manifest's `files`. Nothing is validated, so that tests
/// of bad input can build manifests hearth must reject.
#[derive(Clone, Debug)]
pub struct FileSpec {
    pub target: String,
    pub source: Source,
    /// `"type": "copy"` when true, `"symlink"` otherwise.
    pub copy: bool,
    pub mode: Option<String>,
    pub force: bool,
    /// Shell script text, made into an executable `#!/bin/sh` script.
    pub on_change: Option<String>,
}

impl FileSpec {
    /// A symlink to a store file holding `content`.
    pub fn text(target: &str, content: &str) -> Self {
        Self::with_source(target, Source::Text(content.to_owned()))
    }

    /// A symlink to a store directory holding `entries`.
    pub fn tree(target: &str, entries: &[TreeEntry]) -> Self {
        Self::with_source(target, Source::Tree(owned_entries(entries)))
    }

    /// A symlink to `path`, taken as it is.
    pub fn path(target: &str, path: &str) -> Self {
        Self::with_source(target, Source::Path(path.to_owned()))
    }

    fn with_source(target: &str, source: Source) -> Self {
        FileSpec {
            target: target.to_owned(),
            source,
            copy: false,
            mode: None,
            force: false,
            on_change: None,
        }
    }

    pub fn copy(mut self) -> Self {
        self.copy = true;
        self
    }

    /// An octal string such as "0600", passed through as it is.
    pub fn mode(mut self, mode: &str) -> Self {
        self.mode = Some(mode.to_owned());
        self
    }

    pub fn force(mut self) -> Self {
        self.force = true;
        self
    }

    pub fn on_change(mut self, script: &str) -> Self {
        self.on_change = Some(script.to_owned());
        self
    }
}

/// One activation step; `after` is passed through as it is.
#[derive(Clone, Debug)]
pub struct StepSpec {
    pub name: String,
    pub after: String,
    /// Shell script text, made into an executable `#!/bin/sh` script.
    pub script: String,
}

/// A generation to build: the manifest's fields, with sources given as
/// content that `build_generations` puts into the store.
#[derive(Clone, Debug)]
pub struct GenSpec {
    pub user: String,
    pub home: String,
    pub backup_extension: Option<String>,
    pub files: Vec<FileSpec>,
    /// Files of the packages environment (e.g. `("bin/hello", "...", true)`).
    pub packages: Option<Vec<(String, String, bool)>>,
    pub activation: Vec<StepSpec>,
    /// When set, manifest.json is exactly this text and the fields above are ignored.
    pub raw_manifest: Option<String>,
}

impl GenSpec {
    /// An empty generation for the current user and `home`.
    pub fn new(home: impl AsRef<Path>) -> Self {
        GenSpec {
            user: current_user(),
            home: path_str(home.as_ref()).to_owned(),
            backup_extension: None,
            files: Vec::new(),
            packages: None,
            activation: Vec::new(),
            raw_manifest: None,
        }
    }

    /// A generation whose manifest.json is exactly `manifest` (for bad input).
    pub fn raw(manifest: &str) -> Self {
        GenSpec {
            raw_manifest: Some(manifest.to_owned()),
            ..GenSpec::new("/")
        }
    }

    pub fn user(mut self, user: &str) -> Self {
        self.user = user.to_owned();
        self
    }

    pub fn backup_extension(mut self, ext: &str) -> Self {
        self.backup_extension = Some(ext.to_owned());
        self
    }

    /// Shorthand for `.file(FileSpec::text(target, content))`.
    pub fn text(self, target: &str, content: &str) -> Self {
        self.file(FileSpec::text(target, content))
    }

    pub fn file(mut self, file: FileSpec) -> Self {
        self.files.push(file);
        self
    }

    pub fn packages(mut self, entries: &[TreeEntry]) -> Self {
        self.packages = Some(owned_entries(entries));
        self
    }

    pub fn step(mut self, name: &str, after: &str, script: &str) -> Self {
        self.activation.push(StepSpec {
            name: name.to_owned(),
            after: after.to_owned(),
            script: script.to_owned(),
        });
        self
    }

    /// The build item for build.nix: manifest text in which every source
    /// to build is a marker, and the sources the markers stand for.
    fn item(&self) -> Value {
        let name = store_name(&format!("hearth-generation-{}", self.user));
        if let Some(raw) = &self.raw_manifest {
            return json!({ "kind": "generation", "name": name, "manifest": raw,
                           "markers": [], "sources": [] });
        }
        let mut sources = Vec::new();
        let mut add = |source: Value| {
            sources.push(source);
            format!("{MARKER}{}@", sources.len() - 1)
        };
        let mut files = Vec::new();
        for f in &self.files {
            let base = f.target.rsplit('/').next().unwrap_or_default();
            let name = format!("hearth-{base}");
            let source = match &f.source {
                Source::Text(text) => add(text_source(&name, text)),
                Source::Tree(entries) => add(tree_item(&name, entries)),
                Source::Path(path) => path.clone(),
            };
            let on_change = f
                .on_change
                .as_ref()
                .map(|script| add(script_source(&format!("hearth-onchange-{base}"), script)));
            files.push(json!({
                "target": f.target,
                "source": source,
                "type": if f.copy { "copy" } else { "symlink" },
                "mode": f.mode,
                "force": f.force,
                "onChange": on_change,
            }));
        }
        let packages = self
            .packages
            .as_ref()
            .map(|entries| add(tree_item("hearth-packages", entries)));
        let activation: Vec<Value> = self
            .activation
            .iter()
            .map(|step| {
                let script = add(script_source(
                    &format!("hearth-step-{}", step.name),
                    &step.script,
                ));
                json!({ "name": step.name, "after": step.after, "script": script })
            })
            .collect();
        let manifest = json!({
            "version": 1,
            "user": self.user,
            "home": self.home,
            "backupExtension": self.backup_extension,
            "files": files,
            "packages": packages,
            "activation": activation,
        });
        let manifest = serde_json::to_string_pretty(&manifest).expect("manifest serializes");
        let markers: Vec<String> = (0..sources.len())
            .map(|i| format!("{MARKER}{i}@"))
            .collect();
        assert_eq!(
            manifest.matches(MARKER).count(),
            markers.len(),
            "a target, name or path of this GenSpec contains {MARKER:?}, which marks sources"
        );
        json!({ "kind": "generation", "name": name, "manifest": manifest,
                "markers": markers, "sources": sources })
    }
}

/// Stands for the store path of a source in the manifest text until Nix
/// replaces it (see build.nix).
const MARKER: &str = "@hearth-source-";

fn owned_entries(entries: &[TreeEntry]) -> Vec<(String, String, bool)> {
    entries
        .iter()
        .map(|&(path, content, exe)| (path.to_owned(), content.to_owned(), exe))
        .collect()
}

fn text_source(name: &str, text: &str) -> Value {
    json!({ "kind": "text", "name": store_name(name), "text": nix_text(text) })
}

fn script_source(name: &str, script: &str) -> Value {
    let text = format!("#!/bin/sh\n{script}");
    json!({ "kind": "script", "name": store_name(name), "text": nix_text(&text) })
}

fn tree_item(name: &str, entries: &[(String, String, bool)]) -> Value {
    let entries: Vec<Value> = entries
        .iter()
        .map(|(path, content, executable)| {
            let normal = Path::new(path)
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
            assert!(
                normal && !path.is_empty(),
                "tree entry {path:?} must be a plain relative path"
            );
            json!({ "path": path, "content": nix_text(content), "executable": executable })
        })
        .collect();
    json!({ "kind": "tree", "name": store_name(name), "entries": entries })
}

/// Nix strings are C strings: a NUL would silently cut the content short.
fn nix_text(text: &str) -> &str {
    assert!(
        !text.contains('\0'),
        "file content for Nix must not contain NUL bytes"
    );
    text
}

/// A valid store path name: allowed characters only, no leading dot, not too long.
fn store_name(name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '+' | '-' | '.' | '_' | '?' | '=' => c,
            _ => '_',
        })
        .take(200)
        .collect();
    name.trim_start_matches('.').to_owned()
}

/// Builds all `specs` with one nix-build and returns their store paths, in order.
pub fn build_generations(specs: &[GenSpec]) -> Vec<PathBuf> {
    nix_build(specs.iter().map(GenSpec::item).collect())
}

pub fn build_generation(spec: &GenSpec) -> PathBuf {
    build_generations(std::slice::from_ref(spec)).remove(0)
}

/// A standalone store directory holding `entries`.
pub fn build_tree(entries: &[TreeEntry]) -> PathBuf {
    nix_build(vec![tree_item("hearth-tree", &owned_entries(entries))]).remove(0)
}

/// Runs build.nix on `items` (no GC roots: `--no-out-link`) and returns the
/// path of each item.
fn nix_build(items: Vec<Value>) -> Vec<PathBuf> {
    nix_available();
    let dir = unique_dir("nix");
    let spec = dir.join("spec.json");
    fs::write(&spec, json!({ "items": items }).to_string()).expect("write spec.json");
    let nix_file = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/common/build.nix");
    let out = Command::new("nix-build")
        .args(["--no-out-link", "--option", "substituters", ""])
        .arg("--argstr")
        .arg("spec")
        .arg(&spec)
        .arg(nix_file)
        .stdin(Stdio::null())
        .output()
        .expect("run nix-build");
    assert!(
        out.status.success(),
        "nix-build failed ({}); spec kept in {}\n{}",
        out.status,
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    fs::remove_dir_all(&dir).expect("remove nix-build spec dir");
    let index = String::from_utf8(out.stdout).expect("nix-build prints UTF-8");
    let index = fs::read_to_string(index.trim()).expect("read the fixtures index");
    let paths: Vec<PathBuf> = serde_json::from_str(&index).expect("fixtures index is a JSON list");
    assert_eq!(paths.len(), items.len());
    paths
}

/// Panics with a hint when Nix is missing: the tests need a real nix-build.
pub fn nix_available() {
    static FOUND: OnceLock<bool> = OnceLock::new();
    let found = *FOUND.get_or_init(|| {
        Command::new("nix-build")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    assert!(
        found,
        "nix-build not found: install Nix (Debian: apt-get install nix-bin) or run .ci/run"
    );
}

// ---------------------------------------------------------------------------
// Homes and runs of hearth

/// A fresh home directory for one test, removed on drop unless the test
/// panicked (then it is kept for inspection and its path printed).
pub struct TestHome {
    path: PathBuf,
}

impl TestHome {
    /// The home holds only `.local/state`, like a lived-in home: creating
    /// hearth's state dir then changes nothing that `snapshot()` sees.
    pub fn new() -> Self {
        let path = unique_dir("homes")
            .canonicalize()
            .expect("canonicalize home");
        fs::create_dir_all(path.join(".local/state")).expect("create ~/.local/state");
        TestHome { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, rel: &str) -> PathBuf {
        self.path.join(rel)
    }

    pub fn state_dir(&self) -> PathBuf {
        self.path.join(".local/state/hearth")
    }

    /// An empty generation for this home and the current user.
    pub fn gen(&self) -> GenSpec {
        GenSpec::new(&self.path)
    }

    /// The hearth binary with HOME set to this home and XDG_STATE_HOME unset.
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hearth"));
        cmd.args(args)
            .env("HOME", &self.path)
            .env_remove("XDG_STATE_HOME")
            .stdin(Stdio::null());
        cmd
    }

    pub fn hearth<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.hearth_env(args, &[])
    }

    pub fn hearth_env<I, S>(&self, args: I, env: &[(&str, &str)]) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let out = self
            .command(args)
            .envs(env.iter().copied())
            .output()
            .expect("run hearth");
        Run::from_output(out)
    }

    /// hearth started in the background with stdout and stderr piped; finish
    /// with `Run::from_output(child.wait_with_output().unwrap())`.
    pub fn spawn<I, S>(&self, args: I) -> Child
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn hearth")
    }

    /// The home without `.local/state` (hearth's state and package profile).
    pub fn snapshot(&self) -> Snapshot {
        snapshot(&self.path, &[".local/state"])
    }

    /// `redact` with this home's path shown as `~HOME`.
    pub fn redact(&self, text: &str) -> String {
        redact(text, &[(path_str(&self.path), "~HOME")])
    }
}

impl Default for TestHome {
    fn default() -> Self {
        Self::new()
    }
}

impl AsRef<Path> for TestHome {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl Drop for TestHome {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test home kept: {}", self.path.display());
            return;
        }
        drop_gc_root_links(&self.path);
        if fs::remove_dir_all(&self.path).is_err() {
            // A test may leave read-only directories behind (as a non-root
            // user their entries cannot be removed): open them up and retry.
            make_writable(&self.path);
            fs::remove_dir_all(&self.path).expect("remove test home");
        }
    }
}

/// hearth links each generation's GC root from Nix's per-user roots
/// directory; those links into a removed test home would pile up there.
fn drop_gc_root_links(home: &Path) {
    let dir = Path::new("/nix/var/nix/gcroots/per-user").join(current_user());
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with("hearth-")
            && fs::read_link(entry.path()).is_ok_and(|t| t.starts_with(home))
        {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn make_writable(dir: &Path) {
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            make_writable(&entry.path());
        }
    }
}

/// A new directory under the target's tmp dir, named after the running test.
fn unique_dir(kind: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let thread = std::thread::current();
    let test: String = thread
        .name()
        .unwrap_or("test")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(80)
        .collect();
    let parent = Path::new(env!("CARGO_TARGET_TMPDIR")).join(kind);
    fs::create_dir_all(&parent).expect("create test tmp dir");
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = parent.join(format!("{test}-{}-{n}", std::process::id()));
        match fs::create_dir(&dir) {
            Ok(()) => return dir,
            // Left by an earlier run whose process had the same id.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => panic!("create {}: {e}", dir.display()),
        }
    }
}

/// How a run of hearth ended. `code` is 128 + signal when it was killed.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from_output(out: Output) -> Self {
        use std::os::unix::process::ExitStatusExt;
        let code = out
            .status
            .code()
            .or_else(|| out.status.signal().map(|s| 128 + s))
            .expect("an exit code or a signal");
        Run {
            code,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "unexpected exit code of hearth:\n{self}");
        self
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        self.assert_code(0)
    }

    /// stdout parsed as JSON (for `--json`).
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{self}"))
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "exit code {}\n--- stdout\n{}--- stderr\n{}---",
            self.code, self.stdout, self.stderr
        )
    }
}

impl fmt::Debug for Run {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

// ---------------------------------------------------------------------------
// Snapshots

/// Every path under a root, without following symlinks. Equality compares
/// `nodes` (what is there); `stamps` (inode, mtime, ctime) tell whether a
/// path was rewritten even with the same content.
#[derive(Clone)]
pub struct Snapshot {
    pub nodes: BTreeMap<PathBuf, Node>,
    pub stamps: BTreeMap<PathBuf, Stamp>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub kind: Kind,
    /// Permission bits (`& 0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    File { size: u64, sha256: String },
    Dir,
    Symlink { target: PathBuf },
    Fifo,
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub ino: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
}

/// Snapshot of `root`, itself included as ".". Each of `excludes` (relative
/// to root) is left out with everything below it.
pub fn snapshot(root: impl AsRef<Path>, excludes: &[&str]) -> Snapshot {
    let mut snap = Snapshot {
        nodes: BTreeMap::new(),
        stamps: BTreeMap::new(),
    };
    let excludes: BTreeSet<&Path> = excludes.iter().map(Path::new).collect();
    walk(root.as_ref(), Path::new("."), &excludes, &mut snap);
    snap
}

fn walk(abs: &Path, rel: &Path, excludes: &BTreeSet<&Path>, snap: &mut Snapshot) {
    let meta = fs::symlink_metadata(abs).unwrap_or_else(|e| panic!("lstat {}: {e}", abs.display()));
    let file_type = meta.file_type();
    let kind = if file_type.is_symlink() {
        let target =
            fs::read_link(abs).unwrap_or_else(|e| panic!("readlink {}: {e}", abs.display()));
        Kind::Symlink { target }
    } else if file_type.is_file() {
        let content = fs::read(abs).unwrap_or_else(|e| panic!("read {}: {e}", abs.display()));
        Kind::File {
            size: meta.len(),
            sha256: hex(&Sha256::digest(&content)),
        }
    } else if file_type.is_dir() {
        Kind::Dir
    } else if std::os::unix::fs::FileTypeExt::is_fifo(&file_type) {
        Kind::Fifo
    } else {
        Kind::Other
    };
    let is_dir = kind == Kind::Dir;
    snap.nodes.insert(
        rel.to_owned(),
        Node {
            kind,
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
        },
    );
    snap.stamps.insert(
        rel.to_owned(),
        Stamp {
            ino: meta.ino(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
        },
    );
    if !is_dir {
        return;
    }
    let mut names: Vec<_> = fs::read_dir(abs)
        .unwrap_or_else(|e| panic!("read_dir {}: {e}", abs.display()))
        .map(|entry| entry.expect("read_dir entry").file_name())
        .collect();
    names.sort();
    for name in names {
        // Joining onto "." would keep a "./" prefix.
        let child_rel = if rel == Path::new(".") {
            PathBuf::from(&name)
        } else {
            rel.join(&name)
        };
        if !excludes.contains(child_rel.as_path()) {
            walk(&abs.join(&name), &child_rel, excludes, snap);
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl PartialEq for Snapshot {
    fn eq(&self, other: &Self) -> bool {
        self.nodes == other.nodes
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        for (path, node) in &self.nodes {
            writeln!(f, "{}", line(path, node))?;
        }
        Ok(())
    }
}

/// One line of the listing. The owner is shown only when it is not the
/// user running the tests, so that listings are the same for root and others.
fn line(path: &Path, node: &Node) -> String {
    let what = match &node.kind {
        Kind::File { size, sha256 } => {
            format!("file  {:04o} {size}B sha256:{}", node.mode, &sha256[..16])
        }
        Kind::Dir => format!("dir   {:04o}", node.mode),
        Kind::Symlink { target } => format!("link  -> {}", target.display()),
        Kind::Fifo => format!("fifo  {:04o}", node.mode),
        Kind::Other => format!("other {:04o}", node.mode),
    };
    let me = (
        nix::unistd::geteuid().as_raw(),
        nix::unistd::getegid().as_raw(),
    );
    let owner = if (node.uid, node.gid) == me {
        String::new()
    } else {
        format!(" owner {}:{}", node.uid, node.gid)
    };
    format!("{:<40} {what}{owner}", path.display())
}

impl Snapshot {
    /// Readable differences of content (`-` before, `+` after); empty when equal.
    pub fn diff(&self, after: &Snapshot) -> Vec<String> {
        let paths: BTreeSet<&PathBuf> = self.nodes.keys().chain(after.nodes.keys()).collect();
        let mut out = Vec::new();
        for path in paths {
            let (old, new) = (self.nodes.get(path), after.nodes.get(path));
            if old == new {
                continue;
            }
            if let Some(old) = old {
                out.push(format!("- {}", line(path, old)));
            }
            if let Some(new) = new {
                out.push(format!("+ {}", line(path, new)));
            }
        }
        out
    }
}

/// Panics, listing the differences, unless both snapshots hold the same content.
#[track_caller]
pub fn assert_same(before: &Snapshot, after: &Snapshot) {
    let diff = before.diff(after);
    assert!(diff.is_empty(), "the tree changed:\n{}", diff.join("\n"));
}

/// `assert_same`, and also that no path was rewritten: same inode, mtime and
/// ctime everywhere (a no-op must write nothing, not rewrite the same thing).
#[track_caller]
pub fn assert_untouched(before: &Snapshot, after: &Snapshot) {
    assert_same(before, after);
    let touched: Vec<String> = before
        .stamps
        .iter()
        .filter_map(|(path, old)| {
            let new = &after.stamps[path];
            let mut what = Vec::new();
            if old.ino != new.ino {
                what.push(format!("inode {} -> {}", old.ino, new.ino));
            }
            if old.mtime_ns != new.mtime_ns {
                what.push(format!("mtime {} -> {}", old.mtime_ns, new.mtime_ns));
            }
            if old.ctime_ns != new.ctime_ns {
                what.push(format!("ctime {} -> {}", old.ctime_ns, new.ctime_ns));
            }
            (!what.is_empty()).then(|| format!("  {}: {}", path.display(), what.join(", ")))
        })
        .collect();
    assert!(
        touched.is_empty(),
        "paths were rewritten:\n{}",
        touched.join("\n")
    );
}

// ---------------------------------------------------------------------------
// Small helpers

/// Writes `content` to `root/rel`, creating parent directories.
pub fn write_file(root: impl AsRef<Path>, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let path = root.as_ref().join(rel);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("create parent dirs");
    }
    fs::write(&path, content).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

pub fn read_file(root: impl AsRef<Path>, rel: &str) -> String {
    let path = root.as_ref().join(rel);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

pub fn mkdirs(root: impl AsRef<Path>, rel: &str) -> PathBuf {
    let path = root.as_ref().join(rel);
    fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
    path
}

/// Makes `root/rel` a symlink to `target`, creating parent directories.
pub fn symlink(root: impl AsRef<Path>, rel: &str, target: impl AsRef<Path>) -> PathBuf {
    let path = root.as_ref().join(rel);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("create parent dirs");
    }
    std::os::unix::fs::symlink(target, &path)
        .unwrap_or_else(|e| panic!("symlink {}: {e}", path.display()));
    path
}

pub fn read_link(root: impl AsRef<Path>, rel: &str) -> PathBuf {
    let path = root.as_ref().join(rel);
    fs::read_link(&path).unwrap_or_else(|e| panic!("readlink {}: {e}", path.display()))
}

/// The name of the user running the tests (the manifest's `user` must match).
pub fn current_user() -> String {
    let uid = nix::unistd::getuid();
    nix::unistd::User::from_uid(uid)
        .expect("look up the current user")
        .unwrap_or_else(|| panic!("uid {uid} has no passwd entry"))
        .name
}

/// A path as `&str`, for argument lists and manifests.
pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

/// Makes output stable for insta: applies `replacements` in order, then
/// shows every `/nix/store/<hash>-` as `/nix/store/HASH-`.
pub fn redact(text: &str, replacements: &[(&str, &str)]) -> String {
    let mut text = text.to_owned();
    for (from, to) in replacements {
        text = text.replace(from, to);
    }
    const STORE: &str = "/nix/store/";
    // Nix's base-32 alphabet (no e, o, t, u).
    let is_hash = |h: &[u8]| {
        h.len() == 33
            && h[32] == b'-'
            && h[..32]
                .iter()
                .all(|c| b"0123456789abcdfghijklmnpqrsvwxyz".contains(c))
    };
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(i) = rest.find(STORE) {
        let after = &rest[i + STORE.len()..];
        out.push_str(&rest[..i + STORE.len()]);
        if after.len() >= 33 && is_hash(&after.as_bytes()[..33]) {
            out.push_str("HASH-");
            rest = &after[33..];
        } else {
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Two generations of 21 links (20 shared targets with different text, one
/// target of each's own) whose check step sleeps `secs`, so that a run holds
/// the home's lock long enough for others started with it to queue.
pub fn lock_holding_pair(home: &TestHome, secs: &str) -> Vec<GenSpec> {
    ["one", "two"]
        .iter()
        .map(|v| {
            let mut g = home.gen().step("slow", "check", &format!("sleep {secs}\n"));
            for i in 0..20 {
                g = g.text(&format!(".config/c/f{i}"), &format!("{v} {i}\n"));
            }
            g.text(&format!(".config/only-{v}"), v)
        })
        .collect()
}
