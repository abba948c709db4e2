//! One activation, as its phases: prepare (load, lock, recover), plan
//! (check steps, observe, plan), transact (journal, apply, GC root and
//! packages, see `roots`), commit (record, clean up), hooks, and the
//! user's systemd units (see `units`). Also the
//! commands that read or prune the generation history.
//! Never prints: what happens is handed to the edge's `Sink` as `Event`s,
//! and what came of it is returned (`Summary`, `Error`) for `report`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::exit::ExitCode;
use crate::home::apply;
use crate::home::confirm;
use crate::home::hooks;
use crate::home::observe;
use crate::home::packages;
use crate::home::plan::{self, Action, Desired, Options, Owned, Plan, Prev, Recorded, Seen};
use crate::home::roots;
use crate::home::snapshot;
use crate::home::state::{self, Applied, Data, Facts, GenRecord, Loaded, State};
use crate::home::units;
use crate::manifest::{self, After, Generation, RelPath};
use crate::sys::nixtools;
use crate::sys::systemctl;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Manifest(#[from] manifest::Error),
    #[error("{gen}: the manifest is for user {want:?}, but hearth runs as {have:?}\nhint: activate each user's own generation as that user")]
    WrongUser {
        gen: PathBuf,
        want: String,
        have: String,
    },
    #[error("{gen}: the manifest is for home {}, but HOME is {}\nhint: run it with HOME={} (a generation is never applied to another home)", want.display(), have.display(), want.display())]
    WrongHome {
        gen: PathBuf,
        want: PathBuf,
        have: PathBuf,
    },
    #[error("cannot tell who runs hearth: {0}")]
    WhoAmI(String),
    #[error("HOME is not set or not an absolute path\nhint: run hearth with HOME set to the home to manage")]
    NoHome,
    #[error("{0}")]
    InvalidArg(String),
    #[error(transparent)]
    State(#[from] state::Error),
    #[error(transparent)]
    Observe(#[from] observe::Error),
    #[error(transparent)]
    Nix(#[from] nixtools::Error),
    #[error(transparent)]
    Packages(#[from] packages::Error),
    /// Rendered in full (every path, the hint) by `report::error_text`.
    #[error("{} path(s) in the way of generation {}; nothing was changed", .plan.conflicts.len(), .gen.display())]
    Conflicts { gen: PathBuf, plan: Box<Plan> },
    #[error("activation of {gen} failed: {cause}\nevery change was reverted; the home is exactly as before")]
    Reverted { gen: PathBuf, cause: String },
    #[error("activation of {gen} stopped: {cause}\nevery change was reverted and nothing of yours was lost; the home is exactly as before, with your change\nhint: run the activation again; the new plan takes your change into account")]
    ChangedMeanwhile { gen: PathBuf, cause: String },
    #[error("activation of {gen} failed: {cause}\nreverting it also failed:\n  {}\nthe journal {journal} is kept; the next hearth run on this home retries the revert", problems.join("\n  "))]
    RevertFailed {
        gen: PathBuf,
        cause: String,
        problems: Vec<String>,
        journal: PathBuf,
    },
    #[error("check step failed, nothing was changed: {0}")]
    CheckStep(Box<hooks::Error>),
    #[error("the files of {gen} are applied and recorded as generation {number}, but {cause}")]
    Hook {
        gen: PathBuf,
        number: u64,
        cause: Box<hooks::Error>,
        /// What was applied, for `--json`.
        plan: Box<Plan>,
    },
    #[error("an interrupted activation must be recovered first, which a dry run cannot do\nhint: run `hearth activate` (or any command that is not a dry run) to recover it")]
    PendingRecovery,
    /// A plan while another run changes the home: nothing to plan from yet.
    #[error("an activation of this home is in progress ({}) and is changing it; there is nothing to plan from until it ends\nhint: plan again when it has finished", holder.as_deref().unwrap_or("another hearth run"))]
    InProgress { holder: Option<String> },
    #[error("{0}")]
    Generations(String),
    #[error("{gen}: files[{index}].target {target} overlaps {what} {}\nhint: hearth keeps its own state there; choose another target", place.display())]
    ReservedTarget {
        gen: PathBuf,
        index: usize,
        target: String,
        what: &'static str,
        place: PathBuf,
    },
}

impl Error {
    /// The documented exit status (see `exit`).
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Manifest(_)
            | Error::WrongUser { .. }
            | Error::WrongHome { .. }
            | Error::NoHome
            | Error::InvalidArg(_)
            | Error::Generations(_)
            | Error::ReservedTarget { .. } => ExitCode::InvalidInput,
            Error::Conflicts { .. } | Error::ChangedMeanwhile { .. } => ExitCode::Conflicts,
            Error::Reverted { .. } => ExitCode::Reverted,
            Error::CheckStep(_) | Error::Hook { .. } => ExitCode::HookFailed,
            Error::RevertFailed { .. } => ExitCode::RevertFailed,
            Error::WhoAmI(_)
            | Error::State(_)
            | Error::Observe(_)
            | Error::Nix(_)
            | Error::Packages(_)
            | Error::PendingRecovery
            | Error::InProgress { .. } => ExitCode::Error,
        }
    }
}

/// Who and where: the home given by HOME and the user running hearth.
pub struct Context {
    pub home: PathBuf,
    pub user: String,
    pub lock_timeout: Duration,
    /// `--step-timeout`: the longest one step or hook may run.
    pub step_timeout: Option<Duration>,
}

impl Context {
    pub fn from_env(lock_timeout: Duration) -> Result<Context, Error> {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .ok_or(Error::NoHome)?;
        let uid = nix::unistd::getuid();
        let user = nix::unistd::User::from_uid(uid)
            .map_err(|e| Error::WhoAmI(e.to_string()))?
            .ok_or_else(|| Error::WhoAmI(format!("uid {uid} has no entry in the user database")))?
            .name;
        Ok(Context {
            home,
            user,
            lock_timeout,
            step_timeout: None,
        })
    }

    fn state_dir(&self) -> PathBuf {
        state::dir_for(&self.home)
    }

    fn profile_dir(&self) -> PathBuf {
        roots::profile_dir(&self.state_dir(), &self.home)
    }
}

pub struct Request {
    pub generation: PathBuf,
    pub dry_run: bool,
    pub json: bool,
    pub backup_ext: Option<String>,
    /// Rollback: make this history entry current instead of a new one.
    pub as_number: Option<u64>,
}

/// What a successful activation did, for the summary line.
pub struct Summary {
    pub number: Option<u64>,
    pub plan: Plan,
    pub recovered: Option<String>,
    /// What changes in the packages profile; `None` when its environment
    /// stays (or the generation has none).
    pub packages: Option<packages::Diff>,
}

fn same_path(a: &Path, b: &Path) -> bool {
    a.components().eq(b.components())
}

/// Loads and checks `gen`, sharing with `old` (what the applied
/// generation owns) the targets and links the two have in common.
fn load_for(ctx: &Context, gen: &Path, old: &Owned) -> Result<Generation, Error> {
    let known = |t: &str| {
        old.entries.get_key_value(t).map(|(path, rec)| {
            let link = match rec {
                Recorded::Symlink { target } => Some(target),
                Recorded::Copy { .. } => None,
            };
            (path, link)
        })
    };
    let g = Generation::load_sharing(gen, !nixtools::in_store(gen), &known)?;
    if g.manifest.user != ctx.user {
        return Err(Error::WrongUser {
            gen: gen.to_path_buf(),
            want: g.manifest.user.clone(),
            have: ctx.user.clone(),
        });
    }
    if !same_path(&g.manifest.home, &ctx.home) {
        return Err(Error::WrongHome {
            gen: gen.to_path_buf(),
            want: g.manifest.home.clone(),
            have: ctx.home.clone(),
        });
    }
    // A target at, above or inside hearth's own state (or the packages
    // profile) would let an activation move its journal away mid-flight.
    let reserved = [
        ("hearth's state directory", ctx.state_dir()),
        ("the packages profile directory", ctx.profile_dir()),
    ];
    for (what, place) in reserved {
        let Ok(rel) = place.strip_prefix(&ctx.home) else {
            continue;
        };
        // As a RelPath, the check per target is a string comparison;
        // Path::starts_with splits both into components every time.
        let as_rel = rel.to_str().and_then(|r| RelPath::parse(r).ok());
        let clashes = |t: &RelPath| {
            if let Some(r) = &as_rel {
                t == r || t.is_below(r) || r.is_below(t)
            } else {
                let t = Path::new(t.as_str());
                t.starts_with(rel) || rel.starts_with(t)
            }
        };
        for (index, f) in g.files.iter().enumerate() {
            if clashes(&f.target) {
                return Err(Error::ReservedTarget {
                    gen: gen.to_path_buf(),
                    index,
                    target: f.target.to_string(),
                    what,
                    place,
                });
            }
        }
    }
    Ok(g)
}

/// What an activation (or a command that recovers one) tells as it goes,
/// for the edge (main, root mode's child) to render. Nothing in `home`
/// prints: it hands these to the sink the edge passed in, in the order
/// they happen, so that hook output is shown as each hook ends.
#[derive(Clone, Copy)]
pub enum Event<'a> {
    /// An interrupted activation was completed or reverted first.
    Recovered(&'a str),
    /// A problem that did not stop the command.
    Warning(&'a str),
    /// The files are applied and recorded; the hooks run next.
    Applied {
        generation: &'a Path,
        plan: &'a Plan,
    },
    /// A step or hook ended, with its whole output and how long it took
    /// (its lines were sent as `StepLine` as they came).
    Hook(&'a hooks::Ran<'a>),
    /// A step or hook starts.
    StepStarted { what: &'a str, name: &'a str },
    /// A line of a running step's or hook's output (stdout and stderr
    /// together), as it comes, without the newline.
    StepLine {
        what: &'a str,
        name: &'a str,
        line: &'a str,
    },
    /// Another hearth run holds the lock of this home; this one waits.
    /// `holder`: who, as the lock file names it ("pid N: COMMAND").
    Waiting {
        lock: &'a Path,
        holder: Option<&'a str>,
    },
    /// A reading command did not wait for the lock another run holds, and
    /// found that run's activation unfinished: `committed`, its files are
    /// applied and recorded (its steps and hooks run); otherwise what is
    /// read is the generation recorded before it.
    InProgress {
        holder: Option<&'a str>,
        committed: bool,
    },
    /// A journal whose write was cut short (so the home was not touched)
    /// was discarded.
    TornJournal { journal: &'a Path },
    /// What was done (or, in a dry run, would be done) to the user's
    /// systemd units; the last event of an activation that applied.
    Units(&'a units::Outcome),
    /// The packages environment changes (or, in a dry run, would): the
    /// packages added, removed and changed in version. Not sent when the
    /// environment stays.
    Packages {
        diff: &'a packages::Diff,
        dry_run: bool,
    },
}

/// Where events go: a callback from the edge.
pub type Sink<'s> = &'s mut dyn FnMut(Event<'_>);

fn warn(sink: Sink, text: &str) {
    sink(Event::Warning(text));
}

/// Completes or reverts an activation that was interrupted (killed).
/// `run_hooks`: a committed activation whose hooks had not all run gets
/// them run now; a reading command leaves them owed for the next activation.
fn recover(
    st: &State,
    data: &Data,
    ctx: &Context,
    run_hooks: bool,
    sink: Sink,
) -> Result<Option<String>, Error> {
    let Some(j) = st.read_journal(&mut |journal| sink(Event::TornJournal { journal }))? else {
        return Ok(None);
    };
    if data.current.as_ref().is_some_and(|c| c.txid == j.txid) {
        return complete_committed(st, ctx, &j, run_hooks, sink);
    }
    for w in roots::prune(st, data, &ctx.user) {
        warn(sink, &w);
    }
    let problems = apply::revert(&j.home, &j.txid, &j.ops);
    if !problems.is_empty() {
        return Err(Error::RevertFailed {
            gen: j.generation.clone(),
            cause: "it was interrupted".into(),
            problems: problems.iter().map(ToString::to_string).collect(),
            journal: st.journal_path(),
        });
    }
    if let Some((profile, link)) = &j.profile {
        roots::restore_profile(profile, link.as_deref())?;
    }
    st.remove_journal()?;
    Ok(Some(format!(
        "reverted an interrupted activation of {}; the home is back on {}",
        j.generation.display(),
        data.current.as_ref().map_or_else(
            || "its state before hearth".into(),
            |c| format!("generation {}", c.number)
        )
    )))
}

/// `recover` for an activation that was committed: only its cleanup, or its
/// hooks, were cut short.
fn complete_committed(
    st: &State,
    ctx: &Context,
    j: &apply::Journal,
    run_hooks: bool,
    sink: Sink,
) -> Result<Option<String>, Error> {
    let problems = apply::cleanup(j);
    if !problems.is_empty() {
        let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
        warn(
            sink,
            &format!(
                "could not finish cleaning up after {} (the next run tries again):\n  {}",
                j.generation.display(),
                list.join("\n  ")
            ),
        );
        return Ok(None);
    }
    if !j.hooks.is_empty() && !run_hooks {
        return Ok(None);
    }
    let env = hooks::Env {
        home: &ctx.home,
        dry_run: false,
        old: j.previous.as_deref(),
        new: &j.generation,
        timeout: ctx.step_timeout,
    };
    let mut failed = Vec::new();
    let mut owing = j.clone();
    owing.ops.clear();
    owing.profile = None;
    for (i, h) in j.hooks.iter().enumerate() {
        owe_from(st, &mut owing, &j.hooks[i + 1..], sink);
        if let Err(e) = run_owed(h, &env, sink) {
            failed.push(e.to_string());
        }
    }
    st.remove_journal()?;
    let ran = if j.hooks.is_empty() {
        String::new()
    } else if failed.is_empty() {
        format!(
            "; ran the {} hook(s) and step(s) it still owed",
            j.hooks.len()
        )
    } else {
        format!(
            "; ran the hooks and steps it still owed, and these failed:\n  {}",
            failed.join("\n  ")
        )
    };
    Ok(Some(format!(
        "completed an interrupted activation of {}{ran}",
        j.generation.display()
    )))
}

/// Whether the content at a target changes, for onChange hooks: a different
/// link target with the same file content is no change.
fn content_changes(action: &Action, seen: &plan::Observed) -> bool {
    let Action::Put {
        path,
        want,
        prev,
        why,
    } = action
    else {
        return false;
    };
    if *why == plan::Why::Identical {
        // A file with the source's very content, replaced by the link.
        return false;
    }
    match (prev, want) {
        (Prev::Symlink { target: old }, Desired::Symlink { target: new }) => {
            // The old target may be the user's choice (a FIFO, /dev/zero):
            // never read in full, never waited on.
            !observe::same_store_content(old, new, &nixtools::store_dir())
        }
        (Prev::File, Desired::Copy(want)) => !matches!(
            seen.paths.get(path),
            Some(Seen::File { sha256: Some(h), .. }) if *h == want.sha256
        ),
        _ => true,
    }
}

/// Applies a generation: the five phases below, in order. Each phase hands
/// the next what it found; only `transact` and later write.
pub fn activate(ctx: &Context, req: &Request, sink: Sink) -> Result<Summary, Error> {
    let opened = match unchanged(ctx, req, sink)? {
        Ok(done) => return Ok(done),
        Err(opened) => opened,
    };
    let mut run = prepare(ctx, req, opened, sink)?;
    let planned = plan_phase(ctx, req, &run, sink)?;
    // Before anything is recorded: the previous generation is the current one.
    let system_pkgs = system_package_diff(&run);
    if req.dry_run {
        let profile = roots::profile(&ctx.state_dir(), &ctx.home);
        let pkgs = roots::profile_change(&profile, run.gen.manifest.packages.as_ref())
            .map(|(new, link)| package_diff(&profile, link.as_deref(), &new))
            .or(system_pkgs);
        if let Some(diff) = &pkgs {
            sink(Event::Packages {
                diff,
                dry_run: true,
            });
        }
        units_phase(ctx, run.old_gen.as_deref(), &run.gen, true, sink);
        // Not freed, as after an activation (below).
        std::mem::forget(run.data);
        std::mem::forget(run.gen);
        std::mem::forget(planned.seen);
        return Ok(Summary {
            number: None,
            plan: planned.plan,
            recovered: run.recovered,
            packages: pkgs,
        });
    }
    let mut planned = planned;
    let mut tx = transact(ctx, req, &run, &mut planned, sink)?;
    let cleaned = commit(ctx, req, &mut run, &mut planned.plan, &mut tx, sink)?;
    // Shown before the hooks run, so that their output follows what changed.
    sink(Event::Applied {
        generation: &run.gen.path,
        plan: &planned.plan,
    });
    // Only when the profile moved to another environment: a no-op never
    // gets here.
    let pkgs = tx
        .journal
        .profile
        .as_ref()
        .zip(run.gen.manifest.packages.as_ref())
        .map(|((profile, link), new)| package_diff(profile, link.as_deref(), new))
        .or(system_pkgs);
    if let Some(diff) = &pkgs {
        sink(Event::Packages {
            diff,
            dry_run: false,
        });
    }
    let hooked = run_hooks(ctx, &run, &mut tx, cleaned, sink);
    // Even after a failed hook: the unit files on disk are the new ones,
    // and the next activation of this generation would see no change.
    units_phase(ctx, run.old_gen.as_deref(), &run.gen, false, sink);
    let Planned { plan, seen } = planned;
    std::mem::forget(seen);
    if let Err(cause) = hooked {
        return Err(Error::Hook {
            gen: run.gen.path.clone(),
            number: tx.number,
            cause: Box::new(cause),
            plan: Box::new(plan),
        });
    }
    let recovered = run.recovered.take();
    std::mem::forget(run.data);
    std::mem::forget(run.gen);
    Ok(Summary {
        number: Some(tx.number),
        plan,
        recovered,
        packages: pkgs,
    })
}

/// What changes in the environment the system installs (`systemPackages`)
/// from the current generation's to the new one's; `None` without one, or
/// when it stays (the same generation reads nothing more).
fn system_package_diff(run: &Prepared) -> Option<packages::Diff> {
    let cur = run.data.current.as_ref();
    packages::system_diff(
        run.gen.manifest.system_packages.as_deref(),
        &run.gen.path,
        cur.map(|c| c.generation.as_path()),
        || {
            run.data
                .current_record()
                .and_then(|r| packages::generation_packages(&r, &run.st.dir))
        },
    )
}

/// What changes from the environment the profile's `old_link` (a
/// `NAME-N-link` beside it, or nothing) leads to, to `new`.
fn package_diff(profile: &Path, old_link: Option<&Path>, new: &Path) -> packages::Diff {
    let dir = profile.parent().unwrap_or(Path::new("/"));
    let old = old_link.and_then(|l| packages::resolve(&dir.join(l)));
    packages::diff(old.as_deref(), new)
}

/// What `prepare` found: the generation, the options it resolves, and the
/// locked, recovered state.
struct Prepared {
    gen: Generation,
    backup_ext: Option<String>,
    st: State,
    data: Data,
    /// The current generation before this activation.
    old_gen: Option<PathBuf>,
    recovered: Option<String>,
    /// What a home without a recorded generation owns.
    nothing: Owned,
}

impl Prepared {
    /// What the current generation owns. Borrowed, not cloned: at 10,000
    /// files a copy costs a few percent of a no-op run.
    fn old_owned(&self) -> &Owned {
        self.data
            .current
            .as_ref()
            .map_or(&self.nothing, |c| &c.owned)
    }
}

/// Phase 1: load and check the generation, lock the state, and finish or
/// revert an activation that was interrupted.
/// The state directory as `unchanged` opened (locked, or not there yet)
/// and loaded, for the full path to go on with.
struct Opened {
    st: State,
    data: Data,
}

/// The state directory, locked (waiting for another run, and saying so);
/// made first when `create`.
fn lock_state(ctx: &Context, create: bool, sink: Sink) -> Result<State, Error> {
    let dir = ctx.state_dir();
    Ok(State::open(&dir, create, ctx.lock_timeout, &mut |lock| {
        sink(Event::Waiting {
            lock,
            holder: state::lock_holder(&dir).as_deref(),
        });
    })?)
}

/// Opens the state for an activation: locked (waiting for another run),
/// or, for a dry run, without waiting. Creates nothing: a home without a
/// state directory gets an empty, unlocked state.
fn open_state(ctx: &Context, req: &Request, sink: Sink) -> Result<(State, Loaded), Error> {
    let st = if req.dry_run {
        // A plan never waits for the lock (see `snapshot`).
        open_without_waiting(ctx)?
    } else {
        lock_state(ctx, false, sink)?
    };
    let loaded = st.load_lazily()?;
    Ok((st, loaded))
}

/// Phase 0: activating the generation that is applied, on a home that
/// still holds it, confirmed from the record alone (see `confirm`): the
/// summary of a run that changed nothing. `Err`: the state as opened, for
/// the full path.
fn unchanged(ctx: &Context, req: &Request, sink: Sink) -> Result<Result<Summary, Opened>, Error> {
    let (st, loaded) = open_state(ctx, req, sink)?;
    // The full path, with the whole record.
    let go_on = |st: State, loaded: Loaded| -> Result<Result<Summary, Opened>, Error> {
        Ok(Err(Opened {
            st,
            data: loaded.into_data()?,
        }))
    };
    let data = &loaded.data;
    let gen = &req.generation;
    let confirmable = req.as_number.is_none()
        && nixtools::in_store(gen)
        && confirm::applies_to(data, gen, &ctx.user, &ctx.home)
        && st.is_locked();
    let Some(cur) = data.current.as_ref().filter(|_| confirmable) else {
        return go_on(st, loaded);
    };
    // What only the full path does: recover an activation, look at Home
    // Manager's links, register a GC root, move the packages profile.
    // The profile's environment; one the system installs is not hearth's.
    let env = data
        .find(cur.number)
        .and_then(|g| g.packages.clone())
        .flatten()
        .and_then(packages::Env::profile);
    let profile = roots::profile(&ctx.state_dir(), &ctx.home);
    let pending = st.read_journal(&mut |journal| sink(Event::TornJournal { journal }))?;
    if pending.is_some()
        || observe::home_manager_present(&ctx.home)
        || std::fs::read_link(st.gc_root(cur.number)).ok().as_deref() != Some(gen.as_path())
        || env.is_some_and(|env| !nixtools::profile_is(&profile, &env))
        || !confirm::record_matches(
            &ctx.home,
            &loaded,
            Some(&confirm::StampsAt {
                state_dir: &st.dir,
                write: !req.dry_run,
            }),
        )
    {
        return go_on(st, loaded);
    }
    let plan = Plan {
        unchanged: loaded.managed(),
        ..Plan::default()
    };
    if !req.dry_run {
        for w in roots::prune(&st, data, &ctx.user) {
            warn(sink, &w);
        }
        sink(Event::Applied {
            generation: gen,
            plan: &plan,
        });
    }
    units_unchanged(req.dry_run, sink);
    let number = (!req.dry_run).then_some(cur.number);
    // The lock goes now; the record of every path is not freed one by one:
    // the process ends soon after.
    drop(st);
    std::mem::forget(loaded);
    Ok(Ok(Summary {
        number,
        plan,
        recovered: None,
        packages: None,
    }))
}

fn prepare(ctx: &Context, req: &Request, opened: Opened, sink: Sink) -> Result<Prepared, Error> {
    let gen = load_for(
        ctx,
        &req.generation,
        opened
            .data
            .current
            .as_ref()
            .map_or(&Owned::default(), |c| &c.owned),
    )?;
    let backup_ext = req
        .backup_ext
        .clone()
        .or_else(|| gen.manifest.backup_extension.clone());
    if let Some(ext) = &backup_ext {
        manifest::check_backup_ext(ext)
            .map_err(|e| Error::InvalidArg(format!("--backup-ext: {e}")))?;
    }
    let Opened { st, data } = if req.dry_run || opened.st.is_locked() {
        opened
    } else {
        // No state directory yet: made now, for the first activation.
        drop(opened);
        let st = lock_state(ctx, true, sink)?;
        let data = st.load()?;
        Opened { st, data }
    };
    let recovered = if req.dry_run && !st.is_locked() {
        let committed = snapshot::pending(&st, &data)?;
        if committed == Some(false) {
            return Err(Error::InProgress {
                holder: state::lock_holder(&st.dir),
            });
        }
        if committed.is_some() {
            sink(Event::InProgress {
                holder: state::lock_holder(&st.dir).as_deref(),
                committed: true,
            });
        }
        None
    } else if req.dry_run {
        // A committed activation that only owes its hooks leaves the home
        // on its generation: that can be planned from.
        let pending = st.read_journal(&mut |journal| sink(Event::TornJournal { journal }))?;
        if pending.is_some_and(|j| data.current.as_ref().is_none_or(|c| c.txid != j.txid)) {
            return Err(Error::PendingRecovery);
        }
        None
    } else {
        recover(&st, &data, ctx, true, sink)?
    };
    if let Some(msg) = &recovered {
        sink(Event::Recovered(msg));
    }
    if !req.dry_run {
        for w in roots::prune(&st, &data, &ctx.user) {
            warn(sink, &w);
        }
    }
    Ok(Prepared {
        old_gen: data.current.as_ref().map(|c| c.generation.clone()),
        gen,
        backup_ext,
        st,
        data,
        recovered,
        nothing: Owned::default(),
    })
}

struct Planned {
    plan: Plan,
    seen: plan::Observed,
}

/// Phase 2: the check steps, then observe the home and plan. Writes
/// nothing; conflicts end the activation here.
fn plan_phase(ctx: &Context, req: &Request, p: &Prepared, sink: Sink) -> Result<Planned, Error> {
    let gen = &p.gen;
    let old_owned = p.old_owned();
    let hook_env = hooks::Env {
        home: &ctx.home,
        dry_run: req.dry_run,
        old: p.old_gen.as_deref(),
        new: &gen.path,
        timeout: ctx.step_timeout,
    };
    for step in gen
        .manifest
        .activation
        .iter()
        .filter(|s| s.after == After::Check)
    {
        hooks::run(
            "check step",
            &step.name,
            &step.script,
            &hook_env,
            &mut |p| progress(p, sink),
        )
        .map_err(|e| Error::CheckStep(Box::new(e)))?;
    }

    let seen = observe::look(
        &ctx.home,
        old_owned,
        &gen.files,
        p.backup_ext.is_some(),
        true,
    )?;
    let mut plan = plan::compute(
        old_owned,
        &gen.files,
        &seen,
        &Options {
            backup_ext: p.backup_ext.clone(),
        },
    );
    if let Some(ext) = &p.backup_ext {
        let targets: crate::sys::fxhash::FxHashSet<_> = gen
            .files
            .iter()
            .map(|f| f.target.clone())
            .chain(old_owned.entries.keys().cloned())
            .collect();
        plan::assign_backup_names(&mut plan, ext, &targets, |p| observe::exists(&ctx.home, p));
    }
    if !plan.conflicts.is_empty() {
        return Err(Error::Conflicts {
            gen: gen.path.clone(),
            plan: Box::new(plan),
        });
    }
    Ok(Planned { plan, seen })
}

/// An applied, not yet recorded, transaction.
struct Tx {
    number: u64,
    same_gen: bool,
    txid: String,
    journal: apply::Journal,
    applied: apply::Outcome,
    /// Whether anything in the home or the profile changes.
    writes: bool,
    root: roots::Root,
}

impl Tx {
    /// The home is on the new generation but it could not be recorded:
    /// everything goes back, so that the home and the record agree.
    /// `known`: the history already names this generation number.
    fn revert(
        &mut self,
        ctx: &Context,
        p: &Prepared,
        cause: String,
        known: bool,
        sink: Sink,
    ) -> Error {
        let undo = apply::revert(&ctx.home, &self.journal.txid, &self.journal.ops);
        if let Some((profile, link)) = &self.journal.profile {
            // Best effort, like the rest of a revert: what is left is named.
            if let Err(e) = roots::restore_profile(profile, link.as_deref()) {
                warn(sink, &e.to_string());
            }
        }
        self.root.abandon(known);
        undo_failed_cause(&p.st, &p.gen.path, cause, &undo, sink)
    }
}

/// Phase 3: journal the plan, register the GC root, apply, and point the
/// packages profile at the new packages. A failure reverts it all.
fn transact(
    ctx: &Context,
    req: &Request,
    p: &Prepared,
    planned: &mut Planned,
    sink: Sink,
) -> Result<Tx, Error> {
    let (gen, data) = (&p.gen, &p.data);
    let same_gen = data
        .current
        .as_ref()
        .is_some_and(|c| same_path(&c.generation, &gen.path));
    let number = match req.as_number {
        Some(n) => n,
        None if same_gen => data.current.as_ref().map_or(1, |c| c.number),
        None => data.next_number(),
    };
    let known = data.find(number).is_some();
    let hooked: HashSet<_> = gen
        .files
        .iter()
        .filter(|f| f.on_change.is_some())
        .map(|f| &f.target)
        .collect();
    let changed: HashSet<_> = planned
        .plan
        .actions
        .iter()
        .filter(|a| hooked.contains(a.path()) && content_changes(a, &planned.seen))
        .map(|a| a.path().clone())
        .collect();
    // The observation of every path is not needed past this point: freed
    // before the journal of every change is built, so that the two are
    // never held at once.
    drop(std::mem::take(&mut planned.seen));

    let profile = roots::profile(&ctx.state_dir(), &ctx.home);
    let profile_change = roots::profile_change(&profile, gen.manifest.packages.as_ref());
    let txid = apply::new_txid();
    let mut journal = apply::journal(&planned.plan, p.old_owned(), &txid, &ctx.home, &gen.path);
    journal.profile = profile_change
        .as_ref()
        .map(|(_, link)| (profile.clone(), link.clone()));
    let writes = !journal.ops.is_empty() || profile_change.is_some();
    // What runs after the commit is in the journal too, so that it is owed
    // to the generation if this process does not get to run it.
    journal.hooks = owed_hooks(gen, &changed);
    journal.previous.clone_from(&p.old_gen);
    let mut root = roots::Root::start(&p.st, number, &gen.path, &ctx.user)?;
    let mut applied = apply::Outcome::default();
    if writes {
        if let Err(e) = p.st.write_journal(&journal) {
            root.abandon(known);
            return Err(e.into());
        }
        match apply::run(&journal) {
            Ok(out) => applied = out,
            Err(failed) => {
                root.abandon(known);
                return Err(undo_failed(
                    &p.st,
                    &gen.path,
                    &failed.error,
                    &failed.undo,
                    sink,
                ));
            }
        }
    }
    let mut tx = Tx {
        number,
        same_gen,
        txid,
        journal,
        applied,
        writes,
        root,
    };
    // From here the home is on the new generation. Whatever fails before
    // the commit reverts it, so that the home and the record agree.
    if let Err(e) = roots::commit_packages(&mut tx.root, &profile, profile_change.as_ref()) {
        return Err(tx.revert(ctx, p, e.to_string(), known, sink));
    }
    Ok(tx)
}

/// Phase 4: record the generation (the commit point), then clean up what
/// the journal kept for a revert. Returns whether the cleanup finished.
fn commit(
    ctx: &Context,
    req: &Request,
    p: &mut Prepared,
    plan: &mut Plan,
    tx: &mut Tx,
    sink: Sink,
) -> Result<bool, Error> {
    // Moved out of the plan, not copied (nothing shows it): it becomes
    // the record.
    let mut owned = std::mem::take(&mut plan.owned);
    for d in &tx.applied.dirs_left {
        owned.dirs.remove(d);
    }
    let data = &mut p.data;
    let record_changed = !tx.same_gen
        || req
            .as_number
            .is_some_and(|n| Some(n) != data.current_number())
        || data.current.as_ref().map(|c| &c.owned) != Some(&owned)
        // A record from before facts were kept gets them once.
        || data.current.as_ref().is_some_and(|c| c.facts.is_none());
    if tx.writes || record_changed {
        let known = data.find(tx.number).is_some();
        let before = data.current.replace(Applied {
            number: tx.number,
            generation: p.gen.path.clone(),
            txid: tx.txid.clone(),
            owned,
            facts: Some(facts_of(&p.gen)),
        });
        // The record of every path before: not freed one by one, the
        // process ends soon after.
        std::mem::forget(before);
        if !known {
            data.history.push(GenRecord {
                number: tx.number,
                path: p.gen.path.clone(),
                time: state::now(),
                packages: Some(packages::env_of(&p.gen.manifest)),
            });
        }
        if let Err(e) = p.st.save(&p.data) {
            // Not recorded: the home goes back to what the record says.
            let cause = format!("the new generation could not be recorded: {e}");
            return Err(tx.revert(ctx, p, cause, known, sink));
        }
    }
    if !tx.writes {
        return Ok(true);
    }
    let problems = apply::cleanup_after(&tx.journal, &mut tx.applied);
    for e in &problems {
        warn(sink, &e.to_string());
    }
    Ok(problems.is_empty())
}

/// What the record keeps of `gen`'s manifest for `confirm`.
fn facts_of(gen: &Generation) -> Facts {
    Facts {
        user: gen.manifest.user.clone(),
        home: gen.manifest.home.clone(),
        steps: !gen.manifest.activation.is_empty(),
    }
}

/// Phase 5: the onChange hooks and the steps after the files, each marked
/// as no longer owed before it starts. The first failure stops them; it is
/// reported, not owed (the files stay applied and recorded).
fn run_hooks(
    ctx: &Context,
    p: &Prepared,
    tx: &mut Tx,
    cleaned: bool,
    sink: Sink,
) -> Result<(), hooks::Error> {
    let hook_env = hooks::Env {
        home: &ctx.home,
        dry_run: false,
        old: p.old_gen.as_deref(),
        new: &p.gen.path,
        timeout: ctx.step_timeout,
    };
    let done = tx.writes && cleaned;
    if done {
        // What cleanup needed is done; from here the journal only says
        // which hooks are still owed.
        tx.journal.ops.clear();
        tx.journal.profile = None;
    }
    let owed = std::mem::take(&mut tx.journal.hooks);
    let mut failure = Ok(());
    for (i, h) in owed.iter().enumerate() {
        if tx.writes {
            owe_from(&p.st, &mut tx.journal, &owed[i + 1..], sink);
        }
        if let Err(e) = run_owed(h, &hook_env, sink) {
            failure = Err(e);
            break;
        }
    }
    // A cleanup that failed keeps the journal, so that the next run retries
    // it. Otherwise the activation is complete either way: a journal that
    // cannot be marked done is only a cleanup the next run finishes.
    if done {
        if let Err(e) = p.st.remove_journal() {
            warn(sink, &e.to_string());
        }
    }
    failure
}

/// Phase 6: the user's systemd units, after the files and the hooks: when
/// the user's manager runs, reload it and stop, restart or start the units
/// whose files the switch removed, changed or added (decided in `units`).
/// Never fails the activation: a `systemctl` failure is a warning.
fn units_phase(ctx: &Context, old: Option<&Path>, new: &Generation, dry_run: bool, sink: Sink) {
    let outcome = user_units(ctx, old, new, dry_run, sink);
    sink(Event::Units(&outcome));
}

/// `units_phase` when the generation stays the same: nothing to decide,
/// but whether the user's manager could be reached is told as ever.
fn units_unchanged(dry_run: bool, sink: Sink) {
    let mut o = units::Outcome {
        dry_run,
        ..units::Outcome::default()
    };
    if let Err(e) = systemctl::Manager::reach() {
        o.skipped = Some(e.to_string());
    }
    sink(Event::Units(&o));
}

fn user_units(
    ctx: &Context,
    old: Option<&Path>,
    new: &Generation,
    dry_run: bool,
    sink: Sink,
) -> units::Outcome {
    let mut o = units::Outcome {
        dry_run,
        ..units::Outcome::default()
    };
    let manager = match systemctl::Manager::reach() {
        Ok(m) => m,
        Err(e) => {
            o.skipped = Some(e.to_string());
            return o;
        }
    };
    if old.is_some_and(|p| same_path(p, &new.path)) {
        return o;
    }
    let old_gen = old.and_then(|p| match Generation::load_with(p, false) {
        Ok(g) => Some(g),
        Err(e) => {
            warn(
                sink,
                &format!("user units are compared as if there were no previous generation: {e}"),
            );
            None
        }
    });
    // What the manager reads; without an answer, the XDG default.
    let unit_path = manager.unit_path().unwrap_or_default();
    let unit_path: Vec<&Path> = unit_path.iter().map(PathBuf::as_path).collect();
    let xdg_config = std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from);
    let dirs = units::unit_dirs(&ctx.home, &unit_path, xdg_config.as_deref());
    let new_entries = unit_entries(new);
    let old_entries = old_gen.as_ref().map(unit_entries).unwrap_or_default();
    let store = nixtools::store_dir();
    let changes = units::changes(&dirs, &old_entries, &new_entries, &|a, b| {
        observe::same_store_content(a, b, &store)
    });
    let query = changes.to_query();
    let states = match manager.active(&query) {
        Ok(s) => s,
        Err(e) => {
            warn(sink, &format!("user units: {e}"));
            return o;
        }
    };
    let active: HashSet<&str> = query
        .iter()
        .zip(states)
        .filter(|(_, a)| *a)
        .map(|(u, _)| u.as_str())
        .collect();
    let sources = units::unit_sources(&dirs, &new_entries);
    let may_restart = |u: &str| {
        units::source_of(&sources, u)
            .and_then(read_unit)
            .is_none_or(|text| units::restart_if_changed(&text))
    };
    let decision = units::decide(&changes, &|u| active.contains(u), &may_restart);
    if dry_run {
        o.done = decision;
        return o;
    }
    o.done.reload = decision.reload;
    o.done.kept = decision.kept;
    if decision.reload {
        if let Err(e) = manager.daemon_reload() {
            warn(sink, &format!("user units: {e}"));
            o.done.reload = false;
            o.failed.push(units::Failure {
                action: "daemon-reload",
                unit: String::new(),
                error: e.said,
            });
        }
    }
    let steps = [
        ("stop", decision.stop),
        ("restart", decision.restart),
        ("start", decision.start),
    ];
    for (action, list) in steps {
        for unit in list {
            match manager.act(action, &unit) {
                Ok(()) => match action {
                    "stop" => o.done.stop.push(unit),
                    "restart" => o.done.restart.push(unit),
                    _ => o.done.start.push(unit),
                },
                Err(e) => {
                    warn(sink, &format!("user unit {unit}: {e}"));
                    o.failed.push(units::Failure {
                        action,
                        unit,
                        error: e.said,
                    });
                }
            }
        }
    }
    o
}

fn unit_entries(g: &Generation) -> Vec<units::Entry<'_>> {
    g.files
        .iter()
        .map(|f| units::Entry {
            target: &f.target,
            source: &f.source,
        })
        .collect()
}

/// A unit file's text, for its `X-RestartIfChanged`; a unit file is small,
/// and one that is not readable (or huge) is read as not saying it.
fn read_unit(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(1 << 20)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

/// Records that only `rest` is still owed, before the hook ahead of them
/// runs: a hook that was started is not run again by a later activation
/// (one that hung and was killed at the timeout would hang it again).
/// Best effort: if the journal cannot be written, a later run may repeat a
/// hook, which hooks must bear anyway (they also run on every change).
fn owe_from(st: &State, journal: &mut apply::Journal, rest: &[apply::OwedHook], sink: Sink) {
    journal.hooks = rest.to_vec();
    if let Err(e) = st.write_journal(journal) {
        warn(sink, &e.to_string());
    }
}

fn run_owed(h: &apply::OwedHook, env: &hooks::Env, sink: Sink) -> Result<(), hooks::Error> {
    let what = if h.what == "step" {
        "step"
    } else {
        "onChange of"
    };
    hooks::run(what, &h.name, &h.program, env, &mut |p| progress(p, sink))
}

/// A running step's progress, as events.
fn progress(p: hooks::Progress, sink: Sink) {
    match p {
        hooks::Progress::Started { what, name } => sink(Event::StepStarted { what, name }),
        hooks::Progress::Line { what, name, line } => sink(Event::StepLine { what, name, line }),
        hooks::Progress::Ended(r) => sink(Event::Hook(r)),
    }
}

/// What runs once the files are in place, in Home Manager's order: the
/// steps sorted before its `onFilesChange` (`linked`), the onChange hooks
/// of the changed targets (a hook shared by many targets, as a recursive
/// source's, once), then the steps after the files and hooks (`files`),
/// each group in the manifest's order.
fn owed_hooks(
    gen: &Generation,
    changed: &HashSet<crate::manifest::RelPath>,
) -> Vec<apply::OwedHook> {
    let steps = |after: After| {
        gen.manifest
            .activation
            .iter()
            .filter(move |s| s.after == after)
            .map(|step| apply::OwedHook {
                what: "step".into(),
                name: step.name.clone(),
                program: step.script.clone(),
            })
    };
    let mut owed: Vec<apply::OwedHook> = steps(After::Linked).collect();
    let mut seen: HashSet<&Path> = HashSet::new();
    for f in gen.files.iter().filter(|f| changed.contains(&f.target)) {
        if let Some(hook) = &f.on_change {
            if seen.insert(hook) {
                owed.push(apply::OwedHook {
                    what: "onChange".into(),
                    name: f.target.to_string(),
                    program: hook.clone(),
                });
            }
        }
    }
    owed.extend(steps(After::Files));
    owed
}

fn undo_failed(
    st: &State,
    gen: &Path,
    error: &apply::Error,
    undo: &[apply::Error],
    sink: Sink,
) -> Error {
    if undo.is_empty() {
        if let apply::Error::Changed { .. } = error {
            if let Err(e) = st.remove_journal() {
                warn(sink, &e.to_string());
            }
            return Error::ChangedMeanwhile {
                gen: gen.to_path_buf(),
                cause: error.to_string(),
            };
        }
    }
    undo_failed_cause(st, gen, error.to_string(), undo, sink)
}

fn undo_failed_cause(
    st: &State,
    gen: &Path,
    cause: String,
    undo: &[apply::Error],
    sink: Sink,
) -> Error {
    if undo.is_empty() {
        if let Err(e) = st.remove_journal() {
            warn(sink, &e.to_string());
        }
        Error::Reverted {
            gen: gen.to_path_buf(),
            cause,
        }
    } else {
        Error::RevertFailed {
            gen: gen.to_path_buf(),
            cause,
            problems: undo.iter().map(ToString::to_string).collect(),
            journal: st.journal_path(),
        }
    }
}

/// Opens the state for a command that changes only the state (recovering
/// an interrupted activation first, like every writing command).
fn open_recovered(ctx: &Context, sink: Sink) -> Result<(State, Data), Error> {
    let st = lock_state(ctx, true, sink)?;
    let data = st.load()?;
    if let Some(msg) = recover(&st, &data, ctx, false, sink)? {
        sink(Event::Recovered(&msg));
    }
    let data = st.load()?;
    Ok((st, data))
}

/// The state for a reading command. An interrupted activation is recovered
/// first (that is the one write such a command may do), so that what is
/// shown is the home's real generation.
pub fn read_data(ctx: &Context, sink: Sink) -> Result<Data, Error> {
    let st = lock_state(ctx, false, sink)?;
    let data = st.load()?;
    if let Some(msg) = recover(&st, &data, ctx, false, sink)? {
        sink(Event::Recovered(&msg));
        return Ok(st.load()?);
    }
    Ok(data)
}

/// `State::open` for a command that only reads: the lock when it is free
/// (such a command may then recover an interrupted activation), and the
/// state without it when another run holds it, never waiting.
fn open_without_waiting(ctx: &Context) -> Result<State, Error> {
    let dir = ctx.state_dir();
    match State::open(&dir, false, Duration::ZERO, &mut |_| {}) {
        Ok(st) => Ok(st),
        Err(state::Error::LockTimeout { .. }) => Ok(State::unlocked(&dir)),
        Err(e) => Err(e.into()),
    }
}

/// The state for a command that only reads (`status`, `generations`,
/// `packages`): as `read_data` when the lock is free; when another run
/// holds it, never waits: reads the recorded state as it is (replaced by
/// rename, so consistent), and says when that run's activation is
/// unfinished (which only the lock's holder may complete).
pub fn read_without_waiting(ctx: &Context, sink: Sink) -> Result<Data, Error> {
    Ok(read_lazily(ctx, sink)?.into_data()?)
}

/// [`read_without_waiting`], the applied generation's links left apart
/// (see `state::Loaded`): what settling an unfinished activation reads of
/// the record (its transaction, its history) is all there.
fn read_lazily(ctx: &Context, sink: Sink) -> Result<Loaded, Error> {
    let st = open_without_waiting(ctx)?;
    let loaded = st.load_lazily()?;
    if !st.is_locked() {
        if let Some(committed) = snapshot::pending(&st, &loaded.data)? {
            sink(Event::InProgress {
                holder: state::lock_holder(&st.dir).as_deref(),
                committed,
            });
        }
        return Ok(loaded);
    }
    if let Some(msg) = recover(&st, &loaded.data, ctx, false, sink)? {
        sink(Event::Recovered(&msg));
        return Ok(st.load_lazily()?);
    }
    Ok(loaded)
}

/// The generation to roll back to: `to`, or the newest one older than the current.
pub fn rollback_target(ctx: &Context, to: Option<u64>, sink: Sink) -> Result<GenRecord, Error> {
    let data = read_data(ctx, sink)?;
    let current = data.current_number().ok_or_else(|| {
        Error::Generations("no generation has been activated in this home yet".into())
    })?;
    let rec = match to {
        Some(n) => data.find(n).cloned().ok_or_else(|| {
            Error::Generations(format!(
                "there is no generation {n}; `hearth generations` lists them"
            ))
        })?,
        None => data
            .history
            .iter()
            .filter(|g| g.number < current)
            .max_by_key(|g| g.number)
            .cloned()
            .ok_or_else(|| {
                Error::Generations(format!(
                    "generation {current} is the oldest; there is nothing to roll back to"
                ))
            })?,
    };
    if !rec.path.join(manifest::MANIFEST_NAME).exists() {
        return Err(Error::Generations(format!(
            "generation {} ({}) is no longer in the store; it cannot be re-applied",
            rec.number,
            rec.path.display()
        )));
    }
    Ok(rec)
}

/// Removes generations from the history and drops their GC roots. With
/// `dry_run`, checks the numbers as a removal would and removes nothing.
pub fn remove_generations(
    ctx: &Context,
    numbers: &[u64],
    dry_run: bool,
    sink: Sink,
) -> Result<Vec<u64>, Error> {
    if dry_run {
        let data = read_data(ctx, sink)?;
        check_removable(&data, numbers)?;
        return Ok(numbers.to_vec());
    }
    let (st, mut data) = open_recovered(ctx, sink)?;
    check_removable(&data, numbers)?;
    // Read before their manifests go: the environments of the removed
    // generations, and of those that stay.
    let envs = |keep: bool| -> Vec<PathBuf> {
        data.history
            .iter()
            .filter(|g| numbers.contains(&g.number) != keep)
            .filter_map(|g| {
                packages::generation_packages(g, &st.dir).and_then(packages::Env::profile)
            })
            .collect()
    };
    let (gone, kept) = (envs(false), envs(true));
    data.history.retain(|g| !numbers.contains(&g.number));
    st.save(&data)?;
    for n in numbers {
        nixtools::remove_gc_root(&st.gc_root(*n), &ctx.user)?;
        st.drop_manifest(*n)?;
    }
    let profile = roots::profile(&ctx.state_dir(), &ctx.home);
    if let Err(e) = roots::prune_profile(&profile, &gone, &kept) {
        warn(sink, &e.to_string());
    }
    Ok(numbers.to_vec())
}

/// Every number is a generation, and none is the current one.
fn check_removable(data: &Data, numbers: &[u64]) -> Result<(), Error> {
    let current = data.current_number();
    for n in numbers {
        if Some(*n) == current {
            return Err(Error::Generations(format!(
                "generation {n} is the current one and cannot be removed; roll back or activate another first"
            )));
        }
        if data.find(*n).is_none() {
            return Err(Error::Generations(format!(
                "there is no generation {n}; `hearth generations` lists them"
            )));
        }
    }
    Ok(())
}

/// Which generations `expire-generations` keeps: those younger than
/// `older_than` (seconds), and the newest `keep_last`. Given both, a
/// generation is kept when either rule keeps it; the current one always is.
#[derive(Clone, Copy, Debug, Default)]
pub struct Expire {
    pub older_than: Option<u64>,
    pub keep_last: Option<usize>,
}

impl Expire {
    /// The generations the rules remove (newest first), given the time now.
    pub fn doomed(self, data: &Data, now: u64) -> Vec<u64> {
        let current = data.current_number();
        let mut by_age: Vec<&GenRecord> = data.history.iter().collect();
        by_age.sort_by_key(|g| std::cmp::Reverse(g.number));
        by_age
            .iter()
            .enumerate()
            .filter(|(i, g)| {
                // An age past the end of time removes nothing (never wraps to "now").
                let too_old = self
                    .older_than
                    .map(|secs| g.time.checked_add(secs).is_some_and(|t| t <= now));
                let beyond_last = self.keep_last.map(|n| *i >= n);
                match (too_old, beyond_last) {
                    (Some(a), Some(b)) => a && b,
                    (Some(x), None) | (None, Some(x)) => x,
                    (None, None) => false,
                }
            })
            .map(|(_, g)| g.number)
            .filter(|n| Some(*n) != current)
            .collect()
    }
}

pub fn expire_generations(
    ctx: &Context,
    rule: Expire,
    dry_run: bool,
    sink: Sink,
) -> Result<Vec<u64>, Error> {
    let data = read_data(ctx, sink)?;
    let doomed = rule.doomed(&data, state::now());
    if doomed.is_empty() || dry_run {
        return Ok(doomed);
    }
    remove_generations(ctx, &doomed, false, sink)
}

/// A managed path that no longer holds what hearth put there.
pub struct Drift {
    pub path: crate::manifest::RelPath,
    /// "missing", "modified" (a copy's content or mode) or "replaced".
    pub problem: &'static str,
    pub found: Seen,
}

/// The current generation and its record in the history.
pub type Current = (Applied, GenRecord);

/// What `hearth status` tells of the current generation.
pub struct Status {
    pub number: u64,
    pub generation: PathBuf,
    /// Its record in the history.
    pub record: GenRecord,
    /// How many paths it manages.
    pub managed: usize,
    /// What differs from it in the home.
    pub drift: Vec<Drift>,
}

/// `hearth status` (None: no generation yet). The common answer, "no
/// drift", comes from one look at each path, the record's links read where
/// the state holds them (see `state::Loaded`); only a home that differs is
/// observed in full, to say how.
pub fn status(ctx: &Context, sink: Sink) -> Result<Option<Status>, Error> {
    let loaded = read_lazily(ctx, sink)?;
    let (Some(cur), Some(record)) = (&loaded.data.current, loaded.data.current_record()) else {
        return Ok(None);
    };
    let stamps = confirm::StampsAt {
        state_dir: &ctx.state_dir(),
        write: false,
    };
    if confirm::record_matches(&ctx.home, &loaded, Some(&stamps)) {
        return Ok(Some(Status {
            number: cur.number,
            generation: cur.generation.clone(),
            record,
            managed: loaded.managed(),
            drift: Vec::new(),
        }));
    }
    let Some(cur) = loaded.into_data()?.current else {
        return Ok(None);
    };
    Ok(Some(Status {
        number: cur.number,
        managed: cur.owned.entries.len(),
        drift: observed_drift(ctx, &cur)?,
        generation: cur.generation,
        record,
    }))
}

/// The current generation with its whole record, its record in the
/// history, and what differs from it in the home (`hearth diff`).
pub fn drift(ctx: &Context, sink: Sink) -> Result<(Option<Current>, Vec<Drift>), Error> {
    let data = read_without_waiting(ctx, sink)?;
    let record = data.current_record();
    let (Some(cur), Some(record)) = (data.current, record) else {
        return Ok((None, Vec::new()));
    };
    // The common answer, "no drift", from one look at each path; only a
    // home that differs is observed in full, to say how.
    if confirm::home_matches(&ctx.home, &cur.owned) {
        return Ok((Some((cur, record)), Vec::new()));
    }
    let drift = observed_drift(ctx, &cur)?;
    Ok((Some((cur, record)), drift))
}

/// What differs in the home from what `cur` records, each path observed.
fn observed_drift(ctx: &Context, cur: &Applied) -> Result<Vec<Drift>, Error> {
    let seen = observe::look(&ctx.home, &cur.owned, &[], false, false)?;
    let mut drift = Vec::new();
    for (path, rec) in &cur.owned.entries {
        let s = seen.paths.get(path).unwrap_or(&Seen::Missing);
        let problem = match (s, rec) {
            (Seen::Missing, _) => "missing",
            (Seen::Symlink { target, .. }, Recorded::Symlink { target: want })
                if **target == **want =>
            {
                continue
            }
            (
                Seen::File {
                    sha256: Some(h),
                    mode,
                    ..
                },
                Recorded::Copy(want),
            ) if *h == want.sha256 && *mode == want.mode => continue,
            (Seen::File { .. }, Recorded::Copy { .. }) => "modified",
            _ => "replaced",
        };
        drift.push(Drift {
            path: path.clone(),
            problem,
            found: s.clone(),
        });
    }
    Ok(drift)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{FileType, Manifest, RelPath, Step};

    fn step(name: &str, after: After) -> Step {
        Step {
            name: name.into(),
            after,
            script: PathBuf::from(format!("/nix/store/s-{name}")),
        }
    }

    fn file(target: &str, hook: &str) -> crate::manifest::File {
        crate::manifest::File {
            target: RelPath::parse(target).unwrap(),
            source: Path::new("/nix/store/src").into(),
            kind: FileType::Symlink,
            mode: None,
            force: false,
            on_change: Some(PathBuf::from(hook)),
        }
    }

    /// Home Manager's order after its `linkGeneration`: the steps sorted
    /// before `onFilesChange`, the hooks (each once), the steps after; the
    /// check steps are not owed (they ran before any change).
    #[test]
    fn linked_steps_then_hooks_then_files_steps() {
        let gen = Generation {
            path: "/nix/store/gen".into(),
            manifest: Manifest {
                version: 1,
                user: "alice".into(),
                home: "/home/alice".into(),
                backup_extension: None,
                files: Vec::new(),
                packages: None,
                system_packages: None,
                activation: vec![
                    step("early", After::Check),
                    step("linkedA", After::Linked),
                    step("late", After::Files),
                    step("linkedB", After::Linked),
                ],
            },
            files: vec![
                file("a", "/nix/store/hook-a"),
                file("b", "/nix/store/hook-shared"),
                file("c", "/nix/store/hook-shared"),
                file("d", "/nix/store/hook-d"),
            ],
        };
        let changed: HashSet<RelPath> = ["a", "b", "c"]
            .iter()
            .map(|t| RelPath::parse(t).unwrap())
            .collect();
        let owed: Vec<(String, String)> = owed_hooks(&gen, &changed)
            .into_iter()
            .map(|h| (h.what, h.name))
            .collect();
        let pair = |w: &str, n: &str| (w.to_owned(), n.to_owned());
        assert_eq!(
            owed,
            [
                pair("step", "linkedA"),
                pair("step", "linkedB"),
                pair("onChange", "a"),
                pair("onChange", "b"),
                pair("step", "late"),
            ]
        );
    }
}
