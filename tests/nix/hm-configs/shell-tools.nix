# The small tools of a shell setup: bat, eza, zoxide, htop, less, readline.
{ ... }:
{
  home.stateVersion = "25.05";
  programs.bash.enable = true;
  programs.bat = {
    enable = true;
    config.theme = "TwoDark";
  };
  programs.eza = {
    enable = true;
    git = true;
  };
  programs.zoxide.enable = true;
  programs.htop = {
    enable = true;
    settings.show_program_path = false;
  };
  programs.readline = {
    enable = true;
    variables.completion-ignore-case = true;
  };
}
