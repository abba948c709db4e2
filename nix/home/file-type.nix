# The type of `home.file` and `xdg.*File`: an attribute set of files, each
# turned into one entry of the generation's manifest. Only declares options;
# targets are resolved (made relative to the home) by generation.nix.
{
  lib,
  # The option this type belongs to (for `definedBy` and the locations).
  option,
  # What relative targets are relative to, for the descriptions.
  basePathDesc,
  # Store files holding a text: pkgs.writeText, or builtins.toFile.
  writeText,
}:
let
  # A store path name from a target: its last component, without leading
  # dots, with every character a store path name may not hold as "-".
  storeName =
    target:
    let
      base = baseNameOf target;
      safe = lib.stringToCharacters "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-._?=";
      chars = map (c: if builtins.elem c safe then c else "-") (lib.stringToCharacters base);
    in
    "hearth_" + lib.removePrefix "." (lib.concatStrings chars);

  # The files where an entry is defined, when the definition is a plain
  # attribute set (what "where known" means in the messages).
  locations =
    name:
    lib.unique (
      lib.concatMap (
        d:
        let
          file = builtins.unsafeDiscardStringContext (toString d.file);
        in
        lib.optional (builtins.isAttrs d.value && d.value ? ${name} && file != "<unknown-file>") file
      ) (option.definitionsWithLocations or [ ])
    );
in
lib.types.attrsOf (
  lib.types.submodule (
    { name, config, ... }:
    {
      options = {
        enable = lib.mkOption {
          type = lib.types.bool;
          default = true;
          description = "Whether this file is part of the home.";
        };

        target = lib.mkOption {
          type = lib.types.str;
          default = name;
          defaultText = lib.literalMD "the attribute name";
          example = ".config/git/config";
          description = ''
            Where the file goes: a path relative to ${basePathDesc}, or an
            absolute path inside the home (made relative to it). A path
            outside the home is an error.
          '';
        };

        text = lib.mkOption {
          type = lib.types.nullOr lib.types.lines;
          default = null;
          example = ''
            [user]
              name = Alice
          '';
          description = "The file's content; sets `source` to a store file holding it.";
        };

        source = lib.mkOption {
          type = lib.types.path;
          example = lib.literalExpression "./dotfiles/vimrc";
          description = ''
            The file or directory the target links to (or, for `type =
            "copy"`, whose content is copied). A path is copied into the Nix
            store. Set by `text` when that is used.
          '';
        };

        executable = lib.mkOption {
          type = lib.types.nullOr lib.types.bool;
          default = null;
          description = ''
            Whether the file is executable. `null`: as the source is.
          '';
        };

        recursive = lib.mkOption {
          type = lib.types.bool;
          default = false;
          description = ''
            For a directory source: link each file of it separately (creating
            the directories in between) instead of linking the directory
            itself, so that other programs can add files next to them.
          '';
        };

        ignorelinks = lib.mkOption {
          type = lib.types.bool;
          default = false;
          description = ''
            Accepted for Home Manager configurations (where it passes
            `-ignorelinks` to `lndir` for a `recursive` source). hearth
            always does what it asks: a symlink inside a recursive source is
            linked to as it is (the target points at the link in the
            source), never followed nor descended into, whatever this is
            set to.
          '';
        };

        onChange = lib.mkOption {
          type = lib.types.lines;
          default = "";
          example = "systemctl --user restart my-daemon.service";
          description = ''
            Shell commands run after the activation when this target's
            content changed.
          '';
        };

        force = lib.mkOption {
          type = lib.types.bool;
          default = false;
          description = ''
            Replace whatever is at the target, even if hearth did not put it
            there. With a backup extension it is moved aside; otherwise a
            file, a symlink or an empty directory is deleted (a non-empty
            directory stays a conflict).
          '';
        };

        type = lib.mkOption {
          type = lib.types.enum [
            "symlink"
            "copy"
          ];
          default = "symlink";
          description = ''
            `symlink`: the target is a link into the Nix store. `copy`: the
            target is a regular file with the source's content, for programs
            that refuse symlinks or need a private mode (see `mode`).
          '';
        };

        mode = lib.mkOption {
          type = lib.types.nullOr (lib.types.strMatching "0?[0-7]{3}");
          default = null;
          example = "0600";
          description = ''
            Only with `type = "copy"`: the file's permission bits, in octal.
            `null`: the source's, without write permission for group and
            others.
          '';
        };

        definedBy = lib.mkOption {
          type = lib.types.str;
          internal = true;
          default =
            let
              where = locations name;
            in
            lib.showOption (option.loc ++ [ name ])
            + lib.optionalString (where != [ ]) " (defined in ${lib.concatStringsSep ", " where})";
          description = "The option that defines this file, for messages.";
        };
      };

      config.source = lib.mkIf (config.text != null) (
        lib.mkDefault (writeText (storeName config.target) config.text)
      );
    }
  )
)
