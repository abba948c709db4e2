//! The manifest: what a generation says the home must look like.
//! Parsing is strict (unknown fields and wrong types are errors naming the JSON
//! path); validation never touches the home, only the generation's sources.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::sys::fxhash::FxHashMap;

/// A normalized path relative to the home: no `.`, `..`, empty or absolute parts.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RelPath(String);

impl RelPath {
    /// Normalizes `raw` (drops `.` and repeated slashes) or says what is wrong with it.
    pub fn parse(raw: &str) -> Result<RelPath, String> {
        if raw.is_empty() {
            return Err("the target is empty".into());
        }
        if raw.contains('\0') {
            return Err("the target contains a NUL byte".into());
        }
        if raw.starts_with('/') {
            return Err("the target is an absolute path; give it relative to the home".into());
        }
        // Nix writes targets already normalized; take those as they are.
        if raw
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
        {
            return Ok(RelPath(raw.to_string()));
        }
        let mut parts = Vec::new();
        for comp in Path::new(raw).components() {
            match comp {
                Component::Normal(p) => {
                    let p = p.to_str().ok_or("the target is not valid UTF-8")?;
                    parts.push(p);
                }
                Component::CurDir => {}
                Component::ParentDir => {
                    return Err(
                        "the target contains `..`; targets must stay inside the home".into(),
                    )
                }
                Component::RootDir | Component::Prefix(_) => {
                    return Err("the target is an absolute path".into())
                }
            }
        }
        if parts.is_empty() {
            return Err("the target names the home itself".into());
        }
        Ok(RelPath(parts.join("/")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The parent directories, innermost first, borrowed (`a/b/c` → `a/b`, `a`).
    pub fn parents_inner_first(&self) -> impl Iterator<Item = &str> + '_ {
        self.0.rmatch_indices('/').map(move |(i, _)| &self.0[..i])
    }

    /// A parent of a normalized path is normalized too.
    pub(crate) fn from_parent(parent: &str) -> RelPath {
        RelPath(parent.to_string())
    }

    /// Inserts `self` and its parents into `set`, stopping at the first
    /// parent already there (its own parents then are too).
    pub fn insert_with_parents(&self, set: &mut crate::sys::fxhash::FxHashSet<RelPath>) -> bool {
        if set.contains(self.as_str()) {
            return false;
        }
        set.insert(self.clone());
        for d in self.parents_inner_first() {
            if set.contains(d) {
                break;
            }
            set.insert(RelPath::from_parent(d));
        }
        true
    }

    /// The parent directories, outermost first (`a/b/c` → `a`, `a/b`).
    pub fn ancestors(&self) -> impl Iterator<Item = RelPath> + '_ {
        self.0
            .match_indices('/')
            .map(move |(i, _)| RelPath(self.0[..i].to_string()))
    }

    pub fn parent(&self) -> Option<RelPath> {
        self.0.rfind('/').map(|i| RelPath(self.0[..i].to_string()))
    }

    pub fn file_name(&self) -> &str {
        match self.0.rfind('/') {
            Some(i) => &self.0[i + 1..],
            None => &self.0,
        }
    }

    /// True when `self` lies strictly below `dir`.
    pub fn is_below(&self, dir: &RelPath) -> bool {
        self.0.len() > dir.0.len()
            && self.0.starts_with(&dir.0)
            && self.0.as_bytes()[dir.0.len()] == b'/'
    }

    pub fn depth(&self) -> usize {
        self.0.matches('/').count()
    }

    /// A sibling with `suffix` appended to the file name (backups: `a/b` → `a/b.bak`).
    pub fn with_suffix(&self, suffix: &str) -> RelPath {
        RelPath(format!("{}{}", self.0, suffix))
    }

    pub fn in_home(&self, home: &Path) -> PathBuf {
        home.join(&self.0)
    }
}

// Hashes like the `str` it wraps, so maps of paths can be asked with a `&str`.
impl std::borrow::Borrow<str> for RelPath {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileType {
    Symlink,
    Copy,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum After {
    Check,
    Files,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileEntry {
    pub target: String,
    pub source: PathBuf,
    #[serde(rename = "type")]
    pub kind: FileType,
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub force: bool,
    #[serde(default)]
    pub on_change: Option<PathBuf>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Step {
    pub name: String,
    pub after: After,
    pub script: PathBuf,
}

/// The manifest as written by Nix. Use [`Manifest::load`] to get a validated one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    pub version: u32,
    pub user: String,
    pub home: PathBuf,
    #[serde(default)]
    pub backup_extension: Option<String>,
    pub files: Vec<FileEntry>,
    #[serde(default)]
    pub packages: Option<PathBuf>,
    #[serde(default)]
    pub activation: Vec<Step>,
}

/// One file entry after validation: target normalized, mode parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct File {
    pub target: RelPath,
    pub source: PathBuf,
    pub kind: FileType,
    pub mode: Option<u32>,
    pub force: bool,
    pub on_change: Option<PathBuf>,
}

/// A manifest that passed validation, together with where it came from.
#[derive(Clone, Debug)]
pub struct Generation {
    pub path: PathBuf,
    pub manifest: Manifest,
    pub files: Vec<File>,
    /// manifest.json as read, for the copy the state keeps.
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}\nhint: is {gen} a hearth generation (a directory holding manifest.json)?", gen = .path.parent().map(|p| p.display().to_string()).unwrap_or_default())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is {what}, not a regular file\nhint: {gen} is not a usable generation; rebuild it (a generation's manifest.json is a regular file)", gen = .path.parent().map(|p| p.display().to_string()).unwrap_or_default())]
    NotAFile { path: PathBuf, what: String },
    #[error("{path} is {size} bytes, more than the {} MiB a manifest may have\nhint: {gen} is not a usable generation; rebuild it", MAX_MANIFEST_BYTES >> 20, gen = .path.parent().map(|p| p.display().to_string()).unwrap_or_default())]
    TooLarge { path: PathBuf, size: u64 },
    #[error("{file}: invalid UTF-8 at byte offset {offset} (line {line}, column {column}): {bytes}\nhint: a manifest is UTF-8 JSON; rebuild the generation")]
    NotUtf8 {
        file: PathBuf,
        /// Bytes before the bad one (0-based).
        offset: usize,
        line: usize,
        /// Bytes from the start of the line, 1-based (like serde_json's columns).
        column: usize,
        /// The offending bytes, in hex.
        bytes: String,
    },
    #[error("{file}: {json_path}: {message}")]
    Parse {
        file: PathBuf,
        json_path: String,
        message: String,
    },
    #[error("{file}: {}", problems.join(&format!("\n{}: ", file.display())))]
    Invalid {
        file: PathBuf,
        problems: Vec<String>,
    },
}

