//! `cargo bench --bench activate`: how fast `hearth activate` is, next to the
//! least that any activator has to do (the *floor*). Takes a minute or two.
//!
//! Setup
//! - For N = 1,000 and 10,000 (and 100,000 with `--large`:
//!   `cargo bench --bench activate -- --large`, or `HEARTH_BENCH_LARGE=1`;
//!   minutes more, on a 6 GiB image) it lays out generation A the way a real home
//!   looks: a few top-level dotfiles, then apps under `.config/<app>/`,
//!   `.local/share/<app>/` and `.<app>.d/`, files 1–5 levels deep, 10–30 files
//!   a directory. Generation B is A with 10% of the files changed (a new
//!   source), 5% removed (mostly whole leaf directories, as when an app is
//!   dropped, so that emptied directories are removed too) and 5% added (half
//!   of them in new directories). The layout is seeded, so every run measures
//!   the same homes.
//! - One `nix-build` builds everything: one derivation writes all the source
//!   files with a shell loop, and each generation is a derivation holding only
//!   its manifest.json (passed as a file: a 10,000-entry manifest is larger
//!   than Linux allows for one environment variable). Unchanged, it is cached.
//! - The homes live on a journaled ext4 image (with the 1 GiB journal of a
//!   home's filesystem of 128 GiB or more), made afresh under
//!   target/bench-activate/ and loop-mounted, when the bench runs as root: the
//!   root filesystem of the machines this was written on is ext4 *without* a
//!   journal, where create/delete churn makes symlink creation 5–8× slower as
//!   a run goes on, so figures taken there drift and say little about a real
//!   home. Not root, or the mount fails: a plain directory, and the run says
//!   so. Either way the filesystem used is printed. The image is unmounted at
//!   the end, also on a panic (an interrupted run's mount is cleaned up by
//!   the next run).
//!
//! Cases, each the median of several repetitions
//! - fresh:  `hearth activate A` into an empty home (new home and state for
//!   every repetition);
//! - no-op:  `hearth activate A` on a home that already matches A;
//! - switch: `hearth activate B` on a home at A (reset by a fresh, untimed
//!   activation of A before every repetition);
//! - status: `hearth status` on a home at A (against the no-op floor: it
//!   looks at every path as a no-op does);
//! - plan no-op, plan switch: `hearth plan A` and `hearth plan B` on a home
//!   at A (against the floor of the case each plans).
//!
//! hearth is timed as a whole process, spawn to exit, with `HOME` pointing at
//! the throwaway home and `XDG_STATE_HOME` beside it. The binary is the one
//! cargo builds for this bench (`CARGO_BIN_EXE_hearth`, which cargo provides
//! to benches; the bench profile inherits release, so it is
//! target/release/hearth), copied to target/bench-activate/ first so that a
//! concurrent cargo build cannot swap it mid-run.
//!
//! The floor is the same change made by this process with only the
//! unavoidable syscalls, every path prepared before the clock starts:
//! - fresh:  mkdir of each directory (parents first), then per file symlink
//!   to a temporary name beside the target + rename over it (replacing
//!   atomically is required, so the rename is part of the floor);
//! - no-op:  lstat + readlink per file;
//! - switch: lstat (+ readlink when it is a link) of every target of A ∪ B,
//!   since a safe switch must look at each before changing anything; mkdir
//!   per new directory; symlink temp + rename per changed or added file;
//!   unlink per removed file; rmdir per directory left empty (deepest first).
//!
//! No process start, JSON, state, journal or fsync is in the floor, so the
//! ratio counts all of hearth's overhead.
//!
//! For information, not a target: "fresh, links only" sets the same fresh
//! runs of hearth against a floor that symlinks each file straight to its
//! place (no temporary name, no rename), as hearth does with a new link.
//! Where creating a link grows faster with the size of the home than
//! renaming one, the fresh floor's rename dilutes that growth, and this row
//! shows how hearth grows against the link creation it cannot avoid.
//!
//! For information, not a target: "no-op, unstamped". A no-op that finds
//! the home as the last one left it confirms each directory by its stamp
//! (src/home/stamps.rs: one `fstatat` per directory instead of a
//! `readlinkat` per link), and that is what the no-op row measures: its
//! first run reads every link and stamps the directories, and the rest
//! find them unchanged. This row is a no-op with the stamps removed before
//! each run, so that it reads every link, as the first no-op after any
//! change does; it is set against the same no-op floor.
//!
//! For information, not a target: "switch, checked floor" sets the same
//! switch runs of hearth against a floor that makes the checks the
//! switch floor leaves out and hearth must make (docs/security.md), with
//! one `readlink` per path to look instead of `lstat` + `readlink`: a
//! replaced link is swapped with its new one (`RENAME_EXCHANGE`), read
//! back and unlinked; a removed one renamed aside, read back and unlinked;
//! a new one made at its place. What is left of the ratio is hearth's
//! process start, its reading and planning, its journal, its record and
//! its GC root.
//!
//! The copies case (N = 200, "copies"): what the fsyncs of copies cost.
//! Generation A is 200 `"type": "copy"` entries (mode 0600) of a few hundred
//! bytes each, half in `.config/copied/`, half in `.local/share/copied/`.
//! Generation B gives 190 of them new content and mode 0644 (replaced), drops
//! the other 10 and adds 10 new ones beside them; no directory comes or goes.
//! hearth, timed as above, switches a home at A (activated fresh, untimed,
//! before every repetition) to B: it writes every copy under a temporary
//! name, forces them all to disk with one `syncfs`, then renames them into
//! place, and forces its journal to disk first, since it replaces and
//! removes copies. Two floors make the same
//! change on a home the floor itself set up at A, with the new contents
//! read from the store before the clock starts:
//! - copies:       per replaced or added copy, create a temporary file beside
//!   the target (open with `O_CREAT|O_EXCL` and the mode), write the content,
//!   close, rename over the target; per removed copy, unlink. No fsync, and
//!   no look at the old copies (hearth reads and hashes each one to prove it
//!   is still its own before replacing or removing it).
//! - copies+fsync: the same with an fsync of each file before its rename
//!   (what a copy that a power cut cannot leave empty costs when each is
//!   synced alone); the gap between the two floors is what those fsyncs
//!   cost, against which hearth's one sync is set.
//!
//! There is no target for copies in the issue: their ratios are for
//! information ("info" in the table) and cannot miss. Both homes are checked
//! after every run: every target a regular file with B's content and mode,
//! no other file left (a temporary, a stash), the same directories.
//!
//! Targets, in two columns: issue 8's (activate at 1,000 and 10,000 files:
//! fresh and switch ≤ 1.5× the floor, no-op ≤ 2×, peak RSS < 50 MB at
//! N = 10,000) and issue 14's (every size: no-op and status ≤ 1.2×, fresh and
//! switch ≤ 1.3×, plan ≤ 1.5× of the floor of the case it plans; peak RSS
//! < 16 MB at 10,000 and < 64 MB at 100,000; with --large, each case's
//! growth from 10,000 to 100,000 files at most 1.1 times the floor's). A miss is reported, not an
//! error. The bench fails only when something does not work: an activation
//! exits non-zero or leaves the home wrong (checked after each run of hearth
//! and of the floor: number of links, no stray files, number of directories,
//! and a sample of link targets), so it can never time a failing run.
//!
//! Peak RSS is measured by running hearth under GNU time (`/usr/bin/time -f
//! %M`) in one extra, untimed run per case: a process spawned straight from
//! this one inherits this process's high-water mark at exec, so its own
//! `wait4` `ru_maxrss` would report the bench's memory. GNU time's figure also
//! folds in the peak of any child hearth waits for (`nix-store --add-root`,
//! when it cannot link a GC root itself). Without GNU time, the wait4
//! figure is shown, which overstates.
//!
//! The state on disk: after the switch case, every regular file under the
//! home's state directory is counted with generations A and B recorded,
//! and again after A and B are activated as two more; half the difference
//! is what a generation costs. Issue 14: no journal left between runs, and at
//! 100,000 files under 8 MB plus under 2 MB a generation.
//!
//! What starting a process costs, which the floor leaves out and every run
//! of hearth pays: `/bin/true` and `hearth --version`, spawned as hearth is
//! (timed spawn to exit, output to files made before the clock starts),
//! 51 times each; the medians are printed, not set against any target.
//!
//! Output: a table on stdout and target/bench-activate.json.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{symlink, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::libc;
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;
use serde_json::{json, Value};

