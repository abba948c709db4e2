# What a standalone home adds to hearth's home module (`hearth switch`,
# `hearth.lib.homeConfiguration`): hearth installs the packages environment
# as the home's own profile, apart from ~/.nix-profile, and that profile
# carries the script login shells source to use it (the line `hearth init`
# offers points there).
{
  config,
  lib,
  ...
}:
let
  coreutils =
    if config.hearth.coreutils != null then
      config.hearth.coreutils
    else
      throw "hearth: the standalone home of ${config.home.username} needs coreutils to build its profile's shell scripts; evaluate it with `pkgs` (nixpkgs) or set hearth.coreutils";

  # etc/profile.d/hearth.sh (bash, zsh, any POSIX login shell) and
  # hearth.fish: the profile on PATH, MANPATH, XDG_DATA_DIRS, ... and the
  # session variables.
  hook = derivation {
    name = "hearth-profile-hook";
    inherit (config.hearth) system;
    builder = config.hearth.shell;
    args = [
      "-c"
      ''
        set -e
        "$coreutils/bin/mkdir" -p "$out/etc/profile.d"
        "$coreutils/bin/cp" "$sh" "$out/etc/profile.d/hearth.sh"
        "$coreutils/bin/cp" "$fish" "$out/etc/profile.d/hearth.fish"
        # A builtin last (why: nix/lib/builder.nix; this file is also
        # used copied alone, so it cannot import that one).
        :
      ''
    ];
    coreutils = "${coreutils}";
    sh = ./hook.sh;
    fish = ./hook.fish;
    preferLocalBuild = true;
    allowSubstitutes = false;
  };
in
{
  options.hearth.profileHook = lib.mkOption {
    type = lib.types.bool;
    default = true;
    description = ''
      Whether the home's profile carries `etc/profile.d/hearth.sh` and
      `hearth.fish`, which put the profile on {env}`PATH`, {env}`MANPATH`,
      {env}`XDG_DATA_DIRS` (as Nix does for `~/.nix-profile`) and set the
      session variables ({option}`home.sessionVariables`). The line
      `hearth init` adds to the login shell's profile sources them.
    '';
  };

  config = {
    # Standalone, hearth itself installs the packages (the platform
    # modules set this to false and install them through the system).
    hearth.installPackages = true;
    home.packages = lib.mkIf config.hearth.profileHook [ hook ];
  };
}
