# Web servers: the seed's Apache (webserver.sh), values from hosts.yaml.
# The package's postinst starts Apache with Debian's default site; the states below change the
# configuration and reload it (a graceful restart: connections in flight finish).
# Every configuration file is checked with the whole configuration before it goes live
# (hafab-apache-configtest: apachectl cannot test a single file).
apache2-pkg:
  pkg.installed:
    - pkgs:
      - apache2

/usr/local/sbin/hafab-apache-configtest:
  file.managed:
    - source: salt://apache/configtest.sh
    - user: root
    - group: root
    - mode: '0755'

apache2-mod-remoteip:
  cmd.run:
    - name: a2enmod -q remoteip
    - creates: /etc/apache2/mods-enabled/remoteip.load
    - require:
      - pkg: apache2-pkg

# The client's real address (%a): from X-Forwarded-For only when a load balancer connects
# (mode http), or from the PROXY protocol header (mode tcp).
/etc/apache2/conf-available/remoteip.conf:
  file.managed:
    - source: salt://apache/remoteip.conf
    - template: jinja
    - user: root
    - group: root
    - mode: '0644'
    - check_cmd: /usr/local/sbin/hafab-apache-configtest /etc/apache2/conf-available/remoteip.conf
    - require:
      - cmd: apache2-mod-remoteip
      - file: /usr/local/sbin/hafab-apache-configtest

apache2-conf-remoteip:
  cmd.run:
    - name: a2enconf -q remoteip
    - creates: /etc/apache2/conf-enabled/remoteip.conf
    - require:
      - file: /etc/apache2/conf-available/remoteip.conf

# As the seed: silences "Could not reliably determine the server's fully qualified domain name".
apache2-servername:
  file.append:
    - name: /etc/apache2/apache2.conf
    - text: ServerName localhost
    - require:
      - pkg: apache2-pkg

# The seed's vhost (the seed wrote it through the sites-enabled symlink; this is the file behind it).
/etc/apache2/sites-available/000-default.conf:
  file.managed:
    - source: salt://apache/000-default.conf
    - template: jinja
    - user: root
    - group: root
    - mode: '0644'
    - check_cmd: /usr/local/sbin/hafab-apache-configtest /etc/apache2/sites-available/000-default.conf
    - require:
      - cmd: apache2-conf-remoteip
      - file: /usr/local/sbin/hafab-apache-configtest

apache2-site-default:
  cmd.run:
    - name: a2ensite -q 000-default
    - creates: /etc/apache2/sites-enabled/000-default.conf
    - require:
      - file: /etc/apache2/sites-available/000-default.conf

/var/www/html/index.html:
  file.managed:
    - source: salt://apache/index.html
    - template: jinja
    - user: root
    - group: root
    - mode: '0644'
    - require:
      - pkg: apache2-pkg

apache2-service:
  service.running:
    - name: apache2
    - enable: True
    - reload: True
    - require:
      - pkg: apache2-pkg
    - watch:
      - cmd: apache2-mod-remoteip
      - file: /etc/apache2/conf-available/remoteip.conf
      - cmd: apache2-conf-remoteip
      - file: apache2-servername
      - file: /etc/apache2/sites-available/000-default.conf
      - cmd: apache2-site-default
