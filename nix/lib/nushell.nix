# `lib.hm.nushell`: Nix values as Nushell source, for configuration files
# that Nushell reads.
{ lib }:
let
  inlineType = "nushell-inline";
  isNushellInline = lib.isType inlineType;

  # Characters a Nushell variable name may not hold (the name may start with
  # `$`, and may otherwise be anything, even a number).
  forbidden = lib.escapeRegex ".[({+-*^/=!<>&|";
  isVarName = name: builtins.match "[$]?[^${forbidden}]+" name != null;

  render =
    {
      indent ? "",
      multiline ? true,
      asBindings ? false,
    }@args:
    value:
    let
      inner = indent + "    ";
      # What opens, separates and closes the items of a list or record.
      open = if multiline then "\n${inner}" else " ";
      close = if multiline then "\n${indent}" else " ";
      items = xs: open + lib.concatStringsSep open xs + close;
      nested = render (args // { indent = inner; asBindings = false; });

      bindings =
        let
          bad = builtins.filter (n: !isVarName n) (builtins.attrNames value);
        in
        if bad != [ ] then
          throw "lib.hm.nushell.toNushell: not Nushell variable names: ${lib.generators.toPretty { } bad}"
        else
          lib.concatStrings (
            lib.mapAttrsToList (
              name: v: "${indent}let ${name} = ${render (args // { asBindings = false; }) v}\n"
            ) value
          );
    in
    if asBindings then
      bindings
    else if value == null then
      "null"
    else if builtins.isBool value || builtins.isInt value || builtins.isFloat value || builtins.isString value then
      builtins.toJSON value
    else if builtins.isList value then
      if value == [ ] then "[]" else "[${items (map nested value)}]"
    else if isNushellInline value then
      "(${value.expr})"
    else if lib.isDerivation value then
      toString value
    else if builtins.isAttrs value then
      if value == { } then
        "{}"
      else
        "{${items (lib.mapAttrsToList (k: v: "${builtins.toJSON k}: ${nested v}") value)}}"
    else
      throw "lib.hm.nushell.toNushell: a ${builtins.typeOf value} has no Nushell form";
in
{
  inherit isNushellInline;

  # A Nushell expression, written as it is (in parentheses) by `toNushell`.
  mkNushellInline = expr: lib.setType inlineType { inherit expr; };

  # `toNushell { indent, multiline, asBindings } value`: the Nushell literal
  # for `value` (records' keys quoted, in order of name); with `asBindings`,
  # an attribute set becomes one `let name = value` line per attribute.
  toNushell = render;
}
