# `lib.hm.booleans`: booleans as the words configuration formats use.
{
  # true -> "yes", false -> "no".
  yesNo = b: if b then "yes" else "no";
}
