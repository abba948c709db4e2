//! Generations for the tests: `GenSpec` and `FileSpec` describe a manifest
//! and its sources as plain text, and `build_generations` makes them real
//! store paths with one nix-build (build.nix beside this file). Nothing is
//! validated: tests of bad input build manifests hearth must reject.

use std::fs;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::{json, Value};

use super::{current_user, path_str, unique_dir, TestHome};
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
    /// A packages environment built elsewhere (`hearth build-env`), named
    /// as it is; wins over `packages`.
    pub packages_env: Option<String>,
    /// The manifest's `systemPackages` (the environment the system
    /// installs); the field is left out when `None`.
    pub system_packages_env: Option<String>,
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
            packages_env: None,
            system_packages_env: None,
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
        user.clone_into(&mut self.user);
        self
    }

    pub fn backup_extension(mut self, ext: &str) -> Self {
        self.backup_extension = Some(ext.to_owned());
        self
    }

    /// `dirs` directories `d00`, `d01`, … of `per_dir` links `f000`,
    /// `f001`, … each, every one to `source`: a home of thousands of links
    /// that needs no store path per file.
    pub fn links_to(mut self, source: &Path, dirs: usize, per_dir: usize) -> Self {
        for d in 0..dirs {
            for f in 0..per_dir {
                self = self.file(FileSpec::path(
                    &format!("d{d:02}/f{f:03}"),
                    path_str(source),
                ));
            }
        }
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

    /// The manifest's `packages` is this store path.
    pub fn packages_env(mut self, env: &Path) -> Self {
        self.packages_env = Some(path_str(env).to_owned());
        self
    }

    /// The manifest's `systemPackages` is this store path.
    pub fn system_packages_env(mut self, env: &Path) -> Self {
        self.system_packages_env = Some(path_str(env).to_owned());
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
        let packages = match &self.packages_env {
            Some(env) => Some(env.clone()),
            None => self
                .packages
                .as_ref()
                .map(|entries| add(tree_item("hearth-packages", entries))),
        };
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
        let mut manifest = json!({
            "version": 1,
            "user": self.user,
            "home": self.home,
            "backupExtension": self.backup_extension,
            "files": files,
            "packages": packages,
            "activation": activation,
        });
        if let Some(env) = &self.system_packages_env {
            manifest["systemPackages"] = json!(env);
        }
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
    nix_build(&specs.iter().map(GenSpec::item).collect::<Vec<_>>())
}

pub fn build_generation(spec: &GenSpec) -> PathBuf {
    build_generations(std::slice::from_ref(spec)).remove(0)
}

/// A standalone store directory holding `entries`.
pub fn build_tree(entries: &[TreeEntry]) -> PathBuf {
    nix_build(&[tree_item("hearth-tree", &owned_entries(entries))]).remove(0)
}

/// Runs build.nix on `items` (no GC roots: `--no-out-link`) and returns the
/// path of each item.
fn nix_build(items: &[Value]) -> Vec<PathBuf> {
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
