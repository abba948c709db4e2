//! `hearth diff` for people: a unified diff per drifted file (the `similar`
//! crate), from what the generation wants (`---`) to what is in the home
//! (`+++`), coloured as git colours it when stdout is a terminal, plain
//! otherwise or with `NO_COLOR` (anstream's rules, as clap's own output).
//! Content from the home is escaped like every other text from a home.

use std::fmt::Write;

use anstyle::{AnsiColor, Style};

use crate::diff::{Content, Diffs};
use crate::report::{escape, escape_path, home_path};

/// Whether what goes to stdout may be coloured: a terminal, and neither
/// `NO_COLOR` nor `TERM=dumb` (`CLICOLOR_FORCE` forces it).
pub fn colour_stdout() -> bool {
    anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never
}

/// The styles, or none at all.
struct Paint {
    header: Style,
    hunk: Style,
    del: Style,
    add: Style,
    note: Style,
}

impl Paint {
    fn new(colour: bool) -> Paint {
        if !colour {
            let none = Style::new();
            return Paint {
                header: none,
                hunk: none,
                del: none,
                add: none,
                note: none,
            };
        }
        Paint {
            header: Style::new().bold(),
            hunk: AnsiColor::Cyan.on_default(),
            del: AnsiColor::Red.on_default(),
            add: AnsiColor::Green.on_default(),
            note: AnsiColor::Yellow.on_default(),
        }
    }
}

/// One line in `style` (nothing added when the style is plain).
fn line(out: &mut String, style: Style, text: &str) {
    let _ = writeln!(out, "{style}{text}{style:#}");
}

/// The lines that open one file's diff, text or binary alike.
fn heading(
    out: &mut String,
    p: &Paint,
    path: &str,
    number: u64,
    was_link: bool,
    modes: Option<(u32, u32)>,
) {
    line(
        out,
        p.header,
        &format!("diff {path} (generation {number} -> home)"),
    );
    if was_link {
        line(
            out,
            p.note,
            "a link of the generation's, replaced by a regular file",
        );
    }
    modes_line(out, p, modes);
}

fn modes_line(out: &mut String, p: &Paint, modes: Option<(u32, u32)>) {
    if let Some((want, have)) = modes {
        line(out, p.del, &format!("old mode {want:04o}"));
        line(out, p.add, &format!("new mode {have:04o}"));
    }
}

/// The whole output of `hearth diff`.
pub fn text(diffs: &Diffs, colour: bool) -> String {
    let p = Paint::new(colour);
    let mut out = String::new();
    let Some((number, generation)) = &diffs.generation else {
        return "no generation has been activated in this home; there is nothing to compare\n"
            .into();
    };
    if diffs.files.is_empty() {
        let scope = if diffs.filtered {
            "the given paths match"
        } else {
            "the home matches"
        };
        let _ = writeln!(
            out,
            "no differences: {scope} generation {number} ({}); {} managed path{} compared",
            escape_path(generation),
            diffs.looked_at,
            if diffs.looked_at == 1 { "" } else { "s" }
        );
        return out;
    }
    let mut others = Vec::new();
    for f in &diffs.files {
        let path = home_path(&f.path);
        match &f.content {
            Content::Text {
                want,
                have,
                modes,
                was_link,
            } => {
                heading(&mut out, &p, &path, *number, *was_link, *modes);
                if want == have {
                    continue;
                }
                line(
                    &mut out,
                    p.header,
                    &format!("--- {path}\t(generation {number})"),
                );
                line(&mut out, p.header, &format!("+++ {path}\t(home)"));
                hunks(&mut out, &p, want, have);
            }
            Content::Binary {
                want_size,
                have_size,
                modes,
                was_link,
            } => {
                heading(&mut out, &p, &path, *number, *was_link, *modes);
                let _ = writeln!(
                    out,
                    "binary or large files differ ({want_size} bytes in the generation, {have_size} in the home)"
                );
            }
            Content::Other {
                problem,
                found,
                note,
            } => others.push((path, *problem, found.describe(), note.clone())),
        }
    }
    if !others.is_empty() {
        if others.len() < diffs.files.len() {
            out.push('\n');
        }
        let _ = writeln!(out, "not shown as a diff:");
        let width = others.iter().map(|o| o.0.len()).max().unwrap_or(0);
        for (path, problem, found, note) in &others {
            let _ = writeln!(out, "  {problem:<9} {path:<width$}   now {found}");
            if let Some(note) = note {
                let _ = writeln!(out, "            ({note})");
            }
        }
    }
    let _ = writeln!(
        out,
        "hint: what you changed is yours to keep; to have the generation's version back, move yours away and run `hearth activate {}` (which also puts back what is missing)",
        escape_path(generation)
    );
    out
}

/// The hunks of a unified diff (3 lines of context), each line escaped and
/// styled by its sign.
fn hunks(out: &mut String, p: &Paint, want: &str, have: &str) {
    use similar::ChangeTag;
    let diff = similar::TextDiff::from_lines(want, have);
    let unified = diff.unified_diff();
    for hunk in unified.iter_hunks() {
        line(out, p.hunk, &hunk.header().to_string());
        for change in hunk.iter_changes() {
            let (sign, style) = match change.tag() {
                ChangeTag::Delete => ('-', p.del),
                ChangeTag::Insert => ('+', p.add),
                ChangeTag::Equal => (' ', Style::new()),
            };
            let value = change.value();
            let text = value.strip_suffix('\n').unwrap_or(value);
            line(out, style, &format!("{sign}{}", escape(text)));
            if change.missing_newline() {
                out.push_str("\\ No newline at end of file\n");
            }
        }
    }
}
