# NixOS VM tests of the whole flow: nixos-rebuild-style switches, conflicts,
# backups, rollback, boot with /home on its own file system, the start
# timeout, and system.nixos-init (no activation scripts).
#
#   nix build .#checks.x86_64-linux.vm-switch      (or vm-conflict, vm-boot)
#   nix-build -A checks.vm-switch                   (without flakes)
{
  pkgs,
  # The NixOS module under test.
  hearthModule,
}:
let
  test = file: pkgs.testers.runNixOSTest (import file { inherit hearthModule; });
in
{
  vm-switch = test ./switch.nix;
  vm-conflict = test ./conflict.nix;
  vm-boot = test ./boot.nix;
  vm-timeout = test ./timeout.nix;
  vm-nixos-init = test ./nixos-init.nix;
}
