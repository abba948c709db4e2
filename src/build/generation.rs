//! The generation builder: turns the spec the Nix modules write (docs/
//! generation-spec.md) into a generation directory: manifest.json, hook and
//! step scripts, files whose mode must differ from their source, the session
//! variables script and `activate`.
//! `layout` decides (pure, given what `inspect` found of the sources);
//! `write` creates OUT and nothing else; the result is checked like
//! `hearth check` does.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Deserialize;

use crate::build::spec;
use crate::manifest::{self, After, FileEntry, FileType, Manifest, RelPath, Step};

// ---------------------------------------------------------------------------
// The spec

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    pub user: String,
    pub home: PathBuf,
    #[serde(default)]
    pub backup_extension: Option<String>,
    /// The interpreter of the generated scripts (`#!SHELL`).
    pub shell: PathBuf,
    /// The hearth binary `activate` runs; the running one when absent.
    #[serde(default)]
    pub hearth: Option<PathBuf>,
    #[serde(default)]
    pub files: Vec<SpecFile>,
    #[serde(default)]
    pub packages: Option<PathBuf>,
    /// Already in order (Nix resolves the DAG).
    #[serde(default)]
    pub activation: Vec<SpecStep>,
    /// Kept in the given order (builtins.toJSON sorts the names).
    #[serde(default)]
    pub session_variables: IndexMap<String, serde_json::Value>,
    #[serde(default)]
    pub session_path: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SpecFile {
    /// Relative to home, or absolute inside it.
    pub target: String,
    pub source: PathBuf,
    #[serde(rename = "type", default = "default_kind")]
    pub kind: FileType,
    /// null: as the source.
    #[serde(default)]
    pub executable: Option<bool>,
    #[serde(default)]
    pub recursive: bool,
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub force: bool,
    /// Shell text run when the target changed.
    #[serde(default)]
    pub on_change: Option<String>,
    /// The option that defined it, for messages (`home.file.".vimrc"`).
    #[serde(default)]
    pub defined_by: Option<String>,
}

fn default_kind() -> FileType {
    FileType::Symlink
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecStep {
    pub name: String,
    pub after: After,
    pub text: String,
}

// ---------------------------------------------------------------------------
// What the sources are (read by `inspect`, used by `layout`)

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceInfo {
    Missing,
    /// A regular file (or a link to one).
    File {
        executable: bool,
    },
    /// A directory; `files` is filled only for a `recursive` entry.
    Dir {
        files: Vec<DirFile>,
    },
    /// Anything else (a socket, a dangling link...): linked as it is.
    Other,
}

/// A file or symlink below a recursive source directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirFile {
    /// Relative to the source directory.
    pub rel: String,
    /// The executable bit of what it resolves to, when that is a regular file.
    pub executable: Option<bool>,
}

// ---------------------------------------------------------------------------
// The result of the decision

#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub manifest: Manifest,
    /// Files copied into OUT because their mode must change.
    pub copies: Vec<CopyFile>,
    /// Executable scripts (mode 0555), relative to OUT.
    pub scripts: Vec<(PathBuf, String)>,
    /// hm-session-vars.sh.
    pub session_vars: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyFile {
    pub from: PathBuf,
    /// Relative to OUT.
    pub to: PathBuf,
    pub mode: u32,
}

pub const SESSION_VARS: &str = "hm-session-vars.sh";

// ---------------------------------------------------------------------------
// Errors

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Spec(#[from] spec::Error),
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("the generation for {user} cannot be built ({}):\n  {}", spec.display(), problems.join("\n  "))]
    Invalid {
        spec: PathBuf,
        user: String,
        problems: Vec<String>,
    },
    #[error("{} already exists; build-generation creates its output directory itself", path.display())]
    OutExists { path: PathBuf },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot tell where the hearth binary is ({0}); set `hearth` in the spec")]
    WhereAmI(io::Error),
    #[error("the built generation does not pass `hearth check`: {0}")]
    Check(#[from] manifest::Error),
}

