#!/bin/sh
# Managed by hafab. Keepalived's notify script, called on every VRRP transition with
#   $1 GROUP|INSTANCE  $2 name  $3 MASTER|BACKUP|FAULT|STOP|DELETED  $4 priority
# /run/keepalived/state holds the current state as one line: "STATE EPOCH_SECONDS NAME PRIORITY";
# /run/keepalived/transitions keeps one such line per transition since boot.
# (HAFAB_STATE_DIR overrides the directory, for tests; keepalived does not set it.)
dir=${HAFAB_STATE_DIR:-/run/keepalived}
now=$(date +%s.%N)
line="$3 $now $2 ${4:-}"
mkdir -p "$dir"
# DELETED is the instance a reload replaced (notify_deleted), not this host's state: logged, never current
if [ "$3" != DELETED ]; then
    printf '%s\n' "$line" > "$dir/state.tmp" && mv -f "$dir/state.tmp" "$dir/state"
fi
printf '%s\n' "$line" >> "$dir/transitions"
logger -t keepalived-notify "$2 entered $3 state (priority ${4:-?})" || true
exit 0
