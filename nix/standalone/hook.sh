# hearth: the packages profile of this home on the search paths, and the
# home's session variables, as Nix's own profile script does for
# ~/.nix-profile. Sourced by the line `hearth init` adds to the login
# shell's profile; once per session (children inherit what it exports).
if [ -z "${__HEARTH_PROFILE_SOURCED-}" ]; then
  export __HEARTH_PROFILE_SOURCED=1
  # Where `hearth switch` installs the profile (XDG_STATE_HOME as hearth reads it).
  __hearth_profile="${XDG_STATE_HOME:-$HOME/.local/state}/nix/profiles/hearth-packages"
  export PATH="$__hearth_profile/bin${PATH:+:$PATH}"
  # The empty entry at the end keeps man's own search path.
  export MANPATH="$__hearth_profile/share/man:${MANPATH-}"
  export INFOPATH="$__hearth_profile/share/info${INFOPATH:+:$INFOPATH}"
  export XDG_DATA_DIRS="$__hearth_profile/share:${XDG_DATA_DIRS:-/usr/local/share:/usr/share}"
  export XDG_CONFIG_DIRS="$__hearth_profile/etc/xdg:${XDG_CONFIG_DIRS:-/etc/xdg}"
  if [ -r "$__hearth_profile/etc/profile.d/hm-session-vars.sh" ]; then
    . "$__hearth_profile/etc/profile.d/hm-session-vars.sh"
  fi
  unset __hearth_profile
fi
