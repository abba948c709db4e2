# hearth's Nix library: `dag` (ordering of activation steps), the parts of
# Home Manager's `lib.hm` that configurations use, and `extendLib`, which
# adds them to a nixpkgs `lib` as `lib.hearth` and, for Home Manager
# compatibility, as `lib.hm`. Needs nothing but `lib`.
{ lib }:
let
  dag = import ./dag.nix { inherit lib; };
  strings = import ./strings.nix { inherit lib; };
  shell = import ./shell.nix { inherit lib; };
  booleans = import ./booleans.nix;
  gvariant = import ./gvariant.nix { inherit lib; };
  generators = import ./generators { inherit lib dag; };
  types = import ./types.nix { inherit lib dag gvariant; };
  assertions = import ./assertions.nix { inherit lib; };
  darwin = import ./darwin.nix { inherit lib; };
  deprecations = import ./deprecations.nix { inherit lib strings; };
  git = import ./git.nix { inherit lib; };
  zsh = import ./zsh.nix { inherit lib shell; };
  nushell = import ./nushell.nix { inherit lib; };
  mcp = import ./mcp.nix { inherit lib; };
  maintainers = import ./maintainers.nix;

  # What `lib.hm` holds, by Home Manager's names.
  hm = {
    inherit
      dag
      strings
      shell
      booleans
      gvariant
      generators
      types
      assertions
      darwin
      deprecations
      git
      zsh
      nushell
      mcp
      maintainers
      ;
  };

  self = hm // {
    inherit hm;

    # `lib` with `lib.hearth` and `lib.hm`, given to home modules as their
    # `lib` argument.
    extendLib =
      lib:
      lib.extend (
        final: prev: {
          hearth = self;
          hm = (prev.hm or { }) // hm // {
            types = (prev.hm.types or { }) // hm.types;
          };
        }
      );
  };
in
self
