# Evaluates nixos-module/ or darwin-module/ over stand-ins of the NixOS /
# nix-darwin options they set (users.users, systemd.services and targets,
# system.activationScripts, environment.extraInit and etc,
# programs.fish.shellInit, assertions). The stand-ins declare those options
# with the types, defaults and per-unit additions of the real ones where
# hearth depends on them (a NixOS user's home is /var/empty unless
# isNormalUser sets it; nix-darwin's is null; every unit's path gets
# coreutils, findutils, gnugrep, gnused and systemd); an option the real
# systems do not have is an error here too. The modules under test are the
# real ones. Used by tests/nix_modules.rs.
{
  nixpkgs,
  platform,
  # What bin/hearth is: null (a store path never built: evaluation only),
  # the real binary (a path), or a shell script's text standing in for the
  # binary where the test is about the shell around it (darwin's loop).
  hearthBin ? null,
  hearthScript ? null,
  # users.users for alice and bob, replacing the declarations below (the
  # assertion tests leave users undeclared or half-declared).
  users ? null,
  # A module added to the configuration.
  extra ? { },
  # A flake to evaluate with stand-ins of its inputs (`nixpkgs`,
  # `nix-darwin`, `hearth`): the README's examples.
  flake ? null,
}:
let
  lib = import ./lib.nix nixpkgs;
  inherit (lib) mkOption types;

  fake = import ./stubs.nix;
  inherit (fake) run tool;

  hearth = fake.hearthPackage { inherit hearthBin hearthScript; };

  pkgs = {
    inherit hearth;
    runtimeShell = "/bin/sh";
    stdenv.buildPlatform.system = builtins.currentSystem;
    writeText = builtins.toFile;
    coreutils = tool "coreutils";
    findutils = tool "findutils";
    gnugrep = tool "gnugrep";
    gnused = tool "gnused";
    util-linux = tool "util-linux";
    ripgrep = tool "ripgrep";
    hello = tool "hello-2.12";
  };

  str = types.str;
  strs = types.listOf types.str;
  option = type: default: mkOption { inherit type default; };

  # What both platforms have.
  common = {
    options = {
      assertions = option (types.listOf types.raw) [ ];
      warnings = option (types.listOf types.str) [ ];
      environment.extraInit = option types.lines "";
      environment.etc = option (types.attrsOf (
        types.submodule {
          options.text = option (types.nullOr types.lines) null;
          options.source = option (types.nullOr types.path) null;
        }
      )) { };
      programs.fish.shellInit = option types.lines "";
      nix.package = option types.package (tool "nix");
      system.activationScripts = option (types.attrsOf (
        types.submodule {
          options.text = option types.lines "";
          options.supportsDryActivation = option types.bool false;
        }
      )) { };
    };
    config._module.args.pkgs = pkgs;
  };

  nixos = top: {
    options = {
      users.users = option (types.attrsOf (
        types.submodule (
          { name, config, ... }:
          {
            options = {
              name = option str name;
              # nixos/modules/config/users-groups.nix
              home = option types.path "/var/empty";
              isNormalUser = option types.bool false;
              isSystemUser = option types.bool false;
              group = option str "";
              createHome = option types.bool false;
              packages = option (types.listOf types.package) [ ];
            };
            config = lib.mkIf config.isNormalUser {
              home = lib.mkDefault "/home/${name}";
              group = lib.mkDefault "users";
              createHome = lib.mkDefault true;
            };
          }
        )
      )) { };
      systemd.package = option types.package (tool "systemd");
      systemd.targets = option (types.attrsOf (
        types.submodule {
          options = {
            description = option str "";
            wantedBy = option strs [ ];
            unitConfig = option (types.attrsOf types.raw) { };
          };
        }
      )) { };
      # nixos/lib/systemd-lib.nix, systemd-unit-options.nix
      systemd.services = option (types.attrsOf (
        types.submodule (
          { config, ... }:
          {
            options = {
              description = option str "";
              wantedBy = option strs [ ];
              partOf = option strs [ ];
              before = option strs [ ];
              after = option strs [ ];
              wants = option strs [ ];
              requires = option strs [ ];
              unitConfig = option (types.attrsOf types.raw) { };
              serviceConfig = option (types.attrsOf types.raw) { };
              environment = option (types.attrsOf (types.nullOr (types.either str types.package))) { };
              path = option (types.listOf (types.either types.package str)) [ ];
              restartIfChanged = option types.bool true;
              stopIfChanged = option types.bool true;
            };
            config = {
              path = lib.mkAfter [
                pkgs.coreutils
                pkgs.findutils
                pkgs.gnugrep
                pkgs.gnused
                top.config.systemd.package
              ];
              environment.PATH = "${lib.makeBinPath config.path}:${lib.makeSearchPathOutput "bin" "sbin" config.path}";
            };
          }
        )
      )) { };
    };
  };

  darwin = {
    options = {
      users.users = option (types.attrsOf (
        types.submodule (
          { name, ... }:
          {
            options = {
              # nix-darwin's modules/users/user.nix
              name = option str name;
              home = option (types.nullOr types.path) null;
              createHome = option types.bool false;
              packages = option (types.listOf types.package) [ ];
            };
          }
        )
      )) { };
    };
  };

  defaultUsers =
    if users != null then
      users
    else if platform == "nixos" then
      {
        alice.isNormalUser = true;
        bob.isNormalUser = true;
      }
    else
      {
        alice.home = "/Users/alice";
        bob.home = "/Users/bob";
      };

  # The system configuration, as nixosSystem / darwinSystem evaluate it.
  system =
    platform: modules:
    lib.evalModules {
      modules = [
        common
        (if platform == "nixos" then nixos else darwin)
        (if platform == "nixos" then ../../nixos-module else ../../darwin-module)
      ] ++ modules;
    };

  evaluated = system platform [
    extra
    {
      users.users = defaultUsers;
      hearth.users.alice =
        { options, ... }:
        {
          config = {
            home.file.".vimrc".text = "set number\n";
            home.packages = [ (tool "hello-2.12") ];
            home.sessionVariables.EDITOR = "vim";
          }
          # The generation names the packages environment the system
          # installs (`systemPackages`): building it builds that too, whose
          # session variables script needs coreutils. A home evaluated by
          # Home Manager's modules (the bridge) has no such option.
          // lib.optionalAttrs (hearthBin != null && options ? hearth) {
            hearth.coreutils = fake.hostCoreutils;
          };
        };
      hearth.users.bob.home.file.".bobrc".text = "bob\n";
    }
  ];
  inherit (evaluated) config;
  gen = user: config.hearth.users.${user}.home.generation;

  failed = config: map (a: a.message) (builtins.filter (a: !a.assertion) config.assertions);

  # The flake's outputs, with stand-ins of its inputs.
  flakeOutputs =
    let
      inputs = {
        nixpkgs.lib.nixosSystem = args: system "nixos" args.modules;
        nix-darwin.lib.darwinSystem = args: system "darwin" args.modules;
        hearth = {
          nixosModules.default = ../../nixos-module;
          darwinModules.default = ../../darwin-module;
        };
      };
      outputs = (import flake).outputs (inputs // { self = outputs; });
    in
    outputs;

  # What a configuration of the flake amounts to: its failed assertions and
  # warnings, and each home's generation (instantiated).
  summary = c: {
    failedAssertions = failed c.config;
    inherit (c.config) warnings;
    generations = lib.mapAttrs (_: h: h.home.generation.drvPath) c.config.hearth.users;
    activation = lib.mapAttrs (_: h: map (s: s.name) h.home.activationOrder) c.config.hearth.users;
  };
in
{
  inherit config;
  hearthPackage = config.hearth.package;
  generation = gen "alice";
  generations = {
    alice = (gen "alice").outPath;
    bob = (gen "bob").outPath;
  };
  failedAssertions = failed config;
  alicePackages = map (p: p.name) config.users.users.alice.packages;
  bobPackages = config.users.users.bob.packages;
  alicePackagesInManifest = config.hearth.users.alice.home.generationSpec.packages;
  units = lib.mapAttrs (_: u: {
    inherit (u)
      description
      wantedBy
      partOf
      before
      after
      environment
      restartIfChanged
      stopIfChanged
      serviceConfig
      unitConfig
      ;
  }) config.systemd.services;
  targets = config.systemd.targets;
  homesJson = config.environment.etc."hearth/homes.json".text;
  extraInit = config.environment.extraInit;
  fishInit = config.programs.fish.shellInit;
  activationScripts = lib.mapAttrs (_: s: { inherit (s) text supportsDryActivation; }) config.system.activationScripts;
  readme = lib.mapAttrs (_: lib.mapAttrs (_: summary)) (
    lib.filterAttrs (
      n: _:
      lib.elem n [
        "nixosConfigurations"
        "darwinConfigurations"
      ]
    ) flakeOutputs
  );
}
