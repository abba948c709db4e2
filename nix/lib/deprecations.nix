# `lib.hm.deprecations`: what modules use to rename options and settings and
# to change defaults by `home.stateVersion`, with the warnings that go with
# it. Nothing here depends on which options exist: a module passes its own
# option paths (and, where asked for, its `config` and `options`).
{ lib, strings }:
let
  # Nix source for a value in a warning, unless the caller gave its own.
  shown = v: v.text or (lib.generators.toPretty { } v.value);
in
{
  # The warning for a value of `option` given in a shape (`old`, e.g. "a
  # list") that will stop working; `replacement` says what to write instead.
  mkDeprecatedOptionValueWarning =
    {
      option,
      old,
      replacement,
      details ? "",
    }:
    ''
      `${lib.showOption option}` given as ${old} is deprecated and will stop
      working in a future release; use ${replacement} instead.
    ''
    + lib.optionalString (details != "") "\n${details}\n";

  # The warning for a value of `option` (`old`) that has a new name.
  mkDeprecatedOptionValueRenameWarning =
    {
      option,
      old,
      replacement,
    }:
    ''
      `${lib.showOption option}` = ${old} is deprecated and will stop
      working in a future release; use ${replacement} instead.
    '';

  # `mkSettingsRenamedOptionModules oldPrefix newPrefix { transform } specs`:
  # one `lib.mkRenamedOptionModule` per spec. A spec is a name or a path
  # under `oldPrefix`, renamed under `newPrefix` by `transform` applied to
  # each of its parts (snake_case by default), or `{ old; new; }` to give
  # both paths.
  mkSettingsRenamedOptionModules =
    oldPrefix: newPrefix:
    {
      transform ? strings.toSnakeCase,
    }:
    map (
      spec:
      let
        old = lib.toList (if builtins.isAttrs spec then spec.old else spec);
        new = if builtins.isAttrs spec then lib.toList spec.new else map transform old;
      in
      lib.mkRenamedOptionModule (oldPrefix ++ old) (newPrefix ++ new)
    );

  # `remapAttrsRecursive { pred; transform; ignore; } path value`: `value`
  # with every attribute name (in nested sets and lists too) for which
  # `pred` holds, and that is not in `ignore`, replaced by `transform name`,
  # each with a warning that names it and where it is (`path`).
  remapAttrsRecursive =
    {
      pred,
      transform,
      ignore ? [ ],
    }:
    let
      go =
        path: value:
        if builtins.isAttrs value then
          lib.mapAttrs' (
            name: v:
            let
              renamed = if pred name && !builtins.elem name ignore then transform name else name;
              entry = lib.nameValuePair renamed (go "${path}.${name}" v);
            in
            if renamed == name then
              entry
            else
              lib.warn "hearth: '${name}' in '${path}' now means '${renamed}'; write '${renamed}' in your configuration." entry
          ) value
        else if builtins.isList value then
          lib.imap0 (i: go "${path}.[${toString i}]") value
        else
          value;
    in
    go;

  # The default of an option that changed in release `since`, chosen by
  # `stateVersion`: `legacy.value` before it, `current.value` from it on
  # (each may carry a `text` to show instead of the value). Gives `default`
  # and `defaultText` for `lib.mkOption`, the `warning`, and the
  # `effectiveDefault`. Using the legacy default warns when `default` is
  # read; with `deferWarningToConfig` (which needs `config` and `options`),
  # `default` is always the current value and `shouldWarn` says whether the
  # module should add `warning` to its `warnings`: by default, when the
  # option was not set above its default's priority (`warningPriority`), or
  # as the function `shouldWarn { optionInfo, optionUsesDefaultPriority }`
  # decides.
  mkStateVersionOptionDefault =
    {
      stateVersion,
      since,
      optionPath,
      legacy,
      current,
      extraWarning ? "",
      config ? null,
      options ? null,
      warningPriority ? (lib.mkOptionDefault { }).priority,
      shouldWarn ? null,
      deferWarningToConfig ? false,
    }:
    let
      name = lib.showOption optionPath;
      legacyText = shown legacy;
      currentText = shown current;
      deferrable = config != null && options != null;
      optionInfo = if deferrable then lib.getAttrFromPath optionPath options else { };
      optionUsesDefaultPriority = deferrable && optionInfo.highestPrio >= warningPriority;
      legacyApplies = lib.versionOlder stateVersion since && legacy.value != current.value;
      warning = ''
        The default of `${name}` is `${currentText}` since release ${since}; it was `${legacyText}`.
        With a `home.stateVersion` older than ${since}, `${name}` keeps `${legacyText}`.
        Set `${name} = ${legacyText};` to keep it, or `${name} = ${currentText};` to take the new default;
        either silences this warning.
      ''
      + lib.optionalString (extraWarning != "") "\n${extraWarning}";
    in
    if deferWarningToConfig && !deferrable then
      throw "lib.hm.deprecations.mkStateVersionOptionDefault for `${name}`: deferWarningToConfig needs `config` and `options`; pass both."
    else
      {
        default =
          if legacyApplies && !deferWarningToConfig then lib.warn warning legacy.value else current.value;
        defaultText = lib.literalExpression ''
          if lib.versionAtLeast config.home.stateVersion "${since}" then ${currentText} else ${legacyText}
        '';
        effectiveDefault = if lib.versionOlder stateVersion since then legacy.value else current.value;
        inherit warning optionUsesDefaultPriority;
        shouldWarn =
          deferWarningToConfig
          && legacyApplies
          && (
            if lib.isFunction shouldWarn then
              shouldWarn { inherit optionInfo optionUsesDefaultPriority; }
            else
              optionUsesDefaultPriority
          );
      };

  # A predicate on a list entry (`{ value; ... }`): its value is an
  # attribute set that has `triggerField` (with a value `triggerPredicate`
  # accepts: not null and not "" by default) and lacks `omittedField`.
  mkListEntryOmittedFieldPredicate =
    {
      omittedField,
      triggerField,
      triggerPredicate ? (v: v != null && v != ""),
    }:
    entry:
    builtins.isAttrs entry.value
    && entry.value ? ${triggerField}
    && triggerPredicate entry.value.${triggerField}
    && !(entry.value ? ${omittedField});

  # When `stateVersion` is older than `since`: one warning per entry of a
  # list option's `definitions` (`options.<path>.definitionsWithLocations`)
  # for which `shouldWarnEntry { value; index; file; }` holds (`index`
  # counts from 1 within its definition, `file` is its base name):
  # `baseWarning`, the entry (`describeEntry`) and where it is defined, and
  # `extraEntryWarning` when not "". Else none.
  mkStateVersionListSubmoduleWarnings =
    {
      stateVersion,
      since,
      baseWarning,
      definitions,
      shouldWarnEntry,
      describeEntry ? (_: "an entry"),
      extraEntryWarning ? (_: ""),
    }:
    let
      entries = lib.concatMap (
        def:
        lib.imap1 (index: value: {
          inherit index value;
          file = baseNameOf (toString def.file);
        }) def.value
      ) definitions;
      warn =
        entry:
        lib.concatStringsSep "\n" (
          [
            (lib.removeSuffix "\n" baseWarning)
            "This applies to ${describeEntry entry}: item ${toString entry.index} of the list in `${entry.file}`."
          ]
          ++ lib.filter (s: s != "") [ (extraEntryWarning entry) ]
        );
    in
    lib.optionals (lib.versionOlder stateVersion since) (
      map warn (builtins.filter shouldWarnEntry entries)
    );
}
