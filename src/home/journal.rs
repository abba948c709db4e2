//! The journal: the file in the state directory that lists an activation's
//! changes before the first of them is made, so that a failure or a kill at
//! any point can be undone (or, once committed, completed) by the next run.
//! This module reads and writes that file, and defines its format; it never
//! touches the home (`apply` does, from the [`Journal`] it gets here).
//!
//! The file exists only while an activation is unfinished: written new
//! (renamed into place) before the first change, removed once the
//! activation is complete, so no journal is kept between runs (at 100,000
//! files one is tens of megabytes). It is a header line of [`HEADER`]
//! bytes with the length of the JSON that follows (0, as older hearths
//! wrote when done: nothing pending), then the JSON. The header is the
//! same in every format, so that any hearth tells a torn journal (one
//! whose data a power cut lost) from a complete one; the format is the body's `version`
//! ([`JournalV1`]). A journal without one was written before formats were
//! versioned, in what is format 1.

use std::borrow::Cow;
use std::fs::OpenOptions;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::home::apply::{rel_path, Expect, Journal, Op, OwedHook, Siblings};
use crate::home::plan::{Desired, DesiredCopy, Prev, Recorded};
use crate::home::state::{
    check_format, io_err, open_regular, probe_format, Error, RecordedV1, State, StateFile,
};
use crate::manifest::RelPath;
use crate::sys::json;

const JOURNAL_FILE: &str = "journal";
/// Bytes of the journal's header line: the length of the JSON, padded.
const HEADER: usize = 16;
/// The format of the journal this hearth writes, and the newest it reads.
pub const JOURNAL_FORMAT: u32 = 1;

/// What `State::peek_journal` found (for `status`, `plan` and `doctor`,
/// which read without waiting for the lock).
pub enum Peeked {
    /// No journal, or one marked done.
    Nothing,
    /// One that does not parse: being written by the run that holds the
    /// lock, or a write cut short (the home was not touched yet either way;
    /// the next run discards it).
    Writing,
    Pending(Journal),
}

impl State {
    /// Where the journal lives (named in messages).
    pub fn journal_path(&self) -> PathBuf {
        self.dir.join(JOURNAL_FILE)
    }

    /// The journal of an activation that has not finished, if any.
    ///
    /// A journal of a newer format is refused (never discarded: only the
    /// hearth that wrote it can complete or revert what it records); one
    /// without a `version` is format 1, as the hearth before versions wrote.
    ///
    /// A torn journal (its write was cut short, so the home was not touched
    /// yet) is discarded, and `torn` is told its path.
    pub fn read_journal(&self, torn: &mut dyn FnMut(&Path)) -> Result<Option<Journal>, Error> {
        let path = self.journal_path();
        let Some(bytes) = read_journal_bytes(&path)? else {
            return Ok(None);
        };
        let parsed = match journal_body(&bytes) {
            Ok(None) => return Ok(None),
            Ok(Some(body)) => decode(&path, body)?,
            Err(()) => None,
        };
        if let Some(j) = parsed {
            Ok(Some(j))
        } else {
            // The home is changed only once the whole journal is on disk,
            // so a torn journal means the home was not touched.
            torn(&path);
            self.remove_journal()?;
            Ok(None)
        }
    }

    /// The journal as it is, for a reader without the lock: nothing is
    /// discarded or changed. A journal that does not parse is being written
    /// by the run that holds the lock (`Peeked::Writing`).
    pub fn peek_journal(&self) -> Result<Peeked, Error> {
        let path = self.journal_path();
        let Some(bytes) = read_journal_bytes(&path)? else {
            return Ok(Peeked::Nothing);
        };
        Ok(match journal_body(&bytes) {
            Ok(None) => Peeked::Nothing,
            Ok(Some(body)) => decode(&path, body)?.map_or(Peeked::Writing, Peeked::Pending),
            Err(()) => Peeked::Writing,
        })
    }

