"""file.managed, file.append, file.directory, file.absent."""

import difflib
import hashlib
import os
import re
import shlex

from hafab.engine import readfile
from hafab.states.base import (Outcome, Plan, StateFunction, bad_arg, command_failed, register,
                               require_bool, require_str)

TEXT_LIMIT = 512 * 1024


def _absolute(state):
    if not state.name.startswith("/"):
        raise bad_arg(state, "name", f"{state.name!r} is not an absolute path")
    return state.name


def _mode(state, arg="mode"):
    value = state.args.get(arg)
    if value is None:
        return None
    text = str(value) if not isinstance(value, int) else f"{value:o}" if value > 0o777 else str(value)
    text = text.lstrip("0") or "0"
    if not all(c in "01234567" for c in text) or len(text) > 4:
        raise bad_arg(state, arg, f"{value!r} is not an octal mode (write it quoted, e.g. '0644')")
    return text


def _owner_changes(state, fact, mode):
    changes = {}
    user, group = state.args.get("user"), state.args.get("group")
    if user is not None and fact.user != str(user):
        changes["user"] = str(user)
    if group is not None and fact.group != str(group):
        changes["group"] = str(group)
    if mode is not None and fact.mode != mode:
        changes["mode"] = mode.zfill(4)
    return changes


def new_file_changes(state, mode):
    """What Salt reports besides the diff for a file it creates (as root): the owner when it is not root,
    the mode when it is not the 0600 the file is created with (a mode given) or umask's 0644 (none)."""
    changes = {}
    for arg in ("user", "group"):
        value = state.args.get(arg)
        if value is not None and str(value) not in ("root", "0"):
            changes[arg] = str(value)
    if mode is not None and mode != "600":
        changes["mode"] = mode.zfill(4)
    return changes


def _owner_commands(state, path, mode):
    q = shlex.quote
    lines = []
    user, group = state.args.get("user"), state.args.get("group")
    if user is not None or group is not None:
        owner = f"{user or ''}:{group or ''}" if group is not None else str(user)
        lines.append(f"chown {q(owner)} {path}")
    if mode is not None:
        lines.append(f"chmod {mode} {path}")
    return lines


def salt_whitespace_regex(text):
    """salt.utils.stringutils.build_whitespace_split_regex: `text` on whole lines, any whitespace between
    its words (and lines) allowed; file.append skips a chunk this finds in the file."""
    def parts(line):
        lexer = shlex.shlex(line)
        lexer.whitespace_split = True
        lexer.commenters = ""
        if "'\\\"" in line:
            lexer.quotes = ""
        elif "'" in line:
            lexer.quotes = '"'
        elif '"' in line:
            lexer.quotes = "'"
        return list(lexer)

    regex = ""
    for line in text.splitlines():
        words = [re.escape(w) for w in parts(line)]
        regex += r"(?:[\s]+)?{}(?:[\s]+)?".format(r"(?:[\s]+)?".join(words))
    return rf"(?m)^{regex}$"


def salt_dir_mode(dir_mode, mode):
    """The mode Salt gives directories that makedirs creates: dir_mode, else the file's mode with an
    execute bit added to each non-zero digit (salt.modules.file.manage_file), else None (umask 022)."""
    if dir_mode is not None or mode is None:
        return dir_mode
    return "".join(str(int(d) | 1) if d != "0" else d for d in mode.zfill(3)[-3:])


def makedirs_lines(state, directory, dir_mode):
    """Shell lines creating the missing directories up to `directory` (quoted) as Salt's makedirs_ does:
    each new one gets `dir_mode` (default 0755) and the state's user/group; existing ones are left alone."""
    owner = _owner_commands(state, '"$d"', None)
    return ["set --", f"d={directory}",
            'while [ ! -d "$d" ]; do set -- "$d" "$@"; d=$(dirname "$d"); done',
            'for d in "$@"; do',
            f'  mkdir "$d"; chmod {dir_mode or "755"} "$d"' + "".join(f"; {c}" for c in owner),
            "done"]


