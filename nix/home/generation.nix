# The generation: the spec given to `hearth build-generation` (written by
# builtins.toJSON from the options above) and the derivation that runs it.
# The build needs nothing but the hearth binary and a shell.
{
  config,
  lib,
  ...
}:
let
  cfg = config.home;
  home = cfg.homeDirectory;

  # A target relative to the home: relative ones as they are, absolute ones
  # inside the home without the home's prefix; anything else is an error.
  relativeTarget =
    file:
    let
      t = file.target;
      inside = if home == "/" then "/" else "${home}/";
    in
    if !lib.hasPrefix "/" t then
      t
    else if lib.hasPrefix inside t && t != inside then
      lib.removePrefix inside t
    else
      throw "${file.definedBy}: the target ${t} is not inside the home ${home}; use a path relative to the home or an absolute path under it";

  # A path value (./vimrc) is copied into the store under a valid name;
  # strings (store paths, derivations) are taken as they are.
  storeSource =
    file:
    if builtins.isPath file.source then
      builtins.path {
        path = file.source;
        name =
          "hearth_"
          + lib.concatStrings (
            map (c: if builtins.match "[A-Za-z0-9+._?=-]" c == null then "-" else c) (
              lib.stringToCharacters (lib.removePrefix "." (baseNameOf file.source))
            )
          );
      }
    else
      "${file.source}";

  # In order of target, whatever the option names.
  files = lib.sort (a: b: relativeTarget a < relativeTarget b) (
    lib.filter (f: f.enable) (builtins.attrValues cfg.file)
  );

  fileSpec = file: {
    target = relativeTarget file;
    source = storeSource file;
    inherit (file)
      type
      executable
      recursive
      force
      definedBy
      ;
    # "600" and "0600" alike: the manifest wants four digits.
    mode = if file.mode != null && builtins.stringLength file.mode == 3 then "0${file.mode}" else file.mode;
    onChange = if file.onChange == "" then null else file.onChange;
  };

  spec = {
    user = cfg.username;
    inherit home;
    backupExtension = cfg.backupFileExtension;
    inherit (config.hearth) shell;
    hearth = "${config.hearth.package}/bin/hearth";
    files = map fileSpec files;
    packages = if config.hearth.installPackages && cfg.path != null then "${cfg.path}" else null;
    activation = cfg.activationOrder;
    sessionVariables = lib.mapAttrs (_: toString) cfg.sessionVariables;
    inherit (cfg) sessionPath;
  };

  # Two entries with the same target: both named, before anything is built.
  duplicates =
    let
      byTarget = builtins.groupBy (f: relativeTarget f) files;
    in
    lib.filterAttrs (_: fs: builtins.length fs > 1) byTarget;

  failed = map (a: a.message) (lib.filter (a: !a.assertion) config.assertions);
in
{
  options.home = {
    generationSpec = lib.mkOption {
      type = lib.types.attrs;
      internal = true;
      readOnly = true;
      description = "What `hearth build-generation` is given, as JSON.";
    };

    generation = lib.mkOption {
      type = lib.types.package;
      internal = true;
      readOnly = true;
      description = ''
        The generation of this home, `hearth-generation-<user>`: the
        manifest, text sources, session variables script and `activate`.
      '';
    };
  };

  config = {
    assertions = lib.mapAttrsToList (target: fs: {
      assertion = false;
      message = "${target} is the target of ${toString (builtins.length fs)} files: ${lib.concatMapStringsSep ", " (f: f.definedBy) fs}; remove all but one or give them other targets";
    }) duplicates;

    home.generationSpec = spec;

    home.generation =
      if failed != [ ] then
        throw "hearth: the home of ${cfg.username} is not valid:\n- ${lib.concatStringsSep "\n- " failed}"
      else
        derivation {
          name = "hearth-generation-${cfg.username}";
          inherit (config.hearth) system;
          builder = config.hearth.shell;
          args = [
            "-c"
            ''exec "$hearth" build-generation "$specPath" "$out"''
          ];
          inherit (spec) hearth;
          spec = builtins.toJSON spec;
          passAsFile = [ "spec" ];
          preferLocalBuild = true;
          allowSubstitutes = false;
        };
  };
}
