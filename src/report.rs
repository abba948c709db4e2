//! Rendering for people (text) and programs (`--json`, docs/json.md).
//! Nothing here decides anything; it only describes plans, conflicts and
//! outcomes. Every byte hearth prints goes through `out`/`err` here, which
//! treat a closed pipe as the end of output, never as a failure; with
//! `--json`, `Output` keeps stdout for the one document it prints at the end.

use std::fmt::Write;
use std::path::Path;

use serde_json::{json, Map, Value};

use crate::exit::ExitCode;
use crate::home::activate::{Drift, Error as ActivateError, Event, Status};
use crate::home::plan::{
    Action, Conflict, ConflictKind, Desired, Kept, Plan, Prev, Recorded, Seen, Why,
};
use crate::home::state::GenRecord;
use crate::home::units;
use crate::manifest::RelPath;

pub mod diff;
pub mod doctor;

/// Writes `text` to stdout. A reader that went away (a closed pipe) or a
/// full device ends the output, never the program: an activation must
/// finish, record and run its hooks whoever reads what it prints.
pub fn out(text: &str) {
    use std::io::Write as _;
    let text = if crate::term::stdout_colour() {
        crate::term::paint(text)
    } else {
        std::borrow::Cow::Borrowed(text)
    };
    let mut w = std::io::stdout().lock();
    let _ = w.write_all(text.as_bytes()).and_then(|()| w.flush());
}

/// `out` for stderr; one call is one message, whose priority (for the
/// journal, see `term`) its first line tells.
pub fn err(text: &str) {
    err_at(crate::term::Priority::of(text), text);
}

/// `err` for a message whose priority its words do not tell (the last
/// line of a failed activation).
pub fn err_at(priority: crate::term::Priority, text: &str) {
    use std::io::Write as _;
    let text = if crate::term::stderr_is_journal() {
        std::borrow::Cow::Owned(crate::term::for_journal(text, priority))
    } else if crate::term::stderr_colour() {
        crate::term::paint(text)
    } else {
        std::borrow::Cow::Borrowed(text)
    };
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// A summary written after every user (root mode's, `plan --system`'s),
/// each line at its own priority for the journal (`priorities`, one per
/// line; the last one for any line beyond). With `-q`, printed only when a
/// line is more than information, and then whole, so that it reads as one.
pub fn err_lines(text: &str, priorities: &[crate::term::Priority], quiet: bool) {
    use crate::term::Priority;
    let priority = |i: usize| {
        priorities
            .get(i)
            .or(priorities.last())
            .copied()
            .unwrap_or(Priority::Info)
    };
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    if quiet && (0..lines.len()).all(|i| priority(i) == Priority::Info) {
        return;
    }
    for (i, line) in lines.into_iter().enumerate() {
        err_at(priority(i), line);
    }
}

/// How much a command says (`-q`, `-v`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Verbosity {
    /// Errors and warnings only.
    Quiet,
    /// A summary of large plans.
    #[default]
    Normal,
    /// Every path.
    Verbose,
}

pub fn home_path(p: &RelPath) -> String {
    format!("~/{}", escape(p.as_str()))
}

