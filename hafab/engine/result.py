"""What every task returns: whether everything held, the JSON document and the text report.

`hafab.cli.common` turns it into output and an exit code, in that one place: 0 when ok, 1 when not;
bad input never gets this far (it is an InputError, exit 2).
"""

import json
from dataclasses import dataclass

from hafab.engine.errors import EXIT_FAILED, EXIT_OK


@dataclass
class TaskResult:
    ok: bool
    document: object          # what --json prints: exactly one JSON document
    text: str                 # the report for people (ends with a newline)
    json_indent: int | None = None

    @property
    def exit_code(self):
        return EXIT_OK if self.ok else EXIT_FAILED

    def as_json(self):
        return json.dumps(self.document, indent=self.json_indent, default=str)

    def write(self, stream, as_json=False):
        stream.write(self.as_json() + "\n" if as_json else self.text)
        stream.flush()
