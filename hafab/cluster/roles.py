"""The cluster's roles and the systemd units each one runs: the one place they are written.

A load balancer (`lb`) runs HAProxy, which serves the VIP, and Keepalived, which moves it; a web server
(`web`) runs Apache. `states/top.sls` assigns the states to these roles; verify, outage and the rollout
read the units from here.
"""

LB = "lb"
WEB = "web"
ORDER = (LB, WEB)                      # the order roles are listed in (and their units checked)

UNITS = {LB: ("haproxy", "keepalived"), WEB: ("apache2",)}
# The unit that serves traffic for the role: the one an outage of the role's service stops.
SERVING = {LB: "haproxy", WEB: "apache2"}
# Units that must run beside the serving one and come back with it (keepalived moves the VIP).
COMPANIONS = {LB: ("keepalived",), WEB: ()}


def group(host):
    """The role a host changes with in a rollout: 'lb' before 'web' when it has both, else None."""
    return next((role for role in ORDER if role in host.roles), None)


def units(host):
    """Every unit the host's roles run, in role order (haproxy, keepalived, apache2)."""
    return [unit for role in ORDER if role in host.roles for unit in UNITS[role]]


def serving_units(host):
    """The serving unit of each of the host's roles (haproxy on LBs, apache2 on webs)."""
    return [SERVING[role] for role in ORDER if role in host.roles]


def companion_units(host):
    return [unit for role in ORDER if role in host.roles for unit in COMPANIONS[role]]
