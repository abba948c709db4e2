//! The per-user state: `$XDG_STATE_HOME/hearth` (default
//! `~/.local/state/hearth`). It holds the lock that serializes hearth runs on
//! a home, what the current generation put where (`state.json`), the
//! generation history, copies of the applied manifests, the GC roots, and
//! the journal of an activation in progress (its format is in `journal`).
//!
//! `state.json` has a format of its own, [`StateV1`], converted to and from
//! the in-memory [`Data`] in one place ("state.json on disk", below): a change to
//! the planner's types cannot change the file without breaking the build
//! there. A file of a newer format is refused by name, never rewritten.
//! This module never touches the home.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::home::packages::{Env, Installer};
use crate::home::plan::{Owned, Recorded};
use crate::manifest::RelPath;
use crate::sys::fxhash::{FxBuild, FxIndexMap};

const STATE_FILE: &str = "state.json";
const LOCK_FILE: &str = "lock";
/// The format of `state.json` this hearth writes, and the newest it reads
/// (it reads every format from 1 up).
pub const STATE_FORMAT: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot use the state directory {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path} is damaged: {message}\nhint: move it aside to start over; hearth then treats every file in the home as not its own")]
    Corrupt { path: PathBuf, message: String },
    /// A file written by a later hearth, in a format this one cannot read.
    #[error("{path} was written by a newer hearth (format {found}; this hearth reads formats up to {reads})\n{}", file.newer_hint())]
    Newer {
        path: PathBuf,
        file: StateFile,
        found: u64,
        reads: u32,
    },
    /// A format below the oldest this hearth reads (none is known: every
    /// hearth so far wrote format 1).
    #[error("{path} says it is in format {found}, which no hearth writes ({})\n{}", formats_read(*.reads), file.unknown_hint())]
    UnknownFormat {
        path: PathBuf,
        file: StateFile,
        found: u64,
        reads: u32,
    },
    #[error("another hearth run holds the lock {path} and did not finish within {secs} s\nhint: wait for it to finish, or raise --lock-timeout")]
    LockTimeout { path: PathBuf, secs: u64 },
    #[error("{path} is not a directory owned by you; hearth keeps its state there and refuses to use it\nhint: remove it or point XDG_STATE_HOME elsewhere")]
    NotADir { path: PathBuf },
    #[error("{path} is {what}, not a regular file; hearth keeps {} there and opens nothing else in its place\nhint: remove it (hearth makes a new one){}", file.role(), file.consequence())]
    NotAFile {
        path: PathBuf,
        what: &'static str,
        file: StateFile,
    },
}

/// "this hearth reads format 1", or "formats 1 to N" once there are several.
fn formats_read(reads: u32) -> String {
    if reads == 1 {
        "this hearth reads format 1".into()
    } else {
        format!("this hearth reads formats 1 to {reads}")
    }
}

/// The files of the state directory, for messages about them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateFile {
    State,
    Journal,
    Lock,
}

impl StateFile {
    fn role(self) -> &'static str {
        match self {
            StateFile::State => "its record of what it applied",
            StateFile::Journal => "its journal",
            StateFile::Lock => "its lock",
        }
    }

    /// What to do about a file of a newer format, and that nothing changed.
    fn newer_hint(self) -> &'static str {
        match self {
            StateFile::Journal => {
                "it records an activation that did not finish, which only that hearth can complete or revert\n\
                 hint: run that hearth (any command, e.g. `hearth status`) to finish it; this one can be used again after that\n\
                 nothing was changed"
            }
            _ => {
                "hint: use that hearth, or move the file aside to start over (hearth then treats every file in the home as not its own)\n\
                 nothing was changed"
            }
        }
    }

    fn unknown_hint(self) -> &'static str {
        match self {
            StateFile::Journal => {
                "hint: move it aside to use hearth again; the activation it records is then neither completed nor reverted, so check the home with `hearth status`\n\
                 nothing was changed"
            }
            _ => {
                "hint: move it aside to start over; hearth then treats every file in the home as not its own\n\
                 nothing was changed"
            }
        }
    }

    fn consequence(self) -> &'static str {
        match self {
            StateFile::State => {
                "; without its record hearth treats every file in the home as not its own"
            }
            _ => "",
        }
    }
}

