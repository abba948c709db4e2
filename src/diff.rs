//! `hearth diff`: for each managed path that drifted (see
//! `home::activate::drift`), what the current generation wants there next
//! to what is in the home, read so that `report::diff` can show a unified
//! diff. Covers modified copies and managed links replaced by a regular
//! file; other drift is passed on as it was found. Reads only: never
//! touches the home or the state.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use crate::home::activate::{self, Context, Error, Sink};
use crate::home::plan::{Recorded, Seen};
use crate::manifest::{Generation, RelPath};

/// Files larger than this are not read into memory to be diffed; their
/// sizes are shown instead.
pub const MAX_DIFF_BYTES: u64 = 8 << 20;

/// What `diff` found.
pub struct Diffs {
    /// The current generation's number and store path; `None` when no
    /// generation was ever activated in the home.
    pub generation: Option<(u64, PathBuf)>,
    /// Managed paths looked at (all, or those under the paths given).
    pub looked_at: usize,
    /// Whether paths were given (the message then says "in those paths").
    pub filtered: bool,
    pub files: Vec<FileDiff>,
}

impl Diffs {
    /// Whether anything differs (the exit status says so).
    pub fn differs(&self) -> bool {
        !self.files.is_empty()
    }
}

/// One drifted path.
pub struct FileDiff {
    pub path: RelPath,
    pub content: Content,
}

/// What can be shown of one drifted path.
pub enum Content {
    /// Both sides are text: a unified diff from `want` to `have`.
    Text {
        want: String,
        have: String,
        /// The modes when they differ (generation, home), for a copy.
        modes: Option<(u32, u32)>,
        /// The generation has a link here (replaced by this file).
        was_link: bool,
    },
    /// At least one side is not UTF-8 text, or too large to diff.
    Binary {
        want_size: u64,
        have_size: u64,
        modes: Option<(u32, u32)>,
        was_link: bool,
    },
    /// Drift a content diff cannot show (a missing path, a link that points
    /// elsewhere, a directory in a file's place), or whose wanted content
    /// cannot be read any more: `problem` as `status` names it, and what is
    /// there now.
    Other {
        problem: &'static str,
        found: Seen,
        /// Why the content is not shown, when it would have been.
        note: Option<String>,
    },
}

/// The drift of the current generation, restricted to `paths` (relative to
/// the home, or absolute inside it; a directory stands for what is below).
pub fn compute(ctx: &Context, paths: &[PathBuf], sink: Sink) -> Result<Diffs, Error> {
    let wanted = paths
        .iter()
        .map(|p| relative_to_home(&ctx.home, p))
        .collect::<Result<Vec<_>, _>>()?;
    let (cur, drift) = activate::drift(ctx, sink)?;
    let Some((cur, _)) = cur else {
        return Ok(Diffs {
            generation: None,
            looked_at: 0,
            filtered: !paths.is_empty(),
            files: Vec::new(),
        });
    };
    let selected = |p: &RelPath| wanted.is_empty() || wanted.iter().any(|w| is_at_or_below(p, w));
    for (given, w) in paths.iter().zip(&wanted) {
        if !cur.owned.entries.keys().any(|p| is_at_or_below(p, w)) {
            return Err(Error::InvalidArg(format!(
                "{} is not managed by generation {}, nor is anything below it\nhint: `hearth status` counts the managed paths; give one of them",
                crate::report::escape_path(given),
                cur.number
            )));
        }
    }
    let looked_at = cur.owned.entries.keys().filter(|p| selected(p)).count();
    // Loaded only when a copy's wanted content is needed (not for links,
    // whose target is the content).
    let mut gen: Option<Option<Generation>> = None;
    let mut files = Vec::new();
    for d in drift.into_iter().filter(|d| selected(&d.path)) {
        let rec = cur.owned.entries.get(&d.path);
        let source = match (rec, &d.found) {
            (Some(Recorded::Copy { .. }), Seen::File { .. }) => {
                let g =
                    gen.get_or_insert_with(|| Generation::load_with(&cur.generation, false).ok());
                Some(g.as_ref().and_then(|g| copy_source(g, &d.path)))
            }
            (Some(Recorded::Symlink { target }), Seen::File { .. }) => {
                Some(Some(target.to_path_buf()))
            }
            _ => None,
        };
        let content = match source {
            None => Content::Other {
                problem: d.problem,
                found: d.found,
                note: None,
            },
            Some(None) => Content::Other {
                problem: d.problem,
                found: d.found,
                note: Some(format!(
                    "the manifest of generation {} cannot be read, so its content cannot be shown",
                    cur.number
                )),
            },
            Some(Some(source)) => {
                let was_link = matches!(rec, Some(Recorded::Symlink { .. }));
                let want_mode = match rec {
                    Some(Recorded::Copy(c)) => Some(c.mode),
                    _ => None,
                };
                match sides(&source, &d.path.in_home(&ctx.home), want_mode, was_link) {
                    Ok(c) => c,
                    Err(why) => Content::Other {
                        problem: d.problem,
                        found: d.found,
                        note: Some(why),
                    },
                }
            }
        };
        files.push(FileDiff {
            path: d.path,
            content,
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Diffs {
        generation: Some((cur.number, cur.generation)),
        looked_at,
        filtered: !paths.is_empty(),
        files,
    })
}

/// `p` as a path relative to the home: a relative `p` is taken relative to
/// the home (not to the working directory); an absolute one must be inside
/// it. Neither may climb out with `..`.
fn relative_to_home(home: &Path, p: &Path) -> Result<RelPath, Error> {
    let outside = || {
        Error::InvalidArg(format!(
            "{} is not inside the home {}\nhint: give paths relative to the home (.config/git/config) or absolute inside it",
            crate::report::escape_path(p),
            crate::report::escape_path(home)
        ))
    };
    let rel = if p.is_absolute() {
        p.strip_prefix(home).map_err(|_| outside())?
    } else {
        p
    };
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::CurDir => {}
            _ => return Err(outside()),
        }
    }
    if parts.is_empty() {
        // The home itself: everything.
        return Ok(RelPath::from_normal(String::new()));
    }
    RelPath::parse(&parts.join("/")).map_err(|_| outside())
}

