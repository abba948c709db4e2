# Sourced by scripts/test.sh and scripts/demo.sh: makes nix-build available.
# As root on Debian/Ubuntu it installs the distribution's Nix (nix-bin);
# otherwise it says what to install and stops.
if ! command -v nix-build >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "nix-build not found: installing Debian's nix-bin" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nix-bin >/dev/null
  else
    echo "error: nix-build not found." >&2
    echo "hint: install Nix (Debian/Ubuntu: sudo apt-get install nix-bin; elsewhere: https://nixos.org/download)," >&2
    echo "      or run this script as root on Debian to have it installed." >&2
    exit 1
  fi
fi
# No binary cache is reachable offline, and tests build everything locally.
export NIX_CONFIG="${NIX_CONFIG:+$NIX_CONFIG
}substituters ="
