# Evaluates one Home Manager configuration through hearth's bridge
# (nix/hm) with the stub pkgs (hm-pkgs.nix), and returns what the tests
# build and look at: hearth's generation and packages environment, and Home
# Manager's own `home-files` for the same configuration. Used by
# tests/nix_hm.rs.
{
  nixpkgs,
  # A Home Manager checkout (HEARTH_HOME_MANAGER).
  homeManager,
  # The configuration: a path to a home.nix (or a module, or a list).
  configuration,
  # The hearth binary to build with (a path outside the store), or null:
  # then the generation is only evaluated, never built.
  hearthBin ? null,
  username ? "alice",
  homeDirectory ? "/home/alice",
  # As a home of a NixOS / nix-darwin system (packages installed by the
  # system) rather than standalone.
  inSystem ? true,
  # `pkgs.path`: a directory holding nixpkgs' `lib/` and
  # tests/nix/hm-pkgs-path/nixos (the harness links them together).
  pkgsPath,
}:
let
  lib = import ./lib.nix nixpkgs;
  pkgs = import ./hm-pkgs.nix {
    inherit lib;
    path = pkgsPath;
  };
  stubs = import ./stubs.nix;

  bridged = import ../../nix/hm {
    source = homeManager;
    inherit pkgs lib;
    modules = (if builtins.isList configuration then configuration else [ configuration ]) ++ [
      {
        home.username = lib.mkDefault username;
        home.homeDirectory = lib.mkDefault homeDirectory;
        # Home Manager's manual (a package by default) is built with
        # nixos-render-docs and nixpkgs' option docs, which the stub pkgs
        # do not have.
        manual.manpages.enable = lib.mkDefault false;
      }
    ];
    osConfig = if inSystem then { } else null;
    osClass = if inSystem then "nixos" else null;
    hearthModules = [
      {
        hearth.package = stubs.hearthPackage { inherit hearthBin; };
        hearth.installPackages = !inSystem;
      }
    ];
  };

  failed = map (a: a.message) (builtins.filter (a: !a.assertion) bridged.assertions);
in
{
  inherit (bridged) hm config warnings;
  inherit failed;
  spec = bridged.config.home.generationSpec;
  activation = bridged.config.home.activationOrder;
  targets = map (f: f.target) bridged.config.home.generationSpec.files;
  # The names of Home Manager's own activation entries, in its order.
  hmActivation = map (e: e.name) (bridged.hm.config.lib.dag.topoSort bridged.hm.config.home.activation).result;
  # What nix-build builds.
  generation = bridged.generation;
  packages = bridged.packages;
  homeFiles = bridged.hm.config.home-files;
  sessionVariables = bridged.sessionVariables;
}
