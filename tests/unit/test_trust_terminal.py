"""Issue 13, class 6 (the terminal): no control character from data reaches the operator's terminal raw.

Data enters through a state id, a name, a comment, a change (command output, a diff of a file on a
host), an error line or a progress event; it leaves through a task's text (escaped, line breaks and tabs
kept), a one-line message (everything escaped, `\\n` too) or --json (JSON's own escapes, unchanged).
hafab's own colours are the only escape sequences written, and no data can forge them.
"""

import io
import json
import sys

import pytest
from invoke import Exit

from hafab.cli.common import reports_errors
from hafab.cluster.provision import _result as provision_result_of
from hafab.engine import boundary
from hafab.engine.errors import HostError, InputError
from hafab.engine.progress import Progress
from hafab.engine.runner import HostReport
from hafab.verify.report import Check, Report, table

CONTROLS = [   # (the character, how every text output shows it)
    ("\x1b", "\\x1b"),            # ESC: colours, cursor moves, window titles, OSC 52 clipboard writes
    ("\r", "\\r"),                # CR: rewrites the line shown
    ("\x07", "\\x07"),            # BEL
    ("\x08", "\\x08"),            # BS
    ("\x00", "\\x00"),
    ("\x0b", "\\x0b"),
    ("\x0c", "\\x0c"),
    ("\x7f", "\\x7f"),            # DEL
    ("\x9b", "\\x9b"),            # C1 CSI: ESC [ on terminals that read 8-bit controls
    ("\x85", "\\x85"),            # C1 NEL
    ("\u202e", "\\u202e"),        # right-to-left override: reorders what is shown
    ("\u2028", "\\u2028"),        # line separator
    ("\udc9b", "\\x9b"),          # the byte 0x9b of a file that is not UTF-8 (surrogateescape)
]
IDS = [repr(c) for c, _ in CONTROLS]


def shown(char):
    return f"a{char}[31mb"


def provision_result(ident="motd", name="/etc/motd", comment="", changes=None, result=True, error=""):
    report = HostReport("alpha", error=error)
    report.results[f"cmd_|-{ident}_|-{name}_|-run"] = {
        "__id__": ident, "__sls__": "app", "__run_num__": 0, "name": name, "result": result,
        "changes": changes or {}, "comment": comment, "start_time": "10:00:00.000000", "duration": 1.0}
    return provision_result_of({"alpha": report}, 0.5, False, False)


