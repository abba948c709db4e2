# gtk theme, icons and font settings for GTK 2, 3 and 4.
{ config, ... }:
{
  home.stateVersion = "25.05";
  gtk = {
    enable = true;
    theme.name = "Adwaita-dark";
    iconTheme.name = "Adwaita";
    font = {
      name = "Cantarell";
      size = 11;
    };
    gtk3.extraConfig.gtk-application-prefer-dark-theme = true;
    gtk4.theme = config.gtk.theme;
    gtk3.bookmarks = [ "file:///home/alice/Documents" ];
  };
}
