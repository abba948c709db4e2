# The options of one home (Home Manager's core names: home.file, xdg.*,
# home.packages, home.sessionVariables, home.activation, ...) and the
# generation built from them (`config.home.generation`).
# Needs nothing from nixpkgs but `lib`: without `pkgs`, texts go through
# builtins.toFile. Evaluate it with `lib.hm.dag` in `lib` (nix/lib extendLib).
{
  imports = [
    ./home/core.nix
    ./home/files.nix
    ./home/xdg.nix
    ./home/packages.nix
    ./home/session.nix
    ./home/activation.nix
    ./home/generation.nix
    ./home/language.nix
    ./home/build.nix
    ./home/compat.nix
    ./home/unsupported.nix
  ];
}
