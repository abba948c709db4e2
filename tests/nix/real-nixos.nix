# Evaluates hearth's NixOS module together with the REAL NixOS module files
# it interacts with (not stand-ins): misc/assertions.nix,
# config/users-groups.nix, system/activation/activation-script.nix,
# system/activation/restrict-activation-scripts.nix (when present),
# config/shells-environment.nix, system/etc/etc.nix, and NixOS's own unit
# machinery (nixos/lib/utils.nix, systemd-lib.nix, systemd-unit-options.nix,
# systemd-types.nix). The files come from a directory mirroring nixpkgs'
# `nixos/` (see DEVELOPERS.md); nothing here is committed from nixpkgs.
#
# What is NOT real, and why:
# - `pkgs` is a set of small fake derivations (builder /bin/sh), enough for
#   the store paths the modules interpolate.
# - nixos/modules/system/boot/systemd.nix is not evaluated: its config sets
#   some forty options of unrelated modules (nss, logrotate, sysctl, dbus,
#   kernel config, ...). `systemdGlue` below declares the systemd.* options
#   hearth and the modules above use, with the real types from
#   systemd-types.nix, and turns services and targets into `systemd.units`
#   exactly as systemd.nix does (`mapAttrs' (_: withName serviceToUnit)`),
#   so the unit text is NixOS's own rendering.
# - `stubs` declares, with their real defaults, the few options the real
#   modules read or set that belong to modules not evaluated here (ids,
#   nix, environment.systemPackages, ...). Each says where the real one is.
#
# Used by tests/nix_real.rs; by hand:
#   nix-instantiate --eval --strict --json tests/nix/real-nixos.nix \
#     --arg nixpkgs-lib /work/inputs/nixpkgs.lib --arg nixos /work/inputs/nixos -A report
{
  nixpkgs-lib,
  # A directory holding nixpkgs' nixos/ subtree (at least the files above).
  nixos,
  # The module under test: this checkout's, or another worktree's.
  hearthModule ? ../../nixos-module,
  # null: hearth is a store path never built (evaluation only); a path: the
  # real binary, so that the package and the generations can be built.
  hearthBin ? null,
  # The users: name -> home directory, or null for NixOS's default
  # (isNormalUser: /home/NAME). Every user gets the same small home.
  users ? {
    alice = null;
    bob = null;
  },
  # One more module (Nix source), e.g. a user hearth does not know.
  extraModule ? { },
  # null, or this machine's directory holding nix-store and nix-env (a
  # string): `pkgs.nix` then links them, so that a unit's PATH has the Nix
  # tools hearth runs when the unit's command is run for real.
  hostNix ? null,
}:
let
  lib = import ./lib.nix nixpkgs-lib;
  inherit (lib) mkOption types;

  nixosDir = nixos + "/nixos";
  module = rel: nixosDir + "/modules/${rel}";

  fake = import ./stubs.nix;
  inherit (fake)
    run
    tool
    shell
    writeText
    runCommand
    ;

  pkgs = rec {
    runtimeShell = "/bin/sh";
    stdenv = {
      shell = "/bin/sh";
      buildPlatform.system = builtins.currentSystem;
      hostPlatform.system = builtins.currentSystem;
      cc.libc = tool "glibc";
    };
    inherit writeText runCommand;
    runCommandLocal = runCommand;
    writeScript = writeText;
    writeShellScript = writeText;
    buildEnv = { name, ... }: tool name;
    buildPackages = {
      xorg.lndir = tool "lndir";
    };
    coreutils = tool "coreutils";
    findutils = tool "findutils";
    gnugrep = tool "gnugrep";
    gnused = tool "gnused";
    getent = tool "getent";
    nettools = tool "nettools";
    util-linux = tool "util-linux";
    systemd = tool "systemd";
    nix =
      if hostNix == null then
        tool "nix"
      else
        run "nix" ''
          mkdir -p "$out/bin"
          for t in nix-store nix-env nix; do ln -s ${hostNix}/$t "$out/bin/$t"; done
        '';
    perl = tool "perl";
    libxcrypt.enabledCryptSchemeIds = [
      "y"
      "gy"
      "7"
      "2b"
      "2y"
      "2a"
      "6"
      "5"
    ];
    shadow = tool "shadow";
    bashInteractive = shell "bash-interactive" "/bin/bash";
    fish = shell "fish" "/bin/fish";
    zsh = shell "zsh" "/bin/zsh";
    xonsh = shell "xonsh" "/bin/xonsh";
  };

  utilsOf =
    config:
    import (nixosDir + "/lib/utils.nix") {
      inherit lib config pkgs;
    };

  # The systemd.* options the evaluated modules use, with NixOS's types, and
  # units made from services and targets as systemd.nix makes them.
  systemdGlue =
    { config, utils, ... }:
    let
      inherit (utils) systemdUtils;
      cfg = config.systemd;
      withName = cfgToUnit: c: lib.nameValuePair c.name (cfgToUnit c);
    in
    {
      options.systemd = {
        package = mkOption { default = pkgs.systemd; };
        packages = mkOption {
          type = types.listOf types.package;
          default = [ ];
        };
        units = mkOption {
          type = systemdUtils.types.units;
          default = { };
        };
        services = mkOption {
          type = systemdUtils.types.services;
          default = { };
        };
        targets = mkOption {
          type = systemdUtils.types.targets;
          default = { };
        };
        # systemd.nix: attrsOf (nullOr (oneOf [ str path package ])), default {}.
        globalEnvironment = mkOption {
          type = types.attrsOf (
            types.nullOr (
              types.oneOf [
                types.str
                types.path
                types.package
              ]
            )
          );
          default = { };
        };
        # systemd.nix: mkEnableOption (default false).
        enableStrictShellChecks = mkOption {
          type = types.bool;
          default = false;
        };
        # From system/boot/systemd/{tmpfiles,sysusers}.nix and user.nix;
        # the evaluated modules set them, nothing here reads them.
        tmpfiles.rules = mkOption {
          type = types.listOf types.str;
          default = [ ];
        };
        sysusers.enable = mkOption {
          type = types.bool;
          default = false;
        };
        user.services = mkOption {
          type = types.lazyAttrsOf types.raw;
          default = { };
        };
      };
      config.systemd.units =
        lib.mapAttrs' (_: withName systemdUtils.lib.serviceToUnit) cfg.services
        // lib.mapAttrs' (_: withName systemdUtils.lib.targetToUnit) cfg.targets;
    };

  # Options of modules not evaluated here, declared with their real types
  # and defaults (where they live in nixpkgs is named on each).
  stubs = {
    options = {
      # misc/meta.nix
      meta = mkOption {
        type = types.lazyAttrsOf types.raw;
        default = { };
      };
      # misc/ids.nix (the numbers of the accounts users-groups.nix creates)
      ids = mkOption {
        type = types.raw;
        default = {
          uids = {
            root = 0;
            nobody = 65534;
          };
          gids = lib.listToAttrs (
            lib.imap1 (gid: name: lib.nameValuePair name gid) [
            "root"
            "wheel"
            "disk"
            "kmem"
            "tty"
            "floppy"
            "uucp"
            "lp"
            "cdrom"
            "tape"
            "audio"
            "video"
            "dialout"
            "nogroup"
            "users"
            "nixbld"
            "utmp"
            "adm"
            "input"
            "kvm"
            "render"
            "sgx"
              "shadow"
            ]
          );
        };
      };
      # programs/shadow.nix
      users.defaultUserShell = mkOption {
        type = types.either types.path types.shellPackage;
        default = pkgs.bashInteractive;
      };
      # services/system/nix-daemon.nix, config/nix.nix
      nix.enable = mkOption {
        type = types.bool;
        default = true;
      };
      nix.package = mkOption {
        type = types.package;
        default = pkgs.nix;
      };
      # config/system-path.nix
      environment.systemPackages = mkOption {
        type = types.listOf types.package;
        default = [ ];
      };
      environment.pathsToLink = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      environment.extraOutputsToInstall = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      system.path = mkOption {
        type = types.raw;
        default = {
          ignoreCollisions = true;
          postBuild = "";
        };
      };
      # config/system-environment.nix
      environment.sessionVariables = mkOption {
        type = types.attrsOf types.raw;
        default = { };
      };
      environment.profileRelativeSessionVariables = mkOption {
        type = types.attrsOf (types.listOf types.str);
        default = { };
      };
      # system/boot/systemd/initrd.nix
      boot.initrd.systemd.enable = mkOption {
        type = types.bool;
        default = false;
      };
      boot.initrd.systemd.contents = mkOption {
        type = types.raw;
        default = { };
      };
      boot.initrd.systemd.storePaths = mkOption {
        type = types.raw;
        default = [ ];
      };
      # security/google_oslogin.nix
      security.googleOsLogin.enable = mkOption {
        type = types.bool;
        default = false;
      };
      # programs/{fish,zsh,xonsh}.nix
      programs.fish.enable = mkOption {
        type = types.bool;
        default = false;
      };
      # programs/fish.nix (not evaluated: it builds fish's completions and
      # config files); these are its types and defaults.
      programs.fish.shellInit = mkOption {
        type = types.lines;
        default = "";
      };
      programs.fish.loginShellInit = mkOption {
        type = types.lines;
        default = "";
      };
      programs.fish.interactiveShellInit = mkOption {
        type = types.lines;
        default = "";
      };
      programs.zsh.enable = mkOption {
        type = types.bool;
        default = false;
      };
      programs.xonsh.enable = mkOption {
        type = types.bool;
        default = false;
      };
    };
    # system/boot/stage-2.nix builds it; activation-script.nix's specialfs
    # snippet names it.
    config.system.build.earlyMountScript = writeText "early-mount" "";
  };

  restrict = module "system/activation/restrict-activation-scripts.nix";

  hearthPackage = fake.hearthPackage { inherit hearthBin; };

  homes = {
    hearth.package = hearthPackage;
    users.users = lib.mapAttrs (
      _: home:
      {
        isNormalUser = true;
      }
      // lib.optionalAttrs (home != null) { inherit home; }
    ) users;
    hearth.users = lib.mapAttrs (
      name: _:
      { lib, ... }:
      {
        home.file.".config/hearth-check/rc".text = "hello ${name}\n";
        home.packages = [ (tool "hello-2.12") ];
        # The generation names the packages environment the system
        # installs (`systemPackages`), so building it builds that too,
        # whose session variables script needs coreutils.
        hearth.coreutils = lib.mkIf (hearthBin != null) fake.hostCoreutils;
        home.sessionVariables.EDITOR = "vim";
        home.activation.greet = lib.hm.dag.entryAfter [ "writeBoundary" ] ''
          echo "greeted $USER" > "$HOME/.hearth-check-greeted"
        '';
      }
    ) users;
  };

  evaluated = lib.evalModules {
    modules = [
      (module "misc/assertions.nix")
      (module "config/users-groups.nix")
      (module "system/activation/activation-script.nix")
      (module "config/shells-environment.nix")
      (module "system/etc/etc.nix")
      systemdGlue
      stubs
      (
        { config, ... }:
        {
          _module.args = {
            inherit pkgs;
            utils = utilsOf config;
          };
        }
      )
      hearthModule
      homes
      extraModule
    ]
    ++ lib.optional (builtins.pathExists restrict) restrict;
  };
  inherit (evaluated) config;

  hearthUnits = lib.filterAttrs (n: _: lib.hasPrefix "hearth" n) config.systemd.units;
  scripts = lib.removeAttrs config.system.activationScripts [ "script" ];
  homesJson = config.environment.etc."hearth/homes.json" or null;