    /// Writes the journal and, when the activation moves a user's file aside
    /// (see `Journal::needs_flush`), forces it to disk before the first
    /// change to the home. A new file renamed into place: a reader finds
    /// the whole journal, or the one it replaces (the hooks still owed are
    /// written again as each starts), never half of one.
    pub fn write_journal(&self, j: &Journal) -> Result<(), Error> {
        // Streamed after room for the header, which is filled in once the
        // length is known: the journal of a large activation is never
        // held whole in memory.
        let flush = j.needs_flush();
        crate::home::state::write_atomic_with(&self.dir, JOURNAL_FILE, flush, |f, path| {
            use std::io::Write;
            use std::os::unix::fs::FileExt;
            f.write_all(&[b' '; HEADER]).map_err(io_err(path))?;
            crate::home::state::write_json_with(f, path, |w| write_v1(w, j))?;
            let len = f.metadata().map_err(io_err(path))?.len() - HEADER as u64;
            let header = format!("{len:<width$}\n", width = HEADER - 1);
            f.write_all_at(header.as_bytes(), 0).map_err(io_err(path))
        })
    }

    /// Removes the journal: nothing is pending, and no journal is kept
    /// between activations. Not forced to disk, like the commit it follows.
    pub fn remove_journal(&self) -> Result<(), Error> {
        let path = self.journal_path();
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&path)(e)),
        }
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

/// Parses a complete journal body. `Ok(None)`: it does not parse, and is
/// not a newer hearth's (a damaged write: discarded like a torn one).
fn decode(path: &Path, body: &[u8]) -> Result<Option<Journal>, Error> {
    match serde_json::from_slice::<JournalV1>(body) {
        Ok(disk) => {
            check_format(
                path,
                StateFile::Journal,
                u64::from(disk.version),
                JOURNAL_FORMAT,
            )?;
            Ok(Some(Journal::from(disk)))
        }
        Err(_) => match probe_format(body) {
            // A newer hearth's journal, in a shape this one cannot parse:
            // refused, not discarded (it is what undoes that activation).
            Some(found) if found != u64::from(JOURNAL_FORMAT) => {
                check_format(path, StateFile::Journal, found, JOURNAL_FORMAT).map(|()| None)
            }
            _ => Ok(None),
        },
    }
}

// ---------------------------------------------------------------------------
// The journal on disk
//
// As for state.json: the types below are the format, the `From` impls the
// one place where it meets `apply`'s and `plan`'s types, naming every field
// and variant so that a change there breaks the build here rather than
// changing the file. Written, the format borrows from the journal; read, it
// owns what it parsed and hands it over.

/// The journal's body, format 1. `version` is first, and defaults to 1: the
/// hearth before versions wrote this same shape without it.
#[derive(Serialize, Deserialize)]
struct JournalV1<'a> {
    #[serde(default = "format_1")]
    version: u32,
    txid: Cow<'a, str>,
    home: Cow<'a, Path>,
    generation: Cow<'a, Path>,
    ops: OpsV1<'a>,
    #[serde(default)]
    profile: Option<(Cow<'a, Path>, Option<Cow<'a, Path>>)>,
    #[serde(default)]
    hooks: Vec<OwedHookV1<'a>>,
    #[serde(default)]
    previous: Option<Cow<'a, Path>>,
}

fn format_1() -> u32 {
    1
}

