"""What every task returns: whether everything held, the JSON document and the text report.

`hafab.cli.common` turns it into output (through the output boundary, hafab.engine.boundary) and an
exit code, in that one place: 0 when ok, 1 when not, or the `code` a task sets for an ok result that has
more to say (3: `--detailed-exitcode` found changes); bad input never gets this far (InputError, exit 2).
"""

from dataclasses import dataclass

from hafab.engine.errors import EXIT_FAILED, EXIT_OK


@dataclass
class TaskResult:
    ok: bool
    document: object          # what --json prints: exactly one JSON document
    text: str                 # the report for people (ends with a newline)
    json_indent: int | None = None
    code: int | None = None   # the exit code of an ok result, when not 0

    @property
    def exit_code(self):
        if not self.ok:
            return EXIT_FAILED
        return EXIT_OK if self.code is None else self.code
