//! Documentation generated from the command line's own definition: shell
//! completions (`clap_complete`) and the man pages (`clap_mangen`), printed by
//! the hidden `hearth completions SHELL` and `hearth man` and installed by
//! nix/package.nix; and the check that every option has a help text.
//! Takes the `clap::Command` from main.rs; decides and prints nothing.

use clap::Command;

/// The completion script for `shell`, without the hidden commands.
pub fn completions(cmd: &Command, shell: clap_complete::Shell) -> String {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut visible(cmd), "hearth", &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// `cmd` without its hidden subcommands: they are internal (run by root
/// mode or by Nix), and `clap_complete` would complete them (and list them
/// under `help`), as clap has no way to remove a subcommand once added.
fn visible(cmd: &Command) -> Command {
    let mut out = Command::new("hearth")
        .version(env!("CARGO_PKG_VERSION"))
        .args(
            cmd.get_arguments()
                .filter(|a| a.get_id() != "help" && a.get_id() != "version")
                .cloned(),
        )
        .subcommands(cmd.get_subcommands().filter(|c| !c.is_hide_set()).cloned());
    if let Some(about) = cmd.get_about() {
        out = out.about(about.clone());
    }
    if let Some(about) = cmd.get_long_about() {
        out = out.long_about(about.clone());
    }
    if let Some(after) = cmd.get_after_help() {
        out = out.after_help(after.clone());
    }
    out
}

/// The man pages, in roff, as (file name, page): hearth.1, and one page
/// per visible subcommand as git has them (hearth-activate.1, ...), each
/// named in hearth.1's list of commands. `clap_mangen` renders one command
/// per page.
pub fn man_pages(cmd: &Command) -> Vec<(String, String)> {
    let mut cmd = visible(cmd).disable_help_subcommand(true);
    cmd.build();
    let mut pages = Vec::new();
    let mut todo = vec![cmd];
    while let Some(cmd) = todo.pop() {
        todo.extend(cmd.get_subcommands().filter(|c| !c.is_hide_set()).cloned());
        let man = clap_mangen::Man::new(cmd);
        let mut buf = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = man.render(&mut buf);
        pages.push((
            man.get_filename(),
            String::from_utf8_lossy(&buf).into_owned(),
        ));
    }
    pages.sort();
    pages
}

/// Every argument (of every command, hidden ones too) whose help is empty,
/// as `command --option`.
pub fn without_help(cmd: &Command) -> Vec<String> {
    // Built, so that the arguments a subcommand adds only when used are there.
    let mut cmd = cmd.clone();
    cmd.build();
    let mut missing = Vec::new();
    walk(&cmd, cmd.get_name(), &mut missing);
    missing
}

fn walk(cmd: &Command, path: &str, missing: &mut Vec<String>) {
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        // clap's own --help and --version have theirs.
        if id == "help" || id == "version" {
            continue;
        }
        let empty = arg
            .get_help()
            .is_none_or(|h| h.to_string().trim().is_empty());
        if empty {
            missing.push(format!("{path} {id}"));
        }
    }
    for sub in cmd.get_subcommands() {
        if sub
            .get_about()
            .is_none_or(|h| h.to_string().trim().is_empty())
        {
            missing.push(format!("{path} {} (the command)", sub.get_name()));
        }
        walk(sub, &format!("{path} {}", sub.get_name()), missing);
    }
}
