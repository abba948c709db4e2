//! The `hearth` command line. Thin: parses arguments, calls `home::activate`
//! (or `root`, `build`), hands what happened to `report::Output`, and maps
//! the outcome to an `exit::ExitCode`. Prints nothing itself: every byte
//! goes through `report`, which ends output quietly at a closed pipe.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};

use hearth::build::{buildenv, generation};
use hearth::exit::ExitCode;
use hearth::home::activate::{Context, Error, Expire, Request};
use hearth::home::state;
use hearth::{home, root, standalone, system};
use hearth::{manifest, report};

/// Declarative per-user environments: applies a generation to a home, safely.
#[derive(Parser)]
#[command(name = "hearth", version, about, long_about, after_help = ExitCode::help_text())]
struct Cli {
    /// Seconds to wait for another hearth run on the same home.
    #[arg(long, global = true, default_value_t = 60, value_name = "SECS")]
    lock_timeout: u64,
    /// Print errors and warnings only (a `--json` document still prints).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Show every path of a large plan (by default, more than 40 lines are
    /// summarized: the first of each kind and how many more).
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

/// A subcommand's arguments, added to clap's definition only once clap
/// needs them: when that subcommand is the one given, or for its help, the
/// completions and the man pages. Derived, clap builds every option of every
/// subcommand on each run: about half of the 0.5 ms that parsing the
/// command line took in a no-op of 1,000 files (6 ms).
struct Lazy<T>(T);

impl<T: clap::Args> clap::Args for Lazy<T> {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        cmd.defer(T::augment_args)
    }
    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        cmd.defer(T::augment_args_for_update)
    }
    fn group_id() -> Option<clap::Id> {
        T::group_id()
    }
}

impl<T: clap::FromArgMatches> clap::FromArgMatches for Lazy<T> {
    fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches(m).map(Lazy)
    }
    fn from_arg_matches_mut(m: &mut clap::ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches_mut(m).map(Lazy)
    }
    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(m)
    }
    fn update_from_arg_matches_mut(&mut self, m: &mut clap::ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches_mut(m)
    }
}

// Which home to build, and what Nix is given (`switch`, `build`). A plain
// comment: a doc comment would be the help of each command that flattens
// it, since `Lazy` adds the group after the command's own help.
#[derive(clap::Args)]
struct HomeArgs {
    /// The home configuration (a module; default:
    /// ~/.config/hearth/home.nix), built with `<nixpkgs>` (`NIX_PATH`, -I).
    #[arg(
        short = 'f',
        long = "file",
        value_name = "FILE",
        conflicts_with = "flake"
    )]
    file: Option<PathBuf>,
    /// A flake's home: hearthConfigurations.NAME, or homeConfigurations.NAME
    /// when it is a hearth home (NAME defaults to your user name, REF to .).
    #[arg(long, value_name = "REF#NAME")]
    flake: Option<String>,
    /// Give Nix this setting (repeatable), as `nix-build --option`.
    #[arg(long, num_args = 2, value_names = ["NAME", "VALUE"])]
    option: Vec<String>,
    /// Add to Nix's search path (repeatable), as `nix-build -I`, for
    /// example -I nixpkgs=/path/to/nixpkgs.
    #[arg(short = 'I', value_name = "PATH")]
    include: Vec<String>,
    /// Have Nix show where an evaluation error came from.
    #[arg(long)]
    show_trace: bool,
    /// Evaluate the home.nix as a Home Manager configuration, with Home
    /// Manager's modules from this checkout (a directory, or <home-manager>
    /// from Nix's search path). A flake gives it to
    /// hearth.lib.homeConfiguration instead (homeManager = ...).
    #[arg(long, value_name = "PATH", conflicts_with = "flake")]
    home_manager: Option<String>,
}

impl HomeArgs {
    fn flags(&self) -> standalone::eval::NixFlags {
        standalone::eval::NixFlags {
            options: self
                .option
                .chunks(2)
                .map(|p| (p[0].clone(), p.get(1).cloned().unwrap_or_default()))
                .collect(),
            include: self.include.clone(),
            show_trace: self.show_trace,
            home_manager: self.home_manager.clone(),
        }
    }
}

// How long the generation's programs may run (`activate`, `rollback`); a
// plain comment, as `HomeArgs`'s.
#[derive(clap::Args)]
struct StepArgs {
    /// Kill a step or hook (and every process it started) that runs longer
    /// than this, and count it as failed: seconds, or 90s, 5m, 1h [default:
    /// no limit].
    #[arg(long, value_name = "DURATION", value_parser = parse_step_timeout)]
    step_timeout: Option<Duration>,
}

/// `--step-timeout`: the grammar of root mode's `--timeout`.
fn parse_step_timeout(raw: &str) -> Result<Duration, String> {
    root::parse_timeout(raw).map_err(|_| {
        "give whole seconds (30) or a number with a unit: 90s, 5m, 1h (at least 1 second)".into()
    })
}