/// The operations (one per change: tens of thousands in a large first
/// activation), written one by one through [`OpV1`] without copying the list.
enum OpsV1<'a> {
    /// A journal's, to write: the names its operations use are made from
    /// its transaction id as each is written.
    Written { ops: &'a [Op], txid: &'a str },
    /// As read, made operations once the transaction id is known too (see
    /// `Journal::from`).
    Read(Vec<OpV1<'a>>),
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
enum OpV1<'a> {
    Remove {
        path: Cow<'a, RelPath>,
        was: RecordedV1<'a>,
        trash: Cow<'a, RelPath>,
    },
    RemoveDir {
        path: Cow<'a, RelPath>,
        required: bool,
        /// Absent in journals written before it was recorded.
        #[serde(default)]
        mode: Option<u32>,
    },
    MoveAside {
        path: Cow<'a, RelPath>,
        to: Cow<'a, RelPath>,
        discard: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expect: Option<ExpectV1<'a>>,
    },
    Mkdir {
        path: Cow<'a, RelPath>,
    },
    Put {
        path: Cow<'a, RelPath>,
        want: DesiredV1<'a>,
        prev: PrevV1<'a>,
        tmp: Cow<'a, RelPath>,
        stash: Cow<'a, RelPath>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        was: Option<RecordedV1<'a>>,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ExpectV1<'a> {
    Symlink { target: Cow<'a, Path> },
    File { size: u64, mode: u32 },
    EmptyDir,
    Special,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum DesiredV1<'a> {
    Symlink {
        target: Cow<'a, Path>,
    },
    Copy {
        source: Cow<'a, Path>,
        sha256: Cow<'a, str>,
        mode: u32,
        /// Absent in journals written before it was recorded; such a
        /// journal is only ever reverted.
        #[serde(default)]
        size: u64,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum PrevV1<'a> {
    Missing,
    Symlink { target: Cow<'a, Path> },
    File,
}

#[derive(Serialize, Deserialize)]
struct OwedHookV1<'a> {
    what: Cow<'a, str>,
    name: Cow<'a, str>,
    program: Cow<'a, Path>,
}

/// Writes `j` in format 1: exactly the bytes `serde_json` writes for
/// [`JournalV1`], with the operations of every activation (links put,
/// removed, directories made) written directly (see `sys::json`); the
/// others go through [`OpV1`].
fn write_v1(w: &mut impl io::Write, j: &Journal) -> serde_json::Result<()> {
    let disk = JournalV1::from(j);
    json::raw(w, b"{\"version\":")?;
    serde_json::to_writer(&mut *w, &disk.version)?;
    json::raw(w, b",\"txid\":")?;
    json::string(w, &disk.txid)?;
    json::raw(w, b",\"home\":")?;
    json::path(w, &disk.home)?;
    json::raw(w, b",\"generation\":")?;
    json::path(w, &disk.generation)?;
    json::raw(w, b",\"ops\":[")?;
    let mut names = Siblings::new(&j.txid);
    for (i, op) in j.ops.iter().enumerate() {
        if i > 0 {
            json::raw(w, b",")?;
        }
        write_op_v1(w, op, &mut names)?;
    }
    json::raw(w, b"],\"profile\":")?;
    serde_json::to_writer(&mut *w, &disk.profile)?;
    json::raw(w, b",\"hooks\":")?;
    serde_json::to_writer(&mut *w, &disk.hooks)?;
    json::raw(w, b",\"previous\":")?;
    serde_json::to_writer(&mut *w, &disk.previous)?;
    json::raw(w, b"}")
}

/// One operation as [`OpV1`] writes it; `names` makes the names it uses.
fn write_op_v1(w: &mut impl io::Write, op: &Op, names: &mut Siblings) -> serde_json::Result<()> {
    let put_link = |w: &mut _, path: &RelPath, target: &Path| {
        json::raw(w, b"{\"op\":\"put\",\"path\":")?;
        json::string(w, path.as_str())?;
        json::raw(w, b",\"want\":{\"type\":\"symlink\",\"target\":")?;
        json::path(w, target)?;
        json::raw(w, b"},\"prev\":")
    };
    let put_names = |w: &mut _, [tmp, stash]: [&str; 2]| {
        json::raw(w, b",\"tmp\":")?;
        json::string(w, tmp)?;
        json::raw(w, b",\"stash\":")?;
        json::string(w, stash)?;
        json::raw(w, b"}")
    };
    match op {
        Op::Put {
            path,
            want: Desired::Symlink { target },
            prev: Prev::Missing,
            names: put,
            was: None,
        } => {
            put_link(w, path, target)?;
            json::raw(w, b"{\"type\":\"missing\"}")?;
            put_names(w, names.put(path, put))
        }
        Op::Put {
            path,
            want: Desired::Symlink { target },
            prev: Prev::Symlink { target: old },
            names: put,
            was: None,
        } => {
            put_link(w, path, target)?;
            json::raw(w, b"{\"type\":\"symlink\",\"target\":")?;
            json::path(w, old)?;
            json::raw(w, b"}")?;
            put_names(w, names.put(path, put))
        }
        Op::Remove {
            path,
            was: Recorded::Symlink { target },
            trash,
        } => {
            json::raw(w, b"{\"op\":\"remove\",\"path\":")?;
            json::string(w, path.as_str())?;
            json::raw(w, b",\"was\":{\"symlink\":{\"target\":")?;
            json::path(w, target)?;
            json::raw(w, b"}},\"trash\":")?;
            json::string(w, names.trash(path, trash))?;
            json::raw(w, b"}")
        }
        Op::Mkdir { path } => {
            json::raw(w, b"{\"op\":\"mkdir\",\"path\":")?;
            json::string(w, path.as_str())?;
            json::raw(w, b"}")
        }
        other => serde_json::to_writer(w, &op_v1(other, names)),
    }
}

impl Serialize for OpsV1<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            OpsV1::Written { ops, txid } => {
                let mut names = Siblings::new(txid);
                s.collect_seq(ops.iter().map(|op| op_v1(op, &mut names)))
            }
            OpsV1::Read(ops) => ops.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for OpsV1<'_> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Read only to recover an interrupted run: a second list is fine.
        Ok(OpsV1::Read(Vec::<OpV1>::deserialize(d)?))
    }
}

impl<'a> From<&'a Journal> for JournalV1<'a> {
    fn from(j: &'a Journal) -> Self {
        let Journal {
            txid,
            home,
            generation,
            ops,
            profile,
            hooks,
            previous,
        } = j;
        JournalV1 {
            version: JOURNAL_FORMAT,
            txid: Cow::Borrowed(txid),
            home: Cow::Borrowed(home),
            generation: Cow::Borrowed(generation),
            ops: OpsV1::Written { ops, txid },
            profile: profile.as_ref().map(|(profile, link)| {
                (
                    Cow::Borrowed(profile.as_path()),
                    link.as_deref().map(Cow::Borrowed),
                )
            }),
            hooks: hooks.iter().map(OwedHookV1::from).collect(),
            previous: previous.as_deref().map(Cow::Borrowed),
        }
    }
}

