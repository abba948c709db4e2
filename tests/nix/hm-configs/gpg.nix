# gpg and its agent (a user service), with ssh support.
{ ... }:
{
  home.stateVersion = "25.05";
  programs.gpg = {
    enable = true;
    settings = {
      keyid-format = "0xlong";
      with-fingerprint = true;
    };
  };
  services.gpg-agent = {
    enable = true;
    enableSshSupport = true;
    defaultCacheTtl = 3600;
  };
}