/// What a file type is, for messages: "a FIFO (named pipe)", "a socket", ...
pub fn kind_name(ft: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_file() {
        "a regular file"
    } else if ft.is_dir() {
        "a directory"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else if ft.is_fifo() {
        "a FIFO (named pipe)"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else {
        "of an unknown type"
    }
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Flags for every file opened in the state directory: a link is refused
/// (ELOOP), never followed out of it, and opening never waits (a FIFO opened
/// for reading waits for a writer forever; `write_all_at` and `read` on a
/// regular file ignore the flag).
pub(crate) const OPEN_FLAGS: i32 =
    nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC | nix::libc::O_NONBLOCK;

/// Opens `path` with `opts` (plus [`OPEN_FLAGS`]) and refuses anything but a
/// regular file, with one `fstat` of what was opened. `Ok(None)`: there is
/// nothing at `path`.
pub(crate) fn open_regular(
    path: &Path,
    opts: &mut OpenOptions,
    file: StateFile,
) -> Result<Option<(File, std::fs::Metadata)>, Error> {
    let not_a_file = |what| Error::NotAFile {
        path: path.to_path_buf(),
        what,
        file,
    };
    let f = match opts.custom_flags(OPEN_FLAGS).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            // ELOOP (a link), ENXIO (a socket, or a FIFO opened for writing
            // with no reader), EISDIR...: say what is there rather than the
            // errno. Only on this path, so a good run pays no extra lstat.
            return Err(match std::fs::symlink_metadata(path) {
                Ok(m) if !m.is_file() => not_a_file(kind_name(m.file_type())),
                _ => io_err(path)(e),
            });
        }
    };
    let meta = f.metadata().map_err(io_err(path))?;
    if !meta.is_file() {
        return Err(not_a_file(kind_name(meta.file_type())));
    }
    Ok(Some((f, meta)))
}

/// What the current generation put into the home.
#[derive(Clone, Debug)]
pub struct Applied {
    pub number: u64,
    pub generation: PathBuf,
    /// The transaction that applied it; a journal with this id is committed.
    pub txid: String,
    pub owned: Owned,
    /// What activating it again needs to know of its manifest (see
    /// `confirm`); `None` in a state written before hearth recorded it.
    pub facts: Option<Facts>,
}

/// Of the applied generation's manifest, what tells whether activating it
/// again can be confirmed from this record alone: whom and where it is
/// for, and whether it has activation steps (which run every time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Facts {
    pub user: String,
    pub home: PathBuf,
    pub steps: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenRecord {
    pub number: u64,
    pub path: PathBuf,
    /// Seconds since the Unix epoch when it was first activated.
    pub time: u64,
    /// The packages environment of its manifest and who installs it
    /// (`Some(None)`: it has none). `None`: not recorded, in a state
    /// written before hearth recorded it; the manifest then says (see
    /// `packages::generation_packages`).
    pub packages: Option<Option<Env>>,
}

/// The state in memory; on disk it is [`StateV1`].
#[derive(Clone, Debug, Default)]
pub struct Data {
    pub current: Option<Applied>,
    pub history: Vec<GenRecord>,
}

impl Data {
    pub fn current_number(&self) -> Option<u64> {
        self.current.as_ref().map(|c| c.number)
    }

    pub fn next_number(&self) -> u64 {
        self.history.iter().map(|g| g.number).max().unwrap_or(0) + 1
    }

    pub fn find(&self, number: u64) -> Option<&GenRecord> {
        self.history.iter().find(|g| g.number == number)
    }

    /// The history's record of the current generation (one that names
    /// only what `current` says, if the history lacks it).
    pub fn current_record(&self) -> Option<GenRecord> {
        let cur = self.current.as_ref()?;
        Some(self.find(cur.number).cloned().unwrap_or_else(|| GenRecord {
            number: cur.number,
            path: cur.generation.clone(),
            time: 0,
            packages: None,
        }))
    }
}

/// The state directory, locked for as long as this value lives.
pub struct State {
    pub dir: PathBuf,
    _lock: Option<Flock<File>>,
}

/// Where the state of the home lives.
pub fn dir_for(home: &Path) -> PathBuf {
    // The XDG spec says to ignore relative values.
    match std::env::var_os("XDG_STATE_HOME").map(PathBuf::from) {
        Some(p) if p.is_absolute() => p.join("hearth"),
        _ => home.join(".local/state/hearth"),
    }
}

impl State {
    /// Opens and locks the state directory, creating it when `create`. Without
    /// `create`, a missing directory gives an empty, unlocked state (nothing
    /// to protect, and a dry run must not create anything).
    /// `waiting` is told (once) when another run holds the lock, so that
    /// the caller can say why nothing happens yet.
    pub fn open(
        dir: &Path,
        create: bool,
        timeout: Duration,
        waiting: &mut dyn FnMut(&Path),
    ) -> Result<State, Error> {
        if create {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        match std::fs::symlink_metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::NotADir {
                    path: dir.to_path_buf(),
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound && !create => {
                return Ok(State {
                    dir: dir.to_path_buf(),
                    _lock: None,
                })
            }
            Err(e) => return Err(io_err(dir)(e)),
        }
        let path = dir.join(LOCK_FILE);
        let lock = open_regular(
            &path,
            OpenOptions::new()
                .create(create)
                .read(true)
                .write(true)
                .mode(0o600),
            StateFile::Lock,
        )?;
        let lock = match lock {
            Some((lock, _)) => lock,
            // Created unless the directory vanished meanwhile.
            None if create => return Err(io_err(&path)(io::ErrorKind::NotFound.into())),
            // Nothing to lock yet, and a dry run creates nothing.
            None => {
                return Ok(State {
                    dir: dir.to_path_buf(),
                    _lock: None,
                })
            }
        };
        let held = acquire(lock, &path, timeout, waiting)?;
        Ok(State {
            dir: dir.to_path_buf(),
            _lock: Some(held),
        })
    }

    /// The state directory without its lock, for a command that only reads
    /// and must not wait (`doctor`; `status` and `plan` while another run
    /// holds the lock). `state.json` is replaced by rename, so `load` still reads one
    /// consistent state; nothing may be written through this value, and the
    /// journal is only looked at (`peek_journal`).
    pub fn unlocked(dir: &Path) -> State {
        State {
            dir: dir.to_path_buf(),
            _lock: None,
        }
    }

    /// Whether this value holds the lock.
    #[expect(
        clippy::used_underscore_binding,
        reason = "the field is otherwise held only for its Drop"
    )]
    pub fn is_locked(&self) -> bool {
        self._lock.is_some()
    }

    pub fn load(&self) -> Result<Data, Error> {
        let path = self.dir.join(STATE_FILE);
        match self.text()? {
            Some(text) => decode_state(&path, &text),
            None => Ok(Data::default()),
        }
    }

    /// The record, its applied generation's links apart where they can
    /// be (see [`Loaded`]).
    pub fn load_lazily(&self) -> Result<Loaded, Error> {
        let path = self.dir.join(STATE_FILE);
        match self.text()? {
            Some(text) => Loaded::read(&path, text),
            None => Ok(Loaded::whole(Data::default())),
        }
    }

    /// The text of `state.json`, None when there is none yet.
    fn text(&self) -> Result<Option<String>, Error> {
        let path = self.dir.join(STATE_FILE);
        let Some(bytes) = read_regular(&path, StateFile::State)? else {
            return Ok(None);
        };
        let text =
            String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e));
        match text {
            // A power cut soon after the first commit (which is not forced
            // to disk) can leave the file empty: that is no state yet. What
            // the activation made is then reverted from the journal, or,
            // when that is gone too, adopted as matching the generation.
            Ok(text) if text.trim().is_empty() => Ok(None),
            Ok(text) => Ok(Some(text)),
            Err(e) => Err(io_err(&path)(e)),
        }
    }

    pub fn save(&self, data: &Data) -> Result<(), Error> {
        crate::sys::fault::record_point().map_err(io_err(&self.dir.join(STATE_FILE)))?;
        write_atomic_with(&self.dir, STATE_FILE, false, |f, dest| {
            write_json_with(f, dest, |w| write_v2(w, data))
        })
    }

    /// Removes the copy of generation `number`'s manifest that hearth
    /// kept beside its state before the history recorded what cleanup
    /// needs of it (its packages environment); hearth writes none now.
    pub fn drop_manifest(&self, number: u64) -> Result<(), Error> {
        let path = self.dir.join("manifests").join(format!("{number}.json"));
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&path)(e)),
        }
    }

    /// The GC root that keeps generation `number` alive.
    pub fn gc_root(&self, number: u64) -> PathBuf {
        self.dir.join("gcroots").join(number.to_string())
    }
}

/// A state file's content (`None`: there is none); anything but a regular
/// file in its place is refused, never followed nor waited on.
fn read_regular(path: &Path, file: StateFile) -> Result<Option<Vec<u8>>, Error> {
    use std::io::Read;
    let Some((f, meta)) = open_regular(path, OpenOptions::new().read(true), file)? else {
        return Ok(None);
    };
    // Sized from the fstat already made; reading through `Take` keeps std
    // from making its own fstat and lseek to size the buffer.
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0).saturating_add(1));
    (&f).take(u64::MAX)
        .read_to_end(&mut bytes)
        .map_err(io_err(path))?;
    Ok(Some(bytes))
}

