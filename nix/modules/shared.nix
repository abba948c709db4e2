# What the NixOS and nix-darwin modules share: the hearth.* options, one
# evaluation of the home module per user, the users' packages and session
# variables. The platform modules only add how and when activation runs.
{
  config,
  lib,
  pkgs,
  _class ? null,
  ...
}:
let
  cfg = config.hearth;

  # With hearth.homeManager.source, each home is a Home Manager
  # configuration evaluated by the bridge (nix/hm) with Home Manager's
  # modules; `bridged` gives what the rest of this module reads of a home
  # (home.*, assertions, warnings) from the bridge's result.
  hmSource = cfg.homeManager.source;
  bridge =
    name: module:
    let
      user = config.users.users.${name};
      b = import ../hm {
        source = hmSource;
        inherit pkgs lib;
        modules = [
          module
          {
            home.username = lib.mkDefault user.name;
            home.homeDirectory = lib.mkDefault user.home;
          }
        ]
        ++ cfg.sharedModules;
        inherit (cfg) extraSpecialArgs;
        osConfig = config;
        osClass = _class;
        hearthModules = [
          {
            home.backupFileExtension = lib.mkDefault cfg.backupFileExtension;
            hearth.package = cfg.package;
            hearth.installPackages = false;
          }
        ];
        # Errors name the user, as for a home of hearth's own module.
        prefix = [
          "hearth"
          "users"
          name
        ];
      };
    in
    {
      inherit (b.config) home;
      inherit (b) assertions warnings;
      sessionVariables = b.sessionVariables;
    };
  homeConfigs = if hmSource == null then cfg.users else lib.mapAttrs bridge cfg.users;

  hearthLib = import ../lib { inherit lib; };

  # Defaults every home gets from the system configuration. A home whose
  # user has no usable home directory gets no default here: the assertion
  # below names it, and nothing on the way to `config.assertions` may throw.
  fromSystem =
    { name, ... }:
    let
      user = config.users.users.${name};
    in
    {
      home.username = lib.mkDefault user.name;
      home.homeDirectory = lib.mkIf (userProblem name == null) (lib.mkDefault user.home);
      home.backupFileExtension = lib.mkDefault cfg.backupFileExtension;
      hearth.package = cfg.package;
      # The system installs the packages (users.users.<name>.packages).
      hearth.installPackages = false;
      _module.args.pkgs = lib.mkDefault pkgs;
    };

  # What is wrong with the declaration of a home's user: a sentence that
  # says what to set, or null. How users are declared differs between NixOS
  # and nix-darwin; the platform module says.
  userProblem = name: cfg.internal.userProblem name config.users.users.${name};

  homeType = lib.types.submoduleWith {
    # A module written for NixOS or nix-darwin (`_class = "nixos"`) put in a
    # home by mistake is refused by name.
    class = "hearth";
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

  # The homes whose user is declared; the others only get their assertion.
  homes = lib.filterAttrs (name: _: userProblem name == null) homeConfigs;

  # Each user's session variables script, sourced by the login shells of
  # that user before any rc file of the user. bash and zsh run this from
  # set-environment. fish gets set-environment either through fenv (run by
  # bash: this part works as for bash) or translated to fish by babelfish at
  # build time (`programs.fish.useBabelfish`), where sourcing a sh script
  # cannot work: so this part uses only what babelfish translates (if, [,
  # ., unset; no case) and is skipped when fish runs it (FISH_VERSION is set
  # in fish, never exported), and `fishInit` below imports the variables.
  sessionInit = ''
    # hearth: the session variables of this user's home (fish: see programs.fish.shellInit)
    if [ -z "''${FISH_VERSION-}" ]; then
      __hearth_vars=""
    ${perUser "  " (h: ''
      if [ "''${USER-}" = ${lib.escapeShellArg h.home.username} ]; then __hearth_vars=${lib.escapeShellArg (sessionVarsOf h)}; fi
    '')}
      if [ -n "$__hearth_vars" ] && [ -r "$__hearth_vars" ]; then . "$__hearth_vars"; fi
      unset __hearth_vars
    fi
  '';

  # fish: runs the user's hm-session-vars.sh in /bin/sh and takes over the
  # variables it sets or changes (env -0: any value survives). Skipped when
  # the variables are already there: inherited from a parent shell, or set
  # through fenv above.
  fishInit = ''
    # hearth: the session variables of this user's home
    if not set -q __HEARTH_SESS_VARS_SOURCED
        set -l __hearth_vars
        set -l __hearth_kv
    ${perUser "    " (h: ''
          if test "$USER" = ${lib.escapeShellArg h.home.username}
              set __hearth_vars ${lib.escapeShellArg (sessionVarsOf h)}
          end
    '')}
        if test -n "$__hearth_vars" -a -r "$__hearth_vars"
            for __hearth_kv in (/bin/sh -c '. "$1" >/dev/null && exec /usr/bin/env -0' sh $__hearth_vars | string split0)
                set -l __hearth_pair (string split -m 1 = -- $__hearth_kv)
                set -l __hearth_name $__hearth_pair[1]
                if contains -- $__hearth_name _ PWD OLDPWD SHLVL
                    or not string match -qr '^[A-Za-z_][A-Za-z0-9_]*$' -- $__hearth_name
                    continue
                end
                if not set -q $__hearth_name; or test "$$__hearth_name" != "$__hearth_pair[2]"
                    set -gx $__hearth_name $__hearth_pair[2]
                end
            end
        end
    end
  '';

  # The lines `f` gives for each usable home, each indented by `indent`.
  perUser =
    indent: f:
    lib.concatStringsSep "\n" (
      map (l: indent + l) (
        lib.filter (l: l != "") (lib.splitString "\n" (lib.concatStrings (lib.mapAttrsToList (_: f) homes)))
      )
    );

  sessionVarsOf = h: h.sessionVariables or "${h.home.generation}/${sessionVarsFile}";

  # Where `hearth build-generation` puts the session variables script.
  sessionVarsFile = "hm-session-vars.sh";

  # The contract with `hearth plan --system`: every home of this system.
  homesJson = {
    version = 1;
    homes = lib.sortOn (h: h.user) (
      lib.mapAttrsToList (_: h: {
        user = h.home.username;
        home = h.home.homeDirectory;
        generation = "${h.home.generation}";
        timeout = cfg.activationTimeout;
      }) homes
    );
  };
in
{
  options.hearth = {
    package = lib.mkOption {
      type = lib.types.package;
      default = pkgs.hearth or (pkgs.callPackage ../package.nix { });
      defaultText = lib.literalExpression "pkgs.hearth";
      description = "The hearth package that builds and activates the homes.";
    };

    homeManager.source = lib.mkOption {
      type = lib.types.nullOr lib.types.path;
      default = null;
      example = lib.literalExpression "inputs.home-manager";
      description = ''
        A Home Manager checkout (a flake input, or a `fetchTarball` of
        `nix-community/home-manager`). When set, every home of
        {option}`hearth.users` is a Home Manager configuration, evaluated
        with Home Manager's own modules (`programs.*`, `services.*`, ...,
        with this system's `pkgs`, `osConfig`, {option}`hearth.sharedModules`
        and {option}`hearth.extraSpecialArgs`), and hearth builds its
        generation from the result: Home Manager's final `home.file`, its
        `home.packages` as {option}`users.users.<name>.packages` (with Home
        Manager's `hm-session-vars.sh`), and its `home.activation` steps
        except those that link files, install packages and reload systemd
        units, which hearth's activation does. Home Manager's activation
        script is never run. `null`: homes use hearth's own home module.
      '';
    };

    users = lib.mkOption {
      type = lib.types.attrsOf (if hmSource == null then homeType else lib.types.deferredModule);
      default = { };
      example = lib.literalExpression ''
        {
          alice = import ./alice/home.nix;
          bob =
            { lib, pkgs, ... }:
            {
              home.file.".vimrc".text = "set number\n";
              home.packages = [ pkgs.ripgrep ];
              home.activation.hello = lib.hm.dag.entryAfter [ "files" ] "echo hello";
            };
        }
      '';
      description = ''
        The homes hearth manages, by user name: for each, a Home Manager
        style configuration ({option}`home.file`, {option}`xdg.configFile`,
        {option}`home.packages`, {option}`home.sessionVariables`,
        {option}`home.activation`, ...). The user must be declared in
        {option}`users.users` (on NixOS with
        {option}`users.users.<name>.isNormalUser`, or
        {option}`users.users.<name>.isSystemUser` and a home); its name and
        home directory come from there.

        A home that uses `lib.hm` or `lib.hearth` must be written as a
        module function (`{ lib, pkgs, ... }: { ... }`): its `lib` is the
        home's, which has them; the system configuration's `lib` does not.
      '';
    };

    sharedModules = lib.mkOption {
      type = lib.types.listOf lib.types.deferredModule;
      default = [ ];
      example = lib.literalExpression ''
        [ { home.sessionVariables.EDITOR = "vim"; } ]
      '';
      description = "Modules added to every user's home configuration ({option}`hearth.users`).";
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
        The default of every user's {option}`home.backupFileExtension`: when
        set, files in the way are renamed with this extension instead of
        stopping that user's activation.
      '';
    };

    activationTimeout = lib.mkOption {
      type = lib.types.ints.positive;
      default = 300;
      example = 900;
      description = ''
        Seconds one user's activation may take. At the limit the activation
        and every process it started are killed and reported as failed,
        and the other users' activations go on; the next activation of that
        home reverts or completes the switch that was cut short. On NixOS
        this is the `TimeoutStartSec` of `hearth-<user>.service`; on
        nix-darwin, `hearth activate-users --timeout`. The default is Home
        Manager's 5 minutes.
      '';
    };

    internal.homes = lib.mkOption {
      type = lib.types.attrsOf lib.types.raw;
      internal = true;
      readOnly = true;
      description = ''
        The evaluated homes, by user name, as the platform modules read them
        (`home.username`, `home.homeDirectory`, `home.generation`, ...):
        {option}`hearth.users` itself, or with
        {option}`hearth.homeManager.source` what the bridge made of each.
      '';
    };

    internal.userProblem = lib.mkOption {
      type = lib.types.functionTo (lib.types.functionTo (lib.types.nullOr lib.types.str));
      internal = true;
      default = _: _: null;
      description = ''
        Set by the platform module: given a user's name and its
        `users.users` entry, what is wrong with its declaration for hearth
        (a sentence saying what to set), or null.
      '';
    };
  };

  config = lib.mkIf (cfg.users != { }) {
    hearth.internal.homes = homeConfigs;

    # One assertion for a home whose user is not usable, and then none of
    # that home's own: those would evaluate the home without a directory.
    assertions = lib.concatLists (
      lib.mapAttrsToList (
        name: h:
        let
          problem = userProblem name;
        in
        if problem != null then
          [
            {
              assertion = false;
              message = "hearth.users.${name}: ${problem}";
            }
          ]
        else
          map (a: {
            inherit (a) assertion;
            message = "hearth.users.${name}: ${a.message}";
          }) h.assertions
      ) homeConfigs
    );

    warnings = lib.concatLists (
      lib.mapAttrsToList (name: h: map (w: "hearth.users.${name}: ${w}") h.warnings) homes
    );

    # Defined for every home, whether its user is usable or not: which
    # users there are must not depend on the check of their declaration.
    # This makes `users.users.<name>` exist; the platform's check sees
    # whether it was declared.
    users.users = lib.mapAttrs (name: h: {
      packages = lib.mkIf (userProblem name == null && h.home.path != null) [ h.home.path ];
    }) homeConfigs;

    # After the platform's own variables (nix-darwin exports NIX_PROFILES
    # and friends in extraInit too): a home's variables may expand them.
    environment.extraInit = lib.mkAfter sessionInit;
    programs.fish.shellInit = fishInit;

    environment.etc."hearth/homes.json".text = builtins.toJSON homesJson;
  };
}
