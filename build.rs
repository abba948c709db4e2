//! Links the unwinder into hearth instead of loading it from `libgcc_s.so.1`
//! at every start.
//!
//! On Linux with glibc, Rust's standard library asks for `-lgcc_s`, the
//! shared unwinder. Loading it costs an `openat`, its mappings and
//! relocations, and its constructor probes the processor with `cpuid`,
//! which a virtual machine traps: on the 2-core VM of session 13,
//! `hearth --version` took 1.155 ms with it and 1.039 ms without it
//! (medians of 400 runs each, `/bin/true` 0.954 ms), about a twentieth of
//! a no-op of 1,000 files. hearth runs at every boot, switch and login
//! hook, mostly on small homes, where that start is much of its time.
//!
//! So a linker script named `libgcc_s.so`, found before the system's, puts
//! the static unwinder `libgcc_eh.a` in its place (what `-static-libgcc`
//! does for C programs). Only for glibc targets that link dynamically: a
//! static build already links `libgcc_eh`, and other targets do not use
//! `libgcc_s`. Nothing else changes: a panic unwinds as before.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let var = |name: &str| env::var(name).unwrap_or_default();
    let dynamic_glibc = var("CARGO_CFG_TARGET_OS") == "linux"
        && var("CARGO_CFG_TARGET_ENV") == "gnu"
        && !var("CARGO_CFG_TARGET_FEATURE")
            .split(',')
            .any(|f| f == "crt-static");
    let Some(out) = env::var_os("OUT_DIR").filter(|_| dynamic_glibc) else {
        return;
    };
    let dir = PathBuf::from(out).join("unwind");
    // Without the script, hearth links `libgcc_s` as before: slower to
    // start, nothing else.
    let written = fs::create_dir_all(&dir)
        .and_then(|()| fs::write(dir.join("libgcc_s.so"), "INPUT(-lgcc_eh)\n"));
    if written.is_ok() {
        println!("cargo::rustc-link-search=native={}", dir.display());
    }
}
