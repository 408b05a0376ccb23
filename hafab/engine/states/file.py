"""file.managed, file.append, file.directory, file.absent."""

import difflib
import hashlib
import os
import re
import shlex

from hafab.engine import readfile
from hafab.engine.states.base import (CONTROL_RE, Outcome, Plan, StateFunction, bad_arg, check_path, command_failed,
                               register, require_bool, require_mapping, require_owner, require_str)
from hafab.engine.states.file_shell import (REFUSED_ROOT, absent_script, append_script, lexical_path,
                                     makedirs_lines, owner_commands, write_script)

TEXT_LIMIT = 512 * 1024


def _absolute(state, regular_file=False):
    path = check_path(state, "name", state.name)
    if regular_file and path.endswith("/"):
        raise bad_arg(state, "name", f"{path!r} names a directory (ends with '/'), not a file")
    return path


def _mode(state, arg="mode"):
    """The mode as Salt's salt.utils.files.normalize_mode reads it: the digits written (the SLS loader
    reads an unquoted 0640 as 640, as Salt's does), an optional 0o prefix, leading zeros dropped."""
    value = state.args.get(arg)
    if value is None:
        return None
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else "?"
    text = (text[2:] if text.startswith("0o") else text).lstrip("0") or "0"
    if not all(c in "01234567" for c in text) or len(text) > 4:
        raise bad_arg(state, arg, f"{value!r} is not an octal mode (e.g. '0644')")
    return text


def _owners(state):
    """Check user and group (chown's operands) at compile time; keep them as strings."""
    state.prepared.update(user=require_owner(state, "user"), group=require_owner(state, "group"))


def _owner_changes(state, fact, mode):
    changes = {}
    user, group = state.prepared["user"], state.prepared["group"]
    if user is not None and fact.user != user:
        changes["user"] = user
    if group is not None and fact.group != group:
        changes["group"] = group
    if mode is not None and fact.mode != mode:
        changes["mode"] = mode.zfill(4)
    return changes


def new_file_changes(state, mode):
    """What Salt reports besides the diff for a file it creates (as root): the owner when it is not root,
    the mode when it is not the 0600 the file is created with (a mode given) or umask's 0644 (none)."""
    changes = {}
    for arg in ("user", "group"):
        value = state.prepared[arg]
        if value is not None and value not in ("root", "0"):
            changes[arg] = value
    if mode is not None and mode != "600":
        changes["mode"] = mode.zfill(4)
    return changes


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
        """Every argument's type is checked before anything is rendered or read."""
        path = _absolute(state, regular_file=True)
        source, contents = state.args.get("source"), state.args.get("contents")
        if (source is None) == (contents is None):
            raise bad_arg(state, "source", "give exactly one of source or contents")
        if isinstance(source, list) and len(source) == 1:
            source = source[0]
        if source is not None and not isinstance(source, str):
            raise bad_arg(state, "source", f"{source!r} must be one salt:// path")
        if contents is not None:
            contents = _lines_arg(state, "contents", contents, "\n")
        template = state.args.get("template")
        if template not in (None, "jinja"):
            raise bad_arg(state, "template", f"{template!r} is not supported (only jinja)")
        extra = dict(require_mapping(state, "defaults"))
        extra.update(require_mapping(state, "context"))
        for arg, default in (("makedirs", False), ("show_changes", True), ("replace", True)):
            require_bool(state, arg, default)
        _owners(state)
        state.prepared.update(path=path, mode=_mode(state), dir_mode=_mode(state, "dir_mode"),
                              check_argv=_check_argv(state), tmp_ext=_tmp_ext(state))
        where = f"{state.file}: {state.id}"
        if source is not None:
            source_path = ctx.source_path(source, where)
            if template:
                text = ctx.render_file(source_path, extra, where)
            else:
                data = readfile.read_bytes(source_path, f"{where}: {ctx.relative(source_path)}")
                text = data.decode("utf-8", "surrogateescape")  # a static file may be binary
        else:
            text = ctx.render_text(contents, extra, where) if template else contents
            if not text.endswith("\n"):
                text += "\n"
        state.prepared.update(text=text, sha256=hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest())

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

    def touched_paths(self, state, plan):
        return [state.prepared["path"]] if plan.action in ("write", "meta") else []

    def restore_info(self, state):
        info = {"check_argv": list(state.prepared.get("check_argv") or [])}
        if not state.args.get("show_changes", True):
            info["show_changes"] = False       # a rollback of this file shows no diff either
        return info

    def apply(self, state, plan, host):
        p = state.prepared
        if plan.action == "refuse":
            return Outcome(False, plan.comment)
        if plan.action == "meta":
            result = host.run("set -e\n" + "\n".join(owner_commands(state, shlex.quote(p["path"]), p["mode"])))
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


