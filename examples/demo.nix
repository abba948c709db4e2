# Two hearth generations for the demo (scripts/demo.sh), built with nothing
# but Nix itself: sources come from builtins.toFile, and the generation is a
# derivation whose builder is the host's /bin/sh. The Nix modules (NixOS,
# nix-darwin) build the same kind of generation from home.file & co.
{
  user,
  home,
}:
let
  inherit (builtins) toFile toJSON;

  gitconfig = toFile "gitconfig" ''
    [user]
      name = Alice Example
      email = alice@example.org
  '';
  greetingV1 = toFile "greeting" "hello from generation 1\n";
  greetingV2 = toFile "greeting" "hello from generation 2\n";
  vimrc = toFile "vimrc" "set number\nsyntax on\n";
  netrc = toFile "netrc" "machine example.org login alice password demo\n";
  reload = toFile "reload-greeting" ''
    #!/bin/sh
    echo "greeting changed; a real hook would reload a service here"
  '';
  welcome = toFile "welcome" ''
    #!/bin/sh
    echo "welcome, $HOME is on $HEARTH_NEW_GENERATION"
  '';

  generation =
    name: files:
    let
      manifest = toFile "manifest.json" (toJSON {
        version = 1;
        inherit user home files;
        backupExtension = null;
        packages = null;
        activation = [
          {
            name = "welcome";
            after = "files";
            script = "@out@/welcome";
          }
        ];
      });
    in
    derivation {
      name = "hearth-generation-${user}-${name}";
      system = builtins.currentSystem;
      builder = "/bin/sh";
      PATH = "/bin:/usr/bin";
      args = [
        "-ec"
        ''
          mkdir $out
          sed "s|@out@|$out|g" ${manifest} > $out/manifest.json
          cp ${reload} $out/reload; cp ${welcome} $out/welcome
          chmod 0555 $out/reload $out/welcome
          # A builtin last: Nix 2.8 can kill a builder replaced by chmod,
          # which closes its output before it exits ("signal 9").
          :
        ''
      ];
    };

  link = target: source: {
    inherit target source;
    type = "symlink";
    mode = null;
    force = false;
    onChange = null;
  };
in
{
  first = generation "1" [
    (link ".gitconfig" gitconfig)
    ((link ".config/demo/greeting" greetingV1) // { onChange = "@out@/reload"; })
    (link ".vimrc" vimrc)
  ];
  second = generation "2" [
    (link ".gitconfig" gitconfig)
    ((link ".config/demo/greeting" greetingV2) // { onChange = "@out@/reload"; })
    ((link ".netrc" netrc) // { type = "copy"; mode = "0600"; })
  ];
}
