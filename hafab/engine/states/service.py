"""service.running, service.enabled, service.dead: systemd when the host runs it, init.d otherwise."""

import re
import shlex

from hafab.engine.errors import InputError
from hafab.engine.states.base import Outcome, Plan, StateFunction, bad_arg, command_failed, register, require_bool

# systemd unit names (systemd.unit(5)): ASCII letters, digits, ':', '-', '_', '.', '\\' and the '@' of
# templates, at most 255 characters; hafab also refuses a leading '-' or '.' (update-rc.d and service take
# no '--', so a name must never read as an option).
UNIT_RE = re.compile(r"[A-Za-z0-9:_@\\][A-Za-z0-9:_.@\\-]{0,254}")


def _unit(facts, name):
    return facts.units.get(name) or {"load": "not-found", "active": "inactive", "enabled": ""}


def _enabled(unit):
    return unit["enabled"] in ("enabled", "enabled-runtime", "static", "alias", "generated", "indirect")


def _systemctl(facts, verb, name):
    q = shlex.quote(name)
    if facts.systemd:
        return f"systemctl {verb} -- {q}"
    if verb in ("enable", "disable"):
        return f"update-rc.d {q} {'defaults' if verb == 'enable' else 'disable'}"
    return f"service {q} {verb}"


def _not_present(state, verb):
    """Check mode: the unit may come with a package installed earlier in the same run (Salt's wording)."""
    return Plan(changes={state.name: True}, action="refuse",
                comment=f"Service {state.name} not present; if created in this state run, it would have been {verb}")


def _exists(unit):
    return unit["load"] not in ("not-found", "")


class _ServiceState(StateFunction):
    def prepare(self, state, ctx):
        if not UNIT_RE.fullmatch(state.name):
            raise bad_arg(state, "name", f"{state.name!r} is not a service name (letters, digits, ':_.@\\-', "
                                         "not starting with '-' or '.')")
        for arg in ("enable", "reload"):
            if arg in state.args and state.args[arg] is not None:
                require_bool(state, arg)

    def query(self, state, q):
        q.units.add(state.name)

    def _run(self, host, facts, verbs, state, changes, comment):
        script = "set -e\n" + "\n".join(_systemctl(facts, verb, state.name) for verb in verbs) + "\n"
        result = host.run(script, timeout=300)
        if result.exit_status != 0:
            return Outcome(False, command_failed(result, f"service {state.name} {' + '.join(verbs)}"))
        return Outcome(True, comment, changes)


def _enable_verbs(state, unit):
    want = state.args.get("enable")
    if want is True and not _enabled(unit):
        return ["enable"]
    if want is False and _enabled(unit) and unit["enabled"] != "static":
        return ["disable"]
    return []


@register
class Running(_ServiceState):
    function = "service.running"
    args = frozenset({"enable", "reload"})

    def plan(self, state, facts):
        unit = _unit(facts, state.name)
        if not _exists(unit):
            return _not_present(state, "started")
        verbs = _enable_verbs(state, unit)
        if unit["active"] not in ("active", "reloading", "activating"):
            verbs.append("start")
        if not verbs:
            return Plan(comment=f"The service {state.name} is already running"
                        + (" and enabled" if state.args.get("enable") else ""))
        return Plan(changes={state.name: True}, action=(verbs, facts),
                    comment=f"Service {state.name} is set to be " + " and ".join(
                        {"enable": "enabled", "disable": "disabled", "start": "started"}[v] for v in verbs))

    def apply(self, state, plan, host):
        if plan.action == "refuse":
            return Outcome(False, f"The named service {state.name} is not available")
        verbs, facts = plan.action
        done = " and ".join({"enable": "enabled", "disable": "disabled", "start": "started"}[v] for v in verbs)
        return self._run(host, facts, verbs, state, plan.changes, f"Service {state.name} has been {done}")

    def mod_watch(self, state, host, facts):
        verb = "reload" if state.args.get("reload") else "restart"
        if host.check:
            return Outcome(None, f"Service is set to be {verb}ed", {state.name: True})
        return self._run(host, facts, [verb], state, {state.name: True}, f"Service {verb}ed")


@register
class Enabled(_ServiceState):
    function = "service.enabled"
    args = frozenset()

    def prepare(self, state, ctx):
        super().prepare(state, ctx)
        if state.watch:  # resolved before prepare(), watch_in edges included
            raise InputError(state.file, f"{state.id}: service.enabled: watch: Salt fails a watched "
                                         "service.enabled when the watched state changes (its mod_watch only "
                                         "knows running and dead): use require, or watch from service.running")

    def plan(self, state, facts):
        unit = _unit(facts, state.name)
        if not _exists(unit):
            return _not_present(state, "enabled")
        if _enabled(unit):
            return Plan(comment=f"Service {state.name} is already enabled, and is in the desired state")
        return Plan(changes={state.name: True}, action=facts, comment=f"Service {state.name} set to be enabled")

    def apply(self, state, plan, host):
        if plan.action == "refuse":
            return Outcome(False, f"The named service {state.name} is not available")
        return self._run(host, plan.action, ["enable"], state, plan.changes, f"Service {state.name} has been enabled")


@register
class Dead(_ServiceState):
    function = "service.dead"
    args = frozenset({"enable"})

    def plan(self, state, facts):
        unit = _unit(facts, state.name)
        if not _exists(unit):
            return Plan(comment=f"The named service {state.name} is not available")
        verbs = _enable_verbs(state, unit)
        if unit["active"] in ("active", "reloading", "activating"):
            verbs.insert(0, "stop")
        if not verbs:
            return Plan(comment=f"The service {state.name} is already dead")
        return Plan(changes={state.name: True}, action=(verbs, facts),
                    comment=f"Service {state.name} is set to be " + " and ".join(
                        {"enable": "enabled", "disable": "disabled", "stop": "killed"}[v] for v in verbs))

    def apply(self, state, plan, host):
        verbs, facts = plan.action
        done = " and ".join({"enable": "enabled", "disable": "disabled", "stop": "killed"}[v] for v in verbs)
        return self._run(host, facts, verbs, state, plan.changes, f"Service {state.name} was {done}")
