# A starship prompt in bash and zsh, with TOML settings.
{ ... }:
{
  home.stateVersion = "25.05";
  programs.bash.enable = true;
  programs.zsh.enable = true;
  programs.starship = {
    enable = true;
    settings = {
      add_newline = false;
      format = "$directory$git_branch$character";
      character = {
        success_symbol = "[>](bold green)";
        error_symbol = "[>](bold red)";
      };
      directory.truncation_length = 3;
      git_branch.symbol = "git ";
    };
  };
}
