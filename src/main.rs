//! The `hearth` command line. Thin: parses arguments, calls `activation`,
//! renders the outcome and maps errors to the documented exit statuses.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use hearth::build::{buildenv, generation};
use hearth::exit::ExitCode;
use hearth::home::activate::{Context, Error, Expire, Request};
use hearth::home::state;
use hearth::{home, root};
use hearth::{manifest, report};

/// Declarative per-user environments: applies a generation to a home, safely.
#[derive(Parser)]
#[command(name = "hearth", version, about, long_about, after_help = ExitCode::help_text())]
struct Cli {
    /// Seconds to wait for another hearth run on the same home.
    #[arg(long, global = true, default_value_t = 60, value_name = "SECS")]
    lock_timeout: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply a generation to $HOME: check everything, then change atomically.
    Activate {
        /// The generation: a directory holding manifest.json.
        generation: PathBuf,
        /// Show what would change and change nothing (same as `hearth plan`).
        #[arg(long)]
        dry_run: bool,
        /// Print the plan or summary as JSON.
        #[arg(long)]
        json: bool,
        /// Move what is in the way aside to PATH.EXT (then .EXT.1, ...)
        /// instead of stopping; overrides the manifest's backupExtension.
        #[arg(long, value_name = "EXT")]
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
    },
    /// As root: activate several users' generations, each as that user.
    ///
    /// Users are processed one after another and independently: a failure or
    /// a timeout is reported and the next user goes on. Every output line is
    /// prefixed with `[NAME] `, its control characters escaped; a summary
    /// names each user and what happened. Each user's process gets an
    /// environment built from nothing (HOME, USER, LOGNAME, SHELL, PATH, the
    /// locale and Nix's store variables, and --setenv). Exit status 0 when
    /// every user succeeded, 1 otherwise.
    ActivateUsers {
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
    },
    /// Internal: run by root mode for one user; drops to NAME, then activates.
    #[command(name = "activate-as-user", hide = true)]
    ActivateAsUser {
        name: String,
        generation: PathBuf,
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
        #[arg(long, value_name = "EXT")]
        backup_ext: Option<String>,
    },
    /// Show what `activate` would do, without changing anything.
    Plan {
        generation: PathBuf,
        #[arg(long)]
        json: bool,
        #[arg(long, value_name = "EXT")]
        backup_ext: Option<String>,
    },
    /// Check whether the home still matches the current generation.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// List the generations applied to this home.
    Generations {
        #[arg(long)]
        json: bool,
    },
    /// Re-apply an earlier generation (the previous one by default).
    Rollback {
        /// The generation number to go back to (see `hearth generations`).
        #[arg(long, value_name = "N")]
        to: Option<u64>,
        #[arg(long, value_name = "EXT")]
        backup_ext: Option<String>,
    },
    /// Forget generations and release their GC roots (never the current one).
    RemoveGenerations {
        #[arg(required = true, value_name = "N")]
        numbers: Vec<u64>,
    },
    /// Remove generations by age or count (never the current one).
    #[command(group(clap::ArgGroup::new("rule").required(true).args(["older_than", "keep_last"])))]
    ExpireGenerations {
        /// Remove generations first activated longer ago than this (30d, 12h, 2w).
        #[arg(long, value_name = "DURATION")]
        older_than: Option<String>,
        /// Keep only the newest N generations.
        #[arg(long, value_name = "N")]
        keep_last: Option<usize>,
    },
    /// Validate a generation's manifest (used when building it).
    Check { generation: PathBuf },
    /// Build a packages environment (nixpkgs' buildEnv) into OUT (used by Nix).
    BuildEnv {
        /// JSON: packages, priorities, extra outputs (docs/generation-spec.md).
        spec: PathBuf,
        /// The directory to create.
        out: PathBuf,
    },
    /// Build a generation directory from a spec into OUT (used by Nix).
    BuildGeneration {
        /// JSON written by the Nix modules (docs/generation-spec.md).
        spec: PathBuf,
        /// The directory to create.
        out: PathBuf,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
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
    match run(cli) {
        Ok(code) => code.into(),
        Err(e) => {
            let text = e.to_string();
            if text.starts_with("error:") {
                report::err(&format!("{text}\n"));
            } else {
                report::err(&format!("error: {text}\n"));
            }
            e.exit_code().into()
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, Error> {
    let timeout = Duration::from_secs(cli.lock_timeout);
    match cli.command {
        Command::BuildEnv { .. } | Command::BuildGeneration { .. } => Err(Error::InvalidArg(
            "build commands are handled in main".into(),
        )),
        Command::Check { generation } => {
            let g = manifest::Generation::load(&generation)?;
            println!(
                "{}: valid manifest for user {} ({} file{}, {} activation step{})",
                generation.display(),
                g.manifest.user,
                g.files.len(),
                if g.files.len() == 1 { "" } else { "s" },
                g.manifest.activation.len(),
                if g.manifest.activation.len() == 1 {
                    ""
                } else {
                    "s"
                }
            );
            Ok(ExitCode::Success)
        }
        Command::Activate {
            generation,
            dry_run,
            json,
            backup_ext,
            user: Some(name),
            timeout: limit,
            setenv,
        } => {
            let (limit, setenv) = match root_limits(limit.as_deref(), &setenv) {
                Ok(parsed) => parsed,
                Err(e) => return Ok(refuse(&e)),
            };
            let opts = root::Options {
                lock_timeout: timeout,
                dry_run,
                json,
                backup_ext,
                timeout: limit,
                setenv,
            };
            activate_as(&name, &generation, opts)
        }
        Command::ActivateUsers {
            pairs,
            timeout: limit,
            setenv,
        } => {
            let (limit, setenv) = match root_limits(Some(&limit), &setenv) {
                Ok(parsed) => parsed,
                Err(e) => return Ok(refuse(&e)),
            };
            let opts = root::Options {
                lock_timeout: timeout,
                dry_run: false,
                json: false,
                backup_ext: None,
                timeout: limit,
                setenv,
            };
            activate_users(&pairs, &opts)
        }
        Command::ActivateAsUser {
            name,
            generation,
            dry_run,
            json,
            backup_ext,
        } => {
            // Checked here too, not only by the parent: root may run this
            // command directly, and what it applies must come from the store.
            let generation = match root::check_generation(&name, &generation) {
                Ok(real) => real,
                Err(e) => return Ok(refuse(&e)),
            };
            // Before anything else: from here on this process is the user.
            let acct = match root::become_user(&name) {
                Ok(acct) => acct,
                Err(e) => return Ok(refuse(&e)),
            };
            let ctx = Context {
                home: acct.home,
                user: acct.name,
                lock_timeout: timeout,
            };
            activate_in(
                &ctx,
                Request {
                    generation,
                    dry_run,
                    json,
                    backup_ext,
                    as_number: None,
                },
            )
        }
        Command::Activate {
            generation,
            dry_run,
            json,
            backup_ext,
            user: None,
            ..
        } => activate(
            timeout,
            Request {
                generation,
                dry_run,
                json,
                backup_ext,
                as_number: None,
            },
        ),
        Command::Plan {
            generation,
            json,
            backup_ext,
        } => activate(
            timeout,
            Request {
                generation,
                dry_run: true,
                json,
                backup_ext,
                as_number: None,
            },
        ),
        Command::Rollback { to, backup_ext } => {
            let ctx = Context::from_env(timeout)?;
            let target = home::activate::rollback_target(&ctx, to)?;
            activate(
                timeout,
                Request {
                    generation: target.path,
                    dry_run: false,
                    json: false,
                    backup_ext,
                    as_number: Some(target.number),
                },
            )
        }
        Command::Status { json } => status(timeout, json),
        Command::Generations { json } => generations(timeout, json),
        Command::RemoveGenerations { numbers } => {
            let ctx = Context::from_env(timeout)?;
            let removed = home::activate::remove_generations(&ctx, &numbers)?;
            println!("removed generations {}", join(&removed));
            Ok(ExitCode::Success)
        }
        Command::ExpireGenerations {
            older_than,
            keep_last,
        } => {
            let ctx = Context::from_env(timeout)?;
            let rule = match (older_than, keep_last) {
                (Some(d), _) => Expire::OlderThan(
                    state::parse_duration(&d)
                        .map_err(|e| Error::InvalidArg(format!("--older-than: {e}")))?,
                ),
                (None, Some(n)) => Expire::KeepLast(n),
                (None, None) => {
                    return Err(Error::InvalidArg("give --older-than or --keep-last".into()))
                }
            };
            let removed = home::activate::expire_generations(&ctx, rule)?;
            if removed.is_empty() {
                println!("no generation to remove");
            } else {
                println!("removed generations {}", join(&removed));
            }
            Ok(ExitCode::Success)
        }
    }
}

fn join(ns: &[u64]) -> String {
    ns.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
}

/// Prints a root-mode refusal and gives its exit status. Escaped: it may
/// name what a user chose (a home, a manifest's user).
fn refuse(e: &root::Error) -> ExitCode {
    eprint!("{}", root::escape_lines(&format!("error: {e}")));
    e.exit_code()
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
fn activate_as(name: &str, gen: &std::path::Path, opts: root::Options) -> Result<ExitCode, Error> {
    let me = match root::whoami() {
        Ok(me) => me,
        Err(e) => return Ok(refuse(&e)),
    };
    if name == me {
        return activate(
            opts.lock_timeout,
            Request {
                generation: gen.to_path_buf(),
                dry_run: opts.dry_run,
                json: opts.json,
                backup_ext: opts.backup_ext,
                as_number: None,
            },
        );
    }
    if !root::is_root() {
        return Ok(refuse(&root::Error::NotRoot {
            name: name.to_string(),
            me,
        }));
    }
    Ok(root::activate_user(name, gen, &opts).code)
}

/// `activate-users NAME=GEN...`: each user in turn, whatever the others did.
fn activate_users(pairs: &[String], opts: &root::Options) -> Result<ExitCode, Error> {
    let mut jobs: Vec<(String, PathBuf)> = Vec::new();
    for arg in pairs {
        let (name, gen) = match root::parse_pair(arg) {
            Ok(pair) => pair,
            Err(e) => return Ok(refuse(&e)),
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
    eprint!("{}", root::summary(&outcomes, false));
    Ok(if outcomes.iter().all(|o| o.code.is_success()) {
        ExitCode::Success
    } else {
        ExitCode::Error
    })
}

fn activate(timeout: Duration, req: Request) -> Result<ExitCode, Error> {
    let ctx = Context::from_env(timeout)?;
    activate_in(&ctx, req)
}

fn activate_in(ctx: &Context, req: Request) -> Result<ExitCode, Error> {
    let json = req.json;
    let result = home::activate::activate(ctx, &req);
    let summary = match result {
        Ok(s) => s,
        Err(Error::Conflicts { gen, plan }) if json => {
            report::out(&format!("{}\n", report::plan_json(&gen, &plan)));
            return Err(Error::Conflicts { gen, plan });
        }
        Err(e) => return Err(e),
    };
    if json {
        report::out(&format!(
            "{}\n",
            report::plan_json(&req.generation, &summary.plan)
        ));
    } else if req.dry_run {
        report::out(&report::plan_text(&req.generation, &summary.plan));
    } else if let Some(n) = summary.number {
        let p = &summary.plan;
        if p.is_noop() {
            report::out(&format!(
                "generation {n} is active; the home already matched ({} unchanged)\n",
                p.unchanged
            ));
        } else {
            report::out(&format!("activated generation {n}\n"));
        }
    }
    Ok(ExitCode::Success)
}

fn status(timeout: Duration, json: bool) -> Result<ExitCode, Error> {
    let ctx = Context::from_env(timeout)?;
    let (cur, drift) = home::activate::status(&ctx)?;
    let Some(cur) = cur else {
        if json {
            println!("{{\"generation\": null, \"drift\": []}}");
        } else {
            println!("no generation has been activated in {}", ctx.home.display());
        }
        return Ok(ExitCode::Success);
    };
    if json {
        let items: Vec<_> = drift
            .iter()
            .map(|d| serde_json::json!({"path": d.path, "problem": d.problem, "found": d.found}))
            .collect();
        let v = serde_json::json!({
            "generation": cur.generation,
            "number": cur.number,
            "managed": cur.owned.entries.len(),
            "drift": items,
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else if drift.is_empty() {
        println!(
            "generation {} ({}): all {} managed paths match",
            cur.number,
            cur.generation.display(),
            cur.owned.entries.len()
        );
    } else {
        println!(
            "generation {} ({}): {} of {} managed paths differ",
            cur.number,
            cur.generation.display(),
            drift.len(),
            cur.owned.entries.len()
        );
        let width = drift.iter().map(|d| d.path.len()).max().unwrap_or(0);
        for d in &drift {
            println!("  {:<9} {:<width$}   now {}", d.problem, d.path, d.found);
        }
        println!(
            "hint: `hearth activate {}` repairs missing paths; changed ones are yours to resolve",
            cur.generation.display()
        );
    }
    Ok(if drift.is_empty() {
        ExitCode::Success
    } else {
        ExitCode::Drift
    })
}

fn generations(timeout: Duration, json: bool) -> Result<ExitCode, Error> {
    let ctx = Context::from_env(timeout)?;
    let data = home::activate::read_data(&ctx)?;
    let current = data.current_number();
    let mut hist = data.history.clone();
    hist.sort_by_key(|g| g.number);
    if json {
        let items: Vec<_> = hist
            .iter()
            .map(|g| {
                serde_json::json!({"number": g.number, "time": g.time, "path": g.path, "current": Some(g.number) == current})
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&items).unwrap_or_default()
        );
        return Ok(ExitCode::Success);
    }
    if hist.is_empty() {
        println!("no generations yet");
    }
    for g in hist {
        println!(
            "{:>4}   {}   {}{}",
            g.number,
            state::format_time(g.time),
            g.path.display(),
            if Some(g.number) == current {
                "   (current)"
            } else {
                ""
            }
        );
    }
    Ok(ExitCode::Success)
}
