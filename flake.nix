{
  description = "hearth: declarative per-user environments for NixOS and nix-darwin, applied by a safe, transactional activator";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;

      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});

      # The modules use pkgs.hearth when an overlay provides it, else this.
      withPackage =
        module:
        { pkgs, ... }:
        {
          imports = [ module ];
          hearth.package = lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        };
    in
    {
      # `hearth.lib.dag`: entryAfter, entryBefore, entryBetween, entryAnywhere,
      # topoSort (also `lib.hm.dag` inside home configurations).
      lib = import ./nix/lib { inherit lib; } // {
        # A standalone home for users who build with Nix themselves: the
        # generation (`nix build .#hearthConfigurations.alice`), with
        # `activate` (its script: `hearth activate` on it), `config` and
        # `activationPackage`. `hearth switch --flake .#alice` builds and
        # activates it; so does running its `activate`. With `homeManager`
        # (the home-manager flake input, or a checkout), `modules` are a
        # Home Manager configuration evaluated with Home Manager's modules
        # (then hearth's own options, such as hearth.package, go in
        # `hearthModules`).
        homeConfiguration =
          {
            pkgs,
            modules ? [ ],
            extraSpecialArgs ? { },
            homeManager ? null,
            hearthModules ? [ ],
          }:
          import ./nix/standalone/configuration.nix {
            inherit
              lib
              pkgs
              modules
              extraSpecialArgs
              homeManager
              ;
            hearthModules = [
              # Lazily: a module that sets hearth.package never builds this.
              { hearth.package = lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.default; }
            ]
            ++ hearthModules;
          };
      };

      # `nix flake init -t github:OWNER/hearth`: a flake with one standalone home.
      templates.default = {
        path = ./templates/default;
        description = "A standalone hearth home (home.nix) with its flake";
      };

      overlays.default = final: prev: { hearth = final.callPackage ./nix/package.nix { }; };

      packages = forAllSystems (pkgs: rec {
        hearth = pkgs.callPackage ./nix/package.nix { };
        default = hearth;
      });

      nixosModules.default = withPackage ./nixos-module;
      nixosModules.hearth = self.nixosModules.default;

      darwinModules.default = withPackage ./darwin-module;
      darwinModules.hearth = self.darwinModules.default;

      # The VM tests (Linux only) and the module evaluation tests.
      checks = forAllSystems (
        pkgs:
        {
          eval = import ./tests/nix/check.nix {
            inherit pkgs;
            nixpkgs = nixpkgs.outPath;
          };
        }
        // lib.optionalAttrs pkgs.stdenv.hostPlatform.isLinux (
          import ./vm-tests {
            inherit pkgs;
            hearthModule = self.nixosModules.default;
          }
        )
      );

      formatter = forAllSystems (pkgs: pkgs.nixfmt-rfc-style);
    };
}
