# hearth's Nix library: `dag` (ordering of activation steps) and
# `extendLib`, which adds it to a nixpkgs `lib` as `lib.hearth` and, for
# Home Manager compatibility, as `lib.hm`. Needs nothing but `lib`.
{ lib }:
let
  dag = import ./dag.nix { inherit lib; };
  self = {
    inherit dag;

    # `lib` with `lib.hearth.dag` and `lib.hm.dag` / `lib.hm.types.dagOf`,
    # given to home modules as their `lib` argument.
    extendLib =
      lib:
      lib.extend (
        final: prev: {
          hearth = self;
          hm = (prev.hm or { }) // {
            inherit dag;
            types = (prev.hm.types or { }) // {
              inherit (dag.types) dagOf;
            };
          };
        }
      );
  };
in
self
