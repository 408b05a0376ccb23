"""hafab's Invoke tasks. Run `inv --list`; every task has `inv --help TASK`. The logic lives in hafab/."""

from invoke import Collection

from hafab.cli.provision import provision

ns = Collection()
ns.add_task(provision)

try:  # the lab collection lands separately; keep `inv --list` working without it
    from hafab.cli.lab import lab as lab_collection
except ImportError:
    lab_collection = None
if lab_collection is not None:
    ns.add_collection(lab_collection, name="lab")