const SIZES: [usize; 2] = [1_000, 10_000];
/// With `--large` (or `HEARTH_BENCH_LARGE=1`): 100,000 files too. Minutes
/// more, and a larger image.
const LARGE: usize = 100_000;
/// The image's journal, in MiB: what mkfs.ext4 gives a filesystem of
/// 128 GiB or more, as a home's is. The 64 MiB it gives an image of a few
/// GiB fills in the middle of a switch of 100,000 files, whose every change
/// dirties the blocks of several inodes and directories: the switch then
/// waits for the journal to be written out, which a home's filesystem
/// would not make it do, and it grew 1.04 to 1.19 times as fast as its
/// floor from one run of the benchmark to the next.
const JOURNAL_MIB: u64 = 1024;
/// Size of the loop-mounted image: its journal, and room for every home
/// with its links (a store path is too long for an inline symlink, so each
/// takes a block). mkfs.ext4 refuses a journal of half the filesystem or
/// more, so the room is more than the journal even where the homes would
/// fit in less.
const IMAGE_BYTES: u64 = (JOURNAL_MIB << 20) + (2 << 30);
/// With 100,000 files: three homes of 100,000 links (hearth's, the floor's,
/// and B's new ones) at a block each.
const LARGE_IMAGE_BYTES: u64 = (JOURNAL_MIB << 20) + (6 << 30);

/// Whether this run includes the 100,000-file cases.
fn large() -> bool {
    std::env::args().any(|a| a == "--large")
        || std::env::var_os("HEARTH_BENCH_LARGE").is_some_and(|v| v == "1")
}
const SOURCES_PLACEHOLDER: &str = "@SRC@";
/// The copies case (see the header): how many copies A has, how many of
/// them B drops and how many it adds, and their modes.
const COPIES: usize = 200;
const COPIES_REMOVED: usize = 10;
const COPIES_ADDED: usize = 10;
const COPY_MODE_A: u32 = 0o600;
const COPY_MODE_B: u32 = 0o644;
const COPY_SOURCES_PLACEHOLDER: &str = "@CSRC@";

fn main() {
    if let Err(e) = run() {
        eprintln!("bench activate: {e}");
        std::process::exit(1);
    }
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn run() -> Result<()> {
    let built = PathBuf::from(env!("CARGO_BIN_EXE_hearth"));
    // CARGO_BIN_EXE_hearth is <target>/release/hearth.
    let target = built
        .parent()
        .and_then(Path::parent)
        .ok_or("cannot find the target directory")?
        .to_path_buf();
    let work = target.join("bench-activate");
    fs::create_dir_all(&work)?;
    // Run a copy: other cargo commands (tests, other features) may rebuild
    // target/release/hearth while the bench runs.
    let bin = {
        let copy = work.join("hearth");
        fs::copy(&built, &copy)?;
        copy
    };
    let user = nix::unistd::User::from_uid(nix::unistd::getuid())?
        .ok_or("the running user has no name")?
        .name;

    let scratch = Scratch::new(&work)?;
    println!("filesystem: {}", scratch.description);
    println!(
        "hearth:     {} (a copy of {})",
        bin.display(),
        built.display()
    );

    let sizes: Vec<usize> = SIZES
        .iter()
        .copied()
        .chain(large().then_some(LARGE))
        .collect();
    let scenarios: Vec<Scenario> = sizes
        .iter()
        .map(|&n| Scenario::new(n, &scratch.root))
        .collect();
    let copies = CopyScenario::new(&scratch.root);
    let started = Instant::now();
    let generations = build(&work, &user, &scenarios, &copies)?;
    println!(
        "built the generations with one nix-build in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let mut rows = Vec::new();
    let mut disks = Vec::new();
    for (s, gens) in scenarios.iter().zip(&generations.generations) {
        let bench = Bench {
            bin: &bin,
            s,
            gen_a: &gens.0,
            gen_b: &gens.1,
            sources: &generations.sources,
            logs: &work,
        };
        let (measured, disk) = bench.measure()?;
        rows.extend(measured);
        disks.push(disk);
    }
    let bench = CopyBench {
        bin: &bin,
        c: &copies,
        gen_a: &generations.copies.0,
        gen_b: &generations.copies.1,
        contents: &read_contents(&generations.copy_sources, copies.sources)?,
        logs: &work,
    };
    rows.extend(bench.measure()?);
    let start = process_start(&bin, &work)?;
    let filesystem = scratch.description.clone();
    drop(scratch);

    report(
        &rows,
        &disks,
        &start,
        &filesystem,
        &generations,
        &bin,
        &target,
    )
}

// ---------------------------------------------------------------------------
// Layouts

/// A generation's files: target (relative to the home) → number of its source
/// file in the sources derivation.
type Files = BTreeMap<String, usize>;

/// splitmix64: deterministic, so that every run measures the same homes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    #[expect(
        clippy::cast_possible_truncation,
        reason = "the remainder is below n, itself a usize"
    )]
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn between(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

/// Puts 10–30 files into `dir`, then 0–2 subdirectories filled the same way
/// (files at most 5 levels deep), stopping once `files` holds `limit`.
fn fill(rng: &mut Rng, files: &mut Files, limit: usize, next_src: &mut usize, dir: &str) {
    for j in 0..rng.between(10, 30) {
        if files.len() >= limit {
            return;
        }
        files.insert(format!("{dir}/f{j}.conf"), *next_src);
        *next_src += 1;
    }
    if dir.split('/').count() < 4 {
        for s in 0..rng.below(3) {
            fill(rng, files, limit, next_src, &format!("{dir}/d{s}"));
        }
    }
}

/// Every directory that holds a target, at any depth.
fn dirs_of(files: &Files) -> BTreeSet<String> {
    let mut dirs = BTreeSet::new();
    for t in files.keys() {
        let mut p = t.as_str();
        while let Some(i) = p.rfind('/') {
            p = &p[..i];
            // Its ancestors went in with it.
            if !dirs.insert(p.to_string()) {
                break;
            }
        }
    }
    dirs
}

/// Parents before children (or, reversed, children before parents).
fn by_depth(dirs: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = dirs.into_iter().collect();
    v.sort_by_key(|d| (d.matches('/').count(), d.clone()));
    v
}

struct Scenario {
    n: usize,
    a: Files,
    b: Files,
    /// How many source files A and B use together (0..sources).
    sources: usize,
    home: PathBuf,
    state: PathBuf,
    floor: PathBuf,
}

impl Scenario {
    fn new(n: usize, root: &Path) -> Scenario {
        let mut rng = Rng(n as u64);
        let mut next = 0;
        let a = generation_a(&mut rng, n, &mut next);
        let b = generation_b(&mut rng, &a, &mut next);
        let base = root.join(format!("n{n}"));
        Scenario {
            n,
            a,
            b,
            sources: next,
            home: base.join("home"),
            state: base.join("state"),
            floor: base.join("floor"),
        }
    }
}

fn generation_a(rng: &mut Rng, n: usize, next: &mut usize) -> Files {
    let mut files = Files::new();
    for j in 0..n.min(12) {
        files.insert(format!(".dotfile{j}"), *next);
        *next += 1;
    }
    let mut app = 0;
    while files.len() < n {
        let dir = match rng.below(4) {
            0 | 1 => format!(".config/app{app}"),
            2 => format!(".local/share/app{app}"),
            _ => format!(".app{app}.d"),
        };
        fill(rng, &mut files, n, next, &dir);
        app += 1;
    }
    files
}

/// A with 10% changed, 5% removed and 5% added.
#[expect(
    clippy::many_single_char_names,
    reason = "a and b are the generations A and B the bench is about"
)]
fn generation_b(rng: &mut Rng, a: &Files, next: &mut usize) -> Files {
    let n = a.len();
    let (changed, removed, added) = (n / 10, n / 20, n / 20);
    let mut b = a.clone();

    // Up to half of the removals are whole leaf directories (an app dropped).
    let all_dirs = dirs_of(a);
    let mut in_dir: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
    for t in a.keys() {
        if let Some(i) = t.rfind('/') {
            in_dir.entry(&t[..i]).or_default().push(t);
        }
    }
    let mut leaves: Vec<&str> = in_dir
        .keys()
        .copied()
        .filter(|d| {
            let prefix = format!("{d}/");
            !all_dirs.iter().any(|o| o.starts_with(&prefix))
        })
        .collect();
    rng.shuffle(&mut leaves);
    let mut gone = 0;
    for d in leaves {
        if gone >= removed / 2 {
            break;
        }
        let files = &in_dir[d];
        if gone + files.len() <= removed {
            for t in files {
                b.remove(*t);
            }
            gone += files.len();
        }
    }
    // The rest of the removals, then the changes, from one shuffle: disjoint.
    let mut rest: Vec<String> = b.keys().cloned().collect();
    rng.shuffle(&mut rest);
    let mut rest = rest.into_iter();
    for t in rest.by_ref().take(removed - gone) {
        b.remove(&t);
    }
    for t in rest.take(changed) {
        b.insert(t, *next);
        *next += 1;
    }

    // Half of the additions in new directories (a new app) ...
    let limit = b.len() + added / 2;
    let mut app = 0;
    while b.len() < limit {
        fill(rng, &mut b, limit, next, &format!(".config/new{app}"));
        app += 1;
    }
    // ... and half as new files in directories that already exist.
    let existing: Vec<String> = dirs_of(&b).into_iter().collect();
    let mut j = 0;
    while b.len() < n - removed + added {
        let d = &existing[rng.below(existing.len())];
        b.insert(format!("{d}/added{j}.conf"), *next);
        *next += 1;
        j += 1;
    }
    b
}

