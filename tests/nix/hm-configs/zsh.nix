# zsh with history settings, aliases, autosuggestions and a dotDir.
{ config, ... }:
{
  home.stateVersion = "25.05";
  programs.zsh = {
    enable = true;
    dotDir = "${config.xdg.configHome}/zsh";
    autosuggestion.enable = true;
    syntaxHighlighting.enable = true;
    history = {
      size = 100000;
      ignoreDups = true;
      share = true;
    };
    shellAliases = {
      l = "ls -la";
      ".." = "cd ..";
    };
    initContent = ''
      bindkey -e
    '';
  };
}
