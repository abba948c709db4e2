//! The generation builder: turns the spec the Nix modules write (docs/
//! generation-spec.md) into a generation directory: manifest.json, hook and
//! step scripts, files whose mode must differ from their source, the session
//! variables script and `activate`.
//! `layout` decides (pure, given what `inspect` found of the sources);
//! `write` creates OUT and nothing else; the result is checked like
//! `hearth check` does. Targets are checked by the manifest's one validation
//! of targets (`RelPath::parse`, `manifest::clashes`); only what a spec adds
//! (absolute targets inside the home, options as names) is decided here.

use std::fmt::Write as _;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Deserialize;

use crate::build::spec;
use crate::manifest::{
    self, After, BadMode, BadTarget, Clash, FileEntry, FileType, Manifest, RelPath, Step,
};

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
    /// The environment the system installs (`hearth.installPackages =
    /// false`), for the manifest's `systemPackages`.
    #[serde(default)]
    pub system_packages: Option<PathBuf>,
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
    #[error("the generation for {user} cannot be built ({}):{}", spec.display(), indented(problems))]
    Invalid {
        spec: PathBuf,
        user: String,
        problems: Vec<Problem>,
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

/// Each problem on its own line, indented under the headline.
fn indented(problems: &[Problem]) -> String {
    problems.iter().fold(String::new(), |mut text, p| {
        let _ = write!(text, "\n  {p}");
        text
    })
}

/// What is wrong with a spec. A problem of a file names the option that
/// defined it (`definedBy`, or `files[i]`), since that is what the user edits.
/// Found in spec order: the shell, each file, the clashes between files, the
/// session variables.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("shell: {:?} is not an absolute path; the scripts need a full path after #!", .0.display().to_string())]
    Shell(PathBuf),
    #[error("{who}: target {raw:?}: {why}")]
    Target {
        who: String,
        raw: String,
        why: BadSpecTarget,
    },
    #[error("{who}: mode: {why}")]
    Mode { who: String, why: BadMode },
    #[error("{who}: a mode applies only to copies (a symlink has no mode of its own); set type = \"copy\" or remove the mode")]
    ModeOnSymlink { who: String },
    #[error("{who}: executable = {executable} contradicts mode {mode:?}; set one of them")]
    ExecutableAndMode {
        who: String,
        executable: bool,
        mode: String,
    },
    #[error("{who}: source {} does not exist", path.display())]
    SourceMissing { who: String, path: PathBuf },
    /// A file below a recursive source whose name cannot be a target.
    #[error("{who}: {rel:?}: {why}")]
    RecursiveFile {
        who: String,
        rel: String,
        why: BadTarget,
    },
    #[error("{target}: defined by {first} and by {again}; each target may appear once (remove one, or give it another target)")]
    Duplicate {
        target: RelPath,
        first: String,
        again: String,
    },
    #[error("{target} (defined by {who}) lies inside {outer} (defined by {outer_who}); a path cannot be both a file and a directory")]
    Inside {
        target: RelPath,
        who: String,
        outer: RelPath,
        outer_who: String,
    },
    #[error("home.sessionVariables.{0}: {0:?} is not a shell variable name (letters, digits and _, not starting with a digit)")]
    VariableName(String),
    #[error("home.sessionVariables.{name}: {value} is not a string, number or boolean")]
    VariableValue { name: String, value: String },
}

/// What is wrong with a spec's target. A spec, unlike a manifest, may give a
/// target as an absolute path inside the home.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadSpecTarget {
    #[error("the target is outside the home {}", home.display())]
    Outside { home: PathBuf },
    #[error("{}; this one would be outside the home {}", BadTarget::DotDot, home.display())]
    Escapes { home: PathBuf },
    #[error(transparent)]
    Bad(#[from] BadTarget),
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
                // Unreadable, or neither a file nor a directory.
                Err(_) | Ok(_) => SourceInfo::Other,
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
                .filter(std::fs::Metadata::is_file)
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
) -> Result<Layout, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut copies = Vec::new();
    let mut scripts = Vec::new();
    // (target, entry, index of the spec file that defined it), in spec order.
    let mut entries: Vec<(RelPath, FileEntry, usize)> = Vec::new();
    // Who defined each spec file, as problems name it.
    let whos: Vec<String> = spec
        .files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            f.defined_by
                .clone()
                .unwrap_or_else(|| format!("files[{i}]"))
        })
        .collect();

    if !spec.shell.is_absolute() {
        problems.push(Problem::Shell(spec.shell.clone()));
    }

    for (i, (f, info)) in spec.files.iter().zip(sources).enumerate() {
        let who = &whos[i];
        let target = match target_in_home(&f.target, &spec.home) {
            Ok(t) => t,
            Err(why) => {
                problems.push(Problem::Target {
                    who: who.clone(),
                    raw: f.target.clone(),
                    why,
                });
                continue;
            }
        };
        let mode = match (&f.mode, f.kind) {
            (Some(raw), FileType::Copy) => match manifest::parse_mode(raw) {
                Ok(m) => Some(m),
                Err(why) => {
                    problems.push(Problem::Mode {
                        who: who.clone(),
                        why,
                    });
                    continue;
                }
            },
            (Some(_), FileType::Symlink) => {
                problems.push(Problem::ModeOnSymlink { who: who.clone() });
                continue;
            }
            (None, _) => None,
        };
        if let (Some(m), Some(x)) = (mode, f.executable) {
            if (m & 0o111 != 0) != x {
                problems.push(Problem::ExecutableAndMode {
                    who: who.clone(),
                    executable: x,
                    mode: f.mode.clone().unwrap_or_default(),
                });
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
                problems.push(Problem::SourceMissing {
                    who: who.clone(),
                    path: f.source.clone(),
                });
                continue;
            }
            SourceInfo::Dir { files } if f.recursive => {
                let mut parts = Vec::new();
                for df in files {
                    match RelPath::parse(&format!("{target}/{}", df.rel)) {
                        Ok(t) => parts.push((t, f.source.join(&df.rel), df.executable)),
                        Err(why) => problems.push(Problem::RecursiveFile {
                            who: who.clone(),
                            rel: df.rel.clone(),
                            why,
                        }),
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
                    target: target.as_str().into(),
                    source: source.into(),
                    kind: f.kind,
                    mode: f.mode.clone(),
                    force: f.force,
                    on_change: on_change.clone(),
                },
                i,
            ));
        }
    }

    problems.extend(
        manifest::clashes(entries.iter().map(|(t, _, i)| (t, *i)))
            .into_iter()
            .map(|clash| match clash {
                Clash::Duplicate {
                    target,
                    first,
                    again,
                } => Problem::Duplicate {
                    target,
                    first: whos[first].clone(),
                    again: whos[again].clone(),
                },
                Clash::Inside {
                    target,
                    entry,
                    outer,
                    outer_entry,
                } => Problem::Inside {
                    target,
                    who: whos[entry].clone(),
                    outer,
                    outer_who: whos[outer_entry].clone(),
                },
            }),
    );

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
            system_packages: spec.system_packages.clone(),
            activation,
        },
        copies,
        scripts,
        session_vars,
    })
}

