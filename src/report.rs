//! Rendering for people (text) and programs (`--json`). Nothing here decides
//! anything; it only describes plans, conflicts and outcomes.

use std::fmt::Write;
use std::path::Path;

use serde::Serialize;

use crate::home::plan::{Action, Conflict, ConflictKind, Desired, Kept, Plan, Seen, Why};
use crate::manifest::RelPath;

/// Writes `text` to stdout. A reader that went away (a closed pipe) or a
/// full device ends the output, never the program: an activation must
/// finish, record and run its hooks whoever reads what it prints.
pub fn out(text: &str) {
    use std::io::Write as _;
    let mut w = std::io::stdout().lock();
    let _ = w.write_all(text.as_bytes()).and_then(|()| w.flush());
}

/// `out` for stderr.
pub fn err(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
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
        Desired::Copy { source, mode, .. } => {
            format!("(copy of {}, mode {mode:04o})", escape_path(source))
        }
    }
}

/// One line per action, as `plan` and `activate --dry-run` show them.
pub fn plan_text(generation: &Path, plan: &Plan) -> String {
    let mut out = String::new();
    let mut count = std::collections::BTreeMap::<&str, usize>::new();
    let mut lines = Vec::new();
    for a in &plan.actions {
        let (verb, text) = match a {
            Action::Remove { path, .. } => ("remove", home_path(path)),
            Action::RemoveDir {
                path,
                required: true,
            } => ("rmdir", home_path(path)),
            Action::RemoveDir { path, .. } => ("rmdir", format!("{} (if empty)", home_path(path))),
            Action::Backup { path, to } => (
                "backup",
                match to {
                    Some(to) => format!("{} -> {}", home_path(path), home_path(to)),
                    None => home_path(path),
                },
            ),
            Action::Discard { path, found } => (
                "discard",
                format!("{} ({}; force)", home_path(path), found.describe()),
            ),
            Action::Mkdir { path } => ("mkdir", home_path(path)),
            Action::Put {
                path, want, why, ..
            } => (
                match why {
                    Why::Create => "create",
                    Why::Replace => "replace",
                    Why::Repair => "repair",
                },
                format!("{} {}", home_path(path), describe_want(want)),
            ),
        };
        *count.entry(verb).or_default() += 1;
        lines.push(format!("  {verb:<8} {text}"));
    }
    for k in &plan.kept {
        lines.push(format!(
            "  {:<8} {} ({}: changed since hearth created it; left in place, no longer managed)",
            "keep",
            home_path(&k.path),
            k.found.describe()
        ));
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
    for l in lines {
        let _ = writeln!(out, "{l}");
    }
    if !plan.conflicts.is_empty() {
        out.push_str(&conflicts_text(generation, &plan.conflicts, false));
    }
    out
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

#[derive(Serialize)]
pub struct PlanJson<'a> {
    pub generation: &'a Path,
    pub actions: &'a [Action],
    pub conflicts: &'a [Conflict],
    pub kept: &'a [Kept],
    pub unchanged: usize,
}

pub fn plan_json(generation: &Path, plan: &Plan) -> String {
    serde_json::to_string_pretty(&PlanJson {
        generation,
        actions: &plan.actions,
        conflicts: &plan.conflicts,
        kept: &plan.kept,
        unchanged: plan.unchanged,
    })
    .unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()))
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
