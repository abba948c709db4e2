# `lib.hm.generators`: the configuration formats that configurations and
# modules write with Home Manager's helpers, one file per family:
# Hyprland's (`toHyprconf`) and KDL (`toKDL`, for niri, zellij, ...).
{ lib, dag }:
{
  toHyprconf = import ./hyprconf.nix { inherit lib; };
  toKDL = import ./kdl.nix { inherit lib; };
}