impl From<JournalV1<'_>> for Journal {
    fn from(disk: JournalV1<'_>) -> Self {
        // The version was checked by the caller, before the conversion.
        let JournalV1 {
            version: _,
            txid,
            home,
            generation,
            ops,
            profile,
            hooks,
            previous,
        } = disk;
        let ops = match ops {
            OpsV1::Written { ops, .. } => ops.to_vec(),
            OpsV1::Read(ops) => {
                let mut names = Siblings::new(&txid);
                ops.into_iter().map(|op| op_of(op, &mut names)).collect()
            }
        };
        Journal {
            txid: txid.into_owned(),
            home: home.into_owned(),
            generation: generation.into_owned(),
            ops,
            profile: profile.map(|(p, link)| (p.into_owned(), link.map(Cow::into_owned))),
            hooks: hooks.into_iter().map(OwedHook::from).collect(),
            previous: previous.map(Cow::into_owned),
        }
    }
}

/// `op` on disk, its names made by `names` (the journal's [`Siblings`]).
fn op_v1<'a>(op: &'a Op, names: &mut Siblings) -> OpV1<'a> {
    match op {
        Op::Remove { path, was, trash } => OpV1::Remove {
            path: Cow::Borrowed(path),
            was: RecordedV1::from(was),
            trash: Cow::Owned(rel_path(names.trash(path, trash))),
        },
        Op::RemoveDir {
            path,
            required,
            mode,
        } => OpV1::RemoveDir {
            path: Cow::Borrowed(path),
            required: *required,
            mode: *mode,
        },
        Op::MoveAside {
            path,
            to,
            discard,
            expect,
        } => OpV1::MoveAside {
            path: Cow::Borrowed(path),
            to: Cow::Borrowed(to),
            discard: *discard,
            expect: expect.as_ref().map(ExpectV1::from),
        },
        Op::Mkdir { path } => OpV1::Mkdir {
            path: Cow::Borrowed(path),
        },
        Op::Put {
            path,
            want,
            prev,
            names: put,
            was,
        } => {
            let [tmp, stash] = names.put(path, put);
            OpV1::Put {
                path: Cow::Borrowed(path),
                want: DesiredV1::from(want),
                prev: PrevV1::from(prev),
                tmp: Cow::Owned(rel_path(tmp)),
                stash: Cow::Owned(rel_path(stash)),
                was: was.as_deref().map(RecordedV1::from),
            }
        }
    }
}

