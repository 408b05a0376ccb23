# Load balancers: HAProxy with the seed's frontend/backend, values from hosts.yaml.
# The package's postinst starts haproxy with Debian's default configuration; the configuration
# below replaces it and haproxy is reloaded (never restarted: a restart on the VIP holder would
# drop connections and, through keepalived's BindsTo, hand the VIP over).
haproxy-pkg:
  pkg.installed:
    - pkgs:
      - haproxy
      - socat

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

haproxy-service:
  service.running:
    - name: haproxy
    - enable: True
    - reload: True
    - require:
      - pkg: haproxy-pkg
    - watch:
      - file: /etc/haproxy/haproxy.cfg