#[derive(Subcommand)]
enum Command {
    /// Build the home (home.nix or a flake's home) with Nix and activate it.
    ///
    /// Nix's own output shows as it builds; its evaluation errors are shown
    /// as Nix prints them. The activation is `hearth activate`'s: plan,
    /// status, generations and rollback work on what it applied.
    Switch(Lazy<SwitchArgs>),
    /// Build the home with Nix and print its generation; activate nothing.
    Build(Lazy<BuildArgs>),
    /// Write a starting home.nix and offer to make login shells read hearth's profile.
    ///
    /// The home.nix (default ~/.config/hearth/home.nix) is written only
    /// where there is none. With --yes, or when you answer y, one line is
    /// appended to the login profile of bash (`~/.bash_profile`,
    /// `~/.bash_login` or `~/.profile`, the first that exists), zsh
    /// (~/.zprofile) and fish (~/.config/fish/conf.d/hearth.fish), for the
    /// shells installed: it sources the profile's etc/profile.d/hearth.sh,
    /// which puts the home's packages on `PATH`, `MANPATH`, `XDG_DATA_DIRS`
    /// and sets the session variables. Nothing of yours is overwritten.
    Init(Lazy<InitArgs>),
    /// Apply a generation to $HOME: check everything, then change atomically.
    Activate(Lazy<ActivateArgs>),
    /// As root: activate several users' generations, each as that user.
    ///
    /// Users are processed one after another and independently: a failure or
    /// a timeout is reported and the next user goes on. Every output line is
    /// prefixed with `[NAME] `, its control characters escaped; a summary
    /// names each user and what happened. Each user's process gets an
    /// environment built from nothing (HOME, USER, LOGNAME, SHELL, PATH, the
    /// locale and Nix's store variables, and --setenv). Exit status 0 when
    /// every user succeeded, 1 otherwise.
    ActivateUsers(Lazy<ActivateUsersArgs>),
    /// Internal: run by root mode for one user; drops to NAME, then activates.
    #[command(name = "activate-as-user", hide = true)]
    ActivateAsUser(Lazy<ActivateAsUserArgs>),
    /// Show what `activate` would do, without changing anything.
    ///
    /// With --system PATH: every home of a built NixOS or nix-darwin system
    /// (PATH is its toplevel, such as ./result of `nixos-rebuild build`, or
    /// its etc/hearth/homes.json), each user's plan computed as that user,
    /// as root mode runs it (needs root unless every home is the caller's).
    /// Exit status 0 when every plan was computed, conflicts or not.
    Plan(Lazy<PlanArgs>),
    /// Check whether the home still matches the current generation.
    Status {
        /// Print one JSON document (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// List the packages of the current generation's packages environment.
    ///
    /// One line per package output: name and version (as Nix's
    /// parseDrvName splits the store path's name), the output when it is
    /// not `out`, sorted by name. On NixOS and nix-darwin the environment
    /// is the one the system installs (users.users.<name>.packages), and
    /// the list says so.
    Packages {
        /// Print one JSON document (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// List the generations applied to this home.
    Generations {
        /// Print one JSON document (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Re-apply an earlier generation (the previous one by default).
    Rollback(Lazy<RollbackArgs>),
    /// Forget generations and release their GC roots (never the current one).
    RemoveGenerations(Lazy<RemoveGenerationsArgs>),
    /// Remove generations by age, count or both (never the current one).
    ///
    /// Given both --older-than and --keep-last, a generation is kept when
    /// either keeps it: only those older than the age and beyond the newest
    /// N are removed.
    ExpireGenerations(Lazy<ExpireGenerationsArgs>),
    /// Show how the home differs from the current generation, as a unified diff.
    ///
    /// For each managed copy whose content or mode was changed, and each
    /// managed link replaced by a regular file: a unified diff from what the
    /// generation wants (---) to what is in the home (+++). Other drift
    /// (missing paths, a link pointing elsewhere, a directory in a file's
    /// place) is listed after the diffs. Coloured on a terminal (not with
    /// `NO_COLOR`). Exit status 0 when nothing differs, 6 when something does.
    Diff {
        /// Only these managed paths (or those below these directories):
        /// relative to the home, or absolute inside it.
        #[arg(value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Check the setup: Nix tools, state and journal, GC roots, packages on
    /// PATH, session variables.
    ///
    /// Each check is one line, `ok`, `warn` or `fail`, with what to do
    /// about a problem. Changes nothing and does not wait for the lock.
    /// Exit status 0 when no check failed (warnings included), 1 otherwise.
    Doctor,
    /// Validate a generation's manifest (used when building it).
    Check {
        /// The generation: a directory holding manifest.json.
        generation: PathBuf,
    },
    /// Print a shell completion script (bash, zsh, fish, ...) on stdout.
    #[command(hide = true)]
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print hearth's man page (roff) on stdout, or write every page.
    #[command(hide = true)]
    Man {
        /// Write hearth.1 and a page per command (hearth-activate.1, ...)
        /// into this directory instead.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
    /// Build a packages environment (nixpkgs' buildEnv) into OUT (used by Nix).
    #[command(hide = true)]
    BuildEnv {
        /// JSON: packages, priorities, extra outputs (docs/generation-spec.md).
        spec: PathBuf,
        /// The directory to create.
        out: PathBuf,
    },
    /// Build a generation directory from a spec into OUT (used by Nix).
    #[command(hide = true)]
    BuildGeneration {
        /// JSON written by the Nix modules (docs/generation-spec.md).
        spec: PathBuf,
        /// The directory to create.
        out: PathBuf,
    },
}

// `hearth switch`'s arguments (its help is on `Command::Switch`).
#[derive(clap::Args)]
struct SwitchArgs {
    #[command(flatten)]
    home: HomeArgs,
    /// Move what is in the way aside to PATH.EXT (then .EXT.1, ...)
    /// instead of stopping; overrides home.backupFileExtension.
    #[arg(short = 'b', long, value_name = "EXT")]
    backup_ext: Option<String>,
    /// Build, then show what the activation would do; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print one JSON document (docs/json.md), whatever the outcome.
    #[arg(long)]
    json: bool,
}

// `hearth build`'s arguments (its help is on `Command::Build`).
#[derive(clap::Args)]
struct BuildArgs {
    #[command(flatten)]
    home: HomeArgs,
    /// Where to link the generation from (as nix-build's `result`).
    #[arg(
        long,
        value_name = "PATH",
        default_value = "result",
        conflicts_with = "no_out_link"
    )]
    out_link: PathBuf,
    /// Make no link (the generation may then be garbage-collected).
    #[arg(long)]
    no_out_link: bool,
}

// `hearth init`'s arguments (its help is on `Command::Init`).
#[derive(clap::Args)]
struct InitArgs {
    /// Where to write home.nix.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Option<PathBuf>,
    /// Add the login shell line without asking.
    #[arg(short = 'y', long)]
    yes: bool,
    /// Do not add it, and do not ask.
    #[arg(long, conflicts_with = "yes")]
    no_shell: bool,
}

// `hearth activate`'s arguments (its help is on `Command::Activate`).
#[derive(clap::Args)]
struct ActivateArgs {
    /// The generation: a directory holding manifest.json.
    generation: PathBuf,
    /// Show what would change and change nothing (same as `hearth plan`).
    #[arg(long)]
    dry_run: bool,
    /// Print one JSON document (docs/json.md), whatever the outcome.
    #[arg(long)]
    json: bool,
    /// Move what is in the way aside to PATH.EXT (then .EXT.1, ...)
    /// instead of stopping; overrides the manifest's backupExtension.
    #[arg(short = 'b', long, value_name = "EXT")]
    backup_ext: Option<String>,
    /// As root: apply it to this user's home, in a process that has
    /// dropped to the user (the generation must be in the Nix store and
    /// be for this user). Without root, only one's own name is accepted.
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// With --user, as root: kill the user's activation (and every
    /// process it started) after this long: seconds, or 90s, 5m, 1h
    /// [default: 300].
    #[arg(long, value_name = "DURATION", requires = "user")]
    timeout: Option<String>,
    /// With --user, as root: also give the user's activation (and its
    /// steps and hooks) this variable; repeatable. Its environment is
    /// otherwise built from nothing (see README, Root mode).
    #[arg(long, value_name = "NAME=VALUE", requires = "user")]
    setenv: Vec<String>,
    #[command(flatten)]
    steps: StepArgs,
}

// `hearth activate-users`'s arguments (its help is on `Command::ActivateUsers`).
#[derive(clap::Args)]
struct ActivateUsersArgs {
    /// NAME=GENERATION pairs.
    #[arg(required = true, value_name = "NAME=GEN")]
    pairs: Vec<String>,
    /// Kill a user's activation (and every process it started) after
    /// this long, and go on with the next user: seconds, or 90s, 5m, 1h.
    #[arg(long, value_name = "DURATION", default_value = "300")]
    timeout: String,
    /// Also give each user's activation (and its steps and hooks) this
    /// variable; repeatable.
    #[arg(long, value_name = "NAME=VALUE")]
    setenv: Vec<String>,
    #[command(flatten)]
    steps: StepArgs,
}

// `hearth activate-as-user`'s arguments (its help is on `Command::ActivateAsUser`).
#[derive(clap::Args)]
struct ActivateAsUserArgs {
    /// The user to become.
    name: String,
    /// The generation, in the Nix store.
    generation: PathBuf,
    /// Plan only, as `activate --dry-run`.
    #[arg(long)]
    dry_run: bool,
    /// Print one JSON document (docs/json.md), whatever the outcome.
    #[arg(long)]
    json: bool,
    /// Move what is in the way aside to PATH.EXT, as `activate -b`.
    #[arg(short = 'b', long, value_name = "EXT")]
    backup_ext: Option<String>,
    #[command(flatten)]
    steps: StepArgs,
    /// Root mode relays this process's stderr to the systemd journal:
    /// prefix each line with its syslog priority.
    #[arg(long = "stderr-journal", hide = true)]
    stderr_journal: bool,
}

// `hearth plan`'s arguments (its help is on `Command::Plan`).
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["generation", "system"])))]
struct PlanArgs {
    /// The generation: a directory holding manifest.json.
    generation: Option<PathBuf>,
    /// A system toplevel, or its etc/hearth/homes.json.
    #[arg(long, value_name = "PATH", conflicts_with = "backup_ext")]
    system: Option<PathBuf>,
    /// Print one JSON document (docs/json.md), whatever the outcome.
    #[arg(long)]
    json: bool,
    /// Plan with what is in the way moved aside to PATH.EXT, as
    /// `activate -b EXT` would.
    #[arg(short = 'b', long, value_name = "EXT")]
    backup_ext: Option<String>,
}

