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

  enabled = lib.filter (f: f.enable) (builtins.attrValues cfg.file);

  # home.fileOverlapResolution: an entry whose target is a file of a
  # recursive directory given as a path value (the only kind Nix can look
  # into while evaluating). What is at `rel` in that directory: "regular",
  # "symlink", "directory", or null.
  kindIn =
    dir: rel:
    let
      parent = dirOf "/${rel}";
      entries = builtins.readDir (if parent == "/" then dir else dir + parent);
    in
    if builtins.pathExists (dir + "/${rel}") then entries.${baseNameOf rel} or null else null;

  overlaps = lib.concatMap (
    r:
    let
      prefix = "${relativeTarget r}/";
    in
    lib.concatMap (
      e:
      let
        t = relativeTarget e;
        rel = lib.removePrefix prefix t;
        kind = kindIn r.source rel;
      in
      lib.optional (
        e.definedBy != r.definedBy && lib.hasPrefix prefix t && kind != null && kind != "directory"
      ) { inherit e r rel; }
    ) enabled
  ) (lib.filter (f: f.recursive && builtins.isPath f.source) enabled);

  overlapResolution = cfg.fileOverlapResolution;

  # Every file below a path-valued directory, relative to it (symlinks are
  # files: never followed, as `hearth build-generation` walks them).
  filesBelow =
    dir: prefix:
    lib.concatLists (
      lib.mapAttrsToList (
        name: kind:
        if kind == "directory" then
          filesBelow (dir + "/${name}") "${prefix}${name}/"
        else
          [ "${prefix}${name}" ]
      ) (builtins.readDir dir)
    );

  # `override`: a recursive directory with an overlap becomes one entry per
  # file, without the overlapped ones.
  expand =
    r:
    let
      mine = lib.filter (o: o.r.definedBy == r.definedBy) overlaps;
      taken = map (o: o.rel) mine;
      dir = storeSource r;
    in
    if mine == [ ] then
      [ r ]
    else
      map (rel: r // {
        target = "${relativeTarget r}/${rel}";
        source = "${dir}/${rel}";
        recursive = false;
      }) (lib.filter (rel: !builtins.elem rel taken) (filesBelow r.source ""));

  resolved =
    if overlaps == [ ] || overlapResolution == "error" then
      enabled
    else if overlapResolution == "ignore" then
      lib.filter (f: !lib.any (o: o.e.definedBy == f.definedBy) overlaps) enabled
    else
      lib.concatMap expand enabled;

  # In order of target, whatever the option names.
  files = lib.sort (a: b: relativeTarget a < relativeTarget b) resolved;

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
    onChange = if file.onChange == "" then null else withPath file.onChange;
  };

  # home.extraActivationPath: in front of PATH in every step and hook.
  withPath =
    text:
    if cfg.extraActivationPath == [ ] then
      text
    else
      ''
        export PATH=${lib.escapeShellArg (lib.makeBinPath cfg.extraActivationPath)}"''${PATH:+:}$PATH"
      ''
      + text;

  spec = {
    user = cfg.username;
    inherit home;
    backupExtension = cfg.backupFileExtension;
    inherit (config.hearth) shell;
    hearth = "${config.hearth.package}/bin/hearth";
    files = map fileSpec files;
    packages = if config.hearth.installPackages && cfg.path != null then "${cfg.path}" else null;
    # The same environment the platform modules put into
    # users.users.<name>.packages: named so that hearth can show what
    # changes in it, never installed by hearth.
    systemPackages =
      if !config.hearth.installPackages && cfg.path != null then "${cfg.path}" else null;
    activation = map (s: s // { text = withPath s.text; }) cfg.activationOrder;
    sessionVariables = cfg.sessionVariablesSpec;
    sessionPath = cfg.sessionSearchVariables.PATH or [ ];
  };

  # hm-session-vars.sh is written (read-only) by `hearth build-generation`;
  # aliases and sessionVariablesExtra are appended to it afterwards.
  extra = cfg.sessionScriptExtra;
  coreutils =
    if config.hearth.coreutils != null then
      config.hearth.coreutils
    else
      throw "hearth: the home of ${cfg.username} sets home.shellAliases or home.sessionVariablesExtra, which need coreutils to build; evaluate the home with `pkgs` (the platform modules pass it) or set hearth.coreutils";
  appendExtra = lib.optionalString (extra != "") ''
    vars="$out/hm-session-vars.sh"
    "$coreutils/bin/chmod" u+w "$vars"
    printf '\n%s\n' "$sessionExtra" >> "$vars"
    "$coreutils/bin/chmod" 0444 "$vars"
  '';

  # What runs after `hearth build-generation`, in the same build: the
  # session script's extras, home.extraDependencies written into the
  # generation (so that they are in its closure), home.extraBuilderCommands.
  # printf is the shell's own: it needs no coreutils.
  afterBuild =
    appendExtra
    + lib.optionalString (cfg.extraDependencies != [ ]) ''
      printf '%s\n' $extraDependencies > "$out/extra-dependencies"
    ''
    + cfg.extraBuilderCommands;

  # Two entries with the same target: both named, before anything is built.
  duplicates =
    let
      byTarget = builtins.groupBy (f: relativeTarget f) files;
    in
    lib.filterAttrs (_: fs: builtins.length fs > 1) byTarget;

  failed = map (a: a.message) (lib.filter (a: !a.assertion) config.assertions);
  inherit (import ../lib/builder.nix) lastBuiltin;
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
    }) duplicates
    ++ lib.optionals (overlapResolution == "error") (
      map (o: {
        assertion = false;
        message = "${relativeTarget o.e} is the target of ${o.e.definedBy} and a file of the recursive directory of ${o.r.definedBy}; remove one, or set home.fileOverlapResolution to \"ignore\" (the directory's file wins) or \"override\" (the other entry wins)";
      }) overlaps
    );

    home.generationSpec = spec;

    home.generation =
      if failed != [ ] then
        throw "hearth: the home of ${cfg.username} is not valid:\n- ${lib.concatStringsSep "\n- " failed}"
      else
        derivation (
          {
            name = "hearth-generation-${cfg.username}";
          inherit (config.hearth) system;
          builder = config.hearth.shell;
          args = [
            "-c"
            (
              if afterBuild == "" then
                ''exec "$hearth" build-generation "$specPath" "$out"''
              else
                ''
                  set -e
                  "$hearth" build-generation "$specPath" "$out"
                ''
                + afterBuild
                + lastBuiltin
            )
          ];
          inherit (spec) hearth;
          spec = builtins.toJSON spec;
          passAsFile = [ "spec" ];
          preferLocalBuild = true;
          allowSubstitutes = false;
        }
          // lib.optionalAttrs (extra != "") {
            sessionExtra = extra;
            coreutils = "${coreutils}";
          }
          // lib.optionalAttrs (cfg.extraDependencies != [ ]) { inherit (cfg) extraDependencies; }
          # Inputs of the build, never written into it: not in the closure.
          // lib.optionalAttrs (cfg.checks != [ ]) { passedChecks = cfg.checks; }
          // lib.optionalAttrs (cfg.extraBuilderCommands != "" && config.hearth.coreutils != null) {
            PATH = "${config.hearth.coreutils}/bin";
          }
        );
  };
}
