# hearth on nix-darwin: after the system is activated (as root), runs
# `hearth activate-users NAME=GEN...` once for all configured users; hearth
# drops to each user, in a process of its own with the user's clean
# environment, before touching the home, and ends a user's activation at
# `hearth.activationTimeout`. One user's failure does not stop the others;
# hearth prints a summary naming each user, and darwin-rebuild then fails if
# any user failed.
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
  imports = [
    ./shared.nix
    # One timeout option for both platforms.
    (lib.mkRenamedOptionModule
      [
        "hearth"
        "darwin"
        "activationTimeout"
      ]
      [
        "hearth"
        "activationTimeout"
      ]
    )
  ];

  config = lib.mkIf (cfg.users != { }) {
    # nix-darwin's users.users.<name>.home defaults to null, and a user
    # hearth knows nothing else about may not even exist: its home is what
    # must be declared.
    hearth.internal.userProblem =
      name: user:
      if user.home == null then
        "users.users.${name}.home is not set; set users.users.${name}.home = \"/Users/${name}\"; (and declare the user, e.g. in users.knownUsers, if nix-darwin should create it)"
      else if user.home == "/var/empty" then
        "the home directory of ${name} is /var/empty; set users.users.${name}.home = \"/Users/${name}\";"
      else
        null;

    # The exit status is set when the whole activation script ends, so that
    # the rest of it still runs; the failure is repeated there.
    system.activationScripts.postActivation.text = lib.mkAfter ''
      echo "hearth: activating the homes of ${lib.concatStringsSep ", " (lib.attrNames cfg.internal.homes)}" >&2
      if ! ${hearthExe} activate-users ${lib.concatStringsSep " " (lib.mapAttrsToList pair cfg.internal.homes)} --timeout ${toString cfg.activationTimeout}; then
        trap 'echo "hearth: the activation of some homes failed (see the summary above)" >&2; exit 1' EXIT
      fi
    '';
  };
}
