"""What every task returns: whether everything held, the JSON document and the text report.

`hafab.cli.common` turns it into output (through the output boundary, hafab.engine.boundary) and an
exit code, in that one place: 0 when ok, 1 when not; bad input never gets this far (it is an InputError,
exit 2).
"""

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
