# What a configuration may add to its generation, under Home Manager's
# names: store paths kept alive with it, checks built with it, commands run
# in its build, packages on the PATH of its steps. generation.nix reads these
# options; this module only declares them (and the generation, read-only,
# under Home Manager's name).
{
  config,
  lib,
  ...
}:
{
  options.home = {
    extraDependencies = lib.mkOption {
      type = lib.types.listOf lib.types.pathInStore;
      default = [ ];
      example = lib.literalExpression "[ pkgs.stdenv.cc pkgs.path ]";
      description = ''
        Store paths kept alive by the generation: they are written to its
        `extra-dependencies` file, so they are in its closure and are not
        garbage-collected while the generation is rooted. Nothing links to
        them in the home. For checks that must pass but need not be kept,
        use {option}`home.checks`.
      '';
    };

    checks = lib.mkOption {
      type = lib.types.listOf lib.types.package;
      default = [ ];
      example = lib.literalExpression ''
        [
          (pkgs.runCommand "nvim-config-parses" { } '''
            ''${pkgs.neovim}/bin/nvim --headless -u ''${./init.lua} +q && touch $out
          ''')
        ]
      '';
      description = ''
        Packages built before the generation: if one fails to build, so does
        the generation. They are inputs of its build only, not part of it:
        nothing of them is in the generation's closure (unlike
        {option}`home.extraDependencies`).
      '';
    };

    extraBuilderCommands = lib.mkOption {
      type = lib.types.lines;
      default = "";
      example = ''
        echo "generation of $out" > "$out/notes"
      '';
      description = ''
        Shell commands run at the end of the generation's build, with
        {env}`out` the generation directory hearth has just written (its
        `manifest.json`, steps and `hm-session-vars.sh` must be left as they
        are). The build has only coreutils on {env}`PATH` (with `pkgs`;
        without it nothing); refer to other programs by store path. What is
        added to the generation is not linked into the home.
      '';
    };

    extraActivationPath = lib.mkOption {
      type = lib.types.listOf lib.types.package;
      default = [ ];
      example = lib.literalExpression "[ pkgs.git pkgs.jq ]";
      description = ''
        Packages whose `bin` directories are put in front of {env}`PATH` for
        the activation steps ({option}`home.activation`) and the `onChange`
        hooks of files, in this order. The rest of {env}`PATH` is what hearth
        runs with (see {option}`home.emptyActivationPath`).
      '';
    };

    emptyActivationPath = lib.mkOption {
      type = lib.types.bool;
      default = true;
      description = ''
        Accepted for Home Manager configurations; has no effect. In Home
        Manager, `true` keeps the user's {env}`PATH` out of the activation
        script, which brings its own tools instead. hearth brings no tools
        of its own: steps and hooks always run with the {env}`PATH` hearth
        runs with (in root mode, as on NixOS and nix-darwin, a fixed system
        {env}`PATH` built from scratch, never the caller's), after
        {option}`home.extraActivationPath`. Name the tools a step needs
        there, or by store path.
      '';
    };

    activationGenerateGcRoot = lib.mkOption {
      type = lib.types.bool;
      default = true;
      description = ''
        Accepted for Home Manager configurations; has no effect. hearth
        always keeps a GC root for each generation it has activated (until
        `hearth remove-generations` or `hearth expire-generations`), so
        the generation a home points into is never collected.
      '';
    };

    activationPackage = lib.mkOption {
      type = lib.types.package;
      readOnly = true;
      defaultText = lib.literalExpression "config.home.generation";
      description = ''
        The generation of this home, as Home Manager names its activation
        package: `hearth-generation-<user>`, with `manifest.json`,
        `hm-session-vars.sh` and `activate` (which runs
        `hearth activate` on it).
      '';
    };
  };

  config.home.activationPackage = config.home.generation;
}
