# home.activation: shell steps ordered by a DAG around two built-in anchors,
# `check` (before any file is written) and `files` (after the files are in
# place). The order is resolved here, at evaluation time; a cycle is an
# evaluation error naming its entries.
{
  config,
  lib,
  ...
}:
let
  dag = import ../lib/dag.nix { inherit lib; };

  anchors = [
    "check"
    "files"
  ];

  # Home Manager's anchors, as hearth's: a step before "writeBoundary" runs
  # in the check phase, a step after it once the files are written.
  aliases = {
    checkFilesChanged = "check";
    checkLinkTargets = "check";
    writeBoundary = "files";
    linkGeneration = "files";
    onFilesChange = "files";
    installPackages = "files";
    reloadSystemd = "files";
  };
  resolve = map (n: aliases.${n} or n);

  steps = config.home.activation;

  # Every step comes after `check`; the anchors themselves, with files after
  # check.
  graph =
    lib.mapAttrs (_: e: {
      inherit (e) data;
      after = lib.unique (resolve e.after ++ [ "check" ]);
      before = resolve e.before;
    }) steps
    // {
      check = dag.entryAnywhere null;
      files = dag.entryAfter [ "check" ] null;
    };

  # A step belongs to the check phase when it must run before `files`,
  # transitively; every other step runs after the files.
  preds = dag.predecessors graph;
  succs = lib.mapAttrs (n: _: lib.filter (m: builtins.elem n preds.${m}) (builtins.attrNames graph)) graph;
  beforeFiles = lib.mapAttrs (n: _: lib.any (m: m == "files" || beforeFiles.${m}) succs.${n}) graph;

  # Sorted once to find cycles, then with every after-files step pinned after
  # `files`, so that the list is the phases in order.
  checked = dag.topoSortOrThrow "home.activation" graph;
  pinned = lib.mapAttrs (
    n: e:
    if builtins.elem n anchors || beforeFiles.${n} then e else e // { after = e.after ++ [ "files" ]; }
  ) graph;
  sorted = builtins.seq checked (dag.topoSortOrThrow "home.activation" pinned);

  order = map (s: {
    inherit (s) name;
    after = if beforeFiles.${s.name} then "check" else "files";
    text = s.data;
  }) (lib.filter (s: !builtins.elem s.name anchors) sorted);
in
{
  options.home = {
    activation = lib.mkOption {
      type = dag.types.dagOf lib.types.lines;
      default = { };
      example = lib.literalExpression ''
        {
          checkDisk = lib.hm.dag.entryBefore [ "files" ] '''
            test "$(df --output=avail "$HOME" | tail -1)" -gt 100000
          ''';
          reloadThing = lib.hm.dag.entryAfter [ "files" ] '''
            systemctl --user try-restart thing.service
          ''';
        }
      '';
      description = ''
        Shell steps run when the home is activated, ordered by a DAG (make
        entries with `lib.hm.dag.entryAfter`, `entryBefore`, `entryBetween`
        and `entryAnywhere`; a plain string is `entryAnywhere`). Two
        built-in anchors: `check` (the start; a step that must come before
        `files` runs before anything is changed, and its failure leaves the
        home untouched) and `files` (the files are in place; every other step
        runs after them). Home Manager's `writeBoundary`, `linkGeneration`,
        `installPackages`, `onFilesChange` and `reloadSystemd` mean `files`;
        `checkLinkTargets` and `checkFilesChanged` mean `check`. Steps that
        are not ordered with each other run in order of name; a cycle is an
        evaluation error naming its entries.
      '';
    };

    activationOrder = lib.mkOption {
      type = lib.types.listOf lib.types.attrs;
      internal = true;
      readOnly = true;
      description = ''
        The steps of {option}`home.activation` in the order they run:
        `{ name; after = "check" | "files"; text; }`.
      '';
    };
  };

  config = {
    home.activationOrder = order;

    assertions = map (a: {
      assertion = !steps ? ${a};
      message = "home.activation.${a}: `${a}` is a built-in anchor of home.activation, not a step; give the step another name";
    }) anchors;
  };
}
