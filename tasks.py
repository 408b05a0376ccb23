"""hafab's Invoke tasks. Run `inv --list`; every task has `inv --help TASK`. The logic lives in hafab/."""

from invoke import Collection

from hafab.cli.lab import lab_collection
from hafab.cli.outage import drill, outage
from hafab.cli.provision import provision
from hafab.cli.rollback import history, rollback
from hafab.cli.salt import salt_collection
from hafab.cli.verify import verify

ns = Collection()
ns.add_task(provision)
ns.add_task(history)
ns.add_task(rollback)
ns.add_task(verify)
ns.add_task(outage)
ns.add_task(drill)
ns.add_collection(lab_collection, name="lab")
ns.add_collection(salt_collection, name="salt")
