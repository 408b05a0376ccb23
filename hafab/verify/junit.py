"""`inv verify --junit FILE`: the Report as JUnit XML, the format CI systems read.

One <testsuite name="hafab verify"> inside <testsuites>; one <testcase> per Check: classname = the
host, name = the check's name, the evidence in <system-out>, and for a failed check also as
<failure message=...>. Counts: tests, failures, errors (always 0), skipped (always 0).

Every string passes the output boundary (hafab.engine.boundary): registered secrets masked, control
characters escaped; what XML 1.0 cannot carry at all (U+FFFE, U+FFFF) is escaped too. The file is
written atomically: a temporary file in the same directory, then renamed over FILE.
"""

import os
import re
import xml.etree.ElementTree as ET

from hafab.engine import atomicfile, boundary
from hafab.engine.errors import InputError

SUITE = "hafab verify"
FILE_MODE = 0o644
# what XML 1.0 cannot hold once the boundary escaped the controls (the boundary leaves these two)
_NOT_XML = re.compile("[\ufffe\uffff]")


def check_target(flag, path):
    """InputError (exit 2, before anything is sent) unless `path` names a file that can be written
    atomically: its directory exists, is a directory and writable; the path itself is no directory."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise InputError(flag, f"{path!r} is a directory: give a file path")
    if not os.path.isdir(directory):
        why = "is not a directory" if os.path.exists(directory) else "does not exist"
        raise InputError(flag, f"{path!r}: {directory!r} {why}")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise InputError(flag, f"{path!r}: the directory {directory!r} is not writable")
    return path


def shown(value, one_line=False):
    """`value` as the boundary shows it, in a form XML 1.0 can carry."""
    text = boundary.line(value) if one_line else boundary.plain(value)
    return _NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def document(report):
    """The Report as an ElementTree root (<testsuites>)."""
    failures = sum(1 for c in report.checks if not c.ok)
    counts = {"tests": str(len(report.checks)), "failures": str(failures), "errors": "0",
              "time": f"{report.duration:.3f}"}
    root = ET.Element("testsuites", name=SUITE, **counts)
    suite = ET.SubElement(root, "testsuite", name=SUITE, skipped="0", **counts)
    for check in report.checks:
        case = ET.SubElement(suite, "testcase", classname=shown(check.host, one_line=True),
                             name=shown(check.name, one_line=True), time="0")
        if not check.ok:
            failure = ET.SubElement(case, "failure", message=shown(check.detail, one_line=True), type="check failed")
            failure.text = shown(check.detail)
        ET.SubElement(case, "system-out").text = shown(check.detail)
    return root


def xml_bytes(report):
    root = document(report)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def write(report, path):
    """Write the Report's JUnit XML to `path` atomically (temporary file + rename)."""
    atomicfile.write(path, xml_bytes(report), FILE_MODE)
