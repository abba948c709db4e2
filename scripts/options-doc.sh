#!/bin/sh
# Regenerates docs/options.md from the option declarations of the Nix
# modules. Needs nixpkgs' lib: HEARTH_NIXPKGS (a nixpkgs or nixpkgs.lib
# checkout) or <nixpkgs> from NIX_PATH.
set -eu
cd "$(dirname "$0")/.."
if [ -n "${HEARTH_NIXPKGS:-}" ]; then
  nixpkgs="/. + \"$(cd "$HEARTH_NIXPKGS" && pwd)\""
else
  nixpkgs='<nixpkgs>'
fi
nix --extra-experimental-features nix-command eval --impure --raw \
  --expr "import ./docs/options.nix { nixpkgs = $nixpkgs; }" > docs/options.md.tmp
mv docs/options.md.tmp docs/options.md
echo "docs/options.md: $(grep -c '^### ' docs/options.md) options"
