# The DAG-ordered formats of `lib.hm.generators`: settings whose values may
# be `lib.hm.dag` entries (`entryAfter`, `entryBefore`, ...), for the
# programs that read keys or sections in file order. An attribute set with
# at least one entry that names others is written in the order of the DAG
# (hearth's sort, which is Home Manager's); without one, in order of name,
# as nixpkgs' generators write it. Every function gives Home Manager's
# result for the same call.
{ lib, dag }:
let
  defaultCycleMessage = "Dependency cycle in DAG entries";

  # Home Manager's test for an entry here: a set with `data`, `after` and
  # `before`, whatever else it holds. Looser than `dag.isEntry` (exactly
  # those three), and it is the one that decides what Home Manager writes.
  isEntry = v: builtins.isAttrs v && v ? data && v ? after && v ? before;

  isDAGEntryWithOrdering = v: isEntry v && (v.after != [ ] || v.before != [ ]);

  hasDAGEntryWithOrdering = attrs: lib.any isDAGEntryWithOrdering (builtins.attrValues attrs);

  # `[ { name, value } ... ]` in the order of the DAG; a plain value is an
  # entry with no constraint. An entry that names itself is not a cycle:
  # Home Manager's sort (nixpkgs' `toposort`) never compares an entry with
  # itself, so such a constraint has no effect there, and none here.
  sortDAGEntries =
    {
      cycleErrorMessage ? defaultCycleMessage,
    }:
    attrs:
    let
      asEntry =
        name: v:
        let
          e = if isEntry v then v else dag.entryAnywhere v;
          others = builtins.filter (n: n != name);
        in
        dag.entryBetween (others e.before) (others e.after) e.data;
      sorted = dag.topoSortOrThrow cycleErrorMessage (lib.mapAttrs asEntry attrs);
    in
    map (e: {
      inherit (e) name;
      value = e.data;
    }) sorted;

  # Only entries that name others count as entries once the set is
  # ordered: the rest, even a set shaped like an entry without
  # constraints, are values and written as they are.
  toDAGOrderedAttrs =
    {
      cycleErrorMessage ? defaultCycleMessage,
    }:
    attrs:
    if hasDAGEntryWithOrdering attrs then
      sortDAGEntries { inherit cycleErrorMessage; } (
        lib.mapAttrs (_: v: if isDAGEntryWithOrdering v then v else dag.entryAnywhere v) attrs
      )
    else
      lib.mapAttrsToList lib.nameValuePair attrs;

  # A renderer for a nested format: attribute sets (at any depth) are
  # ordered, then given to `renderAttrs` as `{ name, value }` with the value
  # already rendered; lists go to `renderList` rendered; everything else,
  # and paths and derivations (which are sets, but values), to
  # `renderValue`.
  toDAGOrderedText =
    {
      renderAttrs,
      renderList,
      renderValue,
      cycleErrorMessage ? defaultCycleMessage,
    }:
    let
      render =
        v:
        if lib.isDerivation v || builtins.isPath v then
          renderValue v
        else if builtins.isAttrs v then
          renderAttrs (
            map (e: e // { value = render e.value; }) (
              toDAGOrderedAttrs { inherit cycleErrorMessage; } v
            )
          )
        else if builtins.isList v then
          renderList (map render v)
        else
          renderValue v;
    in
    render;

  # Compact JSON with the keys in DAG order: what the JSON, YAML and TOML
  # formats hand to their converters, which keep that order.
  toDAGOrderedJsonText =
    {
      cycleErrorMessage ? defaultCycleMessage,
    }:
    toDAGOrderedText {
      inherit cycleErrorMessage;
      renderValue = builtins.toJSON;
      renderList = values: "[${lib.concatStringsSep "," values}]";
      renderAttrs =
        let
          member = e: "${builtins.toJSON e.name}:${e.value}";
        in
        entries: "{${lib.concatMapStringsSep "," member entries}}";
    };

  # Both list options at once would be two answers to one question; Home
  # Manager refuses them too (with an assertion).
  checkListOptions =
    fn: listsAsDuplicateKeys: listToValue:
    lib.throwIf (listsAsDuplicateKeys && listToValue != null)
      "lib.hm.generators.${fn}: listsAsDuplicateKeys = true and listToValue cannot be used together; keep one of them";

  toDAGOrderedKeyValue =
    {
      mkKeyValue ? lib.generators.mkKeyValueDefault { } "=",
      listsAsDuplicateKeys ? false,
      listToValue ? null,
      indent ? "",
      cycleErrorMessage ? defaultCycleMessage,
    }:
    attrs:
    let
      line = name: value: "${indent}${mkKeyValue name value}\n";
      lines =
        { name, value }:
        if listsAsDuplicateKeys then
          map (line name) (lib.toList value)
        else if listToValue != null && builtins.isList value then
          [ (line name (listToValue value)) ]
        else
          [ (line name value) ];
    in
    checkListOptions "toDAGOrderedKeyValue" listsAsDuplicateKeys listToValue (
      lib.concatStrings (
        lib.concatMap lines (toDAGOrderedAttrs { inherit cycleErrorMessage; } attrs)
      )
    );

  # Sections in DAG order, and the keys of each in DAG order, with one
  # empty line between sections.
  toDAGOrderedINI =
    {
      mkSectionName ? lib.escape [
        "["
        "]"
      ],
      mkKeyValue ? lib.generators.mkKeyValueDefault { } "=",
      listsAsDuplicateKeys ? false,
      listToValue ? null,
      cycleErrorMessage ? "Dependency cycle in INI sections",
    }:
    sections:
    let
      section =
        { name, value }:
        "[${mkSectionName name}]\n"
        + toDAGOrderedKeyValue {
          inherit
            mkKeyValue
            listsAsDuplicateKeys
            listToValue
            cycleErrorMessage
            ;
        } value;
    in
    checkListOptions "toDAGOrderedINI" listsAsDuplicateKeys listToValue (
      lib.concatMapStringsSep "\n" section (
        toDAGOrderedAttrs { inherit cycleErrorMessage; } sections
      )
    );

  # `format` (a `pkgs.formats` value) whose `generate` writes the file from
  # `generator`'s text: the text is handed to the build as a file
  # (`$valuePath`), which `buildCommand` turns into `$out`. Without a
  # message of its own, a cycle is reported with the file's name.
  mkDAGOrderedFormat =
    {
      pkgs,
      format,
      generator,
      nativeBuildInputs ? [ ],
      buildCommand ? ''
        cp "$valuePath" "$out"
      '',
      cycleErrorMessage ? null,
    }:
    format
    // {
      generate =
        name: value:
        pkgs.runCommandLocal name {
          inherit nativeBuildInputs;
          value = generator {
            cycleErrorMessage =
              if cycleErrorMessage == null then
                "Dependency cycle in ${name}"
              else
                cycleErrorMessage;
          } value;
          # A file, not an environment variable: settings can be larger
          # than the environment allows. (With __structuredAttrs, Nix
          # would not write $valuePath.)
          passAsFile = [ "value" ];
        } buildCommand;
    };

  # JSON, YAML and TOML: the ordered JSON text, pretty-printed by jq or
  # converted by remarshal (both keep the order of keys).
  mkJsonBased =
    {
      pkgs,
      format,
      cycleErrorMessage,
      tool,
      buildCommand,
    }:
    mkDAGOrderedFormat {
      inherit
        pkgs
        format
        cycleErrorMessage
        buildCommand
        ;
      generator = toDAGOrderedJsonText;
      nativeBuildInputs = [ tool ];
    };