/// The copies case: copies under two directories; B replaces every copy it
/// keeps with new content, drops a few and adds a few (see the header).
struct CopyScenario {
    a: Files,
    b: Files,
    /// How many copy sources A and B use together (0..sources).
    sources: usize,
    home: PathBuf,
    state: PathBuf,
    floor: PathBuf,
}

impl CopyScenario {
    fn new(root: &Path) -> CopyScenario {
        let dir = |j: usize| {
            if j % 2 == 0 {
                ".config/copied"
            } else {
                ".local/share/copied"
            }
        };
        let a: Files = (0..COPIES)
            .map(|j| (format!("{}/c{j}.conf", dir(j)), j))
            .collect();
        let mut next = COPIES;
        let mut b = Files::new();
        // Every (COPIES / COPIES_REMOVED)th copy is dropped, from both
        // directories; the rest get new content.
        for (j, t) in a.keys().enumerate() {
            if j % (COPIES / COPIES_REMOVED) != 0 {
                b.insert(t.clone(), next);
                next += 1;
            }
        }
        for j in 0..COPIES_ADDED {
            b.insert(format!("{}/new{j}.conf", dir(j)), next);
            next += 1;
        }
        let base = root.join("copies");
        CopyScenario {
            a,
            b,
            sources: next,
            home: base.join("home"),
            state: base.join("state"),
            floor: base.join("floor"),
        }
    }
}

// ---------------------------------------------------------------------------
// Building the generations

struct Built {
    sources: PathBuf,
    /// (A, B) per scenario, in order.
    generations: Vec<(PathBuf, PathBuf)>,
    /// The sources of the copies case, and its (A, B).
    copy_sources: PathBuf,
    copies: (PathBuf, PathBuf),
}

fn write_manifest(path: &Path, user: &str, home: &Path, files: &Files) -> io::Result<()> {
    let entries: Vec<Value> = files
        .iter()
        .map(|(target, src)| {
            json!({
                "target": target,
                "source": format!("{SOURCES_PLACEHOLDER}/{src}"),
                "type": "symlink",
                "mode": null,
                "force": false,
                "onChange": null,
            })
        })
        .collect();
    write_entries(path, user, home, &entries)
}

fn write_copy_manifest(
    path: &Path,
    user: &str,
    home: &Path,
    files: &Files,
    mode: u32,
) -> io::Result<()> {
    let entries: Vec<Value> = files
        .iter()
        .map(|(target, src)| {
            json!({
                "target": target,
                "source": format!("{COPY_SOURCES_PLACEHOLDER}/{src}"),
                "type": "copy",
                "mode": format!("{mode:04o}"),
                "force": false,
                "onChange": null,
            })
        })
        .collect();
    write_entries(path, user, home, &entries)
}

fn write_entries(path: &Path, user: &str, home: &Path, entries: &[Value]) -> io::Result<()> {
    let manifest = json!({
        "version": 1,
        "user": user,
        "home": home,
        "backupExtension": null,
        "files": entries,
        "packages": null,
        "activation": [],
    });
    let mut out = BufWriter::new(fs::File::create(path)?);
    serde_json::to_writer(&mut out, &manifest)?;
    out.flush()
}

/// Writes the manifests with a placeholder for the sources' store path, and
/// one Nix expression that builds the sources and every generation; Nix puts
/// the real path in (`replaceStrings` keeps the dependency).
fn build(work: &Path, user: &str, scenarios: &[Scenario], copies: &CopyScenario) -> Result<Built> {
    use std::fmt::Write as _;
    let dir = work.join("manifests");
    fs::create_dir_all(&dir)?;
    let pool = scenarios.iter().map(|s| s.sources).max().unwrap_or(0);
    let mut gens = String::new();
    for s in scenarios {
        for (tag, files) in [("a", &s.a), ("b", &s.b)] {
            let path = dir.join(format!("{}-{tag}.json", s.n));
            write_manifest(&path, user, &s.home, files)?;
            // A JSON string is a valid Nix string here: the path has no "${".
            let _ = writeln!(
                gens,
                "  (gen \"{}-{tag}\" {})",
                s.n,
                serde_json::to_string(&path.to_string_lossy())?
            );
        }
    }
    // The copies' generations, after all the others: the outputs printed
    // before them keep their places.
    let mut copy_gens = String::new();
    for (tag, files, mode) in [("a", &copies.a, COPY_MODE_A), ("b", &copies.b, COPY_MODE_B)] {
        let path = dir.join(format!("copies-{tag}.json"));
        write_copy_manifest(&path, user, &copies.home, files, mode)?;
        let _ = writeln!(
            copy_gens,
            "  (copyGen \"{tag}\" {})",
            serde_json::to_string(&path.to_string_lossy())?
        );
    }
    let expr = r#"let
  sources = builtins.derivation {
    name = "hearth-bench-sources";
    system = builtins.currentSystem;
    builder = "/bin/sh";
    PATH = "/bin:/usr/bin";
    args = [ "-c" "mkdir $out && i=0 && while [ $i -lt @POOL@ ]; do echo \"bench source $i\" > $out/$i; i=$((i+1)); done" ];
  };
  gen = name: template: builtins.derivation {
    name = "hearth-bench-gen-${name}";
    system = builtins.currentSystem;
    builder = "/bin/sh";
    PATH = "/bin:/usr/bin";
    manifest = builtins.replaceStrings [ "@SRC@" ] [ "${sources}" ] (builtins.readFile template);
    passAsFile = [ "manifest" ];
    args = [ "-c" "mkdir $out && cp \"$manifestPath\" $out/manifest.json" ];
  };
  # A few hundred bytes each, different in every file.
  copySources = builtins.derivation {
    name = "hearth-bench-copy-sources";
    system = builtins.currentSystem;
    builder = "/bin/sh";
    PATH = "/bin:/usr/bin";
    args = [ "-c" "mkdir $out && i=0 && while [ $i -lt @COPY_POOL@ ]; do printf 'copy source %d\\n%0300d\\n' $i $i > $out/$i; i=$((i+1)); done" ];
  };
  copyGen = name: template: builtins.derivation {
    name = "hearth-bench-gen-copies-${name}";
    system = builtins.currentSystem;
    builder = "/bin/sh";
    PATH = "/bin:/usr/bin";
    manifest = builtins.replaceStrings [ "@CSRC@" ] [ "${copySources}" ] (builtins.readFile template);
    passAsFile = [ "manifest" ];
    args = [ "-c" "mkdir $out && cp \"$manifestPath\" $out/manifest.json" ];
  };
in [
  sources
@GENS@  copySources
@COPY_GENS@]
"#
    .replace("@POOL@", &pool.to_string())
    .replace("@GENS@", &gens)
    .replace("@COPY_POOL@", &copies.sources.to_string())
    .replace("@COPY_GENS@", &copy_gens);
    let nix_file = work.join("generations.nix");
    fs::write(&nix_file, expr)?;

    let out = Command::new("nix-build")
        .arg(&nix_file)
        .args(["--no-out-link", "--option", "substituters", ""])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run nix-build: {e}"))?;
    if !out.status.success() {
        return Err(format!("nix-build failed ({})", out.status).into());
    }
    let paths: Vec<PathBuf> = String::from_utf8(out.stdout)?
        .lines()
        .map(PathBuf::from)
        .collect();
    if paths.len() != 1 + 2 * scenarios.len() + 3 {
        return Err(format!("nix-build printed {} paths: {paths:?}", paths.len()).into());
    }
    let generations = scenarios
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (a, b) = (paths[1 + 2 * i].clone(), paths[2 + 2 * i].clone());
            // nix-build prints a list's outputs in order; make sure of it.
            assert!(a.to_string_lossy().ends_with(&format!("-gen-{}-a", s.n)));
            assert!(b.to_string_lossy().ends_with(&format!("-gen-{}-b", s.n)));
            (a, b)
        })
        .collect();
    let copy = 1 + 2 * scenarios.len();
    let copies = (paths[copy + 1].clone(), paths[copy + 2].clone());
    assert!(paths[copy]
        .to_string_lossy()
        .ends_with("-hearth-bench-copy-sources"));
    assert!(copies.0.to_string_lossy().ends_with("-gen-copies-a"));
    assert!(copies.1.to_string_lossy().ends_with("-gen-copies-b"));
    Ok(Built {
        sources: paths[0].clone(),
        generations,
        copy_sources: paths[copy].clone(),
        copies,
    })
}

