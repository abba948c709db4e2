# The evaluation behind `hearth switch` and `hearth build` with a home.nix
# (not a flake): nix-build this file with the arguments below and it builds
# the home's generation. nixpkgs comes from `<nixpkgs>` (NIX_PATH or -I), or
# from the `nixpkgs` argument; its `lib` is all that is required: without
# nixpkgs' package set (a nixpkgs.lib checkout) the home has `pkgs = null`.
{
  # The home configuration: home.nix (a module), as a path or an absolute
  # path string.
  home,
  # The user and home hearth runs for; the home module's defaults, so that
  # a home.nix may leave them out (it may also set them, as Home Manager's
  # require).
  username,
  homeDirectory,
  # The hearth package (a store path holding bin/hearth) ...
  hearthPackage ? null,
  # ... or, when hearth does not run from the store, its binary (a path or
  # an absolute path string): put into the store as it is.
  hearthBin ? null,
  nixpkgs ? <nixpkgs>,
  system ? builtins.currentSystem,
  # Overrides the package set taken from nixpkgs (`--arg pkgs ...`).
  pkgs ? null,
  extraSpecialArgs ? { },
  # A Home Manager checkout (a path or an absolute path string), or null:
  # with it, home.nix is a Home Manager configuration, evaluated with Home
  # Manager's modules (`hearth switch --home-manager PATH`).
  homeManager ? null,
}:
let
  lib = import (nixpkgs + "/lib");

  asPath = p: if builtins.isString p then /. + p else p;

  packageSet =
    if pkgs != null then
      pkgs
    else if builtins.pathExists (nixpkgs + "/default.nix") then
      import nixpkgs { inherit system; }
    else
      null;
in
assert hearthPackage != null || hearthBin != null;
import ./standalone/configuration.nix {
  inherit lib extraSpecialArgs;
  pkgs = packageSet;
  homeManager = if homeManager == null then null else asPath homeManager;
  hearthPackage =
    if hearthPackage != null then
      hearthPackage
    else
      # A binary outside the store (a development build) in a package of
      # its own, so that the generation refers to the store only. Copied
      # with the host's tools: Nix's sandbox must be off for this case.
      derivation {
        name = "hearth";
        inherit system;
        builder = "/bin/sh";
        PATH = "/bin:/usr/bin";
        bin = builtins.path {
          path = asPath hearthBin;
          name = "hearth-bin";
        };
        args = [
          "-ec"
          ''mkdir -p "$out/bin"; cp "$bin" "$out/bin/hearth"; chmod 0555 "$out/bin/hearth"''
        ];
        preferLocalBuild = true;
        allowSubstitutes = false;
      };
  modules = [
    {
      home.username = lib.mkDefault username;
      home.homeDirectory = lib.mkDefault homeDirectory;
    }
    (asPath home)
  ];
}