/// Text that came from a home or a manifest (names, link targets, a step's
/// output), made safe to show on a terminal: control characters (ESC, CR,
/// BEL, ...) are written as escapes, so that a name a user chose cannot
/// rewrite what root sees. A backslash is doubled only when something was
/// escaped, so ordinary text is shown as it is.
pub fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() && c != '\t') {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push('\t'),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// `escape` for a path, which may not be UTF-8 (shown lossily).
pub fn escape_path(p: &Path) -> String {
    escape(&p.to_string_lossy()).into_owned()
}

fn describe_want(want: &Desired) -> String {
    match want {
        Desired::Symlink { target } => format!("-> {}", escape_path(target)),
        Desired::Copy(c) => {
            format!("(copy of {}, mode {:04o})", escape_path(&c.source), c.mode)
        }
    }
}

/// Above this many lines, a plan is summarized unless `-v` asks for all.
const SUMMARY_ABOVE: usize = 40;
/// How many lines of each kind a summarized plan shows.
const SUMMARY_FIRST: usize = 5;

/// One line per action, as `plan` and `activate --dry-run` show them; a
/// large plan summarized (`plan_text_for`).
pub fn plan_text(generation: &Path, plan: &Plan) -> String {
    plan_text_for(generation, plan, false)
}

/// The plan, every line of it when `all` (`-v`); otherwise, when it has more
/// than `SUMMARY_ABOVE` lines, the first `SUMMARY_FIRST` of each kind and
/// how many more there are. The heading counts every kind either way.
pub fn plan_text_for(generation: &Path, plan: &Plan, all: bool) -> String {
    let mut out = String::new();
    let mut count = std::collections::BTreeMap::<&str, usize>::new();
    // What each line shows, formatted only if it is shown: a summarized
    // plan of thousands of paths prints a few dozen lines.
    let mut lines: Vec<(&str, Line)> =
        Vec::with_capacity(plan.actions.len() + plan.kept.len() + plan.adopted.len());
    for a in &plan.actions {
        let verb = action_verb(a);
        *count.entry(verb).or_default() += 1;
        lines.push((verb, Line::Action(a)));
    }
    lines.extend(plan.kept.iter().map(|k| ("keep", Line::Kept(k))));
    lines.extend(plan.adopted.iter().map(|p| ("adopt", Line::Adopted(p))));
    if !plan.adopted.is_empty() {
        count.insert("adopt", plan.adopted.len());
    }
    let mut summary: Vec<String> = count.iter().map(|(v, n)| format!("{n} {v}")).collect();
    if !plan.kept.is_empty() {
        summary.push(format!("{} keep", plan.kept.len()));
    }
    summary.push(format!("{} unchanged", plan.unchanged));
    let _ = writeln!(
        out,
        "plan for {}: {}",
        escape_path(generation),
        summary.join(", ")
    );
    if all || lines.len() <= SUMMARY_ABOVE {
        for (verb, l) in &lines {
            let _ = writeln!(out, "  {verb:<8} {}", l.text());
        }
    } else {
        summarize(&mut out, &lines);
    }
    if !plan.conflicts.is_empty() {
        out.push_str(&conflicts_text(generation, &plan.conflicts, false));
    }
    out
}

/// One line of a plan, before it is formatted.
enum Line<'a> {
    Action(&'a Action),
    Kept(&'a crate::home::plan::Kept),
    Adopted(&'a RelPath),
}

impl Line<'_> {
    /// What follows the verb.
    fn text(&self) -> String {
        match self {
            Line::Action(a) => action_text(a),
            Line::Kept(k) => format!(
                "{} ({}: changed since hearth created it; left in place, no longer managed)",
                home_path(&k.path),
                k.found.describe()
            ),
            Line::Adopted(p) => format!(
                "{} (already what the generation wants: adopted, nothing written)",
                home_path(p)
            ),
        }
    }
}

/// The verb a plan shows for an action.
fn action_verb(a: &Action) -> &'static str {
    match a {
        Action::Remove { .. } | Action::UnlinkHomeManager { .. } => "remove",
        Action::RemoveDir { .. } => "rmdir",
        Action::Backup { .. } => "backup",
        Action::Discard { .. } => "discard",
        Action::Mkdir { .. } => "mkdir",
        Action::Put { why, .. } => match why {
            Why::Create => "create",
            Why::Replace | Why::HomeManager | Why::Identical => "replace",
            Why::Repair => "repair",
        },
    }
}

/// What a plan shows of an action after its verb.
fn action_text(a: &Action) -> String {
    match a {
        Action::Remove { path, .. }
        | Action::Mkdir { path }
        | Action::RemoveDir {
            path,
            required: true,
        } => home_path(path),
        Action::RemoveDir { path, .. } => format!("{} (if empty)", home_path(path)),
        Action::Backup { path, to } => match to {
            Some(to) => format!("{} -> {}", home_path(path), home_path(to)),
            None => home_path(path),
        },
        Action::Discard { path, found } => {
            format!("{} ({}; force)", home_path(path), found.describe())
        }
        Action::Put {
            path,
            want,
            why,
            prev,
        } => format!(
            "{} {}{}",
            home_path(path),
            describe_want(want),
            match (why, prev) {
                (Why::HomeManager, Prev::Symlink { target }) => format!(
                    " (Home Manager's link to {}: replaced, no backup needed)",
                    escape_path(target)
                ),
                (Why::Identical, _) => {
                    " (a regular file with the same content; nothing is lost)".into()
                }
                _ => String::new(),
            }
        ),
        Action::UnlinkHomeManager { path, target } => format!(
            "{} (Home Manager's link to {}: removed, no backup needed)",
            home_path(path),
            escape_path(target)
        ),
    }
}

/// A large plan's lines: each kind (in the order it first comes), its
/// first lines, and how many more.
fn summarize(out: &mut String, lines: &[(&str, Line)]) {
    let mut kinds: Vec<&str> = Vec::new();
    for (verb, _) in lines {
        if !kinds.contains(verb) {
            kinds.push(verb);
        }
    }
    for kind in kinds {
        // Counted, not collected: a kind may have a home's worth of lines.
        let of_kind = || lines.iter().filter(move |(v, _)| *v == kind);
        for (_, l) in of_kind().take(SUMMARY_FIRST) {
            let _ = writeln!(out, "  {kind:<8} {}", l.text());
        }
        let more = of_kind().count().saturating_sub(SUMMARY_FIRST);
        if more > 0 {
            let _ = writeln!(out, "  … and {more} more to {kind} (-v for all)");
        }
    }
}

/// The result line of an activation that changed something, in the past
/// tense: "activated generation 3: created 300, replaced 1, removed 2".
pub fn activated_text(number: u64, plan: &Plan) -> String {
    let mut count = std::collections::BTreeMap::<u8, usize>::new();
    for a in &plan.actions {
        let rank = match a {
            Action::Put {
                why: Why::Create, ..
            } => 0,
            Action::Put {
                why: Why::Replace | Why::HomeManager | Why::Identical,
                ..
            } => 1,
            Action::Put {
                why: Why::Repair, ..
            } => 2,
            Action::Remove { .. } | Action::UnlinkHomeManager { .. } => 3,
            Action::Backup { .. } => 4,
            Action::Discard { .. } => 5,
            Action::Mkdir { .. } => 7,
            Action::RemoveDir { .. } => 8,
        };
        *count.entry(rank).or_default() += 1;
    }
    if !plan.adopted.is_empty() {
        count.insert(6, plan.adopted.len());
    }
    let parts: Vec<String> = count
        .iter()
        .map(|(rank, n)| match rank {
            0 => format!("created {n}"),
            1 => format!("replaced {n}"),
            2 => format!("repaired {n}"),
            3 => format!("removed {n}"),
            4 => format!("moved {n} aside"),
            5 => format!("discarded {n}"),
            6 => format!("adopted {n}"),
            7 => format!("made {n} director{}", if *n == 1 { "y" } else { "ies" }),
            _ => format!("removed {n} director{}", if *n == 1 { "y" } else { "ies" }),
        })
        .collect();
    if parts.is_empty() {
        format!("activated generation {number}\n")
    } else {
        format!("activated generation {number}: {}\n", parts.join(", "))
    }
}

fn conflict_what(c: &Conflict) -> String {
    let found = c.found.describe();
    match c.kind {
        ConflictKind::InTheWay => format!("{found}, not created by hearth"),
        ConflictKind::Modified => format!("{found}, changed since hearth created it"),
        ConflictKind::ParentInTheWay => format!(
            "{found}, but {} needs it to be a directory",
            c.needed_by.as_ref().map(home_path).unwrap_or_default()
        ),
        ConflictKind::ForceOnDirectory => {
            format!("{found}; force does not delete a non-empty directory")
        }
    }
}

/// Whether setting `force` on the entry would resolve the conflict: it
/// replaces what is at the target, but not a non-empty directory, nor a
/// parent directory that is in the way.
fn force_resolves(c: &Conflict) -> bool {
    matches!(c.kind, ConflictKind::InTheWay | ConflictKind::Modified)
        && !matches!(&c.found, Seen::Dir { below } if !below.as_ref().is_some_and(Vec::is_empty))
}

/// The conflict report. `nothing_changed`: add the closing line that says so.
pub fn conflicts_text(generation: &Path, conflicts: &[Conflict], nothing_changed: bool) -> String {
    let mut out = String::new();
    let n = conflicts.len();
    let _ = writeln!(
        out,
        "error: {n} path{} in the way of generation {}",
        if n == 1 { " is" } else { "s are" },
        escape_path(generation)
    );
    let width = conflicts
        .iter()
        .map(|c| home_path(&c.path).len())
        .max()
        .unwrap_or(0);
    for c in conflicts {
        let _ = writeln!(
            out,
            "  {:<width$}   {}",
            home_path(&c.path),
            conflict_what(c)
        );
    }
    let them = if n == 1 { "it" } else { "them" };
    let _ = write!(
        out,
        "hint: move {them} away, run with --backup-ext EXT (home.backupFileExtension) to have hearth\n      move {them} aside"
    );
    if conflicts.iter().all(force_resolves) {
        out.push_str(", or set force on the entry (home.file.<name>.force = true)\n");
    } else {
        // Suggesting force where it does not help sends the user in a circle.
        out.push_str(
            "; force on an entry (home.file.<name>.force = true) replaces a file\n      \
             or link at its target, never a non-empty directory or a parent directory\n",
        );
    }
    if nothing_changed {
        out.push_str("nothing was changed\n");
    }
    out
}

pub fn kept_text(kept: &[Kept]) -> String {
    let mut out = String::new();
    for k in kept {
        let _ = writeln!(
            out,
            "note: {} was created by hearth but has been changed ({}); it is left in place and no longer managed",
            home_path(&k.path),
            k.found.describe()
        );
    }
    out
}

// ---------------------------------------------------------------------------
// JSON (docs/json.md). Built from the planner's types here, at one place, so
// that a change to the planner does not silently change the schema.

/// The schema's version; bumped on any change a reader could trip on.
pub const JSON_VERSION: u32 = 1;

/// A mode as people write it: `"0644"`.
fn mode_json(mode: u32) -> Value {
    Value::String(format!("{:04o}", mode & 0o7777))
}

/// A path outside the home (a store path, a link's target), lossily if it
/// is not UTF-8 (JSON strings are).
fn path_json(p: &Path) -> Value {
    Value::String(p.to_string_lossy().into_owned())
}

fn rel_json(p: &RelPath) -> Value {
    Value::String(p.as_str().to_string())
}

/// What was found at a path.
pub fn seen_json(seen: &Seen) -> Value {
    match seen {
        Seen::Missing => json!({"kind": "missing"}),
        Seen::Symlink { target, dangling } => {
            json!({"kind": "symlink", "target": path_json(target), "dangling": dangling})
        }
        Seen::File {
            size,
            mode,
            sha256,
            unreadable,
        } => json!({
            "kind": "file", "size": size, "mode": mode_json(*mode),
            "sha256": sha256, "unreadable": unreadable,
        }),
        Seen::Dir { below } => json!({
            "kind": "dir",
            "below": below.as_ref().map(|b| b.iter().map(rel_json).collect::<Vec<_>>()),
        }),
        Seen::Special { kind } => json!({"kind": "special", "what": kind}),
    }
}

fn recorded_json(r: &Recorded) -> Value {
    match r {
        Recorded::Symlink { target } => json!({"kind": "symlink", "target": path_json(target)}),
        Recorded::Copy(c) => {
            json!({"kind": "copy", "sha256": c.sha256, "mode": mode_json(c.mode), "size": c.size})
        }
    }
}

fn desired_json(d: &Desired) -> Value {
    match d {
        Desired::Symlink { target } => json!({"kind": "symlink", "target": path_json(target)}),
        Desired::Copy(c) => json!({
            "kind": "copy", "source": path_json(&c.source), "sha256": c.sha256,
            "mode": mode_json(c.mode), "size": c.size,
        }),
    }
}

fn prev_json(p: &Prev) -> Value {
    match p {
        Prev::Missing => json!({"kind": "missing"}),
        Prev::Symlink { target } => json!({"kind": "symlink", "target": path_json(target)}),
        Prev::File => json!({"kind": "file"}),
    }
}

fn action_json(a: &Action) -> Value {
    match a {
        Action::Remove { path, was } => {
            json!({"kind": "remove", "path": rel_json(path), "was": recorded_json(was)})
        }
        Action::RemoveDir { path, required } => {
            json!({"kind": "remove-dir", "path": rel_json(path), "required": required})
        }
        Action::Backup { path, to } => {
            json!({"kind": "backup", "path": rel_json(path), "to": to.as_ref().map(rel_json)})
        }
        Action::Discard { path, found } => {
            json!({"kind": "discard", "path": rel_json(path), "found": seen_json(found)})
        }
        Action::Mkdir { path } => json!({"kind": "mkdir", "path": rel_json(path)}),
        Action::UnlinkHomeManager { path, target } => json!({
            "kind": "remove-home-manager-link", "path": rel_json(path), "target": path_json(target),
        }),
        Action::Put {
            path,
            want,
            prev,
            why,
        } => json!({
            "kind": "put", "path": rel_json(path),
            "why": match why {
                Why::Create => "create",
                Why::Replace => "replace",
                Why::Repair => "repair",
                Why::HomeManager => "home-manager",
                Why::Identical => "identical",
            },
            "want": desired_json(want), "prev": prev_json(prev),
        }),
    }
}

fn conflict_json(c: &Conflict) -> Value {
    let kind = match c.kind {
        ConflictKind::InTheWay => "in-the-way",
        ConflictKind::Modified => "modified",
        ConflictKind::ParentInTheWay => "parent-in-the-way",
        ConflictKind::ForceOnDirectory => "force-on-directory",
    };
    json!({
        "kind": kind, "path": rel_json(&c.path), "found": seen_json(&c.found),
        "neededBy": c.needed_by.as_ref().map(rel_json),
    })
}

/// The plan's part of a document: what changes (or would), what is in the
/// way, what is left alone.
pub fn plan_fields(doc: &mut Map<String, Value>, generation: &Path, plan: &Plan) {
    doc.insert("generation".into(), path_json(generation));
    doc.insert(
        "actions".into(),
        plan.actions.iter().map(action_json).collect(),
    );
    doc.insert(
        "conflicts".into(),
        plan.conflicts.iter().map(conflict_json).collect(),
    );
    doc.insert(
        "kept".into(),
        plan.kept
            .iter()
            .map(|k| json!({"path": rel_json(&k.path), "found": seen_json(&k.found)}))
            .collect(),
    );
    doc.insert("unchanged".into(), plan.unchanged.into());
    doc.insert(
        "adopted".into(),
        plan.adopted.iter().map(rel_json).collect(),
    );
}

/// The plan's fields alone, as text (the planner's tests snapshot it).
pub fn plan_json(generation: &Path, plan: &Plan) -> String {
    let mut doc = Map::new();
    plan_fields(&mut doc, generation, plan);
    serde_json::to_string_pretty(&Value::Object(doc)).unwrap_or_default()
}

/// The drift `status` found.
pub fn drift_json(drift: &[Drift]) -> Value {
    drift
        .iter()
        .map(|d| json!({"path": rel_json(&d.path), "problem": d.problem, "found": seen_json(&d.found)}))
        .collect()
}

/// One command's output: text as it happens, or, with `--json`, the parts
/// of the one JSON document printed at the end (`finish`), whatever the
/// outcome. Everything hearth prints for a command goes through here.
pub struct Output {
    json: bool,
    doc: Map<String, Value>,
    hooks: Vec<Value>,
    warnings: Vec<Value>,
    recovered: Vec<Value>,
    /// Text that follows what the caller prints last (a dry run's units
    /// line comes after its plan).
    after: Vec<String>,
    verbosity: Verbosity,
}

impl Output {
    pub fn new(command: &str, json: bool) -> Output {
        let mut doc = Map::new();
        if json {
            doc.insert("version".into(), JSON_VERSION.into());
            doc.insert("command".into(), command.into());
        }
        Output {
            json,
            doc,
            hooks: Vec::new(),
            warnings: Vec::new(),
            recovered: Vec::new(),
            after: Vec::new(),
            verbosity: Verbosity::Normal,
        }
    }

    pub fn json(&self) -> bool {
        self.json
    }

    /// `-q` or `-v`.
    pub fn set_verbosity(&mut self, v: Verbosity) {
        self.verbosity = v;
    }

    fn quiet(&self) -> bool {
        self.verbosity == Verbosity::Quiet
    }

    /// `-q` or `-v`, for what root mode passes on to each user's process.
    pub fn verbosity(&self) -> Verbosity {
        self.verbosity
    }

    /// The plan, summarized when large unless `-v` (nothing with `-q` or
    /// `--json`).
    pub fn plan(&self, generation: &Path, plan: &Plan) {
        if !self.json && !self.quiet() {
            out(&plan_text_for(
                generation,
                plan,
                self.verbosity == Verbosity::Verbose,
            ));
        }
    }

    /// Information on stderr (recoveries, waiting, notes): not with `-q`.
    fn info(&self, text: &str) {
        if !self.quiet() {
            err(text);
        }
    }

    /// Sets a field of the JSON document (nothing in text mode).
    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        if self.json {
            self.doc.insert(key.into(), value.into());
        }
    }

    /// The JSON document, for the fields `plan_fields` and such fill.
    pub fn doc(&mut self) -> &mut Map<String, Value> {
        &mut self.doc
    }

    /// Text for people on stdout; nothing with `--json` (stdout is the
    /// document's).
    pub fn text(&self, text: &str) {
        if !self.json && !self.quiet() {
            out(text);
        }
    }

    /// Renders what an activation tells as it goes.
    pub fn event(&mut self, e: Event<'_>) {
        match e {
            Event::Recovered(msg) => {
                self.info(&format!("hearth: {msg}\n"));
                if self.json {
                    self.recovered.push(msg.into());
                }
            }
            Event::Warning(w) => {
                err(&format!("hearth: warning: {w}\n"));
                if self.json {
                    self.warnings.push(w.into());
                }
            }
            Event::Applied { generation, plan } => {
                if !self.json {
                    if !plan.is_noop() {
                        self.plan(generation, plan);
                    }
                    self.info(&kept_text(&plan.kept));
                }
            }
            Event::Waiting { lock, holder } => self.info(&match holder {
                Some(h) => format!(
                    "hearth: waiting for another hearth run on this home to finish ({}; lock {})\n",
                    escape(h),
                    escape_path(lock)
                ),
                None => format!(
                    "hearth: waiting for another hearth run on this home to finish (lock {})\n",
                    escape_path(lock)
                ),
            }),
            Event::InProgress { holder, committed } => {
                let text = in_progress_text(holder, committed);
                self.info(&format!("hearth: note: {text}\n"));
                if self.json {
                    self.warnings.push(text.into());
                }
            }
            Event::TornJournal { journal } => {
                let text = format!(
                    "discarding the incomplete journal {} (an activation was stopped before it changed anything)",
                    escape_path(journal)
                );
                self.info(&format!("hearth: {text}\n"));
                if self.json {
                    self.warnings.push(text.into());
                }
            }
            Event::Units(o) => {
                if self.json {
                    self.doc.insert("units".into(), units_json(o));
                } else if let Some(text) = units_text(o) {
                    if o.dry_run {
                        self.after.push(text);
                    } else {
                        self.text(&text);
                    }
                }
            }
            Event::Packages { diff, dry_run } => {
                if self.json {
                    self.doc.insert("packages".into(), packages_diff_json(diff));
                } else if dry_run {
                    // After the plan, which the caller prints last.
                    self.after.push(packages_diff_text(diff));
                } else {
                    self.text(&packages_diff_text(diff));
                }
            }
            Event::Hook(ran) => {
                // Its lines were shown as they came; this is how it ended.
                self.progress(&step_end_text(ran));
                if self.json {
                    self.hooks.push(json!({
                        "kind": ran.what, "name": ran.name, "ok": ran.ok, "output": ran.output,
                        "seconds": seconds_json(ran.elapsed),
                        "timedOut": ran.timed_out.is_some(),
                    }));
                }
            }
            Event::StepStarted { what, name } => {
                self.progress(&format!("{what} {}: running\n", escape(name)));
            }
            Event::StepLine { name, line, .. } => {
                self.progress(&format!("[{}] {}\n", escape(name), escape(line)));
            }
        }
    }

    /// A running step's lines: on stdout for people, on stderr with
    /// `--json` (never on stdout before the document).
    fn progress(&self, text: &str) {
        if self.quiet() {
        } else if self.json {
            err(text);
        } else {
            out(text);
        }
    }

    /// Reports an error: on stderr always (people read it there), and in
    /// the document with `--json`.
    pub fn error(&mut self, e: &ActivateError) {
        err(&error_text(e));
        if !self.json {
            return;
        }
        match e {
            ActivateError::Conflicts { gen, plan } => plan_fields(&mut self.doc, gen, plan),
            ActivateError::Hook {
                gen, plan, number, ..
            } => {
                plan_fields(&mut self.doc, gen, plan);
                self.doc.insert("number".into(), (*number).into());
            }
            _ => {}
        }
        self.doc
            .insert("error".into(), error_text(e).trim_end().into());
    }

    /// A refusal's text on stderr and in the document; its outcome is
    /// "refused" for bad input, "failed" otherwise.
    fn refused(&mut self, text: &str, code: ExitCode) -> (&'static str, ExitCode) {
        err(text);
        self.set("error", text.trim_end().to_string());
        let outcome = if code == ExitCode::InvalidInput {
            "refused"
        } else {
            "failed"
        };
        (outcome, code)
    }

    /// A root-mode refusal: on stderr (escaped), and in the document.
    pub fn refuse(&mut self, e: &crate::root::Error) -> (&'static str, ExitCode) {
        let text = root_error_text(e);
        self.refused(&text, e.exit_code())
    }

    /// `plan --system`: a homes.json that cannot be used. Escaped like a
    /// root-mode refusal.
    pub fn refuse_system(&mut self, e: &crate::system::Error) -> (&'static str, ExitCode) {
        let text = crate::root::escape_lines(&format!("error: {e}"));
        self.refused(&text, e.exit_code())
    }

    /// A standalone build (`switch`, `build`) or `init` that stopped: on
    /// stderr, and in the document.
    pub fn refuse_standalone(&mut self, e: &crate::standalone::Error) -> (&'static str, ExitCode) {
        let text = standalone_error_text(e);
        self.refused(&text, e.exit_code())
    }

    /// `activate --user NAME` as root: the user's activation ran in a child,
    /// whose output root mode has shown. With `--json` the child's document
    /// is the document, when it printed one; otherwise this process makes
    /// one (the child was refused, killed, or timed out).
    pub fn user_outcome(
        &mut self,
        o: &crate::root::Outcome,
        dry_run: bool,
    ) -> (&'static str, ExitCode) {
        let child_doc = o
            .json
            .as_deref()
            .and_then(|text| serde_json::from_str::<Value>(text).ok())
            .filter(|v| v.get("version").is_some());
        if let (true, Some(doc)) = (self.json, child_doc) {
            let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
            out(&format!("{text}\n"));
            // Printed: nothing more may go to stdout.
            self.json = false;
        }
        if self.json {
            self.set("user", o.name.clone());
            self.set("error", o.code.outcome(dry_run));
        }
        let outcome = match o.code {
            ExitCode::Success if dry_run => "planned",
            ExitCode::Success => "activated",
            _ if o.timed_out.is_some() => "timed-out",
            ExitCode::InvalidInput => "refused",
            _ => "failed",
        };
        (outcome, o.code)
    }

    /// With `--json`, prints the one document: how the command ended, its
    /// exit status, and what was collected.
    pub fn finish(mut self, outcome: &str, code: ExitCode) {
        if !self.json {
            for text in &self.after {
                self.text(text);
            }
            return;
        }
        self.doc.insert("outcome".into(), outcome.into());
        self.doc.insert("exit".into(), i32::from(code).into());
        self.doc.entry("error").or_insert(Value::Null);
        self.doc.insert("hooks".into(), self.hooks.into());
        self.doc.insert("warnings".into(), self.warnings.into());
        self.doc.insert("recovered".into(), self.recovered.into());
        let text = serde_json::to_string_pretty(&Value::Object(self.doc)).unwrap_or_else(|e| {
            format!(
                "{{\"version\": {JSON_VERSION}, \"error\": {:?}}}",
                e.to_string()
            )
        });
        out(&format!("{text}\n"));
    }
}