def unified_diff(old, new, path):
    if old is None:
        return "New file"
    if "\0" in old or "\0" in new:
        return "Replace binary file"
    if len(old) > TEXT_LIMIT or len(new) > TEXT_LIMIT:
        return "Replace text file (too large to diff)"
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 fromfile=path, tofile=path, n=3)
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                   for line in lines)


@register
class Managed(StateFunction):
    function = "file.managed"
    args = frozenset({"source", "contents", "template", "context", "defaults", "user", "group", "mode",
                      "makedirs", "dir_mode", "check_cmd", "tmp_ext", "show_changes", "replace"})

    def prepare(self, state, ctx):
        path = _absolute(state)
        source, contents = state.args.get("source"), state.args.get("contents")
        if (source is None) == (contents is None):
            raise bad_arg(state, "source", "give exactly one of source or contents")
        template = state.args.get("template")
        if template not in (None, "jinja"):
            raise bad_arg(state, "template", f"{template!r} is not supported (only jinja)")
        for arg in ("context", "defaults"):
            if not isinstance(state.args.get(arg, {}) or {}, dict):
                raise bad_arg(state, arg, "must be a mapping")
        extra = dict(state.args.get("defaults") or {})
        extra.update(state.args.get("context") or {})
        where = f"{state.file}: {state.id}"
        if source is not None:
            if isinstance(source, list) and len(source) == 1:
                source = source[0]
            if not isinstance(source, str):
                raise bad_arg(state, "source", f"{source!r} must be one salt:// path")
            source_path = ctx.source_path(source, where)
            if template:
                text = ctx.render_file(source_path, extra, where)
            else:
                data = readfile.read_bytes(source_path, f"{where}: {ctx.relative(source_path)}")
                text = data.decode("utf-8", "surrogateescape")  # a static file may be binary
        else:
            if isinstance(contents, list):
                contents = "\n".join(str(c) for c in contents)
            text = str(contents)
            if template:
                text = ctx.render_text(text, extra, where)
            if not text.endswith("\n"):
                text += "\n"
        require_bool(state, "makedirs")
        require_bool(state, "show_changes", True)
        require_bool(state, "replace", True)
        check_cmd = require_str(state, "check_cmd")
        try:  # Salt runs file.managed's check_cmd without a shell: its words, then the temp file
            state.prepared["check_argv"] = shlex.split(check_cmd) if check_cmd else []
        except ValueError as exc:
            raise bad_arg(state, "check_cmd", f"{exc}") from None
        require_str(state, "tmp_ext")
        state.prepared.update(path=path, text=text, mode=_mode(state), dir_mode=_mode(state, "dir_mode"),
                              sha256=hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest())

    def query(self, state, q):
        p = state.prepared
        q.want_file(p["path"], p["sha256"])
        q.stats.add(os.path.dirname(p["path"]) or "/")

    def plan(self, state, facts):
        p = state.prepared
        path, fact = p["path"], facts.files[p["path"]]
        parent = facts.files.get(os.path.dirname(path) or "/")
        if fact.exists and fact.kind not in ("regular file", "regular empty file"):
            return Plan(changes={"error": f"{path} exists and is a {fact.kind}"}, action="refuse",
                        comment=f"{path} exists and is not a regular file")
        if not fact.exists and not state.args.get("makedirs") and parent is not None and not parent.exists:
            return Plan(changes={"error": f"parent directory {os.path.dirname(path)} is missing"},
                        action="refuse", comment=f"Parent directory of {path} is missing (set makedirs: True)")
        changes = {}
        content_differs = not fact.exists or (fact.sha256 != p["sha256"] and state.args.get("replace", True))
        if content_differs:
            if state.args.get("show_changes", True):
                changes["diff"] = unified_diff(fact.content if fact.exists else None, p["text"], path)
            else:
                changes["diff"] = "<show_changes=False>"
        if fact.exists:
            changes.update(_owner_changes(state, fact, p["mode"]))
        else:
            changes.update(new_file_changes(state, p["mode"]))
        if not changes:
            return Plan(comment=f"File {path} is in the correct state")
        return Plan(changes=changes, comment=f"The file {path} is set to be changed",
                    action="write" if content_differs else "meta")

    def apply(self, state, plan, host):
        p = state.prepared
        if plan.action == "refuse":
            return Outcome(False, plan.comment)
        if plan.action == "meta":
            result = host.run("set -e\n" + "\n".join(_owner_commands(state, shlex.quote(p["path"]), p["mode"])))
            if result.exit_status != 0:
                return Outcome(False, command_failed(result, "chown/chmod"))
            return Outcome(True, f"File {p['path']} updated", plan.changes)
        result = host.run(write_script(state), stdin=p["text"].encode("utf-8", "surrogateescape"))
        if result.exit_status == 3:
            return Outcome(False, "check_cmd determined the new content is invalid, the live file was left "
                                  "alone: " + _tail(result.stdout + result.stderr))
        if result.exit_status != 0:
            return Outcome(False, command_failed(result, f"writing {p['path']}"))
        return Outcome(True, f"File {p['path']} updated", plan.changes)