// ---------------------------------------------------------------------------
// Where the homes live

/// The directory the homes go in; unmounts the image (if any) when dropped,
/// which also happens when the bench panics.
struct Scratch {
    root: PathBuf,
    image: Option<(PathBuf, PathBuf)>,
    description: String,
}

impl Scratch {
    fn new(work: &Path) -> Result<Scratch> {
        let mnt = work.join("mnt");
        fs::create_dir_all(&mnt)?;
        let mnt = mnt.canonicalize()?;
        // A run that was killed may have left its image mounted.
        if mount_of(&mnt).is_some_and(|m| m.point == mnt) {
            unmount(&mnt);
        }
        let image = work.join("ext4.img");
        if nix::unistd::geteuid().is_root() {
            match make_image(&image, &mnt) {
                Ok(()) => {
                    let m = mount_of(&mnt).ok_or("the image is not mounted")?;
                    return Ok(Scratch {
                        root: mnt.clone(),
                        description: format!(
                            "{} ({} of {JOURNAL_MIB} MiB), a fresh image {} loop-mounted at {}",
                            m.fstype,
                            journal_text(&m),
                            image.display(),
                            mnt.display()
                        ),
                        image: Some((image, mnt)),
                    });
                }
                Err(e) => eprintln!("bench activate: cannot use a loop-mounted ext4 image: {e}"),
            }
        }
        let root = work.join("plain");
        if root.exists() {
            fs::remove_dir_all(&root)?;
        }
        fs::create_dir_all(&root)?;
        let root = root.canonicalize()?;
        let m = mount_of(&root);
        Ok(Scratch {
            description: format!(
                "a plain directory {} on {} (not root or no loop mount: figures depend on that filesystem)",
                root.display(),
                m.map_or_else(
                    || "an unknown filesystem".into(),
                    |m| format!("{} ({}) mounted at {}", m.fstype, journal_text(&m), m.point.display())
                )
            ),
            root,
            image: None,
        })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some((image, mnt)) = &self.image {
            unmount(mnt);
            let _ = fs::remove_file(image);
        }
    }
}

fn make_image(image: &Path, mnt: &Path) -> Result<()> {
    let _ = fs::remove_file(image);
    let bytes = if large() {
        LARGE_IMAGE_BYTES
    } else {
        IMAGE_BYTES
    };
    fs::File::create(image)?.set_len(bytes)?;
    // Inode tables and journal written now, not by a background thread
    // while the bench runs.
    let status = Command::new("mkfs.ext4")
        .args([
            "-q",
            "-F",
            "-j",
            "-J",
            &format!("size={JOURNAL_MIB}"),
            "-E",
            "lazy_itable_init=0,lazy_journal_init=0",
        ])
        .arg(image)
        .status()?;
    if !status.success() {
        return Err(format!("mkfs.ext4 failed ({status})").into());
    }
    let status = Command::new("mount")
        .args(["-o", "loop"])
        .arg(image)
        .arg(mnt)
        .status()?;
    if !status.success() {
        return Err(format!("mount -o loop failed ({status})").into());
    }
    Ok(())
}

fn unmount(mnt: &Path) {
    let ok = Command::new("umount")
        .arg(mnt)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!(
            "bench activate: umount {} failed; detaching it lazily",
            mnt.display()
        );
        let _ = Command::new("umount").arg("-l").arg(mnt).status();
    }
}

struct Mount {
    device: String,
    point: PathBuf,
    fstype: String,
}

/// The mount that holds `path` (the longest mount point above it).
fn mount_of(path: &Path) -> Option<Mount> {
    let table = fs::read_to_string("/proc/mounts").ok()?;
    table
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (device, point, fstype) = (f.next()?, f.next()?, f.next()?);
            Some(Mount {
                device: device.to_string(),
                point: PathBuf::from(point.replace("\\040", " ")),
                fstype: fstype.to_string(),
            })
        })
        .filter(|m| path.starts_with(&m.point))
        .max_by_key(|m| m.point.as_os_str().len())
}

/// Whether an ext4 mount has a journal: jbd2 lists each journal it runs as
/// `<device>-<inode>`.
fn journal_text(m: &Mount) -> &'static str {
    if m.fstype != "ext4" && m.fstype != "ext3" {
        return "journal unknown";
    }
    let dev = m.device.rsplit('/').next().unwrap_or_default();
    let journaled = fs::read_dir("/proc/fs/jbd2").is_ok_and(|d| {
        d.flatten().any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{dev}-"))
        })
    });
    if journaled {
        "with a journal"
    } else {
        "WITHOUT a journal"
    }
}

// ---------------------------------------------------------------------------
// Measuring

struct Row {
    n: usize,
    case: &'static str,
    hearth: Vec<Duration>,
    floor: Vec<Duration>,
    max_rss_kb: i64,
}

impl Row {
    /// The target ratio of issue 8 (activate at 1,000 and 10,000 files);
    /// none for the other cases, the copies (for information) and 100,000.
    fn limit(&self) -> Option<f64> {
        if self.n > 10_000 {
            return None;
        }
        match self.case {
            "no-op" => Some(2.0),
            "fresh" | "switch" => Some(1.5),
            _ => None,
        }
    }

    /// The target ratio of issue 14, at every size: no-op and status 1.2×,
    /// fresh and switch 1.3×, plan 1.5× of the floor of the case it plans.
    fn limit14(&self) -> Option<f64> {
        match self.case {
            "no-op" | "status" => Some(1.2),
            "fresh" | "switch" => Some(1.3),
            "plan no-op" | "plan switch" => Some(1.5),
            _ => None,
        }
    }
}

fn median(v: &[Duration]) -> f64 {
    let mut ms: Vec<f64> = v.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let m = ms.len() / 2;
    if ms.len() % 2 == 1 {
        ms[m]
    } else {
        (ms[m - 1] + ms[m]) / 2.0
    }
}

struct Bench<'a> {
    bin: &'a Path,
    s: &'a Scenario,
    gen_a: &'a Path,
    gen_b: &'a Path,
    sources: &'a Path,
    logs: &'a Path,
}