fn acquire(
    mut lock: File,
    path: &Path,
    timeout: Duration,
    waiting: &mut dyn FnMut(&Path),
) -> Result<Flock<File>, Error> {
    let start = Instant::now();
    let mut told = false;
    loop {
        match Flock::lock(lock, FlockArg::LockExclusiveNonblock) {
            Ok(held) => return Ok(held),
            Err((file, nix::errno::Errno::EWOULDBLOCK)) => lock = file,
            Err((_, e)) => return Err(io_err(path)(io::Error::from(e))),
        }
        if start.elapsed() >= timeout {
            return Err(Error::LockTimeout {
                path: path.to_path_buf(),
                secs: timeout.as_secs(),
            });
        }
        if !told {
            waiting(path);
            told = true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The most of a command line a holder is named with.
const MAX_HOLDER: usize = 200;

/// Who holds the lock of the state directory `dir` ("pid 1234: hearth
/// activate /nix/store/…"), from /proc/locks and the holder's
/// /proc/PID/cmdline; `None` where there is no /proc (macOS) or the lock
/// is not found there. Read, not written: the holder writing its name into
/// the lock file would make every run (a no-op too) write to the state
/// directory. The command line is the user's own text: `report` escapes it.
#[cfg(target_os = "linux")]
pub fn lock_holder(dir: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(dir.join(LOCK_FILE)).ok()?;
    let dev = meta.dev();
    let want = format!(
        "{:02x}:{:02x}:{}",
        nix::sys::stat::major(dev),
        nix::sys::stat::minor(dev),
        meta.ino()
    );
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    // "1: FLOCK  ADVISORY  WRITE 1234 00:2a:5678 0 EOF"; a waiter's line
    // has "->" after the number.
    let pid = locks.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [_, "FLOCK", _, _, pid, id, ..] if *id == want => pid.parse::<u32>().ok(),
            _ => None,
        }
    })?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let mut command = String::from_utf8_lossy(&cmdline)
        .split('\0')
        .filter(|a| !a.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if command.len() > MAX_HOLDER {
        let mut end = MAX_HOLDER;
        while !command.is_char_boundary(end) {
            end -= 1;
        }
        command.truncate(end);
        command.push_str(" …");
    }
    Some(if command.is_empty() {
        format!("pid {pid}")
    } else {
        format!("pid {pid}: {command}")
    })
}

/// `lock_holder` where there is no /proc/locks: the holder is not named.
#[cfg(not(target_os = "linux"))]
pub fn lock_holder(_dir: &Path) -> Option<String> {
    None
}

/// Writes `dir/name` so that a reader sees either the old or the new
/// content (or, where there was none, none or the new). Forced to disk
/// only when `flush`: a kill cannot undo a completed rename, and a flush
/// here would push out every change of the activation at once, which
/// costs more than the changes; the journal of an activation that moves a
/// user's file aside is flushed (file, then directory) before that move.
/// The content is written by `write` into the new file (given the path it
/// will have, for messages): a large record is streamed to it, never held
/// whole in memory.
pub(crate) fn write_atomic_with(
    dir: &Path,
    name: &str,
    flush: bool,
    write: impl FnOnce(&mut File, &Path) -> Result<(), Error>,
) -> Result<(), Error> {
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let dest = dir.join(name);
    // Created new (O_EXCL), so what is written to is the file made here: a
    // FIFO, link or device left at the name (a killed run's temp file, or
    // placed there) is removed first, never opened.
    let create = || {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(OPEN_FLAGS)
            .mode(0o600)
            .open(&tmp)
    };
    let mut f = match create() {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(&tmp).map_err(io_err(&tmp))?;
            create()
        }
        other => other,
    }
    .map_err(io_err(&tmp))?;
    if let Err(e) = write(&mut f, &dest) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if flush {
        f.sync_all().map_err(io_err(&tmp))?;
    }
    std::fs::rename(&tmp, &dest).map_err(io_err(&dest))?;
    if flush {
        OpenOptions::new()
            .read(true)
            .custom_flags(OPEN_FLAGS | nix::libc::O_DIRECTORY)
            .open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(dir))?;
    }
    Ok(())
}

/// Writes JSON into `f` (at `path`, for messages) through a buffer, as
/// `write` writes it (in pieces, see `sys::json`): an error of the writing
/// is an I/O error, one of the value (a path that is not UTF-8) leaves it
/// unrecordable.
pub(crate) fn write_json_with(
    f: &mut File,
    path: &Path,
    write: impl FnOnce(&mut io::BufWriter<&mut File>) -> serde_json::Result<()>,
) -> Result<(), Error> {
    let mut w = io::BufWriter::with_capacity(1 << 16, f);
    let json = write(&mut w).map_err(|e| {
        if e.is_io() {
            io_err(path)(e.into())
        } else {
            Error::Corrupt {
                path: path.to_path_buf(),
                message: e.to_string(),
            }
        }
    });
    json?;
    w.flush().map_err(io_err(path))
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `2026-11-22 14:03:05 UTC`, without pulling in a date library.
pub fn format_time(secs: u64) -> String {
    #[expect(
        clippy::cast_possible_wrap,
        reason = "u64::MAX / 86 400 fits in an i64"
    )]
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

// ---------------------------------------------------------------------------
// state.json on disk
//
// The types below are the file format, and the `From` impls beside them the
// one place where it meets the in-memory types. Every impl names every field
// (no `..`), so that a field added to, or changed in, `Data`, `Applied`,
// `Owned` or `Recorded` breaks the build here instead of changing the file.
// Strings and paths are `Cow`s: written, the format borrows from the state
// (nothing is copied); read, it owns what it parsed and hands it over.

/// `state.json`, format 1, as hearth wrote it before format 2: read (and
/// so migrated), never written.
#[derive(Deserialize)]
pub(crate) struct StateV1<'a> {
    // `version` (1) was read by `decode_state` before.
    current: Option<AppliedV1<'a>>,
    history: Vec<GenRecordV1<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AppliedV1<'a> {
    number: u64,
    generation: Cow<'a, Path>,
    txid: Cow<'a, str>,
    /// Absent in states written before it was recorded (same format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    facts: Option<FactsV1<'a>>,
    owned: OwnedV1<'a>,
}

#[derive(Serialize, Deserialize)]
struct FactsV1<'a> {
    user: Cow<'a, str>,
    home: Cow<'a, Path>,
    steps: bool,
}

#[derive(Deserialize)]
struct OwnedV1<'a> {
    entries: EntriesV1<'a>,
    dirs: Cow<'a, BTreeSet<RelPath>>,
}

/// The managed paths (about 1 MB of JSON at 10,000 files), written and read
/// entry by entry through [`RecordedV1`]: the map is neither copied to be
/// written nor built twice when read. Reading always gives `Cow::Owned`.
struct EntriesV1<'a>(Cow<'a, FxIndexMap<RelPath, Recorded>>);

#[derive(Serialize, Deserialize)]
struct GenRecordV1<'a> {
    number: u64,
    path: Cow<'a, Path>,
    time: u64,
    /// Absent in states written before it was recorded (same format):
    /// absent is "not recorded", `null` is "no packages environment".
    #[expect(
        clippy::option_option,
        reason = "an absent field and a null one say different things"
    )]
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    packages: Option<Option<Cow<'a, Path>>>,
    /// The environment the system installs (NixOS, nix-darwin), with
    /// `packages` null; absent otherwise.
    #[serde(
        default,
        rename = "systemPackages",
        skip_serializing_if = "Option::is_none"
    )]
    system_packages: Option<Cow<'a, Path>>,
}

/// A field that is there, `null` or not: `Some` (absent is `None`, by
/// `default`).
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// What hearth recorded of one path, format 1; the journal's format 1 uses
/// it too. Externally tagged: serde buffers internally tagged enums, and the
/// state holds one of these per managed path.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RecordedV1<'a> {
    Symlink {
        target: Cow<'a, Path>,
    },
    Copy {
        sha256: Cow<'a, str>,
        mode: u32,
        /// Absent in states written before sizes were recorded (same format).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        size: Option<u64>,
    },
}

impl<'de> Deserialize<'de> for EntriesV1<'_> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> serde::de::Visitor<'de> for Entries {
            type Value = FxIndexMap<RelPath, Recorded>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map from paths to what hearth recorded of them")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<Self::Value, A::Error> {
                let mut map = FxIndexMap::with_capacity_and_hasher(
                    access.size_hint().unwrap_or(0),
                    std::hash::BuildHasherDefault::default(),
                );
                while let Some((path, rec)) = access.next_entry::<RelPath, RecordedV1>()? {
                    map.insert(path, Recorded::from(rec));
                }
                Ok(map)
            }
        }
        d.deserialize_map(Entries)
            .map(|map| EntriesV1(Cow::Owned(map)))
    }
}

