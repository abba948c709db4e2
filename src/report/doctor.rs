//! `hearth doctor` for people: one line per check, `ok`, `warn` or `fail`
//! (coloured on a terminal), and under a problem what to do about it.

use std::fmt::Write;

use anstyle::{AnsiColor, Style};

use crate::doctor::{Check, Level};

pub fn text(checks: &[Check], colour: bool) -> String {
    let mut out = String::new();
    let width = checks.iter().map(|c| c.topic.len()).max().unwrap_or(0);
    for c in checks {
        let (word, style) = match c.level {
            Level::Ok => ("ok", AnsiColor::Green.on_default()),
            Level::Warn => ("warn", AnsiColor::Yellow.on_default()),
            Level::Fail => ("fail", AnsiColor::Red.on_default().bold()),
        };
        let style = if colour { style } else { Style::new() };
        let _ = writeln!(
            out,
            "{style}{word:<4}{style:#}  {:<width$}  {}",
            c.topic, c.found
        );
        if let Some(hint) = &c.hint {
            let _ = writeln!(out, "      {:<width$}  hint: {hint}", "");
        }
    }
    let failed = checks.iter().filter(|c| c.level == Level::Fail).count();
    let warned = checks.iter().filter(|c| c.level == Level::Warn).count();
    let _ = match (failed, warned) {
        (0, 0) => writeln!(out, "all {} checks passed", checks.len()),
        (0, w) => writeln!(out, "no check failed; {w} warning{}", plural(w)),
        (f, w) => writeln!(
            out,
            "{f} check{} failed, {w} warning{}",
            plural(f),
            plural(w)
        ),
    };
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
