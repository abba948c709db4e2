# alacritty with font, window and colour settings (TOML).
{ ... }:
{
  home.stateVersion = "25.05";
  programs.alacritty = {
    enable = true;
    settings = {
      window.padding = {
        x = 6;
        y = 6;
      };
      font = {
        size = 11.5;
        normal.family = "JetBrains Mono";
      };
      colors.primary = {
        background = "#1d1f21";
        foreground = "#c5c8c6";
      };
    };
  };
}