/// What a reading command that did not wait for the lock says about the
/// unfinished activation of the run that holds it.
pub fn in_progress_text(holder: Option<&str>, committed: bool) -> String {
    let who = holder.map_or_else(|| "another hearth run".into(), |h| escape(h).into_owned());
    if committed {
        format!(
            "an activation of this home is in progress ({who}): its files are applied and recorded as shown; its steps and hooks are still running"
        )
    } else {
        format!(
            "an activation of this home is in progress ({who}): shown is the generation recorded before it; the home may be changing"
        )
    }
}

/// The line that ends a step's or hook's output: how it ended, and how
/// long it took.
pub fn step_end_text(ran: &crate::home::hooks::Ran) -> String {
    use crate::home::hooks::duration_text;
    let took = duration_text(ran.elapsed);
    let how = match (&ran.timed_out, &ran.status) {
        _ if ran.ok => format!("done in {took}"),
        (Some(limit), _) => format!(
            "killed after {took} (--step-timeout {})",
            duration_text(*limit)
        ),
        (None, Some(status)) => format!("failed after {took} ({status})"),
        (None, None) => format!("failed after {took}"),
    };
    format!("{} {}: {how}\n", ran.what, escape(ran.name))
}

/// Seconds to the millisecond, as JSON.
fn seconds_json(d: std::time::Duration) -> Value {
    #[expect(clippy::cast_precision_loss, reason = "milliseconds of a step's run")]
    let ms = d.as_millis() as f64;
    json!(ms / 1000.0)
}

