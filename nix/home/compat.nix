# Options of Home Manager that only its own command line, news feed,
# program modules or platform tweaks use. hearth accepts them so that a
# Home Manager configuration evaluates unchanged; each says what it does
# here (mostly nothing). `targets.genericLinux` does the part that is about the session.
{
  config,
  lib,
  ...
}:
let
  cfg = config.targets.genericLinux;
  profile = config.home.profileDirectory;
in
{
  options = {
    # Modules written for Home Manager (in dotfiles repositories too) name
    # their maintainers; nixpkgs' lib declares no such option itself.
    meta.maintainers = lib.mkOption {
      type = lib.types.listOf lib.types.raw;
      default = [ ];
      example = lib.literalExpression "[ lib.maintainers.alice ]";
      description = ''
        Who maintains a module, as modules written for Home Manager say it.
        Accepted so that they evaluate; hearth does nothing with it.
      '';
    };

    programs.home-manager = {
      enable = lib.mkEnableOption "" // {
        description = ''
          Accepted for Home Manager configurations; has no effect. Home
          Manager installs its `home-manager` command with it; hearth's
          command is `hearth`, installed by the platform module or by you.
        '';
      };

      path = lib.mkOption {
        type = lib.types.nullOr lib.types.str;
        default = null;
        example = "$HOME/devel/home-manager";
        description = "Accepted for Home Manager configurations; has no effect.";
      };
    };

    news = {
      display = lib.mkOption {
        type = lib.types.enum [
          "silent"
          "notify"
          "show"
        ];
        default = "notify";
        description = ''
          Accepted for Home Manager configurations; has no effect: hearth
          has no news feed.
        '';
      };

      entries = lib.mkOption {
        type = lib.types.listOf lib.types.attrs;
        default = [ ];
        internal = true;
        description = "Home Manager's news entries; accepted and ignored.";
      };

      json = lib.mkOption {
        type = lib.types.attrsOf lib.types.anything;
        default = { };
        internal = true;
        description = "Home Manager's rendered news; accepted and ignored.";
      };
    };

    home.preferXdgDirectories = lib.mkEnableOption "" // {
      description = ''
        Whether programs should keep their files in the XDG base
        directories ({option}`xdg.configHome`, ...) where they can. Accepted
        for Home Manager configurations, and readable by your own files;
        has no effect in hearth: Home Manager's program modules choose
        their files' places by it, and hearth has no program modules.
      '';
    };

    targets.genericLinux.enable = lib.mkEnableOption "" // {
      description = ''
        Whether the home lives on a Linux distribution other than NixOS.
        hearth then does what is about the session, as Home Manager does:
        the packages profile and the distribution's directories go into
        {env}`XDG_DATA_DIRS` (through {option}`xdg.systemDirs.data`), the
        icon directories into {env}`XCURSOR_PATH`, and the profile's and
        the distribution's terminfo directories into {env}`TERMINFO_DIRS`.
        It does not source Nix's `nix.sh` (install Nix so that your login
        shell does) nor change the shells' files (hearth has no shell
        modules).
      '';
    };
  };

  config = lib.mkIf cfg.enable {
    xdg.systemDirs.data = [
      "\${NIX_STATE_DIR:-/nix/var/nix}/profiles/default/share"
      "${profile}/share"
      "/usr/share/ubuntu"
      "/usr/local/share"
      "/usr/share"
      "/var/lib/snapd/desktop"
    ];

    home.sessionSearchVariables.XCURSOR_PATH = [
      "${profile}/share/icons"
      "/usr/share/icons"
      "/usr/share/pixmaps"
    ];

    # The profile's entries first, then what the variable held, then the
    # places where Debian, Fedora, Arch and Gentoo keep terminfo.
    home.sessionVariables.TERMINFO_DIRS = "${profile}/share/terminfo\${TERMINFO_DIRS:+:$TERMINFO_DIRS}:/etc/terminfo:/lib/terminfo:/usr/share/terminfo";
  };
}
