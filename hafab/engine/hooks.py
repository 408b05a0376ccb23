"""What a caller can plug into a run, without the engine knowing what it is for.

The runner calls a RunHooks object at four points of each host's run (from that host's thread):

1. `fact_commands(host)` before the first facts are read: shell commands whose exit status the caller
   wants to know, read in the same round trip as every state's facts (no extra connection or channel);
2. `planned(host, will_change, command_status)` once those facts are in: whether the run will change
   anything (predicted the way `--check` reports it), and {command: exit status} of step 1's commands;
3. `before_change(host)` just before the host's first change (it may block: the caller decides when
   the host's turn comes; an exception it raises fails the host);
4. `finished(host)` when the host's run has ended, however it ended: always called, exactly once,
   even when the host was never reached (then step 2 never happened).

The default hooks do nothing, so a plain run has no order between hosts.
"""


class RunHooks:
    def fact_commands(self, host):
        return ()

    def planned(self, host, will_change, command_status):
        pass

    def before_change(self, host):
        pass

    def finished(self, host):
        pass


NO_HOOKS = RunHooks()