pub const MANIFEST_NAME: &str = "manifest.json";

/// A manifest larger than this is refused unread. Generous: a manifest of
/// 100,000 files is about 40 MiB.
pub const MAX_MANIFEST_BYTES: u64 = 256 << 20;

impl Generation {
    /// Reads `GEN/manifest.json`, parses it strictly and validates it,
    /// including that every source exists.
    pub fn load(gen: &Path) -> Result<Generation, Error> {
        Self::load_with(gen, true)
    }

    /// Like [`Generation::load`]; without `check_sources`, symlink sources are
    /// not looked up one by one. That is for a generation in the Nix store:
    /// a valid store path's references are valid too, and `hearth check` at
    /// build time already verified that the sources are among them.
    pub fn load_with(gen: &Path, check_sources: bool) -> Result<Generation, Error> {
        let file = gen.join(MANIFEST_NAME);
        let text = utf8(read_manifest(&file)?, &file)?;
        let manifest = parse(&text).map_err(|(json_path, message)| Error::Parse {
            file: file.clone(),
            json_path,
            message,
        })?;
        let files = validate(&manifest, check_sources).map_err(|problems| Error::Invalid {
            file: file.clone(),
            problems,
        })?;
        Ok(Generation {
            path: gen.to_path_buf(),
            manifest,
            files,
            text,
        })
    }
}