impl Bench<'_> {
    /// Enough runs for a steady median on a noisy machine: a run at 1,000
    /// files takes tens of milliseconds, so it can afford many. The growth
    /// from 10,000 to 100,000 files divides four medians: with three runs
    /// at 100,000 it moved by a tenth from one run of the benchmark to the
    /// next, and with seven at 10,000 and five at 100,000 the first
    /// activation's still moved from 0.92 to 1.19 over four runs in one
    /// session (single runs of it, hearth's and the floor's, spread by half).
    /// With 11 at 10,000 the floor of a switch there still spread from 132
    /// to 198 ms within one run, and its growth was 8.8 in one run and 10.7
    /// in the next; runs at 10,000 take a second or less, so there are 21,
    /// and at 100,000 two more (9), as many as keep a run with `--large`
    /// near ten minutes.
    fn reps(&self) -> usize {
        match self.s.n {
            0..=10_000 => 21,
            _ => 9,
        }
    }

    fn measure(&self) -> Result<(Vec<Row>, Disk)> {
        let s = self.s;
        let (dirs_a, dirs_b) = (dirs_of(&s.a), dirs_of(&s.b));
        let fresh_ops = FreshOps::new(&s.floor, &s.a, &dirs_a, self.sources);
        let noop_ops: Vec<PathBuf> = s.a.keys().map(|t| s.floor.join(t)).collect();
        let switch_ops = SwitchOps::new(&s.floor, s, &dirs_a, &dirs_b, self.sources);
        let row = |case| Row {
            n: s.n,
            case,
            hearth: Vec::new(),
            floor: Vec::new(),
            max_rss_kb: 0,
        };
        let (mut fresh, mut noop, mut switch) = (row("fresh"), row("no-op"), row("switch"));
        let mut checked = row("switch, checked floor");
        let mut links_only = row("fresh, links only");
        let record = |row: &mut Row, r: Activation| row.hearth.push(r.time);

        // Warm-up (page cache of the store and the binary), not counted.
        self.reset()?;
        self.activate(self.gen_a, &s.a, &dirs_a, false)?;

        for _ in 0..self.reps() {
            self.reset()?;
            record(&mut fresh, self.activate(self.gen_a, &s.a, &dirs_a, false)?);
            wipe(&s.floor)?;
            fresh
                .floor
                .push(self.floor(|| fresh_ops.run(), &s.a, &dirs_a)?);
            wipe(&s.floor)?;
            links_only
                .floor
                .push(self.floor(|| fresh_ops.run_links_only(), &s.a, &dirs_a)?);
        }
        links_only.hearth.clone_from(&fresh.hearth);
        self.reset()?;
        fresh.max_rss_kb = self.activate(self.gen_a, &s.a, &dirs_a, true)?.max_rss_kb;
        links_only.max_rss_kb = fresh.max_rss_kb;
        // Both homes are at A after the fresh runs. The first no-op reads
        // every link and stamps the directories; the others find them
        // unchanged, as in a home left alone. "no-op, unstamped" is a
        // no-op without the stamps (removed before it), which reads every
        // link: what the first no-op after a change costs.
        let mut unstamped = row("no-op, unstamped");
        let stamps = s.state.join("hearth/stamps.json");
        for _ in 0..self.reps() {
            nix::unistd::sync();
            record(&mut noop, self.activate(self.gen_a, &s.a, &dirs_a, false)?);
            noop.floor
                .push(self.floor(|| noop_floor(&noop_ops), &s.a, &dirs_a)?);
            fs::remove_file(&stamps)?;
            nix::unistd::sync();
            record(
                &mut unstamped,
                self.activate(self.gen_a, &s.a, &dirs_a, false)?,
            );
        }
        unstamped.floor.clone_from(&noop.floor);
        noop.max_rss_kb = self.activate(self.gen_a, &s.a, &dirs_a, true)?.max_rss_kb;
        fs::remove_file(&stamps)?;
        unstamped.max_rss_kb = self.activate(self.gen_a, &s.a, &dirs_a, true)?.max_rss_kb;
        // Read-only commands on the same home at A: status (set against the
        // no-op floor: it looks at every path as a no-op does) and plan of
        // A (nothing to do) and of B (the switch below, against its floor).
        let (mut status, mut plan_noop, mut plan_switch) =
            (row("status"), row("plan no-op"), row("plan switch"));
        let plan_a: [&std::ffi::OsStr; 2] = ["plan".as_ref(), self.gen_a.as_os_str()];
        let plan_b: [&std::ffi::OsStr; 2] = ["plan".as_ref(), self.gen_b.as_os_str()];
        for _ in 0..self.reps() {
            nix::unistd::sync();
            record(
                &mut status,
                self.run(&["status".as_ref()], &s.a, &dirs_a, false)?,
            );
            record(&mut plan_noop, self.run(&plan_a, &s.a, &dirs_a, false)?);
            record(&mut plan_switch, self.run(&plan_b, &s.a, &dirs_a, false)?);
            status
                .floor
                .push(self.floor(|| noop_floor(&noop_ops), &s.a, &dirs_a)?);
        }
        status.max_rss_kb = self
            .run(&["status".as_ref()], &s.a, &dirs_a, true)?
            .max_rss_kb;
        plan_noop.floor.clone_from(&status.floor);
        plan_noop.max_rss_kb = self.run(&plan_a, &s.a, &dirs_a, true)?.max_rss_kb;
        plan_switch.max_rss_kb = self.run(&plan_b, &s.a, &dirs_a, true)?.max_rss_kb;
        for _ in 0..self.reps() {
            self.reset()?;
            self.activate(self.gen_a, &s.a, &dirs_a, false)?;
            nix::unistd::sync();
            record(
                &mut switch,
                self.activate(self.gen_b, &s.b, &dirs_b, false)?,
            );
            wipe(&s.floor)?;
            fresh_ops.run()?;
            switch
                .floor
                .push(self.floor(|| switch_ops.run(), &s.b, &dirs_b)?);
            wipe(&s.floor)?;
            fresh_ops.run()?;
            checked
                .floor
                .push(self.floor(|| switch_ops.run_checked(), &s.b, &dirs_b)?);
        }
        checked.hearth.clone_from(&switch.hearth);
        self.reset()?;
        self.activate(self.gen_a, &s.a, &dirs_a, false)?;
        switch.max_rss_kb = self.activate(self.gen_b, &s.b, &dirs_b, true)?.max_rss_kb;
        checked.max_rss_kb = switch.max_rss_kb;
        plan_switch.floor.clone_from(&switch.floor);
        // The state on disk with generations A and B recorded (B current),
        // then with A and B again as two more: what a generation costs.
        let two = state_on_disk(&s.state)?;
        self.activate(self.gen_a, &s.a, &dirs_a, false)?;
        self.activate(self.gen_b, &s.b, &dirs_b, false)?;
        let four = state_on_disk(&s.state)?;
        let disk = Disk {
            n: s.n,
            bytes: two.0,
            per_generation: four.0.saturating_sub(two.0) / 2,
            journal_left: two.1 || four.1,
        };
        Ok((
            vec![
                fresh,
                links_only,
                noop,
                unstamped,
                switch,
                checked,
                status,
                plan_noop,
                plan_switch,
            ],
            disk,
        ))
    }

    /// An empty home and no state.
    fn reset(&self) -> Result<()> {
        wipe(&self.s.home)?;
        drop_gc_root_links(&self.s.state)?;
        wipe(&self.s.state)?;
        nix::unistd::sync();
        Ok(())
    }

    /// Runs `hearth activate gen`, checks it worked, returns its time and peak RSS.
    /// `rss`: run it under GNU time for its peak RSS (an untimed run: the
    /// wrapper's fork and exec would count in the time).
    fn activate(
        &self,
        gen: &Path,
        files: &Files,
        dirs: &BTreeSet<String>,
        rss: bool,
    ) -> Result<Activation> {
        self.run(&["activate".as_ref(), gen.as_os_str()], files, dirs, rss)
    }

    /// Runs `hearth ARGS` on the home, checks that it succeeded and that
    /// the home then holds `files` and `dirs`; its time and peak RSS.
    fn run(
        &self,
        args: &[&std::ffi::OsStr],
        files: &Files,
        dirs: &BTreeSet<String>,
        rss: bool,
    ) -> Result<Activation> {
        let s = self.s;
        let r = run_hearth(
            self.bin,
            self.logs,
            &s.home,
            &s.state,
            args,
            rss,
            &format!("N = {}", s.n),
        )?;
        verify(&s.home, files, dirs, self.sources).map_err(|e| {
            let shown: Vec<_> = args.iter().map(|a| a.to_string_lossy()).collect();
            format!("after hearth {}: {e}", shown.join(" "))
        })?;
        Ok(r)
    }

    /// Times `op` on the floor's home and checks that it left the same home
    /// as hearth does.
    fn floor(
        &self,
        op: impl Fn() -> io::Result<()>,
        files: &Files,
        dirs: &BTreeSet<String>,
    ) -> Result<Duration> {
        nix::unistd::sync();
        let start = Instant::now();
        op()?;
        let time = start.elapsed();
        verify(&self.s.floor, files, dirs, self.sources)
            .map_err(|e| format!("after the floor: {e}"))?;
        Ok(time)
    }
}

