# With system.nixos-init.enable (no activation scripts at all, where the
# NixOS under test has the option): the homes are applied at boot, and a
# switch that changes nothing still repairs drift, through hearth.target.
{ hearthModule }:
{ lib, ... }:
{
  name = "hearth-nixos-init";

  nodes.machine =
    { options, lib, ... }:
    {
      imports = [ hearthModule ];
      config = lib.mkMerge [
        {
          users.users.alice.isNormalUser = true;
          hearth.users.alice.home.file.".vimrc".text = "set number\n";
        }
        (lib.optionalAttrs (options ? system.nixos-init) {
          system.nixos-init.enable = true;
          boot.initrd.systemd.enable = true;
          system.etc.overlay.enable = true;
          services.userborn.enable = true;
        })
      ];
    };

  testScript =
    { nodes, ... }:
    let
      top = nodes.machine.system.build.toplevel;
    in
    ''
      machine.wait_for_unit("hearth-alice.service")
      machine.succeed("test \"$(cat /home/alice/.vimrc)\" = 'set number'")
      machine.succeed("rm /home/alice/.vimrc")
      machine.succeed("${top}/bin/switch-to-configuration test")
      machine.succeed("test \"$(cat /home/alice/.vimrc)\" = 'set number'")
    '';
}
