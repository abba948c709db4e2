# A step that hangs: alice's unit is stopped at hearth.activationTimeout and
# fails; bob's home is applied all the same, and user sessions are not held
# back for longer than the timeout.
{ hearthModule }:
{ lib, ... }:
{
  name = "hearth-timeout";

  nodes.machine = {
    imports = [ hearthModule ];
    users.users.alice.isNormalUser = true;
    users.users.bob.isNormalUser = true;
    hearth.activationTimeout = 5;
    hearth.users.alice = { lib, ... }: {
      home.file.".vimrc".text = "set number\n";
      home.activation.hang = lib.hm.dag.entryAfter [ "files" ] "sleep 600";
    };
    hearth.users.bob.home.file.".bobrc".text = "bob\n";
  };

  testScript = ''
    machine.wait_for_unit("hearth-bob.service")
    machine.succeed("test \"$(cat /home/bob/.bobrc)\" = bob")
    machine.wait_until_succeeds("systemctl is-failed hearth-alice.service", timeout=60)
    result = machine.succeed("systemctl show -p Result --value hearth-alice.service")
    assert result.strip() == "timeout", result
    machine.succeed("test \"$(systemctl show -p TimeoutStartUSec --value hearth-alice.service)\" = 5s")
    machine.fail("pgrep -u alice sleep")
    machine.wait_for_unit("systemd-user-sessions.service")
  '';
}
