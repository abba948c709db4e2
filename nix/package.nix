# The hearth binary.
{
  lib,
  rustPlatform,
}:
let
  cargo = lib.importTOML ../Cargo.toml;
in
rustPlatform.buildRustPackage {
  pname = cargo.package.name;
  inherit (cargo.package) version;

  # Only what cargo reads, so that editing the Nix modules or the docs does
  # not rebuild the binary.
  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../Cargo.toml
      ../Cargo.lock
      ../src
      ../benches
    ];
  };

  cargoLock.lockFile = ../Cargo.lock;

  # `hearth switch` evaluates a home.nix with these (nix/standalone.nix and
  # the home module); it finds them beside its bin/. (So an edit of the Nix
  # files rebuilds the package, though not through cargo's source.)
  postInstall = ''
    mkdir -p "$out/share/hearth"
    cp -r ${./.} "$out/share/hearth/nix"
  '';

  # The unit tests only: the integration tests (tests/) run nix-build and
  # need a Nix store, which the build sandbox does not give.
  cargoTestFlags = [ "--lib" ];

  meta = {
    inherit (cargo.package) description;
    license = lib.licenses.mit;
    mainProgram = "hearth";
    platforms = lib.platforms.linux ++ lib.platforms.darwin;
  };
}
