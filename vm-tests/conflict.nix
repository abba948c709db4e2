# A file in the way: the switch fails, its output lists the conflict, and
# nothing in the home changes. With a backup extension the same switch
# succeeds and the file is moved aside, never deleted.
{ hearthModule }:
{ lib, ... }:
{
  name = "hearth-conflict";

  nodes.machine = {
    imports = [ hearthModule ];
    users.users.alice.isNormalUser = true;

    specialisation.managed.configuration.hearth.users.alice = {
      home.file.".vimrc".text = "from hearth\n";
      home.file.".profile-extra".text = "extra\n";
    };
    specialisation.backup.configuration.hearth = {
      backupFileExtension = "bak";
      users.alice = {
        home.file.".vimrc".text = "from hearth\n";
        home.file.".profile-extra".text = "extra\n";
      };
    };
  };

  testScript =
    { nodes, ... }:
    let
      top = nodes.machine.system.build.toplevel;
    in
    ''
      machine.wait_for_unit("multi-user.target")
      machine.succeed("su alice -c 'echo mine > /home/alice/.vimrc'")
      # What is in the home, but hearth's own state directory (.local/state).
      listing = "cd /home/alice && find . -mindepth 1 -path ./.local -prune -o -printf '%p %y %s %T@\\n' | sort"
      before = machine.succeed(listing)

      with subtest("a file in the way: the switch fails, nothing changed"):
          code, out = machine.execute(
              "${top}/specialisation/managed/bin/switch-to-configuration test 2>&1"
          )
          print(out)
          assert code != 0, "the switch should fail"
          assert "hearth-alice.service" in out, out
          assert ".vimrc" in out, out
          machine.succeed("test \"$(cat /home/alice/.vimrc)\" = mine")
          machine.fail("test -e /home/alice/.profile-extra")
          assert machine.succeed(listing) == before

      with subtest("with a backup extension: moved aside, then applied"):
          machine.succeed("${top}/specialisation/backup/bin/switch-to-configuration test")
          machine.succeed("test \"$(cat /home/alice/.vimrc.bak)\" = mine")
          machine.succeed("test \"$(cat /home/alice/.vimrc)\" = 'from hearth'")
          machine.succeed("test -e /home/alice/.profile-extra")
    '';
}
