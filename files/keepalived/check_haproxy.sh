#!/bin/sh
{%- if pillar['timings'] == 'tuned' %}
# Managed by hafab. Keepalived's vrrp_script: exit 0 while this host's haproxy answers on its local
# monitor URI (frontend "health" in haproxy.cfg). A stopped, crashed or hung haproxy fails it.
exec curl --silent --fail --noproxy '*' --output /dev/null --max-time 0.8 \
    http://127.0.0.1:{{ pillar.get('haproxy_health_port', 8405) }}/healthz
{%- else %}
# Managed by hafab. timings: seed -- the tutorial's check: is a process named haproxy alive?
# (It cannot see a hung haproxy; timings: tuned asks haproxy itself.)
exec killall -0 haproxy
{%- endif %}
