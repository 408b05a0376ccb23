"""`inv outage` and `inv drill`: break hosts on purpose, probe the VIP under load, judge, restore, report.

The modules, by concern:
  scenario   what was asked (OutagePlan, the flags checked by prepare) and what the seed's table promises
  fleet      SSH to the hosts, reconnecting after a host came back
  breaking   break and restore one host per kind (service, kill, hang, host, network)
  health     the health script, its facts, and waiting for a healthy cluster
  load       the steady load on the VIP (Load) and the watcher of the VIP holder (VipWatcher)
  figures    pure: samples -> failure windows, probe summaries, VIP holder timelines
  judging    the verdict of one scenario from the settled end of the outage
  reporting  the outage object (docs/contract.md) and its text
  execution  one run: baseline, break, hold, restore, settle (Record)
  drill      the seed's scenarios one after the other, and the table
  plot       the drill's timelines as a PNG (matplotlib)
"""

from hafab.outage.drill import drill_table, run_drill
from hafab.outage.execution import Record, execute, run
from hafab.outage.reporting import text
from hafab.outage.scenario import DEFAULT_DURATION, DEFAULT_RATE, KINDS, OutagePlan, prepare

__all__ = ["DEFAULT_DURATION", "DEFAULT_RATE", "KINDS", "OutagePlan", "Record", "drill_table", "execute",
           "prepare", "run", "run_drill", "text"]
