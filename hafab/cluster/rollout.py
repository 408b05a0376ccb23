"""The order in which hosts change, so that a routine provision costs clients nothing.

Hosts are gathered and planned in parallel; before a host makes its first change it enters the rollout,
and it leaves when its run ends. Load balancers change one at a time, the ones not holding the VIP
first; web servers change one at a time, each drained in HAProxy on every load balancer first (its
in-flight requests finish, new ones go to the others) and put back once HAProxy sees it UP again.
Hosts of other roles are not held back. A no-op run never waits: nobody enters.
"""

import shlex
import threading
import time

from hafab.cluster import haproxy
from hafab.engine.errors import HostError
from hafab.engine.transport import connect

# Names from files/haproxy/haproxy.cfg: the backend of the web servers and HAProxy's runtime API.
BACKEND = "webservers"
ADMIN_SOCKET = "/run/haproxy/admin.sock"
DRAIN_WAIT = 10.0   # seconds for a drained server's sessions to end
READY_WAIT = 15.0   # seconds for HAProxy to see a server UP again
HEALTHY_FOR = 1.2   # seconds of passing health checks (two check intervals) before a server takes traffic


class Rollout:
    def __init__(self, inventory, hosts, ssh_config, progress, timeout=600):
        self.inventory = inventory
        self.expected = set(hosts)
        self.ssh_config = ssh_config
        self.progress = progress
        self.timeout = timeout
        self.cond = threading.Condition()
        self.registered = {}     # host -> (will_change, holds_vip)
        self.inside = {}         # serial group -> host changing now
        self.done = set()
        self.lb_remotes = {}

    def group(self, name):
        roles = self.inventory.hosts[name].roles
        return "lb" if "lb" in roles else "web" if "web" in roles else None

    def vip_command(self):
        """A fact command whose exit status is 0 on the load balancer that holds the VIP."""
        vip = self.inventory.cluster["vip"]
        return f"ip -4 -o addr show | grep -qF {shlex.quote(' ' + vip + '/')}"

    def register(self, name, will_change, holds_vip=False):
        with self.cond:
            self.registered[name] = (will_change, holds_vip)
            self.cond.notify_all()

    def enter(self, name):
        """Block until `name` may change; drain it first if it is a web server."""
        group = self.group(name)
        if group is None:
            return
        deadline = time.monotonic() + self.timeout
        with self.cond:
            while not self._may_enter(name, group):
                if time.monotonic() > deadline:
                    raise HostError(f"{name}: waited too long for its turn to change")
                self.cond.wait(0.5)
            self.inside[group] = name
        if self._waited(name, group):
            self.progress(name, "its turn to change")
        if group == "web":
            self._haproxy(name, "drain")

    def leave(self, name):
        group = self.group(name)
        if group is None:
            return
        try:
            if group == "web" and self.inside.get(group) == name:
                # A reloading Apache can miss health checks: put it back only once HAProxy has seen it
                # healthy (still drained, checks passing) for a while, or the next web's drain finds
                # no server left.
                self._wait_stat(name, lambda row: row["status"] == "DRAIN", READY_WAIT, stable=HEALTHY_FOR)
                self._haproxy(name, "ready")
        finally:
            with self.cond:
                if self.inside.get(group) == name:
                    del self.inside[group]
                self.done.add(name)
                self.cond.notify_all()

    def close(self):
        for remote in self.lb_remotes.values():
            remote.close()

    def _waited(self, name, group):
        return any(self.group(h) == group and h in self.done for h in self.registered if h != name)

    def _may_enter(self, name, group):
        if self.registered.keys() < self.expected or group in self.inside:
            return False
        if group != "lb" or not self.registered[name][1]:
            return True
        # The VIP holder goes last: every other load balancer that will change must be done.
        return all(h in self.done for h, (change, _) in self.registered.items()
                   if h != name and change and self.group(h) == "lb")

    def _haproxy(self, web, state):
        """Set the web server's state on every reachable load balancer, then wait for its effect."""
        command = f"set server {BACKEND}/{web} state {state}"
        for lb, remote in list(self._lbs().items()):
            try:
                remote.run(f"echo {shlex.quote(command)} | socat stdio {ADMIN_SOCKET}", timeout=10)
            except HostError as exc:
                self.progress(lb, f"left out of the rollout: {exc}")
                self.lb_remotes.pop(lb).close()
        self.progress(web, "drained in HAProxy" if state == "drain" else "back in HAProxy")
        if state == "drain":
            self._wait_stat(web, lambda row: row["scur"] == "0", DRAIN_WAIT)
        else:
            self._wait_stat(web, lambda row: row["status"] == "UP", READY_WAIT)

    def _wait_stat(self, web, condition, seconds, stable=0.0):
        """Poll HAProxy's view of `web` on every LB until `condition` holds (for `stable` s), bounded."""
        deadline = time.monotonic() + seconds
        since = None
        while time.monotonic() < deadline:
            try:
                rows = [self._stat_row(remote, web) for remote in self._lbs().values()]
            except HostError:
                return False
            if all(row is None or condition(row) for row in rows):
                since = since or time.monotonic()
                if time.monotonic() - since >= stable:
                    return True
            else:
                since = None
            time.sleep(0.1)
        self.progress(web, "HAProxy did not report it as expected in time; going on")
        return False

    @staticmethod
    def _stat_row(remote, web):
        out = remote.run(f"echo 'show stat' | socat stdio {ADMIN_SOCKET}", timeout=10).stdout
        return next((row for row in haproxy.parse_stats_csv(out)
                     if row.get("pxname") == BACKEND and row.get("svname") == web), None)

    def _lbs(self):
        if not self.lb_remotes:
            for host in self.inventory.lbs():
                try:
                    self.lb_remotes[host.name] = connect(host.name, self.ssh_config)
                except HostError as exc:
                    self.progress(host.name, f"cannot drain through this load balancer: {exc}")
        return self.lb_remotes
