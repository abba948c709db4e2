# `lib.hm.generators`: the configuration formats that configurations and
# modules write with Home Manager's helpers, one file per family:
# Hyprland's (`toHyprconf`), KDL (`toKDL`), SCFG (`toSCFG`), and the
# DAG-ordered formats (`toDAGOrdered*`, `mkDAGOrdered*Format`), where
# `lib.hm.dag` entries put settings in the order a program needs.
{ lib, dag }:
{
  toHyprconf = import ./hyprconf.nix { inherit lib; };
  toKDL = import ./kdl.nix { inherit lib; };
  toSCFG = import ./scfg.nix { inherit lib; };
}
// import ./dag-ordered.nix { inherit lib dag; }
