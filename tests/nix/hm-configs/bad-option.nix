# A typo in an option name: the error names the user, the option and this
# file.
{ ... }:
{
  home.stateVersion = "25.05";
  programs.gitt.enable = true;
}
