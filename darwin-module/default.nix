# The nix-darwin module: `imports = [ ./darwin-module ];` (or the flake's darwinModules.default).
import ../nix/modules/darwin.nix