impl From<StateV1<'_>> for Data {
    fn from(disk: StateV1<'_>) -> Self {
        // The version was checked by the caller, before the conversion.
        let StateV1 { current, history } = disk;
        Data {
            current: current.map(Applied::from),
            history: history.into_iter().map(GenRecord::from).collect(),
        }
    }
}

impl From<AppliedV1<'_>> for Applied {
    fn from(disk: AppliedV1<'_>) -> Self {
        let AppliedV1 {
            number,
            generation,
            txid,
            facts,
            owned: OwnedV1 { entries, dirs },
        } = disk;
        Applied {
            number,
            generation: generation.into_owned(),
            txid: txid.into_owned(),
            facts: facts.map(Facts::from),
            // Owned after reading: moved, not cloned.
            owned: Owned {
                entries: entries.0.into_owned(),
                dirs: dirs.into_owned(),
            },
        }
    }
}

impl<'a> From<&'a GenRecord> for GenRecordV1<'a> {
    fn from(g: &'a GenRecord) -> Self {
        let GenRecord {
            number,
            path,
            time,
            packages,
        } = g;
        let (packages, system_packages) = match packages {
            None => (None, None),
            Some(None) => (Some(None), None),
            Some(Some(Env {
                path,
                by: Installer::Profile,
            })) => (Some(Some(Cow::Borrowed(path.as_path()))), None),
            Some(Some(Env {
                path,
                by: Installer::System,
            })) => (Some(None), Some(Cow::Borrowed(path.as_path()))),
        };
        GenRecordV1 {
            number: *number,
            path: Cow::Borrowed(path),
            time: *time,
            packages,
            system_packages,
        }
    }
}

impl From<GenRecordV1<'_>> for GenRecord {
    fn from(disk: GenRecordV1<'_>) -> Self {
        let GenRecordV1 {
            number,
            path,
            time,
            packages,
            system_packages,
        } = disk;
        let env = |path: Cow<'_, Path>, by| Env {
            path: path.into_owned(),
            by,
        };
        GenRecord {
            number,
            path: path.into_owned(),
            time,
            packages: packages.map(|p| match (p, system_packages) {
                (Some(p), _) => Some(env(p, Installer::Profile)),
                (None, Some(s)) => Some(env(s, Installer::System)),
                (None, None) => None,
            }),
        }
    }
}

impl<'a> From<&'a Recorded> for RecordedV1<'a> {
    fn from(r: &'a Recorded) -> Self {
        match r {
            Recorded::Symlink { target } => RecordedV1::Symlink {
                target: Cow::Borrowed(target),
            },
            Recorded::Copy(c) => RecordedV1::Copy {
                sha256: Cow::Borrowed(&c.sha256),
                mode: c.mode,
                size: c.size,
            },
        }
    }
}

impl From<RecordedV1<'_>> for Recorded {
    fn from(disk: RecordedV1<'_>) -> Self {
        match disk {
            RecordedV1::Symlink { target } => Recorded::Symlink {
                target: std::sync::Arc::from(&*target),
            },
            RecordedV1::Copy { sha256, mode, size } => {
                Recorded::copy(sha256.into_owned(), mode, size)
            }
        }
    }
}

// ---------------------------------------------------------------------------
// state.json, format 2
//
// Format 1 with the record of what the current generation put where in a
// smaller shape: links grouped by the directory their targets are in (a
// generation's links mostly point into one or a few store paths, or at
// store paths themselves, whose directory is the store), so that each
// link costs its path and its target's file name; copies apart. About a
// third of format 1's size, and as much less to parse and write on every
// run. The history's records are format 1's.

/// `state.json`, format 2. `L`: how the applied generation's links are
/// read (apart, see [`Loaded`]: [`Apart`]).
#[derive(Serialize, Deserialize)]
struct StateV2<'a, L = LinksV2<'a>> {
    version: u32,
    current: Option<AppliedV2<'a, L>>,
    history: Vec<GenRecordV1<'a>>,
}

#[derive(Serialize, Deserialize)]
struct AppliedV2<'a, L = LinksV2<'a>> {
    number: u64,
    generation: Cow<'a, Path>,
    txid: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    facts: Option<FactsV1<'a>>,
    /// `{"<dir>/": {"<path>": "<name>"}}`: the link at `<path>` leads to
    /// `<dir>/<name>` (the directory with its final `/`, so that the two
    /// are joined as they are).
    links: L,
    /// `{"<path>": {"sha256": …, "mode": …, "size": …}}`.
    copies: CopiesV2<'a>,
    dirs: Cow<'a, BTreeSet<RelPath>>,
}

/// The symlinks of a record (written: only those of the map; read: a map
/// of only those).
struct LinksV2<'a>(Cow<'a, FxIndexMap<RelPath, Recorded>>);

/// The copies of a record, likewise.
struct CopiesV2<'a>(Cow<'a, FxIndexMap<RelPath, Recorded>>);

#[derive(Serialize, Deserialize)]
struct CopyV2<'a> {
    sha256: Cow<'a, str>,
    mode: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
}

/// Where a link's target is split: after its last `/` (none: all of it
/// is the name, under the directory "").
fn split_target(target: &str) -> (&str, &str) {
    match target.bytes().rposition(|b| b == b'/') {
        Some(i) => target.split_at(i + 1),
        None => ("", target),
    }
}

/// Target directory → (link path, target name) of each link into it.
type LinkGroups<'a> = FxIndexMap<&'a str, Vec<(&'a RelPath, &'a str)>>;

/// A record's links by the directory of their targets, each as its path
/// and its target's name there: the shape of [`LinksV2`], found once for
/// both of its writers. A target that is not UTF-8 cannot be written.
fn link_groups<E: serde::ser::Error>(
    entries: &FxIndexMap<RelPath, Recorded>,
) -> Result<LinkGroups<'_>, E> {
    let mut groups = LinkGroups::default();
    for (path, rec) in entries {
        if let Recorded::Symlink { target } = rec {
            let target = target
                .to_str()
                .ok_or_else(|| E::custom("a link target is not UTF-8"))?;
            let (dir, name) = split_target(target);
            groups.entry(dir).or_default().push((path, name));
        }
    }
    Ok(groups)
}

impl Serialize for LinksV2<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let groups = link_groups::<S::Error>(&self.0)?;
        s.collect_map(groups.iter().map(|(dir, links)| (dir, Group(links))))
    }
}

/// Writes `data` in format 2: exactly the bytes `serde_json` writes for
/// [`StateV2`], with the links, a path and a name each, written directly
/// (see `sys::json`).
fn write_v2(w: &mut impl io::Write, data: &Data) -> serde_json::Result<()> {
    use crate::sys::json;
    let disk = StateV2::from(data);
    json::raw(w, b"{\"version\":")?;
    serde_json::to_writer(&mut *w, &disk.version)?;
    json::raw(w, b",\"current\":")?;
    match &disk.current {
        None => json::raw(w, b"null")?,
        Some(a) => {
            json::raw(w, b"{\"number\":")?;
            serde_json::to_writer(&mut *w, &a.number)?;
            json::raw(w, b",\"generation\":")?;
            json::path(w, &a.generation)?;
            json::raw(w, b",\"txid\":")?;
            json::string(w, &a.txid)?;
            if let Some(facts) = &a.facts {
                json::raw(w, b",\"facts\":")?;
                serde_json::to_writer(&mut *w, facts)?;
            }
            json::raw(w, b",\"links\":")?;
            write_links_v2(w, &a.links.0)?;
            json::raw(w, b",\"copies\":")?;
            serde_json::to_writer(&mut *w, &a.copies)?;
            json::raw(w, b",\"dirs\":")?;
            serde_json::to_writer(&mut *w, &a.dirs)?;
            json::raw(w, b"}")?;
        }
    }
    json::raw(w, b",\"history\":")?;
    serde_json::to_writer(&mut *w, &disk.history)?;
    json::raw(w, b"}")
}

