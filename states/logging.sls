# Load balancers: HAProxy's logs reach /var/log/haproxy.log through rsyslog.
# haproxy.cfg logs to 127.0.0.1:514 over UDP, as the seed's `log 127.0.0.1` meant to (the seed never
# enabled rsyslog's UDP input, so its HAProxy logs went nowhere). imudp listens on loopback only.
# Keepalived's transitions go to the journal and, through rsyslog, to /var/log/syslog.
rsyslog-pkg:
  pkg.installed:
    - pkgs:
      - rsyslog

# Same path as the haproxy package's own file, written after the package is installed so that
# dpkg never finds a foreign file there.
/etc/rsyslog.d/49-haproxy.conf:
  file.managed:
    - source: salt://logging/haproxy-rsyslog.conf
    - user: root
    - group: root
    - mode: '0644'
    - check_cmd: rsyslogd -N1 -f
    - require:
      - pkg: rsyslog-pkg
      - pkg: haproxy-pkg

# rsyslog cannot reload its configuration: a change restarts it (a second, nothing is lost that matters).
rsyslog-service:
  service.running:
    - name: rsyslog
    - enable: True
    - require:
      - pkg: rsyslog-pkg
    - watch:
      - file: /etc/rsyslog.d/49-haproxy.conf
