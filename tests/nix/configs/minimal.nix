# The smallest Home Manager configuration that does something, as
# `home-manager init` writes it, with one file and one variable.
{ config, pkgs, ... }:
{
  home.username = "alice";
  home.homeDirectory = "/home/alice";
  home.stateVersion = "24.05";

  home.file.".screenrc".text = "startup_message off\n";

  home.sessionVariables = {
    EDITOR = "vim";
  };

  programs.home-manager.enable = true;
}