in
{
  inherit config;
  inherit hearthPackage;
  hasRestrictActivationScripts = builtins.pathExists restrict;
  # name -> the unit file's text, as NixOS writes it to /etc/systemd/system.
  units = lib.mapAttrs (_: u: u.text) hearthUnits;
  # The .wants links NixOS makes (a target's WantedBy is not in its text).
  wantedBy = lib.mapAttrs (_: u: u.wantedBy) hearthUnits;
  failedAssertions = map (a: a.message) (lib.filter (a: !a.assertion) config.assertions);
  inherit (config) warnings;
  # hearth's activation scripts (NixOS's own are not forced: their text
  # needs packages the stub pkgs lacks).
  hearthActivationScripts = lib.filter (lib.hasPrefix "hearth") (lib.attrNames scripts);
  homesJson =
    if homesJson == null then
      null
    else if homesJson.text != null then
      homesJson.text
    else
      builtins.readFile homesJson.source;
  setEnvironment = config.system.build.setEnvironment.text;
  generations = lib.mapAttrs (_: h: h.home.generation.outPath) config.hearth.users;
  # name -> the store paths in users.users.<name>.packages.
  userPackages = lib.mapAttrs (
    name: _: map (p: p.outPath) config.users.users.${name}.packages
  ) config.hearth.users;
  # Everything a build needs for the units to be run: the generations, the
  # hearth package, and the Nix on the units' PATH.
  build = [
    hearthPackage
    config.nix.package
  ]
  ++ lib.mapAttrsToList (_: h: h.home.generation) config.hearth.users;
  # The options hearth's module read or set, as the real modules see them.
  report = {
    units = lib.mapAttrs (_: u: u.text) hearthUnits;
    failedAssertions = map (a: a.message) (lib.filter (a: !a.assertion) config.assertions);
    inherit (config) warnings;
  };
}
