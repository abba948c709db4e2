# One standalone home: hearth's home module with the user's modules, and
# what `hearth switch` and `hearth.lib.homeConfiguration` build from it.
# Returns the generation (a derivation: `nix build` and `nix-build` build
# it), with `config`, `activationPackage` (the same generation, Home
# Manager's name) and `activate` (its script, which runs `hearth activate`
# on it). Failed assertions stop the evaluation, every one listed;
# warnings are shown.
#
# With `homeManager` (a Home Manager checkout), the user's modules are a
# Home Manager configuration: the bridge (nix/hm) evaluates them with Home
# Manager's own module collection, and the generation is built from what
# Home Manager decided, its packages going into hearth's own profile as for
# any standalone home.
{
  lib,
  # nixpkgs' package set, or null: then texts go through builtins.toFile
  # and a home that uses `pkgs` fails to evaluate, saying so.
  pkgs ? null,
  # The home's modules: hearth home modules, or Home Manager ones when
  # `homeManager` is set.
  modules,
  extraSpecialArgs ? { },
  # The hearth package whose bin/hearth builds the generation (set it here
  # or with `hearth.package` in a module).
  hearthPackage ? null,
  # A Home Manager checkout (a path, a flake input, a fetchTarball), or
  # null: the home is then evaluated with hearth's own home module.
  homeManager ? null,
  # Modules for hearth's side of the home (hearth.package,
  # hearth.profileHook, ...): with `homeManager` the user's modules are
  # Home Manager's, which do not declare hearth's options.
  hearthModules ? [ ],
}:
let
  hearthLib = import ../lib { inherit lib; };

  # What every standalone home adds on hearth's side.
  standaloneModules = [
    ./module.nix
    (
      { lib, ... }:
      {
        _module.args.pkgs = lib.mkIf (pkgs != null) (lib.mkDefault pkgs);
        hearth.package = lib.mkIf (hearthPackage != null) (lib.mkDefault hearthPackage);
      }
    )
  ]
  ++ hearthModules;

  # A flake input is an attribute set with outPath; a checkout is a path.
  hmSource = if builtins.isAttrs homeManager then homeManager.outPath else homeManager;

  bridged =
    if !(builtins.pathExists (hmSource + "/modules/modules.nix")) then
      throw "hearth: homeManager = ${toString hmSource} is not a Home Manager checkout (it has no modules/modules.nix); give the Home Manager source (a flake input `inputs.home-manager`, a checkout, or a fetchTarball of it)"
    else
      import ../hm {
        source = hmSource;
        inherit
          pkgs
          lib
          modules
          extraSpecialArgs
          ;
        hearthModules = standaloneModules;
      };

  evaluated =
    if homeManager == null then
      lib.evalModules {
        class = "hearth";
        specialArgs = {
          lib = hearthLib.extendLib lib;
        }
        // extraSpecialArgs;
        modules = [ ../home-module.nix ] ++ standaloneModules ++ modules;
      }
    else
      { inherit (bridged) config; };

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
  activationPackage = generation;
  activate = "${generation}/activate";
  # How `hearth switch --flake` tells a hearth home from a Home Manager
  # one under homeConfigurations.
  hearthHome = true;
}
// lib.optionalAttrs (homeManager == null) { inherit (evaluated) options; }
// lib.optionalAttrs (homeManager != null) {
  # Home Manager's own evaluation of the home (`config`, `options`), as
  # Home Manager's homeManagerConfiguration gives it.
  homeManager = {
    inherit (bridged.hm) config options;
  };
}
