# fzf with its shell integrations, default commands and colours.
{ ... }:
{
  home.stateVersion = "25.05";
  programs.bash.enable = true;
  programs.zsh.enable = true;
  programs.fzf = {
    enable = true;
    defaultCommand = "fd --type f";
    defaultOptions = [
      "--height 40%"
      "--border"
    ];
    fileWidgetCommand = "fd --type f";
    colors = {
      bg = "#1e1e1e";
      fg = "#d4d4d4";
    };
  };
}