/// The operation `disk` reads as. Its names stay those written, whatever
/// they are; only those `names` would make for it are made again when
/// needed rather than kept (see `Siblings::read_put`).
fn op_of(disk: OpV1<'_>, names: &mut Siblings) -> Op {
    match disk {
        OpV1::Remove { path, was, trash } => {
            let path = path.into_owned();
            let trash = names.read_trash(&path, trash.into_owned());
            Op::Remove {
                path,
                was: Recorded::from(was),
                trash,
            }
        }
        OpV1::RemoveDir {
            path,
            required,
            mode,
        } => Op::RemoveDir {
            path: path.into_owned(),
            required,
            mode,
        },
        OpV1::MoveAside {
            path,
            to,
            discard,
            expect,
        } => Op::MoveAside {
            path: path.into_owned(),
            to: to.into_owned(),
            discard,
            expect: expect.map(Expect::from),
        },
        OpV1::Mkdir { path } => Op::Mkdir {
            path: path.into_owned(),
        },
        OpV1::Put {
            path,
            want,
            prev,
            tmp,
            stash,
            was,
        } => {
            let path = path.into_owned();
            let names = names.read_put(&path, tmp.into_owned(), stash.into_owned());
            Op::Put {
                path,
                want: Desired::from(want),
                prev: Prev::from(prev),
                names,
                was: was.map(|w| Box::new(Recorded::from(w))),
            }
        }
    }
}

impl<'a> From<&'a Expect> for ExpectV1<'a> {
    fn from(e: &'a Expect) -> Self {
        match e {
            Expect::Symlink { target } => ExpectV1::Symlink {
                target: Cow::Borrowed(target),
            },
            Expect::File { size, mode } => ExpectV1::File {
                size: *size,
                mode: *mode,
            },
            Expect::EmptyDir => ExpectV1::EmptyDir,
            Expect::Special => ExpectV1::Special,
        }
    }
}

impl From<ExpectV1<'_>> for Expect {
    fn from(disk: ExpectV1<'_>) -> Self {
        match disk {
            ExpectV1::Symlink { target } => Expect::Symlink {
                target: target.into_owned(),
            },
            ExpectV1::File { size, mode } => Expect::File { size, mode },
            ExpectV1::EmptyDir => Expect::EmptyDir,
            ExpectV1::Special => Expect::Special,
        }
    }
}

impl<'a> From<&'a Desired> for DesiredV1<'a> {
    fn from(d: &'a Desired) -> Self {
        match d {
            Desired::Symlink { target } => DesiredV1::Symlink {
                target: Cow::Borrowed(target),
            },
            Desired::Copy(c) => {
                let DesiredCopy {
                    source,
                    sha256,
                    mode,
                    size,
                } = &**c;
                DesiredV1::Copy {
                    source: Cow::Borrowed(source),
                    sha256: Cow::Borrowed(sha256),
                    mode: *mode,
                    size: *size,
                }
            }
        }
    }
}

