# Small real derivations, and the few nixpkgs builders around them, that the
# Nix test drivers (os.nix, real-nixos.nix, real-darwin.nix, home.nix)
# build instead of nixpkgs': every builder is /bin/sh, so they build on any
# machine with Nix and no binary cache. Every script ends with a builtin
# (`lastBuiltin`, see nix/lib/builder.nix): Nix 2.8 kills a builder whose
# last command, run in the shell's place, closes its output before exiting.
rec {
  # nix/lib/builder.nix's, written out: tests copy this file alone.
  lastBuiltin = "\n:\n";

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
        (script + lastBuiltin)
      ];
    };

  # A package with an empty bin/: stands in for a tool a module names.
  tool = name: run name ''mkdir -p "$out/bin"'';

  # This machine's `ln`, `chmod`, `mkdir` and `cp`, for the few builds of
  # a home that need them (`hearth.coreutils`: the session variables
  # script in the packages environment, ...). The tests build with the
  # sandbox off.
  hostCoreutils = run "host-coreutils" ''
    mkdir -p "$out/bin"
    for t in ln chmod mkdir cp; do ln -s "$(command -v $t)" "$out/bin/$t"; done
  '';

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
        (''cp "$textPath" "$out"'' + lastBuiltin)
      ];
    })
    // {
      inherit text;
    };

  runCommand =
    name: _env: script:
    run name script;

  # `runCommandLocal` as the DAG-ordered formats of lib.hm.generators call
  # it: the attributes are the build's environment (so a test can read
  # them back from the derivation), with the `bin` of every
  # `nativeBuildInputs` on PATH.
  runCommandLocal =
    name: env: script:
    derivation (
      env
      // {
        inherit name;
        system = builtins.currentSystem;
        builder = "/bin/sh";
        PATH = builtins.concatStringsSep ":" (
          map (p: "${p}/bin") (env.nativeBuildInputs or [ ])
          ++ [
            "/bin"
            "/usr/bin"
          ]
        );
        args = [
          "-ec"
          (script + lastBuiltin)
        ];
      }
    );

  # A package whose bin/NAME is the shell script `text`.
  script =
    name: text:
    run name ''
      mkdir -p "$out/bin"
      cat > "$out/bin/${name}" <<'EOF'
      #!/bin/sh
      ${text}
      EOF
      chmod +x "$out/bin/${name}"
    '';

  # Stand-ins for jq and remarshal (which cannot run here), called as the
  # JSON, YAML and TOML formats call them: each copies its input unchanged,
  # so the file built is the text the format handed to the tool.
  jq = script "jq" ''cat "$2"'';
  remarshal =
    run "remarshal" ''
      mkdir -p "$out/bin"
      for t in json2yaml json2toml; do printf '#!/bin/sh\ncp "$1" "$2"\n' > "$out/bin/$t"; done
      chmod +x "$out"/bin/*
    '';

  # `pkgs.formats`' json, yaml, toml, ini and keyValue: each remembers the
  # options it was made with (`args`), and its `generate` writes the value
  # as JSON (there is no serialiser here).
  formats = builtins.listToAttrs (
    map
      (type: {
        name = type;
        value = args: {
          inherit type args;
          generate = name: value: writeText name (builtins.toJSON value);
        };
      })
      [
        "json"
        "yaml"
        "toml"
        "ini"
        "keyValue"
      ]
  );

  # The `pkgs` that lib.hm.generators' mkDAGOrdered*Format take.
  formatsPkgs = {
    inherit runCommandLocal formats;
    buildPackages = { inherit jq remarshal; };
  };

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
          (
            ''
              mkdir -p "$out/bin"
              if [ -n "$bin" ]; then cp "$bin" "$out/bin/hearth"; else cp "$scriptPath" "$out/bin/hearth"; fi
              chmod 0555 "$out/bin/hearth"
            ''
            + lastBuiltin
          )
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
