# Stand-in for nixpkgs' nixos/modules/misc/assertions.nix, which Home
# Manager's modules.nix imports from `pkgs.path`: the same two options, with
# nixpkgs' types and defaults (tests/nix/hm-pkgs.nix has no nixpkgs tree).
{ lib, ... }:
{
  options = {
    assertions = lib.mkOption {
      type = lib.types.listOf lib.types.unspecified;
      internal = true;
      default = [ ];
      description = "Conditions that must hold, with their messages.";
    };
    warnings = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      internal = true;
      default = [ ];
      description = "Warnings shown when the configuration is evaluated.";
    };
  };
}
