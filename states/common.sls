# Every host: the small tools the other states and `inv verify` rely on
# (curl for keepalived's check script and local probes, psmisc for fuser/killall when debugging).
hafab-tools:
  pkg.installed:
    - pkgs:
      - curl
      - psmisc
