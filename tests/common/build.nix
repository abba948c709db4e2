# Builds the test fixtures that tests/common/mod.rs describes in a JSON spec.
#
# Every piece of text a test provides arrives through builtins.fromJSON and
# leaves through builtins.toFile or passAsFile, so none of it is ever parsed
# as Nix or as shell: quotes, `$`, backslashes and newlines stay as they are.
# There is no nixpkgs: builders are the host's /bin/sh and coreutils.
{ spec }:
let
  inherit (builtins)
    concatLists
    elemAt
    genList
    length
    listToAttrs
    map
    replaceStrings
    toJSON
    ;

  items = (builtins.fromJSON (builtins.readFile spec)).items;

  run =
    name: script: attrs:
    builtins.derivation (
      {
        inherit name;
        system = builtins.currentSystem;
        builder = "/bin/sh";
        args = [
          "-e"
          "-c"
          # Not the last command in the shell's place: Nix 2.8 kills a
          # builder that closes its output before exiting (coreutils do);
          # see nix/lib/builder.nix.
          (script + "\n:\n")
        ];
        PATH = "/bin:/usr/bin";
      }
      // attrs
    );

  # A directory of files. Entry i has its content in the file $c<i>Path, its
  # relative path in $p<i>, and is executable when $x<i> is 1.
  tree =
    name: entries:
    let
      n = length entries;
      attrsOf =
        i:
        let
          e = elemAt entries i;
          s = toString i;
        in
        [
          {
            name = "c${s}";
            value = e.content;
          }
          {
            name = "p${s}";
            value = e.path;
          }
          {
            name = "x${s}";
            value = if e.executable then "1" else "0";
          }
        ];
    in
    run name ''
      mkdir "$out"
      i=0
      while [ "$i" -lt "$count" ]; do
        eval "content=\$c''${i}Path path=\$p''${i} exe=\$x''${i}"
        mkdir -p "$(dirname "$out/$path")"
        cp "$content" "$out/$path"
        if [ "$exe" = 1 ]; then chmod 0555 "$out/$path"; fi
        i=$((i + 1))
      done
    '' ({
      count = toString n;
      passAsFile = genList (i: "c${toString i}") n;
    } // listToAttrs (concatLists (genList attrsOf n)));

  # toFile's path depends only on name and text, so an unchanged file keeps
  # its store path from one generation to the next, as with Home Manager.
  source =
    s:
    if s.kind == "text" then
      builtins.toFile s.name s.text
    else if s.kind == "script" then
      run s.name ''cp "$textPath" "$out"; chmod 0555 "$out"'' {
        inherit (s) text;
        passAsFile = [ "text" ];
      }
    else
      tree s.name s.entries;

  # The manifest names its sources by markers; replacing them with the
  # sources' paths also gives the generation a reference to each of them.
  build =
    item:
    if item.kind == "tree" then
      tree item.name item.entries
    else
      run item.name ''mkdir "$out"; cp "$manifestPath" "$out/manifest.json"'' {
        manifest = replaceStrings item.markers (map (s: "${source s}") item.sources) item.manifest;
        passAsFile = [ "manifest" ];
      };
in
# One output listing the path of every item in the order asked for: nix-build
# prints its results sorted by derivation path, and only once each.
run "hearth-test-fixtures" ''cp "$pathsPath" "$out"'' {
  paths = toJSON (map (item: "${build item}") items);
  passAsFile = [ "paths" ];
}
