# What every builder script of hearth's derivations ends with.
#
# The shell runs the last command of `sh -c SCRIPT` in its own place (bash
# and dash exec it instead of forking), so that program becomes the
# builder. GNU coreutils (`chmod`, `cp`, `ln`, `mkdir`, ...) close stdout
# and stderr explicitly before they exit; Nix 2.8 takes the end of the
# builder's log pipe as the end of the builder and SIGKILLs it, and when
# that lands between the close and the exit, a build that succeeded fails
# with "signal 9 (Killed)" (half of `nix-build --check` runs of such a
# derivation here). Ending the script with a builtin keeps the shell as the
# builder: the pipe then closes only when it exits. With `set -e`, so that
# a failing command before it still fails the build.
{
  lastBuiltin = "\n:\n";
}
