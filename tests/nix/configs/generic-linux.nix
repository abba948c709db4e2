# A home on a distribution other than NixOS (Home Manager's "standalone"
# setup): genericLinux, search paths, configs written with lib.hm's
# generators, and options only Home Manager's command line reads.
{ config, lib, ... }:
{
  home = {
    username = "alice";
    homeDirectory = "/home/alice/";
    stateVersion = "25.05";
    enableNixpkgsReleaseCheck = false;

    sessionSearchVariables = {
      MANPATH = [ "${config.xdg.dataHome}/man" ];
      INFOPATH = [ "${config.xdg.dataHome}/info" ];
    };

    sessionVariablesExtra = ''
      if [ -e "$HOME/.cargo/env" ]; then . "$HOME/.cargo/env"; fi
    '';

    file.".config/zellij/config.kdl".text = lib.hm.generators.toKDL { } {
      theme = "gruvbox-dark";
      default_layout = "compact";
      pane_frames = false;
      keybinds = {
        _props.clear-defaults = false;
        normal = {
          _children = [
            { bind = { _args = [ "Alt h" ]; MoveFocus = "Left"; }; }
            { bind = { _args = [ "Alt l" ]; MoveFocus = "Right"; }; }
          ];
        };
      };
    };
  };

  news.display = "silent";
  programs.home-manager = {
    enable = true;
    path = "$HOME/src/home-manager";
  };

  targets.genericLinux.enable = true;

  xdg = {
    enable = true;
    configHome = /home/alice/.config;
    configFile."hypr/hyprland.conf".text = lib.hm.generators.toHyprconf {
      attrs = {
        "$mod" = "SUPER";
        monitor = [ ",preferred,auto,1" ];
        bind = [
          "$mod, Return, exec, foot"
          "$mod, Q, killactive"
        ];
        input.kb_layout = "us";
      };
    };
    configFile."mimeapps.list".text = lib.generators.toINI { } {
      "Default Applications"."text/html" = "firefox.desktop";
    };
  };
}
