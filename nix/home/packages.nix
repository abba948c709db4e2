# home.packages and the packages environment (`home.path`), which
# `hearth build-env` merges the way nixpkgs' buildEnv does for profiles.
{
  config,
  lib,
  ...
}:
let
  cfg = config.home;

  # The outputs of a package that go into the environment, as nixpkgs'
  # buildEnv chooses them: the one it was taken as (`pkgs.foo.dev`), else
  # those it asks to be installed (meta.outputsToInstall), else its default.
  installed =
    p:
    if p.outputSpecified or false then
      [ p.outputName ]
    else
      p.meta.outputsToInstall or [ (p.outputName or "out") ];

  # Its outputs named in extraOutputsToInstall.
  extra = p: lib.filter (o: builtins.elem o (p.outputs or [ "out" ])) cfg.extraOutputsToInstall;

  outPath = p: o: if p ? ${o} then "${p.${o}}" else "${p}";

  # One spec entry per installed output (`hearth build-env` links `path`,
  # and the outputs of `outputs` named in extraOutputsToInstall); the first
  # carries the outputs that extraOutputsToInstall may ask for. Only chosen
  # outputs are referenced, so no other output is built or fetched.
  entriesOf =
    p:
    let
      outs = lib.unique (installed p);
      priority = p.meta.priority or 5;
      name = p.name or (baseNameOf "${p}");
    in
    lib.imap0 (i: o: {
      path = outPath p o;
      # Recorded in the environment, so that `hearth packages` can tell
      # `foo-1.0-dev` (foo's dev output) from a package named so.
      output = o;
      inherit priority;
      name = if i == 0 then name else "${name} (${o})";
      outputs = if i == 0 then lib.genAttrs (lib.unique (outs ++ extra p)) (outPath p) else { };
    }) outs;

  # hm-session-vars.sh where Home Manager users' shell files look for it:
  # `etc/profile.d/` of the packages environment, i.e.
  # ~/.nix-profile/etc/profile.d/ standalone and
  # /etc/profiles/per-user/$USER/etc/profile.d/ on NixOS and nix-darwin. The
  # same file as the generation's (the same builder writes it), built apart
  # because the generation refers to the environment.
  coreutils =
    if config.hearth.coreutils != null then
      config.hearth.coreutils
    else
      throw "hearth: the home of ${cfg.username} sets home.packages, whose environment holds etc/profile.d/hm-session-vars.sh, which needs coreutils to build; evaluate the home with `pkgs` (the platform modules pass it) or set hearth.coreutils";
  sessionExtra = cfg.sessionScriptExtra;
  inherit (import ../lib/builder.nix) lastBuiltin;
  sessionVariablesPackage = derivation (
    {
      name = "hm-session-vars.sh";
      inherit (config.hearth) system;
      builder = config.hearth.shell;
      args = [
        "-c"
        (
          ''
            set -e
            "$hearth" build-generation "$specPath" "$NIX_BUILD_TOP/vars"
            "$coreutils/bin/mkdir" -p "$out/etc/profile.d"
            vars="$out/etc/profile.d/hm-session-vars.sh"
            "$coreutils/bin/cp" "$NIX_BUILD_TOP/vars/hm-session-vars.sh" "$vars"
          ''
          + lib.optionalString (sessionExtra != "") ''
            "$coreutils/bin/chmod" u+w "$vars"
            printf '\n%s\n' "$sessionExtra" >> "$vars"
          ''
          + ''
            "$coreutils/bin/chmod" 0444 "$vars"
          ''
          + lastBuiltin
        )
      ];
      hearth = "${config.hearth.package}/bin/hearth";
      coreutils = "${coreutils}";
      # Only what the session script is made of.
      spec = builtins.toJSON {
        user = cfg.username;
        home = cfg.homeDirectory;
        inherit (config.hearth) shell;
        sessionVariables = cfg.sessionVariablesSpec;
        sessionPath = cfg.sessionSearchVariables.PATH or [ ];
      };
      passAsFile = [ "spec" ];
      preferLocalBuild = true;
      allowSubstitutes = false;
    }
    // lib.optionalAttrs (sessionExtra != "") { inherit sessionExtra; }
  );

  spec = {
    paths =
      lib.concatMap entriesOf cfg.packages
      ++ [
        {
          path = "${sessionVariablesPackage}";
          priority = 5;
          name = "hm-session-vars.sh";
          output = "out";
          outputs = { };
        }
      ];
    inherit (cfg) extraOutputsToInstall;
    pathsToLink = [ "/" ];
  };
in
{
  options.home = {
    packages = lib.mkOption {
      type = lib.types.listOf lib.types.package;
      default = [ ];
      example = lib.literalExpression "[ pkgs.ripgrep (lib.hiPrio pkgs.vim) ]";
      description = ''
        Packages of the user's environment. When two provide the same file,
        the one with the better priority wins (lower `meta.priority`; 5 by
        default; see `lib.hiPrio` and `lib.lowPrio`); equal priorities are a
        build error that lists every colliding file.
      '';
    };

    extraOutputsToInstall = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      example = [
        "dev"
        "info"
      ];
      description = ''
        Outputs of the packages linked into the environment besides those
        each package installs by default, when the package has them.
      '';
    };

    extraProfileCommands = lib.mkOption {
      type = lib.types.lines;
      default = "";
      example = ''
        if [ -d "$out/share/applications" ]; then
          ''${pkgs.desktop-file-utils}/bin/update-desktop-database "$out/share/applications"
        fi
      '';
      description = ''
        Shell commands run when the packages environment is built, after
        its links are made, with `$out` the environment (as in nixpkgs'
        `buildEnv` `postBuild`). Only with {option}`home.packages` set: with
        no packages there is no environment.
      '';
    };

    path = lib.mkOption {
      type = lib.types.nullOr lib.types.package;
      internal = true;
      readOnly = true;
      description = ''
        The packages environment built by `hearth build-env` from
        {option}`home.packages` and `etc/profile.d/hm-session-vars.sh`, or
        null when there are no packages.
      '';
    };

    sessionVariablesPackage = lib.mkOption {
      type = lib.types.package;
      internal = true;
      readOnly = true;
      description = ''
        The package holding `etc/profile.d/hm-session-vars.sh`, as in Home
        Manager; part of the packages environment ({option}`home.packages`
        set), so that shell files that source
        `~/.nix-profile/etc/profile.d/hm-session-vars.sh` or
        `/etc/profiles/per-user/$USER/etc/profile.d/hm-session-vars.sh` find
        it.
      '';
    };

    packagesSpec = lib.mkOption {
      type = lib.types.attrs;
      internal = true;
      readOnly = true;
      description = "What `hearth build-env` is given, as JSON.";
    };
  };

  config.home = {
    inherit sessionVariablesPackage;
    packagesSpec = spec;
    path =
      if cfg.packages == [ ] then
        null
      else
        derivation {
          name = "hearth-packages-${cfg.username}";
          inherit (config.hearth) system;
          builder = config.hearth.shell;
          args = [
            "-c"
            (
              if cfg.extraProfileCommands == "" then
                ''exec "$hearth" build-env "$specPath" "$out"''
              else
                ''
                  set -e
                  "$hearth" build-env "$specPath" "$out"
                  ${cfg.extraProfileCommands}
                ''
                + lastBuiltin
            )
          ];
          hearth = "${config.hearth.package}/bin/hearth";
          spec = builtins.toJSON spec;
          passAsFile = [ "spec" ];
          preferLocalBuild = true;
          allowSubstitutes = false;
        };
  };
}