/// A spec's target as a target relative to the home: the spec may give it
/// relative to the home or as an absolute path inside it. The checks of the
/// target itself are the manifest's ([`RelPath::parse`]).
pub fn target_in_home(raw: &str, home: &Path) -> Result<RelPath, BadSpecTarget> {
    let escapes = |why| match why {
        BadTarget::DotDot => BadSpecTarget::Escapes {
            home: home.to_path_buf(),
        },
        why => BadSpecTarget::Bad(why),
    };
    if raw.starts_with('/') {
        let rest = Path::new(raw)
            .strip_prefix(home)
            .map_err(|_| BadSpecTarget::Outside {
                home: home.to_path_buf(),
            })?;
        // The home itself strips to nothing.
        let rest = rest.to_str().unwrap_or_default();
        if rest.is_empty() {
            return Err(BadSpecTarget::Bad(BadTarget::TheHome));
        }
        return RelPath::parse(rest).map_err(escapes);
    }
    RelPath::parse(raw).map_err(escapes)
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

// POSIX, because the shell may be /bin/sh (a home evaluated without pkgs);
// with pkgs it is bash, which Home Manager's step text needs anyway.
// `oldGenPath` stays unset on a first activation, as in Home Manager, where
// steps test it with `[[ -v oldGenPath ]]`.
const PREAMBLE: &str = r#"set -eu
if (set -o pipefail) 2>/dev/null; then set -o pipefail; fi
cd "$HOME"
newGenPath="${HEARTH_NEW_GENERATION:-}"
if [ -n "${HEARTH_OLD_GENERATION:-}" ]; then oldGenPath="$HEARTH_OLD_GENERATION"; else unset oldGenPath; fi
if [ "${HEARTH_DRY_RUN:-0}" = 1 ]; then
  DRY_RUN=1; DRY_RUN_CMD=echo; DRY_RUN_NULL=/dev/stdout
else
  unset DRY_RUN; DRY_RUN_CMD=; DRY_RUN_NULL=/dev/null
fi
if [ -n "${VERBOSE+x}" ]; then
  VERBOSE_ARG=--verbose; VERBOSE_ECHO=echo; VERBOSE_RUN=
else
  VERBOSE_ARG=; VERBOSE_ECHO=true; VERBOSE_RUN=true
fi
run() {
  case "${1:-}" in
    --quiet) shift; if [ -n "${DRY_RUN+x}" ]; then echo "$@"; else "$@" > /dev/null; fi ;;
    --silence) shift; if [ -n "${DRY_RUN+x}" ]; then echo "$@"; else "$@" > /dev/null 2>&1; fi ;;
    *) if [ -n "${DRY_RUN+x}" ]; then echo "$@"; else "$@"; fi ;;
  esac
}
verboseEcho() { if [ -n "${VERBOSE+x}" ]; then echo "$*"; fi; }
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
            '\\' if matches!(chars.peek(), Some('$' | '`')) => out.push('\\'),
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
) -> Result<String, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut s = String::from(
        "# Session variables of a hearth generation: source it from a shell profile.\n\
         # Only source this once. The guard is hearth's own: Home Manager's\n\
         # (__HM_SESS_VARS_SOURCED), inherited from a parent shell or set by a\n\
         # Home Manager of another user, must not hide hearth's variables.\n\
         if [ -n \"${__HEARTH_SESS_VARS_SOURCED:-}\" ]; then return; fi\n\
         export __HEARTH_SESS_VARS_SOURCED=1\n\n",
    );
    for (name, value) in vars {
        if !is_shell_name(name) {
            problems.push(Problem::VariableName(name.clone()));
            continue;
        }
        // As Nix's toString: true is "1", false and null are "".
        let value = match value {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(true) => "1".into(),
            serde_json::Value::Bool(false) | serde_json::Value::Null => String::new(),
            other => {
                problems.push(Problem::VariableValue {
                    name: name.clone(),
                    value: other.to_string(),
                });
                continue;
            }
        };
        let _ = writeln!(s, "export {name}={}", double_quote(&value));
    }
    if !path.is_empty() {
        let joined = double_quote(&path.join(":"));
        // `${PATH:+:}` avoids a trailing `:` (the current directory) when PATH is empty.
        let _ = writeln!(s, "export PATH={joined}\"${{PATH:+:}}$PATH\"");
    }
    if problems.is_empty() {
        Ok(s)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests;