/// [`LinksV2`] as it serializes.
fn write_links_v2(
    w: &mut impl io::Write,
    entries: &FxIndexMap<RelPath, Recorded>,
) -> serde_json::Result<()> {
    use crate::sys::json;
    let groups = link_groups::<serde_json::Error>(entries)?;
    json::raw(w, b"{")?;
    for (i, (dir, links)) in groups.iter().enumerate() {
        if i > 0 {
            json::raw(w, b",")?;
        }
        json::string(w, dir)?;
        json::raw(w, b":{")?;
        for (j, (path, name)) in links.iter().enumerate() {
            if j > 0 {
                json::raw(w, b",")?;
            }
            json::string(w, path.as_str())?;
            json::raw(w, b":")?;
            json::string(w, name)?;
        }
        json::raw(w, b"}")?;
    }
    json::raw(w, b"}")
}

/// One directory's links, written as a map of path to name.
struct Group<'a, 'b>(&'b [(&'a RelPath, &'a str)]);

impl Serialize for Group<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().copied())
    }
}

/// A string read borrowed from the text when it has no escapes.
struct Text<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for LinksV2<'_> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// The links of one directory, added to the map being read.
        struct GroupSeed<'m, 'de> {
            dir: Text<'de>,
            map: &'m mut FxIndexMap<RelPath, Recorded>,
        }
        impl<'de> serde::de::DeserializeSeed<'de> for GroupSeed<'_, 'de> {
            type Value = ();
            fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
                d.deserialize_map(self)
            }
        }
        impl<'de> serde::de::Visitor<'de> for GroupSeed<'_, 'de> {
            type Value = ();
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map from paths to the names their links lead to")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<(), A::Error> {
                let dir = &self.dir.0;
                let mut target = String::new();
                while let Some((path, name)) = access.next_entry::<RelPath, Text>()? {
                    self.map
                        .insert(path, joined_link(&mut target, dir, &name.0));
                }
                Ok(())
            }
        }
        struct Links;
        impl<'de> serde::de::Visitor<'de> for Links {
            type Value = FxIndexMap<RelPath, Recorded>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map from directories to the links that lead into them")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<Self::Value, A::Error> {
                let mut map = FxIndexMap::default();
                while let Some(dir) = access.next_key::<Text>()? {
                    access.next_value_seed(GroupSeed { dir, map: &mut map })?;
                }
                Ok(map)
            }
        }
        d.deserialize_map(Links).map(|map| LinksV2(Cow::Owned(map)))
    }
}

/// The links of a record as the in-memory table holds them.
trait IntoLinks {
    fn into_links(self) -> FxIndexMap<RelPath, Recorded>;
}

impl IntoLinks for LinksV2<'_> {
    fn into_links(self) -> FxIndexMap<RelPath, Recorded> {
        self.0.into_owned()
    }
}

/// Where the applied generation's links were, in a record read with them
/// apart (see [`Loaded`]): the `0` put in their place, and nothing else.
/// Only the applied generation's links are read as this, so a `0` found
/// there proves that what was taken out was those links.
struct Apart;

impl<'de> Deserialize<'de> for Apart {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match u8::deserialize(d)? {
            0 => Ok(Apart),
            _ => Err(serde::de::Error::custom("not the links read apart")),
        }
    }
}

impl IntoLinks for Apart {
    fn into_links(self) -> FxIndexMap<RelPath, Recorded> {
        FxIndexMap::default()
    }
}

/// The record of a link to `dir` + `name`, joined in `buf`: one buffer
/// for every target of a record, each then allocated once, shared from
/// there on.
fn joined_link(buf: &mut String, dir: &str, name: &str) -> Recorded {
    buf.clear();
    buf.push_str(dir);
    buf.push_str(name);
    Recorded::Symlink {
        target: Path::new(buf.as_str()).into(),
    }
}

/// Reads the links of a record where hearth wrote them, from `start` in
/// `text`: `{"<dir>/":{"<path>":"<name>",…},…}` with no space and no
/// escape. `link` is given each link's path and the directory and name its
/// target is split into, in the file's order, until it says false. Where
/// the map ends, and whether `link` took every link; None where the text
/// is anything else (which serde then reads, or says what is wrong with).
fn each_link<'a>(
    text: &'a str,
    start: usize,
    mut link: impl FnMut(&'a str, &'a str, &'a str) -> bool,
) -> Option<(usize, bool)> {
    let bytes = text.as_bytes();
    let mut at = start;
    eat(bytes, &mut at, b'{')?;
    if eat(bytes, &mut at, b'}').is_some() {
        return Some((at, true));
    }
    loop {
        let dir = plain(text, &mut at)?;
        eat(bytes, &mut at, b':')?;
        eat(bytes, &mut at, b'{')?;
        if eat(bytes, &mut at, b'}').is_none() {
            loop {
                let path = plain(text, &mut at)?;
                eat(bytes, &mut at, b':')?;
                let name = plain(text, &mut at)?;
                if !link(path, dir, name) {
                    return Some((at, false));
                }
                if !more(bytes, &mut at)? {
                    break;
                }
            }
        }
        if !more(bytes, &mut at)? {
            return Some((at, true));
        }
    }
}

/// Consumes `want`, or None.
fn eat(bytes: &[u8], at: &mut usize, want: u8) -> Option<()> {
    (*bytes.get(*at)? == want).then(|| *at += 1)
}

/// After an entry: `,` (true: another follows), `}` (false), or None.
fn more(bytes: &[u8], at: &mut usize) -> Option<bool> {
    let more = match *bytes.get(*at)? {
        b',' => true,
        b'}' => false,
        _ => return None,
    };
    *at += 1;
    Some(more)
}

/// A string with no escape and no control character, borrowed; None for
/// any other string, or anything but a string.
fn plain<'a>(text: &'a str, at: &mut usize) -> Option<&'a str> {
    let bytes = text.as_bytes();
    eat(bytes, at, b'"')?;
    let start = *at;
    let end = start + crate::sys::json::special(bytes.get(start..)?)?;
    if bytes.get(end) != Some(&b'"') {
        return None;
    }
    *at = end + 1;
    text.get(start..end)
}

/// The record read for an activation that may find nothing to do: the
/// applied generation's links, most of the file, are kept as the text
/// hearth wrote and read where they are, as the home is checked against
/// them ([`Loaded::links_all`]); they become the record's table of paths
/// only when the activation goes on ([`Loaded::into_data`]). A no-op then
/// makes no allocation and no table entry per link.
pub struct Loaded {
    /// The record; while its links are apart, its applied generation's
    /// entries hold only its copies.
    pub data: Data,
    apart: Option<LinksApart>,
}

/// The text of `state.json` and where the applied generation's links are
/// in it (checked to be hearth's own writing), with how many there are.
struct LinksApart {
    path: PathBuf,
    text: String,
    start: usize,
    count: usize,
}

impl Loaded {
    fn whole(data: Data) -> Loaded {
        Loaded { data, apart: None }
    }

    /// `text`, the content of the state file at `path`: its links apart
    /// where they can be, else read whole (or refused, as `decode_state`
    /// says).
    pub(crate) fn read(path: &Path, text: String) -> Result<Loaded, Error> {
        match Loaded::apart(path, text) {
            Ok(loaded) => Ok(loaded),
            Err(text) => decode_state(path, &text).map(Loaded::whole),
        }
    }