def _tail(text, lines=4):
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(kept[-lines:]) or "(no output)"


def write_script(state):
    """Write stdin to a temp file beside the target, validate it with check_cmd, then rename atomically.

    The temp file is removed on any exit or signal, so an interrupted run leaves nothing behind.
    Exit status 3 means check_cmd rejected the content.
    """
    p = state.prepared
    q = shlex.quote
    path = q(p["path"])
    directory = q(os.path.dirname(p["path"]) or "/")
    ext = q(state.args.get("tmp_ext") or "")
    lines = ["set -e", "umask 077"]
    if state.args.get("makedirs"):
        lines += makedirs_lines(state, directory, salt_dir_mode(p["dir_mode"], p["mode"]))
    lines += [f"tmp=$(mktemp {directory}/.hafab-XXXXXXXX{ext})",
              "trap 'rm -f \"$tmp\"' EXIT",
              "trap 'exit 130' INT TERM HUP PIPE",
              "cat > \"$tmp\""]
    mode = p["mode"]
    if mode is None:
        lines.append(f"if [ -e {path} ]; then chmod --reference={path} \"$tmp\"; "
                     f"chown --reference={path} \"$tmp\"; else chmod 644 \"$tmp\"; fi")
    lines += _owner_commands(state, '"$tmp"', mode)
    if p.get("check_argv"):
        # no shell, as Salt's cmd.run_all(python_shell=False): `a && b`, $VAR, globs are plain words
        argv = " ".join(q(word) for word in p["check_argv"])
        lines.append(f"if ! out=$({argv} \"$tmp\" 2>&1); then "
                     f"printf '%s\\n' \"$out\"; exit 3; fi")
    lines.append(f"mv -f \"$tmp\" {path}")
    return "\n".join(lines) + "\n"


@register
class Append(StateFunction):
    function = "file.append"
    args = frozenset({"text", "makedirs"})

    def prepare(self, state, ctx):
        path = _absolute(state)
        text = state.args.get("text")
        if isinstance(text, str):
            text = [text]
        if not isinstance(text, list) or not text:
            raise bad_arg(state, "text", "must be a line or a list of lines")
        # Salt's chunks: each item of `text` is looked for as a whole (whitespace-insensitive, on whole
        # lines, consecutive for a multi-line item); an item not found is appended whole.
        chunks = [str(item) for item in text]
        try:
            patterns = [salt_whitespace_regex(c) for c in chunks]
        except ValueError as exc:  # shlex: an unbalanced quote, which Salt cannot match either
            raise bad_arg(state, "text", f"{exc} (Salt splits each line into shell words)") from None
        state.prepared.update(path=path, chunks=chunks, patterns=patterns)

    def query(self, state, q):
        q.want_file(state.prepared["path"])

    def plan(self, state, facts):
        path = state.prepared["path"]
        fact = facts.files[path]
        content = fact.content or ""
        missing = []
        for chunk, pattern in zip(state.prepared["chunks"], state.prepared["patterns"]):
            if not re.search(pattern, content):
                missing.extend(chunk.splitlines())
        if not missing:
            return Plan(comment=f"File {path} is in correct state")
        old = fact.content if fact.exists else ""
        new = old + ("" if not old or old.endswith("\n") else "\n") + "".join(line + "\n" for line in missing)
        return Plan(changes={"diff": unified_diff(old, new, path)},
                    comment=f"File {path} is set to be updated", action=missing)

    def apply(self, state, plan, host):
        path = shlex.quote(state.prepared["path"])
        script = ["set -e"]
        if state.args.get("makedirs"):
            script.append(f"mkdir -p $(dirname {path})")
        script += [f"if [ -s {path} ] && [ \"$(tail -c 1 {path})\" != \"\" ]; then echo >> {path}; fi",
                   f"cat >> {path}"]
        data = "".join(line + "\n" for line in plan.action).encode("utf-8", "surrogateescape")
        result = host.run("\n".join(script) + "\n", stdin=data)
        if result.exit_status != 0:
            return Outcome(False, command_failed(result, f"appending to {state.prepared['path']}"))
        return Outcome(True, f"Appended {len(plan.action)} lines", plan.changes)


