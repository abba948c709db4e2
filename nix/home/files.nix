# home.file: the files of the home.
{
  config,
  lib,
  options,
  pkgs,
  ...
}:
{
  options.home.file = lib.mkOption {
    type = import ./file-type.nix {
      inherit lib;
      option = options.home.file;
      basePathDesc = "the home";
      writeText = if pkgs == null then builtins.toFile else pkgs.writeText;
    };
    default = { };
    example = lib.literalExpression ''
      {
        ".vimrc".source = ./vimrc;
        ".config/git/config".text = "[user]\n  name = Alice\n";
        ".local/bin/hello" = {
          text = "#!/bin/sh\necho hello\n";
          executable = true;
        };
        ".netrc" = {
          source = ./netrc;
          type = "copy";
          mode = "0600";
        };
      }
    '';
    description = ''
      The files of the home, by target (relative to the home unless `target`
      says otherwise).
    '';
  };
}
