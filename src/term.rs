//! How hearth's text is dressed for where it goes: colour when the stream
//! is a terminal (anstream's choice: `NO_COLOR` turns it off,
//! `CLICOLOR_FORCE` on, a pipe or a file gets none), and syslog priority
//! prefixes (`<3>` errors, `<4>` warnings, `<6>` the rest) when stderr is
//! the systemd journal (`JOURNAL_STREAM` names stderr's device and inode),
//! so that journalctl shows errors as errors.
//! Never changes the words: it only adds escapes or prefixes to the lines
//! `report` wrote, by how they start (`error:`, `hint:`, a plan's verb).
//! Each stream is looked at once per process; a run whose output is not a
//! terminal (the benchmark's, a unit's) pays one look and nothing per line.

use std::borrow::Cow;
use std::sync::OnceLock;

use anstyle::{AnsiColor, Style};

/// How important a message on stderr is, for the journal.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Priority {
    Error,
    Warning,
    Info,
}

impl Priority {
    /// The syslog prefix systemd reads at the start of a line.
    fn prefix(self) -> &'static str {
        match self {
            Priority::Error => "<3>",
            Priority::Warning => "<4>",
            Priority::Info => "<6>",
        }
    }

    /// A line's priority prefix, as `for_journal` writes it, and the rest
    /// of the line (root mode reads its children's lines with this).
    pub fn strip(line: &str) -> Option<(Priority, &str)> {
        [Priority::Error, Priority::Warning, Priority::Info]
            .into_iter()
            .find_map(|p| line.strip_prefix(p.prefix()).map(|rest| (p, rest)))
    }

    /// A message's priority from its first line, as `report` words it.
    pub fn of(text: &str) -> Priority {
        let first = text.lines().next().unwrap_or("");
        if first.starts_with("error:") {
            Priority::Error
        } else if first.starts_with("hearth: warning:") || first.starts_with("warning:") {
            Priority::Warning
        } else {
            Priority::Info
        }
    }
}

/// Whether stdout gets colour.
pub fn stdout_colour() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| {
        anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never
    })
}

/// Whether stderr gets colour (never when it is the journal).
pub fn stderr_colour() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| {
        !stderr_is_journal()
            && anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never
    })
}

static STDERR_JOURNAL: OnceLock<bool> = OnceLock::new();

/// Makes `stderr_is_journal` true for this process, before anything is
/// written: root mode's child, whose stderr is a pipe that root mode
/// relays to the journal (`root::JOURNAL_FLAG`).
pub fn assume_stderr_journal() {
    let _ = STDERR_JOURNAL.set(true);
}

/// Whether stderr is the systemd journal: `JOURNAL_STREAM` is
/// `DEVICE:INODE` of the stream systemd connected, and it is stderr's
/// (a child whose stderr was redirected inherits the variable, not the
/// stream).
pub fn stderr_is_journal() -> bool {
    *STDERR_JOURNAL.get_or_init(|| {
        let Some(want) = std::env::var_os("JOURNAL_STREAM") else {
            return false;
        };
        let Ok(st) = nix::sys::stat::fstat(2) else {
            return false;
        };
        want.to_str() == Some(&format!("{}:{}", st.st_dev, st.st_ino))
    })
}

/// `text` for stderr as the journal reads it: every line prefixed with the
/// priority of the message (a message's continuation lines, its hint and
/// its list, belong to it).
pub fn for_journal(text: &str, priority: Priority) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for line in text.split_inclusive('\n') {
        out.push_str(priority.prefix());
        out.push_str(line);
    }
    out
}

const ERROR: Style = AnsiColor::Red.on_default().bold();
const WARNING: Style = AnsiColor::Yellow.on_default().bold();
const HINT: Style = AnsiColor::Cyan.on_default().bold();
const BOLD: Style = Style::new().bold();
const ADD: Style = AnsiColor::Green.on_default();
const CHANGE: Style = AnsiColor::Yellow.on_default();
const DROP: Style = AnsiColor::Red.on_default();
const KEEP: Style = AnsiColor::Magenta.on_default();