// `hearth rollback`'s arguments (its help is on `Command::Rollback`).
#[derive(clap::Args)]
struct RollbackArgs {
    /// The generation number to go back to (see `hearth generations`).
    #[arg(long, value_name = "N")]
    to: Option<u64>,
    /// Move what is in the way aside to PATH.EXT (then .EXT.1, ...)
    /// instead of stopping, as `activate -b`.
    #[arg(short = 'b', long, value_name = "EXT")]
    backup_ext: Option<String>,
    /// Show what the rollback would change and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print one JSON document (docs/json.md), whatever the outcome.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    steps: StepArgs,
}

// `hearth remove-generations`'s arguments (its help is on `Command::RemoveGenerations`).
#[derive(clap::Args)]
struct RemoveGenerationsArgs {
    /// The generation numbers (see `hearth generations`).
    #[arg(required = true, value_name = "N")]
    numbers: Vec<u64>,
    /// Check the numbers and say what would be removed; remove nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print one JSON document (docs/json.md), whatever the outcome.
    #[arg(long)]
    json: bool,
}

// `hearth expire-generations`'s arguments (its help is on `Command::ExpireGenerations`).
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("rule").required(true).multiple(true).args(["older_than", "keep_last"])))]
struct ExpireGenerationsArgs {
    /// Remove generations first activated longer ago than this: 30d,
    /// 12h, 2w, 1w2d, "30 days", 1y (a bare number is in days).
    #[arg(long, value_name = "DURATION")]
    older_than: Option<String>,
    /// Keep the newest N generations.
    #[arg(long, value_name = "N")]
    keep_last: Option<usize>,
    /// Say what would be removed; remove nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print one JSON document (docs/json.md), whatever the outcome.
    #[arg(long)]
    json: bool,
}

