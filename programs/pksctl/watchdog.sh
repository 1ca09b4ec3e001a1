#!/bin/sh
# The watchdog of one pksctl run (see watchdog.ts, which starts it). pksctl holds the write end of the pipe on
# this script's stdin and sends one line per event: `home DIR` (its private home), `track PGID` and
# `untrack PGID` (the process group of each CLI call it starts and reaps). When the pipe closes, pksctl is gone:
# stop the groups still tracked (SIGTERM, then SIGKILL after 2 s), remove the home, exit. After a normal end
# nothing is tracked and the home is already gone. POSIX sh and its builtins only, so that it starts at once.

# A terminal's Ctrl-C and hang-up are for pksctl, which stops its CLI calls itself.
trap '' INT HUP

home=""
groups=""

untrack() {
    kept=""
    for g in $groups; do
        [ "$g" = "$1" ] || kept="$kept $g"
    done
    groups=$kept
}

alive() {
    for g in $groups; do
        kill -s 0 -- "-$g" 2>/dev/null && return 0
    done
    return 1
}

while IFS= read -r line; do
    value=${line#* }
    case "$line" in
        "home "*) home=$value ;;
        "track "*) case "$value" in *[!0-9]* | "" | 0 | 1) ;; *) groups="$groups $value" ;; esac ;;
        "untrack "*) untrack "$value" ;;
    esac
done

if [ -n "$groups" ]; then
    for g in $groups; do kill -s TERM -- "-$g" 2>/dev/null; done
    tries=0
    while [ "$tries" -lt 20 ] && alive; do
        sleep 0.1
        tries=$((tries + 1))
    done
    for g in $groups; do kill -s KILL -- "-$g" 2>/dev/null; done
fi
case "$home" in
    */pksctl-home-*) rm -rf -- "$home" ;;
esac
