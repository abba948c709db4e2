# A stand-in for nixpkgs' `pkgs`, as much of it as Home Manager's core and
# the program and service modules under test (tests/nix/hm-configs/) force:
# the trivial builders, `formats.*`, `stdenv`, `lndir`, and each package a
# module names as a small derivation with `bin/NAME`. Every builder is
# /bin/bash with this machine's tools on PATH (the tests run with the
# sandbox off), so nothing needs a binary cache. Builders that Home Manager's
# `home-files` and the modules' files go through behave as nixpkgs' do for
# what these configurations give them (file layout, modes, names); what the
# real ones add (checks, stdenv hooks, references scanning) is left out.
{
  lib,
  # `pkgs.path`: a tree with what Home Manager imports from nixpkgs'
  # tree: `lib/` (nixpkgs' own) and nixos/modules/misc/{assertions,meta}.nix
  # (the stand-ins in hm-pkgs-path/).
  path,
}:
let
  system = builtins.currentSystem;

  # A derivation built by a bash script (its `buildCommand`, as nixpkgs'
  # runCommand), with `env` in its environment and the bin/ of
  # `nativeBuildInputs` (and `buildInputs`) in front of the host's tools;
  # `overrideAttrs` as nixpkgs' (on these attributes), and nixpkgs'
  # `substituteInPlace` for its --replace forms.
  mkRun =
    name: env: script:
    build name (env // { buildCommand = script; });

  build =
    name: attrs:
    let
      inputs = (attrs.nativeBuildInputs or [ ]) ++ (attrs.buildInputs or [ ]);
      clean = removeAttrs attrs [
        "nativeBuildInputs"
        "buildInputs"
        "meta"
        "passthru"
        "allowSubstitutes"
        "preferLocalBuild"
      ];
      drv = derivation (
        lib.mapAttrs (_: v: if builtins.isBool v then (if v then "1" else "") else v) clean
        // {
          inherit name system;
          builder = "/bin/bash";
          PATH = lib.concatStringsSep ":" (map (p: "${p}/bin") inputs ++ [ "/bin:/usr/bin" ]);
          # The last command a builtin: bash would otherwise exec a last
          # external command, and Nix 2.8 kills a builder that closes its
          # output before exiting, as coreutils do ("signal 9"; see
          # nix/lib/builder.nix).
          args = [
            "-ec"
            ''
              substituteInPlace() {
                local file="$1"; shift
                local text; text="$(cat "$file"; printf x)"; text="''${text%x}"
                while [ "$#" -gt 0 ]; do
                  case "$1" in
                    --replace|--replace-quiet|--replace-fail|--replace-warn)
                      text="''${text//"$2"/"$3"}"; shift 3 ;;
                    *) echo "substituteInPlace (stub): $1" >&2; return 1 ;;
                  esac
                done
                printf '%s' "$text" > "$file"
              }
              eval "$buildCommand"
              :
            ''
          ];
        }
      );
    in
    drv
    // {
      meta = attrs.meta or { };
      overrideAttrs = f: build name (attrs // (if builtins.isFunction f then f attrs else f));
    }
    // (attrs.passthru or { });

  writeTextFile =
    {
      name,
      text,
      executable ? false,
      destination ? "",
      checkPhase ? "",
      meta ? { },
      passthru ? { },
      derivationArgs ? { },
      ...
    }:
    mkRun name
      (
        derivationArgs
        // {
          inherit text meta passthru;
          passAsFile = [ "text" ];
          dest = destination;
          exec = executable;
        }
      )
      ''
        target="$out$dest"
        if [ -n "$dest" ]; then mkdir -p "$(dirname "$target")"; fi
        cp "$textPath" "$target"
        if [ -n "$exec" ]; then chmod +x "$target"; fi
        ${checkPhase}
      '';

  writeText = name: text: writeTextFile { inherit name text; };

  writeScript =
    name: text:
    writeTextFile {
      inherit name text;
      executable = true;
    };

  writeShellScript =
    name: text:
    writeTextFile {
      inherit name;
      executable = true;
      text = ''
        #!${runtimeShell}
        ${text}
      '';
    };

  runtimeShell = "/bin/bash";

  # This machine's coreutils, linked: hearth's builders call them by store
  # path ($coreutils/bin/cp).
  coreutils = mkRun "coreutils" { } ''
    mkdir -p "$out/bin"
    for t in basename cat chmod cp dirname echo env id ln ls mkdir mktemp mv readlink realpath rm rmdir sort tail touch tr; do
      ln -s "$(command -v $t)" "$out/bin/$t"
    done
  '';

  # lndir as xorg's: the directories of FROM made in TO, a link in TO to
  # each file of FROM; a symlink of FROM is copied as a link with the same
  # value, or with -ignorelinks linked to like a file.
  lndir = mkRun "lndir" { } ''
        mkdir -p "$out/bin"
        cat > "$out/bin/lndir" <<'EOF'
    #!/bin/bash
    set -e
    ignorelinks=
    while [ "$#" -gt 2 ]; do
      case "$1" in
        -silent) ;;
        -ignorelinks) ignorelinks=1 ;;
        *) echo "lndir (stub): unknown option $1" >&2; exit 1 ;;
      esac
      shift
    done
    from="$1"
    to="''${2:-.}"
    walk() {
      local src="$1" dst="$2" e name
      for e in "$src"/* "$src"/.[!.]* "$src"/..?*; do
        [ -e "$e" ] || [ -L "$e" ] || continue
        name="''${e##*/}"
        if [ -L "$e" ] && [ -z "$ignorelinks" ]; then
          ln -s "$(readlink "$e")" "$dst/$name"
        elif [ -d "$e" ] && [ ! -L "$e" ]; then
          mkdir -p "$dst/$name"
          walk "$e" "$dst/$name"
        else
          ln -s "$e" "$dst/$name"
        fi
      done
    }
    walk "$from" "$to"
    EOF
        chmod +x "$out/bin/lndir"
  '';

  # A package: bin/NAME (and the other programs of `bins`), scripts that
  # print their name and arguments.
  package =
    name:
    let
      bins = [ name ] ++ extraBins.${name} or [ ];
      files = extraFiles.${name} or { };
      drv = mkRun name { inherit bins; } (
        ''
          mkdir -p "$out/bin"
          for b in $bins; do
            printf '#!/bin/sh\necho %s "$@"\n' "$b" > "$out/bin/$b"
            chmod +x "$out/bin/$b"
          done
        ''
        + lib.concatStrings (
          lib.mapAttrsToList (f: text: ''
            mkdir -p "$(dirname "$out/${f}")"
            printf '%s' ${lib.escapeShellArg text} > "$out/${f}"
          '') files
        )
      );
    in
    drv
    // {
      pname = name;
      version = "1.0";
      meta = {
        mainProgram = name;
      };
      override = _: package name;
      overrideAttrs = _: package name;
      passthru = { };
    };

  # Files a module links from a package.
  extraFiles = {
    nix-direnv."share/nix-direnv/direnvrc" = "# nix-direnv (stub)\n";
  };

  # Programs a module runs from a package other than its main one.
  extraBins = {
    desktop-file-utils = [ "update-desktop-database" ];
    shared-mime-info = [ "update-mime-database" ];
    openssh = [ "ssh-keygen" ];
    dbus = [ "dbus-run-session" "dbus-daemon" ];
    gnupg = [ "gpg" "gpgconf" "gpg-agent" "gpg-connect-agent" ];
  };

  # formats.*: nixpkgs' value types, and generators writing the same
  # meaning (JSON for YAML, which YAML reads; a TOML writer for TOML).
  jsonValue =
    let
      valueType =
        lib.types.nullOr (
          lib.types.oneOf [
            lib.types.bool
            lib.types.int
            lib.types.float
            lib.types.str
            lib.types.path
            (lib.types.attrsOf valueType)
            (lib.types.listOf valueType)
          ]
        )
        // {
          description = "JSON value";
        };
    in
    valueType;

  toTOML =
    let
      key = k: if builtins.match "[A-Za-z0-9_-]+" k != null then k else builtins.toJSON k;
      scalar =
        v:
        if builtins.isList v then
          "[" + lib.concatMapStringsSep ", " scalar v + "]"
        else if builtins.isAttrs v then
          "{ " + lib.concatStringsSep ", " (lib.mapAttrsToList (k: x: "${key k} = ${scalar x}") v) + " }"
        else if builtins.isPath v then
          builtins.toJSON (toString v)
        else
          builtins.toJSON v;
      isTable = v: builtins.isAttrs v;
      isTableList = v: builtins.isList v && v != [ ] && lib.all builtins.isAttrs v;
      section =
        prefix: attrs:
        let
          plain = lib.filterAttrs (_: v: !isTable v && !isTableList v && v != null) attrs;
          tables = lib.filterAttrs (_: isTable) attrs;
          tableLists = lib.filterAttrs (_: isTableList) attrs;
          path = k: lib.concatStringsSep "." (map key (prefix ++ [ k ]));
        in
        lib.concatStrings (lib.mapAttrsToList (k: v: "${key k} = ${scalar v}\n") plain)
        + lib.concatStrings (lib.mapAttrsToList (k: v: "\n[${path k}]\n" + section (prefix ++ [ k ]) v) tables)
        + lib.concatStrings (
          lib.mapAttrsToList (
            k: vs: lib.concatMapStrings (v: "\n[[${path k}]]\n" + section (prefix ++ [ k ]) v) vs
          ) tableLists
        );
    in
    section [ ];

  formats = {
    json =
      _:
      {
        type = jsonValue;
        generate = name: value: writeText name (builtins.toJSON value);
      };
    yaml =
      _:
      {
        type = jsonValue;
        generate = name: value: writeText name (builtins.toJSON value);
      };
    yaml_1_2 = formats.yaml;
    toml =
      _:
      {
        type = jsonValue;
        generate = name: value: writeText name (toTOML value);
      };
    ini =
      {
        listsAsDuplicateKeys ? false,
        listToValue ? null,
        ...
      }@args:
      let
        atom = lib.types.nullOr (
          lib.types.oneOf [
            lib.types.bool
            lib.types.int
            lib.types.float
            lib.types.str
          ]
        );
        value = if listsAsDuplicateKeys || listToValue != null then lib.types.either atom (lib.types.listOf atom) else atom;
      in
      {
        type = lib.types.attrsOf (lib.types.attrsOf value);
        lib.types.atom = value;
        generate =
          name: v:
          writeText name (
            lib.generators.toINI (removeAttrs args [ "listToValue" ] // lib.optionalAttrs (listToValue != null) {
              mkKeyValue = lib.generators.mkKeyValueDefault { } "=";
            }) (
              if listToValue != null then
                lib.mapAttrs (_: lib.mapAttrs (_: x: if builtins.isList x then listToValue x else x)) v
              else
                v
            )
          );
      };
    keyValue =
      {
        listsAsDuplicateKeys ? false,
        ...
      }@args:
      {
        type = lib.types.attrsOf (
          lib.types.nullOr (
            lib.types.oneOf [
              lib.types.bool
              lib.types.int
              lib.types.float
              lib.types.str
              (lib.types.listOf lib.types.str)
            ]
          )
        );
        generate = name: v: writeText name (lib.generators.toKeyValue args v);
      };
  };

  packages = lib.genAttrs [
    "alacritty"
    "bash"
    "bash-completion"
    "bat"
    "crudini"
    "dconf"
    "diffutils"
    "direnv"
    "eza"
    "fd"
    "findutils"
    "fish"
    "fzf"
    "gettext"
    "git"
    "gitFull"
    "gnugrep"
    "gnupg"
    "gnused"
    "htop"
    "jq"
    "kitty"
    "less"
    "man"
    "ncurses"
    "neovim"
    "neovim-unwrapped"
    "nix"
    "nix-direnv"
    "nix-index"
    "openssh"
    "pinentry-curses"
    "ripgrep"
    "sd-switch"
    "shared-mime-info"
    "starship"
    "systemd"
    "tmux"
    "vim"
    "xdg-user-dirs"
    "zoxide"
    "zsh"
    "zsh-autosuggestions"
    "zsh-syntax-highlighting"
    "glibcLocales"
    "desktop-file-utils"
    "bashInteractive"
    "nix-zsh-completions"
    "dbus"
  ] package;
