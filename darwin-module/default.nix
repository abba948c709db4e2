# hearth on nix-darwin: after the system is activated (as root), runs
# `hearth activate --user NAME GEN` for every configured user; hearth drops
# to that user before touching the home. One user's failure does not stop
# the others; darwin-rebuild then fails with a summary naming them.
{
  config,
  lib,
  ...
}:
let
  cfg = config.hearth;

  hearthExe = "${cfg.package}/bin/hearth";

  activateUser = name: h: ''
    echo "hearth: activating the home of ${name}" >&2
    if ! ${hearthExe} activate --user ${lib.escapeShellArg h.home.username} ${h.home.generation}; then
      __hearth_failed="$__hearth_failed "${lib.escapeShellArg name}
    fi
  '';
in
{
  imports = [ ../nix/common.nix ];

  config = lib.mkIf (cfg.users != { }) {
    # The summary is printed again, and the exit status set, when the whole
    # activation script ends, so that the rest of it still runs.
    system.activationScripts.postActivation.text = lib.mkAfter ''
      __hearth_failed=""
      ${lib.concatStrings (lib.mapAttrsToList activateUser cfg.users)}
      if [ -n "$__hearth_failed" ]; then
        echo "hearth: the activation failed for:$__hearth_failed (see above)" >&2
        trap 'echo "hearth: the activation failed for:'"$__hearth_failed"'" >&2; exit 1' EXIT
      fi
    '';
  };
}
