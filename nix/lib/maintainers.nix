# `lib.hm.maintainers`: Home Manager's list of module maintainers who are
# not in nixpkgs' `lib.maintainers`. hearth has no program modules and so no
# maintainers to list: the set is empty. A module that names one of them
# (`meta.maintainers = [ lib.hm.maintainers.someone ];`) names them through
# `lib.maintainers` instead, or drops the line.
{ }
