# String helpers of `lib.hm.strings`, for configurations and modules written
# for Home Manager.
{ lib }:
let
  # Characters a store path name may hold. "-" is left out on purpose: a
  # "-" before a digit would read as a version.
  allowed = lib.stringToCharacters "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+._?=";

  # camelCase / PascalCase to words joined by `sep`, in lower case.
  splitCase =
    sep: s:
    lib.removePrefix sep (
      lib.concatMapStrings (part: if builtins.isList part then sep + lib.toLower (builtins.head part) else part) (
        builtins.split "([A-Z])" s
      )
    );
in
{
  # A valid store path name for a file name: "hm_" and the name without the
  # characters a store name may not hold (as Home Manager names them).
  storeFileName =
    path: "hm_" + lib.concatStrings (lib.filter (c: builtins.elem c allowed) (lib.stringToCharacters path));

  toCaseWithSeparator = splitCase;
  toSnakeCase = splitCase "_";
  toKebabCase = splitCase "-";

  isCamelCase = s: builtins.match "[a-z]+([A-Z][a-z0-9]*)+" s != null;
  isPascalCase = s: builtins.match "[A-Z][a-z0-9]*([A-Z][a-z0-9]*)*" s != null;
  isSnakeCase = s: builtins.match "[a-z0-9]+(_[a-z0-9]+)*" s != null;
  isKebabCase = s: builtins.match "[a-z0-9]+(-[a-z0-9]+)*" s != null;
  isScreamingSnakeCase = s: builtins.match "[A-Z0-9]+(_[A-Z0-9]+)*" s != null;

  # A path, a string naming something in the store, or a derivation.
  isPathLike =
    v:
    builtins.isPath v
    || (builtins.isString v && lib.hasPrefix "${builtins.storeDir}/" v)
    || lib.isDerivation v;
}
