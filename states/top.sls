# Which states each host gets. Roles come from hosts.yaml (pillar `roles`), matched as Salt does.
base:
  '*':
    - common
  'roles:lb':
    - match: pillar
    - logging
    - haproxy
    - keepalived
  'roles:web':
    - match: pillar
    - apache
    - firewall
