#!/bin/sh
# Managed by hafab. Check Apache's whole configuration as it would be with one file replaced,
# without touching the live configuration (apachectl configtest cannot take a file).
#
#   hafab-apache-configtest LIVE_PATH [CANDIDATE]
#
# LIVE_PATH is a file under $APACHE_CONFDIR (default /etc/apache2) that a state is about to write;
# CANDIDATE holds its new content (file.managed's check_cmd appends its temporary file). The tree is
# copied to a temporary directory, CANDIDATE put in place of LIVE_PATH (and enabled there when it
# lives in conf-available/ or sites-available/), and `apache2 -t` run on the copy.
set -e
confdir=${APACHE_CONFDIR:-/etc/apache2}
live=${1:?usage: hafab-apache-configtest LIVE_PATH [CANDIDATE]}
candidate=${2:-}
case $live in
    "$confdir"/*) rel=${live#"$confdir"/} ;;
    *) echo "hafab-apache-configtest: $live is not under $confdir" >&2; exit 2 ;;
esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hafab-apache.XXXXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP
cp -a "$confdir/." "$tmp/"
if [ -n "$candidate" ]; then
    rm -f "$tmp/$rel"
    mkdir -p "$(dirname "$tmp/$rel")"
    cp "$candidate" "$tmp/$rel"
fi
case $rel in
    conf-available/*.conf|sites-available/*.conf)
        enabled="$tmp/${rel%%-available/*}-enabled/${rel#*-available/}"
        [ -e "$enabled" ] || ln -s "../$rel" "$enabled" ;;
esac
# apache2.conf uses ${APACHE_RUN_USER}, ${APACHE_LOG_DIR}...: set them as apachectl does, but with
# a private runtime directory (DefaultRuntimeDir must exist, also while Apache is not running)
APACHE_CONFDIR=$confdir
export APACHE_CONFDIR
. "$confdir/envvars"
APACHE_RUN_DIR=$tmp/.run
APACHE_LOCK_DIR=$tmp/.lock
APACHE_PID_FILE=$tmp/.run/apache2.pid
export APACHE_RUN_DIR APACHE_LOCK_DIR APACHE_PID_FILE
mkdir -p "$APACHE_RUN_DIR" "$APACHE_LOCK_DIR"
apache2 -t -d "$tmp" -f "$tmp/apache2.conf"
