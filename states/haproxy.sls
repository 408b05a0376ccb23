# Load balancers: HAProxy with the seed's frontend/backend, values from hosts.yaml.
# The package's postinst starts haproxy with Debian's default configuration; the configuration
# below replaces it and haproxy is reloaded (never restarted: a restart on the VIP holder would
# drop connections and, through keepalived's BindsTo, hand the VIP over).
haproxy-pkg:
  pkg.installed:
    - pkgs:
      - haproxy
      - socat

{%- if pillar.get('tls', 'none') != 'none' %}
# cluster.tls: the certificate then its private key, as HAProxy's `crt` file: root only, never shown in
# a diff. A new certificate (rotation) reloads haproxy: connections in flight finish.
{{ pillar['tls_pem_path'] }}:
  file.managed:
    - source: salt://haproxy/cluster.pem
    - template: jinja
    - user: root
    - group: root
    - mode: '0600'
    - makedirs: True
    - dir_mode: '0700'
    - show_changes: False
    - require:
      - pkg: haproxy-pkg
{%- else %}
# cluster.tls: none: no certificate or key is left on the LB from when TLS was on, removed once haproxy
# has reloaded without it
{{ pillar['tls_pem_path'] }}:
  file.absent:
    - require:
      - service: haproxy-service
{%- endif %}

# Validated with `haproxy -c -f <new file>` before it replaces the live one; holds the stats
# password, so only root and the haproxy group can read it.
/etc/haproxy/haproxy.cfg:
  file.managed:
    - source: salt://haproxy/haproxy.cfg
    - template: jinja
    - user: root
    - group: haproxy
    - mode: '0640'
    - check_cmd: haproxy -c -f
    - require:
      - pkg: haproxy-pkg
{%- if pillar.get('tls', 'none') != 'none' %}
      - file: {{ pillar['tls_pem_path'] }}
{%- endif %}

haproxy-service:
  service.running:
    - name: haproxy
    - enable: True
    - reload: True
    - require:
      - pkg: haproxy-pkg
    - watch:
      - file: /etc/haproxy/haproxy.cfg
{%- if pillar.get('tls', 'none') != 'none' %}
      - file: {{ pillar['tls_pem_path'] }}
{%- endif %}
