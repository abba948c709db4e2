# Evaluates nixos-module/ or darwin-module/ over stand-ins of the few
# NixOS / nix-darwin options they set (users.users, systemd.services,
# system.activationScripts, environment.extraInit, assertions), with two
# homes, alice and bob. The stand-ins only declare options; the modules under
# test are the real ones. Used by tests/nix_modules.rs.
{
  nixpkgs,
  platform,
  # What bin/hearth is: null (a store path never built: evaluation only),
  # the real binary (a path), or a shell script's text standing in for the
  # binary where the test is about the shell around it (darwin's loop).
  hearthBin ? null,
  hearthScript ? null,
}:
let
  lib = import ./lib.nix nixpkgs;
  inherit (lib) mkOption types;

  run =
    name: script:
    derivation {
      inherit name;
      system = builtins.currentSystem;
      builder = "/bin/sh";
      PATH = "/bin:/usr/bin";
      args = [
        "-ec"
        script
      ];
    };
  tool = name: run name ''mkdir -p "$out/bin"'';

  pkgs = {
    runtimeShell = "/bin/sh";
    stdenv.buildPlatform.system = builtins.currentSystem;
    writeText = builtins.toFile;
    coreutils = tool "coreutils";
    findutils = tool "findutils";
    gnugrep = tool "gnugrep";
    gnused = tool "gnused";
    util-linux = tool "util-linux";
  };

  raw = types.attrsOf types.raw;

  standIns = {
    options = {
      assertions = mkOption {
        type = types.listOf types.raw;
        default = [ ];
      };
      warnings = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      users.users = mkOption {
        type = types.attrsOf (
          types.submodule (
            { name, ... }:
            {
              options = {
                name = mkOption { default = name; };
                home = mkOption { default = "/home/${name}"; };
                isNormalUser = mkOption { default = false; };
                packages = mkOption {
                  type = types.listOf types.package;
                  default = [ ];
                };
              };
            }
          )
        );
        default = { };
      };
      environment.extraInit = mkOption {
        type = types.lines;
        default = "";
      };
      systemd.services = mkOption {
        type = types.attrsOf raw;
        default = { };
      };
      systemd.package = mkOption { default = tool "systemd"; };
      nix.package = mkOption { default = tool "nix"; };
      system.activationScripts = mkOption {
        type = types.attrsOf (
          types.submodule {
            options.text = mkOption {
              type = types.lines;
              default = "";
            };
            options.supportsDryActivation = mkOption { default = false; };
          }
        );
        default = { };
      };
    };
  };

  evaluated = lib.evalModules {
    modules = [
      (if platform == "nixos" then ../../nixos-module else ../../darwin-module)
      standIns
      {
        _module.args.pkgs = pkgs;
        hearth.package =
          if hearthBin == null && hearthScript == null then
            "/nix/store/00000000000000000000000000000000-hearth"
          else
            derivation {
              name = "hearth";
              system = builtins.currentSystem;
              builder = "/bin/sh";
              PATH = "/bin:/usr/bin";
              args = [
                "-ec"
                ''
                  mkdir -p "$out/bin"
                  if [ -n "$bin" ]; then cp "$bin" "$out/bin/hearth"; else cp "$scriptPath" "$out/bin/hearth"; fi
                  chmod 0555 "$out/bin/hearth"
                ''
              ];
              bin =
                if hearthBin == null then
                  ""
                else
                  builtins.path {
                    path = hearthBin;
                    name = "hearth-bin";
                  };
              script = if hearthScript == null then "" else hearthScript;
              passAsFile = [ "script" ];
            };
        users.users.alice.isNormalUser = true;
        users.users.bob.isNormalUser = true;
        hearth.users.alice = {
          home.file.".vimrc".text = "set number\n";
          home.packages = [ (tool "hello-2.12") ];
          home.sessionVariables.EDITOR = "vim";
        };
        hearth.users.bob.home.file.".bobrc".text = "bob\n";
      }
    ];
  };
  inherit (evaluated) config;
  gen = user: config.hearth.users.${user}.home.generation;
in
{
  inherit config;
  hearthPackage = config.hearth.package;
  generation = gen "alice";
  generations = {
    alice = (gen "alice").outPath;
    bob = (gen "bob").outPath;
  };
  alicePackages = map (p: p.name) config.users.users.alice.packages;
  bobPackages = config.users.users.bob.packages;
  alicePackagesInManifest = config.hearth.users.alice.home.generationSpec.packages;
  units = lib.mapAttrs (_: u: {
    inherit (u)
      wantedBy
      before
      after
      restartIfChanged
      stopIfChanged
      ;
    inherit (u.serviceConfig)
      Type
      RemainAfterExit
      User
      ExecStart
      ;
    inherit (u.unitConfig) RequiresMountsFor;
    restartTriggers = map toString u.restartTriggers;
  }) config.systemd.services;
  extraInit = config.environment.extraInit;
  activationScripts = lib.mapAttrs (_: s: { inherit (s) text supportsDryActivation; }) config.system.activationScripts;
}
