"""The order in which hosts change, so that a routine provision costs clients nothing.

The rollout plugs into the engine's run through its hooks (hafab.engine.hooks): hosts are gathered and
planned in parallel; before a host makes its first change it waits for its turn (and is drained), and
when its run ends, however it ended, it is done (and put back). Load balancers change one at a time,
the ones not holding the VIP first; an LB whose keepalived.conf changed hands over only once its VRRP
state has settled, and during a VRRP mode switch the LBs before the holder are held in FAULT until it
has switched (hafab.cluster.vrrpturns: the VIP never moves). Web servers change one at a time, each
drained in HAProxy on every load balancer first (its in-flight requests finish, new ones go to the
others) and put back once HAProxy sees it UP again.
Hosts of other roles are not held back. A no-op run never waits: nobody enters.

Web servers come and go live. A web server of hosts.yaml that an LB's running HAProxy does not list yet
(a new one, found by a fact command on each LB) changes first: no load balancer changes before every new
web server of the run is done and answers on port 80 from that LB, so the reload that adds it adds a
server that serves. A server the LBs' live backend (`show stat`) still runs but hosts.yaml no longer
names (a removed one) is drained on every LB, its sessions given DRAIN_WAIT to end, before the first LB
changes; each LB's reload then drops it. The removed host itself is never contacted.
"""

import threading
import time

from hafab.cluster import haproxy, keepalived, roles
from hafab.cluster.vrrpturns import VrrpTurns
from hafab.engine.errors import HafabError, HostError
from hafab.engine.hooks import RunHooks
from hafab.engine.transport import connect

DRAIN_WAIT = 10.0   # seconds for a drained server's sessions to end
READY_WAIT = 15.0   # seconds for HAProxy to see a server UP again
HEALTHY_FOR = 1.2   # seconds of passing health checks (two check intervals) before a server takes traffic


