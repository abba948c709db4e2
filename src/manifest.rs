//! The manifest: what a generation says the home must look like.
//! Parsing is strict (unknown fields and wrong types are errors naming the JSON
//! path); validation never touches the home, only the generation's sources.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

mod fast;
mod problem;
mod targets;

pub use problem::{BadBackupExt, BadMode, BadProgram, Field, FileField, Problem, StepField, What};
pub use targets::{clashes, BadTarget, Clash};

/// A normalized path relative to the home: no `.`, `..`, empty or absolute parts.
///
/// Shared, not copied: the same path is a key of the record, of what
/// `observe` found, of the plan and of the journal, and a clone of it is a
/// count going up, not an allocation (100,000 paths are each held in four
/// or five places during an activation).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelPath(Arc<str>);

impl Serialize for RelPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

// Made straight from the text parsed, borrowed where it can be: one
// allocation per path.
impl<'de> Deserialize<'de> for RelPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = RelPath;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a path relative to the home")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RelPath, E> {
                Ok(RelPath::as_read(v))
            }
        }
        d.deserialize_str(Text)
    }
}

impl RelPath {
    /// Normalizes `raw` (drops `.` and repeated slashes) or says what is
    /// wrong with it: the per-target half of the one validation of targets
    /// (the other half, between targets, is [`clashes`]).
    pub fn parse(raw: &str) -> Result<RelPath, BadTarget> {
        match Self::normal(raw)? {
            Some(normal) => Ok(RelPath(normal.into())),
            None => Ok(RelPath(raw.into())),
        }
    }

    /// [`RelPath::parse`] of a string the caller gives up: a target Nix
    /// wrote normalized keeps its allocation; a bad one comes back with
    /// what is wrong.
    pub fn parse_owned(raw: Arc<str>) -> Result<RelPath, (BadTarget, String)> {
        match Self::normal(&raw) {
            Ok(Some(normal)) => Ok(RelPath(normal.into())),
            Ok(None) => Ok(RelPath(raw)),
            Err(why) => Err((why, raw.to_string())),
        }
    }