impl From<DesiredV1<'_>> for Desired {
    fn from(disk: DesiredV1<'_>) -> Self {
        match disk {
            DesiredV1::Symlink { target } => Desired::Symlink {
                target: std::sync::Arc::from(&*target),
            },
            DesiredV1::Copy {
                source,
                sha256,
                mode,
                size,
            } => Desired::copy(source.into_owned(), sha256.into_owned(), mode, size),
        }
    }
}

impl<'a> From<&'a Prev> for PrevV1<'a> {
    fn from(p: &'a Prev) -> Self {
        match p {
            Prev::Missing => PrevV1::Missing,
            Prev::Symlink { target } => PrevV1::Symlink {
                target: Cow::Borrowed(target),
            },
            Prev::File => PrevV1::File,
        }
    }
}

impl From<PrevV1<'_>> for Prev {
    fn from(disk: PrevV1<'_>) -> Self {
        match disk {
            PrevV1::Missing => Prev::Missing,
            PrevV1::Symlink { target } => Prev::Symlink {
                target: target.into_owned(),
            },
            PrevV1::File => Prev::File,
        }
    }
}

impl<'a> From<&'a OwedHook> for OwedHookV1<'a> {
    fn from(h: &'a OwedHook) -> Self {
        let OwedHook {
            what,
            name,
            program,
        } = h;
        OwedHookV1 {
            what: Cow::Borrowed(what),
            name: Cow::Borrowed(name),
            program: Cow::Borrowed(program),
        }
    }
}

