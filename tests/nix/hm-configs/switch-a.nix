# The first of two configurations a home switches between (see
# switch-b.nix): git and tmux, an .inputrc with an onChange hook, and
# activation steps of one's own around Home Manager's anchors.
{ lib, ... }:
{
  home.stateVersion = "25.05";
  programs.git = {
    enable = true;
    settings.user.name = "Alice";
  };
  programs.tmux.enable = true;
  home.file.".inputrc" = {
    text = "set editing-mode emacs\n";
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