    /// `raw` normalized, or None when it already is.
    fn normal(raw: &str) -> Result<Option<String>, BadTarget> {
        // Nix writes targets already normalized; take those as they are.
        if is_normal(raw.as_bytes()) {
            return Ok(None);
        }
        if raw.is_empty() {
            return Err(BadTarget::Empty);
        }
        if raw.contains('\0') {
            return Err(BadTarget::Nul);
        }
        if raw.starts_with('/') {
            return Err(BadTarget::Absolute);
        }
        let mut parts = Vec::new();
        for part in raw.split('/') {
            match part {
                "" | "." => {}
                ".." => return Err(BadTarget::DotDot),
                part => parts.push(part),
            }
        }
        if parts.is_empty() {
            return Err(BadTarget::TheHome);
        }
        Ok(Some(parts.join("/")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The shared string itself, for another holder of the same path.
    pub fn as_arc(&self) -> &Arc<str> {
        &self.0
    }

    /// The parent directories, innermost first, borrowed (`a/b/c` → `a/b`, `a`).
    pub fn parents_inner_first(&self) -> impl Iterator<Item = &str> + '_ {
        parents_inner_first(&self.0)
    }

    /// A path as read from JSON (the manifest's is validated after, a
    /// record's was when it was made): one allocation, no check.
    pub(crate) fn as_read(text: &str) -> RelPath {
        RelPath(Arc::from(text))
    }

    /// A parent of a normalized path is normalized too.
    /// A path built from normalized parts (a parent and a name that has no
    /// `/`) is normalized too.
    pub(crate) fn from_normal(path: String) -> RelPath {
        RelPath(path.into())
    }

    pub(crate) fn from_parent(parent: &str) -> RelPath {
        RelPath(parent.into())
    }

    /// Inserts `self` and its parents into `set`, stopping at the first
    /// parent already there (its own parents then are too).
    pub fn insert_with_parents(&self, set: &mut crate::sys::fxhash::FxHashSet<RelPath>) -> bool {
        // A clone is a count going up: inserting it looks the path up once.
        if !set.insert(self.clone()) {
            return false;
        }
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
            .map(move |(i, _)| RelPath(self.0[..i].into()))
    }

    pub fn parent(&self) -> Option<RelPath> {
        last_slash(&self.0).map(|i| RelPath(self.0[..i].into()))
    }

    pub fn file_name(&self) -> &str {
        match last_slash(&self.0) {
            Some(i) => &self.0[i + 1..],
            None => &self.0,
        }
    }

    /// True when `self` lies strictly below `dir`.
    pub fn is_below(&self, dir: &RelPath) -> bool {
        self.0.len() > dir.0.len()
            && self.0.starts_with(&*dir.0)
            && self.0.as_bytes()[dir.0.len()] == b'/'
    }

    pub fn depth(&self) -> usize {
        self.0.bytes().filter(|&b| b == b'/').count()
    }

    /// A sibling with `suffix` appended to the file name (backups: `a/b` → `a/b.bak`).
    #[must_use]
    pub fn with_suffix(&self, suffix: &str) -> RelPath {
        RelPath(format!("{}{}", self.0, suffix).into())
    }

    pub fn in_home(&self, home: &Path) -> PathBuf {
        home.join(&*self.0)
    }
}

/// The parent directories of the relative path `path`, innermost first
/// (`a/b/c` → `a/b`, `a`): [`RelPath::parents_inner_first`] of a path
/// given as text.
pub fn parents_inner_first(path: &str) -> impl Iterator<Item = &str> + '_ {
    let mut rest = path;
    std::iter::from_fn(move || {
        rest = &rest[..last_slash(rest)?];
        Some(rest)
    })
}

/// Where the last `/` of `s` is. A plain scan of the bytes: paths are
/// short, and `str::rfind` costs several times more per call on paths of a
/// few dozen bytes, which the planner and the applier look at thousands of
/// times.
fn last_slash(s: &str) -> Option<usize> {
    s.bytes().rposition(|b| b == b'/')
}

/// Whether a relative path is already normal: not empty, no NUL, no
/// leading `/`, no empty, `.` or `..` part. One pass over its bytes: every
/// activation checks every target, and Nix writes them normal.
fn is_normal(raw: &[u8]) -> bool {
    // Each part's length, and how many of its bytes are dots: a part is
    // bad when it is empty, `.` or `..` (all dots, at most two).
    let bad = |len: usize, dots: usize| len == 0 || (dots == len && len <= 2);
    let (mut len, mut dots) = (0, 0);
    for &b in raw {
        match b {
            0 => return false,
            b'/' => {
                if bad(len, dots) {
                    return false;
                }
                (len, dots) = (0, 0);
            }
            b'.' => (len, dots) = (len + 1, dots + 1),
            _ => len += 1,
        }
    }
    !bad(len, dots)
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
    /// Before anything in the home changes.
    Check,
    /// After the files, before the onChange hooks (Home Manager's steps
    /// sorted between `linkGeneration` and `onFilesChange`).
    Linked,
    /// After the files and the onChange hooks.
    Files,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileEntry {
    /// Shared from here on (see [`RelPath`] and [`File`]): read once.
    pub target: Arc<str>,
    pub source: Arc<Path>,
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
    /// The packages environment the system installs for the user (NixOS,
    /// nix-darwin: `users.users.<name>.packages`): hearth never installs
    /// it, it only shows what changes in it. Never set with `packages`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_packages: Option<PathBuf>,
    #[serde(default)]
    pub activation: Vec<Step>,
}

/// One file entry after validation: target normalized, mode parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct File {
    pub target: RelPath,
    /// Shared with what the plan wants there and what the record keeps.
    pub source: Arc<Path>,
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
        /// Bytes from the start of the line, 1-based (like `serde_json`'s columns).
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
    /// Every problem at once, in manifest order, each on its own line
    /// after the file's name.
    #[error("{}", lines(file, problems))]
    Invalid {
        file: PathBuf,
        problems: Vec<Problem>,
    },
}

fn lines(file: &Path, problems: &[Problem]) -> String {
    use std::fmt::Write as _;
    let mut text = String::new();
    for (i, p) in problems.iter().enumerate() {
        if i > 0 {
            text.push('\n');
        }
        let _ = write!(text, "{}: {p}", file.display());
    }
    text
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
        Self::load_sharing(gen, check_sources, &|_| None)
    }

