# For users without flakes:
#
#   let hearth = import (fetchTarball "https://.../hearth/archive/main.tar.gz") { };
#   in { imports = [ hearth.nixosModules.default ]; }
#
# `pkgs` defaults to <nixpkgs>; only the package and the checks need it.
{
  pkgs ? import <nixpkgs> { },
}:
let
  inherit (pkgs) lib;
in
{
  lib = import ./nix/lib { inherit lib; };

  overlays.default = final: prev: { hearth = final.callPackage ./nix/package.nix { }; };

  packages.default = pkgs.callPackage ./nix/package.nix { };

  # The modules build hearth from this source with the system's own nixpkgs
  # (pkgs.hearth when an overlay provides it).
  nixosModules.default = ./nixos-module;
  darwinModules.default = ./darwin-module;

  checks =
    {
      eval = import ./tests/nix/check.nix {
        inherit pkgs;
        nixpkgs = pkgs.path;
      };
    }
    // lib.optionalAttrs pkgs.stdenv.hostPlatform.isLinux (
      import ./vm-tests {
        inherit pkgs;
        hearthModule = ./nixos-module;
      }
    );
}
