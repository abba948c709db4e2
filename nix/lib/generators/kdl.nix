# `lib.hm.generators.toKDL`: KDL (niri, zellij, ...), as Home Manager writes
# it. Returns the file's text.
#
# KDL: `name value` for a literal, `name a b c` for a list of literals,
# `name { ... }` for an attribute set (children indented by a tab), with
# `_args` (arguments), `_props` (properties `k=v`) and `_children` (a
# list of sets, for children in order or repeated names) in a set, and
# `name { - ... }` for a list holding sets or lists.
{ lib }:
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
attrs: "${lib.concatStringsSep "\n" (lib.mapAttrsToList node attrs)}\n"
