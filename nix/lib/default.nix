# hearth's Nix library: `dag` (ordering of activation steps), the parts of
# Home Manager's `lib.hm` that configurations use, and `extendLib`, which
# adds them to a nixpkgs `lib` as `lib.hearth` and, for Home Manager
# compatibility, as `lib.hm`. Needs nothing but `lib`.
{ lib }:
let
  dag = import ./dag.nix { inherit lib; };
  strings = import ./strings.nix { inherit lib; };

  # What `lib.hm` holds, by Home Manager's names.
  hm = {
    inherit dag strings;
    types = {
      inherit (dag.types) dagOf;
    };
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