impl Command {
    /// For a command that activates (or plans) one home: whether it is a
    /// dry run. Its failure ends with `report::last_line`.
    fn activation(&self) -> Option<bool> {
        match self {
            Command::Activate(Lazy(ActivateArgs { dry_run, .. }))
            | Command::ActivateAsUser(Lazy(ActivateAsUserArgs { dry_run, .. }))
            | Command::Rollback(Lazy(RollbackArgs { dry_run, .. }))
            | Command::Switch(Lazy(SwitchArgs { dry_run, .. })) => Some(*dry_run),
            Command::Plan(Lazy(PlanArgs { system: None, .. })) => Some(true),
            _ => None,
        }
    }

    /// The command's name in JSON documents, and whether `--json` was given.
    fn json(&self) -> (&'static str, bool) {
        match self {
            Command::Activate(Lazy(ActivateArgs { json, .. }))
            | Command::ActivateAsUser(Lazy(ActivateAsUserArgs { json, .. })) => ("activate", *json),
            Command::Plan(Lazy(PlanArgs { json, .. })) => ("plan", *json),
            Command::Status { json } => ("status", *json),
            Command::Generations { json } => ("generations", *json),
            Command::Packages { json } => ("packages", *json),
            Command::Rollback(Lazy(RollbackArgs { json, .. })) => ("rollback", *json),
            Command::RemoveGenerations(Lazy(RemoveGenerationsArgs { json, .. })) => {
                ("remove-generations", *json)
            }
            Command::ExpireGenerations(Lazy(ExpireGenerationsArgs { json, .. })) => {
                ("expire-generations", *json)
            }
            Command::ActivateUsers(_) => ("activate-users", false),
            Command::Switch(Lazy(SwitchArgs { json, .. })) => ("switch", *json),
            Command::Build(_) => ("build", false),
            Command::Init(_) => ("init", false),
            Command::Check { .. } => ("check", false),
            Command::Diff { .. } => ("diff", false),
            Command::Doctor => ("doctor", false),
            Command::Completions { .. } => ("completions", false),
            Command::Man { .. } => ("man", false),
            Command::BuildEnv { .. } => ("build-env", false),
            Command::BuildGeneration { .. } => ("build-generation", false),
        }
    }
}

fn main() -> std::process::ExitCode {
    hearth::sys::malloc::return_large_blocks();
    let cli = parse_args();
    // The build commands run in a Nix build, not on a home: their own errors.
    let built = match &cli.command {
        Command::BuildEnv { spec, out } => Some(
            buildenv::build(spec, out)
                .map(|_| ())
                .map_err(|e| (e.to_string(), e.exit_code())),
        ),
        Command::BuildGeneration { spec, out } => {
            Some(generation::build(spec, out).map_err(|e| (e.to_string(), e.exit_code())))
        }
        _ => None,
    };
    if let Some(result) = built {
        return match result {
            Ok(()) => ExitCode::Success.into(),
            Err((text, code)) => {
                report::err(&format!("error: {text}\n"));
                code.into()
            }
        };
    }
    let (name, json) = cli.command.json();
    let activation = cli.command.activation();
    let mut out = report::Output::new(name, json);
    out.set_verbosity(if cli.quiet {
        report::Verbosity::Quiet
    } else if cli.verbose {
        report::Verbosity::Verbose
    } else {
        report::Verbosity::Normal
    });
    let (outcome, code) = match run(cli, &mut out) {
        Ok(done) => done,
        Err(e) => {
            out.error(&e);
            // Last on stderr, after the full report: all a reader of only
            // the last lines sees (systemd's 10 in `nixos-rebuild switch`).
            if let Some(dry_run) = activation {
                // The process is the home's user by now (root mode's child
                // has dropped to it).
                let user =
                    root::whoami().unwrap_or_else(|_| format!("uid {}", nix::unistd::getuid()));
                if let Some(line) = report::last_line(&user, &e, dry_run) {
                    report::err_at(hearth::term::Priority::Error, &line);
                }
            }
            (report::error_outcome(&e), e.exit_code())
        }
    };
    out.finish(outcome, code);
    code.into()
}

/// The command line, parsed; on a mistake, clap's message and exit status
/// (2). clap suggests hidden subcommands for a typo too; hearth's are
/// internal (run by root mode or by Nix), so a suggestion of one is dropped.
fn parse_args() -> Cli {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    use clap::FromArgMatches;
    // `Cli::try_parse`, but the tree of every subcommand and option that
    // clap builds to parse is not freed one by one: the process goes on
    // to its work and ends (freeing it was 7% of a no-op of 1,000 files).
    let mut cmd = Cli::command();
    let parsed = cmd
        .try_get_matches_from_mut(std::env::args_os())
        .and_then(|mut matches| {
            let cli = Cli::from_arg_matches_mut(&mut matches).map_err(|e| e.format(&mut cmd));
            std::mem::forget(matches);
            cli
        });
    let e = match parsed {
        Ok(cli) => {
            std::mem::forget(cmd);
            return cli;
        }
        Err(e) => e,
    };
    let hidden = |name: &str| {
        cmd.get_subcommands()
            .any(|c| c.is_hide_set() && c.get_name() == name)
    };
    let suggests_hidden = matches!(
        e.get(ContextKind::SuggestedSubcommand),
        Some(ContextValue::Strings(names)) if names.iter().any(|n| hidden(n))
    );
    if e.kind() != ErrorKind::InvalidSubcommand || !suggests_hidden {
        e.exit();
    }
    let mut cleaned = clap::Error::new(ErrorKind::InvalidSubcommand).with_cmd(&cmd);
    for (kind, value) in e.context() {
        let value = match (kind, value) {
            (ContextKind::SuggestedSubcommand, ContextValue::Strings(names)) => {
                let shown: Vec<String> = names.iter().filter(|n| !hidden(n)).cloned().collect();
                if shown.is_empty() {
                    continue;
                }
                ContextValue::Strings(shown)
            }
            // clap writes an empty line for an empty list of tips when no
            // subcommand was suggested: left out, the message reads as for
            // a word that resembles nothing.
            (ContextKind::Suggested, ContextValue::StyledStrs(tips)) if tips.is_empty() => {
                continue;
            }
            _ => value.clone(),
        };
        cleaned.insert(kind, value);
    }
    cleaned.exit()
}