/// The bytes of a manifest file. A FIFO, device or socket there (or a link to
/// one, such as `/dev/zero`) is refused at once, without waiting for a
/// writer or reading without end; so is a file over [`MAX_MANIFEST_BYTES`].
fn read_manifest(file: &Path) -> Result<Vec<u8>, Error> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let read_err = |source| Error::Read {
        path: file.to_path_buf(),
        source,
    };
    // Only on refusal: whether a link led there (to /dev/zero, say).
    let not_a_file = |m: std::fs::Metadata| {
        let kind = crate::home::state::kind_name(m.file_type());
        Error::NotAFile {
            path: file.to_path_buf(),
            what: match std::fs::symlink_metadata(file) {
                Ok(l) if l.file_type().is_symlink() => format!("a symbolic link to {kind}"),
                _ => kind.to_string(),
            },
        }
    };
    // Links are followed (a generation may link its manifest to another
    // store file); what they lead to is checked on the descriptor.
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_CLOEXEC)
        .open(file)
        .map_err(|e| match std::fs::metadata(file) {
            // A socket cannot be opened (ENXIO): say what it is.
            Ok(m) if !m.is_file() => not_a_file(m),
            _ => read_err(e),
        })?;
    let meta = f.metadata().map_err(read_err)?;
    if !meta.is_file() {
        return Err(not_a_file(meta));
    }
    let too_large = |size| Error::TooLarge {
        path: file.to_path_buf(),
        size,
    };
    if meta.len() > MAX_MANIFEST_BYTES {
        return Err(too_large(meta.len()));
    }
    // Bounded also while reading: the file may grow after the fstat.
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0).saturating_add(1));
    (&f).take(MAX_MANIFEST_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// The manifest's text, or where its first byte that is not UTF-8 is.
fn utf8(bytes: Vec<u8>, file: &Path) -> Result<String, Error> {
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let offset = e.utf8_error().valid_up_to();
        let before = &bytes[..offset];
        let line_start = before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        let bad_len = e.utf8_error().error_len().unwrap_or(bytes.len() - offset);
        let bad = &bytes[offset..offset + bad_len];
        Error::NotUtf8 {
            file: file.to_path_buf(),
            offset,
            line: before.iter().filter(|b| **b == b'\n').count() + 1,
            column: offset - line_start + 1,
            bytes: bad
                .iter()
                .map(|b| format!("0x{b:02x}"))
                .collect::<Vec<_>>()
                .join(" "),
        }
    })
}

/// Why `path` cannot be run as a program (`onChange`, activation steps), if
/// it cannot: missing, not a regular file (a directory, `/dev/null`), or
/// without an execute bit. Links are followed, as running it would.
fn program_problem(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let shown = crate::report::escape_path(path);
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Some(format!("{shown} does not exist"))
        }
        Err(e) => Some(format!("{shown} cannot be examined: {e}")),
        Ok(m) if !m.is_file() => Some(format!(
            "{shown} is {}, not a program hearth can run; give an executable file",
            crate::home::state::kind_name(m.file_type())
        )),
        Ok(m) if m.permissions().mode() & 0o111 == 0 => Some(format!(
            "{shown} is not executable (mode {:04o}); give an executable file",
            m.permissions().mode() & 0o7777
        )),
        Ok(_) => None,
    }
}

/// Parses manifest JSON; on failure returns (JSON path, message).
pub fn parse(text: &str) -> Result<Manifest, (String, String)> {
    // The common case, a good manifest, is parsed once; only a bad one pays
    // for the passes below that find what is wrong and where.
    if let Ok(m) = serde_json::from_str::<Manifest>(text) {
        if m.version == 1 {
            return Ok(m);
        }
    }
    // Check the version first so that a future manifest gets "unsupported
    // version" rather than a confusing complaint about a field it added.
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(text) {
        match map.get("version") {
            Some(serde_json::Value::Number(n)) if n.as_u64() == Some(1) => {}
            Some(other) => {
                return Err((
                    "version".into(),
                    format!(
                        "unsupported manifest version {other}; this hearth reads version 1 \
                         (rebuild the generation with a matching hearth)"
                    ),
                ))
            }
            None => {
                return Err((
                    "version".into(),
                    "missing field `version` (expected 1)".into(),
                ))
            }
        }
    }
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." {
            "(top level)".to_string()
        } else {
            path
        };
        let inner = e.into_inner();
        // serde_json appends " at line L column C"; keep it, it helps locate the spot.
        (path, inner.to_string())
    })
}