in
packages
// {
  inherit
    lib
    path
    system
    writeTextFile
    writeText
    writeScript
    writeShellScript
    runtimeShell
    coreutils
    formats
    lndir
    ;
  stdenv = {
    inherit system;
    hostPlatform = lib.systems.elaborate system;
    buildPlatform = lib.systems.elaborate system;
    isLinux = lib.hasSuffix "-linux" system;
    isDarwin = lib.hasSuffix "-darwin" system;
    shell = runtimeShell;
    shellDryRun = "/bin/bash -n -O extglob";
  };
  buildPackages = packages // {
    inherit lndir;
    xorg = { inherit lndir; };
  };
  xorg = { inherit lndir; };

  writeShellScriptBin =
    name: text:
    writeTextFile {
      inherit name;
      executable = true;
      destination = "/bin/${name}";
      text = ''
        #!${runtimeShell}
        ${text}
      '';
    };
  writeScriptBin =
    name: text:
    writeTextFile {
      inherit name text;
      executable = true;
      destination = "/bin/${name}";
    };
  writeTextDir =
    p: text:
    writeTextFile {
      name = baseNameOf p;
      inherit text;
      destination = "/${p}";
    };

  runCommand = mkRun;

  # Neovim's wrapper: bin/nvim (and vi, vim when asked), no Lua rc of its
  # own; the plugin helpers Home Manager's module calls, with no plugins.
  wrapNeovimUnstable =
    _neovim: args:
    let
      wrapped =
        mkRun "neovim"
          {
            bins = [ "nvim" ] ++ lib.optional (args.viAlias or false) "vi" ++ lib.optional (args.vimAlias or false) "vim";
          }
          ''
            mkdir -p "$out/bin"
            for b in $bins; do
              printf '#!/bin/sh\necho %s "$@"\n' "$b" > "$out/bin/$b"
              chmod +x "$out/bin/$b"
            done
          ''
        // {
          luaRcContent = "";
          overrideAttrs = _: wrapped;
        };
    in
    wrapped;
  neovimUtils = {
    makeVimPackageInfo = _plugins: {
      pluginPython3Packages = [ ];
      runtimeDeps = [ ];
      vimPackage = { };
    };
    packDir = _: mkRun "vim-pack-dir" { } ''mkdir -p "$out/pack/hm"'';
  };
  runCommandLocal = mkRun;
  runCommandNoCC = mkRun;

  emptyDirectory = mkRun "empty-directory" { } ''mkdir "$out"'';

  symlinkJoin =
    {
      name,
      paths,
      postBuild ? "",
      ...
    }:
    mkRun name
      {
        inherit paths;
        nativeBuildInputs = [ lndir ];
      }
      ''
        mkdir -p "$out"
        for p in $paths; do lndir -silent "$p" "$out"; done
        ${postBuild}
      '';

  # The packages environment of Home Manager's own `home.path` (hearth's
  # bridge builds its own with `hearth build-env`): the paths' trees merged
  # by links, the first one winning.
  buildEnv =
    {
      name,
      paths,
      postBuild ? "",
      ...
    }:
    mkRun name
      {
        inherit paths;
        nativeBuildInputs = [ lndir ];
      }
      ''
        mkdir -p "$out"
        for p in $paths; do [ -d "$p" ] && cp -rsn --no-preserve=mode "$p"/. "$out"/ 2>/dev/null || true; done
        ${postBuild}
      '';

  linkFarm =
    name: entries:
    let
      list = if builtins.isList entries then entries else lib.mapAttrsToList (name: path: { inherit name path; }) entries;
    in
    mkRun name { } (
      ''
        mkdir -p "$out"
      ''
      + lib.concatMapStrings (e: ''
        mkdir -p "$(dirname "$out/${e.name}")"
        ln -s ${lib.escapeShellArg "${e.path}"} "$out/${e.name}"
      '') list
    );

  replaceVars =
    src: vars:
    mkRun (baseNameOf src) { } (
      ''
        cp ${src} "$out"
        chmod u+w "$out"
      ''
      + lib.concatStrings (
        lib.mapAttrsToList (k: v: ''
          sed -i "s|@${k}@|${toString v}|g" "$out"
        '') (lib.filterAttrs (_: v: v != null) vars)
      )
    );

  makeDesktopItem =
    { name, ... }@args:
    writeTextFile {
      name = "${name}.desktop";
      destination = "/share/applications/${name}.desktop";
      text = lib.generators.toINI { } {
        "Desktop Entry" = lib.mapAttrs (_: toString) (
          lib.filterAttrs (n: v: builtins.elem n [ "type" "exec" "icon" "comment" "terminal" ] && v != null) args
        );
      };
    };
}
