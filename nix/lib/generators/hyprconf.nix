# `lib.hm.generators.toHyprconf`: Hyprland's configuration format, as Home
# Manager writes it. Returns the file's text.
#
# Hyprland's format: `key=value` lines, `name { ... }` sections (nested
# attribute sets), a list as the key repeated. Keys starting with one of
# `importantPrefixes` (variables, `$mod`) come first, then the sections,
# then the other keys.
{ lib }:
{
  attrs,
  indentLevel ? 0,
  importantPrefixes ? [ "$" ],
}:
let
  isSection = v: builtins.isAttrs v || builtins.isList v;

  render =
    indent: set:
    let
      important = n: lib.any (p: lib.hasPrefix p n) importantPrefixes;
      lines = lib.generators.toKeyValue {
        listsAsDuplicateKeys = true;
        inherit indent;
      };
      first = lib.filterAttrs (n: _: important n) set;
      rest = lib.filterAttrs (n: _: !important n) set;

      section =
        name: v:
        if builtins.isList v then
          lib.concatMapStringsSep (if lib.all builtins.isAttrs v then "\n" else "") (section name) v
        else if builtins.isAttrs v then
          "${indent}${name} {\n${render "  ${indent}" v}${indent}}\n"
        else
          render indent { ${name} = v; };
    in
    lines first
    + lib.concatStringsSep "\n" (lib.mapAttrsToList section (lib.filterAttrs (_: isSection) rest))
    + lines (lib.filterAttrs (_: v: !isSection v) rest);
in
render (lib.concatStrings (lib.replicate indentLevel "  ")) attrs