/// Parses an octal mode string such as "0600" or "755".
pub fn parse_mode(raw: &str) -> Result<u32, String> {
    let digits = raw.strip_prefix("0o").unwrap_or(raw);
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b))
    {
        return Err(format!(
            "{raw:?} is not an octal mode; write it like \"0644\" or \"0755\""
        ));
    }
    let mode = u32::from_str_radix(digits, 8).map_err(|e| e.to_string())?;
    if mode & 0o7000 != 0 {
        return Err(format!(
            "{raw:?} sets setuid, setgid or sticky bits, which hearth never creates; use a mode up to \"0777\""
        ));
    }
    Ok(mode)
}

/// Checks everything that can be checked without the home. Returns every
/// problem at once, each prefixed by its JSON path.
pub fn validate(m: &Manifest, check_sources: bool) -> Result<Vec<File>, Vec<String>> {
    let mut problems = Vec::new();
    if m.user.is_empty() {
        problems.push("user: the user name is empty".to_string());
    }
    if !m.home.is_absolute() {
        problems.push(format!(
            "home: {:?} is not an absolute path",
            m.home.display().to_string()
        ));
    }
    if let Some(ext) = &m.backup_extension {
        if let Err(e) = check_backup_ext(ext) {
            problems.push(format!("backupExtension: {e}"));
        }
    }
    if let Some(p) = &m.packages {
        if !p.is_absolute() {
            problems.push(format!(
                "packages: {:?} is not an absolute store path",
                p.display().to_string()
            ));
        } else if !p.exists() {
            problems.push(format!("packages: {} does not exist", p.display()));
        }
    }

    let mut files = Vec::with_capacity(m.files.len());
    let mut seen: FxHashMap<RelPath, usize> = FxHashMap::default();
    for (i, entry) in m.files.iter().enumerate() {
        let at = format!("files[{i}]");
        let target = match RelPath::parse(&entry.target) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!("{at}.target: {:?}: {e}", entry.target));
                continue;
            }
        };
        if let Some(first) = seen.insert(target.clone(), i) {
            problems.push(format!(
                "{at}.target: {target} is also the target of files[{first}]; each target may appear once"
            ));
        }
        if !entry.source.is_absolute() {
            problems.push(format!(
                "{at}.source: {:?} is not an absolute path",
                entry.source.display().to_string()
            ));
        } else if (check_sources || entry.kind == FileType::Copy)
            && std::fs::symlink_metadata(&entry.source).is_err()
        {
            problems.push(format!(
                "{at}.source: {} does not exist; rebuild the generation (its sources may have been garbage-collected)",
                entry.source.display()
            ));
        } else if entry.kind == FileType::Copy
            && !std::fs::metadata(&entry.source).is_ok_and(|m| m.is_file())
        {
            problems.push(format!(
                "{at}.source: {} is not a regular file; a \"copy\" entry copies one file (set type to \"symlink\" to link a directory)",
                entry.source.display()
            ));
        }
        let mode = match (&entry.mode, entry.kind) {
            (None, _) => None,
            (Some(raw), FileType::Copy) => match parse_mode(raw) {
                Ok(m) => Some(m),
                Err(e) => {
                    problems.push(format!("{at}.mode: {e}"));
                    None
                }
            },
            (Some(_), FileType::Symlink) => {
                problems.push(format!(
                    "{at}.mode: a mode applies only to \"copy\" entries (a symlink has no mode of its own); set type to \"copy\" or mode to null"
                ));
                None
            }
        };
        if let Some(hook) = &entry.on_change {
            if !hook.is_absolute() {
                problems.push(format!(
                    "{at}.onChange: {:?} is not an absolute path",
                    hook.display().to_string()
                ));
            } else if let Some(p) = program_problem(hook) {
                problems.push(format!("{at}.onChange: {p}"));
            }
        }
        files.push(File {
            target,
            source: entry.source.clone(),
            kind: entry.kind,
            mode,
            force: entry.force,
            on_change: entry.on_change.clone(),
        });
    }

    // A target inside another target would need the outer one to be both a
    // file and a directory. Each target's parents are looked up (no sort).
    let by_str: FxHashMap<&str, usize> = seen.iter().map(|(t, i)| (t.as_str(), *i)).collect();
    for f in &files {
        let t = f.target.as_str();
        let inner = t
            .rmatch_indices('/')
            .find_map(|(k, _)| by_str.get(&t[..k]).map(|j| (&t[..k], *j)));
        if let Some((outer, j)) = inner {
            let i = by_str.get(t).copied().unwrap_or_default();
            problems.push(format!(
                "files[{i}].target: {t} lies inside {outer}, the target of files[{j}]; a path cannot be both a file and a directory"
            ));
        }
    }

    let mut names = std::collections::HashSet::new();
    for (i, step) in m.activation.iter().enumerate() {
        let at = format!("activation[{i}]");
        if step.name.is_empty() {
            problems.push(format!("{at}.name: the step name is empty"));
        } else if !names.insert(step.name.as_str()) {
            problems.push(format!(
                "{at}.name: {:?} is used by an earlier step; names must be unique",
                step.name
            ));
        }
        if !step.script.is_absolute() {
            problems.push(format!(
                "{at}.script: {:?} is not an absolute path",
                step.script.display().to_string()
            ));
        } else if let Some(p) = program_problem(&step.script) {
            problems.push(format!("{at}.script: {p}"));
        }
    }

    problems.sort_by_key(|p| sort_key(p));
    if problems.is_empty() {
        Ok(files)
    } else {
        Err(problems)
    }
}

