# Your home: Home Manager's options (home.file, xdg.configFile,
# home.packages, home.sessionVariables, ...), applied by hearth.
{ config, lib, pkgs, ... }:
{
  home.username = "alice";
  home.homeDirectory = "/home/alice";

  home.file.".vimrc".text = "set number\n";
  home.packages = [ pkgs.ripgrep ];
  home.sessionVariables.EDITOR = "vim";
}
