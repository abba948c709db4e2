# `lib.hm.types`: option types of Home Manager that configurations and
# modules name: `dagOf` (from dag.nix), `selectorFunction`,
# `overlayFunction`, `fontType` and `gvariant`.
{
  lib,
  dag,
  gvariant,
}:
let
  inherit (lib) types mkOption;
in
{
  inherit (dag.types) dagOf;

  # `pkgs: [ pkgs.a pkgs.b ]`; several definitions select the union, in
  # order of definition.
  selectorFunction = lib.mkOptionType {
    name = "selectorFunction";
    description = "function that selects a list of values from an attribute set";
    check = builtins.isFunction;
    merge = _loc: defs: set: lib.concatMap (d: d.value set) defs;
  };

  # `final: prev: { ... }`; several definitions are applied one over the
  # other, later ones winning.
  overlayFunction = lib.mkOptionType {
    name = "overlayFunction";
    description = "overlay function (final: prev: { ... })";
    check = builtins.isFunction;
    merge =
      _loc: defs: final: prev:
      lib.foldl' (acc: d: acc // d.value final prev) { } defs;
  };

  # A font: its family name, the package that provides it, and a size.
  fontType = types.submodule {
    options = {
      package = mkOption {
        type = types.nullOr types.package;
        default = null;
        example = lib.literalExpression "pkgs.dejavu_fonts";
        description = "The package that provides the font; `null`: already installed.";
      };
      name = mkOption {
        type = types.str;
        example = "DejaVu Sans";
        description = "The font's family name.";
      };
      size = mkOption {
        type = types.nullOr types.number;
        default = null;
        example = 10;
        description = "The font's size.";
      };
    };
  };

  # A GVariant value, or a Nix value that has one (booleans, ints, floats,
  # strings, lists of those). Definitions of arrays are concatenated; other
  # definitions must agree, as for any option.
  gvariant = lib.mkOptionType {
    name = "gvariant";
    description = "GVariant value";
    check = v: gvariant.mkValue v != null;
    merge =
      loc: defs:
      let
        values = map (d: gvariant.mkValue d.value) defs;
        kinds = lib.unique (map (v: v.type) values);
        kind = builtins.head kinds;
      in
      if builtins.length kinds > 1 then
        throw "The option `${lib.showOption loc}' has GVariant definitions of different types (${lib.concatStringsSep ", " kinds}) in ${lib.showFiles (map (d: d.file) defs)}; give them all one type"
      else if gvariant.isArray kind then
        gvariant.mkArray (lib.removePrefix "a" kind) (lib.concatMap (v: v.value) values)
      else
        gvariant.mkValue (lib.mergeEqualOption loc defs);
  };
}
