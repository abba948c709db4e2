# One standalone home: hearth's home module with the user's modules, and
# what `hearth switch` and `hearth.lib.homeConfiguration` build from it.
# Returns the generation (a derivation: `nix build` and `nix-build` build
# it), with `config`, `activationPackage` (the same generation, Home
# Manager's name) and `activate` (its script, which runs `hearth activate`
# on it). Failed assertions stop the evaluation, every one listed;
# warnings are shown.
#
# Home Manager's modules (the bridge, `hearth.homeManager.source`) are not
# handled here yet: when the bridge lands, it is one more module in
# `modules` (or an argument that adds it), so that `hearth switch` and this
# function pass it through unchanged.
{
  lib,
  # nixpkgs' package set, or null: then texts go through builtins.toFile
  # and a home that uses `pkgs` fails to evaluate, saying so.
  pkgs ? null,
  modules,
  extraSpecialArgs ? { },
  # The hearth package whose bin/hearth builds the generation (set it here
  # or with `hearth.package` in a module).
  hearthPackage ? null,
}:
let
  hearthLib = import ../lib { inherit lib; };

  evaluated = lib.evalModules {
    class = "hearth";
    specialArgs = {
      lib = hearthLib.extendLib lib;
    } // extraSpecialArgs;
    modules = [
      ../home-module.nix
      ./module.nix
      (
        { lib, ... }:
        {
          _module.args.pkgs = lib.mkIf (pkgs != null) (lib.mkDefault pkgs);
          hearth.package = lib.mkIf (hearthPackage != null) (lib.mkDefault hearthPackage);
        }
      )
    ] ++ modules;
  };

  inherit (evaluated) config;

  failed = map (a: a.message) (lib.filter (a: !a.assertion) config.assertions);

  generation =
    if failed != [ ] then
      throw "hearth: the home of ${config.home.username} is not valid:\n${
        lib.concatMapStringsSep "\n" (m: "- ${m}") failed
      }"
    else
      lib.foldr (w: g: lib.warn w g) config.home.generation config.warnings;
in
generation
// {
  inherit config;
  inherit (evaluated) options;
  activationPackage = generation;
  activate = "${generation}/activate";
  # How `hearth switch --flake` tells a hearth home from a Home Manager
  # one under homeConfigurations.
  hearthHome = true;
}
