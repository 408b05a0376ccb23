"""Exceptions and the exit codes they map to (docs/contract.md: 0 ok, 1 failed on a host, 2 bad input)."""

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_CHANGES = 3   # provision --check --detailed-exitcode: something would change


class HafabError(Exception):
    """Base of every error hafab reports to the user as one line."""

    exit_code = EXIT_FAILED

    def __init__(self, *args, reports=None):
        super().__init__(*args)
        self.reports = reports  # per-host results gathered before the error, when there are some
        self.result = None      # a TaskResult to print before the error line, when there is one


class InputError(HafabError):
    """Bad input (an input file, SLS, template, flag, an unusable target): nothing was sent to any host."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, where, message):
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}" if where else message)


class HostError(HafabError):
    """Something failed on a host (unreachable, command failed)."""

    exit_code = EXIT_FAILED
