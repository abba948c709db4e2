# Activation at boot, with /home on its own file system: the unit waits for
# the mount (RequiresMountsFor) and applies the home before user sessions.
{ hearthModule }:
{ lib, ... }:
{
  name = "hearth-boot";

  nodes.machine =
    { config, ... }:
    {
      imports = [ hearthModule ];

      virtualisation.emptyDiskImages = [ 256 ];
      virtualisation.fileSystems."/home" = {
        device = "/dev/vdb";
        fsType = "ext4";
        autoFormat = true;
      };

      users.users.alice.isNormalUser = true;
      # The home on the fresh file system (activation may create it before
      # /home is mounted, under the mount point).
      systemd.tmpfiles.rules = [ "d /home/alice 0700 alice users -" ];

      hearth.users.alice.home.file.".vimrc".text = "set number\n";
    };

  testScript = ''
    machine.wait_for_unit("hearth-alice.service")
    machine.succeed("findmnt /home")
    machine.succeed("test \"$(cat /home/alice/.vimrc)\" = 'set number'")
    deps = machine.succeed("systemctl show -p RequiresMountsFor -p After -p Before hearth-alice.service")
    assert "/home/alice" in deps, deps
    assert "home.mount" in deps, deps
    assert "systemd-user-sessions.service" in deps, deps

    with subtest("after a reboot the home is applied again, on the mounted /home"):
        machine.shutdown()
        machine.start()
        machine.wait_for_unit("hearth-alice.service")
        machine.succeed("test \"$(cat /home/alice/.vimrc)\" = 'set number'")
        machine.succeed("test \"$(stat -c %m /home/alice/.vimrc)\" = /home")
  '';
}
