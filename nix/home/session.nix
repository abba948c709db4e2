# Session variables and PATH entries for the user's login shells. The
# generation carries them; the platform module makes the shells read them.
{ lib, ... }:
{
  options.home = {
    sessionVariables = lib.mkOption {
      type = lib.types.lazyAttrsOf (
        lib.types.oneOf [
          lib.types.str
          lib.types.path
          lib.types.int
          lib.types.float
        ]
      );
      default = { };
      example = {
        EDITOR = "vim";
        MANPAGER = "less -R";
        GOPATH = "$HOME/go";
      };
      description = ''
        Environment variables of the user's login shells (bash, zsh, fish).
        Values are shell words inside double quotes: `$HOME` and other
        variables are expanded.
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
        this order.
      '';
    };
  };
}
