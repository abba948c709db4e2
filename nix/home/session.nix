# Session variables, search paths (PATH, MANPATH, ...) and aliases for the
# user's login shells. The generation's hm-session-vars.sh carries them; the
# platform module makes the shells read it.
{
  config,
  lib,
  ...
}:
let
  cfg = config.home;

  # `alias name='command'` for each alias, only in interactive shells.
  aliasLines = lib.concatStringsSep "\n" (
    lib.mapAttrsToList (n: v: "  alias ${lib.escapeShellArg n}=${lib.escapeShellArg v}") cfg.shellAliases
  );
in
{
  options.home = {
    sessionVariables = lib.mkOption {
      type = lib.types.lazyAttrsOf (
        lib.types.nullOr (
          lib.types.oneOf [
            lib.types.str
            lib.types.path
            lib.types.int
            lib.types.float
            lib.types.bool
          ]
        )
      );
      default = { };
      example = {
        EDITOR = "vim";
        MANPAGER = "less -R";
        GOPATH = "$HOME/go";
        NIXOS_OZONE_WL = true;
        LESSHISTFILE = null;
      };
      description = ''
        Environment variables of the user's login shells (bash, zsh, fish).
        Values are shell words inside double quotes: `$HOME` and other
        variables are expanded. Booleans are written `true` / `false`;
        `null` leaves the variable out (useful to undo a value set
        elsewhere). Variables may be exported in any order: refer to another
        session variable through Nix (`''${config.home.sessionVariables.FOO}`),
        not through `$FOO`.
      '';
    };

    sessionPath = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      example = [
        "$HOME/.local/bin"
        "$HOME/go/bin"
      ];
      description = ''
        Directories put in front of `PATH` in the user's login shells, in
        this order (inside double quotes: `$HOME` is expanded, `~` is not).
        The same as `home.sessionSearchVariables.PATH`.
      '';
    };

    sessionSearchVariables = lib.mkOption {
      type = lib.types.attrsOf (lib.types.listOf lib.types.str);
      default = { };
      example = {
        MANPATH = [ "$HOME/.local/share/man" ];
        INFOPATH = [ "$HOME/.local/share/info" ];
      };
      description = ''
        Directories put in front of colon-separated search variables
        ({env}`MANPATH`, {env}`INFOPATH`, ...), in this order, keeping what
        the variable held before (an empty variable gets no trailing `:`).
        `PATH` here is {option}`home.sessionPath`. When the variable is also
        in {option}`home.sessionVariables`, the directories go in front of
        that value.
      '';
    };

    sessionVariablesExtra = lib.mkOption {
      type = lib.types.lines;
      default = "";
      example = ''
        if [ -e "$HOME/.cargo/env" ]; then . "$HOME/.cargo/env"; fi
      '';
      description = ''
        Shell commands appended to `hm-session-vars.sh`, after the
        variables: they run once per login session, in whichever POSIX
        shell reads that file. Needs `pkgs` (the platform modules pass it).
      '';
    };

    shellAliases = lib.mkOption {
      type = lib.types.attrsOf lib.types.str;
      default = { };
      example = {
        g = "git";
        "..." = "cd ../..";
      };
      description = ''
        Aliases for the user's shells. hearth has no shell modules (Home
        Manager gives these to its bash, zsh, fish and nushell modules):
        they are defined in `hm-session-vars.sh` for interactive shells that
        read it (bash and zsh login shells, through the platform module),
        and your own shell files can use
        `config.home.shellAliases`. Needs `pkgs`, as
        {option}`home.sessionVariablesExtra`.
      '';
    };

    sessionVariablesSpec = lib.mkOption {
      type = lib.types.attrsOf lib.types.str;
      internal = true;
      readOnly = true;
      description = ''
        The variables written to `hm-session-vars.sh`, as strings: null ones
        left out, booleans as `true`/`false`, search variables prepended.
      '';
    };

    sessionScriptExtra = lib.mkOption {
      type = lib.types.str;
      internal = true;
      readOnly = true;
      description = ''
        What the generation builder appends to `hm-session-vars.sh`:
        {option}`home.shellAliases` and {option}`home.sessionVariablesExtra`.
      '';
    };
  };

  config.home = {
    sessionSearchVariables.PATH = lib.mkIf (cfg.sessionPath != [ ]) cfg.sessionPath;

    sessionVariablesSpec =
      let
        plain = lib.mapAttrs (_: v: if builtins.isBool v then lib.boolToString v else toString v) (
          lib.filterAttrs (_: v: v != null) cfg.sessionVariables
        );
        # "a:b${NAME:+:}$NAME": the directories, then what NAME held.
        searched = lib.mapAttrs (
          n: dirs:
          lib.concatStringsSep ":" dirs
          + (if plain ? ${n} then ":${plain.${n}}" else "\${${n}:+:}\$${n}")
        ) (removeAttrs cfg.sessionSearchVariables [ "PATH" ]);
      in
      plain // searched;

    sessionScriptExtra = lib.concatStringsSep "\n" (
      lib.optional (cfg.shellAliases != { }) ''
        # home.shellAliases, for interactive shells.
        case $- in
          *i*)
        ${aliasLines}
            ;;
        esac''
      ++ lib.optional (cfg.sessionVariablesExtra != "") cfg.sessionVariablesExtra
    );
  };
}
