# The home's locale and keyboard, as Home Manager declares them:
# `home.language` becomes the session's LANG / LC_* variables;
# `home.keyboard` is kept for configurations that read it (hearth has no X
# session to give it to).
{
  config,
  lib,
  ...
}:
let
  cfg = config.home;

  # Each category of home.language, the variable it sets, and what it is for.
  categories = {
    base = {
      variable = "LANG";
      what = "every category without a locale of its own";
    };
    ctype = {
      variable = "LC_CTYPE";
      what = "character classes and case conversion";
    };
    numeric = {
      variable = "LC_NUMERIC";
      what = "numbers (decimal point, grouping)";
    };
    time = {
      variable = "LC_TIME";
      what = "dates and times";
    };
    collate = {
      variable = "LC_COLLATE";
      what = "sorting (collation order)";
    };
    monetary = {
      variable = "LC_MONETARY";
      what = "amounts of money";
    };
    messages = {
      variable = "LC_MESSAGES";
      what = "messages and the language of programs' interfaces";
    };
    paper = {
      variable = "LC_PAPER";
      what = "paper sizes";
    };
    name = {
      variable = "LC_NAME";
      what = "personal names";
    };
    address = {
      variable = "LC_ADDRESS";
      what = "postal addresses";
    };
    telephone = {
      variable = "LC_TELEPHONE";
      what = "telephone numbers";
    };
    measurement = {
      variable = "LC_MEASUREMENT";
      what = "units of measurement";
    };
  };

  languageOption =
    c:
    lib.mkOption {
      type = lib.types.nullOr lib.types.str;
      default = null;
      example = if c.variable == "LC_TIME" then "en_GB.UTF-8" else "en_US.UTF-8";
      description = ''
        The locale for ${c.what}: sets {env}`${c.variable}` in the
        session. `null` leaves the variable alone.
      '';
    };

  nullOrStr =
    example: description:
    lib.mkOption {
      type = lib.types.nullOr lib.types.str;
      default = null;
      inherit example description;
    };
in
{
  options.home = {
    language = lib.mkOption {
      type = lib.types.submodule { options = lib.mapAttrs (_: languageOption) categories; };
      default = { };
      example = {
        base = "en_US.UTF-8";
        time = "de_DE.UTF-8";
      };
      description = ''
        The locale of the user's session, by category. Each one set becomes
        a session variable ({env}`LANG`, {env}`LC_CTYPE`, ...) in
        `hm-session-vars.sh`, as if set in {option}`home.sessionVariables`
        (setting the same variable there too, to another value, is an
        evaluation error). The locales must exist on the machine.
      '';
    };

    keyboard = lib.mkOption {
      type = lib.types.nullOr (
        lib.types.submodule {
          options = {
            layout = nullOrStr "us,de" ''
              The keyboard layout (XKB); `null`: the system's.
            '';
            model = nullOrStr "pc105" "The keyboard model (XKB).";
            options = lib.mkOption {
              type = lib.types.listOf lib.types.str;
              default = [ ];
              example = [
                "grp:caps_toggle"
                "ctrl:nocaps"
              ];
              description = "XKB options (layout switching, key remapping).";
            };
            variant = nullOrStr "colemak" ''
              The layout variant (XKB); `null`: the system's.
            '';
          };
        }
      );
      default = null;
      example = {
        layout = "us";
        variant = "colemak";
        options = [ "ctrl:nocaps" ];
      };
      description = ''
        The keyboard of the user's graphical session. Accepted for Home
        Manager configurations, and readable by your own files
        (`config.home.keyboard.layout`), but hearth does nothing with it:
        Home Manager hands it to its X session module (`setxkbmap`), and
        hearth has no X session module. `null` (the default, as in Home
        Manager since 21.11): the system's keyboard settings.
      '';
    };
  };

  config.home.sessionVariables = lib.mkMerge (
    lib.mapAttrsToList (
      n: c: lib.mkIf (cfg.language.${n} != null) { ${c.variable} = cfg.language.${n}; }
    ) categories
  );
}