def _lines_arg(state, arg, value, joiner=None):
    """contents/text: a string (a number is written as Salt writes it), or a list of them: joined with
    `joiner`, or as a list when there is none (text, whose items are looked for one by one)."""
    items = value if isinstance(value, list) else [value]
    scalars = all(isinstance(i, (str, int, float)) and not isinstance(i, bool) for i in items)
    if joiner is None and not items or not scalars:
        raise bad_arg(state, arg, f"{value!r} must be a string or a list of strings (quote words YAML reads "
                                  "as booleans)")
    strings = [str(i) for i in items]
    return strings if joiner is None else joiner.join(strings)


def _check_argv(state):
    """Salt runs file.managed's check_cmd without a shell: its words, then the temp file."""
    check_cmd = require_str(state, "check_cmd")
    try:
        return shlex.split(check_cmd) if check_cmd else []
    except ValueError as exc:
        raise bad_arg(state, "check_cmd", f"{exc}") from None


def _tmp_ext(state):
    """The temp file's suffix (mktemp's): a plain name ending, no '/' and no control character."""
    ext = require_str(state, "tmp_ext") or ""
    if "/" in ext or CONTROL_RE.search(ext):
        raise bad_arg(state, "tmp_ext", f"{ext!r} must be a file name suffix (no '/', no control character)")
    return ext


def _tail(text, lines=4):
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(kept[-lines:]) or "(no output)"


@register
class Append(StateFunction):
    function = "file.append"
    args = frozenset({"text", "makedirs"})

    def prepare(self, state, ctx):
        path = _absolute(state, regular_file=True)
        require_bool(state, "makedirs")
        if state.args.get("text") is None:
            raise bad_arg(state, "text", "missing (a line or a list of lines)")
        # Salt's chunks: each item of `text` is looked for as a whole (whitespace-insensitive, on whole
        # lines, consecutive for a multi-line item); an item not found is appended whole.
        chunks = _lines_arg(state, "text", state.args["text"])
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

    def touched_paths(self, state, plan):
        return [state.prepared["path"]]

    def apply(self, state, plan, host):
        data = "".join(line + "\n" for line in plan.action).encode("utf-8", "surrogateescape")
        result = host.run(append_script(state), stdin=data)
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
        _owners(state)
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

    def touched_paths(self, state, plan):
        return [state.prepared["path"]] if plan.action in ("create", "meta") else []

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
                lines.append(f"mkdir -- {q}")
        lines += owner_commands(state, q, state.prepared["mode"])
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
        if lexical_path(path) == "/":
            raise bad_arg(state, "name", f"refusing to remove / ({path!r} is /)")
        state.prepared["path"] = path

    def query(self, state, q):
        q.stats.add(state.prepared["path"])

    def plan(self, state, facts):
        path = state.prepared["path"]
        if not facts.files[path].exists:
            return Plan(comment=f"File {path} is not present")
        return Plan(changes={"removed": path}, comment=f"File {path} is set for removal")

    def touched_paths(self, state, plan):
        return [state.prepared["path"]]

    def apply(self, state, plan, host):
        path = state.prepared["path"]
        result = host.run(absent_script(path))
        if result.exit_status == REFUSED_ROOT:
            return Outcome(False, f"Refusing to remove {path}: on the host it resolves to /")
        if result.exit_status != 0:
            return Outcome(False, command_failed(result, f"removing {path}"))
        return Outcome(True, f"Removed file {path}", plan.changes)
