//! One activation, start to end: load, lock, recover, observe, plan, check
//! steps, apply (journaled), packages, commit, hooks. Also the commands that
//! read or prune the generation history.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::apply;
use crate::hooks;
use crate::manifest::{self, After, Generation};
use crate::nixprofile;
use crate::observe;
use crate::plan::{self, Action, Desired, Options, Owned, Plan, Prev, Recorded, Seen};
use crate::report;
use crate::state::{self, Applied, Data, GenRecord, State};

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
    Nix(#[from] nixprofile::Error),
    #[error("{}", report::conflicts_text(.gen, &.plan.conflicts, true).trim_end())]
    Conflicts { gen: PathBuf, plan: Box<Plan> },
    #[error("activation of {gen} failed: {cause}\nevery change was reverted; the home is exactly as before")]
    Reverted { gen: PathBuf, cause: String },
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
    },
    #[error("an interrupted activation must be recovered first, which a dry run cannot do\nhint: run `hearth activate` (or any command that is not a dry run) to recover it")]
    PendingRecovery,
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
    /// The documented exit status (see README).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Manifest(_)
            | Error::WrongUser { .. }
            | Error::WrongHome { .. }
            | Error::NoHome
            | Error::InvalidArg(_)
            | Error::Generations(_)
            | Error::ReservedTarget { .. } => 2,
            Error::Conflicts { .. } => 3,
            Error::Reverted { .. } => 4,
            Error::CheckStep(_) | Error::Hook { .. } => 5,
            Error::RevertFailed { .. } => 7,
            _ => 1,
        }
    }
}

/// Who and where: the home given by HOME and the user running hearth.
pub struct Context {
    pub home: PathBuf,
    pub user: String,
    pub lock_timeout: Duration,
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
        })
    }

    fn state_dir(&self) -> PathBuf {
        state::dir_for(&self.home)
    }

    fn profile_dir(&self) -> PathBuf {
        let base = self
            .state_dir()
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.home.join(".local/state"));
        base.join("nix/profiles")
    }

    fn profile(&self) -> PathBuf {
        self.profile_dir().join("hearth-packages")
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
}

fn same_path(a: &Path, b: &Path) -> bool {
    a.components().eq(b.components())
}

