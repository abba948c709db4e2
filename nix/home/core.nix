# Who the home belongs to, how it is built (hearth binary, shell, system),
# and the assertions and warnings a platform module reports for it.
{
  config,
  lib,
  pkgs,
  ...
}:
{
  options = {
    home.username = lib.mkOption {
      type = lib.types.str;
      example = "alice";
      description = ''
        The user whose home this is. The platform modules default it to
        {option}`users.users.<name>.name`.
      '';
    };

    home.homeDirectory = lib.mkOption {
      # A path value or a string, as Home Manager takes it; trailing slashes
      # are dropped so that every target computed from it is the same.
      type = lib.types.coercedTo lib.types.path toString (lib.types.strMatching "/.*");
      apply =
        p:
        let
          trimmed = builtins.match "(/.*[^/])/*" p;
        in
        if trimmed == null then "/" else builtins.head trimmed;
      example = "/home/alice";
      description = ''
        The absolute path of the home (a string or a path; a trailing `/` is
        dropped). The platform modules default it to
        {option}`users.users.<name>.home`.
      '';
    };

    home.uid = lib.mkOption {
      type = lib.types.nullOr lib.types.ints.unsigned;
      default = null;
      example = 1000;
      description = ''
        The user's numeric id, for configurations that use it (for example
        to spell `/run/user/''${toString config.home.uid}`). hearth itself
        never reads it: at activation it takes the id of the user it runs
        as.
      '';
    };

    home.stateVersion = lib.mkOption {
      # Any release name, so that a configuration written for a newer Home
      # Manager than this list would know still evaluates.
      type = lib.types.nullOr (lib.types.strMatching "[0-9]{2}\\.(03|05|09|11)");
      default = null;
      example = "25.05";
      description = ''
        The Home Manager release whose defaults a configuration was written
        against (`"18.09"` ... `"25.05"`, `"25.11"`, ...). Accepted so that a
        Home Manager configuration evaluates unchanged; hearth has no
        defaults that depend on it, so it changes nothing, and unlike Home
        Manager it may be left unset.
      '';
    };

    home.enableNixpkgsReleaseCheck = lib.mkOption {
      type = lib.types.bool;
      default = true;
      description = ''
        Accepted for Home Manager configurations; has no effect. Home
        Manager warns when its release differs from nixpkgs'; hearth is not
        tied to a nixpkgs release, so there is nothing to check.
      '';
    };

    home.profileDirectory = lib.mkOption {
      type = lib.types.str;
      default =
        if config.hearth.installPackages then
          "${config.xdg.stateHome}/nix/profiles/hearth-packages"
        else
          "/etc/profiles/per-user/${config.home.username}";
      defaultText = lib.literalMD ''
        `/etc/profiles/per-user/<user>` under the NixOS and nix-darwin
        modules, `$XDG_STATE_HOME/nix/profiles/hearth-packages` otherwise
      '';
      description = ''
        The profile holding `home.packages` (its `bin`, `share`, ...), for
        configurations that refer to it.
      '';
    };

    home.backupFileExtension = lib.mkOption {
      type = lib.types.nullOr (lib.types.strMatching "[^/]+");
      default = null;
      example = "bak";
      description = ''
        When set, a file that is in the way of a target is renamed to
        `target.EXT` (or `target.EXT.1`, ... when that exists) instead of
        stopping the activation. Nothing is ever deleted or overwritten.
        `null`: a file in the way is a conflict and nothing is changed.
      '';
    };

    assertions = lib.mkOption {
      type = lib.types.listOf (
        lib.types.submodule {
          options = {
            assertion = lib.mkOption {
              type = lib.types.bool;
              description = "Must hold for the configuration to be built.";
            };
            message = lib.mkOption {
              type = lib.types.str;
              description = "Shown when `assertion` does not hold.";
            };
          };
        }
      );
      default = [ ];
      example = lib.literalExpression ''
        [
          {
            assertion = config.home.username != "root";
            message = "this home is not meant for root";
          }
        ]
      '';
      description = ''
        Conditions the configuration must meet; the platform module reports
        every failed one, naming the user, and builds nothing.
      '';
    };

    warnings = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      example = [ "xdg.configHome is not inside the home" ];
      description = "Messages the platform module shows while building.";
    };

    hearth.package = lib.mkOption {
      type = lib.types.package;
      internal = true;
      description = ''
        The hearth package whose `bin/hearth` builds the generation and the
        packages environment (set by the platform module).
      '';
    };

    hearth.shell = lib.mkOption {
      type = lib.types.str;
      internal = true;
      default = if pkgs == null then "/bin/sh" else pkgs.runtimeShell;
      defaultText = lib.literalExpression ''pkgs.runtimeShell or "/bin/sh" without pkgs'';
      description = ''
        The shell that runs the builders, the onChange hooks and the
        activation steps.
      '';
    };

    hearth.system = lib.mkOption {
      type = lib.types.str;
      internal = true;
      default = if pkgs == null then builtins.currentSystem else pkgs.stdenv.buildPlatform.system;
      defaultText = lib.literalExpression "pkgs.stdenv.buildPlatform.system";
      description = "The system the generation is built on.";
    };

    hearth.coreutils = lib.mkOption {
      type = lib.types.nullOr lib.types.package;
      internal = true;
      default = if pkgs == null then null else pkgs.coreutils;
      defaultText = lib.literalExpression "pkgs.coreutils or null without pkgs";
      description = ''
        The coreutils used by the few builds that need more than the hearth
        binary and a shell: `config.lib.file.mkOutOfStoreSymlink` (`ln`),
        {option}`home.sessionVariablesExtra` (`chmod`) and the session
        variables script in the packages environment (`mkdir`, `cp`). `null`
        makes those an evaluation error that says so.
      '';
    };

    hearth.installPackages = lib.mkOption {
      type = lib.types.bool;
      internal = true;
      default = true;
      description = ''
        Whether `hearth activate` installs the packages environment as the
        user's profile. The platform modules set it to false: they put the
        environment into {option}`users.users.<name>.packages` instead, and the
        manifest's `packages` is null (its `systemPackages` names the
        environment, so that hearth can show what changes in it).
      '';
    };
  };

  config = {
    # The home module works without nixpkgs; platform modules pass theirs.
    _module.args.pkgs = lib.mkOptionDefault null;
  };
}