// Keeps problems in manifest order (files[2] before files[10]).
fn sort_key(problem: &str) -> (u8, usize, String) {
    let section = [
        "user",
        "home",
        "backupExtension",
        "packages",
        "files",
        "activation",
    ]
    .iter()
    .position(|s| problem.starts_with(s))
    .unwrap_or(9) as u8;
    let index = problem
        .split_once('[')
        .and_then(|(_, rest)| rest.split_once(']'))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or(0);
    (section, index, problem.to_string())
}

/// A backup extension must produce a sibling name, never a path elsewhere.
pub fn check_backup_ext(ext: &str) -> Result<(), String> {
    if ext.is_empty() || ext.contains('/') || ext == "." || ext == ".." || ext.contains('\0') {
        return Err(format!(
            "{ext:?} is not a usable backup extension; use a plain word such as \"bak\""
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relpath_normalizes() {
        assert_eq!(RelPath::parse("./a//b/./c").unwrap().as_str(), "a/b/c");
        assert!(RelPath::parse("a/../b").is_err());
        assert!(RelPath::parse("/etc/passwd").is_err());
        assert!(RelPath::parse(".").is_err());
        assert!(RelPath::parse("").is_err());
    }

    #[test]
    fn relpath_relations() {
        let a = RelPath::parse("a/b").unwrap();
        assert!(RelPath::parse("a/b/c").unwrap().is_below(&a));
        assert!(!RelPath::parse("a/bc").unwrap().is_below(&a));
        assert!(!a.is_below(&a));
        let anc: Vec<String> = RelPath::parse("x/y/z")
            .unwrap()
            .ancestors()
            .map(|p| p.0)
            .collect();
        assert_eq!(anc, vec!["x", "x/y"]);
    }

    #[test]
    fn modes() {
        assert_eq!(parse_mode("0600"), Ok(0o600));
        assert_eq!(parse_mode("755"), Ok(0o755));
        assert!(parse_mode("0800").is_err());
        assert!(parse_mode("4755").is_err());
        assert!(parse_mode("").is_err());
    }
}
