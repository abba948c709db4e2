# Two files with one target: Home Manager's assertion, reported for the user.
{ ... }:
{
  home.stateVersion = "25.05";
  home.file.first = {
    target = ".config/app/rc";
    text = "one\n";
  };
  home.file.second = {
    target = ".config/app/rc";
    text = "two\n";
  };
}
