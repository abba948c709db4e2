# Evaluates hearth's nix-darwin module together with the REAL nix-darwin
# module files it interacts with (not stand-ins), from a nix-darwin checkout
# (see DEVELOPERS.md; nothing here is committed from nix-darwin):
#   system/default.nix             assertions, warnings, system.build
#   system/activation-scripts.nix  the `activate` script and where
#                                  postActivation goes in it
#   system/checks.nix              the checks fragment (system.checks.text)
#   system/etc.nix                 environment.etc and its fragments
#   system/primary-user.nix        system.primaryUser and its assertion
#   users/default.nix (+ user.nix, group.nix): users.users (home defaults
#                                  to null), knownUsers, user creation
#   environment/default.nix        extraInit, set-environment
#   config/system-path.nix         systemPackages, systemPath, system.path
#   programs/fish.nix              /etc/fish/config.fish (fish enabled)
#   misc/ids.nix                   the ids checks.nix reads
#
# What is NOT real, and why:
# - `pkgs` is a set of small fake derivations (builder /bin/sh), enough for
#   the store paths the modules interpolate; `stdenv.shell` is /bin/bash,
#   as nixpkgs' stdenv on macOS is bash (the `activate` script's shebang is
#   `#!/usr/bin/env -i ${stdenv.shell}` and it uses bash syntax).
# - `stubs` declares, with their real types and defaults, the options the
#   real modules read that belong to modules not evaluated here (nix.*,
#   homebrew.*, power.*, nixpkgs.flake.*, system.stateVersion); each names
#   the file the real one is in.
# - The activation fragments of modules not evaluated here (launchd,
#   defaults, homebrew, ...) exist and are empty: `activate` names them all.
#   The real ones write something even in a small system; the fragments
#   hearth's must come after and must not disturb are the ones above
#   (checks, users, etc).
#
# Used by tests/nix_real.rs; by hand:
#   nix-instantiate --eval --strict --json tests/nix/real-darwin.nix \
#     --arg nixpkgs-lib /work/inputs/nixpkgs.lib --arg darwin /work/inputs/nix-darwin -A report
{
  nixpkgs-lib,
  # A nix-darwin checkout (the directory holding modules/).
  darwin,
  # The module under test: this checkout's, or another worktree's.
  hearthModule ? ../../darwin-module,
  # null: hearth is a store path never built (evaluation only); a path: the
  # real binary, so that the package and the generations can be built.
  hearthBin ? null,
  # The users: name -> home directory (null: nix-darwin's default, null).
  # Every user gets the same small home.
  users ? {
    alice = "/Users/alice";
    bob = "/Users/bob";
  },
  # The users nix-darwin creates (users.knownUsers; they get a uid). A user
  # not listed is one that exists already, as the one running darwin-rebuild.
  knownUsers ? [ "alice" ],
  # One more module (Nix source), e.g. a user hearth does not know.
  extraModule ? { },
}:
let
  lib = import ./lib.nix nixpkgs-lib;
  inherit (lib) mkOption types;

  module = rel: darwin + "/modules/${rel}";

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
      shell = "/bin/bash";
      buildPlatform.system = builtins.currentSystem;
      hostPlatform.system = builtins.currentSystem;
      hostPlatform.isDarwin = true;
    };
    stdenvNoCC = stdenv;
    inherit writeText runCommand;
    runCommandLocal = runCommand;
    writeScript = writeText;
    writeShellScript = writeText;
    # users/default.nix reads `postBuild` of system.path (a buildEnv).
    buildEnv =
      {
        name,
        postBuild ? "",
        ...
      }:
      (tool name) // { inherit postBuild; };
    coreutils = tool "coreutils";
    gnugrep = tool "gnugrep";
    jq = tool "jq";
    nix = tool "nix";
    fish = shell "fish" "/bin/fish";
    fishPlugins.foreign-env = tool "fish-foreign-env";
    babelfish = tool "babelfish";
    bashInteractive = shell "bash-interactive" "/bin/bash";
  };

  # Options of modules not evaluated here, declared with their real types
  # and defaults (the file of nix-darwin's modules/ is named on each).
  stubs = {
    options = {
      # nix/default.nix
      nix.enable = mkOption {
        type = types.bool;
        default = true;
      };
      nix.package = mkOption {
        type = types.package;
        default = pkgs.nix;
      };
      nix.nixPath = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      nix.settings = mkOption {
        type = types.attrsOf types.raw;
        default = { };
      };
      # nix/nixpkgs-flake.nix (default: nix.enable && nixpkgs.flake.source != null;
      # this configuration has no flake source)
      nixpkgs.flake.setNixPath = mkOption {
        type = types.bool;
        default = false;
      };
      # homebrew.nix
      homebrew.enable = mkOption {
        type = types.bool;
        default = false;
      };
      # power/default.nix
      power.restartAfterPowerFailure = mkOption {
        type = types.nullOr types.bool;
        default = null;
      };
      # system/version.nix (real default: system.maxStateVersion, with an
      # assertion that it is set; the configuration below sets it)
      system.stateVersion = mkOption {
        type = types.ints.between 1 7;
      };
      # programs/bash, programs/zsh (users/default.nix reads them for a
      # user whose shell is bash or zsh)
      programs.bash.enable = mkOption {
        type = types.bool;
        default = true;
      };
      programs.zsh.enable = mkOption {
        type = types.bool;
        default = true;
      };
    };
    # The fragments system/activation-scripts.nix puts in `activate` whose
    # modules are not evaluated here: present, empty.
    config.system.activationScripts = lib.genAttrs [
      "createRun"
      "applications"
      "pam"
      "patches"
      "openssh"
      "defaults"
      "userDefaults"
      "launchd"
      "userLaunchd"
      "nix-daemon"
      "time"
      "networking"
      "power"
      "keyboard"
      "fonts"
      "nvram"
      "homebrew"
    ] (_: { });
  };

  hearthPackage = fake.hearthPackage { inherit hearthBin; };

  # The configuration a nix-darwin user writes: users declared with their
  # home (the known ones with a uid, so that nix-darwin creates them).
  homes = {
    system.stateVersion = 6;
    programs.fish.enable = true;
    hearth.package = hearthPackage;
    users.knownUsers = knownUsers;
    users.users = lib.mapAttrs (
      name: home:
      lib.optionalAttrs (home != null) { inherit home; }
      // lib.optionalAttrs (lib.elem name knownUsers) {
        uid = 600 + lib.lists.findFirstIndex (n: n == name) 0 (lib.attrNames users);
      }
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

  modules = [
    (module "system/default.nix")
    (module "system/activation-scripts.nix")
    (module "system/checks.nix")
    (module "system/etc.nix")
    (module "system/primary-user.nix")
    (module "users/default.nix")
    (module "environment/default.nix")
    (module "config/system-path.nix")
    (module "programs/fish.nix")
    (module "misc/ids.nix")
    stubs
    { _module.args = { inherit pkgs; }; }
    hearthModule
    homes
    extraModule
  ];

  evaluated = lib.evalModules { inherit modules; };
  inherit (evaluated) config;

  # The same system with every fragment but postActivation emptied: the
  # part of `activate` that can run on this machine (the fragments
  # themselves call dscl, launchctl, ... and rewrite /etc).
  fragments = lib.attrNames (lib.removeAttrs config.system.activationScripts [ "script" ]);
  onlyPost = lib.evalModules {
    modules = modules ++ [
      {
        system.activationScripts = lib.genAttrs (lib.remove "postActivation" fragments) (_: {
          text = lib.mkForce "";
        });
      }
    ];
  };
  # What follows the fragments in `activate` makes /run/current-system a GC
  # root of the built system: not for this machine.
  tail = "# Make this configuration the current configuration.";
  activateHead =
    let
      text = onlyPost.config.system.activationScripts.script.text;
      parts = lib.splitString tail text;
    in
    assert lib.length parts == 2;
    lib.head parts;

  homesJson = config.environment.etc."hearth/homes.json" or null;
  failedAssertions = map (a: a.message) (lib.filter (a: !a.assertion) config.assertions);
in
{
  inherit config hearthPackage failedAssertions;
  inherit (config) warnings;
  # The whole `activate` script nix-darwin renders (before @out@ is
  # substituted at build time).
  activate = config.system.activationScripts.script.text;
  postActivation = config.system.activationScripts.postActivation.text;
  inherit activateHead;
  homesJson =
    if homesJson == null then
      null
    else if homesJson.text != null then
      homesJson.text
    else
      builtins.readFile homesJson.source;
  setEnvironment = config.system.build.setEnvironment.text;
  fishConfig = config.environment.etc."fish/config.fish".text;
  generations = lib.mapAttrs (_: h: h.home.generation.outPath) config.hearth.users;
  # Everything a run of `activate` needs: the generations and the hearth
  # package.
  build = [ hearthPackage ] ++ lib.mapAttrsToList (_: h: h.home.generation) config.hearth.users;
  report = {
    inherit failedAssertions;
    inherit (config) warnings;
    postActivation = config.system.activationScripts.postActivation.text;
  };
}
