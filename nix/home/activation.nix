# home.activation: shell steps ordered by a DAG around Home Manager's
# anchors, which are nodes of their own so that any DAG valid in Home Manager
# is valid here and sorts the same. The sorted list is cut at
# `linkGeneration`: what comes before runs in hearth's check phase (before
# any file is written), the rest after the files; and at `onFilesChange`,
# where the onChange hooks run, as in Home Manager. The order is resolved at
# evaluation time; a cycle is an evaluation error naming its entries.
{
  config,
  lib,
  ...
}:
let
  dag = import ../lib/dag.nix { inherit lib; };

  # Home Manager's anchors, constrained as its core modules constrain them
  # (files.nix, home-environment.nix, systemd.nix). They carry no text: hearth
  # does their work itself. `reloadSystemd` exists in Home Manager only where
  # its systemd module is enabled by default, on Linux; leaving it out
  # elsewhere keeps the tie-breaks of a nix-darwin home as Home Manager's.
  hmAnchors = {
    writeBoundary = dag.entryAnywhere null;
    checkLinkTargets = dag.entryBefore [ "writeBoundary" ] null;
    installPackages = dag.entryAfter [ "writeBoundary" ] null;
    linkGeneration = dag.entryAfter [ "writeBoundary" ] null;
    checkFilesChanged = dag.entryBefore [ "linkGeneration" ] null;
    onFilesChange = dag.entryAfter [ "linkGeneration" ] null;
  }
  // lib.optionalAttrs (lib.hasSuffix "-linux" config.hearth.system) {
    reloadSystemd = dag.entryAfter [ "linkGeneration" ] null;
  };

  # hearth's own anchors: `files` is `linkGeneration` (the files are in
  # place); `check` is the start, before every step.
  hearthAnchors = [
    "check"
    "files"
  ];
  anchors = hearthAnchors ++ builtins.attrNames hmAnchors;
  resolve = map (n: if n == "files" then "linkGeneration" else n);

  steps = config.home.activation;

  stepGraph = lib.mapAttrs (_: e: {
    inherit (e) data;
    after = resolve e.after;
    before = resolve e.before;
  }) steps;

  graph = stepGraph // hmAnchors;

  # `check` comes before everything: a step before it is a cycle through
  # it. Sorted only to find such cycles; adding `check` to the graph that
  # gives the order would change Home Manager's tie-breaks.
  withStart =
    lib.mapAttrs (_: e: e // { after = e.after ++ [ "check" ]; }) graph
    // {
      check = dag.entryAnywhere null;
    };

  sorted = builtins.seq (dag.topoSortOrThrow "home.activation" withStart) (
    dag.topoSortOrThrow "home.activation" graph
  );

  names = map (s: s.name) sorted;
  boundary = lib.lists.findFirstIndex (n: n == "linkGeneration") null names;
  # Where Home Manager runs the onChange hooks; always after `boundary`.
  hooks = lib.lists.findFirstIndex (n: n == "onFilesChange") null names;

  order = lib.concatLists (
    lib.imap0 (
      i: s:
      lib.optional (!hmAnchors ? ${s.name}) {
        inherit (s) name;
        after =
          if i < boundary then
            "check"
          else if i < hooks then
            "linked"
          else
            "files";
        text = s.data;
      }
    ) sorted
  );
in
{
  options.home = {
    activation = lib.mkOption {
      type = dag.types.dagOf lib.types.lines;
      default = { };
      example = lib.literalExpression ''
        {
          checkDisk = lib.hm.dag.entryBefore [ "checkLinkTargets" ] '''
            test "$(df --output=avail "$HOME" | tail -1)" -gt 100000
          ''';
          reportChanges = lib.hm.dag.entryAfter [ "linkGeneration" ] '''
            if [[ -v oldGenPath ]]; then
              run ''${pkgs.nvd}/bin/nvd diff "$oldGenPath" "$newGenPath"
            fi
          ''';
        }
      '';
      description = ''
        Shell steps run when the home is activated, ordered by a DAG (make
        entries with `lib.hm.dag.entryAfter`, `entryBefore`, `entryBetween`
        and `entryAnywhere`; a plain string is `entryAnywhere`;
        `lib.mkBefore`, `lib.mkAfter` and `lib.mkOrder` order the
        definitions of one entry).

        Home Manager's anchors are nodes of the DAG, constrained as Home
        Manager constrains them: `checkLinkTargets` before `writeBoundary`;
        `installPackages` and `linkGeneration` after it; `checkFilesChanged`
        before `linkGeneration`; `onFilesChange` and (on Linux)
        `reloadSystemd` after it. The steps are sorted exactly as Home
        Manager sorts them, ties included, so any DAG valid in Home Manager
        is valid here and runs in the same order. hearth does the anchors'
        work itself, in two phases, and the sorted list is cut at
        `linkGeneration`: every step sorted before it (a step
        `entryAfter [ "writeBoundary" ]` included, when the sort puts it
        there, as Home Manager runs it before linking) runs in hearth's
        check phase, before anything in the home is changed, also in a dry
        run, and its failure leaves the home untouched; every step sorted
        after it runs once the files are in place and the packages
        installed, and the `onChange` hooks run where Home Manager runs
        them, at `onFilesChange`: a step sorted between `linkGeneration`
        and `onFilesChange` (an `entryAfter [ "linkGeneration" ]` whose
        name sorts before it, as in Home Manager) runs before the hooks,
        every later one after them. The user's systemd units are reloaded
        after all steps. A step that must see the new files or packages is
        best written `entryAfter [ "linkGeneration" ]`; one that must come
        after the hooks, `entryAfter [ "onFilesChange" ]`.
        hearth's own names `files` (= `linkGeneration`) and `check` (the
        start: nothing can come before it) also work.

        Each step runs with bash (`pkgs.runtimeShell`; `/bin/sh` for a home
        evaluated without `pkgs`) after a preamble that gives it Home Manager's
        environment: `set -eu -o pipefail`, the home as working directory,
        `$newGenPath` (this generation) and `$oldGenPath` (the current one;
        unset on a first activation, as in Home Manager), `$DRY_RUN` (set in
        a dry run), `$DRY_RUN_CMD`, `$DRY_RUN_NULL`, `$VERBOSE_ARG`, `run`
        (with `--quiet` and `--silence`; only echoes in a dry run),
        `verboseEcho`, `noteEcho`, `warnEcho` and `errorEcho`. A cycle is an
        evaluation error naming its entries.
      '';
    };

    activationOrder = lib.mkOption {
      type = lib.types.listOf lib.types.attrs;
      internal = true;
      readOnly = true;
      description = ''
        The steps of {option}`home.activation` in the order they run:
        `{ name; after = "check" | "linked" | "files"; text; }` (`linked`:
        after the files, before the `onChange` hooks).
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