impl From<OwedHookV1<'_>> for OwedHook {
    fn from(disk: OwedHookV1<'_>) -> Self {
        let OwedHookV1 {
            what,
            name,
            program,
        } = disk;
        OwedHook {
            what: what.into_owned(),
            name: name.into_owned(),
            program: program.into_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::home::apply::{PutNames, TrashName};
    use crate::home::state::tests::{fifo, scratch, within};
    use std::time::Duration;

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

    /// A journal as the hearth before format versions wrote it (copied from
    /// its output): every kind of operation, a profile and an owed hook.
    const JOURNAL_BEFORE: &str = r#"{"txid":"t3","home":"/home/u","generation":"/nix/store/g3","ops":[{"op":"remove","path":"a","was":{"symlink":{"target":"/nix/store/x"}},"trash":".hearth-t3-0.trash"},{"op":"remove","path":"b","was":{"copy":{"sha256":"ab","mode":420,"size":1}},"trash":".hearth-t3-1.trash"},{"op":"remove-dir","path":"d","required":false,"mode":448},{"op":"remove-dir","path":"e","required":true,"mode":null},{"op":"move-aside","path":"f","to":"f.bak","discard":false},{"op":"move-aside","path":"g","to":".hearth-t3-2.discard","discard":true,"expect":{"symlink":{"target":"/x"}}},{"op":"move-aside","path":"h","to":".hearth-t3-3.discard","discard":true,"expect":{"file":{"size":4,"mode":384}}},{"op":"move-aside","path":"i","to":".hearth-t3-4.discard","discard":true,"expect":"emptydir"},{"op":"move-aside","path":"j","to":".hearth-t3-5.discard","discard":true,"expect":"special"},{"op":"mkdir","path":"k"},{"op":"put","path":"k/l","want":{"type":"symlink","target":"/nix/store/l"},"prev":{"type":"missing"},"tmp":"k/.hearth-t3-6.tmp","stash":"k/.hearth-t3-6.stash"},{"op":"put","path":"m","want":{"type":"copy","source":"/nix/store/m","sha256":"ef","mode":292,"size":9},"prev":{"type":"file"},"tmp":".hearth-t3-7.tmp","stash":".hearth-t3-7.stash","was":{"copy":{"sha256":"00","mode":292,"size":2}}},{"op":"put","path":"n","want":{"type":"symlink","target":"/nix/store/n2"},"prev":{"type":"symlink","target":"/nix/store/n1"},"tmp":".hearth-t3-8.tmp","stash":".hearth-t3-8.stash"}],"profile":["/home/u/.local/state/nix/profiles/home-manager","/nix/store/p1"],"hooks":[{"what":"step","name":"s","program":"/nix/store/s"}],"previous":"/nix/store/g2"}"#;

    fn p(s: &str) -> RelPath {
        RelPath::parse(s).unwrap()
    }

    /// The journal of `JOURNAL_BEFORE`.
    fn every_op() -> Journal {
        let symlink = |t: &str| Recorded::Symlink {
            target: Path::new(t).into(),
        };
        let aside = |path: &str, n: u32, expect| Op::MoveAside {
            path: p(path),
            to: p(&format!(".hearth-t3-{n}.discard")),
            discard: true,
            expect: Some(expect),
        };
        // The temporary names are beside the target, in its directory
        // (`JOURNAL_BEFORE` says which they are).
        let put = |path: &str, n: u32, want, prev, was: Option<Recorded>| Op::Put {
            path: p(path),
            want,
            prev,
            names: PutNames::Derived(n),
            was: was.map(Box::new),
        };
        Journal {
            txid: "t3".into(),
            home: "/home/u".into(),
            generation: "/nix/store/g3".into(),
            ops: vec![
                Op::Remove {
                    path: p("a"),
                    was: symlink("/nix/store/x"),
                    trash: TrashName::Derived { n: 0, out: 0 },
                },
                Op::Remove {
                    path: p("b"),
                    was: Recorded::copy("ab".into(), 0o644, Some(1)),
                    trash: TrashName::Derived { n: 1, out: 0 },
                },
                Op::RemoveDir {
                    path: p("d"),
                    required: false,
                    mode: Some(0o700),
                },
                Op::RemoveDir {
                    path: p("e"),
                    required: true,
                    mode: None,
                },
                Op::MoveAside {
                    path: p("f"),
                    to: p("f.bak"),
                    discard: false,
                    expect: None,
                },
                aside(
                    "g",
                    2,
                    Expect::Symlink {
                        target: "/x".into(),
                    },
                ),
                aside(
                    "h",
                    3,
                    Expect::File {
                        size: 4,
                        mode: 0o600,
                    },
                ),
                aside("i", 4, Expect::EmptyDir),
                aside("j", 5, Expect::Special),
                Op::Mkdir { path: p("k") },
                put(
                    "k/l",
                    6,
                    Desired::Symlink {
                        target: Path::new("/nix/store/l").into(),
                    },
                    Prev::Missing,
                    None,
                ),
                put(
                    "m",
                    7,
                    Desired::copy("/nix/store/m".into(), "ef".into(), 0o444, 9),
                    Prev::File,
                    Some(Recorded::copy("00".into(), 0o444, Some(2))),
                ),
                put(
                    "n",
                    8,
                    Desired::Symlink {
                        target: Path::new("/nix/store/n2").into(),
                    },
                    Prev::Symlink {
                        target: "/nix/store/n1".into(),
                    },
                    None,
                ),
            ],
            profile: Some((
                "/home/u/.local/state/nix/profiles/home-manager".into(),
                Some("/nix/store/p1".into()),
            )),
            hooks: vec![OwedHook {
                what: "step".into(),
                name: "s".into(),
                program: "/nix/store/s".into(),
            }],
            previous: Some("/nix/store/g2".into()),
        }
    }

    fn write(j: &Journal) -> String {
        json::written_as_serde(&JournalV1::from(j), |w| write_v1(w, j))
    }

    #[test]
    fn the_journal_is_written_as_serde_json_writes_its_format() {
        use std::os::unix::ffi::OsStrExt;
        let mut j = every_op();
        write(&j);
        // Strings with characters to escape, in every place of the
        // operations written directly.
        let odd = "a\"b\\c\u{1}é";
        // The names made from the transaction id, then names given.
        j.txid = odd.into();
        write(&j);
        for op in &mut j.ops {
            match op {
                Op::Put {
                    path,
                    want: Desired::Symlink { target },
                    names,
                    ..
                } => {
                    *path = p(odd);
                    *target = Path::new(odd).into();
                    *names = PutNames::Given(Box::new([p(&format!("{odd}.tmp")), p("s")]));
                }
                Op::Remove { trash, .. } => *trash = TrashName::Given(p(odd)),
                Op::Mkdir { path } => *path = p(odd),
                _ => {}
            }
        }
        write(&j);
        // A path that is not UTF-8 cannot be written, either way.
        let bad = Path::new(std::ffi::OsStr::from_bytes(b"/nix/store/\xff"));
        for op in &mut j.ops {
            if let Op::Put {
                want: Desired::Symlink { target },
                ..
            } = op
            {
                *target = bad.into();
            }
        }
        let fast = write_v1(&mut Vec::new(), &j).unwrap_err().to_string();
        let serde = serde_json::to_vec(&JournalV1::from(&j))
            .unwrap_err()
            .to_string();
        assert_eq!(fast, serde);
    }

    #[test]
    fn journal_format_1_is_the_shape_written_before_plus_its_version() {
        let with_version = JOURNAL_BEFORE.replacen('{', r#"{"version":1,"#, 1);
        assert_eq!(write(&every_op()), with_version);
        // Both read back to the same journal: a journal without a version
        // is format 1.
        let path = Path::new("journal");
        for text in [JOURNAL_BEFORE, &with_version] {
            let read = decode(path, text.as_bytes()).unwrap().unwrap();
            assert_eq!(read.ops, every_op().ops);
            assert_eq!(write(&read), with_version);
        }
    }

    #[test]
    fn journal_formats_other_than_1_are_refused_never_discarded() {
        let decode = |text: &str| decode(Path::new("/s/journal"), text.as_bytes());
        for text in [
            JOURNAL_BEFORE.replacen('{', r#"{"version":2,"#, 1),
            r#"{"version":2,"changes":[]}"#.to_string(),
        ] {
            let err = decode(&text).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::Newer {
                        file: StateFile::Journal,
                        found: 2,
                        reads: 1,
                        ..
                    }
                ),
                "{text}: {err}"
            );
        }
        let err = decode(&JOURNAL_BEFORE.replacen('{', r#"{"version":0,"#, 1)).unwrap_err();
        assert!(
            matches!(err, Error::UnknownFormat { found: 0, .. }),
            "{err}"
        );
        // Format 1 (or no version) that does not parse: damaged, discarded
        // like a torn write.
        for text in [r#"{"version":1,"ops":5}"#, r#"{"txid":"t"}"#, "{"] {
            assert!(decode(text).unwrap().is_none(), "{text}");
        }
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
    fn journal_writes_never_open_a_fifo() {
        let dir = scratch("journal-fifo");
        let st = State::open(&dir, true, Duration::from_secs(1), &mut |_| {}).unwrap();
        // Written: a new file renamed over the FIFO, which is never opened
        // (opening it for writing would wait for a reader).
        fifo(&st.journal_path());
        let (st, written) = within(move || {
            let r = st.write_journal(&journal());
            (st, r)
        });
        written.unwrap();
        assert!(std::fs::symlink_metadata(st.journal_path())
            .unwrap()
            .is_file());
        assert!(st.read_journal(&mut |_| {}).unwrap().is_some());
        // Removed: unlinked, never opened.
        std::fs::remove_file(st.journal_path()).unwrap();
        fifo(&st.journal_path());
        let (st, removed) = within(move || {
            let r = st.remove_journal();
            (st, r)
        });
        removed.unwrap();
        assert!(std::fs::symlink_metadata(st.journal_path()).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