    /// Reads `text` (at `path`) with the applied generation's links apart,
    /// when they are as hearth writes them and the rest of the file reads
    /// as format 2; else gives the text back.
    fn apart(path: &Path, text: String) -> Result<Loaded, String> {
        const KEY: &str = ",\"links\":";
        let Some(start) = text.find(KEY).map(|at| at + KEY.len()) else {
            return Err(text);
        };
        let mut count = 0;
        let Some((end, true)) = each_link(&text, start, |_, _, _| {
            count += 1;
            true
        }) else {
            return Err(text);
        };
        let (Some(before), Some(after)) = (text.get(..start), text.get(end..)) else {
            return Err(text);
        };
        let rest = [before, "0", after].concat();
        let data = match serde_json::from_str::<StateV2<Apart>>(&rest) {
            Ok(disk) if disk.version == STATE_FORMAT && disk.current.is_some() => Data::from(disk),
            _ => return Err(text),
        };
        Ok(Loaded {
            data,
            apart: Some(LinksApart {
                path: path.to_path_buf(),
                text,
                start,
                count,
            }),
        })
    }

    /// How many paths the applied generation has (links and copies).
    pub fn managed(&self) -> usize {
        let entries = self
            .data
            .current
            .as_ref()
            .map_or(0, |c| c.owned.entries.len());
        entries + self.apart.as_ref().map_or(0, |a| a.count)
    }

    /// Whether `link` is true of every link kept apart (its path, and the
    /// directory and name of its target), in the file's order, stopping at
    /// the first it is false of; true when none are.
    pub fn links_all(&self, link: impl FnMut(&str, &str, &str) -> bool) -> bool {
        self.apart
            .as_ref()
            .is_none_or(|a| matches!(each_link(&a.text, a.start, link), Some((_, true))))
    }

    /// The whole record, the links kept apart in its table (before the
    /// copies, as a file read whole has them).
    pub fn into_data(self) -> Result<Data, Error> {
        let Loaded { mut data, apart } = self;
        let (Some(apart), Some(cur)) = (apart, data.current.as_mut()) else {
            return Ok(data);
        };
        let mut entries = FxIndexMap::with_capacity_and_hasher(
            apart.count + cur.owned.entries.len(),
            FxBuild::default(),
        );
        let mut target = String::new();
        let read = each_link(&apart.text, apart.start, |path, dir, name| {
            entries.insert(RelPath::as_read(path), joined_link(&mut target, dir, name));
            true
        });
        if read.is_none() {
            // Read once already: cannot happen; the file read whole then.
            return decode_state(&apart.path, &apart.text);
        }
        entries.extend(std::mem::take(&mut cur.owned.entries));
        cur.owned.entries = entries;
        Ok(data)
    }
}

impl Serialize for CopiesV2<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().filter_map(|(path, rec)| match rec {
            Recorded::Copy(c) => Some((
                path,
                CopyV2 {
                    sha256: Cow::Borrowed(&c.sha256),
                    mode: c.mode,
                    size: c.size,
                },
            )),
            Recorded::Symlink { .. } => None,
        }))
    }
}

impl<'de> Deserialize<'de> for CopiesV2<'_> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let copies = std::collections::BTreeMap::<RelPath, CopyV2>::deserialize(d)?;
        Ok(CopiesV2(Cow::Owned(
            copies
                .into_iter()
                .map(|(path, c)| {
                    let CopyV2 { sha256, mode, size } = c;
                    let sha256 = sha256.into_owned();
                    (path, Recorded::copy(sha256, mode, size))
                })
                .collect(),
        )))
    }
}

impl<'a> From<&'a Data> for StateV2<'a> {
    fn from(data: &'a Data) -> Self {
        let Data { current, history } = data;
        StateV2 {
            version: STATE_FORMAT,
            current: current.as_ref().map(AppliedV2::from),
            history: history.iter().map(GenRecordV1::from).collect(),
        }
    }
}

impl<L: IntoLinks> From<StateV2<'_, L>> for Data {
    fn from(disk: StateV2<'_, L>) -> Self {
        let StateV2 {
            version: _,
            current,
            history,
        } = disk;
        Data {
            current: current.map(Applied::from),
            history: history.into_iter().map(GenRecord::from).collect(),
        }
    }
}

impl<'a> From<&'a Applied> for AppliedV2<'a> {
    fn from(a: &'a Applied) -> Self {
        let Applied {
            number,
            generation,
            txid,
            owned: Owned { entries, dirs },
            facts,
        } = a;
        AppliedV2 {
            number: *number,
            generation: Cow::Borrowed(generation),
            txid: Cow::Borrowed(txid),
            facts: facts.as_ref().map(FactsV1::from),
            links: LinksV2(Cow::Borrowed(entries)),
            copies: CopiesV2(Cow::Borrowed(entries)),
            dirs: Cow::Borrowed(dirs),
        }
    }
}

impl<L: IntoLinks> From<AppliedV2<'_, L>> for Applied {
    fn from(disk: AppliedV2<'_, L>) -> Self {
        let AppliedV2 {
            number,
            generation,
            txid,
            facts,
            links,
            copies,
            dirs,
        } = disk;
        let mut entries = links.into_links();
        entries.extend(copies.0.into_owned());
        Applied {
            number,
            generation: generation.into_owned(),
            txid: txid.into_owned(),
            facts: facts.map(Facts::from),
            owned: Owned {
                entries,
                dirs: dirs.into_owned(),
            },
        }
    }
}

impl<'a> From<&'a Facts> for FactsV1<'a> {
    fn from(f: &'a Facts) -> Self {
        let Facts { user, home, steps } = f;
        FactsV1 {
            user: Cow::Borrowed(user),
            home: Cow::Borrowed(home),
            steps: *steps,
        }
    }
}

impl From<FactsV1<'_>> for Facts {
    fn from(f: FactsV1<'_>) -> Self {
        let FactsV1 { user, home, steps } = f;
        Facts {
            user: user.into_owned(),
            home: home.into_owned(),
            steps,
        }
    }
}

/// Parses `state.json`. A good file of the current format is parsed once,
/// straight into the in-memory types; only one that does not parse as it
/// pays for a look at its `version`: format 1 is then read as such (the
/// migration: the next record is written in format 2), a newer one is
/// refused as such rather than called damaged.
fn decode_state(path: &Path, text: &str) -> Result<Data, Error> {
    let current = match serde_json::from_str::<StateV2>(text) {
        Ok(disk) if disk.version == STATE_FORMAT => return Ok(Data::from(disk)),
        Ok(disk) => Some(u64::from(disk.version)),
        Err(_) => probe_format(text.as_bytes()),
    };
    let corrupt = |message: String| Error::Corrupt {
        path: path.to_path_buf(),
        message,
    };
    match current {
        Some(1) => serde_json::from_str::<StateV1>(text)
            .map(Data::from)
            .map_err(|e| corrupt(e.to_string())),
        Some(found) => {
            check_format(path, StateFile::State, found, STATE_FORMAT)?;
            // A readable version this hearth reads, but not its shape.
            Err(corrupt(
                serde_json::from_str::<StateV2>(text)
                    .err()
                    .map_or_else(|| "it does not parse".into(), |e| e.to_string()),
            ))
        }
        None => Err(corrupt(
            serde_json::from_str::<StateV2>(text)
                .err()
                .map_or_else(|| "it does not parse".into(), |e| e.to_string()),
        )),
    }
}

