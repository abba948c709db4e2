# hearth on nix-darwin: after the system is activated (as root), runs
# `hearth activate-users NAME=GEN...` once for all configured users; hearth
# drops to each user, in a process of its own, before touching the home. One
# user's failure does not stop the others; hearth prints a summary naming
# each user, and darwin-rebuild then fails if any user failed.
{
  config,
  lib,
  ...
}:
let
  cfg = config.hearth;

  hearthExe = "${cfg.package}/bin/hearth";

  pair = _name: h: lib.escapeShellArg "${h.home.username}=${h.home.generation}";
in
{
  imports = [ ./shared.nix ];

  options.hearth.darwin.activationTimeout = lib.mkOption {
    type = lib.types.ints.positive;
    default = 300;
    example = 900;
    description = ''
      Seconds one user's activation may take (`hearth activate-users
      --timeout`). At the limit hearth kills that user's activation and every
      process it started, reports it, and goes on with the next user; the
      next activation of that home reverts or completes the switch that was
      cut short. The default is the 5 minutes systemd gives a NixOS unit.
    '';
  };

  config = lib.mkIf (cfg.users != { }) {
    # The exit status is set when the whole activation script ends, so that
    # the rest of it still runs; the failure is repeated there.
    system.activationScripts.postActivation.text = lib.mkAfter ''
      echo "hearth: activating the homes of ${lib.concatStringsSep ", " (lib.attrNames cfg.users)}" >&2
      if ! ${hearthExe} activate-users ${lib.concatStringsSep " " (lib.mapAttrsToList pair cfg.users)} --timeout ${toString cfg.darwin.activationTimeout}; then
        trap 'echo "hearth: the activation of some homes failed (see the summary above)" >&2; exit 1' EXIT
      fi
    '';
  };
}