fn load_for(ctx: &Context, gen: &Path) -> Result<Generation, Error> {
    let g = Generation::load_with(gen, !nixprofile::in_store(gen))?;
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
        for (index, f) in g.files.iter().enumerate() {
            let t = Path::new(f.target.as_str());
            if t.starts_with(rel) || rel.starts_with(t) {
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

/// Completes or reverts an activation that was interrupted (killed).
fn recover(st: &State, data: &Data, user: &str) -> Result<Option<String>, Error> {
    let Some(j) = st.read_journal()? else {
        return Ok(None);
    };
    if data.current.as_ref().is_some_and(|c| c.txid == j.txid) {
        // It was committed; only the cleanup was cut short.
        apply::cleanup(&j);
        st.remove_journal()?;
        return Ok(Some(format!(
            "completed an interrupted activation of {}",
            j.generation.display()
        )));
    }
    prune_roots(st, data, user);
    let problems = apply::revert(&j.home, &j.ops);
    if !problems.is_empty() {
        return Err(Error::RevertFailed {
            gen: j.generation.clone(),
            cause: "it was interrupted".into(),
            problems: problems.iter().map(ToString::to_string).collect(),
            journal: st.journal_path(),
        });
    }
    if let Some((profile, link)) = &j.profile {
        if nixprofile::profile_link(profile).as_deref() != link.as_deref() {
            nixprofile::restore_profile(profile, link.as_deref())?;
        }
    }
    st.remove_journal()?;
    Ok(Some(format!(
        "reverted an interrupted activation of {}; the home is back on {}",
        j.generation.display(),
        data.current
            .as_ref()
            .map(|c| format!("generation {}", c.number))
            .unwrap_or_else(|| "its state before hearth".into())
    )))
}

/// Removes GC roots of generations that are not in the history: left by a
/// run that was killed (its `nix-store --add-root` child may finish after it).
fn prune_roots(st: &State, data: &Data, user: &str) {
    let Ok(entries) = std::fs::read_dir(st.dir.join("gcroots")) else {
        return;
    };
    for entry in entries.flatten() {
        let known = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u64>().ok())
            .is_some_and(|n| data.find(n).is_some());
        if !known {
            if let Err(e) = nixprofile::remove_gc_root(&entry.path(), user) {
                eprintln!("hearth: warning: {e}");
            }
        }
    }
}

/// Whether the content at a target changes, for onChange hooks: a different
/// link target with the same file content is no change.
fn content_changes(action: &Action, seen: &plan::Observed) -> bool {
    let Action::Put {
        path, want, prev, ..
    } = action
    else {
        return false;
    };
    match (prev, want) {
        (Prev::Symlink { target: old }, Desired::Symlink { target: new }) => {
            // The old target may be the user's choice (a FIFO, /dev/zero):
            // never read in full, never waited on.
            !observe::same_store_content(old, new, &nixprofile::store_dir())
        }
        (Prev::File, Desired::Copy { sha256, .. }) => !matches!(
            seen.paths.get(path),
            Some(Seen::File { sha256: Some(h), .. }) if h == sha256
        ),
        _ => true,
    }
}

pub fn activate(ctx: &Context, req: &Request) -> Result<Summary, Error> {
    let gen = load_for(ctx, &req.generation)?;
    let backup_ext = req
        .backup_ext
        .clone()
        .or_else(|| gen.manifest.backup_extension.clone());
    if let Some(ext) = &backup_ext {
        manifest::check_backup_ext(ext)
            .map_err(|e| Error::InvalidArg(format!("--backup-ext: {e}")))?;
    }

    let st = State::open(&ctx.state_dir(), !req.dry_run, ctx.lock_timeout)?;
    let mut data = st.load()?;
    let recovered = if req.dry_run {
        if st.read_journal()?.is_some() {
            return Err(Error::PendingRecovery);
        }
        None
    } else {
        recover(&st, &data, &ctx.user)?
    };
    if let Some(msg) = &recovered {
        eprintln!("hearth: {msg}");
    }
    if !req.dry_run {
        prune_roots(&st, &data, &ctx.user);
    }

    // Borrowed, not cloned: at 10,000 files a copy costs a few percent of a
    // no-op run, and the state is only replaced after planning.
    let no_state = Owned::default();
    let old_owned: &Owned = data.current.as_ref().map_or(&no_state, |c| &c.owned);
    let old_gen = data.current.as_ref().map(|c| c.generation.clone());
    let hook_env = hooks::Env {
        home: &ctx.home,
        dry_run: req.dry_run,
        old: old_gen.as_deref(),
        new: &gen.path,
    };

    for step in gen
        .manifest
        .activation
        .iter()
        .filter(|s| s.after == After::Check)
    {
        hooks::run("check step", &step.name, &step.script, &hook_env)
            .map_err(|e| Error::CheckStep(Box::new(e)))?;
    }

    let seen = observe::look(&ctx.home, old_owned, &gen.files, backup_ext.is_some())?;
    let mut plan = plan::compute(
        old_owned,
        &gen.files,
        &seen,
        &Options {
            backup_ext: backup_ext.clone(),
        },
    );
    if let Some(ext) = &backup_ext {
        let targets: crate::fxhash::FxHashSet<_> = gen
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
    if req.dry_run {
        return Ok(Summary {
            number: None,
            plan,
            recovered,
        });
    }

    let same_gen = data
        .current
        .as_ref()
        .is_some_and(|c| same_path(&c.generation, &gen.path));
    let number = match req.as_number {
        Some(n) => n,
        None if same_gen => data.current.as_ref().map_or(1, |c| c.number),
        None => data.next_number(),
    };
    let hooked: HashSet<_> = gen
        .files
        .iter()
        .filter(|f| f.on_change.is_some())
        .map(|f| &f.target)
        .collect();
    let changed: HashSet<_> = plan
        .actions
        .iter()
        .filter(|a| hooked.contains(a.path()) && content_changes(a, &seen))
        .map(|a| a.path().clone())
        .collect();

    let profile = ctx.profile();
    let profile_change = gen
        .manifest
        .packages
        .as_ref()
        .filter(|p| !nixprofile::profile_is(&profile, p))
        .map(|p| (p.clone(), nixprofile::profile_link(&profile)));

    let txid = apply::new_txid();
    let mut journal = apply::journal(&plan, &txid, &ctx.home, &gen.path);
    journal.profile = profile_change
        .as_ref()
        .map(|(_, link)| (profile.clone(), link.clone()));
    let writes = !journal.ops.is_empty() || profile_change.is_some();
    // The GC root is registered while the files are applied; a new root
    // for a generation that then fails to activate is removed again.
    let root = st.gc_root(number);
    let pending = if nixprofile::in_store(&gen.path)
        && std::fs::read_link(&root).ok().as_deref() != Some(&*gen.path)
    {
        Some(nixprofile::start_gc_root(&root, &gen.path, &ctx.user)?)
    } else {
        None
    };
    let drop_root = |pending: Option<nixprofile::PendingRoot>| {
        if let Some(p) = pending {
            let _ = p.wait();
            if data.find(number).is_none() {
                let _ = nixprofile::remove_gc_root(&root, &ctx.user);
            }
        }
    };
    let mut applied = apply::Outcome::default();
    if writes {
        if let Err(e) = st.write_journal(&journal) {
            drop_root(pending);
            return Err(e.into());
        }
        match apply::run(&journal) {
            Ok(out) => applied = out,
            Err(failed) => {
                drop_root(pending);
                return Err(undo_failed(
                    &st,
                    &gen.path,
                    failed.error.to_string(),
                    failed.undo,
                ));
            }
        }
    }
    let registered = pending.map_or(Ok(()), nixprofile::PendingRoot::wait);
    let packaged = match (&registered, &profile_change) {
        (Ok(()), Some((pkgs, _))) => nixprofile::set_profile(&profile, pkgs),
        _ => Ok(()),
    };
    if let Err(e) = registered.and(packaged) {
        let undo = apply::revert(&ctx.home, &journal.ops);
        if let Some((_, link)) = &journal.profile {
            if nixprofile::profile_link(&profile).as_deref() != link.as_deref() {
                let _ = nixprofile::restore_profile(&profile, link.as_deref());
            }
        }
        if data.find(number).is_none() {
            let _ = nixprofile::remove_gc_root(&root, &ctx.user);
        }
        return Err(undo_failed(&st, &gen.path, e.to_string(), undo));
    }

    let mut owned: Owned = plan.owned.clone();
    for d in &applied.dirs_left {
        owned.dirs.remove(d);
    }
    let record_changed = !same_gen
        || req
            .as_number
            .is_some_and(|n| Some(n) != data.current_number())
        || data.current.as_ref().map(|c| &c.owned) != Some(&owned);
    if writes || record_changed {
        data.current = Some(Applied {
            number,
            generation: gen.path.clone(),
            txid: txid.clone(),
            owned,
        });
        if !same_gen {
            st.keep_manifest(number, &gen.text)?;
        }
        if data.find(number).is_none() {
            data.history.push(GenRecord {
                number,
                path: gen.path.clone(),
                time: state::now(),
            });
        }
        st.save(&data)?;
    }
    if writes {
        for e in apply::cleanup_after(&journal, &mut applied) {
            eprintln!("hearth: warning: {e}");
        }
        st.remove_journal()?;
    }
    // Shown before the hooks run, so that their output follows what changed.
    if !req.json {
        if !plan.is_noop() {
            print!("{}", report::plan_text(&gen.path, &plan));
        }
        eprint!("{}", report::kept_text(&plan.kept));
    }

    let hook_err = |cause| Error::Hook {
        gen: gen.path.clone(),
        number,
        cause: Box::new(cause),
    };
    // A hook shared by many targets (a recursive source) runs once.
    let mut ran: HashSet<&Path> = HashSet::new();
    for f in gen.files.iter().filter(|f| changed.contains(&f.target)) {
        if let Some(hook) = &f.on_change {
            if ran.insert(hook) {
                hooks::run("onChange of", f.target.as_str(), hook, &hook_env).map_err(hook_err)?;
            }
        }
    }
    for step in gen
        .manifest
        .activation
        .iter()
        .filter(|s| s.after == After::Files)
    {
        hooks::run("step", &step.name, &step.script, &hook_env).map_err(hook_err)?;
    }
    // Each activation is a process of its own (the command line, or a
    // root-mode child) that ends right after this. Freeing what was read
    // about a large home, one allocation at a time, cost ~5% of a no-op
    // run; the kernel takes it back at exit all at once.
    std::mem::forget(seen);
    std::mem::forget(data);
    Ok(Summary {
        number: Some(number),
        plan,
        recovered,
    })
}

fn undo_failed(st: &State, gen: &Path, cause: String, undo: Vec<apply::Error>) -> Error {
    if undo.is_empty() {
        if let Err(e) = st.remove_journal() {
            eprintln!("hearth: warning: {e}");
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
fn open_recovered(ctx: &Context) -> Result<(State, Data), Error> {
    let st = State::open(&ctx.state_dir(), true, ctx.lock_timeout)?;
    let data = st.load()?;
    if let Some(msg) = recover(&st, &data, &ctx.user)? {
        eprintln!("hearth: {msg}");
    }
    let data = st.load()?;
    Ok((st, data))
}

/// The state for a reading command. An interrupted activation is recovered
/// first (that is the one write such a command may do), so that what is
/// shown is the home's real generation.
pub fn read_data(ctx: &Context) -> Result<Data, Error> {
    let st = State::open(&ctx.state_dir(), false, ctx.lock_timeout)?;
    let data = st.load()?;
    if let Some(msg) = recover(&st, &data, &ctx.user)? {
        eprintln!("hearth: {msg}");
        return Ok(st.load()?);
    }
    Ok(data)
}

/// The generation to roll back to: `to`, or the newest one older than the current.
pub fn rollback_target(ctx: &Context, to: Option<u64>) -> Result<GenRecord, Error> {
    let data = read_data(ctx)?;
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

/// Removes generations from the history and drops their GC roots.
pub fn remove_generations(ctx: &Context, numbers: &[u64]) -> Result<Vec<u64>, Error> {
    let (st, mut data) = open_recovered(ctx)?;
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
    data.history.retain(|g| !numbers.contains(&g.number));
    st.save(&data)?;
    for n in numbers {
        nixprofile::remove_gc_root(&st.gc_root(*n), &ctx.user)?;
        st.drop_manifest(*n)?;
    }
    Ok(numbers.to_vec())
}

pub enum Expire {
    OlderThan(u64),
    KeepLast(usize),
}

pub fn expire_generations(ctx: &Context, rule: Expire) -> Result<Vec<u64>, Error> {
    let data = read_data(ctx)?;
    let current = data.current_number();
    let mut by_age: Vec<&GenRecord> = data.history.iter().collect();
    by_age.sort_by_key(|g| std::cmp::Reverse(g.number));
    let now = state::now();
    let doomed: Vec<u64> = by_age
        .iter()
        .enumerate()
        .filter(|(i, g)| match rule {
            Expire::OlderThan(secs) => g.time + secs <= now,
            Expire::KeepLast(n) => *i >= n,
        })
        .map(|(_, g)| g.number)
        .filter(|n| Some(*n) != current)
        .collect();
    if doomed.is_empty() {
        return Ok(doomed);
    }
    remove_generations(ctx, &doomed)
}

/// One line per managed path that no longer holds what hearth put there.
pub struct Drift {
    pub path: String,
    pub problem: &'static str,
    pub found: String,
}

pub fn status(ctx: &Context) -> Result<(Option<Applied>, Vec<Drift>), Error> {
    let data = read_data(ctx)?;
    let Some(cur) = data.current else {
        return Ok((None, Vec::new()));
    };
    let seen = observe::look(&ctx.home, &cur.owned, &[], false)?;
    let mut drift = Vec::new();
    for (path, rec) in &cur.owned.entries {
        let s = seen.paths.get(path).unwrap_or(&Seen::Missing);
        let problem = match (s, rec) {
            (Seen::Missing, _) => "missing",
            (Seen::Symlink { target, .. }, Recorded::Symlink { target: want })
                if target == want =>
            {
                continue
            }
            (
                Seen::File {
                    sha256: Some(h),
                    mode,
                    ..
                },
                Recorded::Copy {
                    sha256, mode: want, ..
                },
            ) if h == sha256 && mode == want => continue,
            (Seen::File { .. }, Recorded::Copy { .. }) => "modified",
            _ => "replaced",
        };
        drift.push(Drift {
            path: report::home_path(path),
            problem,
            found: s.describe(),
        });
    }
    Ok((Some(cur), drift))
}
