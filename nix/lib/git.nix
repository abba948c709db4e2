# `lib.hm.git`: pieces of git configuration.
{ lib }:
{
  # The `[pager]` settings that send diff, log and show through `pagerCommand`.
  diffPagerConfig = pagerCommand: {
    pager = lib.genAttrs [
      "diff"
      "log"
      "show"
    ] (_: pagerCommand);
  };
}
