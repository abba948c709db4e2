# `lib.hm.generators`: the configuration formats that configurations write
# by hand with Home Manager's helpers: Hyprland's (`toHyprconf`) and KDL
# (`toKDL`, for niri, zellij, ...). Both return the file's text.
{ lib }:
let
  isSection = v: builtins.isAttrs v || builtins.isList v;
in
{
  # Hyprland's format: `key=value` lines, `name { ... }` sections (nested
  # attribute sets), a list as the key repeated. Keys starting with one of
  # `importantPrefixes` (variables, `$mod`) come first, then the sections,
  # then the other keys.
  toHyprconf =
    {
      attrs,
      indentLevel ? 0,
      importantPrefixes ? [ "$" ],
    }:
    let
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
    render (lib.concatStrings (lib.replicate indentLevel "  ")) attrs;

  # KDL: `name value` for a literal, `name a b c` for a list of literals,
  # `name { ... }` for an attribute set (children indented by a tab), with
  # `_args` (arguments), `_props` (properties `k=v`) and `_children` (a
  # list of sets, for children in order or repeated names) in a set, and
  # `name { - ... }` for a list holding sets or lists.
  toKDL =
    {
      escapeBackslashes ? false,
      escapeTabs ? false,
    }:
    let
      special = [
        "_args"
        "_props"
        "_children"
      ];

      escape = builtins.replaceStrings (
        [
          "\n"
          "\""
        ]
        ++ lib.optional escapeBackslashes "\\"
        ++ lib.optional escapeTabs "\t"
      ) ([
        "\\n"
        "\\\""
      ]
      ++ lib.optional escapeBackslashes "\\\\"
      ++ lib.optional escapeTabs "\\t");

      isLiteral =
        v:
        builtins.elem (builtins.typeOf v) [
          "int"
          "float"
          "string"
          "bool"
          "null"
        ];

      literal =
        v:
        if !isLiteral v then
          throw "lib.hm.generators.toKDL: a ${builtins.typeOf v} cannot be a KDL value; use an int, float, string, bool or null"
        else if v == null then
          "null"
        else if builtins.isBool v then
          lib.boolToString v
        else if builtins.isString v then
          "\"${escape v}\""
        else
          toString v;

      # Each line of the children, indented by one tab.
      block = children: "{\n${lib.concatMapStringsSep "\n" (l: "\t${l}") (lib.splitString "\n" (lib.concatStringsSep "\n" children))}\n}";

      node =
        name: v:
        if isLiteral v then
          "${name} ${literal v}"
        else if builtins.isAttrs v then
          let
            args = map literal (v._args or [ ]);
            props = lib.mapAttrsToList (k: x: "${k}=${literal x}") (v._props or { });
            children =
              lib.concatMap (lib.mapAttrsToList node) (v._children or [ ])
              ++ lib.mapAttrsToList node (removeAttrs v special);
          in
          lib.concatStringsSep " " ([ name ] ++ args ++ props ++ lib.optional (children != [ ]) (block children))
        else if builtins.isList v then
          if name == "_children" then
            lib.concatMapStringsSep "\n" (c: lib.concatStringsSep "\n" (lib.mapAttrsToList node c)) v
          else if lib.all isLiteral v then
            "${name} ${lib.concatMapStringsSep " " literal v}"
          else
            "${name} ${block (map (node "-") v)}"
        else
          throw "lib.hm.generators.toKDL: ${name}: a ${builtins.typeOf v} cannot be converted to KDL";
    in
    attrs: "${lib.concatStringsSep "\n" (lib.mapAttrsToList node attrs)}\n";
}
