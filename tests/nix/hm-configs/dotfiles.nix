# Plain dotfiles: an executable script from text, a script made
# non-executable, a recursive directory of files, and an onChange hook.
{ pkgs, ... }:
{
  home.stateVersion = "25.05";
  home.file = {
    ".local/bin/hello" = {
      text = ''
        #!/bin/sh
        echo hello
      '';
      executable = true;
    };
    ".local/share/notes/readme".source = pkgs.writeScript "readme" "just text\n";
    ".local/share/notes/readme".executable = false;
    ".config/tool" = {
      source = ./dotfiles/tool;
      recursive = true;
    };
    ".inputrc" = {
      text = "set editing-mode vi\n";
      onChange = "echo inputrc changed";
    };
  };
}
