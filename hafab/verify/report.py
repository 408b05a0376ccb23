"""What `inv verify` prints: one Check per thing judged, the Report of them all, as a table or a dict (JSON)."""

from dataclasses import dataclass

from hafab.engine import boundary


@dataclass
class Check:
    name: str
    host: str
    ok: bool
    detail: str

    def as_dict(self):
        return {"name": self.name, "host": self.host, "ok": self.ok, "detail": self.detail}


@dataclass
class Report:
    checks: list
    duration: float

    @property
    def ok(self):
        return all(c.ok for c in self.checks)

    def as_dict(self):
        return {"ok": self.ok, "checks": [c.as_dict() for c in self.checks]}


def table(report, colour=False):
    """The report as a text table and a summary line."""
    rows = [(c.name, c.host, "✓" if c.ok else "✗", c.detail) for c in report.checks]
    w_name = max([len("check")] + [len(r[0]) for r in rows])
    w_host = max([len("host")] + [len(r[1]) for r in rows])
    lines = [f"{'check':<{w_name}}  {'host':<{w_host}}  ok  detail"]
    for name, host, mark, detail in rows:
        if colour:
            mark = boundary.paint(mark, "green" if mark == "✓" else "red")
        lines.append(f"{name:<{w_name}}  {host:<{w_host}}  {mark}   {detail}")
    passed = sum(1 for c in report.checks if c.ok)
    failed = len(report.checks) - passed
    lines.append("")
    lines.append(f"{len(report.checks)} checks, {passed} passed, {failed} failed in {report.duration:.2f} s")
    return "\n".join(lines) + "\n"
