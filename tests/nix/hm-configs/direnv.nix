# direnv with nix-direnv and a direnv.toml, hooked into bash.
{ ... }:
{
  home.stateVersion = "25.05";
  programs.bash.enable = true;
  programs.direnv = {
    enable = true;
    nix-direnv.enable = true;
    config.global = {
      warn_timeout = "30s";
      hide_env_diff = true;
    };
    stdlib = ''
      layout_poetry() { echo poetry; }
    '';
  };
}
