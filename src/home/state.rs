//! The per-user state: `$XDG_STATE_HOME/hearth` (default
//! `~/.local/state/hearth`). It holds the lock that serializes hearth runs on
//! a home, what the current generation put where, the generation history,
//! the GC roots, and the journal of an activation in progress.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::home::apply::Journal;
use crate::home::plan::Owned;

const STATE_FILE: &str = "state.json";
const JOURNAL_FILE: &str = "journal";
/// Bytes of the journal's header line: the length of the JSON, padded.
const HEADER: usize = 16;
const LOCK_FILE: &str = "lock";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot use the state directory {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path} is damaged: {message}\nhint: move it aside to start over; hearth then treats every file in the home as not its own")]
    Corrupt { path: PathBuf, message: String },
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

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Flags for every file opened in the state directory: a link is refused
/// (ELOOP), never followed out of it, and opening never waits (a FIFO opened
/// for reading waits for a writer forever; `write_all_at` and `read` on a
/// regular file ignore the flag).
const OPEN_FLAGS: i32 = nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC | nix::libc::O_NONBLOCK;

/// Opens `path` with `opts` (plus [`OPEN_FLAGS`]) and refuses anything but a
/// regular file, with one `fstat` of what was opened. `Ok(None)`: there is
/// nothing at `path`.
fn open_regular(
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
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Applied {
    pub number: u64,
    pub generation: PathBuf,
    /// The transaction that applied it; a journal with this id is committed.
    pub txid: String,
    pub owned: Owned,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenRecord {
    pub number: u64,
    pub path: PathBuf,
    /// Seconds since the Unix epoch when it was first activated.
    pub time: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Data {
    pub version: u32,
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
    pub fn open(dir: &Path, create: bool, timeout: Duration) -> Result<State, Error> {
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
        let held = acquire(lock, &path, timeout)?;
        Ok(State {
            dir: dir.to_path_buf(),
            _lock: Some(held),
        })
    }

    pub fn load(&self) -> Result<Data, Error> {
        let path = self.dir.join(STATE_FILE);
        let Some(bytes) = read_regular(&path, StateFile::State)? else {
            return Ok(Data {
                version: 1,
                ..Data::default()
            });
        };
        let text =
            String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e));
        match text {
            // A power cut soon after the first commit (which is not forced
            // to disk) can leave the file empty: that is no state yet. What
            // the activation made is then reverted from the journal, or,
            // when that is gone too, adopted as matching the generation.
            Ok(text) if text.trim().is_empty() => Ok(Data {
                version: 1,
                ..Data::default()
            }),
            Ok(text) => serde_json::from_str(&text).map_err(|e| Error::Corrupt {
                path,
                message: e.to_string(),
            }),
            Err(e) => Err(io_err(&path)(e)),
        }
    }

    pub fn save(&self, data: &Data) -> Result<(), Error> {
        let bytes = serde_json::to_vec(data).map_err(|e| Error::Corrupt {
            path: self.dir.join(STATE_FILE),
            message: e.to_string(),
        })?;
        write_atomic(&self.dir, STATE_FILE, &bytes)
    }

    /// Where the journal lives (named in messages).
    pub fn journal_path(&self) -> PathBuf {
        self.dir.join(JOURNAL_FILE)
    }

    /// The journal of an activation that has not finished, if any.
    ///
    /// The file stays in place between activations, at a fixed size, and is
    /// overwritten: a header line with the length of the JSON that follows
    /// (0: nothing pending), then the JSON, then padding. Overwriting blocks
    /// already on disk lets forcing it to disk be a data flush, without the
    /// filesystem journal commit that growing a file costs.
    pub fn read_journal(&self) -> Result<Option<Journal>, Error> {
        let path = self.journal_path();
        let Some(bytes) = read_journal_bytes(&path)? else {
            return Ok(None);
        };
        let parsed = match journal_body(&bytes) {
            Ok(None) => return Ok(None),
            Ok(Some(body)) => serde_json::from_slice(body).ok(),
            Err(()) => None,
        };
        match parsed {
            Some(j) => Ok(Some(j)),
            None => {
                // The home is changed only once the whole journal is on disk,
                // so a torn journal means the home was not touched.
                crate::report::err(&format!(
                    "hearth: discarding the incomplete journal {} (an activation was stopped before it changed anything)\n",
                    path.display()
                ));
                self.remove_journal()?;
                Ok(None)
            }
        }
    }

    /// Writes the journal and, when the activation moves a user's file aside
    /// (see `Journal::needs_flush`), forces it to disk before the first
    /// change to the home.
    pub fn write_journal(&self, j: &Journal) -> Result<(), Error> {
        use std::os::unix::fs::FileExt;
        let path = self.journal_path();
        let body = serde_json::to_vec(j).map_err(|e| Error::Corrupt {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let mut bytes = format!("{:<width$}\n", body.len(), width = HEADER - 1).into_bytes();
        bytes.extend_from_slice(&body);
        let opened = open_regular(
            &path,
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .mode(0o600),
            StateFile::Journal,
        )?;
        // `None` only if the journal vanished between create and open.
        let (f, meta) = opened.ok_or_else(|| io_err(&path)(io::ErrorKind::NotFound.into()))?;
        let size = meta.len();
        let grown = size < bytes.len() as u64;
        if grown {
            // Zeros written (not a hole, not preallocated), so that later
            // overwrites change no block mapping.
            let capacity = (bytes.len() as u64).next_power_of_two().max(1 << 18);
            let zeros = vec![0u8; 1 << 16];
            let mut at = size;
            while at < capacity {
                let n = zeros.len().min((capacity - at) as usize);
                f.write_all_at(&zeros[..n], at).map_err(io_err(&path))?;
                at += n as u64;
            }
        }
        f.write_all_at(&bytes, 0).map_err(io_err(&path))?;
        if !j.needs_flush() {
            return Ok(());
        }
        if grown {
            f.sync_all().map_err(io_err(&path))?;
            OpenOptions::new()
                .read(true)
                .custom_flags(OPEN_FLAGS | nix::libc::O_DIRECTORY)
                .open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(io_err(&self.dir))
        } else {
            f.sync_data().map_err(io_err(&path))
        }
    }

    /// Marks the journal done (nothing pending); not forced to disk, like the
    /// commit it follows.
    pub fn remove_journal(&self) -> Result<(), Error> {
        use std::os::unix::fs::FileExt;
        let path = self.journal_path();
        match open_regular(&path, OpenOptions::new().write(true), StateFile::Journal)? {
            Some((f, _)) => {
                let empty = format!("{:<width$}\n", 0, width = HEADER - 1);
                f.write_all_at(empty.as_bytes(), 0).map_err(io_err(&path))
            }
            None => Ok(()),
        }
    }

    /// Keeps a copy of generation `number`'s manifest beside the state (what
    /// was applied, readable after the generation is garbage-collected). What
    /// hearth owns is recorded in the state itself, so cleanup never needs it.
    pub fn keep_manifest(&self, number: u64, manifest: &str) -> Result<(), Error> {
        let dir = self.dir.join("manifests");
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            // Something there already: a directory, not a link out of the
            // state directory nor a FIFO.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if !std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
                    return Err(Error::NotADir { path: dir });
                }
            }
            Err(e) => return Err(io_err(&dir)(e)),
        }
        write_atomic(&dir, &format!("{number}.json"), manifest.as_bytes())
    }

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

/// The header and as much of the body as it announces: the file's padding
/// (megabytes after a large activation) is not read on every run, nor more
/// than the file holds, whatever the header says.
fn read_journal_bytes(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    use std::io::Read;
    let Some((mut f, meta)) =
        open_regular(path, OpenOptions::new().read(true), StateFile::Journal)?
    else {
        return Ok(None);
    };
    let mut bytes = Vec::with_capacity(HEADER);
    (&mut f)
        .take(HEADER as u64)
        .read_to_end(&mut bytes)
        .map_err(io_err(path))?;
    let announced = std::str::from_utf8(&bytes)
        .ok()
        .and_then(|h| h.trim().parse::<u64>().ok());
    if let Some(len) = announced {
        f.take(len.min(meta.len()))
            .read_to_end(&mut bytes)
            .map_err(io_err(path))?;
    }
    Ok(Some(bytes))
}

/// The JSON of a journal file: `Ok(None)` when nothing is pending, `Err` when
/// the header or the length is not right (a torn write).
fn journal_body(bytes: &[u8]) -> Result<Option<&[u8]>, ()> {
    if bytes.is_empty() {
        return Ok(None);
    }
    let header = bytes.get(..HEADER).ok_or(())?;
    let len: usize = std::str::from_utf8(header)
        .map_err(|_| ())?
        .trim()
        .parse()
        .map_err(|_| ())?;
    if len == 0 {
        return Ok(None);
    }
    bytes.get(HEADER..HEADER + len).map(Some).ok_or(())
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

fn acquire(mut lock: File, path: &Path, timeout: Duration) -> Result<Flock<File>, Error> {
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
            crate::report::err(&format!(
                "hearth: waiting for another hearth run on this home to finish (lock {})\n",
                path.display()
            ));
            told = true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Writes `dir/name` so that a reader sees either the old or the new
/// content. Not forced to disk: a kill cannot undo a completed rename, and a
/// flush here would push out every change of the activation at once, which
/// costs more than the changes (the journal, which must precede them, has
/// its own writer).
fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), Error> {
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
    f.write_all(bytes).map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, &dest).map_err(io_err(&dest))
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `2026-11-22 14:03:05 UTC`, without pulling in a date library.
pub fn format_time(secs: u64) -> String {
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

/// Parses durations like `30d`, `12h`, `90m`, `2w`, `45s`, in seconds. One
/// that does not fit in 64 bits of seconds is refused: wrapped, it would be
/// a few seconds, and expire every generation.
pub fn parse_duration(raw: &str) -> Result<u64, String> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (num, unit) = raw.split_at(split);
    let not_a_duration = || format!("{raw:?} is not a duration; write it like 30d, 12h, 2w");
    if num.is_empty() {
        return Err(not_a_duration());
    }
    let mult: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" | "" => 86_400,
        "w" => 7 * 86_400,
        _ => {
            return Err(format!(
                "{raw:?}: unknown unit {unit:?}; use s, m, h, d or w"
            ))
        }
    };
    let too_large = || {
        format!(
            "{raw:?} is too large; at most {}{} (over 584 billion years)",
            u64::MAX / mult,
            if unit.is_empty() { "d" } else { unit }
        )
    };
    let n: u64 = num.parse().map_err(|e: std::num::ParseIntError| {
        if *e.kind() == std::num::IntErrorKind::PosOverflow {
            too_large()
        } else {
            not_a_duration()
        }
    })?;
    n.checked_mul(mult).ok_or_else(too_large)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_time(1_795_000_000), "2026-11-18 11:06:40 UTC");
    }

    #[test]
    fn journal_bodies() {
        let with = |len: usize, body: &str| format!("{len:<15}\n{body}").into_bytes();
        assert_eq!(journal_body(b""), Ok(None));
        assert_eq!(journal_body(&with(0, "")), Ok(None));
        assert_eq!(journal_body(&with(2, "{}\0\0")), Ok(Some(&b"{}"[..])));
        // Torn: the length promises more than is there, or no header at all.
        assert_eq!(journal_body(&with(9, "{}")), Err(()));
        assert_eq!(journal_body(b"{\"txid\""), Err(()));
    }

    /// A fresh directory for one test, under the system's temp dir.
    fn scratch(name: &str) -> PathBuf {
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
    /// returned within 10 s: an open() that waits on a FIFO never returns.
    fn within<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("hearth blocked on a special file in its state directory")
    }

    fn fifo(path: &Path) {
        nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    }

    fn journal() -> Journal {
        Journal {
            txid: "t".into(),
            home: "/home/x".into(),
            generation: "/nix/store/x".into(),
            ops: Vec::new(),
            profile: None,
            hooks: Vec::new(),
            previous: None,
        }
    }

    /// The write paths meet a FIFO only if it is put there after the read
    /// that checks first (a race): they must refuse it just as fast.
    #[test]
    fn journal_writes_refuse_a_fifo() {
        let dir = scratch("journal-fifo");
        let st = State::open(&dir, true, Duration::from_secs(1)).unwrap();
        fifo(&st.journal_path());
        let (st, written) = within(move || {
            let r = st.write_journal(&journal());
            (st, r)
        });
        let err = written.unwrap_err().to_string();
        assert!(
            err.contains("is a FIFO (named pipe), not a regular file"),
            "{err}"
        );
        let (st, removed) = within(move || {
            let r = st.remove_journal();
            (st, r)
        });
        let err = removed.unwrap_err().to_string();
        assert!(err.contains("is a FIFO (named pipe)"), "{err}");
        // Still a FIFO: refused, not replaced nor written through.
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::symlink_metadata(st.journal_path())
            .unwrap()
            .file_type()
            .is_fifo());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A FIFO (or anything) at the temporary name is replaced, never opened.
    #[test]
    fn write_atomic_replaces_a_fifo_at_its_temporary_name() {
        let dir = scratch("atomic-fifo");
        fifo(&dir.join(format!(".x.json.tmp-{}", std::process::id())));
        let d = dir.clone();
        within(move || write_atomic(&d, "x.json", b"{}")).unwrap();
        assert_eq!(std::fs::read(dir.join("x.json")).unwrap(), b"{}");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30d"), Ok(30 * 86_400));
        assert_eq!(parse_duration("12h"), Ok(12 * 3600));
        assert!(parse_duration("x").is_err());
        assert!(parse_duration("3y").is_err());
        // The largest that fits, and one more of each kind of overflow.
        assert_eq!(parse_duration("18446744073709551615s"), Ok(u64::MAX));
        assert_eq!(
            parse_duration("213503982334601d"),
            Ok(213_503_982_334_601 * 86_400)
        );
        for raw in [
            "213503982334602d",
            "144115188075855872d",
            "18446744073709551616s",
        ] {
            let e = parse_duration(raw).unwrap_err();
            assert!(e.contains("too large"), "{raw}: {e}");
        }
    }
}
