# Two users. A switch to a new configuration removes orphans, runs onChange
# and updates the packages; switching back to the previous system generation
# rolls the homes back; a switch repairs drift even when nothing changed
# (hearth.target, no activation script); `hearth plan --system` prints the
# plans as root; session variables reach bash, zsh and fish.
{ hearthModule }:
{ lib, ... }:
{
  name = "hearth-switch";

  nodes.machine =
    { pkgs, ... }:
    {
      imports = [ hearthModule ];

      programs.zsh.enable = true;
      programs.fish.enable = true;
      users.users.alice.isNormalUser = true;
      users.users.bob.isNormalUser = true;

      hearth.users.alice = {
        home.file.".vimrc".text = "set number\n";
        home.file.".orphan".text = "only in the first generation\n";
        xdg.configFile."app/rc" = {
          text = "version=1\n";
          onChange = "echo run >> $HOME/onchange.log";
        };
        home.packages = [ pkgs.hello ];
        home.sessionVariables.HEARTH_TEST = "first";
      };
      hearth.users.bob.home.file.".bobrc".text = "bob\n";

      specialisation.second.configuration = {
        hearth.users.alice = {
          home.file.".vimrc".text = lib.mkForce "set number relativenumber\n";
          home.file.".orphan".enable = false;
          xdg.configFile."app/rc".text = lib.mkForce "version=2\n";
          home.packages = lib.mkForce [ pkgs.cowsay ];
          home.sessionVariables.HEARTH_TEST = lib.mkForce "second";
        };
      };
    };

  testScript =
    { nodes, ... }:
    let
      first = nodes.machine.system.build.toplevel;
      hearth = "${nodes.machine.hearth.package}/bin/hearth";
    in
    ''
      def switch(to):
          return machine.succeed(f"{to}/bin/switch-to-configuration test 2>&1")

      second = "${first}/specialisation/second"

      machine.wait_for_unit("multi-user.target")
      machine.succeed("systemctl is-active hearth.target hearth-alice.service hearth-bob.service")
      # hearth defines no activation script (deprecated, no warning).
      machine.fail("grep -q hearth /run/current-system/activate")
      machine.succeed("test \"$(systemctl show -p User --value hearth-alice.service)\" = alice")
      machine.succeed("systemctl show -p PartOf hearth-alice.service | grep -q hearth.target")
      machine.succeed("test -e /etc/hearth/homes.json")

      with subtest("first generation"):
          machine.succeed("test \"$(cat /home/alice/.vimrc)\" = 'set number'")
          machine.succeed("test -L /home/alice/.vimrc")
          machine.succeed("test \"$(stat -c %U /home/alice/.vimrc)\" = alice")
          machine.succeed("test -e /home/alice/.orphan")
          machine.succeed("test \"$(cat /home/alice/.config/app/rc)\" = version=1")
          machine.succeed("test \"$(cat /home/bob/.bobrc)\" = bob")
          machine.succeed("test -x /etc/profiles/per-user/alice/bin/hello")
          machine.fail("test -e /home/bob/.vimrc")

      with subtest("session variables in login shells"):
          for shell in ["bash", "zsh", "fish"]:
              out = machine.succeed(
                  f"su -l alice -s /run/current-system/sw/bin/{shell} -c 'echo $HEARTH_TEST'"
              )
              assert out.strip() == "first", f"{shell}: {out!r}"

      with subtest("switch: orphans removed, onChange run, packages updated"):
          machine.succeed("rm -f /home/alice/onchange.log")
          switch(second)
          machine.succeed("test \"$(cat /home/alice/.vimrc)\" = 'set number relativenumber'")
          machine.fail("test -e /home/alice/.orphan")
          machine.succeed("test \"$(cat /home/alice/.config/app/rc)\" = version=2")
          machine.succeed("grep -q run /home/alice/onchange.log")
          machine.succeed("test -x /etc/profiles/per-user/alice/bin/cowsay")
          machine.fail("test -e /etc/profiles/per-user/alice/bin/hello")
          # bob's generation did not change; his home is as it was.
          machine.succeed("test \"$(cat /home/bob/.bobrc)\" = bob")

      with subtest("drift is repaired by a switch that changes nothing"):
          machine.succeed("rm /home/bob/.bobrc")
          switch(second)
          machine.succeed("test \"$(cat /home/bob/.bobrc)\" = bob")

      with subtest("hearth plan --system: each user's plan, as root"):
          out = machine.succeed(f"${hearth} plan --system ${first} 2>&1")
          assert "alice" in out, out
          assert "bob" in out, out
          out = machine.succeed("${hearth} plan --system /run/current-system 2>&1")
          assert "alice" in out, out
          machine.fail("test -e /home/alice/.orphan")

      with subtest("rollback: the previous system generation restores the homes"):
          switch("${first}")
          machine.succeed("test \"$(cat /home/alice/.vimrc)\" = 'set number'")
          machine.succeed("test -e /home/alice/.orphan")
          machine.succeed("test \"$(cat /home/alice/.config/app/rc)\" = version=1")
          machine.succeed("test -x /etc/profiles/per-user/alice/bin/hello")
    '';
}
