# `lib.hm.mcp`: MCP (Model Context Protocol) server settings, normalised for
# the programs that read them. An `env` value is a string or a file
# reference `{ file = "/run/secrets/x"; }`, read when the server starts.
{ lib }:
let
  isFileRef = v: builtins.isAttrs v && v ? file;

  literalEnv = lib.filterAttrs (_: v: !isFileRef v);
  fileEnv = env: lib.mapAttrs (_: v: v.file) (lib.filterAttrs (_: isFileRef) env);

  # `env` with each file reference written as `mkFileRef path`.
  renderEnv = mkFileRef: lib.mapAttrs (_: v: if isFileRef v then mkFileRef v.file else v);

  # A script that exports each file-backed variable of `server.env` (read
  # from its file) and then runs the server's command. A file that cannot be
  # read is reported on stderr and the server starts without that variable.
  mkEnvFilesWrapper =
    {
      pkgs,
      name,
      server,
    }:
    pkgs.writeShellScript "mcp-${name}-wrapper" ''
      ${lib.concatStrings (
        lib.mapAttrsToList (var: file: ''
          if ${var}=$(cat ${lib.escapeShellArg file}); then
            export ${var}
          else
            echo ${lib.escapeShellArg "mcp server ${name}: cannot read ${var} from ${file}"} >&2
          fi
        '') (fileEnv (server.env or { }))
      )}
      exec ${lib.escapeShellArgs ([ server.command ] ++ server.args or [ ])}
    '';

  # The server unchanged when its `env` has no file references; else one
  # whose command is the wrapper above, with no arguments and only the
  # literal variables left in `env`.
  wrapEnvFilesCommand =
    { pkgs, name }:
    server:
    if fileEnv (server.env or { }) == { } then
      server
    else
      server
      // {
        command = mkEnvFilesWrapper { inherit pkgs name server; };
        args = [ ];
        env = literalEnv server.env;
      };

  # `enabled`, else the opposite of `disabled`, else null (unset).
  resolveEnabled =
    server:
    if (server.enabled or null) != null then
      server.enabled
    else if (server.disabled or null) != null then
      !server.disabled
    else
      null;

  # `type`, when not given: "http" for a server with a `url`, else "stdio".
  addType =
    server:
    if server ? type then
      server
    else
      server // { type = if (server.url or null) != null then "http" else "stdio"; };

  isEmpty = v: v == null || v == [ ] || v == { };
in
{
  inherit
    renderEnv
    mkEnvFilesWrapper
    wrapEnvFilesCommand
    resolveEnabled
    addType
    ;

  # One server's settings as a client program takes them: `enabled` from
  # `enabled`/`disabled`, `url` from `url` or else `serverUrl`, then each of
  # `extraTransforms` in turn (they still see the file references and the
  # attributes removed below), then the file references written with
  # `mkFileRef`, without `disabled`, `serverUrl` and `exclude`, and without
  # attributes that are null, [] or {}.
  transformMcpServer =
    {
      server,
      exclude ? [ ],
      extraTransforms ? [ ],
      mkFileRef ? (path: "{file:${path}}"),
    }:
    let
      start = server // {
        enabled = resolveEnabled server;
        url = if (server.url or null) != null then server.url else server.serverUrl or null;
      };
      transformed = lib.pipe start extraTransforms;
      rendered =
        if transformed ? env then transformed // { env = renderEnv mkFileRef transformed.env; } else transformed;
    in
    lib.filterAttrs (_: v: !isEmpty v) (
      removeAttrs rendered (
        [
          "disabled"
          "serverUrl"
        ]
        ++ exclude
      )
    );
}
