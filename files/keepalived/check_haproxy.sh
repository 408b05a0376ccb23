#!/bin/sh
# Managed by hafab. Keepalived's vrrp_script: exit 0 while this host's haproxy answers on its local
# monitor URI (frontend "health" in haproxy.cfg). A stopped, crashed or hung haproxy fails it.
exec curl --silent --fail --noproxy '*' --output /dev/null --max-time {{ '0.8' if pillar['timings'] == 'tuned' else '1.5' }} \
    http://127.0.0.1:{{ pillar.get('haproxy_health_port', 8405) }}/healthz
