# The NixOS module: `imports = [ ./nixos-module ];` (or the flake's nixosModules.default).
import ../nix/modules/nixos.nix