    /// Like [`Generation::load_with`], sharing with `known` the targets
    /// and sources it already holds (see [`Known`]).
    pub fn load_sharing(
        gen: &Path,
        check_sources: bool,
        known: Known,
    ) -> Result<Generation, Error> {
        let file = gen.join(MANIFEST_NAME);
        let mut manifest = {
            // Freed once parsed, before the files are validated: at
            // 100,000 files the text is 18 MB.
            let text = utf8(read_manifest(&file)?, &file)?;
            parse_sharing(&text, known).map_err(|(json_path, message)| Error::Parse {
                file: file.clone(),
                json_path,
                message,
            })?
        };
        let files = validate(&mut manifest, check_sources).map_err(|problems| Error::Invalid {
            file: file.clone(),
            problems,
        })?;
        Ok(Generation {
            path: gen.to_path_buf(),
            manifest,
            files,
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
        #[expect(
            clippy::naive_bytecount,
            reason = "counted once, for an error message: not worth a dependency"
        )]
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        Error::NotUtf8 {
            file: file.to_path_buf(),
            offset,
            line,
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
fn program_problem(path: &Path) -> Option<BadProgram> {
    use std::os::unix::fs::PermissionsExt;
    let shown = crate::report::escape_path(path);
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(BadProgram::Missing { shown }),
        Err(e) => Some(BadProgram::Unreadable {
            shown,
            error: e.to_string(),
        }),
        Ok(m) if !m.is_file() => Some(BadProgram::NotAFile {
            shown,
            kind: crate::home::state::kind_name(m.file_type()),
        }),
        Ok(m) if m.permissions().mode() & 0o111 == 0 => Some(BadProgram::NotExecutable {
            shown,
            mode: m.permissions().mode() & 0o7777,
        }),
        Ok(_) => None,
    }
}

/// What a caller already holds at a target, for a manifest read to share
/// rather than allocate again: the target's path, and the link recorded
/// there, if any (the previous generation's record; in a switch most
/// targets and links stay). At 100,000 files that is 12 MB not held twice.
pub type Known<'k> = &'k dyn Fn(&str) -> Option<(&'k RelPath, Option<&'k Arc<Path>>)>;

/// Parses manifest JSON; on failure returns (JSON path, message).
pub fn parse(text: &str) -> Result<Manifest, (String, String)> {
    parse_sharing(text, &|_| None)
}

/// [`parse`], sharing strings with `known`.
fn parse_sharing(text: &str, known: Known) -> Result<Manifest, (String, String)> {
    // The common case, a good manifest as hearth and Nix write it, is read
    // once by the fast reader; anything else is serde's, and only a bad
    // one pays for the passes below that find what is wrong and where.
    if let Some(m) = fast::parse(text, known) {
        if m.version == 1 {
            return Ok(m);
        }
    }
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
pub fn parse_mode(raw: &str) -> Result<u32, BadMode> {
    let digits = raw.strip_prefix("0o").unwrap_or(raw);
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b))
    {
        return Err(BadMode::NotOctal(raw.to_string()));
    }
    let mode = u32::from_str_radix(digits, 8).map_err(|_| BadMode::NotOctal(raw.to_string()))?;
    if mode & 0o7000 != 0 {
        return Err(BadMode::SpecialBits(raw.to_string()));
    }
    Ok(mode)
}

/// Checks everything that can be checked without the home. Returns every
/// problem at once, in manifest order.
///
/// The entries are moved out of `m.files` (left empty) into the validated
/// files: each string is allocated once, when it is parsed.
pub fn validate(m: &mut Manifest, check_sources: bool) -> Result<Vec<File>, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut push = |at, what| problems.push(Problem { at, what });
    if m.user.is_empty() {
        push(Field::User, What::EmptyUser);
    }
    if !m.home.is_absolute() {
        push(Field::Home, What::NotAbsolute(m.home.clone()));
    }
    if let Some(ext) = &m.backup_extension {
        if let Err(e) = check_backup_ext(ext) {
            push(Field::BackupExtension, e.into());
        }
    }
    if let Some(p) = &m.packages {
        if !p.is_absolute() {
            push(Field::Packages, What::PackagesNotAbsolute(p.clone()));
        } else if !p.exists() {
            push(Field::Packages, What::PackagesMissing(p.clone()));
        }
    }
    if let Some(p) = &m.system_packages {
        if m.packages.is_some() {
            push(Field::SystemPackages, What::BothPackages);
        } else if !p.is_absolute() {
            push(Field::SystemPackages, What::PackagesNotAbsolute(p.clone()));
        } else if !p.exists() {
            push(Field::SystemPackages, What::PackagesMissing(p.clone()));
        }
    }

