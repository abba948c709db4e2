# Small real derivations, and the few nixpkgs builders around them, that the
# Nix test drivers (os.nix, real-nixos.nix, real-darwin.nix, home.nix)
# build instead of nixpkgs': every builder is /bin/sh, so they build on any
# machine with Nix and no binary cache.
rec {
  # A derivation made by a shell script.
  run =
    name: script:
    derivation {
      inherit name;
      system = builtins.currentSystem;
      builder = "/bin/sh";
      PATH = "/bin:/usr/bin";
      args = [
        "-ec"
        script
      ];
    };

  # A package with an empty bin/: stands in for a tool a module names.
  tool = name: run name ''mkdir -p "$out/bin"'';

  # A shell package, as `users.users.<name>.shell` takes one.
  shell =
    name: path:
    (tool name)
    // {
      shellPath = path;
      pname = name;
    };

  # A writeText whose text stays readable in the evaluation (`.text`).
  writeText =
    name: text:
    (derivation {
      inherit name text;
      system = builtins.currentSystem;
      builder = "/bin/sh";
      PATH = "/bin:/usr/bin";
      passAsFile = [ "text" ];
      args = [
        "-ec"
        ''cp "$textPath" "$out"''
      ];
    })
    // {
      inherit text;
    };

  runCommand =
    name: _env: script:
    run name script;

  # The hearth package: a store path never built when neither is given
  # (evaluation only), else bin/hearth is `hearthBin` (the real binary, a
  # path outside the store) or `hearthScript` (a shell script's text
  # standing in for the binary where a test is about the shell around it).
  hearthPackage =
    {
      hearthBin ? null,
      hearthScript ? null,
    }:
    if hearthBin == null && hearthScript == null then
      "/nix/store/00000000000000000000000000000000-hearth"
    else
      derivation {
        name = "hearth";
        system = builtins.currentSystem;
        builder = "/bin/sh";
        PATH = "/bin:/usr/bin";
        args = [
          "-ec"
          ''
            mkdir -p "$out/bin"
            if [ -n "$bin" ]; then cp "$bin" "$out/bin/hearth"; else cp "$scriptPath" "$out/bin/hearth"; fi
            chmod 0555 "$out/bin/hearth"
          ''
        ];
        bin =
          if hearthBin == null then
            ""
          else
            builtins.path {
              path = hearthBin;
              name = "hearth-bin";
            };
        script = if hearthScript == null then "" else hearthScript;
        passAsFile = [ "script" ];
      };
}