/// Runs `hearth activate gen` on `home`, timed spawn to exit; fails unless it
/// exits 0. `rss`: run it under GNU time for its peak RSS (an untimed run:
/// the wrapper's fork and exec would count in the time). `what` names the
/// case in an error.
fn run_hearth(
    bin: &Path,
    logs: &Path,
    home: &Path,
    state: &Path,
    args: &[&std::ffi::OsStr],
    rss: bool,
    what: &str,
) -> Result<Activation> {
    let out_path = logs.join("hearth.out");
    let err_path = logs.join("hearth.err");
    let rss_path = logs.join("hearth.rss");
    // The peak RSS comes from /usr/bin/time: a child spawned straight
    // from this process would inherit this process's (much larger)
    // high-water mark at exec, so wait4's ru_maxrss would report ours.
    let wrapper = time_bin().filter(|_| rss);
    let mut cmd = match wrapper {
        Some(time) => {
            let mut c = Command::new(time);
            c.args(["-f", "%M", "-o"]).arg(&rss_path).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    // Files, not pipes: nothing to drain while timing. Made (and the last
    // run's output truncated) before the clock starts: freeing that output's
    // blocks took 0.2 ms, a tenth of the floor of a no-op of 1,000 files.
    let (stdout, stderr) = (fs::File::create(&out_path)?, fs::File::create(&err_path)?);
    cmd.args(args)
        .env("HOME", home)
        .env("XDG_STATE_HOME", state)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    let start = Instant::now();
    let child = cmd.spawn()?;
    let (status, inherited_rss_kb) = wait_rusage(child.id())?;
    let time = start.elapsed();
    let max_rss_kb = match wrapper {
        Some(_) => fs::read_to_string(&rss_path)?
            .trim()
            .parse()
            .map_err(|e| format!("reading {}: {e}", rss_path.display()))?,
        None => inherited_rss_kb,
    };
    // wait_rusage waited for this child: only its exit code is in question.
    if !matches!(status, WaitStatus::Exited(_, 0)) {
        let shown: Vec<_> = args.iter().map(|a| a.to_string_lossy()).collect();
        return Err(format!(
            "hearth {} ({what}) ended with {status:?}\nstdout:\n{}\nstderr:\n{}",
            shown.join(" "),
            fs::read_to_string(&out_path).unwrap_or_default(),
            fs::read_to_string(&err_path).unwrap_or_default()
        )
        .into());
    }
    Ok(Activation { time, max_rss_kb })
}

/// The copies case (see the header): hearth against the two floors.
struct CopyBench<'a> {
    bin: &'a Path,
    c: &'a CopyScenario,
    gen_a: &'a Path,
    gen_b: &'a Path,
    /// Each copy source's content, by number.
    contents: &'a [Vec<u8>],
    logs: &'a Path,
}

impl CopyBench<'_> {
    /// A switch takes tens of milliseconds, much of it the sync.
    const REPS: usize = 15;

    /// Two rows with the same hearth runs: against the floor without fsync
    /// ("copies") and against the one with an fsync per copy ("copies+fsync").
    fn measure(&self) -> Result<Vec<Row>> {
        let c = self.c;
        // No directory comes or goes between A and B.
        let dirs = dirs_of(&c.a);
        assert_eq!(dirs, dirs_of(&c.b));
        let set_up = CopyOps::new(&c.floor, &Files::new(), &c.a, COPY_MODE_A, self.contents);
        let switch = CopyOps::new(&c.floor, &c.a, &c.b, COPY_MODE_B, self.contents);
        let (mut hearth, mut plain, mut synced) = (Vec::new(), Vec::new(), Vec::new());

        // Warm-up (page cache of the store and the binary), not counted.
        self.reset()?;
        self.activate(self.gen_a, &c.a, COPY_MODE_A, &dirs, false)?;

        for _ in 0..Self::REPS {
            self.reset()?;
            self.activate(self.gen_a, &c.a, COPY_MODE_A, &dirs, false)?;
            nix::unistd::sync();
            hearth.push(
                self.activate(self.gen_b, &c.b, COPY_MODE_B, &dirs, false)?
                    .time,
            );
            for (fsync, times) in [(false, &mut plain), (true, &mut synced)] {
                wipe(&c.floor)?;
                set_up.run(false)?;
                nix::unistd::sync();
                let start = Instant::now();
                switch.run(fsync)?;
                times.push(start.elapsed());
                verify_copies(&c.floor, &c.b, COPY_MODE_B, &dirs, self.contents)
                    .map_err(|e| format!("after the copies floor (fsync: {fsync}): {e}"))?;
            }
        }
        self.reset()?;
        self.activate(self.gen_a, &c.a, COPY_MODE_A, &dirs, false)?;
        let max_rss_kb = self
            .activate(self.gen_b, &c.b, COPY_MODE_B, &dirs, true)?
            .max_rss_kb;
        Ok(vec![
            Row {
                n: COPIES,
                case: "copies",
                hearth: hearth.clone(),
                floor: plain,
                max_rss_kb,
            },
            Row {
                n: COPIES,
                case: "copies+fsync",
                hearth,
                floor: synced,
                max_rss_kb,
            },
        ])
    }

    /// An empty home and no state.
    fn reset(&self) -> Result<()> {
        wipe(&self.c.home)?;
        drop_gc_root_links(&self.c.state)?;
        wipe(&self.c.state)?;
        nix::unistd::sync();
        Ok(())
    }

    /// Runs `hearth activate gen` and checks that the home holds `files`
    /// as copies of `mode`.
    fn activate(
        &self,
        gen: &Path,
        files: &Files,
        mode: u32,
        dirs: &BTreeSet<String>,
        rss: bool,
    ) -> Result<Activation> {
        let c = self.c;
        let args = ["activate".as_ref(), gen.as_os_str()];
        let r = run_hearth(self.bin, self.logs, &c.home, &c.state, &args, rss, "copies")?;
        verify_copies(&c.home, files, mode, dirs, self.contents)
            .map_err(|e| format!("after hearth activate {}: {e}", gen.display()))?;
        Ok(r)
    }
}

/// The content of copy sources 0..n, read before any clock starts.
fn read_contents(sources: &Path, n: usize) -> io::Result<Vec<Vec<u8>>> {
    (0..n)
        .map(|i| fs::read(sources.join(i.to_string())))
        .collect()
}

/// GNU time, when installed (Debian package `time`), for honest peak RSS.
fn time_bin() -> Option<&'static str> {
    Path::new("/usr/bin/time")
        .exists()
        .then_some("/usr/bin/time")
}

struct Activation {
    time: Duration,
    max_rss_kb: i64,
}

/// Waits for `pid` and returns its status with its peak RSS in KiB (wait4:
/// the child's own usage, unlike `RUSAGE_CHILDREN`, which would also count
/// nix-build).
#[allow(
    unsafe_code,
    reason = "no safe wrapper of wait4 returns the child's rusage; each block says why it is sound"
)]
fn wait_rusage(pid: u32) -> io::Result<(WaitStatus, i64)> {
    let pid =
        libc::pid_t::try_from(pid).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let mut status = 0;
    // SAFETY: rusage is plain old data, so all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are valid for writes for the whole call.
        let r = unsafe { libc::wait4(pid, &raw mut status, 0, &raw mut usage) };
        if r == pid {
            break;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    let status = WaitStatus::from_raw(Pid::from_raw(pid), status).map_err(io::Error::from)?;
    Ok((status, usage.ru_maxrss))
}

/// Bytes as MB, for printing.
#[expect(
    clippy::cast_precision_loss,
    reason = "a state directory is far below 2^52 bytes"
)]
fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// KiB as MiB, for printing.
#[expect(
    clippy::cast_precision_loss,
    reason = "a process's memory in KiB is far below 2^52"
)]
fn mib(kib: i64) -> f64 {
    kib as f64 / 1024.0
}

/// Removes the links hearth made in Nix's per-user roots directory to
/// the GC roots in `state`, as a home new to hearth has none: without
/// this, each run after the first would find its link there already.
fn drop_gc_root_links(state: &Path) -> Result<()> {
    let user = nix::unistd::User::from_uid(nix::unistd::getuid())?
        .ok_or("the running user has no name")?
        .name;
    let dir = Path::new("/nix/var/nix/gcroots/per-user").join(user);
    for entry in fs::read_dir(dir).into_iter().flatten() {
        let path = entry?.path();
        let ours = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("hearth-"));
        if ours && fs::read_link(&path).is_ok_and(|t| t.starts_with(state)) {
            fs::remove_file(&path)?;
        }
    }
    Ok(())
}

fn wipe(dir: &Path) -> io::Result<()> {
    match fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    fs::create_dir_all(dir)
}

/// Everything below `home`: how many entries are of the `wanted` type,
/// which others there are (neither that nor a directory), and how many
/// directories.
fn census(home: &Path, wanted: fn(&fs::FileType) -> bool) -> Result<(usize, Vec<PathBuf>, usize)> {
    let (mut count, mut others, mut ndirs) = (0, Vec::new(), 0);
    let mut stack = vec![home.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d)? {
            let e = e?;
            let ft = e.file_type()?;
            if ft.is_dir() {
                ndirs += 1;
                stack.push(e.path());
            } else if wanted(&ft) {
                count += 1;
            } else {
                others.push(e.path());
            }
        }
    }
    Ok((count, others, ndirs))
}

/// The home holds exactly `files` as links (no stray temporaries, no missing
/// link) in exactly `dirs`, and a sample of the links points where it should.
fn verify(home: &Path, files: &Files, dirs: &BTreeSet<String>, sources: &Path) -> Result<()> {
    let (links, others, ndirs) = census(home, fs::FileType::is_symlink)?;
    if links != files.len() || !others.is_empty() || ndirs != dirs.len() {
        return Err(format!(
            "{}: {links} links, {ndirs} directories and {} other files ({:?}); expected {} links and {} directories",
            home.display(),
            others.len(),
            others.iter().take(3).collect::<Vec<_>>(),
            files.len(),
            dirs.len()
        )
        .into());
    }
    for (target, src) in files.iter().step_by((files.len() / 50).max(1)) {
        let found = fs::read_link(home.join(target))?;
        if found != sources.join(src.to_string()) {
            return Err(format!("{target} points to {}", found.display()).into());
        }
    }
    Ok(())
}