def run_task(body, as_json=False):
    """Run `body` as a task (cli/common.reports_errors); (stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()

    @reports_errors
    def task(json=False):
        return body()

    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        task(json=as_json)
    except Exit:
        pass
    finally:
        sys.stdout, sys.stderr = saved
    return out.getvalue(), err.getvalue()


def raising(exc):
    def body():
        raise exc
    return body


PLACES = {   # where a control character enters -> a task body that shows it
    "state id": lambda s: provision_result(ident=f"id-{s}", result=False),
    "state name": lambda s: provision_result(name=f"/srv/{s}"),
    "comment": lambda s: provision_result(comment=f"Command {s} run", result=False),
    "command output": lambda s: provision_result(changes={"stdout": f"out {s}\nline 2", "retcode": 0}),
    "diff of a host file": lambda s: provision_result(
        changes={"diff": f"--- /etc/f\n+++ /etc/f\n@@ -1 +1 @@\n-{s}\n+new\n"}),
    "host error": lambda s: provision_result(error=f"lost: {s}"),
    "input error": lambda s: raising(InputError(f"states/{s}.sls", f"id {s!s}: bad")),
    "host failure": lambda s: raising(HostError(f"alpha: failed {s}")),
    "verify detail": lambda s: Report([Check("ssh", "hap1", False, f"said {s}")], 0.1),
}


def as_task(place, text):
    made = PLACES[place](text)
    if callable(made):
        return made
    if isinstance(made, Report):
        from hafab.engine.result import TaskResult
        return lambda: TaskResult(made.ok, made.as_dict(), table(made, colour=True), 2)
    return lambda: made


@pytest.mark.parametrize("char, escaped", CONTROLS, ids=IDS)
@pytest.mark.parametrize("place", list(PLACES))
def test_text_shows_controls_escaped(place, char, escaped):
    stdout, stderr = run_task(as_task(place, shown(char)))
    terminal = stdout + stderr
    for own in ("\033[0;31m", "\033[0;32m", "\033[0m"):      # hafab's own colours (verify's marks)
        terminal = terminal.replace(own, "")
    assert char not in terminal
    assert f"a{escaped}[31mb" in terminal
    assert all(c == "\n" or c >= " " for c in terminal)


@pytest.mark.parametrize("char, escaped", CONTROLS, ids=IDS)
@pytest.mark.parametrize("place", ["state id", "comment", "command output", "diff of a host file"])
def test_json_keeps_its_own_escapes(place, char, escaped):
    stdout, _ = run_task(as_task(place, shown(char)), as_json=True)
    assert char not in stdout and "\x1b" not in stdout
    assert any(shown(char) in value for value in strings(json.loads(stdout)))    # the data, as it was


def strings(obj):
    if isinstance(obj, dict):
        yield from obj
        for value in obj.values():
            yield from strings(value)
    elif isinstance(obj, list):
        for item in obj:
            yield from strings(item)
    elif isinstance(obj, str):
        yield obj


@pytest.mark.parametrize("live", [False, True], ids=["log", "terminal"])
@pytest.mark.parametrize("char, escaped", CONTROLS + [("\n", "\\n"), ("\t", "\\t")], ids=IDS + ["LF", "TAB"])
def test_progress_lines_show_controls_escaped(char, escaped, live):
    stream = io.StringIO()
    stream.isatty = lambda: live
    progress = Progress(1, "provision", stream)
    progress.event(f"h{char}", f"id{char}: failed")
    written = stream.getvalue()
    own = written.replace("\r\033[K", "").removesuffix("\n")  # the live line's erase, the log's line end
    assert char not in own and "\x1b" not in own and f"h{escaped}: id{escaped}: failed" in own


@pytest.mark.parametrize("char, escaped", CONTROLS + [("\n", "\\n"), ("\t", "\\t")], ids=IDS + ["LF", "TAB"])
def test_a_printer_line_shows_controls_escaped(char, escaped):
    stream = io.StringIO()
    boundary.say(f"lab: {char}x", stream)
    assert stream.getvalue() == f"lab: {escaped}x\n"


@pytest.mark.parametrize("place", ["input error", "host failure"])
def test_an_error_line_escapes_its_line_breaks(place):
    _, stderr = run_task(as_task(place, "one\ntwo\tthree"))
    assert stderr.count("\n") == 1 and "one\\ntwo\\tthree" in stderr


def test_a_report_keeps_its_line_breaks_and_tabs():
    stdout, _ = run_task(as_task("diff of a host file", "tab\there"))
    assert "\n                  -tab\there\n" in stdout


def test_hafab_colours_survive_and_cannot_be_forged():
    forged = boundary.paint("x", "red").replace(boundary._PAINT, "\ue000" + "0" * 16)
    text = boundary.text(boundary.paint("ok", "green") + f" {forged} \x1b[0;31mred")
    assert text.startswith("\033[0;32mok\033[0m ")
    assert text.count("\033") == 2 and "\\x1b[0;31mred" in text


def test_a_one_line_message_drops_colour():
    assert boundary.line(boundary.paint("failed", "red") + "\x1b[2J") == "failed\\x1b[2J"


@pytest.mark.parametrize("text", ["plain", "é ü ß ✓ ✗ 日本", "tab\tand\nbreak", "back\\slash \\x1b literal", ""])
def test_printable_text_is_unchanged(text):
    assert boundary.text(text) == text
