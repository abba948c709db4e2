# A value of the wrong type for a Home Manager option: the error names the
# user, the option and this file.
{ ... }:
{
  home.stateVersion = "25.05";
  programs.git.enable = "yes";
}
