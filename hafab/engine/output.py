"""Print provision results the way Salt's highstate does, or as the contract's JSON."""

import json
import sys

from hafab.engine import boundary


def summary(reports):
    succeeded = failed = changed = 0
    for report in reports.values():
        for ret in report.results.values():
            if ret["result"] is False:
                failed += 1
            else:
                succeeded += 1
            if ret["changes"] and ret["result"] is not False:
                changed += 1
    return {"hosts": len(reports), "succeeded": succeeded, "failed": failed, "changed": changed}


def as_json(reports, duration_s):
    return json.dumps(document(reports, duration_s), indent=2, sort_keys=False, default=str)


def document(reports, duration_s):
    """The contract's JSON document of a run."""
    return {"hosts": {name: r.results for name, r in reports.items()},
           "errors": {name: r.error for name, r in reports.items() if r.error},
           "summary": summary(reports),
           "duration_s": round(duration_s, 3),
           # beyond the contract's keys: what each host cost (bench/ reads it)
           "stats": {"channel_opens": {name: r.channel_opens for name, r in reports.items()},
                     "timings_s": {name: {k: round(v, 4) for k, v in r.timings.items()}
                                   for name, r in reports.items()}}}


class Highstate:
    """Salt's highstate text: changed and failed states in full, the others on one line, a summary."""

    def __init__(self, stream=None, colour=None):
        self.stream = stream or sys.stdout
        self.colour = self.stream.isatty() if colour is None else colour

    def paint(self, text, colour):
        return boundary.paint(text, colour) if self.colour else text

    def write(self, reports, duration_s, check=False):
        out = []
        for name, report in reports.items():
            out += self.host(name, report, check)
        totals = summary(reports)
        errors = [n for n, r in reports.items() if r.error]
        out.append(f"{totals['hosts']} host{'s' if totals['hosts'] != 1 else ''}: "
                   f"{totals['succeeded']} succeeded ({'would change' if check else 'changed'}="
                   f"{totals['changed']}), {totals['failed']} failed"
                   + (f", unreachable or failed: {', '.join(errors)}" if errors else "")
                   + f", {duration_s:.2f} s")
        self.stream.write("\n".join(out) + "\n")

    def host(self, name, report, check):
        out = [self.paint(f"{name}:", "red" if report.error or _failed(report) else "green")]
        if report.error:
            out.append(self.paint(f"    Error: {report.error}", "red"))
        rets = sorted(report.results.items(), key=lambda kv: kv[1]["__run_num__"])
        for key, ret in rets:
            out += self.state(key, ret)
        out += self.host_summary(name, report, check)
        return out

    def state(self, key, ret):
        module, ident, name, fun = key.split("_|-")
        colour = _colour(ret)
        if ret["result"] is True and not ret["changes"]:
            return [self.paint(f"  Name: {name} - Function: {module}.{fun} - Result: Clean - "
                               f"Started: {ret['start_time']} - Duration: {ret['duration']} ms", colour)]
        lines = ["----------",
                 f"          ID: {ident}",
                 f"    Function: {module}.{fun}"]
        if name != ident:
            lines.append(f"        Name: {name}")
        lines += [f"      Result: {ret['result']}",
                  f"     Comment: {_indent(ret['comment'], 14)}",
                  f"     Started: {ret['start_time']}",
                  f"    Duration: {ret['duration']} ms",
                  "     Changes:"]
        lines += _nested(ret["changes"], 14)
        return [self.paint(line, colour) for line in lines]

    def host_summary(self, name, report, check):
        rets = list(report.results.values())
        failed = sum(1 for r in rets if r["result"] is False)
        changed = sum(1 for r in rets if r["changes"] and r["result"] is not False)
        label = "unchanged" if check else "changed"
        counted = sum(1 for r in rets if r["result"] is None) if check else changed
        total_ms = sum(r["duration"] for r in rets)
        return ["",
                f"Summary for {name}",
                "------------",
                self.paint(f"Succeeded: {len(rets) - failed}" + (f" ({label}={counted})" if counted else ""),
                           "green"),
                self.paint(f"Failed:    {failed:>2}", "red" if failed else "green"),
                "------------",
                f"Total states run:     {len(rets)}",
                f"Total run time: {total_ms:>10.3f} ms",
                ""]


def _failed(report):
    return any(r["result"] is False for r in report.results.values())


def _colour(ret):
    if ret["result"] is False:
        return "red"
    if ret["result"] is None:
        return "yellow"
    return "cyan" if ret["changes"] else "green"


def _lines(text):
    """text's lines, split at \n only (str.splitlines() would also split at \r, \x0b, \x85...: those
    reach the output boundary, which shows them escaped)."""
    text = str(text)
    return text.removesuffix("\n").split("\n") if text else []


def _indent(text, width):
    return ("\n" + " " * width).join(_lines(text) or [""])


def _nested(value, indent):
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return []
        lines = [pad + "----------"]
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{key}:")
                lines += _nested(item, indent + 4)
            elif isinstance(item, str) and "\n" in item:
                lines.append(f"{pad}{key}:")
                lines += [pad + "    " + line for line in _lines(item.rstrip("\n"))]
            else:
                lines.append(f"{pad}{key}:" + (f" {item}" if item not in ("", None) else ""))
        return lines
    if isinstance(value, list):
        return [f"{pad}- {item}" for item in value]
    return [f"{pad}{value}"]
