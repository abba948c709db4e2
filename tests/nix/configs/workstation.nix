# A developer's home: dotfiles from the repository, XDG files, session
# variables and path, aliases, an out-of-store link for a directory edited
# in place, and activation steps with Home Manager's anchors.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  dotfiles = "${config.home.homeDirectory}/src/dotfiles";
in
{
  home.username = "alice";
  home.homeDirectory = "/home/alice";
  home.stateVersion = "24.11";

  programs.home-manager.enable = true;

  home.sessionVariables = {
    EDITOR = "nvim";
    VISUAL = config.home.sessionVariables.EDITOR;
    PAGER = "less -FR";
    MOZ_ENABLE_WAYLAND = true;
    LESSHISTFILE = null;
    CARGO_HOME = "${config.xdg.dataHome}/cargo";
  };

  home.sessionPath = [
    "$HOME/.cargo/bin"
    "${config.home.homeDirectory}/go/bin"
  ];

  home.shellAliases = {
    ll = "ls -lah";
    gs = "git status --short";
    ".." = "cd ..";
  };

  xdg.enable = true;
  xdg.localBinInPath = true;

  xdg.configFile."nvim" = {
    source = ./dotfiles/nvim;
    recursive = true;
  };

  xdg.configFile."git/config".text = ''
    [user]
      name = Alice Example
      email = alice@example.org
    [init]
      defaultBranch = main
  '';

  xdg.configFile."git/ignore".text = lib.concatStringsSep "\n" [
    ".direnv/"
    "result"
    ""
  ];

  home.file.".local/bin/glog".source = ./dotfiles/bin/glog;

  home.file.".ssh/config" = {
    text = ''
      Host *
        AddKeysToAgent yes
    '';
  };

  # Edited in place, not rebuilt on every change.
  home.file."notes".source = config.lib.file.mkOutOfStoreSymlink "${dotfiles}/notes";

  home.activation = {
    createDirs = lib.hm.dag.entryAfter [ "writeBoundary" ] ''
      mkdir -p "$HOME/src" "$HOME/.local/share/cargo"
      echo createDirs >> "$HOME/activation.log"
    '';

    gitHooks = lib.hm.dag.entryAfter [ "createDirs" "linkGeneration" ] ''
      echo gitHooks >> "$HOME/activation.log"
    '';

    # Runs first of the steps after the files, whatever its name.
    announce = lib.mkBefore (
      lib.hm.dag.entryAfter [ "writeBoundary" ] ''
        echo announce >> "$HOME/activation.log"
      ''
    );
  };
}
