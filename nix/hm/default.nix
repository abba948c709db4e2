# The Home Manager module bridge: evaluates one home with Home Manager's own
# module collection (its modules/modules.nix, as its NixOS module does) and
# turns the evaluated configuration into a hearth generation by evaluating
# hearth's home module with what Home Manager decided: its final `home.file`
# (with Home Manager's source naming, so the links point where Home
# Manager's `home-files` would), `home.packages`, and `home.activation`
# without the entries that do Home Manager's own linking, package install
# and systemd reload (hearth does those). Never uses Home Manager's
# activation script or `home-files`.
#
# A plain function, so that the NixOS / nix-darwin modules (through
# nix/modules/shared.nix) and standalone hearth call it alike.
{
  # A Home Manager checkout (a path, a flake input, a fetchTarball).
  source,
  pkgs,
  # nixpkgs' lib (Home Manager extends it with `lib.hm`).
  lib,
  # The home's modules: the user's home.nix, shared modules, defaults.
  modules,
  extraSpecialArgs ? { },
  # The system configuration, for homes of a NixOS or nix-darwin system
  # (null standalone): packages are then installed by the system
  # (`users.users.<name>.packages`, as Home Manager's useUserPackages).
  osConfig ? null,
  osClass ? null,
  # Modules for hearth's side of the home (hearth.package,
  # home.backupFileExtension, hearth.installPackages, ...).
  hearthModules ? [ ],
  # Where the home sits in the configuration that holds it, for the option
  # paths of errors: `[ "hearth" "users" name ]` in a system, as the
  # options of a home of hearth's own module read there.
  prefix ? [ ],
}:
let
  inSystem = osConfig != null;

  # Home Manager's lib (nixpkgs' with `lib.hm`), and its modules with the
  # `pkgs` given (as its `useGlobalPkgs`: `nixpkgs.*` is Home Manager's
  # disabled variant).
  hmLib = import (source + "/modules/lib/stdlib-extended.nix") lib;
  hmModules = import (source + "/modules/modules.nix") {
    inherit pkgs;
    lib = hmLib;
    useNixpkgsModule = false;
  };

  hm = hmLib.evalModules {
    class = "homeManager";
    inherit prefix;
    modules =
      hmModules
      ++ [
        {
          submoduleSupport.enable = inSystem;
          submoduleSupport.externalPackageInstall = inSystem;
        }
      ]
      ++ modules;
    specialArgs = {
      lib = hmLib;
      modulesPath = toString (source + "/modules");
    }
    // lib.optionalAttrs inSystem { inherit osConfig osClass; }
    // extraSpecialArgs;
  };

  c = hm.config;

  # The activation entries of Home Manager's core that hearth's own phases
  # replace: checkLinkTargets (hearth's check), writeBoundary,
  # linkGeneration and the change detection around it (hearth's files
  # phase and onChange hooks), installPackages (the packages environment)
  # and reloadSystemd (hearth reloads the user's units). They stay nodes of
  # the DAG in hearth's home module, with Home Manager's constraints.
  replaced = [
    "checkLinkTargets"
    "writeBoundary"
    "linkGeneration"
    "checkFilesChanged"
    "onFilesChange"
    "installPackages"
    "reloadSystemd"
  ];

  # Home Manager's store path for a source: a path value copied under
  # `storeFileName` of its base name, anything with context as it is.
  sourceStorePath =
    file:
    let
      sourcePath = toString file.source;
    in
    if builtins.hasContext sourcePath then
      sourcePath
    else
      "${builtins.path {
        path = file.source;
        name = hmLib.hm.strings.storeFileName (baseNameOf sourcePath);
      }}";

  # The files of Home Manager's module definitions of home.file.<name>
  # (xdg.configFile and program modules define it through their own
  # modules: those files are named).
  locations =
    name:
    lib.unique (
      lib.concatMap (
        d:
        let
          file = builtins.unsafeDiscardStringContext (toString d.file);
        in
        lib.optional (builtins.isAttrs d.value && d.value ? ${name} && file != "<unknown-file>") file
      ) hm.options.home.file.definitionsWithLocations
    );

  files = lib.filterAttrs (_: f: f.enable) c.home.file;

  # "./.zshrc" and "a//b" as Home Manager's home-files resolves them.
  normalize =
    target: lib.concatStringsSep "/" (lib.filter (c: c != "" && c != ".") (lib.splitString "/" target));

  fileOf = name: f: {
    target = normalize f.target;
    inherit (f)
      executable
      recursive
      ignorelinks
      force
      onChange
      ;
    source = sourceStorePath f;
    definedBy =
      let
        where = locations name;
      in
      lib.showOption [
        "home"
        "file"
        name
      ]
      + lib.optionalString (where != [ ]) " (defined in ${lib.concatStringsSep ", " where})";
  };

  # Home Manager's hm-session-vars.sh package wins over the (empty) one
  # hearth's module adds to the packages environment: it is what Home
  # Manager's shell modules source from the profile.
  packages = map (p: if p == c.home.sessionVariablesPackage then lib.hiPrio p else p) c.home.packages;

  hearthLib = import ../lib { inherit lib; };

  translated = {
    _module.args.pkgs = pkgs;
    home = {
      inherit (c.home)
        username
        homeDirectory
        stateVersion
        fileOverlapResolution
        extraOutputsToInstall
        extraProfileCommands
        extraActivationPath
        extraDependencies
        checks
        ;
      uid = c.home.uid;
      file = lib.mapAttrs fileOf files;
      inherit packages;
      activation = lib.mapAttrs (_: e: {
        inherit (e) data after before;
      }) (removeAttrs c.home.activation replaced);
    };
    # Home Manager's assertions and warnings are the home's: a failed one
    # stops the generation's build as hearth's own do.
    assertions = map (a: { inherit (a) assertion message; }) c.assertions;
    inherit (c) warnings;
  };

  home = lib.evalModules {
    class = "hearth";
    inherit prefix;
    specialArgs.lib = hearthLib.extendLib lib;
    modules = [
      ../home-module.nix
      translated
    ]
    ++ hearthModules;
  };
in
{
  # Home Manager's evaluation (`config`, `options`) and hearth's.
  inherit hm;
  inherit (home) config;
  inherit (home.config) assertions warnings;
  inherit (home.config.home) generation;
  # The packages environment (null without packages).
  packages = home.config.home.path;
  # Home Manager's session variables script.
  sessionVariables = "${c.home.sessionVariablesPackage}/etc/profile.d/hm-session-vars.sh";
}
