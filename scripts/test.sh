#!/bin/sh
# Runs hearth's whole test suite: formatting, lints, unit tests, and the
# integration tests that build real generations with Nix and activate them
# into throwaway homes. Installs Nix first when missing (as root, on Debian).
set -eu
cd "$(dirname "$0")/.."
. scripts/ensure-nix.sh

if [ -z "${HEARTH_NIXPKGS:-}" ] && ! nix-instantiate --eval -E '<nixpkgs/lib>' >/dev/null 2>&1; then
  echo "note: no nixpkgs (set HEARTH_NIXPKGS or NIX_PATH): the Nix module evaluation tests in tests/nix_modules.rs will be skipped" >&2
fi

# fmt and clippy are rustup components; a bare toolchain may lack them.
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add rustfmt clippy
fi

cargo fmt --check
cargo clippy --all-targets --features fault-injection -- -D warnings
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --features fault-injection --no-fail-fast
  # nextest does not run doctests; there are none, the library is internal.
else
  cargo test --features fault-injection --no-fail-fast
fi