/// The `version` of a JSON object whatever else it holds, if it has one.
pub(crate) fn probe_format(json: &[u8]) -> Option<u64> {
    #[derive(Deserialize)]
    struct Probe {
        version: Option<u64>,
    }
    serde_json::from_slice::<Probe>(json).ok()?.version
}

/// Refuses a format this hearth does not read: a newer one than `reads`
/// by name (nothing is changed: the caller has written nothing yet), one
/// below 1 (no hearth wrote it) as unknown. Formats 1 to `reads` are
/// read, an older one migrated by its reader.
pub(crate) fn check_format(
    path: &Path,
    file: StateFile,
    found: u64,
    reads: u32,
) -> Result<(), Error> {
    let path = path.to_path_buf();
    if found > u64::from(reads) {
        Err(Error::Newer {
            path,
            file,
            found,
            reads,
        })
    } else if found == 0 {
        Err(Error::UnknownFormat {
            path,
            file,
            found,
            reads,
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_time(1_795_000_000), "2026-11-18 11:06:40 UTC");
    }

    /// A fresh directory for one test, under the system's temp dir.
    pub(crate) fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "hearth-state-{name}-{}-{}",
            std::process::id(),
            now()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Runs `f` on a thread of its own and fails the test when it has not
    /// returned within 10 s: an `open()` that waits on a FIFO never returns.
    pub(crate) fn within<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("hearth blocked on a special file in its state directory")
    }

    pub(crate) fn fifo(path: &Path) {
        nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    }

    /// `state.json` as the hearth before format checks wrote it (copied from
    /// its output): every kind of record, and a copy without a size.
    pub(crate) const STATE_BEFORE: &str = r#"{"version":1,"current":{"number":2,"generation":"/nix/store/g2","txid":"t2","owned":{"entries":{".vimrc":{"symlink":{"target":"/nix/store/a-vimrc"}},"bin/x":{"copy":{"sha256":"ab","mode":493,"size":3}},"old":{"copy":{"sha256":"cd","mode":420}}},"dirs":["bin"]}},"history":[{"number":1,"path":"/nix/store/g1","time":100},{"number":2,"path":"/nix/store/g2","time":200}]}"#;

    fn p(s: &str) -> RelPath {
        RelPath::parse(s).unwrap()
    }

    #[test]
    fn state_format_1_is_what_was_written_before() {
        let mut owned = Owned::default();
        owned.entries.insert(
            p(".vimrc"),
            Recorded::Symlink {
                target: Path::new("/nix/store/a-vimrc").into(),
            },
        );
        owned
            .entries
            .insert(p("bin/x"), Recorded::copy("ab".into(), 0o755, Some(3)));
        owned
            .entries
            .insert(p("old"), Recorded::copy("cd".into(), 0o644, None));
        owned.dirs.insert(p("bin"));
        let record = |number, time| GenRecord {
            number,
            path: format!("/nix/store/g{number}").into(),
            time,
            packages: None,
        };
        let data = Data {
            current: Some(Applied {
                number: 2,
                generation: "/nix/store/g2".into(),
                txid: "t2".into(),
                owned,
                facts: None,
            }),
            history: vec![record(1, 100), record(2, 200)],
        };
        // Read from format 1: the same state, written in format 2, which
        // reads back as the same state again.
        let read = decode_state(Path::new("state.json"), STATE_BEFORE).unwrap();
        assert_eq!(
            read.current.as_ref().unwrap().owned,
            data.current.as_ref().unwrap().owned
        );
        assert_eq!(read.history, data.history);
        let text = written(&data);
        assert_eq!(text, STATE_V2);
        let again = decode_state(Path::new("state.json"), STATE_V2).unwrap();
        assert_eq!(
            again.current.as_ref().unwrap().owned,
            data.current.as_ref().unwrap().owned
        );
        assert_eq!(again.history, data.history);
        assert_eq!(written(&again), STATE_V2);
    }

    /// `data` as `state.json` holds it; written directly and by `serde_json`,
    /// the same bytes.
    fn written(data: &Data) -> String {
        crate::sys::json::written_as_serde(&StateV2::from(data), |w| write_v2(w, data))
    }

    #[test]
    fn a_link_target_that_is_not_utf8_is_the_same_error_either_way() {
        use std::os::unix::ffi::OsStrExt;
        let mut owned = Owned::default();
        owned.entries.insert(
            p("a"),
            Recorded::Symlink {
                target: Path::new(std::ffi::OsStr::from_bytes(b"/nix/store/\xff")).into(),
            },
        );
        let data = Data {
            current: Some(Applied {
                number: 1,
                generation: "/nix/store/g1".into(),
                txid: "t".into(),
                owned,
                facts: None,
            }),
            history: Vec::new(),
        };
        let fast = write_v2(&mut Vec::new(), &data).unwrap_err().to_string();
        let serde = serde_json::to_vec(&StateV2::from(&data))
            .unwrap_err()
            .to_string();
        assert_eq!(fast, serde);
    }

    /// `state.json` in format 2: links grouped by the directory of their
    /// targets, copies apart.
    const STATE_V2: &str = r#"{"version":2,"current":{"number":2,"generation":"/nix/store/g2","txid":"t2","links":{"/nix/store/":{".vimrc":"a-vimrc"}},"copies":{"bin/x":{"sha256":"ab","mode":493,"size":3},"old":{"sha256":"cd","mode":420}},"dirs":["bin"]},"history":[{"number":1,"path":"/nix/store/g1","time":100},{"number":2,"path":"/nix/store/g2","time":200}]}"#;

    /// Targets in several directories, one without any `/`, names that need
    /// escaping: each comes back as it was.
    #[test]
    fn links_are_grouped_by_directory_and_read_back_as_they_were() {
        let mut owned = Owned::default();
        for (path, target) in [
            ("a", "/nix/store/x-src/a"),
            ("b/c", "/nix/store/y-file"),
            ("d", "/nix/store/x-src/sub/\"quoted\""),
            ("e", "relative"),
            ("f", "/top"),
            ("g \"h\"", "/nix/store/x-src/g"),
        ] {
            owned.entries.insert(
                p(path),
                Recorded::Symlink {
                    target: Path::new(target).into(),
                },
            );
        }
        let data = Data {
            current: Some(Applied {
                number: 1,
                generation: "/nix/store/g1".into(),
                txid: "t".into(),
                owned: owned.clone(),
                facts: Some(Facts {
                    user: "alice".into(),
                    home: "/home/alice".into(),
                    steps: false,
                }),
            }),
            history: Vec::new(),
        };
        let text = written(&data);
        let read = decode_state(Path::new("state.json"), &text).unwrap();
        let cur = read.current.unwrap();
        assert_eq!(cur.owned, owned, "{text}");
        assert_eq!(cur.facts, data.current.unwrap().facts);
    }

    /// A history record names its packages environment, or `null` for
    /// none; a record without the field (an older hearth's) is "not
    /// recorded". Each reads back as written.
    #[test]
    fn history_records_their_packages_environment() {
        let text = r#"{"version":2,"current":null,"history":[{"number":1,"path":"/nix/store/g1","time":1,"packages":"/nix/store/env"},{"number":2,"path":"/nix/store/g2","time":2,"packages":null},{"number":3,"path":"/nix/store/g3","time":3},{"number":4,"path":"/nix/store/g4","time":4,"packages":null,"systemPackages":"/nix/store/sys"}]}"#;
        let data = decode_state(Path::new("state.json"), text).unwrap();
        let packages: Vec<_> = data.history.iter().map(|g| g.packages.clone()).collect();
        assert_eq!(
            packages,
            [
                Some(Some(Env {
                    path: "/nix/store/env".into(),
                    by: Installer::Profile
                })),
                Some(None),
                None,
                Some(Some(Env {
                    path: "/nix/store/sys".into(),
                    by: Installer::System
                })),
            ]
        );
        assert_eq!(written(&data), text);
    }

    #[test]
    fn state_formats_newer_than_2_are_refused_by_name() {
        let decode = |text: &str| decode_state(Path::new("/s/state.json"), text);
        // Newer, in the same shape or one this hearth cannot parse.
        for text in [
            STATE_V2.replace(r#""version":2"#, r#""version":3"#),
            r#"{"version":3,"generations":{}}"#.to_string(),
            r#"{"current":null,"version":99999999999,"history":[]}"#.to_string(),
        ] {
            let err = decode(&text).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::Newer {
                        file: StateFile::State,
                        reads: 2,
                        ..
                    }
                ),
                "{text}: {err}"
            );
            assert!(
                err.to_string()
                    .starts_with("/s/state.json was written by a newer hearth"),
                "{err}"
            );
        }
        let err = decode(r#"{"version":0,"current":null,"history":[]}"#).unwrap_err();
        assert!(
            matches!(err, Error::UnknownFormat { found: 0, .. }),
            "{err}"
        );
        // Format 1 or 2 that does not parse, or no version at all: damaged.
        for text in [
            r#"{"version":1,"current":5,"history":[]}"#,
            r#"{"version":2,"current":5,"history":[]}"#,
            &STATE_V2.replace(r#""links""#, r#""linkz""#),
            r#"{"history":[]}"#,
            "[1",
        ] {
            let err = decode(text).unwrap_err();
            assert!(matches!(err, Error::Corrupt { .. }), "{text}: {err}");
        }
    }

    /// A FIFO (or anything) at the temporary name is replaced, never opened.
    #[test]
    fn write_atomic_replaces_a_fifo_at_its_temporary_name() {
        let dir = scratch("atomic-fifo");
        fifo(&dir.join(format!(".x.json.tmp-{}", std::process::id())));
        let d = dir.clone();
        within(move || {
            write_atomic_with(&d, "x.json", false, |f, dest| {
                f.write_all(b"{}").map_err(io_err(dest))
            })
        })
        .unwrap();
        assert_eq!(std::fs::read(dir.join("x.json")).unwrap(), b"{}");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A record with links into several directories (one with no `/`),
    /// copies, directories, facts and a history.
    fn record() -> Data {
        let mut owned = Owned::default();
        for (path, target) in [
            ("a", "/nix/store/x-src/a"),
            (".config/b c/é", "/nix/store/y-file"),
            ("e", "relative"),
            ("f", "/top"),
            ("g", "/nix/store/x-src/g"),
        ] {
            owned.entries.insert(
                p(path),
                Recorded::Symlink {
                    target: Path::new(target).into(),
                },
            );
        }
        owned
            .entries
            .insert(p("bin/x"), Recorded::copy("ab".into(), 0o755, Some(3)));
        owned.dirs.insert(p("bin"));
        Data {
            current: Some(Applied {
                number: 2,
                generation: "/nix/store/g2".into(),
                txid: "t2".into(),
                owned,
                facts: Some(Facts {
                    user: "alice".into(),
                    home: "/home/alice".into(),
                    steps: false,
                }),
            }),
            history: vec![
                GenRecord {
                    number: 1,
                    path: "/nix/store/g1".into(),
                    time: 100,
                    packages: Some(None),
                },
                GenRecord {
                    number: 2,
                    path: "/nix/store/g2".into(),
                    time: 200,
                    packages: None,
                },
            ],
        }
    }

    /// A record as hearth writes it, read with its links apart, is the
    /// record read whole: the same count, each link given to `links_all`
    /// in the file's order (which stops at the first it is false of), and
    /// made whole again the same entries in the same order (links, then
    /// copies), written back byte for byte as it was.
    #[test]
    fn a_record_read_with_its_links_apart_is_the_record_read_whole() {
        let text = written(&record());
        let path = Path::new("state.json");
        let whole = decode_state(path, &text).unwrap();
        let whole_cur = whole.current.as_ref().unwrap();
        let Ok(loaded) = Loaded::apart(path, text.clone()) else {
            panic!("hearth's own writing: {text}");
        };
        let apart = &loaded.data.current.as_ref().unwrap().owned;
        assert!(apart
            .entries
            .values()
            .all(|r| matches!(r, Recorded::Copy(_))));
        assert_eq!(loaded.managed(), whole_cur.owned.entries.len());
        let mut given = Vec::new();
        assert!(loaded.links_all(|path, dir, name| {
            given.push((path.to_owned(), format!("{dir}{name}")));
            true
        }));
        let links: Vec<_> = whole_cur
            .owned
            .entries
            .iter()
            .filter_map(|(path, rec)| match rec {
                Recorded::Symlink { target } => Some((
                    path.as_str().to_owned(),
                    target.to_str().unwrap().to_owned(),
                )),
                Recorded::Copy(_) => None,
            })
            .collect();
        assert_eq!(given, links);
        let mut calls = 0;
        assert!(!loaded.links_all(|_, _, _| {
            calls += 1;
            false
        }));
        assert_eq!(calls, 1);
        let back = loaded.into_data().unwrap();
        let back_cur = back.current.as_ref().unwrap();
        assert!(back_cur
            .owned
            .entries
            .iter()
            .eq(whole_cur.owned.entries.iter()));
        assert_eq!(written(&back), text);
    }

    /// Whatever hearth would not have written (spaces, an escape in a
    /// link, an unknown field that holds something like links before the
    /// applied generation's, no applied generation, format 1) is read
    /// whole, as before; a record with no links at all is still read apart.
    #[test]
    fn a_record_hearth_did_not_write_so_is_read_whole() {
        let path = Path::new("state.json");
        let text = written(&record());
        let pretty = serde_json::to_string_pretty(&StateV2::from(&record())).unwrap();
        let mut escaped = record();
        escaped.current.as_mut().unwrap().owned.entries.insert(
            p("q"),
            Recorded::Symlink {
                target: Path::new("/nix/store/x-src/\"q\"").into(),
            },
        );
        let escaped = written(&escaped);
        let decoy = text.replacen(
            r#"{"version":2,"#,
            r#"{"version":2,"x":{"y":1,"links":{"/d/":{"a":"b"}}},"#,
            1,
        );
        let none = written(&Data {
            current: None,
            ..record()
        });
        for other in [&pretty, &escaped, &decoy, &none, &STATE_BEFORE.to_string()] {
            assert!(Loaded::apart(path, other.clone()).is_err(), "{other}");
            let read = Loaded::read(path, other.clone()).unwrap();
            assert!(read.apart.is_none());
        }
        let whole = decode_state(path, &decoy).unwrap();
        assert_eq!(
            whole.current.unwrap().owned,
            record().current.unwrap().owned
        );
        let mut no_links = record();
        no_links
            .current
            .as_mut()
            .unwrap()
            .owned
            .entries
            .retain(|_, r| matches!(r, Recorded::Copy(_)));
        let text = written(&no_links);
        let loaded = Loaded::read(path, text.clone()).unwrap();
        assert!(loaded.apart.is_some(), "{text}");
        assert_eq!(loaded.managed(), 1);
        assert_eq!(written(&loaded.into_data().unwrap()), text);
    }
}