/// The home holds exactly `files` as regular files (no stray temporary or
/// stash, no link) in exactly `dirs`, each with its source's content and
/// `mode`.
fn verify_copies(
    home: &Path,
    files: &Files,
    mode: u32,
    dirs: &BTreeSet<String>,
    contents: &[Vec<u8>],
) -> Result<()> {
    let (regular, others, ndirs) = census(home, fs::FileType::is_file)?;
    if regular != files.len() || !others.is_empty() || ndirs != dirs.len() {
        return Err(format!(
            "{}: {regular} regular files, {ndirs} directories and {} other files ({:?}); expected {} regular files and {} directories",
            home.display(),
            others.len(),
            others.iter().take(3).collect::<Vec<_>>(),
            files.len(),
            dirs.len()
        )
        .into());
    }
    for (target, &src) in files {
        let path = home.join(target);
        let m = fs::symlink_metadata(&path)?;
        if !m.file_type().is_file() || m.permissions().mode() & 0o7777 != mode {
            return Err(format!(
                "{target}: {:?} of mode {:04o}, expected a regular file of mode {mode:04o}",
                m.file_type(),
                m.permissions().mode() & 0o7777
            )
            .into());
        }
        if fs::read(&path)? != contents[src] {
            return Err(format!("{target} does not hold the content of copy source {src}").into());
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The floor

struct Put {
    source: PathBuf,
    tmp: PathBuf,
    path: PathBuf,
}

fn put(home: &Path, target: &str, src: usize, sources: &Path) -> Put {
    let path = home.join(target);
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    Put {
        source: sources.join(src.to_string()),
        tmp: path.with_file_name(format!(".floor-tmp-{name}")),
        path,
    }
}

fn put_all(puts: &[Put]) -> io::Result<()> {
    for p in puts {
        symlink(&p.source, &p.tmp)?;
        fs::rename(&p.tmp, &p.path)?;
    }
    Ok(())
}

struct FreshOps {
    mkdirs: Vec<PathBuf>,
    puts: Vec<Put>,
}

impl FreshOps {
    fn new(home: &Path, files: &Files, dirs: &BTreeSet<String>, sources: &Path) -> FreshOps {
        FreshOps {
            mkdirs: by_depth(dirs.iter().cloned())
                .iter()
                .map(|d| home.join(d))
                .collect(),
            puts: files
                .iter()
                .map(|(t, &s)| put(home, t, s, sources))
                .collect(),
        }
    }

    fn run(&self) -> io::Result<()> {
        for d in &self.mkdirs {
            fs::create_dir(d)?;
        }
        put_all(&self.puts)
    }

    /// The same home made with one `symlink` per file, at its place.
    fn run_links_only(&self) -> io::Result<()> {
        for d in &self.mkdirs {
            fs::create_dir(d)?;
        }
        for p in &self.puts {
            symlink(&p.source, &p.path)?;
        }
        Ok(())
    }
}

fn noop_floor(paths: &[PathBuf]) -> io::Result<()> {
    for p in paths {
        let m = fs::symlink_metadata(p)?;
        std::hint::black_box(m);
        std::hint::black_box(fs::read_link(p)?);
    }
    Ok(())
}

struct SwitchOps {
    look: Vec<PathBuf>,
    mkdirs: Vec<PathBuf>,
    puts: Vec<Put>,
    /// Which of `puts` replace a link of A (the others are new paths).
    replaces: Vec<bool>,
    unlinks: Vec<PathBuf>,
    rmdirs: Vec<PathBuf>,
}

impl SwitchOps {
    fn new(
        home: &Path,
        s: &Scenario,
        dirs_a: &BTreeSet<String>,
        dirs_b: &BTreeSet<String>,
        sources: &Path,
    ) -> SwitchOps {
        let union: BTreeSet<&String> = s.a.keys().chain(s.b.keys()).collect();
        let mut rmdirs = by_depth(dirs_a.difference(dirs_b).cloned());
        rmdirs.reverse();
        SwitchOps {
            look: union.iter().map(|t| home.join(t)).collect(),
            mkdirs: by_depth(dirs_b.difference(dirs_a).cloned())
                .iter()
                .map(|d| home.join(d))
                .collect(),
            puts: s
                .b
                .iter()
                .filter(|(t, src)| s.a.get(*t) != Some(src))
                .map(|(t, &src)| put(home, t, src, sources))
                .collect(),
            replaces: s
                .b
                .iter()
                .filter(|(t, src)| s.a.get(*t) != Some(src))
                .map(|(t, _)| s.a.contains_key(t))
                .collect(),
            unlinks: s
                .a
                .keys()
                .filter(|t| !s.b.contains_key(*t))
                .map(|t| home.join(t))
                .collect(),
            rmdirs: rmdirs.iter().map(|d| home.join(d)).collect(),
        }
    }

    fn run(&self) -> io::Result<()> {
        for p in &self.look {
            match fs::symlink_metadata(p) {
                Ok(m) if m.file_type().is_symlink() => {
                    std::hint::black_box(fs::read_link(p)?);
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        for d in &self.mkdirs {
            fs::create_dir(d)?;
        }
        put_all(&self.puts)?;
        for p in &self.unlinks {
            fs::remove_file(p)?;
        }
        for d in &self.rmdirs {
            fs::remove_dir(d)?;
        }
        Ok(())
    }

    /// The same switch with the checks a safe activator makes and the
    /// floor does not (docs/security.md), and one `readlink` per path to
    /// look: a replaced link is swapped with its new one
    /// (`RENAME_EXCHANGE`), read back and unlinked; a removed one renamed
    /// aside, read back and unlinked; a new one made at its place.
    fn run_checked(&self) -> io::Result<()> {
        use nix::fcntl::{renameat2, RenameFlags};
        let read = |p: &Path| match fs::read_link(p) {
            Ok(t) => {
                std::hint::black_box(t);
                Ok(())
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::EINVAL)) => Ok(()),
            Err(e) => Err(e),
        };
        for p in &self.look {
            read(p)?;
        }
        for d in &self.mkdirs {
            fs::create_dir(d)?;
        }
        for (p, &replaces) in self.puts.iter().zip(&self.replaces) {
            if replaces {
                symlink(&p.source, &p.tmp)?;
                renameat2(None, &p.tmp, None, &p.path, RenameFlags::RENAME_EXCHANGE)?;
                read(&p.tmp)?;
                fs::remove_file(&p.tmp)?;
            } else {
                symlink(&p.source, &p.path)?;
            }
        }
        for p in &self.unlinks {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            let aside = p.with_file_name(format!(".floor-old-{name}"));
            fs::rename(p, &aside)?;
            read(&aside)?;
            fs::remove_file(&aside)?;
        }
        for d in &self.rmdirs {
            fs::remove_dir(d)?;
        }
        Ok(())
    }
}

struct CopyPut {
    tmp: PathBuf,
    path: PathBuf,
    content: Vec<u8>,
}

/// The copies floor: from a home holding `from` to one holding `to`, with
/// the least syscalls (see the header), every path and content prepared.
struct CopyOps {
    mkdirs: Vec<PathBuf>,
    puts: Vec<CopyPut>,
    unlinks: Vec<PathBuf>,
    mode: u32,
    /// The umask would take bits off `mode` at creation: an fchmod puts them
    /// back (not so with the usual 022 and the modes used here).
    chmod: bool,
}

impl CopyOps {
    fn new(home: &Path, from: &Files, to: &Files, mode: u32, contents: &[Vec<u8>]) -> CopyOps {
        let umask = nix::sys::stat::umask(nix::sys::stat::Mode::empty());
        nix::sys::stat::umask(umask);
        let (dirs_from, dirs_to) = (dirs_of(from), dirs_of(to));
        CopyOps {
            mkdirs: by_depth(dirs_to.difference(&dirs_from).cloned())
                .iter()
                .map(|d| home.join(d))
                .collect(),
            puts: to
                .iter()
                .filter(|(t, src)| from.get(*t) != Some(src))
                .map(|(t, &src)| {
                    let p = put(home, t, src, Path::new(""));
                    CopyPut {
                        tmp: p.tmp,
                        path: p.path,
                        content: contents[src].clone(),
                    }
                })
                .collect(),
            unlinks: from
                .keys()
                .filter(|t| !to.contains_key(*t))
                .map(|t| home.join(t))
                .collect(),
            mode,
            chmod: mode & umask.bits() != 0,
        }
    }

    /// `fsync`: each file is forced to disk before its rename.
    fn run(&self, fsync: bool) -> io::Result<()> {
        for d in &self.mkdirs {
            fs::create_dir(d)?;
        }
        for p in &self.puts {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(self.mode)
                .open(&p.tmp)?;
            f.write_all(&p.content)?;
            if self.chmod {
                f.set_permissions(fs::Permissions::from_mode(self.mode))?;
            }
            if fsync {
                f.sync_all()?;
            }
            drop(f);
            fs::rename(&p.tmp, &p.path)?;
        }
        for p in &self.unlinks {
            fs::remove_file(p)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Output

/// What hearth keeps on disk for a home of N files.
struct Disk {
    n: usize,
    /// Every regular file of the state directory (two generations).
    bytes: u64,
    /// What each further generation adds.
    per_generation: u64,
    /// Whether a journal was left after an activation had finished.
    journal_left: bool,
}

/// The bytes of the regular files under the state directory `state`
/// (hearth keeps `$XDG_STATE_HOME/hearth` and its packages profile there),
/// and whether a journal is there.
fn state_on_disk(state: &Path) -> Result<(u64, bool)> {
    fn walk(dir: &Path, total: &mut u64, journal: &mut bool) -> io::Result<()> {
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                walk(&entry.path(), total, journal)?;
            } else if meta.is_file() {
                *total += meta.len();
                *journal |= entry.file_name() == "journal";
            }
        }
        Ok(())
    }
    let (mut total, mut journal) = (0, false);
    walk(state, &mut total, &mut journal)?;
    Ok((total, journal))
}

/// What starting a process costs, spawn to exit (medians, ms).
struct Start {
    /// `/bin/true`: the least any process costs (None: there is none).
    bin_true: Option<f64>,
    /// `hearth --version`: hearth's own start, before it looks at a home.
    hearth: f64,
}

/// Times `/bin/true` and `hearth --version` as hearth's runs are timed.
fn process_start(bin: &Path, logs: &Path) -> Result<Start> {
    const REPS: usize = 51;
    let time = |program: &Path, args: &[&str]| -> Result<f64> {
        let mut runs = Vec::with_capacity(REPS);
        for _ in 0..REPS {
            let mut cmd = Command::new(program);
            cmd.args(args)
                .stdin(Stdio::null())
                .stdout(fs::File::create(logs.join("start.out"))?)
                .stderr(fs::File::create(logs.join("start.err"))?);
            let start = Instant::now();
            let child = cmd.spawn()?;
            let (status, _) = wait_rusage(child.id())?;
            runs.push(start.elapsed());
            if !matches!(status, WaitStatus::Exited(_, 0)) {
                return Err(format!("{} ended with {status:?}", program.display()).into());
            }
        }
        Ok(median(&runs))
    };
    let bin_true = Path::new("/bin/true");
    Ok(Start {
        bin_true: if bin_true.exists() {
            Some(time(bin_true, &[])?)
        } else {
            None
        },
        hearth: time(bin, &["--version"])?,
    })
}

fn report(
    rows: &[Row],
    disks: &[Disk],
    start: &Start,
    filesystem: &str,
    built: &Built,
    bin: &Path,
    target: &Path,
) -> Result<()> {
    println!(
        "\nmedians; ratio = hearth / floor; peak RSS = largest ru_maxrss of hearth in that case"
    );
    println!(
        "targets: issue 8 (activate, 1,000 and 10,000 files) and issue 14 (every case and size)"
    );
    println!(
        "{:>6}  {:<21} {:>5} {:>10} {:>10} {:>7}  {:>7} {:<4}  {:>7} {:<4}  peak RSS",
        "N", "case", "runs", "hearth ms", "floor ms", "ratio", "is. 8", "", "is. 14", ""
    );
    let verdict = |pass: Option<bool>| match pass {
        Some(true) => "PASS",
        Some(false) => "MISS",
        None => "-",
    };
    let goal = |l: Option<f64>| l.map_or_else(|| "-".to_string(), |l| format!("≤ {l:.1}×"));
    let mut json_rows = Vec::new();
    for r in rows {
        let (h, f) = (median(&r.hearth), median(&r.floor));
        let ratio = h / f;
        let pass = r.limit().map(|l| ratio <= l);
        let pass14 = r.limit14().map(|l| ratio <= l);
        println!(
            "{:>6}  {:<21} {:>5} {:>10.2} {:>10.2} {:>6.2}×  {:>7} {:<4}  {:>7} {:<4}  {:.1} MB",
            r.n,
            r.case,
            r.hearth.len(),
            h,
            f,
            ratio,
            goal(r.limit()),
            verdict(pass),
            goal(r.limit14()),
            verdict(pass14),
            mib(r.max_rss_kb)
        );
        let ms = |v: &[Duration]| -> Vec<f64> { v.iter().map(|d| d.as_secs_f64() * 1e3).collect() };
        json_rows.push(json!({
            "n": r.n,
            "case": r.case,
            "hearth_ms": h,
            "floor_ms": f,
            "ratio": ratio,
            "target_ratio": r.limit(),
            "pass": pass,
            "target_ratio_issue14": r.limit14(),
            "pass_issue14": pass14,
            "hearth_runs_ms": ms(&r.hearth),
            "floor_runs_ms": ms(&r.floor),
            "max_rss_kib": r.max_rss_kb,
        }));
    }
    let copies = |case| rows.iter().find(|r| r.case == case);
    if let (Some(plain), Some(synced)) = (copies("copies"), copies("copies+fsync")) {
        let (h, f, fs) = (
            median(&plain.hearth),
            median(&plain.floor),
            median(&synced.floor),
        );
        println!(
            "copies: hearth takes {:.2} ms more than the floor without fsync; an fsync per copy \
             adds {:.2} ms to that floor (fsync times follow the disk's load)",
            h - f,
            fs - f
        );
    }
    // Peak memory per size, against issue 8's target (10,000 files) and
    // issue 14's (10,000 and 100,000 files).
    let mut memory = Vec::new();
    for (n, limits) in [
        (1_000, &[][..]),
        (10_000, &[(8, 50.0), (14, 16.0)][..]),
        (100_000, &[(14, 64.0)][..]),
    ] {
        let sized: Vec<&Row> = rows.iter().filter(|r| r.n == n).collect();
        let Some(peak) = sized.iter().map(|r| r.max_rss_kb).max() else {
            continue;
        };
        let mb = mib(peak);
        let verdicts: Vec<String> = limits
            .iter()
            .map(|(issue, l)| {
                format!(
                    "issue {issue}: < {l:.0} MB {}",
                    if mb < *l { "PASS" } else { "MISS" }
                )
            })
            .collect();
        println!(
            "peak RSS of hearth at N = {n}: {mb:.1} MB{}{}",
            if verdicts.is_empty() { "" } else { "; " },
            verdicts.join(", ")
        );
        memory.push(json!({ "n": n, "peak_rss_mb": mb }));
    }
    // The state on disk: issue 14 wants no journal left between runs, and
    // at 100,000 files under 8 MB plus under 2 MB a generation.
    let mut on_disk = Vec::new();
    for d in disks {
        let (mb, per) = (megabytes(d.bytes), megabytes(d.per_generation));
        let verdict = if d.n == 100_000 {
            let pass = mb - per < 8.0 && per < 2.0 && !d.journal_left;
            format!(
                " (issue 14: < 8 MB + < 2 MB a generation, no journal: {})",
                if pass { "PASS" } else { "MISS" }
            )
        } else {
            String::new()
        };
        println!(
            "state on disk at N = {}: {mb:.2} MB with 2 generations, {:.2} KB more per generation; journal left between runs: {}{verdict}",
            d.n,
            per * 1e3,
            if d.journal_left { "yes" } else { "no" },
        );
        on_disk.push(json!({
            "n": d.n,
            "state_bytes": d.bytes,
            "per_generation_bytes": d.per_generation,
            "journal_left": d.journal_left,
        }));
    }
    // Linear: hearth's 100,000 / 10,000 growth at most 1.1 times the floor's.
    let mut linear = Vec::new();
    for case in [
        "fresh",
        "fresh, links only",
        "no-op",
        "no-op, unstamped",
        "switch",
        "switch, checked floor",
        "status",
        "plan no-op",
        "plan switch",
    ] {
        let at = |n| rows.iter().find(|r| r.n == n && r.case == case);
        let (Some(small), Some(big)) = (at(10_000), at(100_000)) else {
            continue;
        };
        let grows = median(&big.hearth) / median(&small.hearth);
        let floor_grows = median(&big.floor) / median(&small.floor);
        let ratio = grows / floor_grows;
        let verdict = if matches!(
            case,
            "fresh, links only" | "no-op, unstamped" | "switch, checked floor"
        ) {
            "(for information, not a target)".to_string()
        } else {
            format!(
                "(issue 14: ≤ 1.1) {}",
                if ratio <= 1.1 { "PASS" } else { "MISS" }
            )
        };
        println!(
            "linear, {case}: hearth grows {grows:.1}×, the floor {floor_grows:.1}× from 10,000 to \
             100,000 files: {ratio:.2} {verdict}"
        );
        linear.push(json!({ "case": case, "hearth_growth": grows, "floor_growth": floor_grows, "ratio": ratio }));
    }
    println!(
        "starting a process, spawn to exit (not in the floor): /bin/true {}, hearth --version {:.2} ms",
        start
            .bin_true
            .map_or_else(|| "-".to_string(), |t| format!("{t:.2} ms")),
        start.hearth
    );
    let doc = json!({
        "filesystem": filesystem,
        "process_start_ms": { "bin_true": start.bin_true, "hearth_version": start.hearth },
        "hearth": bin,
        "generations": built.generations,
        "copy_generations": built.copies,
        "results": json_rows,
        "peak_rss": memory,
        "state_on_disk": on_disk,
        "linear": linear,
    });
    let out = target.join("bench-activate.json");
    fs::write(&out, serde_json::to_vec_pretty(&doc)?)?;
    println!("results: {}", out.display());
    Ok(())
}
