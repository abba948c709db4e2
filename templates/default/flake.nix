{
  description = "My home, applied by hearth";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
  inputs.hearth.url = "github:OWNER/hearth";
  inputs.hearth.inputs.nixpkgs.follows = "nixpkgs";

  outputs =
    { nixpkgs, hearth, ... }:
    let
      system = "x86_64-linux"; # or aarch64-linux, x86_64-darwin, aarch64-darwin
    in
    {
      # `hearth switch --flake .#alice` builds and activates it
      # (replace alice, here and in home.nix, with your user name).
      hearthConfigurations.alice = hearth.lib.homeConfiguration {
        pkgs = nixpkgs.legacyPackages.${system};
        modules = [ ./home.nix ];
      };
    };
}
