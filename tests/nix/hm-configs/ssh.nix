# ssh client: hosts, a default match block, control master.
{ ... }:
{
  home.stateVersion = "25.05";
  programs.ssh = {
    enable = true;
    enableDefaultConfig = false;
    matchBlocks = {
      "*" = {
        serverAliveInterval = 60;
        controlMaster = "auto";
        controlPath = "~/.ssh/master-%r@%n:%p";
        controlPersist = "10m";
      };
      github = {
        hostname = "github.com";
        user = "git";
        identityFile = "~/.ssh/id_ed25519";
      };
      "build.example.org" = {
        port = 2222;
        forwardAgent = true;
      };
    };
  };
}
