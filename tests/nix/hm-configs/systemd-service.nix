# A user service and timer of one's own, with an onChange-free unit set.
{ pkgs, ... }:
{
  home.stateVersion = "25.05";
  systemd.user.services.backup = {
    Unit.Description = "Back up the notes";
    Service = {
      Type = "oneshot";
      ExecStart = "${pkgs.coreutils}/bin/cp -r %h/notes %h/notes.bak";
    };
  };
  systemd.user.timers.backup = {
    Unit.Description = "Back up the notes every hour";
    Timer.OnCalendar = "hourly";
    Install.WantedBy = [ "timers.target" ];
  };
}
