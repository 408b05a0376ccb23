# Web servers: with cluster.block_direct (default true) HTTP is accepted only from the load
# balancers; everyone else gets a TCP reset. SSH is always open. block_direct: false keeps hafab's
# table but without the HTTP rules (the seed's open behaviour).
# Only hafab's own nftables table is (re)loaded; other tables on the host are left alone.
nftables-pkg:
  pkg.installed:
    - pkgs:
      - nftables

/etc/nftables.conf:
  file.managed:
    - source: salt://firewall/nftables.conf
    - template: jinja
    - user: root
    - group: root
    - mode: '0755'
    - check_cmd: nft -c -f
    - require:
      - pkg: nftables-pkg

# Debian installs nftables disabled: enable it so the rules come back at boot; a change reloads
# (`nft -f /etc/nftables.conf`, atomic).
nftables-service:
  service.running:
    - name: nftables
    - enable: True
    - reload: True
    - require:
      - pkg: nftables-pkg
    - watch:
      - file: /etc/nftables.conf
