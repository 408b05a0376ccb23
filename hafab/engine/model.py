"""The data passed between the compiler (sls.py) and the runner: one State per Salt low chunk."""

from dataclasses import dataclass, field

REQUISITES = ("require", "watch", "onchanges")
REQUISITE_KEYS = REQUISITES + tuple(f"{r}_in" for r in REQUISITES)
# Arguments every state function accepts (Salt's global state arguments we support).
GLOBAL_ARGS = frozenset({"name", "names", "unless", "onlyif", *REQUISITE_KEYS})


@dataclass
class State:
    """One state to run on one host, after `names` expansion and requisite resolution."""

    id: str                 # the ID it was declared under
    name: str               # `name` argument (defaults to the ID)
    module: str             # "file"
    fun: str                # "managed"
    args: dict              # the function's own arguments (not name/names/requisites)
    sls: str                # SLS name, e.g. "ntp"
    file: str               # path of the SLS file, relative to the repo, for messages
    line: int = 0           # line of the ID in that file, when known
    # Resolved requisites: keys of the states this one depends on (including *_in edges).
    require: list = field(default_factory=list)
    watch: list = field(default_factory=list)
    onchanges: list = field(default_factory=list)
    # Filled at compile time by the state function's prepare() (e.g. rendered file contents).
    prepared: dict = field(default_factory=dict)

    @property
    def key(self):
        return f"{self.module}_|-{self.id}_|-{self.name}_|-{self.fun}"

    @property
    def function(self):
        return f"{self.module}.{self.fun}"

    @property
    def where(self):
        return f"{self.file}: {self.id}"