    let mut files = Vec::with_capacity(m.files.len());
    // The index in `m.files` of each of `files`.
    let mut index = Vec::with_capacity(m.files.len());
    for (i, entry) in std::mem::take(&mut m.files).into_iter().enumerate() {
        let at = |field| Field::File(i, field);
        let FileEntry {
            target,
            source,
            kind,
            mode,
            force,
            on_change,
        } = entry;
        let target = match RelPath::parse_owned(target) {
            Ok(t) => t,
            Err((why, raw)) => {
                push(at(FileField::Target), What::Target { raw, why });
                continue;
            }
        };
        if !source.is_absolute() {
            push(
                at(FileField::Source),
                What::NotAbsolute(source.to_path_buf()),
            );
        } else if (check_sources || kind == FileType::Copy)
            && std::fs::symlink_metadata(&source).is_err()
        {
            push(
                at(FileField::Source),
                What::SourceMissing(source.to_path_buf()),
            );
        } else if kind == FileType::Copy && !std::fs::metadata(&source).is_ok_and(|m| m.is_file()) {
            push(
                at(FileField::Source),
                What::CopyOfNonFile(source.to_path_buf()),
            );
        }
        let mode = match (&mode, kind) {
            (None, _) => None,
            (Some(raw), FileType::Copy) => match parse_mode(raw) {
                Ok(m) => Some(m),
                Err(e) => {
                    push(at(FileField::Mode), e.into());
                    None
                }
            },
            (Some(_), FileType::Symlink) => {
                push(at(FileField::Mode), What::ModeOnSymlink);
                None
            }
        };
        if let Some(hook) = &on_change {
            if !hook.is_absolute() {
                push(at(FileField::OnChange), What::NotAbsolute(hook.clone()));
            } else if let Some(p) = program_problem(hook) {
                push(at(FileField::OnChange), p.into());
            }
        }
        index.push(i);
        files.push(File {
            target,
            source,
            kind,
            mode,
            force,
            on_change,
        });
    }

    let between = clashes(files.iter().map(|f| &f.target).zip(index.iter().copied()));
    for clash in between {
        match clash {
            Clash::Duplicate {
                target,
                first,
                again,
            } => push(
                Field::File(again, FileField::Target),
                What::Duplicate { target, first },
            ),
            Clash::Inside {
                target,
                entry,
                outer,
                outer_entry,
            } => push(
                Field::File(entry, FileField::Target),
                What::Inside {
                    target,
                    outer,
                    outer_index: outer_entry,
                },
            ),
        }
    }

