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
      type = lib.types.strMatching "/.*[^/]|/";
      example = "/home/alice";
      description = ''
        The absolute path of the home. The platform modules default it to
        {option}`users.users.<name>.home`.
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

    hearth.installPackages = lib.mkOption {
      type = lib.types.bool;
      internal = true;
      default = true;
      description = ''
        Whether `hearth activate` installs the packages environment as the
        user's profile. The platform modules set it to false: they put the
        environment into {option}`users.users.<name>.packages` instead, and the
        manifest's `packages` is null.
      '';
    };
  };

  config = {
    # The home module works without nixpkgs; platform modules pass theirs.
    _module.args.pkgs = lib.mkOptionDefault null;
  };
}