/// The summary of what was done to the user's systemd units ("user units:
/// started b.service; restarted a.service; stopped c.service"), or nothing
/// when nothing was (a manager that does not run is said only in JSON).
pub fn units_text(o: &units::Outcome) -> Option<String> {
    let d = &o.done;
    let (start, restart, stop) = if o.dry_run {
        ("would start", "would restart", "would stop")
    } else {
        ("started", "restarted", "stopped")
    };
    let list = |v: &[String]| {
        v.iter()
            .map(|u| escape(u).into_owned())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = Vec::new();
    for (verb, v) in [(start, &d.start), (restart, &d.restart), (stop, &d.stop)] {
        if !v.is_empty() {
            parts.push(format!("{verb} {}", list(v)));
        }
    }
    if !d.kept.is_empty() {
        parts.push(format!(
            "left {} running (X-RestartIfChanged=false)",
            list(&d.kept)
        ));
    }
    if parts.is_empty() {
        return None;
    }
    Some(format!("user units: {}\n", parts.join("; ")))
}

/// The `units` field (docs/json.md).
pub fn units_json(o: &units::Outcome) -> Value {
    let d = &o.done;
    json!({
        "skipped": o.skipped,
        "reload": d.reload,
        "start": d.start,
        "restart": d.restart,
        "stop": d.stop,
        "kept": d.kept,
        "failed": o.failed.iter().map(|f| json!({
            "action": f.action, "unit": f.unit, "error": f.error,
        })).collect::<Vec<_>>(),
    })
}

/// The JSON `outcome` of an activation error.
pub fn error_outcome(e: &ActivateError) -> &'static str {
    match e {
        ActivateError::Conflicts { .. } => "conflicts",
        ActivateError::ChangedMeanwhile { .. } => "changed-meanwhile",
        ActivateError::Reverted { .. } => "reverted",
        ActivateError::RevertFailed { .. } => "revert-failed",
        ActivateError::CheckStep(_) => "check-failed",
        ActivateError::Hook { .. } => "hook-failed",
        e if e.exit_code() == ExitCode::InvalidInput => "refused",
        _ => "failed",
    }
}

