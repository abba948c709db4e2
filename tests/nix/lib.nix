# nixpkgs' lib, from a nixpkgs checkout, a nixpkgs.lib checkout, or a lib
# directory (what HEARTH_NIXPKGS or <nixpkgs> points at).
nixpkgs:
if builtins.pathExists (nixpkgs + "/lib/default.nix") then
  import (nixpkgs + "/lib")
else
  import nixpkgs
