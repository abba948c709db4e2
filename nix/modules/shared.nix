# What the NixOS and nix-darwin modules share: the hearth.* options, one
# evaluation of the home module per user, the users' packages and session
# variables. The platform modules only add how and when activation runs.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.hearth;

  hearthLib = import ../lib { inherit lib; };

  # Defaults every home gets from the system configuration.
  fromSystem =
    { name, ... }:
    let
      user = config.users.users.${name};
    in
    {
      home.username = lib.mkDefault user.name;
      home.homeDirectory = lib.mkDefault (
        if user.home == null then
          throw "hearth.users.${name}: users.users.${name}.home is not set; set it (or hearth.users.${name}.home.homeDirectory)"
        else
          user.home
      );
      home.backupFileExtension = lib.mkDefault cfg.backupFileExtension;
      hearth.package = cfg.package;
      # The system installs the packages (users.users.<name>.packages).
      hearth.installPackages = false;
      _module.args.pkgs = lib.mkDefault pkgs;
    };

  homeType = lib.types.submoduleWith {
    modules = [
      ../home-module.nix
      fromSystem
    ] ++ cfg.sharedModules;
    specialArgs = {
      lib = hearthLib.extendLib lib;
      osConfig = config;
    } // cfg.extraSpecialArgs;
    shorthandOnlyDefinesConfig = true;
  };

  # Each user's session variables script, sourced by every login shell of
  # that user (bash and zsh read set-environment directly; fish through
  # fenv/babelfish), before any rc file of the user.
  sessionInit = ''
    # hearth: the session variables of each configured home
    case "''${USER-}" in
    ${lib.concatStrings (
      lib.mapAttrsToList (_: h: ''
        ${lib.escapeShellArg h.home.username}) __hearth_vars=${lib.escapeShellArg (sessionVarsOf h)} ;;
      '') cfg.users
    )}  *) __hearth_vars= ;;
    esac
    if [ -n "$__hearth_vars" ] && [ -r "$__hearth_vars" ]; then . "$__hearth_vars"; fi
    unset __hearth_vars
  '';

  sessionVarsOf = h: "${h.home.generation}/${sessionVarsFile}";

  # Where `hearth build-generation` puts the session variables script.
  sessionVarsFile = "hm-session-vars.sh";
in
{
  options.hearth = {
    package = lib.mkOption {
      type = lib.types.package;
      default = pkgs.hearth or (pkgs.callPackage ../package.nix { });
      defaultText = lib.literalExpression "pkgs.hearth";
      description = "The hearth package that builds and activates the homes.";
    };

    users = lib.mkOption {
      type = lib.types.attrsOf homeType;
      default = { };
      example = lib.literalExpression ''
        {
          alice = import ./alice/home.nix;
          bob = {
            home.file.".vimrc".text = "set number\n";
            home.packages = [ pkgs.ripgrep ];
          };
        }
      '';
      description = ''
        The homes hearth manages, by user name: for each, a Home Manager
        style configuration (`home.file`, `xdg.configFile`, `home.packages`,
        `home.sessionVariables`, `home.activation`, ...). The user must exist
        in `users.users`; its name and home directory come from there.
      '';
    };

    sharedModules = lib.mkOption {
      type = lib.types.listOf lib.types.deferredModule;
      default = [ ];
      example = lib.literalExpression ''
        [ { home.sessionVariables.EDITOR = "vim"; } ]
      '';
      description = "Modules added to every user's home configuration.";
    };

    extraSpecialArgs = lib.mkOption {
      type = lib.types.attrs;
      default = { };
      example = lib.literalExpression "{ inherit inputs; }";
      description = ''
        Extra arguments given to every module of the users' home
        configurations (as `specialArgs`: usable in `imports`).
      '';
    };

    backupFileExtension = lib.mkOption {
      type = lib.types.nullOr (lib.types.strMatching "[^/]+");
      default = null;
      example = "bak";
      description = ''
        The default of every user's `home.backupFileExtension`: when set,
        files in the way are renamed with this extension instead of stopping
        that user's activation.
      '';
    };
  };

  config = lib.mkIf (cfg.users != { }) {
    assertions = lib.concatLists (
      lib.mapAttrsToList (
        name: h:
        map (a: {
          inherit (a) assertion;
          message = "hearth.users.${name}: ${a.message}";
        }) h.assertions
      ) cfg.users
    );

    warnings = lib.concatLists (
      lib.mapAttrsToList (name: h: map (w: "hearth.users.${name}: ${w}") h.warnings) cfg.users
    );

    users.users = lib.mapAttrs (_: h: { packages = lib.optional (h.home.path != null) h.home.path; }) cfg.users;

    environment.extraInit = sessionInit;
  };
}
