# home.file: the files of the home; what wins when an explicit file and a
# file of a recursive directory have the same target; and
# `config.lib.file.mkOutOfStoreSymlink`.
{
  config,
  lib,
  options,
  pkgs,
  ...
}:
{
  options.home.file = lib.mkOption {
    type = import ./file-type.nix {
      inherit lib;
      option = options.home.file;
      basePathDesc = "the home";
      writeText = if pkgs == null then builtins.toFile else pkgs.writeText;
    };
    default = { };
    example = lib.literalExpression ''
      {
        ".vimrc".source = ./vimrc;
        ".config/git/config".text = "[user]\n  name = Alice\n";
        ".local/bin/hello" = {
          text = "#!/bin/sh\necho hello\n";
          executable = true;
        };
        ".netrc" = {
          source = ./netrc;
          type = "copy";
          mode = "0600";
        };
      }
    '';
    description = ''
      The files of the home, by target (relative to the home unless `target`
      says otherwise).
    '';
  };

  options.home.fileOverlapResolution = lib.mkOption {
    type = lib.types.enum [
      "ignore"
      "error"
      "override"
    ];
    default = "ignore";
    description = ''
      What happens when a file of a `recursive` directory and another
      entry have the same target. `ignore` (Home Manager's default): the
      directory's file wins and the other entry is dropped. `override`: the
      other entry wins. `error`: the build fails naming both. hearth can only
      look inside a directory given as a path value (`./dotfiles`) while
      evaluating; for a directory that is built (a derivation), an overlap
      is always a build error naming both entries.
    '';
  };

  options.lib = lib.mkOption {
    type = lib.types.attrsOf lib.types.attrs;
    default = { };
    description = ''
      Functions for configurations, as Home Manager's `config.lib`:
      `config.lib.file.mkOutOfStoreSymlink`, and `lib.hm`'s parts
      (`config.lib.dag`, `config.lib.shell`, `config.lib.strings`, ...).
    '';
  };

  # Home Manager's modules and configurations reach `lib.hm` through
  # `config.lib` too.
  config.lib = {
    inherit (lib.hm)
      dag
      strings
      shell
      booleans
      gvariant
      generators
      ;
  };

  config.lib.file.mkOutOfStoreSymlink =
    path:
    let
      target = toString path;
      coreutils =
        if config.hearth.coreutils != null then
          config.hearth.coreutils
        else
          throw "hearth: config.lib.file.mkOutOfStoreSymlink ${target}: needs coreutils to build the link; evaluate the home with `pkgs` (the platform modules pass it) or set hearth.coreutils";
    in
    # A store path that is a symlink to `target`, as Home Manager makes it:
    # the home's link points into the store, and from there out of it, so
    # that the target may change (or not exist yet) without a rebuild.
    derivation {
      name = lib.hm.strings.storeFileName (baseNameOf target);
      inherit (config.hearth) system;
      builder = config.hearth.shell;
      args = [
        "-ec"
        (''"$coreutils/bin/ln" -s "$target" "$out"'' + "\n" + (import ../lib/builder.nix).lastBuiltin)
      ];
      inherit target;
      coreutils = "${coreutils}";
      preferLocalBuild = true;
      allowSubstitutes = false;
    };
}
