# `lib.hm.generators.toSCFG`: SCFG, the simple configuration format of
# kanshi, soju, tlstunnel and others, as Home Manager writes it. Returns the
# file's text.
#
# The input is a list of directives `{ name, params ? [ ... ], children ? [
# ... ] }`: one line `name p1 p2`, followed by a `{ ... }` block of its
# children (indented by a tab) when `children` is given. Names and
# parameters are strings, ints, floats or bools; a string is quoted (and
# escaped) only when it is empty or holds a space, a quote, a brace, a
# backslash or a control character. A directive with `params = [ null ]`
# or `children = [ ]` (and no other parameters or children) is left out,
# so that an unset option can be written as one.
{ lib }:
# Takes an (unused) set of options, as the other generators do.
_:
let
  # What must be escaped inside quotes, and how.
  escapes = {
    "\"" = "\\\"";
    "\\" = "\\\\";
    "\r" = "\\r";
    "\n" = "\\n";
    "\t" = "\\t";
  };
  escape = builtins.replaceStrings (builtins.attrNames escapes) (builtins.attrValues escapes);

  # Characters that end a bare word.
  needsQuotes =
    s:
    s == ""
    || lib.any (c: escapes ? ${c} || c == " " || c == "'" || c == "{" || c == "}") (
      lib.stringToCharacters s
    );

  word =
    v:
    if builtins.isString v then
      if needsQuotes v then "\"${escape v}\"" else v
    else if builtins.isBool v then
      lib.boolToString v
    else if builtins.isInt v || builtins.isFloat v then
      toString v
    else
      throw "lib.hm.generators.toSCFG: a ${builtins.typeOf v} cannot be an SCFG name or parameter; use a string, int, float or bool";

  # `params = [ null ]` or `children = [ ]` stands for a directive that is
  # not set; one with neither attribute is always written.
  isUnset =
    d:
    (d ? params || d ? children)
    && (d.params or [ null ]) == [ null ]
    && (d.children or [ ]) == [ ];

  # One directive's lines. An empty `params` list still writes the space
  # before it, and an empty block an empty indented line: Home Manager's
  # output, byte for byte.
  directive =
    d:
    let
      params = lib.optionalString (d.params or null != null) (
        " " + lib.concatMapStringsSep " " word d.params
      );
      children = lib.optionalString (d.children or null != null) (
        " {\n${indent (directives d.children)}\n}"
      );
    in
    word d.name + params + children;

  # Every line of a block, one tab further in.
  indent = lines: lib.concatMapStringsSep "\n" (l: "\t${l}") (lib.splitString "\n" lines);

  directives =
    list:
    if builtins.isList list then
      lib.concatMapStringsSep "\n" directive (lib.filter (d: !isUnset d) list)
    else
      throw "lib.hm.generators.toSCFG: expected a list of directives ({ name, params, children }), got a ${builtins.typeOf list}";
in
list: lib.optionalString (list != [ ]) "${directives list}\n"