/// The last line on stderr of an activation that failed, the one a reader
/// of only the last lines (systemd shows a failed unit's last 10 in
/// `nixos-rebuild switch`) needs: whose home, what failed, how many paths,
/// and whether the home changed. The full report is above it. A plan
/// (`dry_run`) gets one only for conflicts, where activation would stop;
/// refused input gets none.
pub fn last_line(user: &str, e: &ActivateError, dry_run: bool) -> Option<String> {
    use crate::home::hooks::Error as HookError;
    let paths = |n: usize, verb: &str| {
        if n == 1 {
            format!("1 path {verb}")
        } else {
            format!("{n} paths {}", if verb == "is" { "are" } else { verb })
        }
    };
    let hook = |h: &HookError| match h {
        HookError::Failed { what, name, .. }
        | HookError::Spawn { what, name, .. }
        | HookError::TimedOut { what, name, .. } => {
            format!("{what} {:?}", escape(name))
        }
    };
    let unchanged = "the home was not changed";
    let what = match e {
        ActivateError::Conflicts { plan, .. } if dry_run => format!(
            "activation would stop here: {} in the way (listed above); it would change nothing",
            paths(plan.conflicts.len(), "is")
        ),
        _ if dry_run => return None,
        // Refused input (a manifest, an argument, the wrong user or home)
        // is a message of a line or a few, and the same as `hearth check`
        // gives; nothing was attempted.
        e if e.exit_code() == ExitCode::InvalidInput => return None,
        ActivateError::Conflicts { plan, .. } => format!(
            "not activated: {} in the way (listed above); {unchanged}",
            paths(plan.conflicts.len(), "is")
        ),
        ActivateError::ChangedMeanwhile { .. } => "not activated: a path changed while hearth applied (above); every change was reverted, the home is as before, with that change".to_string(),
        ActivateError::Reverted { .. } => {
            "not activated: applying failed (above); every change was reverted, the home is as before".to_string()
        }
        ActivateError::RevertFailed { problems, .. } => format!(
            "not activated: applying failed, and the revert failed for {} (above); the home is partly changed, and the next hearth run retries the revert",
            if problems.len() == 1 { "1 path".to_string() } else { format!("{} paths", problems.len()) }
        ),
        ActivateError::CheckStep(h) => {
            format!("not activated: the {} failed (above); {unchanged}", hook(h))
        }
        ActivateError::Hook { number, cause, .. } => format!(
            "activated generation {number}, but the {} failed (above); the steps and hooks after it did not run",
            hook(cause)
        ),
        ActivateError::State(crate::home::state::Error::LockTimeout { .. }) => format!(
            "not activated: another hearth run on this home did not finish in time (above); {unchanged}"
        ),
        ActivateError::State(_) => {
            format!("not activated: hearth's state could not be used (above); {unchanged}")
        }
        ActivateError::Observe(_) => {
            format!("not activated: the home could not be read (above); {unchanged}")
        }
        ActivateError::Nix(_) => format!("not activated: a Nix tool failed (above); {unchanged}"),
        _ => format!("not activated: it failed (above); {unchanged}"),
    };
    Some(format!("hearth: {}: {what}\n", escape(user)))
}