impl Error {
    /// 2 for a spec that cannot become a valid generation, 1 for I/O.
    pub fn exit_code(&self) -> crate::exit::ExitCode {
        use crate::exit::ExitCode;
        match self {
            Error::Spec(e) => e.exit_code(),
            Error::Invalid { .. } | Error::OutExists { .. } | Error::Check(_) => {
                ExitCode::InvalidInput
            }
            Error::Read { .. } | Error::Write { .. } | Error::WhereAmI(_) => ExitCode::Error,
        }
    }
}

// ---------------------------------------------------------------------------
// Effects

/// The whole command: read SPEC, inspect the sources, decide, write OUT, check it.
pub fn build(spec_path: &Path, out: &Path) -> Result<(), Error> {
    let spec = read_spec(spec_path)?;
    // Absolute, because the manifest and scripts name files in OUT.
    let out = std::path::absolute(out).map_err(|source| Error::Write {
        path: out.to_path_buf(),
        source,
    })?;
    let hearth = match &spec.hearth {
        Some(h) => h.clone(),
        None => std::env::current_exe().map_err(Error::WhereAmI)?,
    };
    let sources = inspect(&spec)?;
    let layout = layout(&spec, &sources, &out, &hearth).map_err(|problems| Error::Invalid {
        spec: spec_path.to_path_buf(),
        user: spec.user.clone(),
        problems,
    })?;
    write(&layout, &out)?;
    manifest::Generation::load(&out)?;
    Ok(())
}

pub fn read_spec(path: &Path) -> Result<Spec, Error> {
    Ok(spec::read("generation", path)?)
}

/// Looks at each file entry's source: its kind, its executable bit, and for
/// a recursive directory every file and symlink below it.
pub fn inspect(spec: &Spec) -> Result<Vec<SourceInfo>, Error> {
    spec.files
        .iter()
        .map(|f| {
            if std::fs::symlink_metadata(&f.source).is_err() {
                return Ok(SourceInfo::Missing);
            }
            Ok(match std::fs::metadata(&f.source) {
                Err(_) => SourceInfo::Other,
                Ok(m) if m.is_file() => SourceInfo::File {
                    executable: m.permissions().mode() & 0o111 != 0,
                },
                Ok(m) if m.is_dir() => {
                    let mut files = Vec::new();
                    if f.recursive {
                        walk(&f.source, "", &mut files)?;
                    }
                    SourceInfo::Dir { files }
                }
                Ok(_) => SourceInfo::Other,
            })
        })
        .collect()
}

/// Every file and symlink below `dir`, sorted. Symlinks are entries, never
/// followed: a link to a directory is linked as it is (and cannot loop).
fn walk(dir: &Path, prefix: &str, out: &mut Vec<DirFile>) -> Result<(), Error> {
    let read_err = |source| Error::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut names = Vec::new();
    for item in std::fs::read_dir(dir).map_err(read_err)? {
        names.push(item.map_err(read_err)?.file_name());
    }
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let Some(name) = name.to_str() else {
            return Err(Error::Read {
                path,
                source: io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the file name is not UTF-8, which a manifest target cannot hold",
                ),
            });
        };
        let rel = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}/{name}")
        };
        let meta = std::fs::symlink_metadata(&path).map_err(|source| Error::Read {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() {
            walk(&path, &rel, out)?;
        } else {
            let executable = std::fs::metadata(&path)
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.permissions().mode() & 0o111 != 0);
            out.push(DirFile { rel, executable });
        }
    }
    Ok(())
}

