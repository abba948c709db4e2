# xdg: default applications (mimeapps.list), user directories, files.
{ ... }:
{
  home.stateVersion = "25.05";
  xdg = {
    enable = true;
    mimeApps = {
      enable = true;
      defaultApplications = {
        "text/html" = "firefox.desktop";
        "application/pdf" = [ "org.pwmt.zathura.desktop" ];
      };
      associations.added."image/png" = "feh.desktop";
    };
    userDirs = {
      enable = true;
      createDirectories = false;
      documents = "$HOME/docs";
      download = "$HOME/downloads";
    };
    configFile."user-dirs.locale".text = "en_GB";
    dataFile."applications/notes.desktop".text = ''
      [Desktop Entry]
      Type=Application
      Name=Notes
      Exec=notes
    '';
  };
}