class Rollout(RunHooks):
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
        self.entered = set()
        self.unknown = set()     # (lb, web): the LB's backend has no such server yet
        self.lb_remotes = {}
        self.new_webs = {}       # lb -> web servers of hosts.yaml its live backend lacks
        self.removed_drained = False
        self.vrrp = VrrpTurns(inventory, progress, lambda lb: self._lbs().get(lb))

    def group(self, name):
        return roles.group(self.inventory.hosts[name])

    def vip_command(self):
        """A fact command whose exit status is 0 on the load balancer that holds the VIP."""
        return keepalived.holds_vip_command(self.inventory.cluster["vip"])

    # --- the engine's hooks ---------------------------------------------------------------------------

    def fact_commands(self, host):
        if self.group(host) != roles.LB:
            return []
        return [self.vip_command(), *self.vrrp.fact_commands(),
                *(haproxy.new_server_command(web.name) for web in self.inventory.webs())]

    def planned(self, host, will_change, command_status):
        if self.group(host) == roles.LB:
            # a host that is both LB and web changes with the LBs: never waited for as a web
            self.new_webs[host] = [web.name for web in self.inventory.webs() if self.group(web.name) == roles.WEB
                                   and command_status.get(haproxy.new_server_command(web.name)) == 0]
            self.vrrp.planned(host, command_status)
        self.register(host, will_change, command_status.get(self.vip_command()) == 0)

    def before_change(self, host):
        self.enter(host)
        self.entered.add(host)

    def finished(self, host):
        """The host's run has ended: put it back if it was drained; from now on nobody waits for it."""
        if host not in self.registered:
            self.register(host, False)
        try:
            if host in self.entered:
                self.leave(host)
        finally:
            self._release(host, self.group(host))

    # --- the order ------------------------------------------------------------------------------------

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
            holder_after = self._holder_after(name) if group == roles.LB else None
        if self._waited(name, group):
            self.progress(name, "its turn to change")
        try:
            if group == roles.WEB and self._new_everywhere(name):
                self.progress(name, f"new: no load balancer runs it in {haproxy.BACKEND} yet, nothing to drain")
            elif group == roles.WEB:
                self._haproxy(name, "drain")
            elif group == roles.LB:
                self.vrrp.turn(name, holder_after)
                self._check_new_webs(name)
                self._drain_removed_webs()
        except HostError:
            self._release(name, group)
            raise

    def leave(self, name):
        group = self.group(name)
        if group is None:
            return
        try:
            if group == roles.WEB and self.inside.get(group) == name and not self._new_everywhere(name):
                # A reloading Apache can miss health checks: put it back only once HAProxy has seen it
                # healthy (still drained, checks passing) for a while, or the next web's drain finds
                # no server left.
                self._wait_stat(name, lambda row: row["status"] == "DRAIN", READY_WAIT, stable=HEALTHY_FOR)
                self._haproxy(name, "ready")
            elif group == roles.LB:
                self.vrrp.settle(name)
                if not self._lbs_pending(name):
                    self.vrrp.release()
        finally:
            self._release(name, group)

    def _release(self, name, group):
        with self.cond:
            if self.inside.get(group) == name:
                del self.inside[group]
            self.done.add(name)
            self.cond.notify_all()

    def close(self):
        try:
            self.vrrp.release()   # holds an LB's run left behind (it never came to leave)
        finally:
            for remote in self.lb_remotes.values():
                remote.close()

    def _waited(self, name, group):
        return any(self.group(h) == group and h in self.done for h in self.registered if h != name)

    def _may_enter(self, name, group):
        if self.registered.keys() < self.expected or group in self.inside:
            return False
        if group != roles.LB:
            return True
        if any(web in self.expected and web not in self.done for web in self.new_webs.get(name, ())):
            return False   # a new web server of this run changes first
        if not self.registered[name][1]:
            return True
        # The VIP holder goes last: every other load balancer that will change must be done (a host whose
        # run has ended is done, whether it changed or not). When several hold it (a split brain, e.g.
        # multicast VRRP on a network that drops multicast), the holders go lowest priority first.
        mine = self._lb_rank(name)
        return all(h in self.done for h, (change, holds) in self.registered.items()
                   if h != name and change and self.group(h) == roles.LB
                   and (not holds or self._lb_rank(h) < mine))

    def _holder_after(self, name):
        """A load balancer that holds the VIP and changes after `name` in this run, or None (under cond):
        every holder not done yet when `name` does not hold it; when it does too (a split brain), the
        holders ranked above it (they go after it)."""
        mine = self._lb_rank(name) if self.registered[name][1] else None
        return next((h for h, (change, holds) in sorted(self.registered.items())
                     if h != name and change and holds and h not in self.done and self.group(h) == roles.LB
                     and (mine is None or self._lb_rank(h) > mine)), None)

    def _lbs_pending(self, name):
        with self.cond:
            return [h for h in self.registered if h != name and h not in self.done and self.group(h) == roles.LB]

    def _lb_rank(self, name):
        return (self.inventory.hosts[name].priority or 0, name)

    def _new_everywhere(self, web):
        """Every LB's running HAProxy lacks `web` (the LBs' fact commands said so): nothing to drain."""
        return bool(self.new_webs) and self.new_webs.keys() >= {lb.name for lb in self.inventory.lbs()} \
            and all(web in webs for webs in self.new_webs.values())

    def _check_new_webs(self, lb):
        """Every web server `lb` is about to add must answer on port 80 from `lb`: else HostError."""
        remote = self._lbs().get(lb)
        for web in self.new_webs.get(lb, ()):
            address = self.inventory.hosts[web].address
            if remote is None or remote.run(haproxy.port_open_command(address), timeout=10).exit_status != 0:
                raise HostError(f"{lb}: {web} is new to {haproxy.BACKEND} here and does not answer on "
                                f"{address}:80 from {lb}: not adding it (provision {web} first)")
            self.progress(lb, f"{web} is new and answers on port 80: adding it")

    def _drain_removed_webs(self):
        """Once per run, before the first LB changes: drain on every LB each server its live backend
        runs that hosts.yaml no longer names as a web server, and wait (bounded) for its sessions."""
        with self.cond:
            if self.removed_drained:
                return
            self.removed_drained = True
        webs = {web.name for web in self.inventory.webs()}
        live = set()
        for lb, remote in list(self._lbs().items()):
            try:
                live.update(haproxy.backend_servers(self._stat_rows(remote)))
            except HostError as exc:
                self.progress(lb, f"no live stats to find removed web servers: {exc}")
        for server in sorted(live - webs):
            self.progress(server, "not a web server of hosts.yaml any more: draining it on every LB")
            self._haproxy(server, "drain")

    def _haproxy(self, web, state):
        """Set the web server's state on every reachable load balancer, then wait for its effect."""
        command = haproxy.set_server_state(web, state)
        for lb, remote in list(self._lbs().items()):
            try:
                remote.run(haproxy.runtime_command(command, timeout=5), timeout=10)
            except HostError as exc:
                self.progress(lb, f"left out of the rollout: {exc}")
                self.lb_remotes.pop(lb).close()
        self.progress(web, "drained in HAProxy" if state == "drain" else "back in HAProxy")
        if state == "drain":
            self._wait_stat(web, lambda row: row["scur"] == "0", DRAIN_WAIT)
        else:
            self._wait_stat(web, lambda row: row["status"] == "UP", READY_WAIT)

    def _wait_stat(self, web, condition, seconds, stable=0.0):
        """Poll HAProxy's view of `web` on every LB until `condition` holds (for `stable` s), bounded.

        An LB whose HAProxy answers no stats (not installed or not running yet) sends `web` nothing, and
        one whose web backend has no server `web` yet (a new web server) neither: both are left out. An
        LB whose stats lack the web backend itself cannot drain anything: HostError, never a silent
        success (the backend was renamed in the template, or the LB runs a config not from this tree)."""
        deadline = time.monotonic() + seconds
        since = None
        while time.monotonic() < deadline:
            try:
                rows = {lb: self._stat_rows(remote) for lb, remote in self._lbs().items()}
            except HostError:
                return False
            views = [self._server_row(lb, lb_rows, web) for lb, lb_rows in rows.items() if lb_rows]
            if all(condition(row) for row in views if row is not None):
                since = since or time.monotonic()
                if time.monotonic() - since >= stable:
                    return True
            else:
                since = None
            time.sleep(0.1)
        self.progress(web, "HAProxy did not report it as expected in time; going on")
        return False

    def _server_row(self, lb, rows, web):
        if not any(row.get("pxname") == haproxy.BACKEND for row in rows):
            raise HostError(f"{web}: HAProxy on {lb} has no backend {haproxy.BACKEND!r}, so {web} cannot be "
                            f"drained or put back there; nothing was changed on {web} (is {haproxy.CONFIG} "
                            "from this tree?)")
        row = haproxy.server_row(rows, web)
        if row is None and (lb, web) not in self.unknown:
            self.unknown.add((lb, web))
            self.progress(web, f"not a server of {haproxy.BACKEND} on {lb} yet: nothing to drain there")
        return row

    @staticmethod
    def _stat_rows(remote):
        out = remote.run(haproxy.runtime_command("show stat", timeout=5), timeout=10).stdout
        return haproxy.parse_stats_csv(out)

    def _lbs(self):
        if not self.lb_remotes:
            for host in self.inventory.lbs():
                try:
                    self.lb_remotes[host.name] = connect(host.name, self.ssh_config)
                except HafabError as exc:
                    self.progress(host.name, f"cannot drain through this load balancer: {exc}")
        return self.lb_remotes