fn is_at_or_below(p: &RelPath, dir: &RelPath) -> bool {
    let (p, d) = (p.as_str(), dir.as_str());
    d.is_empty() || p == d || (p.starts_with(d) && p.as_bytes().get(d.len()) == Some(&b'/'))
}

/// Where the generation takes the copy at `path` from: its entry's source,
/// or for a path inside a recursive entry, the file below that source.
fn copy_source(g: &Generation, path: &RelPath) -> Option<PathBuf> {
    g.files.iter().find_map(|f| {
        if f.target == *path {
            Some(f.source.to_path_buf())
        } else if is_at_or_below(path, &f.target) {
            let rest = &path.as_str()[f.target.as_str().len() + 1..];
            Some(f.source.join(rest))
        } else {
            None
        }
    })
}

/// Both sides, read: the generation's file (following links: it is a
/// store path) and the home's (never following a link).
fn sides(
    want_path: &Path,
    have_path: &Path,
    want_mode: Option<u32>,
    was_link: bool,
) -> Result<Content, String> {
    let (want, want_size) = read_limited(want_path, true).map_err(|e| {
        format!(
            "the generation's {} cannot be read: {e}",
            crate::report::escape_path(want_path)
        )
    })?;
    let (have, have_size, have_mode) = {
        let (bytes, size) =
            read_limited(have_path, false).map_err(|e| format!("it cannot be read: {e}"))?;
        let mode = std::fs::symlink_metadata(have_path).map_or(0, |m| m.mode() & 0o7777);
        (bytes, size, mode)
    };
    let modes = want_mode
        .filter(|m| *m != have_mode)
        .map(|m| (m, have_mode));
    let text = |b: Option<Vec<u8>>| {
        b.filter(|b| !b.contains(&0))
            .and_then(|b| String::from_utf8(b).ok())
    };
    Ok(match (text(want), text(have)) {
        (Some(want), Some(have)) => Content::Text {
            want,
            have,
            modes,
            was_link,
        },
        _ => Content::Binary {
            want_size,
            have_size,
            modes,
            was_link,
        },
    })
}

/// A regular file's content (`None` past `MAX_DIFF_BYTES`) and size.
fn read_limited(path: &Path, follow: bool) -> std::io::Result<(Option<Vec<u8>>, u64)> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    let mut flags = nix::libc::O_NONBLOCK | nix::libc::O_CLOEXEC;
    if !follow {
        flags |= nix::libc::O_NOFOLLOW;
    }
    let f = opts.custom_flags(flags).open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    if meta.len() > MAX_DIFF_BYTES {
        return Ok((None, meta.len()));
    }
    let mut bytes = Vec::new();
    f.take(MAX_DIFF_BYTES + 1).read_to_end(&mut bytes)?;
    let size = bytes.len() as u64;
    Ok((Some(bytes), size))
}