    let mut names = std::collections::HashSet::new();
    for (i, step) in m.activation.iter().enumerate() {
        let at = |field| Field::Step(i, field);
        if step.name.is_empty() {
            push(at(StepField::Name), What::EmptyStepName);
        } else if !names.insert(step.name.as_str()) {
            push(at(StepField::Name), What::StepNameReused(step.name.clone()));
        }
        if !step.script.is_absolute() {
            push(
                at(StepField::Script),
                What::NotAbsolute(step.script.clone()),
            );
        } else if let Some(p) = program_problem(&step.script) {
            push(at(StepField::Script), p.into());
        }
    }

    problem::sort(&mut problems);
    if problems.is_empty() {
        Ok(files)
    } else {
        Err(problems)
    }
}

/// A backup extension must produce a sibling name, never a path elsewhere.
pub fn check_backup_ext(ext: &str) -> Result<(), BadBackupExt> {
    if ext.is_empty() || ext.contains('/') || ext == "." || ext == ".." || ext.contains('\0') {
        return Err(BadBackupExt(ext.to_string()));
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

    /// The one-pass check against its definition, on every string of up
    /// to six bytes made of a letter, a dot, a slash and a NUL.
    #[test]
    fn is_normal_is_its_definition() {
        let normal = |raw: &[u8]| {
            !raw.contains(&0)
                && raw
                    .split(|b| *b == b'/')
                    .all(|part| !matches!(part, b"" | b"." | b".."))
        };
        let mut all = vec![Vec::new()];
        for _ in 0..6 {
            let longer: Vec<Vec<u8>> = all
                .iter()
                .filter(|s| s.len() == all.last().unwrap().len())
                .flat_map(|s| {
                    b"a./\0".iter().map(move |b| {
                        let mut t = s.clone();
                        t.push(*b);
                        t
                    })
                })
                .collect();
            all.extend(longer);
        }
        assert_eq!(all.len(), 1 + 4 + 16 + 64 + 256 + 1024 + 4096);
        for s in &all {
            assert_eq!(is_normal(s), normal(s), "{:?}", String::from_utf8_lossy(s));
        }
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
            .map(|p| p.as_str().to_string())
            .collect();
        assert_eq!(anc, vec!["x", "x/y"]);
    }

    /// `linked` (after the files, before the onChange hooks) is read next
    /// to `check` and `files`; anything else is refused by name.
    #[test]
    fn step_after_values() {
        let m = |after: &str| {
            format!(
                r#"{{"version":1,"user":"a","home":"/h","files":[],
                "activation":[{{"name":"s","after":"{after}","script":"/nix/store/s"}}]}}"#
            )
        };
        for (text, want) in [
            ("check", After::Check),
            ("linked", After::Linked),
            ("files", After::Files),
        ] {
            assert_eq!(parse(&m(text)).unwrap().activation[0].after, want);
        }
        let (at, msg) = parse(&m("onChange")).unwrap_err();
        assert_eq!(at, "activation[0].after");
        assert!(
            msg.contains("expected one of `check`, `linked`, `files`"),
            "{msg}"
        );
    }

    #[test]
    fn modes() {
        assert_eq!(parse_mode("0600"), Ok(0o600));
        assert_eq!(parse_mode("755"), Ok(0o755));
        assert!(parse_mode("0800").is_err());
        assert!(parse_mode("4755").is_err());
        assert!(parse_mode("").is_err());
    }

    fn entry(target: &str) -> FileEntry {
        FileEntry {
            target: target.into(),
            source: Path::new("/nix/store/aaaa-src").into(),
            kind: FileType::Symlink,
            mode: None,
            force: false,
            on_change: None,
        }
    }

    fn manifest(files: Vec<FileEntry>) -> Manifest {
        Manifest {
            version: 1,
            user: "alice".into(),
            home: "/home/alice".into(),
            backup_extension: None,
            files,
            packages: None,
            system_packages: None,
            activation: Vec::new(),
        }
    }

    // Symlink entries without `check_sources` are validated without a disk.
    #[test]
    fn validation_finds_every_problem_typed_and_in_manifest_order() {
        let mut m = manifest(
            [
                ".config/app/x",
                "/abs",
                ".config/app",
                "a",
                "b",
                "c",
                "d",
                "e",
                "f",
                "g",
                ".config/app/x",
                "./",
            ]
            .map(entry)
            .to_vec(),
        );
        m.user = String::new();
        m.backup_extension = Some("a/b".into());
        m.files[2].mode = Some("0644".into());
        m.files[10].source = Path::new("relative").into();
        let problems = validate(&mut m, false).unwrap_err();
        let rel = |s| RelPath::parse(s).unwrap();
        assert_eq!(
            problems,
            [
                Problem {
                    at: Field::User,
                    what: What::EmptyUser
                },
                Problem {
                    at: Field::BackupExtension,
                    what: What::BackupExtension(BadBackupExt("a/b".into()))
                },
                Problem {
                    at: Field::File(0, FileField::Target),
                    what: What::Inside {
                        target: rel(".config/app/x"),
                        outer: rel(".config/app"),
                        outer_index: 2
                    }
                },
                Problem {
                    at: Field::File(1, FileField::Target),
                    what: What::Target {
                        raw: "/abs".into(),
                        why: BadTarget::Absolute
                    }
                },
                Problem {
                    at: Field::File(2, FileField::Mode),
                    what: What::ModeOnSymlink
                },
                Problem {
                    at: Field::File(10, FileField::Target),
                    what: What::Duplicate {
                        target: rel(".config/app/x"),
                        first: 0
                    }
                },
                Problem {
                    at: Field::File(10, FileField::Source),
                    what: What::NotAbsolute("relative".into())
                },
                Problem {
                    at: Field::File(11, FileField::Target),
                    what: What::Target {
                        raw: "./".into(),
                        why: BadTarget::TheHome
                    }
                },
            ]
        );
        let err = Error::Invalid {
            file: "/g/manifest.json".into(),
            problems: problems[2..4].to_vec(),
        };
        assert_eq!(
            err.to_string(),
            "/g/manifest.json: files[0].target: .config/app/x lies inside .config/app, the target of files[2]; a path cannot be both a file and a directory\n\
             /g/manifest.json: files[1].target: \"/abs\": the target is an absolute path; give it relative to the home"
        );
    }

    /// `packages` (hearth installs) and `systemPackages` (the system
    /// does) exclude each other; either alone is checked like the other.
    #[test]
    fn packages_and_system_packages_exclude_each_other() {
        let mut m = manifest(Vec::new());
        m.packages = Some("/".into());
        m.system_packages = Some("/".into());
        let problems = validate(&mut m, false).unwrap_err();
        assert_eq!(
            problems,
            [Problem {
                at: Field::SystemPackages,
                what: What::BothPackages
            }]
        );
        m.packages = None;
        m.system_packages = Some("relative".into());
        let problems = validate(&mut m, false).unwrap_err();
        assert_eq!(problems[0].at, Field::SystemPackages);
        m.system_packages = Some("/".into());
        assert!(validate(&mut m, false).is_ok());
        // Absent from a manifest that does not name one (older ones too).
        let text = r#"{"version":1,"user":"a","home":"/h","files":[],"packages":null}"#;
        assert_eq!(parse(text).unwrap().system_packages, None);
        assert!(!serde_json::to_string(&parse(text).unwrap())
            .unwrap()
            .contains("systemPackages"));
    }

    #[test]
    fn a_good_manifest_has_no_problems() {
        let files = validate(&mut manifest(vec![entry("./a//b"), entry("a-b")]), false).unwrap();
        let targets: Vec<&str> = files.iter().map(|f| f.target.as_str()).collect();
        assert_eq!(targets, ["a/b", "a-b"]);
    }
}
