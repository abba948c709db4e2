# The second configuration of the switch (see switch-a.nix): git changed,
# tmux gone, zsh added, .inputrc changed (its hook runs).
{ lib, ... }:
{
  home.stateVersion = "25.05";
  programs.git = {
    enable = true;
    settings.user.name = "Alice B.";
  };
  programs.zsh.enable = true;
  home.file.".inputrc" = {
    text = "set editing-mode vi\n";
    onChange = ''echo "onChange .inputrc" >> "$HOME/order"'';
  };
  home.activation = {
    prepare = lib.hm.dag.entryBefore [ "writeBoundary" ] ''echo prepare >> "$HOME/order"'';
    stage = lib.hm.dag.entryAfter [ "writeBoundary" ] ''echo stage >> "$HOME/order"'';
    # After linkGeneration and, in Home Manager's sort, before
    # onFilesChange: before the onChange hooks.
    announce = lib.hm.dag.entryAfter [ "linkGeneration" ] ''echo announce >> "$HOME/order"'';
    report = lib.hm.dag.entryAfter [ "onFilesChange" ] ''echo report >> "$HOME/order"'';
  };
}
