# Evaluates the home module with `module` (a module, or a list of them) the
# way the platform modules do, with nixpkgs' lib and without pkgs, and
# returns what the tests look at. Used by tests/nix_modules.rs.
{
  nixpkgs,
  module,
  # The hearth binary to build with (a path outside the store), or null:
  # then the generation is only instantiated, never built.
  hearthBin ? null,
}:
let
  lib = import ./lib.nix nixpkgs;
  hearthLib = import ../../nix/lib { inherit lib; };
  evaluated = lib.evalModules {
    specialArgs.lib = hearthLib.extendLib lib;
    modules = [
      ../../nix/home-module.nix
      {
        # Defaults, so that a configuration that sets its own (as Home
        # Manager's do) merges with them.
        home.username = lib.mkDefault "alice";
        home.homeDirectory = lib.mkDefault "/home/alice";
        hearth.package =
          if hearthBin == null then
            # A store path, never built: these tests evaluate.
            "/nix/store/00000000000000000000000000000000-hearth"
          else
            derivation {
              name = "hearth";
              system = builtins.currentSystem;
              builder = "/bin/sh";
              PATH = "/bin:/usr/bin";
              bin = builtins.path {
                path = hearthBin;
                name = "hearth-bin";
              };
              args = [
                "-ec"
                # Not chmod in the shell's place: see nix/lib/builder.nix.
                (
                  ''mkdir -p "$out/bin"; cp "$bin" "$out/bin/hearth"; chmod 0555 "$out/bin/hearth"''
                  + (import ../../nix/lib/builder.nix).lastBuiltin
                )
              ];
            };
        hearth.system = if hearthBin == null then "x86_64-linux" else builtins.currentSystem;
        # Without pkgs, the builds that need `ln`, `chmod`, `mkdir` or `cp` take this
        # machine's (the tests run with the sandbox off, as the hearth
        # binary above already assumes). Only built when hearthBin is given.
        hearth.coreutils = lib.mkDefault (
          (import ./stubs.nix).run "host-coreutils"
            ''mkdir -p "$out/bin"; for t in ln chmod mkdir cp; do ln -s "$(command -v $t)" "$out/bin/$t"; done''
        );
      }
    ] ++ (if builtins.isList module then module else [ module ]);
  };
  inherit (evaluated) config;
in
{
  inherit config;
  spec = config.home.generationSpec;
  activation = config.home.activationOrder;
  targets = map (f: f.target) config.home.generationSpec.files;
  failedAssertions = map (a: a.message) (builtins.filter (a: !a.assertion) config.assertions);
  generation = config.home.generation.drvPath;
  # What nix-build builds: the generation.
  build = config.home.generation;
  packagesSpec = config.home.packagesSpec;
}
