# hearth on NixOS: one oneshot unit per user, `hearth-<user>.service`, that
# applies the user's generation as that user, at boot and on every switch;
# `nixos-rebuild dry-activate` prints each user's plan. Never runs hearth as
# root.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.hearth;

  hearthExe = "${cfg.package}/bin/hearth";

  unitName = name: "hearth-${name}";

  unit = name: h: {
    description = "hearth: the home of ${h.home.username}";
    wantedBy = [ "multi-user.target" ];
    before = [ "systemd-user-sessions.service" ];
    wants = [ "nix-daemon.socket" ];
    # tmpfiles may create the home on a /home mounted late in the boot.
    after = [
      "nix-daemon.socket"
      "systemd-tmpfiles-setup.service"
    ];
    unitConfig.RequiresMountsFor = h.home.homeDirectory;

    # The unit changes with the generation, and switch-to-configuration
    # restarts it then; the activation script below also restarts it on
    # switches that did not change it, to repair drift.
    restartTriggers = [ h.home.generation ];
    restartIfChanged = true;
    stopIfChanged = false;

    # nix-env / nix-store for the GC roots; the rest for hooks and steps.
    path = [
      config.nix.package
      pkgs.coreutils
      pkgs.findutils
      pkgs.gnugrep
      pkgs.gnused
      config.systemd.package
    ];
    environment = {
      HOME = h.home.homeDirectory;
      USER = h.home.username;
    };

    serviceConfig = {
      Type = "oneshot";
      RemainAfterExit = true;
      User = h.home.username;
      ExecStart = "${hearthExe} activate ${h.home.generation}";
      SyslogIdentifier = unitName name;
    };
  };

  # Runs on every activation: on a switch, puts every hearth unit on the list
  # of units switch-to-configuration restarts (so each home is checked and
  # repaired even when its generation is unchanged; a failure is reported as
  # a failed unit with hearth's summary); on dry-activate, prints the plans.
  activationScript = ''
    case "''${NIXOS_ACTION-}" in
    dry-activate)
    ${lib.concatStrings (
      lib.mapAttrsToList (name: h: ''
        echo "hearth: what activating the home of ${name} would do:"
        ${pkgs.util-linux}/bin/runuser -u ${lib.escapeShellArg h.home.username} -- \
          ${pkgs.coreutils}/bin/env HOME=${lib.escapeShellArg h.home.homeDirectory} \
          ${hearthExe} plan ${h.home.generation} || true
      '') cfg.users
    )}  ;;
    switch | test)
      mkdir -p /run/nixos
    ${lib.concatStrings (
      lib.mapAttrsToList (name: _: ''
        echo ${lib.escapeShellArg "${unitName name}.service"} >> /run/nixos/activation-restart-list
      '') cfg.users
    )}  ;;
    esac
  '';
in
{
  imports = [ ./shared.nix ];

  config = lib.mkIf (cfg.users != { }) {
    systemd.services = lib.mapAttrs' (name: h: lib.nameValuePair (unitName name) (unit name h)) cfg.users;

    system.activationScripts.hearth = {
      supportsDryActivation = true;
      text = activationScript;
    };
  };
}
