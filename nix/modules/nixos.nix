# hearth on NixOS: one oneshot unit per user, `hearth-<user>.service`, that
# applies the user's generation as that user, at boot and on every switch.
# Never runs hearth as root, and defines no activation script (deprecated in
# nixpkgs, and not run at all with `system.nixos-init.enable`).
{
  config,
  lib,
  ...
}:
let
  cfg = config.hearth;

  hearthExe = "${cfg.package}/bin/hearth";

  unitName = name: "hearth-${name}";

  unit = name: h: {
    description = "hearth: the home of ${h.home.username}";
    wantedBy = [ "hearth.target" ];
    # Stopped with the target, so that starting the target starts it again.
    partOf = [ "hearth.target" ];
    # Homes are in place before anyone logs in.
    before = [
      "hearth.target"
      "systemd-user-sessions.service"
    ];
    wants = [ "nix-daemon.socket" ];
    # tmpfiles may create the home on a /home mounted late in the boot.
    after = [
      "nix-daemon.socket"
      "systemd-tmpfiles-setup.service"
    ];
    unitConfig.RequiresMountsFor = h.home.homeDirectory;

    # ExecStart names the generation: a new generation is a changed unit,
    # which switch-to-configuration restarts (after the switch, not before).
    restartIfChanged = true;
    stopIfChanged = false;

    # nix-env / nix-store for the GC roots. NixOS adds coreutils, findutils,
    # gnugrep, gnused and systemd to every unit's path, for hooks and steps.
    path = [ config.nix.package ];
    # The user's own environment, never root's: hearth adds XDG_RUNTIME_DIR
    # and DBUS_SESSION_BUS_ADDRESS itself when the user's manager runs.
    environment = {
      HOME = h.home.homeDirectory;
      USER = h.home.username;
      LOGNAME = h.home.username;
    };

    serviceConfig = {
      Type = "oneshot";
      RemainAfterExit = true;
      User = h.home.username;
      ExecStart = "${hearthExe} activate ${h.home.generation}";
      SyslogIdentifier = unitName name;
      # A oneshot has no start timeout by default: a hanging step would
      # block the switch, and at boot every login (user sessions wait).
      TimeoutStartSec = cfg.activationTimeout;
    };
  };
in
{
  imports = [ ./shared.nix ];

  config = lib.mkIf (cfg.users != { }) {
    hearth.internal.userProblem =
      name: user:
      if !(user.isNormalUser || user.isSystemUser) then
        "the user ${name} is not declared; set users.users.${name}.isNormalUser = true; (or users.users.${name}.isSystemUser = true; with users.users.${name}.group and users.users.${name}.home)"
      else if user.home == "/var/empty" then
        "the home directory of ${name} is /var/empty (the default of a system user); set users.users.${name}.home (e.g. \"/var/lib/${name}\") and users.users.${name}.createHome = true;"
      else
        null;

    # Every switch re-applies every home, changed or not, to repair drift:
    # switch-to-configuration(-ng) stops the active targets that set
    # X-StopOnReconfiguration before it activates the new system (PartOf
    # takes the hearth units down with it: a oneshot's stop does nothing)
    # and starts every active target again afterwards, which starts each
    # hearth unit once more. This needs no activation script, so it works
    # with system.nixos-init.enable too. At boot, multi-user.target pulls the
    # target in.
    systemd.targets.hearth = {
      description = "hearth: the homes of all users";
      wantedBy = [ "multi-user.target" ];
      unitConfig.X-StopOnReconfiguration = true;
    };

    systemd.services = lib.mapAttrs' (name: h: lib.nameValuePair (unitName name) (unit name h)) cfg.internal.homes;
  };
}
