# The XDG base directories and xdg.{config,data,state,cache}File, which are
# home.file entries under those directories.
{
  config,
  lib,
  options,
  pkgs,
  ...
}:
let
  cfg = config.xdg;
  home = config.home.homeDirectory;

  kinds = {
    config = {
      dir = "configHome";
      default = ".config";
      variable = "XDG_CONFIG_HOME";
    };
    data = {
      dir = "dataHome";
      default = ".local/share";
      variable = "XDG_DATA_HOME";
    };
    state = {
      dir = "stateHome";
      default = ".local/state";
      variable = "XDG_STATE_HOME";
    };
    cache = {
      dir = "cacheHome";
      default = ".cache";
      variable = "XDG_CACHE_HOME";
    };
  };

  fileOption =
    kind:
    let
      k = kinds.${kind};
    in
    lib.mkOption {
      type = import ./file-type.nix {
        inherit lib;
        option = options.xdg."${kind}File";
        basePathDesc = "`xdg.${k.dir}`";
        writeText = if pkgs == null then builtins.toFile else pkgs.writeText;
      };
      default = { };
      example = lib.literalExpression ''
        {
          "git/config".text = "[user]\n  name = Alice\n";
        }
      '';
      description = ''
        Files under `xdg.${k.dir}` (by default `~/${k.default}`); each is a
        {option}`home.file` entry with the same options, its target relative to that
        directory.
      '';
    };

  dirOption =
    kind:
    let
      k = kinds.${kind};
    in
    lib.mkOption {
      type = lib.types.str;
      default = "${home}/${k.default}";
      defaultText = lib.literalExpression ''"''${config.home.homeDirectory}/${k.default}"'';
      example = "/home/alice/.xdg/${kind}";
      description = ''
        The XDG base directory `${k.variable}`: an absolute path inside the
        home.
      '';
    };

  # xdg.configFile."foo" is home.file."<configHome>/foo", with the same
  # attributes and an absolute target.
  toHomeFiles =
    kind:
    lib.mapAttrs' (
      name: file:
      lib.nameValuePair "${cfg.${kinds.${kind}.dir}}/${name}" {
        inherit (file)
          enable
          source
          executable
          recursive
          onChange
          force
          type
          mode
          definedBy
          ;
        target = "${cfg.${kinds.${kind}.dir}}/${file.target}";
      }
    ) cfg."${kind}File";
in
{
  options.xdg = {
    enable = lib.mkOption {
      type = lib.types.bool;
      default = false;
      description = ''
        Whether to export `XDG_CONFIG_HOME`, `XDG_DATA_HOME`,
        `XDG_STATE_HOME` and `XDG_CACHE_HOME` as session variables, set to
        the directories below. The `xdg.*File` options work either way.
      '';
    };

    configHome = dirOption "config";
    dataHome = dirOption "data";
    stateHome = dirOption "state";
    cacheHome = dirOption "cache";

    configFile = fileOption "config";
    dataFile = fileOption "data";
    stateFile = fileOption "state";
    cacheFile = fileOption "cache";
  };

  config = {
    home.file = lib.mkMerge (map toHomeFiles (builtins.attrNames kinds));

    home.sessionVariables = lib.mkIf cfg.enable (
      lib.mapAttrs' (_: k: lib.nameValuePair k.variable cfg.${k.dir}) kinds
    );
  };
}