/// Creates OUT (which must not exist) as `layout` says.
pub fn write(layout: &Layout, out: &Path) -> Result<(), Error> {
    if std::fs::symlink_metadata(out).is_ok() {
        return Err(Error::OutExists {
            path: out.to_path_buf(),
        });
    }
    let werr = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Write { path, source }
    };
    let mkdir = |dir: &Path| std::fs::create_dir_all(dir).map_err(werr(dir));
    let chmod = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(werr(path))
    };
    mkdir(out)?;
    for c in &layout.copies {
        let to = out.join(&c.to);
        if let Some(parent) = to.parent() {
            mkdir(parent)?;
        }
        std::fs::copy(&c.from, &to).map_err(werr(&to))?;
        chmod(&to, c.mode)?;
    }
    for (rel, text) in &layout.scripts {
        let to = out.join(rel);
        if let Some(parent) = to.parent() {
            mkdir(parent)?;
        }
        std::fs::write(&to, text).map_err(werr(&to))?;
        chmod(&to, 0o555)?;
    }
    let vars = out.join(SESSION_VARS);
    std::fs::write(&vars, &layout.session_vars).map_err(werr(&vars))?;
    chmod(&vars, 0o444)?;
    let manifest = out.join(manifest::MANIFEST_NAME);
    let mut text = serde_json::to_string_pretty(&layout.manifest).map_err(|e| Error::Write {
        path: manifest.clone(),
        source: io::Error::other(e),
    })?;
    text.push('\n');
    std::fs::write(&manifest, text).map_err(werr(&manifest))?;
    chmod(&manifest, 0o444)?;
    Ok(())
}

// ---------------------------------------------------------------------------
// The decision

/// Everything OUT must hold, or every problem of the spec at once, each
/// naming the option (`definedBy`) it comes from.
pub fn layout(
    spec: &Spec,
    sources: &[SourceInfo],
    out: &Path,
    hearth: &Path,
) -> Result<Layout, Vec<String>> {
    let mut problems = Vec::new();
    let mut copies = Vec::new();
    let mut scripts = Vec::new();
    // (target, entry, who defined it), in spec order.
    let mut entries: Vec<(RelPath, FileEntry, String)> = Vec::new();

    if !spec.shell.is_absolute() {
        problems.push(format!(
            "shell: {:?} is not an absolute path; the scripts need a full path after #!",
            spec.shell.display().to_string()
        ));
    }

    for (i, (f, info)) in spec.files.iter().zip(sources).enumerate() {
        let who = f
            .defined_by
            .clone()
            .unwrap_or_else(|| format!("files[{i}]"));
        let target = match target_in_home(&f.target, &spec.home) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!("{who}: target {:?}: {e}", f.target));
                continue;
            }
        };
        let mode = match (&f.mode, f.kind) {
            (Some(raw), FileType::Copy) => match manifest::parse_mode(raw) {
                Ok(m) => Some(m),
                Err(e) => {
                    problems.push(format!("{who}: mode: {e}"));
                    continue;
                }
            },
            (Some(_), FileType::Symlink) => {
                problems.push(format!(
                    "{who}: a mode applies only to copies (a symlink has no mode of its own); set type = \"copy\" or remove the mode"
                ));
                continue;
            }
            (None, _) => None,
        };
        if let (Some(m), Some(x)) = (mode, f.executable) {
            if (m & 0o111 != 0) != x {
                problems.push(format!(
                    "{who}: executable = {x} contradicts mode {:?}; set one of them",
                    f.mode.as_deref().unwrap_or_default()
                ));
                continue;
            }
        }
        let on_change = f.on_change.as_ref().map(|text| {
            let rel = PathBuf::from(format!("hooks/onchange-{i}"));
            scripts.push((
                rel.clone(),
                script(&spec.shell, &format!("onChange of {who}"), text),
            ));
            out.join(rel)
        });
        // (target, source, executable bit of the source if a regular file)
        let parts: Vec<(RelPath, PathBuf, Option<bool>)> = match info {
            SourceInfo::Missing => {
                problems.push(format!(
                    "{who}: source {} does not exist",
                    f.source.display()
                ));
                continue;
            }
            SourceInfo::Dir { files } if f.recursive => {
                let mut parts = Vec::new();
                for df in files {
                    match RelPath::parse(&format!("{target}/{}", df.rel)) {
                        Ok(t) => parts.push((t, f.source.join(&df.rel), df.executable)),
                        Err(e) => problems.push(format!("{who}: {}: {e}", df.rel)),
                    }
                }
                parts
            }
            // A directory linked whole keeps its files' modes: `executable`
            // does not apply (as in Home Manager).
            SourceInfo::Dir { .. } | SourceInfo::Other => vec![(target, f.source.clone(), None)],
            SourceInfo::File { executable } => {
                vec![(target, f.source.clone(), Some(*executable))]
            }
        };
        for (target, source, is_exec) in parts {
            let source = match (f.executable, is_exec, mode) {
                // A symlink cannot change a mode: a copy with the right one
                // is put into the generation and linked instead.
                (Some(want), Some(have), None) if want != have => {
                    let rel = PathBuf::from(format!("files/{}", entries.len()));
                    copies.push(CopyFile {
                        from: source,
                        to: rel.clone(),
                        mode: if want { 0o555 } else { 0o444 },
                    });
                    out.join(rel)
                }
                _ => source,
            };
            entries.push((
                target.clone(),
                FileEntry {
                    target: target.to_string(),
                    source,
                    kind: f.kind,
                    mode: f.mode.clone(),
                    force: f.force,
                    on_change: on_change.clone(),
                },
                who.clone(),
            ));
        }
    }

    problems.extend(clashes(&entries));

    let mut activation = Vec::new();
    for (i, step) in spec.activation.iter().enumerate() {
        let rel = PathBuf::from(format!("steps/{i}-{}", file_name_of(&step.name)));
        scripts.push((
            rel.clone(),
            script(
                &spec.shell,
                &format!("activation step {:?}", step.name),
                &step.text,
            ),
        ));
        activation.push(Step {
            name: step.name.clone(),
            after: step.after,
            script: out.join(rel),
        });
    }

    let session_vars = match session_vars(&spec.session_variables, &spec.session_path) {
        Ok(text) => text,
        Err(mut e) => {
            problems.append(&mut e);
            String::new()
        }
    };
    scripts.push((
        PathBuf::from("activate"),
        activate_script(&spec.shell, hearth, out),
    ));

    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Layout {
        manifest: Manifest {
            version: 1,
            user: spec.user.clone(),
            home: spec.home.clone(),
            backup_extension: spec.backup_extension.clone(),
            files: entries.into_iter().map(|(_, e, _)| e).collect(),
            packages: spec.packages.clone(),
            activation,
        },
        copies,
        scripts,
        session_vars,
    })
}

