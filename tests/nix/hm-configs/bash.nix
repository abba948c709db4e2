# bash as a daily shell: history, aliases, session variables, extra rc.
{ ... }:
{
  home.stateVersion = "25.05";
  home.sessionVariables = {
    EDITOR = "vim";
    PAGER = "less -R";
  };
  home.sessionPath = [ "$HOME/.local/bin" ];
  home.shellAliases.ll = "ls -l";
  programs.bash = {
    enable = true;
    historyControl = [
      "ignoredups"
      "ignorespace"
    ];
    historySize = 50000;
    shellOptions = [
      "histappend"
      "checkwinsize"
    ];
    shellAliases.gs = "git status";
    initExtra = ''
      PS1='\u@\h:\w\$ '
    '';
    profileExtra = ''
      umask 022
    '';
  };
}