@register
class Directory(StateFunction):
    function = "file.directory"
    args = frozenset({"user", "group", "mode", "dir_mode", "makedirs"})

    def prepare(self, state, ctx):
        path = _absolute(state)
        require_bool(state, "makedirs")
        # Salt's file.directory: dir_mode, or `mode` when no dir_mode is given
        state.prepared.update(path=path, mode=_mode(state, "dir_mode") or _mode(state))

    def query(self, state, q):
        q.stats.add(state.prepared["path"])
        q.stats.add(os.path.dirname(state.prepared["path"]) or "/")

    def plan(self, state, facts):
        path, mode = state.prepared["path"], state.prepared["mode"]
        fact = facts.files[path]
        if fact.exists and fact.kind != "directory":
            return Plan(changes={"error": f"{path} is a {fact.kind}"}, action="refuse",
                        comment=f"Specified location {path} exists and is a {fact.kind}")
        if not fact.exists:
            parent = facts.files.get(os.path.dirname(path) or "/")
            if parent is not None and not parent.exists and not state.args.get("makedirs"):
                return Plan(changes={"error": "parent missing"}, action="refuse",
                            comment=f"No directory to create {path} in (set makedirs: True)")
            return Plan(changes={path: "New Dir"}, comment=f"The directory {path} is set to be created",
                        action="create")
        changes = _owner_changes(state, fact, mode)
        if not changes:
            return Plan(comment=f"The directory {path} is in the correct state")
        return Plan(changes=changes, comment=f"The directory {path} is set to be changed", action="meta")

    def apply(self, state, plan, host):
        path = state.prepared["path"]
        if plan.action == "refuse":
            return Outcome(False, plan.comment)
        q = shlex.quote(path)
        lines = ["set -e"]
        if plan.action == "create":
            if state.args.get("makedirs"):  # missing parents as Salt's _makedirs: same mode and owner
                lines += makedirs_lines(state, q, state.prepared["mode"])
            else:
                lines.append(f"mkdir {q}")
        lines += _owner_commands(state, q, state.prepared["mode"])
        result = host.run("\n".join(lines) + "\n")
        if result.exit_status != 0:
            return Outcome(False, command_failed(result, f"directory {path}"))
        return Outcome(True, f"Directory {path} updated" if plan.action == "meta" else f"Directory {path} created",
                       plan.changes)


@register
class Absent(StateFunction):
    function = "file.absent"
    args = frozenset()

    def prepare(self, state, ctx):
        path = _absolute(state)
        if os.path.normpath(path) == "/":
            raise bad_arg(state, "name", "refusing to remove /")
        state.prepared["path"] = path

    def query(self, state, q):
        q.stats.add(state.prepared["path"])

    def plan(self, state, facts):
        path = state.prepared["path"]
        if not facts.files[path].exists:
            return Plan(comment=f"File {path} is not present")
        return Plan(changes={"removed": path}, comment=f"File {path} is set for removal")

    def apply(self, state, plan, host):
        path = state.prepared["path"]
        result = host.run(f"rm -rf -- {shlex.quote(path)}\n")
        if result.exit_status != 0:
            return Outcome(False, command_failed(result, f"removing {path}"))
        return Outcome(True, f"Removed file {path}", plan.changes)