/// A target relative to home; an absolute one must lie inside home.
pub fn target_in_home(raw: &str, home: &Path) -> Result<RelPath, String> {
    if raw.starts_with('/') {
        let rest = Path::new(raw)
            .strip_prefix(home)
            .map_err(|_| format!("the target is outside the home {}", home.display()))?;
        let rest = rest.to_str().unwrap_or_default();
        return RelPath::parse(rest)
            .map_err(|e| format!("{e} (outside the home {})", home.display()));
    }
    RelPath::parse(raw).map_err(|e| {
        if raw.split('/').any(|p| p == "..") {
            format!("{e}; this one would be outside the home {}", home.display())
        } else {
            e
        }
    })
}

/// Duplicate targets and targets inside others, naming both definitions.
fn clashes(entries: &[(RelPath, FileEntry, String)]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut first: HashMap<&RelPath, &str> = HashMap::new();
    for (t, _, who) in entries {
        if let Some(earlier) = first.get(t) {
            problems.push(format!(
                "{t}: defined by {earlier} and by {who}; each target may appear once (remove one, or give it another target)"
            ));
        } else {
            first.insert(t, who);
        }
    }
    // Sorted, `a` comes right before everything below it.
    let mut sorted: Vec<(&RelPath, &str)> = first.into_iter().collect();
    sorted.sort();
    let mut stack: Vec<(&RelPath, &str)> = Vec::new();
    for (t, who) in sorted {
        while stack.last().is_some_and(|(top, _)| !t.is_below(top)) {
            stack.pop();
        }
        if let Some((outer, outer_who)) = stack.last() {
            problems.push(format!(
                "{t} (defined by {who}) lies inside {outer} (defined by {outer_who}); a path cannot be both a file and a directory"
            ));
        }
        stack.push((t, who));
    }
    problems
}

