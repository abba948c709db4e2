# Stand-in for nixpkgs' nixos/modules/misc/meta.nix, which Home Manager's
# modules.nix imports from `pkgs.path`: `meta.*` as nixpkgs declares it
# (maintainers merged as a list, the rest accepted), without its docs
# machinery.
{ lib, ... }:
{
  options.meta = {
    maintainers = lib.mkOption {
      type = lib.types.listOf lib.types.raw;
      internal = true;
      default = [ ];
      description = "Maintainers of the modules.";
    };
    doc = lib.mkOption {
      type = lib.types.raw;
      internal = true;
      default = null;
      description = "Documentation of a module.";
    };
    buildDocsInSandbox = lib.mkOption {
      type = lib.types.bool;
      internal = true;
      default = true;
      description = "Whether a module's docs build in the sandbox.";
    };
    teams = lib.mkOption {
      type = lib.types.listOf lib.types.raw;
      internal = true;
      default = [ ];
      description = "Teams maintaining the modules.";
    };
  };
}