/// `plan --system`: the heading above a user's plan.
pub fn system_heading(h: &crate::system::Home) -> String {
    format!(
        "== {} ({}): {} ==\n",
        escape(&h.user),
        escape_path(&h.home),
        escape_path(&h.generation)
    )
}

/// What `plan --system` came to for one user, and whether a plan was
/// computed (conflicts included: they are what the plan shows).
pub fn system_outcome(o: &crate::root::Outcome) -> (&'static str, bool) {
    match o.code {
        _ if o.timed_out.is_some() => ("timed-out", false),
        ExitCode::Success => ("planned", true),
        ExitCode::Conflicts => ("conflicts", true),
        ExitCode::InvalidInput => ("refused", false),
        _ => ("failed", false),
    }
}

/// `plan --system`'s summary, after every user: one line per user, then
/// whose activation would stop and whose plan could not be made.
pub fn system_summary(file: &Path, outcomes: &[crate::root::Outcome]) -> String {
    let names: Vec<String> = outcomes
        .iter()
        .map(|o| escape(&o.name).into_owned())
        .collect();
    let width = names.iter().map(String::len).max().unwrap_or(0);
    let mut text = format!(
        "hearth: plans for the {} user{} of {}:\n",
        outcomes.len(),
        if outcomes.len() == 1 { "" } else { "s" },
        escape_path(file)
    );
    let mut stops = Vec::new();
    let mut failed = Vec::new();
    for (o, name) in outcomes.iter().zip(&names) {
        let what = match system_outcome(o) {
            ("planned", _) => "planned".to_string(),
            ("conflicts", _) => {
                stops.push(name.as_str());
                "planned: paths are in the way (above); activation would stop there".to_string()
            }
            _ => {
                failed.push(name.as_str());
                let why = match (o.timed_out, o.code) {
                    (Some(t), _) => format!("timed out after {} s, killed", t.as_secs()),
                    (None, ExitCode::HookFailed) => "a check step failed (above)".into(),
                    (None, ExitCode::InvalidInput) => "refused (above)".into(),
                    (None, ExitCode::Killed(_)) => "killed".into(),
                    (None, _) => "failed (above)".into(),
                };
                format!("no plan: {why} (exit {})", o.code.code())
            }
        };
        let _ = writeln!(text, "  {name:<width$}  {what}");
    }
    if failed.is_empty() {
        text.push_str("hearth: every plan was computed");
    } else {
        let _ = write!(
            text,
            "hearth: no plan for {} of {}: {}",
            failed.len(),
            outcomes.len(),
            failed.join(", ")
        );
    }
    if stops.is_empty() {
        text.push_str(if failed.is_empty() {
            "; nothing is in the way\n"
        } else {
            "\n"
        });
    } else {
        let _ = writeln!(
            text,
            "; activation would stop for {} (paths in the way)",
            stops.join(", ")
        );
    }
    text
}

/// The priority of each line of `system_summary`'s text: a plan that could
/// not be made is an error, one whose activation would stop a warning.
pub fn system_summary_priorities(outcomes: &[crate::root::Outcome]) -> Vec<crate::term::Priority> {
    use crate::term::Priority;
    let each: Vec<Priority> = outcomes
        .iter()
        .map(|o| match system_outcome(o) {
            ("planned", _) => Priority::Info,
            ("conflicts", _) => Priority::Warning,
            _ => Priority::Error,
        })
        .collect();
    let last = if each.contains(&Priority::Error) {
        Priority::Error
    } else if each.contains(&Priority::Warning) {
        Priority::Warning
    } else {
        Priority::Info
    };
    let mut lines = vec![Priority::Info];
    lines.extend(each);
    lines.push(last);
    lines
}