/// A step name as a file name: anything but [A-Za-z0-9._-] becomes `_`.
fn file_name_of(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        "_".into()
    } else {
        s
    }
}

/// A hook or step: the user's text after a preamble that gives it Home
/// Manager's environment (`set -eu`, `run`, `$DRY_RUN_CMD`, ...), so that
/// activation text written for Home Manager runs unchanged.
pub fn script(shell: &Path, what: &str, text: &str) -> String {
    let mut s = format!(
        "#!{}\n# {what}, generated by hearth build-generation\n",
        shell.display()
    );
    s.push_str(PREAMBLE);
    s.push_str(text);
    if !text.ends_with('\n') {
        s.push('\n');
    }
    s
}

const PREAMBLE: &str = r#"set -eu
if (set -o pipefail) 2>/dev/null; then set -o pipefail; fi
if [ "${HEARTH_DRY_RUN:-0}" = 1 ]; then
  DRY_RUN_CMD=echo; DRY_RUN_NULL=/dev/stdout
else
  DRY_RUN_CMD=; DRY_RUN_NULL=/dev/null
fi
VERBOSE_ARG=; VERBOSE_ECHO=true
run() {
  case "${1:-}" in --quiet|--silence) shift ;; esac
  if [ "${HEARTH_DRY_RUN:-0}" = 1 ]; then echo "$@"; else "$@"; fi
}
verboseEcho() { :; }
noteEcho() { echo "$*"; }
warnEcho() { echo "warning: $*" >&2; }
errorEcho() { echo "$*" >&2; }
"#;

/// `activate`: runs hearth on this generation.
pub fn activate_script(shell: &Path, hearth: &Path, out: &Path) -> String {
    format!(
        "#!{}\nexec {} activate {} \"$@\"\n",
        shell.display(),
        single_quote(&hearth.to_string_lossy()),
        single_quote(&out.to_string_lossy())
    )
}

/// Quoted for sh: nothing inside expands.
pub fn single_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A value in double quotes as Home Manager writes it, so that `$HOME`,
/// `${X:-y}` and `$(cmd)` expand when the file is sourced; only what could
/// end the quotes early is escaped: `"`, a backslash that is not before `$`
/// or a backtick (`\$` stays a literal dollar, as in Home Manager).
pub fn double_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' if matches!(chars.peek(), Some('$') | Some('`')) => out.push('\\'),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn is_shell_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// hm-session-vars.sh: exports the variables and prepends the session path.
pub fn session_vars(
    vars: &IndexMap<String, serde_json::Value>,
    path: &[String],
) -> Result<String, Vec<String>> {
    let mut problems = Vec::new();
    let mut s = String::from(
        "# Session variables of a hearth generation: source it from a shell profile.\n\
         # Only source this once (the same guard as Home Manager's).\n\
         if [ -n \"${__HM_SESS_VARS_SOURCED:-}\" ]; then return; fi\n\
         export __HM_SESS_VARS_SOURCED=1\n\n",
    );
    for (name, value) in vars {
        if !is_shell_name(name) {
            problems.push(format!(
                "home.sessionVariables.{name}: {name:?} is not a shell variable name (letters, digits and _, not starting with a digit)"
            ));
            continue;
        }
        // As Nix's toString: true is "1", false and null are "".
        let value = match value {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(true) => "1".into(),
            serde_json::Value::Bool(false) | serde_json::Value::Null => String::new(),
            other => {
                problems.push(format!(
                    "home.sessionVariables.{name}: {other} is not a string, number or boolean"
                ));
                continue;
            }
        };
        let _ = writeln!(s, "export {name}={}", double_quote(&value));
    }
    if !path.is_empty() {
        let joined = double_quote(&path.join(":"));
        // `${PATH:+:}` avoids a trailing `:` (the current directory) when PATH is empty.
        let _ = writeln!(s, "export PATH={}\"${{PATH:+:}}$PATH\"", joined);
    }
    if problems.is_empty() {
        Ok(s)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests;
