# Load balancers: Keepalived moves the VIP to the LB whose haproxy is healthy.
# Failover is tuned per ../shared/notes/ha-tuning.md (timings: tuned) or the seed's (timings: seed):
# - VRRPv3 with advert_int 0.1: a lost master is replaced in ~0.3 s;
# - keepalived.service BindsTo haproxy.service: haproxy stopping or dying stops keepalived at once,
#   whose priority-0 advert hands the VIP over in tens of milliseconds;
# - a curl check of haproxy's local monitor URI catches a hung haproxy (FAULT within ~1 s);
# - preempt: false -> both LBs start BACKUP with nopreempt, a returning LB leaves the VIP alone.
keepalived-pkg:
  pkg.installed:
    - pkgs:
      - keepalived

# As the seed: haproxy may bind the VIP while this LB does not hold it.
net.ipv4.ip_nonlocal_bind:
  sysctl.present:
    - value: 1
    - config: /etc/sysctl.d/60-hafab.conf

/etc/keepalived/check_haproxy.sh:
  file.managed:
    - source: salt://keepalived/check_haproxy.sh
    - template: jinja
    - user: root
    - group: root
    - mode: '0755'
    - require:
      - pkg: keepalived-pkg
      - pkg: hafab-tools

/etc/keepalived/notify.sh:
  file.managed:
    - source: salt://keepalived/notify.sh
    - user: root
    - group: root
    - mode: '0755'
    - require:
      - pkg: keepalived-pkg

# timings: tuned binds keepalived to haproxy in systemd (haproxy stops or dies -> keepalived stops at
# once and hands the VIP over); timings: seed leaves detection to the check script, as the tutorial did.
{%- if pillar['timings'] == 'tuned' %}
/etc/systemd/system/keepalived.service.d/hafab-bind-haproxy.conf:
  file.managed:
    - source: salt://systemd/keepalived-bind-haproxy.conf
    - user: root
    - group: root
    - mode: '0644'
    - makedirs: True

/etc/systemd/system/haproxy.service.d/hafab-wants-keepalived.conf:
  file.managed:
    - source: salt://systemd/haproxy-wants-keepalived.conf
    - user: root
    - group: root
    - mode: '0644'
    - makedirs: True
{%- else %}
/etc/systemd/system/keepalived.service.d/hafab-bind-haproxy.conf:
  file.absent: []

/etc/systemd/system/haproxy.service.d/hafab-wants-keepalived.conf:
  file.absent: []
{%- endif %}

systemd-daemon-reload:
  cmd.run:
    - name: systemctl daemon-reload
    - onchanges:
      - file: /etc/systemd/system/keepalived.service.d/hafab-bind-haproxy.conf
      - file: /etc/systemd/system/haproxy.service.d/hafab-wants-keepalived.conf

# Validated with `keepalived -t -f <new file>` (which also checks that the interface and the
# scripts exist) before it replaces the live one.
/etc/keepalived/keepalived.conf:
  file.managed:
    - source: salt://keepalived/keepalived.conf
    - template: jinja
    - user: root
    - group: root
    - mode: '0644'
    - check_cmd: keepalived -t -f
    - require:
      - file: /etc/keepalived/check_haproxy.sh
      - file: /etc/keepalived/notify.sh

# The package installs keepalived enabled but not running (no configuration yet): the first run
# starts it here. A configuration change reloads it (SIGHUP), which keeps the VRRP state.
keepalived-service:
  service.running:
    - name: keepalived
    - enable: True
    - reload: True
    - require:
      - service: haproxy-service
      - cmd: systemd-daemon-reload
      - sysctl: net.ipv4.ip_nonlocal_bind
    - watch:
      - file: /etc/keepalived/keepalived.conf