/// `plan --system --json`: one entry per user, with the plan as
/// `plan --json` gives it (the user's own document), or null when there
/// is none.
pub fn system_homes_json(
    homes: &[crate::system::Home],
    outcomes: &[crate::root::Outcome],
) -> Value {
    homes
        .iter()
        .zip(outcomes)
        .map(|(h, o)| {
            let plan = o
                .json
                .as_deref()
                .and_then(|text| serde_json::from_str::<Value>(text).ok())
                .filter(|v| v.get("version").is_some());
            let error = match &plan {
                Some(doc) => doc.get("error").cloned().unwrap_or(Value::Null),
                None => Value::String(match o.timed_out {
                    Some(t) => format!("timed out after {} s, killed", t.as_secs()),
                    None => o.code.outcome(true).to_string(),
                }),
            };
            json!({
                "user": h.user,
                "home": path_json(&h.home),
                "generation": path_json(&h.generation),
                "timeout": h.timeout.as_secs(),
                "outcome": system_outcome(o).0,
                "exit": i32::from(o.code),
                "error": error,
                "plan": plan,
            })
        })
        .collect()
}

/// `hearth check`'s line.
pub fn check_text(path: &Path, g: &crate::manifest::Generation) -> String {
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    format!(
        "{}: valid manifest for user {} ({} file{}, {} activation step{})\n",
        path.display(),
        g.manifest.user,
        g.files.len(),
        plural(g.files.len()),
        g.manifest.activation.len(),
        plural(g.manifest.activation.len()),
    )
}

/// What `remove-generations` and `expire-generations` did.
pub fn removed_text(removed: &[u64]) -> String {
    if removed.is_empty() {
        return "no generation to remove\n".into();
    }
    let list: Vec<String> = removed.iter().map(u64::to_string).collect();
    format!("removed generations {}\n", list.join(", "))
}

/// `--dry-run` of `remove-generations` and `expire-generations`.
pub fn would_remove_text(removed: &[u64]) -> String {
    if removed.is_empty() {
        return "no generation to remove (dry run)\n".into();
    }
    let list: Vec<String> = removed.iter().map(u64::to_string).collect();
    format!(
        "would remove generations {} (dry run; nothing was removed)\n",
        list.join(", ")
    )
}

/// `hearth status` for people.
pub fn status_text(status: &Status) -> String {
    let mut out = String::new();
    let Status {
        number,
        generation,
        managed,
        drift,
        ..
    } = status;
    if drift.is_empty() {
        let _ = writeln!(
            out,
            "generation {} ({}): all {managed} managed paths match",
            number,
            generation.display(),
        );
        return out;
    }
    let _ = writeln!(
        out,
        "generation {} ({}): {} of {managed} managed paths differ",
        number,
        generation.display(),
        drift.len(),
    );
    let paths: Vec<String> = drift.iter().map(|d| home_path(&d.path)).collect();
    let width = paths.iter().map(String::len).max().unwrap_or(0);
    for (d, path) in drift.iter().zip(&paths) {
        let _ = writeln!(
            out,
            "  {:<9} {:<width$}   now {}",
            d.problem,
            path,
            d.found.describe()
        );
    }
    let _ = writeln!(
        out,
        "hint: `hearth activate {}` repairs missing paths; changed ones are yours to resolve",
        generation.display()
    );
    out
}

/// `hearth generations` for people.
pub fn generations_text(hist: &[GenRecord], current: Option<u64>) -> String {
    let mut out = String::new();
    if hist.is_empty() {
        out.push_str("no generations yet\n");
    }
    for g in hist {
        let _ = writeln!(
            out,
            "{:>4}   {}   {}{}",
            g.number,
            crate::home::state::format_time(g.time),
            g.path.display(),
            if Some(g.number) == current {
                "   (current)"
            } else {
                ""
            }
        );
    }
    out
}

pub fn generations_json(hist: &[GenRecord], current: Option<u64>) -> Value {
    hist.iter()
        .map(|g| {
            json!({
                "number": g.number, "time": g.time, "path": path_json(&g.path),
                "current": Some(g.number) == current,
            })
        })
        .collect()
}

/// An activation error as people read it, `error:` first. Conflicts are
/// listed in full with the hint.
pub fn error_text(e: &ActivateError) -> String {
    match e {
        ActivateError::Conflicts { gen, plan } => conflicts_text(gen, &plan.conflicts, true),
        e => format!("error: {e}\n"),
    }
}

/// A standalone error as people read it.
pub fn standalone_error_text(e: &crate::standalone::Error) -> String {
    format!("error: {e}\n")
}

/// `hearth build`: the generation built (and the link to it).
pub fn built_text(generation: &Path, link: Option<&Path>) -> String {
    match link {
        Some(l) => format!(
            "{}\n(linked from {})\n",
            escape_path(generation),
            escape_path(l)
        ),
        None => format!("{}\n", escape_path(generation)),
    }
}

/// `hearth init`'s question: which files would get the line.
pub fn init_question(shells: &[crate::standalone::init::Shell], home: &Path) -> String {
    let mut q = String::from("Make login shells read hearth's profile (packages on PATH, session variables)?\nThis appends one line to:\n");
    for s in shells {
        let _ = writeln!(q, "  {}  ({})", escape_path(&s.file(home)), s.name());
    }
    q.push_str("Add it? [y/N] ");
    q
}

/// `hearth init`: one line per file it wrote, kept or appended to, then
/// what to do next.
pub fn init_text(done: &[crate::standalone::init::Done], home_file: &Path, hooked: bool) -> String {
    use crate::standalone::init::Done;
    let mut out = String::new();
    for d in done {
        let _ = match d {
            Done::Wrote(p) => writeln!(out, "wrote {}", escape_path(p)),
            Done::Kept(p) => writeln!(out, "kept {} (it exists; not changed)", escape_path(p)),
            Done::Added { path, created: true } => {
                writeln!(out, "created {} with the line that reads hearth's profile", escape_path(path))
            }
            Done::Added { path, .. } => {
                writeln!(out, "added the line that reads hearth's profile to {}", escape_path(path))
            }
            Done::Present(p) => writeln!(out, "{} already reads hearth's profile", escape_path(p)),
            Done::Skipped(p) => writeln!(
                out,
                "left {} alone: it exists and is not hearth's; source the profile's etc/profile.d/hearth.fish from your fish configuration yourself",
                escape_path(p)
            ),
        };
    }
    let _ = writeln!(
        out,
        "next: edit {}, then run `hearth switch`",
        escape_path(home_file)
    );
    if hooked {
        out.push_str("new login shells then have the home's packages and session variables\n");
    } else {
        out.push_str(
            "login shells do not read hearth's profile yet: run `hearth init --yes` to add the line, or source its etc/profile.d/hearth.sh yourself\n",
        );
    }
    out
}

/// A root-mode refusal: escaped, since it may name what a user chose (a
/// home, a manifest's user).
pub fn root_error_text(e: &crate::root::Error) -> String {
    crate::root::escape_lines(&format!("error: {e}"))
}

// ---------------------------------------------------------------------------
// Packages (see `home::packages`)

