# Shell helpers of `lib.hm.shell`: POSIX `export` lines as Home Manager's
# hm-session-vars.sh writes them.
{ lib }:
let
  # `export NAME="value"`: the value inside double quotes, so that `$HOME`
  # and `${X:-y}` are expanded; booleans as true/false.
  export =
    name: value:
    ''export ${name}="${if builtins.isBool value then lib.boolToString value else toString value}"'';
in
{
  inherit export;

  # One `export` line per variable that is not null, in order of name.
  exportAll =
    vars: lib.concatStringsSep "\n" (lib.mapAttrsToList export (lib.filterAttrs (_: v: v != null) vars));

  # "a:b${NAME:+:}$NAME": the values joined by `sep`, then what NAME held,
  # with no trailing separator when it was empty.
  prependToVar = sep: name: values: lib.concatStringsSep sep values + "\${${name}:+${sep}}\$${name}";

  # The contents of a shell array (what goes inside the parentheses): each
  # item quoted, several per line up to 78 columns, each line indented.
  formatShellArrayContent =
    items:
    let
      quoted = map lib.escapeShellArg items;
      lines = lib.foldl' (
        acc: item:
        let
          joined = if acc.line == "" then item else "${acc.line} ${item}";
        in
        if builtins.stringLength joined <= 78 then
          acc // { line = joined; }
        else
          {
            done = acc.done ++ [ acc.line ];
            line = item;
          }
      ) {
        done = [ ];
        line = "";
      } quoted;
      all = lines.done ++ lib.optional (lines.line != "") lines.line;
    in
    "\n  ${lib.concatStringsSep "\n  " all}\n";
}
