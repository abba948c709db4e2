# Directed acyclic graphs of named entries, for ordering steps such as
# home.activation. The same interface as Home Manager's `lib.hm.dag`, so that
# `lib.hm.dag.entryAfter [ "writeBoundary" ] "..."` keeps working.
# The sort is deterministic and orders entries exactly as Home Manager's
# does (its tie-break is nixpkgs' `lib.toposort` over the entries in order of
# name), so that steps written for it run in the same order; a cycle is an
# error naming every entry in it.
{ lib }:
let
  inherit (builtins)
    attrNames
    elem
    filter
    head
    length
    listToAttrs
    ;

  # The first element of a list in lexicographic order.
  smallest = names: head (builtins.sort builtins.lessThan names);

  # The position of the first `x` in `list` (which holds it).
  indexOf =
    x: list:
    let
      go = i: if builtins.elemAt list i == x then i else go (i + 1);
    in
    go 0;

  entryBetween = before: after: data: { inherit data before after; };
in
rec {
  inherit entryBetween;

  # An entry that must come after every entry named in `after`.
  entryAfter = after: entryBetween [ ] after;

  # An entry that must come before every entry named in `before`.
  entryBefore = before: entryBetween before [ ];

  # An entry with no constraint.
  entryAnywhere = entryBetween [ ] [ ];

  # Whether a value is a DAG entry (rather than plain data).
  isEntry =
    e:
    builtins.isAttrs e
    && attrNames e == [
      "after"
      "before"
      "data"
    ];

  # A DAG whose entries are the elements of `entries` in order, named
  # `${tag}-0`, `${tag}-1`, ...; each comes after the one before it.
  entriesBetween =
    tag: before: after: entries:
    let
      go =
        i: prev: rest:
        if rest == [ ] then
          [ ]
        else
          [
            {
              name = "${tag}-${toString i}";
              value = entryBetween before (if i == 0 then after else [ prev ]) (head rest);
            }
          ]
          ++ go (i + 1) "${tag}-${toString i}" (builtins.tail rest);
    in
    listToAttrs (go 0 null entries);
  entriesAnywhere = tag: entriesBetween tag [ ] [ ];
  entriesAfter = tag: entriesBetween tag [ ];
  entriesBefore = tag: before: entriesBetween tag before [ ];

  # For each name of the DAG, the names that must come before it. References
  # to names that are not in the DAG are ignored, as Home Manager does.
  predecessors =
    dag:
    let
      names = attrNames dag;
    in
    lib.genAttrs names (
      n:
      lib.unique (
        filter (p: dag ? ${p} && p != n) dag.${n}.after
        ++ filter (p: p != n && elem n dag.${p}.before) names
      )
      # An entry that names itself is a cycle of one.
      ++ lib.optional (elem n dag.${n}.after || elem n dag.${n}.before) n
    );

  # Sorts a DAG: `{ result = [ { name, data } ... ]; }`, or, when the graph
  # has a cycle, `{ cycle = [ a b ... ]; }` where a comes before b, ..., and the
  # last before a again; the cycle starts at its smallest name.
  #
  # The order is the one Home Manager computes for the same DAG: nixpkgs'
  # `lib.toposort` over the entries in order of name, with "a before b" when b
  # names a in `after` or a names b in `before`. Entries that are not ordered
  # with each other do not come out in order of name (the search starts from
  # the first name and walks back through its predecessors), and matching it
  # is the point: Home Manager's steps depend on where its anchors land.
  # Cycles are found first (Kahn's algorithm), because `lib.toposort` does not
  # see an entry that names itself and reports a cycle as a path.
  topoSort =
    dag:
    let
      preds = predecessors dag;
      names = attrNames dag;
      # Kahn's algorithm, only to find out whether there is a cycle.
      go =
        done: remaining:
        let
          ready = filter (n: lib.all (p: done ? ${p}) preds.${n}) remaining;
        in
        if remaining == [ ] then
          null
        else if ready == [ ] then
          findCycle preds remaining
        else
          go (done // lib.genAttrs ready (_: true)) (filter (n: !elem n ready) remaining);
      cycle = go { } names;
      nodes = map (name: {
        inherit name;
        preds = lib.genAttrs preds.${name} (_: true);
      }) names;
      sorted = lib.toposort (a: b: b.preds ? ${a.name}) nodes;
    in
    if cycle != null then
      { inherit cycle; }
    else
      { result = map (n: { inherit (n) name; inherit (dag.${n.name}) data; }) sorted.result; };

  # Given the predecessors of every node and a non-empty set of nodes that all
  # have a predecessor in the set, walks backwards (always to the smallest
  # predecessor) until a node repeats: that loop is a cycle.
  findCycle =
    preds: remaining:
    let
      inRemaining = n: elem n remaining;
      walk =
        path: n:
        if elem n path then
          let
            # The path runs backwards: path = [ ... n ... x ], x after n.
            loop = lib.drop (indexOf n path) path;
            forward = lib.reverseList loop;
            start = indexOf (smallest forward) forward;
          in
          lib.drop start forward ++ lib.take start forward
        else
          walk (path ++ [ n ]) (smallest (filter inRemaining preds.${n}));
    in
    walk [ ] (smallest remaining);

  # The sorted list `[ { name, data } ... ]`, or an evaluation error naming the
  # cycle, e.g. "home.activation: the entries a -> b -> c -> a form a cycle".
  # `what` names the DAG in the message.
  topoSortOrThrow =
    what: dag:
    let
      sorted = topoSort dag;
      c = sorted.cycle;
    in
    if sorted ? result then
      sorted.result
    else
      throw (
        "${what}: the entries ${lib.concatStringsSep " -> " (c ++ [ (head c) ])} form a cycle"
        + " (${toString (length c)} ${if length c == 1 then "entry" else "entries"});"
        + " remove one of these constraints (`after`, `before`, or entryAfter/entryBefore/entryBetween)"
      );

  # Compatibility with Home Manager's `dagTopoSort` name.
  dagTopoSort = topoSort;

  # The option type of a DAG whose entries hold values of `elemType`. A
  # plain value (not made with the entry* functions) is taken as
  # entryAnywhere. Several definitions of one entry merge as `elemType`
  # merges. When `elemType` is a submodule, its modules get the entry's
  # name as the `dagName` argument (`name` is "data" there).
  types.dagOf =
    elemType:
    let
      isSubmodule = elemType.name == "submodule";
      entry = lib.types.submodule (
        { name, ... }:
        {
          options = {
            data = lib.mkOption {
              type = elemType;
              description = "The entry's value.";
            };
            after = lib.mkOption {
              type = lib.types.listOf lib.types.str;
              default = [ ];
              description = "Names of the entries this one must come after.";
            };
            before = lib.mkOption {
              type = lib.types.listOf lib.types.str;
              default = [ ];
              description = "Names of the entries this one must come before.";
            };
          };
          config = lib.mkIf isSubmodule { data._module.args.dagName = name; };
        }
      );
      # A definition as an entry: entries as they are, plain values as
      # entryAnywhere. A plain value under mkBefore/mkAfter/mkOrder keeps
      # its priority among the other definitions of the same entry; the
      # priority itself never reaches the submodule (which takes none).
      asEntry =
        d:
        if isEntry d.value then
          { inherit (d) file value; }
        else
          {
            inherit (d) file;
            value = entryAnywhere (if d ? priority then lib.mkOrder d.priority d.value else d.value);
          };
      entryType = lib.mkOptionType {
        name = "dagEntryOf";
        description = "DAG entry of ${lib.types.optionDescriptionPhrase (class: class == "noun") elemType}";
        merge = loc: defs: entry.merge loc (map asEntry defs);
      };
      attrs = lib.types.attrsOf entryType;
    in
    lib.mkOptionType {
      name = "dagOf";
      description = "DAG of ${lib.types.optionDescriptionPhrase (class: class == "noun") elemType}";
      inherit (attrs) check merge emptyValue;
      getSubOptions = prefix: elemType.getSubOptions (prefix ++ [ "<name>" ]);
      inherit (elemType) getSubModules;
      substSubModules = m: types.dagOf (elemType.substSubModules m);
      functor = (lib.types.defaultFunctor "dagOf") // {
        wrapped = elemType;
      };
      nestedTypes.elemType = elemType;
    };
}