/// How a command ended: the JSON document's `outcome`, and the exit status.
type Done = (&'static str, ExitCode);

fn run(cli: Cli, out: &mut report::Output) -> Result<Done, Error> {
    let timeout = Duration::from_secs(cli.lock_timeout);
    match cli.command {
        Command::BuildEnv { .. } | Command::BuildGeneration { .. } => Err(Error::InvalidArg(
            "build commands are handled in main".into(),
        )),
        Command::Switch(Lazy(SwitchArgs {
            home,
            backup_ext,
            dry_run,
            json,
        })) => {
            let ctx = context(timeout, out)?;
            let built = match standalone_build(&home, &ctx, &standalone::eval::OutLink::Temporary) {
                Ok(built) => built,
                Err(e) => return Ok(out.refuse_standalone(&e)),
            };
            // `built` keeps the generation's out-link until the activation
            // has made its own GC root.
            activate_in(
                &ctx,
                &Request {
                    generation: built.path.clone(),
                    dry_run,
                    json,
                    backup_ext,
                    as_number: None,
                },
                out,
            )
        }
        Command::Build(Lazy(BuildArgs {
            home,
            out_link,
            no_out_link,
        })) => {
            let ctx = context(timeout, out)?;
            let link = if no_out_link {
                standalone::eval::OutLink::Nothing
            } else {
                standalone::eval::OutLink::At(out_link.clone())
            };
            match standalone_build(&home, &ctx, &link) {
                Ok(built) => {
                    out.text(&report::built_text(
                        &built.path,
                        (!no_out_link).then_some(out_link.as_path()),
                    ));
                    Ok(("built", ExitCode::Success))
                }
                Err(e) => Ok(out.refuse_standalone(&e)),
            }
        }
        Command::Init(Lazy(InitArgs {
            file,
            yes,
            no_shell,
        })) => {
            let ctx = context(timeout, out)?;
            Ok(match init(file.as_deref(), yes, no_shell, &ctx, out) {
                Ok(done) => done,
                Err(e) => out.refuse_standalone(&e),
            })
        }
        Command::Check { generation } => {
            let g = manifest::Generation::load(&generation)?;
            out.text(&report::check_text(&generation, &g));
            Ok(("valid", ExitCode::Success))
        }
        Command::Activate(Lazy(ActivateArgs {
            generation,
            dry_run,
            json,
            backup_ext,
            user: Some(name),
            timeout: limit,
            setenv,
            steps,
        })) => {
            let (limit, setenv) = match root_limits(limit.as_deref(), &setenv) {
                Ok(parsed) => parsed,
                Err(e) => return Ok(out.refuse(&e)),
            };
            let opts = root::Options {
                lock_timeout: timeout,
                dry_run,
                json,
                backup_ext,
                timeout: limit,
                setenv,
                step_timeout: steps.step_timeout,
                verbosity: out.verbosity(),
            };
            activate_as(&name, &generation, opts, out)
        }
        Command::ActivateUsers(Lazy(ActivateUsersArgs {
            pairs,
            timeout: limit,
            setenv,
            steps,
        })) => {
            let (limit, setenv) = match root_limits(Some(&limit), &setenv) {
                Ok(parsed) => parsed,
                Err(e) => return Ok(out.refuse(&e)),
            };
            let opts = root::Options {
                lock_timeout: timeout,
                dry_run: false,
                json: false,
                backup_ext: None,
                timeout: limit,
                setenv,
                step_timeout: steps.step_timeout,
                verbosity: out.verbosity(),
            };
            activate_users(&pairs, &opts, out)
        }
        Command::ActivateAsUser(Lazy(ActivateAsUserArgs {
            name,
            generation,
            dry_run,
            json,
            backup_ext,
            steps,
            stderr_journal,
        })) => {
            if stderr_journal {
                hearth::term::assume_stderr_journal();
            }
            // Checked here too, not only by the parent: root may run this
            // command directly, and what it applies must come from the store.
            let generation = match root::check_generation(&name, &generation) {
                Ok(real) => real,
                Err(e) => return Ok(out.refuse(&e)),
            };
            // Before anything else: from here on this process is the user.
            let acct = match root::become_user(&name) {
                Ok(acct) => acct,
                Err(e) => return Ok(out.refuse(&e)),
            };
            let ctx = Context {
                home: acct.home,
                user: acct.name,
                lock_timeout: timeout,
                step_timeout: steps.step_timeout,
            };
            activate_in(
                &ctx,
                &Request {
                    generation,
                    dry_run,
                    json,
                    backup_ext,
                    as_number: None,
                },
                out,
            )
        }
        Command::Activate(Lazy(ActivateArgs {
            generation,
            dry_run,
            json,
            backup_ext,
            user: None,
            steps,
            ..
        })) => activate(
            (timeout, steps.step_timeout),
            &Request {
                generation,
                dry_run,
                json,
                backup_ext,
                as_number: None,
            },
            out,
        ),
        Command::Plan(Lazy(PlanArgs {
            system: Some(system),
            json,
            ..
        })) => Ok(plan_system(&system, timeout, json, out)),
        Command::Plan(Lazy(PlanArgs {
            generation: None, ..
        })) => Err(Error::InvalidArg(
            "give a generation or --system PATH".into(),
        )),
        Command::Plan(Lazy(PlanArgs {
            generation: Some(generation),
            json,
            backup_ext,
            ..
        })) => activate(
            (timeout, None),
            &Request {
                generation,
                dry_run: true,
                json,
                backup_ext,
                as_number: None,
            },
            out,
        ),
        Command::Rollback(Lazy(RollbackArgs {
            to,
            backup_ext,
            dry_run,
            json,
            steps,
        })) => {
            let mut ctx = context(timeout, out)?;
            ctx.step_timeout = steps.step_timeout;
            let target = home::activate::rollback_target(&ctx, to, &mut |e| out.event(e))?;
            activate_in(
                &ctx,
                &Request {
                    generation: target.path,
                    dry_run,
                    json,
                    backup_ext,
                    as_number: Some(target.number),
                },
                out,
            )
        }
        Command::Status { .. } => status(timeout, out),
        Command::Generations { .. } => generations(timeout, out),
        Command::Packages { .. } => packages(timeout, out),
        Command::RemoveGenerations(Lazy(RemoveGenerationsArgs {
            numbers, dry_run, ..
        })) => {
            let ctx = context(timeout, out)?;
            let removed = home::activate::remove_generations(&ctx, &numbers, dry_run, &mut |e| {
                out.event(e);
            })?;
            Ok(removed_outcome(out, removed, dry_run))
        }
        Command::ExpireGenerations(Lazy(ExpireGenerationsArgs {
            older_than,
            keep_last,
            dry_run,
            ..
        })) => {
            let ctx = context(timeout, out)?;
            let older_than = older_than
                .map(|d| {
                    hearth::duration::parse(&d, hearth::duration::Bare::Days)
                        .map(|d| d.as_secs())
                        .map_err(|e| Error::InvalidArg(format!("--older-than: {e}")))
                })
                .transpose()?;
            let rule = Expire {
                older_than,
                keep_last,
            };
            let removed =
                home::activate::expire_generations(&ctx, rule, dry_run, &mut |e| out.event(e))?;
            Ok(removed_outcome(out, removed, dry_run))
        }
        Command::Diff { paths } => diff(timeout, &paths, out),
        Command::Doctor => Ok(doctor(out)),
        Command::Completions { shell } => {
            out.text(&hearth::cli_docs::completions(&Cli::command(), shell));
            Ok(("printed", ExitCode::Success))
        }
        Command::Man { out_dir } => Ok(man(out_dir.as_deref(), out)),
    }
}

/// The home and user from the environment; the home goes into the JSON
/// document once, as every path in it is relative to it.
fn context(timeout: Duration, out: &mut report::Output) -> Result<Context, Error> {
    let ctx = Context::from_env(timeout)?;
    if out.json() {
        out.set("home", ctx.home.to_string_lossy().into_owned());
    }
    Ok(ctx)
}

/// `switch` and `build`: the home located and built for this user.
fn standalone_build(
    home: &HomeArgs,
    ctx: &Context,
    link: &standalone::eval::OutLink,
) -> Result<standalone::eval::Built, standalone::Error> {
    let source = standalone::eval::locate(
        home.file.as_deref(),
        home.flake.as_deref(),
        &ctx.user,
        &ctx.home,
    )?;
    standalone::eval::build(&source, &home.flags(), &ctx.user, &ctx.home, link)
}

/// `init`: home.nix, then the login shells' line if the user agrees.
fn init(
    file: Option<&Path>,
    yes: bool,
    no_shell: bool,
    ctx: &Context,
    out: &report::Output,
) -> Result<Done, standalone::Error> {
    use standalone::init;
    let home_file = file.map_or_else(
        || standalone::default_home_file(&ctx.home),
        |f| std::path::absolute(f).unwrap_or_else(|_| f.to_path_buf()),
    );
    let mut done = vec![init::write_home(&home_file, &ctx.user, &ctx.home)?];
    let login = std::env::var("SHELL").ok();
    let shells = init::shells(login.as_deref());
    let agreed = !no_shell && (yes || init::ask(&report::init_question(&shells, &ctx.home))?);
    if agreed {
        for shell in shells {
            done.push(init::add_hook(shell, &ctx.home)?);
        }
    }
    out.text(&report::init_text(&done, &home_file, agreed));
    Ok(("initialized", ExitCode::Success))
}

/// `--timeout` (the default when not given) and the `--setenv` pairs.
fn root_limits(
    timeout: Option<&str>,
    setenv: &[String],
) -> Result<(Duration, Vec<(String, String)>), root::Error> {
    let limit = match timeout {
        Some(raw) => root::parse_timeout(raw)?,
        None => root::DEFAULT_TIMEOUT,
    };
    let pairs = setenv
        .iter()
        .map(|arg| root::parse_setenv(arg))
        .collect::<Result<_, _>>()?;
    Ok((limit, pairs))
}

/// `activate --user NAME`: one's own name is the ordinary activation; another
/// user's needs root, and runs in a child that has dropped to that user.
fn activate_as(
    name: &str,
    gen: &std::path::Path,
    opts: root::Options,
    out: &mut report::Output,
) -> Result<Done, Error> {
    let me = match root::whoami() {
        Ok(me) => me,
        Err(e) => return Ok(out.refuse(&e)),
    };
    if name == me {
        return activate(
            (opts.lock_timeout, opts.step_timeout),
            &Request {
                generation: gen.to_path_buf(),
                dry_run: opts.dry_run,
                json: opts.json,
                backup_ext: opts.backup_ext,
                as_number: None,
            },
            out,
        );
    }
    if !root::is_root() {
        return Ok(out.refuse(&root::Error::NotRoot {
            name: name.to_string(),
            me,
        }));
    }
    let outcome = root::activate_user(name, gen, &opts);
    Ok(out.user_outcome(&outcome, opts.dry_run))
}

/// `activate-users NAME=GEN...`: each user in turn, whatever the others did.
fn activate_users(
    pairs: &[String],
    opts: &root::Options,
    out: &mut report::Output,
) -> Result<Done, Error> {
    let mut jobs: Vec<(String, PathBuf)> = Vec::new();
    for arg in pairs {
        let (name, gen) = match root::parse_pair(arg) {
            Ok(pair) => pair,
            Err(e) => return Ok(out.refuse(&e)),
        };
        if jobs.iter().any(|(n, _)| *n == name) {
            return Err(Error::InvalidArg(format!(
                "user {name} is given twice\nhint: give each user one generation"
            )));
        }
        jobs.push((name, gen));
    }
    let outcomes: Vec<_> = jobs
        .iter()
        .map(|(name, gen)| root::activate_user(name, gen, opts))
        .collect();
    report::err_lines(
        &root::summary(&outcomes, false),
        &root::summary_priorities(&outcomes),
        out.verbosity() == report::Verbosity::Quiet,
    );
    Ok(if outcomes.iter().all(|o| o.code.is_success()) {
        ("activated", ExitCode::Success)
    } else {
        ("failed", ExitCode::Error)
    })
}

/// `plan --system PATH`: every home of a built system, in the file's
/// order, each planned as its user by root mode (privilege drop, an
/// environment built from nothing, the home's timeout); one user's failure
/// does not stop the others. Without root, only a system whose every home
/// is the caller's (root mode then runs it as the caller, in the same
/// clean environment).
fn plan_system(path: &Path, lock_timeout: Duration, json: bool, out: &mut report::Output) -> Done {
    let sys = match system::load(path) {
        Ok(sys) => sys,
        Err(e) => return out.refuse_system(&e),
    };
    if !root::is_root() {
        let me = match root::whoami() {
            Ok(me) => me,
            Err(e) => return out.refuse(&e),
        };
        if let Some(other) = sys.homes.iter().find(|h| h.user != me) {
            return out.refuse(&root::Error::NotRootSystem {
                file: sys.file.clone(),
                name: other.user.clone(),
                me,
            });
        }
    }
    let mut outcomes = Vec::with_capacity(sys.homes.len());
    for h in &sys.homes {
        out.text(&report::system_heading(h));
        let opts = root::Options {
            lock_timeout,
            dry_run: true,
            json,
            backup_ext: None,
            timeout: h.timeout,
            setenv: Vec::new(),
            step_timeout: None,
            verbosity: out.verbosity(),
        };
        outcomes.push(root::activate_user(&h.user, &h.generation, &opts));
    }
    report::err_lines(
        &report::system_summary(&sys.file, &outcomes),
        &report::system_summary_priorities(&outcomes),
        out.verbosity() == report::Verbosity::Quiet,
    );
    out.set("system", sys.file.to_string_lossy().into_owned());
    out.set("homes", report::system_homes_json(&sys.homes, &outcomes));
    if outcomes.iter().all(|o| report::system_outcome(o).1) {
        ("planned", ExitCode::Success)
    } else {
        ("failed", ExitCode::Error)
    }
}

/// `timeouts`: the lock's, and `--step-timeout`.
fn activate(
    timeouts: (Duration, Option<Duration>),
    req: &Request,
    out: &mut report::Output,
) -> Result<Done, Error> {
    let mut ctx = context(timeouts.0, out)?;
    ctx.step_timeout = timeouts.1;
    activate_in(&ctx, req, out)
}

fn activate_in(ctx: &Context, req: &Request, out: &mut report::Output) -> Result<Done, Error> {
    if out.json() {
        out.set("home", ctx.home.to_string_lossy().into_owned());
    }
    // What is recorded (and rooted) is the generation itself, not `./result`
    // or another link to it, which may move or be relative to where hearth
    // ran. A path that does not resolve stays as given, for the error.
    let req = &Request {
        generation: req
            .generation
            .canonicalize()
            .unwrap_or_else(|_| req.generation.clone()),
        dry_run: req.dry_run,
        json: req.json,
        backup_ext: req.backup_ext.clone(),
        as_number: req.as_number,
    };
    let summary = home::activate::activate(ctx, req, &mut |e| out.event(e))?;
    let p = &summary.plan;
    if out.json() {
        // Only with --json: at 10,000 files this is work a text run must not do.
        report::plan_fields(out.doc(), &req.generation, p);
        out.set("number", summary.number);
        // Set by the packages event when the environment changes.
        out.doc()
            .entry("packages")
            .or_insert(serde_json::Value::Null);
    }
    // The plan holds every path of the home; freeing it costs a few percent
    // of a no-op run, and the process ends right after.
    let Some(n) = summary.number.filter(|_| !req.dry_run) else {
        if req.dry_run {
            out.plan(&req.generation, p);
        }
        std::mem::forget(summary);
        return Ok(("planned", ExitCode::Success));
    };
    let done = if p.is_noop() && summary.packages.is_none() {
        out.text(&format!(
            "generation {n} is active; the home already matched ({} unchanged)\n",
            p.unchanged
        ));
        ("unchanged", ExitCode::Success)
    } else {
        out.text(&report::activated_text(n, p));
        ("activated", ExitCode::Success)
    };
    std::mem::forget(summary);
    Ok(done)
}

fn status(timeout: Duration, out: &mut report::Output) -> Result<Done, Error> {
    let ctx = context(timeout, out)?;
    let Some(status) = home::activate::status(&ctx, &mut |e| out.event(e))? else {
        out.text(&format!(
            "no generation has been activated in {}\n",
            report::escape_path(&ctx.home)
        ));
        if out.json() {
            out.set("generation", serde_json::Value::Null);
            out.set("number", serde_json::Value::Null);
            out.set("managed", 0);
            out.set("drift", report::drift_json(&[]));
        }
        return Ok(("no-generation", ExitCode::Success));
    };
    let pkgs = home::packages::status(&ctx.home, &status.record);
    if out.json() {
        out.set(
            "generation",
            status.generation.to_string_lossy().into_owned(),
        );
        out.set("number", status.number);
        out.set("managed", status.managed);
        out.set("drift", report::drift_json(&status.drift));
        out.set(
            "packages",
            pkgs.as_ref().map_or(serde_json::Value::Null, |(_, d)| {
                report::packages_diff_json(d)
            }),
        );
    } else {
        out.text(&report::status_text(&status));
        if let Some((profile, diff)) = &pkgs {
            out.text(&report::packages_status_text(profile, diff));
        }
    }
    Ok(if status.drift.is_empty() && pkgs.is_none() {
        ("clean", ExitCode::Success)
    } else {
        ("drift", ExitCode::Drift)
    })
}

fn generations(timeout: Duration, out: &mut report::Output) -> Result<Done, Error> {
    let ctx = context(timeout, out)?;
    let data = home::activate::read_without_waiting(&ctx, &mut |e| out.event(e))?;
    let current = data.current_number();
    let mut hist = data.history.clone();
    hist.sort_by_key(|g| g.number);
    if out.json() {
        out.set("current", current);
        out.set("generations", report::generations_json(&hist, current));
    } else {
        out.text(&report::generations_text(&hist, current));
    }
    Ok(("listed", ExitCode::Success))
}

fn packages(timeout: Duration, out: &mut report::Output) -> Result<Done, Error> {
    let ctx = context(timeout, out)?;
    let data = home::activate::read_without_waiting(&ctx, &mut |e| out.event(e))?;
    let (Some(cur), Some(record)) = (&data.current, data.current_record()) else {
        out.text(&format!(
            "no generation has been activated in {}\n",
            report::escape_path(&ctx.home)
        ));
        out.set("generation", serde_json::Value::Null);
        out.set("number", serde_json::Value::Null);
        out.set("environment", serde_json::Value::Null);
        out.set("installedBy", serde_json::Value::Null);
        out.set("packages", report::packages_list_json(&[]));
        return Ok(("no-generation", ExitCode::Success));
    };
    let env = home::packages::generation_packages(&record, &state::dir_for(&ctx.home));
    let list = match &env {
        Some(env) => home::packages::read_env(&env.path)?,
        None => Vec::new(),
    };
    out.set("generation", cur.generation.to_string_lossy().into_owned());
    out.set("number", cur.number);
    out.set(
        "environment",
        env.as_ref()
            .map(|e| serde_json::Value::String(e.path.to_string_lossy().into_owned())),
    );
    out.set(
        "installedBy",
        env.as_ref().map(|e| report::installer_json(e.by)),
    );
    out.set("packages", report::packages_list_json(&list));
    out.text(&report::packages_list_text(cur.number, env.as_ref(), &list));
    Ok(("listed", ExitCode::Success))
}

/// `remove-generations` and `expire-generations`: what was removed, or with
/// `--dry-run` what would be.
fn removed_outcome(out: &mut report::Output, removed: Vec<u64>, dry_run: bool) -> Done {
    if dry_run {
        out.text(&report::would_remove_text(&removed));
        out.set("dryRun", true);
        out.set("removed", removed);
        return ("planned", ExitCode::Success);
    }
    out.text(&report::removed_text(&removed));
    out.set("dryRun", false);
    out.set("removed", removed);
    ("removed", ExitCode::Success)
}

/// `diff [PATH...]`: the current generation against the home.
fn diff(timeout: Duration, paths: &[PathBuf], out: &mut report::Output) -> Result<Done, Error> {
    let ctx = context(timeout, out)?;
    let diffs = hearth::diff::compute(&ctx, paths, &mut |e| out.event(e))?;
    out.text(&report::diff::text(&diffs, report::diff::colour_stdout()));
    Ok(if diffs.differs() {
        ("drift", ExitCode::Drift)
    } else {
        ("clean", ExitCode::Success)
    })
}

/// `doctor`: every check, one line each.
fn doctor(out: &mut report::Output) -> Done {
    let checks = hearth::doctor::run();
    out.text(&report::doctor::text(
        &checks,
        report::diff::colour_stdout(),
    ));
    if checks
        .iter()
        .any(|c| c.level == hearth::doctor::Level::Fail)
    {
        ("failed", ExitCode::Error)
    } else {
        ("ok", ExitCode::Success)
    }
}

/// `man`: hearth.1 on stdout, or every page written into `dir`.
fn man(dir: Option<&Path>, out: &report::Output) -> Done {
    let pages = hearth::cli_docs::man_pages(&Cli::command());
    let Some(dir) = dir else {
        if let Some((_, page)) = pages.iter().find(|(name, _)| name == "hearth.1") {
            out.text(page);
        }
        return ("printed", ExitCode::Success);
    };
    for (name, page) in &pages {
        let path = dir.join(name);
        if let Err(e) = std::fs::write(&path, page) {
            report::err(&format!(
                "error: cannot write {}: {e}\nhint: give --out-dir an existing directory you may write to\n",
                report::escape_path(&path)
            ));
            return ("failed", ExitCode::Error);
        }
    }
    ("written", ExitCode::Success)
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every option and argument of every command, hidden ones included,
    /// says what it is for.
    #[test]
    fn no_option_has_an_empty_help() {
        let missing = hearth::cli_docs::without_help(&Cli::command());
        assert!(missing.is_empty(), "no help text: {missing:#?}");
    }

    /// Each command's help is its own, also where it adds its arguments
    /// only when used (`Lazy`) and they include a flattened group
    /// (`HomeArgs`, `StepArgs`), whose doc comment would replace it.
    #[test]
    fn each_command_keeps_its_own_help() {
        let mut cmd = Cli::command();
        cmd.build();
        let about = |name: &str| {
            let sub = cmd.find_subcommand(name).unwrap();
            (
                sub.get_about().map(ToString::to_string),
                sub.get_long_about().map(ToString::to_string),
            )
        };
        let abouts: Vec<_> = cmd.get_subcommands().map(|c| about(c.get_name())).collect();
        for (i, a) in abouts.iter().enumerate() {
            assert!(a.0.is_some(), "{i}: {abouts:#?}");
            assert!(!abouts[..i].contains(a), "{i}: {abouts:#?}");
        }
        assert_eq!(
            about("activate").0.as_deref(),
            Some("Apply a generation to $HOME: check everything, then change atomically")
        );
        let (_, long) = about("switch");
        assert!(long.is_some_and(|l| l.contains("Nix's own output shows")));
    }

    #[test]
    fn clap_accepts_the_definition() {
        Cli::command().debug_assert();
    }
}