/// A size for people: bytes, or KiB/MiB/GiB with one decimal.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    #[expect(clippy::cast_precision_loss, reason = "a size shown to one decimal")]
    let mut v = bytes as f64 / 1024.0;
    let mut unit = UNITS[0];
    for u in &UNITS[1..] {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

/// A change of size: `+1.2 KiB`, `-300 B`, `±0 B`.
fn size_change(old: u64, new: u64) -> String {
    match new.cmp(&old) {
        std::cmp::Ordering::Greater => format!("+{}", human_size(new - old)),
        std::cmp::Ordering::Less => format!("-{}", human_size(old - new)),
        std::cmp::Ordering::Equal => "±0 B".into(),
    }
}

fn versions_text(vs: &[String]) -> String {
    let shown: Vec<&str> = vs
        .iter()
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .collect();
    if shown.is_empty() {
        "(no version)".into()
    } else {
        escape(&shown.join(", ")).into_owned()
    }
}

/// What changes in the packages environment, as `plan`, `activate` and
/// `status` show it: a line of counts and the closure size, then one line
/// per package name.
pub fn packages_diff_text(diff: &crate::home::packages::Diff) -> String {
    let mut out = String::new();
    let counts = if diff.lists_changes() {
        format!(
            "{} added, {} removed, {} changed",
            diff.added.len(),
            diff.removed.len(),
            diff.changed.len()
        )
    } else {
        "no package added, removed or changed in version".into()
    };
    let closure = match diff.closure {
        None => String::new(),
        Some((_, new)) if diff.old.is_none() => format!("; closure {}", human_size(new)),
        Some((old, _)) if diff.new.is_none() => format!("; closure {} -> none", human_size(old)),
        Some((old, new)) => format!(
            "; closure {} -> {} ({})",
            human_size(old),
            human_size(new),
            size_change(old, new)
        ),
    };
    let by = match diff.by {
        crate::home::packages::Installer::Profile => "",
        crate::home::packages::Installer::System => " (installed by the system)",
    };
    let _ = writeln!(out, "packages{by}: {counts}{closure}");
    for (verb, list) in [("add", &diff.added), ("remove", &diff.removed)] {
        for p in list {
            let _ = writeln!(
                out,
                "  {verb:<8} {} {}",
                escape(&p.name),
                versions_text(&p.versions)
            );
        }
    }
    for c in &diff.changed {
        let _ = writeln!(
            out,
            "  {:<8} {} {} -> {}",
            "change",
            escape(&c.name),
            versions_text(&c.old),
            versions_text(&c.new)
        );
    }
    if let Some(p) = &diff.problem {
        let _ = writeln!(out, "  note: the list is incomplete: {}", escape(p));
    }
    out
}

/// The `packages` field of `plan`, `activate` and `status` (docs/json.md).
pub fn packages_diff_json(diff: &crate::home::packages::Diff) -> Value {
    let named = |list: &[crate::home::packages::Named]| -> Value {
        list.iter()
            .map(|n| json!({"name": n.name, "versions": n.versions}))
            .collect()
    };
    json!({
        "old": diff.old.as_deref().map(path_json),
        "new": diff.new.as_deref().map(path_json),
        "added": named(&diff.added),
        "removed": named(&diff.removed),
        "changed": diff.changed.iter().map(|c| json!({"name": c.name, "old": c.old, "new": c.new})).collect::<Vec<_>>(),
        "closureSize": diff.closure.map(|(old, new)| {
            json!({"old": diff.old.is_some().then_some(old), "new": diff.new.is_some().then_some(new)})
        }),
        "problem": diff.problem,
        "installedBy": installer_json(diff.by),
    })
}

/// Who installs a packages environment, as JSON (docs/json.md).
pub fn installer_json(by: crate::home::packages::Installer) -> &'static str {
    match by {
        crate::home::packages::Installer::Profile => "profile",
        crate::home::packages::Installer::System => "system",
    }
}

/// `hearth packages` for people: a line per package (output), sorted.
pub fn packages_list_text(
    number: u64,
    env: Option<&crate::home::packages::Env>,
    list: &[crate::home::packages::Package],
) -> String {
    let mut out = String::new();
    let Some(crate::home::packages::Env { path: env, by }) = env else {
        let _ = writeln!(
            out,
            "generation {number} has no packages environment (home.packages is empty, or the system installs the packages)"
        );
        return out;
    };
    let _ = writeln!(
        out,
        "generation {number}: {} package{} in {}{}",
        list.len(),
        if list.len() == 1 { "" } else { "s" },
        escape_path(env),
        match by {
            crate::home::packages::Installer::Profile => "",
            crate::home::packages::Installer::System =>
                ", installed by the system (users.users.<name>.packages)",
        }
    );
    let names: Vec<String> = list.iter().map(|p| escape(&p.name).into_owned()).collect();
    let width = names.iter().map(String::len).max().unwrap_or(0);
    let vwidth = list
        .iter()
        .map(|p| escape(&p.version).len())
        .max()
        .unwrap_or(0);
    for (p, name) in list.iter().zip(&names) {
        let mut extra = Vec::new();
        if p.output != "out" {
            extra.push(format!("({})", escape(&p.output)));
        }
        if p.propagated {
            extra.push("(propagated)".into());
        }
        let line = format!(
            "  {name:<width$}  {:<vwidth$}  {}",
            escape(&p.version),
            extra.join(" ")
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

/// `hearth packages --json`'s list.
pub fn packages_list_json(list: &[crate::home::packages::Package]) -> Value {
    list.iter()
        .map(|p| {
            json!({
                "name": p.name, "version": p.version, "output": p.output,
                "path": path_json(&p.path), "propagated": p.propagated,
            })
        })
        .collect()
}

/// `hearth status`: the packages profile is not on the generation's
/// environment; what activating it again would change.
pub fn packages_status_text(profile: &Path, diff: &crate::home::packages::Diff) -> String {
    format!(
        "the packages profile {} is not on the generation's environment {}\n{}\
         hint: activating the generation again puts the profile back on it\n",
        escape_path(profile),
        diff.new
            .as_deref()
            .map_or_else(|| "(none)".into(), escape_path),
        packages_diff_text(diff)
    )
}

#[cfg(test)]
mod escape_tests {
    use super::escape;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape("plain/name.txt"), "plain/name.txt");
        assert_eq!(escape("a\\b"), "a\\b");
        assert_eq!(escape("x\x1b[2Jy"), "x\\u{1b}[2Jy");
        assert_eq!(escape("evil\rroot ok\\"), "evil\\rroot ok\\\\");
        assert_eq!(escape("tab\tok"), "tab\tok");
        assert_eq!(escape("\u{9b}"), "\\u{9b}");
    }
}
