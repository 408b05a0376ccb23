"""pkg.installed: Debian packages, all missing ones of a host in one non-interactive apt-get install.

The batch is Salt's mod_aggregate: the first pkg.installed state to apply also installs the packages of
every other pkg.installed state the runner can apply together with it (HostRun.aggregate), and keeps what
apt-get did in the run's `aggregated` record, from which the later states report their share.
"""

import re
import shlex

from hafab.engine.states.base import Outcome, Plan, StateFunction, bad_arg, command_failed, register, require_bool

APT_ENV = "DEBIAN_FRONTEND=noninteractive APT_LISTCHANGES_FRONTEND=none"
APT_OPTS = "-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold"
# Debian Policy 5.6.1: lower case letters, digits, + - . ; at least two characters, starting with an
# alphanumeric; apt's optional ':architecture' suffix.
PACKAGE_RE = re.compile(r"[a-z0-9][a-z0-9+.-]+(:[a-z0-9][a-z0-9-]*)?")


def packages_of(state):
    return state.prepared["pkgs"]


@register
class Installed(StateFunction):
    function = "pkg.installed"
    args = frozenset({"pkgs", "refresh"})

    def prepare(self, state, ctx):
        pkgs, arg = state.args.get("pkgs"), "pkgs"
        if pkgs is None:
            pkgs, arg = [state.name], "name"
        if not isinstance(pkgs, list) or not pkgs or not all(isinstance(p, str) and p for p in pkgs):
            raise bad_arg(state, arg, f"{pkgs!r} must be a non-empty list of package names")
        for name in pkgs:
            if not PACKAGE_RE.fullmatch(name):
                raise bad_arg(state, arg, f"{name!r} is not a package name (Debian's [a-z0-9][a-z0-9+.-]+, "
                                          "optionally :arch)")
        require_bool(state, "refresh")
        state.prepared["pkgs"] = pkgs

    def query(self, state, q):
        q.packages.update(packages_of(state))

    def plan(self, state, facts):
        pkgs = packages_of(state)
        missing = [p for p in pkgs if not facts.packages.get(p)]
        installed = facts.aggregated.get(self.function, {}).get("installed", {})
        batched = [p for p in pkgs if p in installed and facts.packages.get(p)]
        if batched and not missing:
            # Installed a moment ago in the same apt-get run as an earlier state's packages.
            return Plan(changes={p: {"old": "", "new": installed[p]} for p in batched},
                        comment=f"The following packages would be installed: {', '.join(batched)}",
                        action={"missing": batched, "refresh": False})
        if not missing:
            return Plan(comment=_all_installed(pkgs))
        refresh = state.args.get("refresh", False) or not facts.apt_lists
        return Plan(changes={p: {"old": "", "new": "(to be installed)"} for p in missing},
                    comment=f"The following packages would be installed: {', '.join(missing)}",
                    action={"missing": missing, "refresh": refresh})

    def apply(self, state, plan, host):
        missing = plan.action["missing"]
        batch = self._install_batch(state, plan, host)
        if batch["error"]:
            return Outcome(False, batch["error"])
        changes = {p: {"old": "", "new": batch["installed"].get(p, "")} for p in missing}
        failed = [p for p in missing if not batch["installed"].get(p)]
        if failed:
            return Outcome(False, f"Packages not installed after apt-get: {', '.join(failed)}", changes)
        return Outcome(True, f"{len(missing)} targeted package{'s' if len(missing) > 1 else ''} "
                             f"installed: {', '.join(missing)}", changes)


    def _install_batch(self, state, plan, host):
        """Install this state's missing packages; on the first call those of its aggregate peers too, in
        one apt-get run. Returns the run's record {"installed": {name: version}, "error": comment}."""
        batch = host.aggregated.get(self.function)
        if batch is None:
            batch = host.aggregated[self.function] = {"installed": {}, "error": ""}
            wanted, refresh = list(plan.action["missing"]), plan.action["refresh"]
            for _other, other_plan in host.aggregate(state):
                wanted += [p for p in other_plan.action["missing"] if p not in wanted]
                refresh = refresh or other_plan.action["refresh"]
        else:
            wanted = [p for p in plan.action["missing"] if p not in batch["installed"]]
            refresh = False
        if wanted:
            installed, batch["error"] = run_install(host, wanted, refresh)
            batch["installed"].update(installed)
        return batch


def _all_installed(pkgs):
    if len(pkgs) == 1:
        return f"All specified packages are already installed ({pkgs[0]})"
    return f"All specified packages are already installed ({', '.join(pkgs)})"


def install_script(packages, refresh):
    """apt-get install of `packages`; apt-get update first if asked, or again if apt knows none of them."""
    names = " ".join(shlex.quote(p) for p in packages)
    # Recommends follow apt's configuration, as with Salt's pkg.installed (its install_recommends=True
    # adds no flag); hafab has no install_recommends argument, so SLS cannot ask for less.
    install = f"{APT_ENV} apt-get {APT_OPTS} install -- {names}"
    update = f"{APT_ENV} apt-get -q update"
    lines = ["set -e"]
    if refresh:
        lines.append(update + " >/dev/null")
    lines += [
        f"out=$({install} 2>&1) && rc=0 || rc=$?",
        'if [ $rc -ne 0 ] && printf %s "$out" | grep -Eq -e "Unable to locate package|has no installation candidate"; '
        'then',
        f"  {update} >/dev/null; out=$({install} 2>&1) && rc=0 || rc=$?",
        "fi",
        'if [ $rc -ne 0 ]; then printf "%s\\n" "$out" >&2; exit $rc; fi',
        f"dpkg-query -W -f='${{Package}}\\t${{db:Status-Abbrev}}\\t${{Version}}\\n' -- {names}",
    ]
    return "\n".join(lines) + "\n"


def run_install(remote, packages, refresh):
    """Install `packages` on the host: (installed versions by name, error comment or "")."""
    result = remote.run(install_script(packages, refresh), timeout=1800)
    if result.exit_status != 0:
        return {}, command_failed(result, "apt-get install")
    versions = {}
    for line in result.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[1].startswith("ii"):
            versions[parts[0].split(":")[0]] = parts[2]
    return versions, ""
