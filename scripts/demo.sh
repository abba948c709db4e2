#!/bin/sh
# The hearth demo: builds two generations with Nix, activates the first into
# a throwaway home, shows the plan of the switch, switches, rolls back.
# Nothing outside the throwaway home (and the Nix store) is touched.
set -eu
cd "$(dirname "$0")/.."
. scripts/ensure-nix.sh

cargo build --release --quiet
hearth="$PWD/target/release/hearth"
home="$(mktemp -d "${TMPDIR:-/tmp}/hearth-demo.XXXXXX")"
user="$(id -un)"
export HOME="$home"
unset XDG_STATE_HOME

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

first=$(nix-build --no-out-link examples/demo.nix -A first --argstr user "$user" --argstr home "$home" 2>/dev/null)
second=$(nix-build --no-out-link examples/demo.nix -A second --argstr user "$user" --argstr home "$home" 2>/dev/null)
echo "throwaway home: $home"

# A file of the user's own where the first generation wants a link: hearth
# stops and changes nothing, then moves it aside when asked to.
printf '[user]\n  name = me\n' > "$home/.gitconfig"
step "$hearth" activate "$first" || echo "(exit status $?: nothing was changed)"
step "$hearth" activate --backup-ext bak "$first"
step ls -la "$home"
step "$hearth" plan "$second"
step "$hearth" activate "$second"
step "$hearth" generations
step "$hearth" status
step "$hearth" rollback
step ls -la "$home"
echo
echo "done; remove the throwaway home with: rm -rf $home"
