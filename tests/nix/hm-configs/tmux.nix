# tmux: prefix, mouse, vi keys, a longer history.
{ ... }:
{
  home.stateVersion = "25.05";
  programs.tmux = {
    enable = true;
    prefix = "C-a";
    mouse = true;
    keyMode = "vi";
    historyLimit = 50000;
    baseIndex = 1;
    escapeTime = 0;
    terminal = "tmux-256color";
    extraConfig = ''
      bind | split-window -h
      bind - split-window -v
    '';
  };
}