in
{
  inherit
    isDAGEntryWithOrdering
    hasDAGEntryWithOrdering
    sortDAGEntries
    toDAGOrderedAttrs
    toDAGOrderedText
    toDAGOrderedKeyValue
    toDAGOrderedINI
    mkDAGOrderedFormat
    ;

  mkDAGOrderedJsonFormat =
    {
      pkgs,
      jsonFormat ? pkgs.formats.json { },
      cycleErrorMessage ? null,
    }:
    mkJsonBased {
      inherit pkgs cycleErrorMessage;
      format = jsonFormat;
      tool = pkgs.buildPackages.jq;
      buildCommand = ''
        jq . "$valuePath" > "$out"
      '';
    };

  mkDAGOrderedYamlFormat =
    {
      pkgs,
      yamlFormat ? pkgs.formats.yaml { },
      cycleErrorMessage ? null,
    }:
    mkJsonBased {
      inherit pkgs cycleErrorMessage;
      format = yamlFormat;
      tool = pkgs.buildPackages.remarshal;
      buildCommand = ''
        json2yaml "$valuePath" "$out"
      '';
    };

  mkDAGOrderedTomlFormat =
    {
      pkgs,
      tomlFormat ? pkgs.formats.toml { },
      cycleErrorMessage ? null,
    }:
    mkJsonBased {
      inherit pkgs cycleErrorMessage;
      format = tomlFormat;
      tool = pkgs.buildPackages.remarshal;
      buildCommand = ''
        json2toml "$valuePath" "$out"
      '';
    };

  # The INI and key-value formats take the options of the `pkgs.formats`
  # they extend, and hand the list options to it too, so that its type
  # (what `settings` accepts) matches what is written.
  mkDAGOrderedIniFormat =
    {
      pkgs,
      mkSectionName ? lib.escape [
        "["
        "]"
      ],
      mkKeyValue ? lib.generators.mkKeyValueDefault { } "=",
      listsAsDuplicateKeys ? false,
      listToValue ? null,
      atomsCoercedToLists ? null,
      iniFormat ? pkgs.formats.ini {
        inherit atomsCoercedToLists listsAsDuplicateKeys listToValue;
      },
      cycleErrorMessage ? null,
    }:
    checkListOptions "mkDAGOrderedIniFormat" listsAsDuplicateKeys listToValue (
      mkDAGOrderedFormat {
        inherit pkgs cycleErrorMessage;
        format = iniFormat;
        generator =
          { cycleErrorMessage }:
          toDAGOrderedINI {
            inherit
              mkSectionName
              mkKeyValue
              listsAsDuplicateKeys
              listToValue
              cycleErrorMessage
              ;
          };
      }
    );

  mkDAGOrderedKeyValueFormat =
    {
      pkgs,
      mkKeyValue ? lib.generators.mkKeyValueDefault { } "=",
      listsAsDuplicateKeys ? false,
      listToValue ? null,
      keyValueFormat ? pkgs.formats.keyValue { inherit listsAsDuplicateKeys listToValue; },
      cycleErrorMessage ? null,
    }:
    checkListOptions "mkDAGOrderedKeyValueFormat" listsAsDuplicateKeys listToValue (
      mkDAGOrderedFormat {
        inherit pkgs cycleErrorMessage;
        format = keyValueFormat;
        generator =
          { cycleErrorMessage }:
          toDAGOrderedKeyValue {
            inherit
              mkKeyValue
              listsAsDuplicateKeys
              listToValue
              cycleErrorMessage
              ;
          };
      }
    );
}
