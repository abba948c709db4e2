# The module evaluation tests as a derivation, for `nix flake check` (the
# same checks as tests/nix_modules.rs, which runs them with only nixpkgs'
# lib): the home module, and on Linux a NixOS system with two homes.
{
  pkgs,
  nixpkgs,
}:
let
  inherit (pkgs) lib;

  home = import ./home.nix {
    inherit nixpkgs;
    module =
      { lib, ... }:
      {
        xdg.configFile."git/config".text = "[user]\n";
        home.file."/home/alice/.profile".text = "x";
        home.activation.late = lib.hm.dag.entryAfter [ "writeBoundary" ] "true";
        home.activation.early = lib.hm.dag.entryBefore [ "files" ] "true";
      };
  };

  nixos =
    (import (nixpkgs + "/nixos/lib/eval-config.nix") {
      inherit (pkgs.stdenv.hostPlatform) system;
      modules = [
        ../../nixos-module
        {
          boot.loader.grub.enable = false;
          fileSystems."/".device = "/dev/vda";
          system.stateVersion = lib.trivial.release;
          users.users.alice.isNormalUser = true;
          users.users.bob.isNormalUser = true;
          hearth.users.alice = {
            home.file.".vimrc".text = "set number\n";
            home.packages = [ pkgs.hello ];
            home.sessionVariables.EDITOR = "vim";
          };
          hearth.users.bob.home.file.".bobrc".text = "bob\n";
        }
      ];
    }).config;

  unit = nixos.systemd.services.hearth-alice;

  checks = {
    targets = home.targets == [
      ".config/git/config"
      ".profile"
    ];
    phases =
      map (s: [
        s.name
        s.after
      ]) home.activation == [
        [
          "early"
          "check"
        ]
        [
          "late"
          "files"
        ]
      ];
  }
  // lib.optionalAttrs pkgs.stdenv.hostPlatform.isLinux {
    unitUser = unit.serviceConfig.User == "alice";
    unitOneshot = unit.serviceConfig.Type == "oneshot" && unit.serviceConfig.RemainAfterExit;
    unitMounts = unit.unitConfig.RequiresMountsFor == "/home/alice";
    unitWanted = builtins.elem "multi-user.target" unit.wantedBy;
    unitBefore = builtins.elem "systemd-user-sessions.service" unit.before;
    bobUnit = nixos.systemd.services ? hearth-bob;
    packages = builtins.elem nixos.hearth.users.alice.home.path nixos.users.users.alice.packages;
    bobNoPackages = nixos.users.users.bob.packages == [ ];
    sessionInit = lib.hasInfix "hm-session-vars.sh" nixos.environment.extraInit;
    noManifestPackages = nixos.hearth.users.alice.home.generationSpec.packages == null;
    dryActivate = nixos.system.activationScripts.hearth.supportsDryActivation;
  };

  failed = lib.attrNames (lib.filterAttrs (_: ok: !ok) checks);
in
if failed != [ ] then
  throw "hearth module evaluation checks failed: ${lib.concatStringsSep ", " failed}"
else
  pkgs.runCommand "hearth-eval-checks" { } ''
    echo ${lib.escapeShellArg (builtins.toJSON (lib.attrNames checks))} > $out
  ''