/// The style of a plan line's verb (`  create   ~/.a …`).
fn verb_style(verb: &str) -> Option<Style> {
    Some(match verb {
        "create" | "mkdir" | "adopt" | "add" => ADD,
        "replace" | "repair" | "backup" | "change" => CHANGE,
        "remove" | "rmdir" | "discard" => DROP,
        "keep" => KEEP,
        _ => return None,
    })
}

fn styled(out: &mut String, style: Style, text: &str) {
    use std::fmt::Write;
    let _ = write!(out, "{}{text}{}", style.render(), style.render_reset());
}

/// `text` with its known line starts coloured. A step's output (`[NAME] …`)
/// and anything else are left as they are; what came from a home was
/// escaped by `report`, so it holds no escape of its own.
pub fn paint(text: &str) -> Cow<'_, str> {
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        paint_line(&mut out, line);
    }
    Cow::Owned(out)
}

fn paint_line(out: &mut String, line: &str) {
    let labels: [(&str, &str, Style); 6] = [
        ("", "error:", ERROR),
        ("hearth: ", "warning:", WARNING),
        ("", "warning:", WARNING),
        ("", "hint:", HINT),
        ("hearth: ", "note:", BOLD),
        ("", "note:", BOLD),
    ];
    for (before, label, style) in labels {
        if let Some(rest) = line
            .strip_prefix(before)
            .and_then(|l| l.strip_prefix(label))
        {
            out.push_str(before);
            styled(out, style, label);
            out.push_str(rest);
            return;
        }
    }
    for (start, style) in [
        (
            "activated generation ",
            AnsiColor::Green.on_default().bold(),
        ),
        ("plan for ", BOLD),
        ("packages: ", BOLD),
    ] {
        if let Some(rest) = line.strip_prefix(start) {
            styled(out, style, start.trim_end());
            out.push(' ');
            out.push_str(rest);
            return;
        }
    }
    // A plan's (or a packages diff's) line: two spaces, the verb padded.
    if let Some(rest) = line.strip_prefix("  ") {
        let verb = rest.split(' ').next().unwrap_or("");
        if let Some(style) = verb_style(verb) {
            out.push_str("  ");
            styled(out, style, verb);
            out.push_str(&rest[verb.len()..]);
            return;
        }
    }
    out.push_str(line);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_by_the_first_line() {
        assert_eq!(Priority::of("error: x\nhint: y\n"), Priority::Error);
        assert_eq!(Priority::of("hearth: warning: w\n"), Priority::Warning);
        assert_eq!(Priority::of("hearth: note: n\n"), Priority::Info);
        assert_eq!(
            for_journal("error: x\nhint: y\n", Priority::Error),
            "<3>error: x\n<3>hint: y\n"
        );
        assert_eq!(
            Priority::strip("<4>hearth: warning: w"),
            Some((Priority::Warning, "hearth: warning: w"))
        );
        assert_eq!(Priority::strip("<0>x"), None);
        assert_eq!(Priority::strip("[a] <3>x"), None);
    }

    #[test]
    fn painting_adds_escapes_only_and_leaves_step_output_alone() {
        let text = "plan for G: 1 create\n  create   ~/.a -> /x\n[step] error: not ours\n";
        let painted = paint(text);
        assert!(painted.contains("\u{1b}["));
        assert!(painted.contains("[step] error: not ours\n"));
        // Without the escapes, the same words.
        let mut plain = String::new();
        let mut rest = painted.as_ref();
        while let Some(at) = rest.find('\u{1b}') {
            plain.push_str(&rest[..at]);
            let end = rest[at..].find('m').unwrap();
            rest = &rest[at + end + 1..];
        }
        plain.push_str(rest);
        assert_eq!(plain, text);
    }
}
