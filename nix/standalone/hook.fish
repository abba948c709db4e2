# hearth: what hearth.sh (beside this file) sets, for fish: it runs in
# /bin/sh and fish takes over every variable it sets or changes (env -0:
# any value survives; PATH-like variables are split at colons).
if not set -q __HEARTH_PROFILE_SOURCED
    set -l __hearth_sh (string replace -r '[^/]*$' hearth.sh -- (status filename))
    for __hearth_kv in (/bin/sh -c '. "$1" >/dev/null && exec /usr/bin/env -0' sh $__hearth_sh | string split0)
        set -l __hearth_pair (string split -m 1 = -- $__hearth_kv)
        set -l __hearth_name $__hearth_pair[1]
        if contains -- $__hearth_name _ PWD OLDPWD SHLVL
            or not string match -qr '^[A-Za-z_][A-Za-z0-9_]*$' -- $__hearth_name
            continue
        end
        if string match -qr 'PATH$|^XDG_.*_DIRS$' -- $__hearth_name
            set -gx $__hearth_name (string split : -- $__hearth_pair[2])
        else if not set -q $__hearth_name; or test "$$__hearth_name" != "$__hearth_pair[2]"
            set -gx $__hearth_name $__hearth_pair[2]
        end
    end
end
