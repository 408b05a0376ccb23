"""A load balancer's VRRP state around its turn in the rollout: settled before the next LB goes, and held
while a VRRP mode switch goes round.

Settling. An LB whose keepalived.conf this run rewrote (a new inode or mtime since its turn came) hands
over only once its VRRP state has stayed the same for keepalived.SETTLE_SECONDS (bounded by VRRP_WAIT,
then a note and on): a reload that replaces the instance starts it over as BACKUP, and the next LB must
not act on a state that is about to change.

Holding. Switching cluster.vrrp (multicast <-> unicast) replaces keepalived's instance on every LB
(keepalived keeps an instance across a reload only when its VRID, interface and unicast-ness are the
same), and LBs in different modes do not hear each other: a unicast LB never joins the multicast group,
so a switched LB that does not hold the VIP declares the holder dead and takes the VIP as well (a split
brain), and each move of the VIP resets the connections in flight. So during a switch every LB that
changes before a VIP holder of the run is held first: keepalived.HOLD_FILE (a track_file of
keepalived.conf, read at once through inotify, also by the instance a reload creates) puts it in FAULT,
where it claims nothing. The holder, last, is without the VIP only for its own master-down interval
(~0.36 s tuned; clients resend their SYNs and segments to the same host) and takes it back; then every
hold is released and the held LBs come back as BACKUP in the new mode. The VIP never moves.

A hold found at the start of a run (one left by an interrupted run) is released at its end.
"""

import threading
import time

from hafab.cluster import keepalived
from hafab.engine.errors import HostError
from hafab.engine.transport import checked

VRRP_WAIT = 15.0        # seconds an LB's VRRP state may take to settle after its keepalived.conf changed
TRANSITION_GRACE = 0.5  # seconds for the transition a keepalived reload causes to reach its state file


class VrrpTurns:
    def __init__(self, inventory, progress, remote_of):
        self.inventory = inventory
        self.progress = progress
        self.remote_of = remote_of      # lb -> its open Remote, or None when it cannot be reached
        self.configs = {}               # lb -> keepalived.conf's identity when its turn came
        self.live_unicast = {}          # lb -> whether the keepalived.conf it runs sends unicast adverts
        self.held = set()               # lbs to release at the end of the run
        self.lock = threading.Lock()

    # --- what the rollout asks before and around each LB's turn ----------------------------------------

    def fact_commands(self):
        return [keepalived.unicast_live_command(), keepalived.held_command()]

    def planned(self, lb, command_status):
        self.live_unicast[lb] = command_status.get(keepalived.unicast_live_command()) == 0
        if command_status.get(keepalived.held_command()) == 0:
            with self.lock:
                self.held.add(lb)       # left by an interrupted run

    def switch(self):
        """(from, to) when an LB of the run runs another VRRP mode than hosts.yaml asks for, else None."""
        unicast = self.inventory.cluster.get("vrrp") == "unicast" and len(self.inventory.lbs()) > 1
        if all(live == unicast for live in self.live_unicast.values()):
            return None
        return ("multicast", "unicast") if unicast else ("unicast", "multicast")

    def turn(self, lb, holder_after):
        """`lb`'s turn has come; `holder_after` names a VIP holder of this run that changes after it."""
        self.configs[lb] = self._config(lb)
        switch = self.switch()
        if switch and holder_after:
            self._hold(lb, f"VRRP mode switch ({switch[0]} -> {switch[1]}): held in FAULT until "
                           f"{holder_after}, which holds the VIP, has switched, so the VIP does not move")

    def settle(self, lb, changed=None):
        """Wait (bounded) until `lb`'s VRRP state has stayed the same for keepalived.SETTLE_SECONDS,
        if this run rewrote its keepalived.conf (or `changed` says so)."""
        remote = self.remote_of(lb)
        try:
            state, age, config = self._state(remote)
            if not (changed or config != self.configs.get(lb)):
                return
            settle = keepalived.SETTLE_SECONDS[self.inventory.cluster["timings"]]
            time.sleep(TRANSITION_GRACE)
            started = time.monotonic()
            while time.monotonic() < started + VRRP_WAIT:
                state, age, _ = self._state(remote)
                if age >= settle:
                    self.progress(lb, f"VRRP settled: {state or 'no state yet'} for {settle:g} s")
                    return
                time.sleep(min(settle - age, 0.5))
        except HostError as exc:
            self.progress(lb, f"cannot read its VRRP state: {exc}; going on")
            return
        self.progress(lb, f"VRRP still {state or 'unknown'} and changing {VRRP_WAIT:g} s after its change; going on")

    def release(self):
        """Release every hold of the run (and any found at its start), each LB settled after."""
        with self.lock:
            held, self.held = sorted(self.held), set()
        for lb in held:
            remote = self.remote_of(lb)
            try:
                if remote is None:
                    raise HostError("not reachable")
                checked(remote.run(keepalived.release_command(), timeout=10), f"removing {keepalived.HOLD_FILE}")
            except HostError as exc:
                self.progress(lb, f"could not release its VRRP hold ({exc}): it stays in FAULT until "
                                  f"{keepalived.HOLD_FILE} is removed (the next provision does it)")
                continue
            self.progress(lb, "VRRP hold released")
            self.settle(lb, changed=True)

    # --- helpers --------------------------------------------------------------------------------------

    def _hold(self, lb, why):
        remote = self.remote_of(lb)
        if remote is None:
            raise HostError(f"{lb}: cannot hold its VRRP state for the mode switch: not reachable")
        with self.lock:
            self.held.add(lb)
        checked(remote.run(keepalived.hold_command(), timeout=10),
                f"{lb}: holding its VRRP state for the mode switch ({keepalived.HOLD_FILE})")
        self.progress(lb, why)

    def _config(self, lb):
        try:
            return self._state(self.remote_of(lb))[2]
        except HostError:
            return None

    @staticmethod
    def _state(remote):
        if remote is None:
            return None, float("inf"), None
        return keepalived.parse_settle(remote.run(keepalived.settle_command(), timeout=10).stdout)
