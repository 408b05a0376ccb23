"""hafab's Invoke tasks. Run `inv --list`; every task has `inv --help TASK`. The logic lives in hafab/."""

from invoke import Collection

from hafab.cli.lab import lab_collection
from hafab.cli.provision import provision

ns = Collection()
ns.add_task(provision)
ns.add_collection(lab_collection, name="lab")
