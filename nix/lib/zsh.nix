# `lib.hm.zsh`: Nix values as zsh assignments, for configuration files that
# zsh sources.
{ lib, shell }:
let
  # Inside double quotes only these keep a meaning; `$` is left alone so
  # that values can refer to other variables, as in Home Manager.
  quote = s: ''"${lib.escape [ "\\" "\"" "`" ] s}"'';

  toZshValue =
    v:
    if builtins.isBool v then
      lib.boolToString v
    else if builtins.isList v then
      "(${shell.formatShellArrayContent (map toString v)})"
    else
      quote (toString v);

  define = name: value: "${name}=${toZshValue value}";
  export = name: value: "export ${define name value}";
in
{
  inherit toZshValue define export;

  # One `NAME=value` line per variable, in order of name.
  defineAll = vars: lib.concatStringsSep "\n" (lib.mapAttrsToList define vars);

  # One `export NAME=value` line per variable that is not null, in order of
  # name; lines after the first start with `indent`.
  exportAll =
    vars:
    {
      indent ? "",
    }:
    lib.concatStringsSep "\n${indent}" (
      lib.mapAttrsToList export (lib.filterAttrs (_: v: v != null) vars)
    );
}
