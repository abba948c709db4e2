# `lib.hm.gvariant`: GVariant values in GVariant's text format, as dconf
# and gsettings read them. A value is `{ _type = "gvariant"; type; value; }`
# whose string form (`toString`, `"${v}"`) is its text, with a type
# annotation (`@u 5`) where the text alone would be ambiguous.
{ lib }:
let
  # GVariant type strings.
  type = {
    boolean = "b";
    uchar = "y";
    int16 = "n";
    uint16 = "q";
    int32 = "i";
    uint32 = "u";
    int64 = "x";
    uint64 = "t";
    double = "d";
    string = "s";
    objectpath = "o";
    variant = "v";
    arrayOf = t: "a${t}";
    maybeOf = t: "m${t}";
    tupleOf = ts: "(${lib.concatStrings ts})";
    dictionaryEntryOf = ts: "{${lib.concatStrings ts}}";
  };

  # A value of type `t` holding `v`, shown by `show`.
  make = t: v: show: {
    _type = "gvariant";
    type = t;
    value = v;
    __toString = self: show self.value;
  };

  # Types whose literals GVariant reads without an annotation.
  annotated = t: v: make t v (x: "@${t} ${toString x}");

  # The GVariant type of a plain Nix value (or of a GVariant value), or ""
  # when it has none (an empty list, a function, ...).
  typeOf =
    v:
    if builtins.isBool v then
      type.boolean
    else if builtins.isInt v then
      type.int32
    else if builtins.isFloat v then
      type.double
    else if builtins.isString v then
      type.string
    else if builtins.isList v then
      (if v == [ ] then "" else lib.optionalString (typeOf (builtins.head v) != "") (type.arrayOf (typeOf (builtins.head v))))
    else if builtins.isAttrs v && v ? type then
      v.type
    else
      "";

  joined = vs: lib.concatMapStringsSep "," toString vs;

  quote = s: "'${builtins.replaceStrings [ "\\" "'" "\n" ] [ "\\\\" "\\'" "\\n" ] s}'";

  maybe =
    t: v:
    make (type.maybeOf t) v (x: if x == null then "@${type.maybeOf t} nothing" else "just ${toString x}");
in
rec {
  inherit type typeOf;

  isGVariant = v: (v._type or null) == "gvariant";
  isArray = lib.hasPrefix "a";
  isMaybe = lib.hasPrefix "m";
  isTuple = lib.hasPrefix "(";
  isDictionaryEntry = lib.hasPrefix "{";

  # The GVariant value closest to a Nix value: booleans, int32, double,
  # string, arrays of those; GVariant values as they are; null otherwise.
  mkValue =
    v:
    if isGVariant v then
      v
    else if builtins.isBool v then
      mkBoolean v
    else if builtins.isInt v then
      mkInt32 v
    else if builtins.isFloat v then
      mkDouble v
    else if builtins.isString v then
      mkString v
    else if builtins.isList v then
      mkArray (if v == [ ] then type.string else typeOf (builtins.head v)) v
    else
      null;

  mkBoolean = b: make type.boolean b lib.boolToString;
  mkString = s: make type.string s quote;
  mkObjectpath = s: make type.objectpath s (x: "objectpath ${quote x}");
  mkInt32 = i: make type.int32 i toString;
  mkDouble = d: make type.double d toString;
  mkUchar = annotated type.uchar;
  mkInt16 = annotated type.int16;
  mkUint16 = annotated type.uint16;
  mkUint32 = annotated type.uint32;
  mkInt64 = annotated type.int64;
  mkUint64 = annotated type.uint64;

  mkArray = elemType: elems: make (type.arrayOf elemType) (map mkValue elems) (xs: "@${type.arrayOf elemType} [${joined xs}]");
  mkEmptyArray = elemType: mkArray elemType [ ];

  mkVariant = v: make type.variant (mkValue v) (x: "@v <${toString x}>");

  mkTuple =
    elems:
    let
      vs = map mkValue elems;
      t = type.tupleOf (map (x: x.type) vs);
    in
    make t vs (xs: "@${t} (${joined xs})");

  mkDictionaryEntry =
    elems:
    let
      vs = map mkValue elems;
      t = type.dictionaryEntryOf (map (x: x.type) vs);
    in
    make t vs (xs: "@${t} {${joined xs}}");

  mkNothing = elemType: maybe elemType null;
  mkJust =
    v:
    let
      x = mkValue v;
    in
    maybe x.type x;
}
