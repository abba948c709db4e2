# Options hearth's home module does not have (Home Manager's program and
# service modules, or a misspelt core option): every definition of one is
# collected, with the file that made it, into one error that lists them
# all, instead of the module system's "does not exist" for the first one
# only. The values stay readable in `config` (a configuration may test
# `config.programs.git.enable`), but the home is not built while any is set.
{
  config,
  lib,
  ...
}:
let
  # The key under which the collected definitions sit in `config`; no
  # option or Home Manager module has this name.
  key = "_hearthUnsupported";

  # The option paths a definition sets: its attribute paths, stopping at a
  # value that is not a plain attribute set (or a module system property)
  # and at three components (`programs.git.enable`), deeper names being the
  # settings of one option.
  leaves =
    path: value:
    if
      builtins.length path >= 3
      || !builtins.isAttrs value
      || value ? _type
      || lib.isDerivation value
      || value == { }
    then
      [ path ]
    else
      lib.concatLists (lib.mapAttrsToList (n: v: leaves (path ++ [ n ]) v) value);

  # The freeform type of the home: keeps what was defined (so `config` can be
  # read), and records each leaf with its file under `key`.
  collecting = lib.mkOptionType {
    name = "unsupported";
    description = "option hearth's home module does not have";
    merge =
      loc: defs:
      let
        found = lib.concatMap (
          d:
          map (path: {
            inherit path;
            file = toString d.file;
          }) (leaves [ ] d.value)
        ) defs;
        values = (lib.types.lazyAttrsOf lib.types.anything).merge loc defs;
      in
      values // { ${key} = found; };
  };

  found = config.${key} or [ ];

  # One line per option path, with every file that set it.
  byPath = builtins.groupBy (f: lib.showOption f.path) found;
  line =
    name:
    let
      # Modules given as values (not files) have no file to name.
      files = lib.filter (f: f != "<unknown-file>") (lib.unique (map (f: f.file) byPath.${name}));
    in
    "  ${name}" + lib.optionalString (files != [ ]) " (in ${lib.concatStringsSep ", " files})";
  names = builtins.attrNames byPath;

  message = lib.concatStringsSep "\n" (
    [
      "${toString (builtins.length names)} option${lib.optionalString (builtins.length names != 1) "s"} set here ${
        if builtins.length names == 1 then "is not an option" else "are not options"
      } of hearth's home module:"
    ]
    ++ map line names
    ++ [
      "hint: hearth's home module has Home Manager's core options (home.file, home.sessionVariables, xdg.configFile, ...: docs/options.md), not its program and service modules (programs.*, services.*, gtk, fonts, home.pointerCursor, xdg.mimeApps, ...). Those come with Home Manager's own modules: set hearth.homeManager.source to a Home Manager checkout to evaluate the homes with them (README: \"Home Manager's modules with hearth\"); or write the files such a module would write with home.file or xdg.configFile, and install the program with home.packages. A name that is neither is misspelt."
    ]
  );
in
{
  config = {
    _module.freeformType = collecting;

    assertions = [
      {
        assertion = found == [ ];
        inherit message;
      }
    ];
  };
}
