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
      # A path value or a string, as Home Manager takes it.
      type = lib.types.coercedTo lib.types.path toString lib.types.str;
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
          ignorelinks
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
        `XDG_STATE_HOME`, `XDG_CACHE_HOME` and `XDG_BIN_HOME` as session
        variables, set to the directories below. The `xdg.*File` options work either way.
      '';
    };

    configHome = dirOption "config";
    dataHome = dirOption "data";
    stateHome = dirOption "state";
    cacheHome = dirOption "cache";

    binHome = lib.mkOption {
      type = lib.types.coercedTo lib.types.path toString lib.types.str;
      default = "${home}/.local/bin";
      defaultText = lib.literalExpression ''"''${config.home.homeDirectory}/.local/bin"'';
      example = "/home/alice/bin";
      description = ''
        The directory of the user's own executables, exported as
        {env}`XDG_BIN_HOME` when {option}`xdg.enable` is set.
      '';
    };

    localBinInPath = lib.mkOption {
      type = lib.types.bool;
      default = false;
      description = ''
        Whether to add {option}`xdg.binHome` to the end of
        {option}`home.sessionPath` (only with {option}`xdg.enable`, as in
        Home Manager).
      '';
    };

    systemDirs = {
      config = lib.mkOption {
        type = lib.types.listOf lib.types.str;
        default = [ ];
        example = [ "/etc/xdg" ];
        description = ''
          Directories put in front of {env}`XDG_CONFIG_DIRS` in the user's
          login shells.
        '';
      };

      data = lib.mkOption {
        type = lib.types.listOf lib.types.str;
        default = [ ];
        example = [ "/usr/share" ];
        description = ''
          Directories put in front of {env}`XDG_DATA_DIRS` in the user's
          login shells.
        '';
      };
    };

    configFile = fileOption "config";
    dataFile = fileOption "data";
    stateFile = fileOption "state";
    cacheFile = fileOption "cache";
  };

  config = {
    home.file = lib.mkMerge (map toHomeFiles (builtins.attrNames kinds));

    home.sessionVariables = lib.mkMerge [
      (lib.mkIf cfg.enable (
        lib.mapAttrs' (_: k: lib.nameValuePair k.variable cfg.${k.dir}) kinds
        // {
          XDG_BIN_HOME = cfg.binHome;
        }
      ))
      (lib.mkIf (cfg.systemDirs.config != [ ]) {
        XDG_CONFIG_DIRS = "${lib.concatStringsSep ":" cfg.systemDirs.config}\${XDG_CONFIG_DIRS:+:$XDG_CONFIG_DIRS}";
      })
      (lib.mkIf (cfg.systemDirs.data != [ ]) {
        XDG_DATA_DIRS = "${lib.concatStringsSep ":" cfg.systemDirs.data}\${XDG_DATA_DIRS:+:$XDG_DATA_DIRS}";
      })
    ];

    home.sessionPath = lib.mkIf (cfg.enable && cfg.localBinInPath) (lib.mkAfter [ cfg.binHome ]);
  };
}
