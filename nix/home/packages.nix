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
      inherit priority;
      name = if i == 0 then name else "${name} (${o})";
      outputs = if i == 0 then lib.genAttrs (lib.unique (outs ++ extra p)) (outPath p) else { };
    }) outs;

  spec = {
    paths = lib.concatMap entriesOf cfg.packages;
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
        {option}`home.packages`, or null when there are none.
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
