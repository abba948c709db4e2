# `lib.hm.darwin`: the named intervals a launchd agent can run at, for
# modules that take a systemd-style frequency ("daily", ...) on both Linux
# and macOS.
{ lib }:
let
  # At midnight, with `extra` fields: launchd's StartCalendarInterval.
  midnight =
    extra:
    {
      Hour = 0;
      Minute = 0;
    }
    // extra;

  calendar = {
    hourly = [ { Minute = 0; } ];
    daily = [ (midnight { }) ];
    weekly = [ (midnight { Weekday = 1; }) ];
    monthly = [ (midnight { Day = 1; }) ];
    semiannually = [
      (midnight {
        Month = 1;
        Day = 1;
      })
      (midnight {
        Month = 7;
        Day = 1;
      })
    ];
    annually = [
      (midnight {
        Month = 1;
        Day = 1;
      })
    ];
  };

  # In the order systemd.time(7) lists them, for messages and documentation.
  names = [
    "hourly"
    "daily"
    "weekly"
    "monthly"
    "semiannually"
    "annually"
  ];
  namesText = lib.concatStringsSep ", " names;
in
{
  # The StartCalendarInterval list for a named interval, or null for any
  # other frequency (launchd cannot express it).
  mkCalendarInterval = frequency: calendar.${frequency} or null;

  # An assertion that `interval`, the value of `option`, is one launchd can
  # express, when `pkgs` is for macOS; on other systems it always holds.
  assertInterval = option: interval: pkgs: {
    assertion = pkgs.stdenv.hostPlatform.isDarwin -> builtins.elem interval names;
    message = "${option} is ${builtins.toJSON interval}; on macOS it must be one of ${namesText}.";
  };

  # A sentence for an option's description.
  intervalDocumentation = ''
    On macOS, only ${namesText} can be used (each as {manpage}`systemd.time(7)` defines it).
  '';
}
