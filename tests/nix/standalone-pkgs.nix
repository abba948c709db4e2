# A stand-in for nixpkgs' package set, for the standalone tests
# (tests/standalone.rs): what hearth's home module takes from `pkgs`
# (runtimeShell, stdenv, coreutils, writeText) and a few small packages
# built with /bin/sh. The tests put it behind a `<nixpkgs>` of their own
# whose `lib` is nixpkgs' (HEARTH_NIXPKGS), so `hearth switch` imports it
# as it imports nixpkgs.
let
  stubs = import ./stubs.nix;
  system = builtins.currentSystem;

  # A package with bin/NAME printing `text`, a man page, and more files
  # given as `extra` (shell commands run in $out).
  tool =
    name: text: extra:
    stubs.run name ''
      mkdir -p "$out/bin" "$out/share/man/man1"
      printf '#!/bin/sh\necho %s\n' '${text}' > "$out/bin/${name}"
      chmod +x "$out/bin/${name}"
      echo '.TH ${name} 1' > "$out/share/man/man1/${name}.1"
      ${extra}
    '';
in
{
  inherit (stubs) writeText runCommand runCommandLocal;
  runtimeShell = "/bin/sh";
  stdenv.buildPlatform.system = system;
  stdenv.hostPlatform = {
    inherit system;
    isLinux = builtins.match ".*-linux" system != null;
    isDarwin = builtins.match ".*-darwin" system != null;
  };
  # The host's own tools, linked (the tests run with Nix's sandbox off).
  coreutils = stubs.run "host-coreutils" ''
    mkdir -p "$out/bin"
    for t in ln chmod mkdir cp; do ln -s "$(command -v $t)" "$out/bin/$t"; done
  '';

  # Two outputs: `dev` holds a header, linked only with
  # home.extraOutputsToInstall = [ "dev" ].
  hello = derivation {
    name = "hello-1.0";
    inherit system;
    builder = "/bin/sh";
    PATH = "/bin:/usr/bin";
    outputs = [
      "out"
      "dev"
    ];
    args = [
      "-ec"
      ''
        mkdir -p "$out/bin" "$out/share/man/man1" "$out/share/hello" "$dev/include"
        printf '#!/bin/sh\necho hello from hearth\n' > "$out/bin/hello"
        chmod +x "$out/bin/hello"
        echo '.TH hello 1' > "$out/share/man/man1/hello.1"
        echo data > "$out/share/hello/data"
        echo '#define HELLO 1' > "$dev/include/hello.h"
      ''
    ];
  };

  # Both have bin/greet: a collision unless priorities differ.
  greet = tool "greet" "greet-high" "";
  greetLow = (tool "greet-low" "greet-low" ''cp "$out/bin/greet-low" "$out/bin/greet"'') // {
    meta.priority = 10;
  };
  # Its bin/greet collides with greet's at equal priority.
  greetToo = tool "greet-too" "greet-too" ''cp "$out/bin/greet-too" "$out/bin/greet"'';
}
