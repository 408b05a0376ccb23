"""The shell scripts of the file states. Every operand is quoted and passed after `--`; names, modes and
owners were checked at compile time (file.py), paths are absolute."""

import os
import shlex


def owner_commands(state, path, mode):
    """chown/chmod lines for `path` (already quoted); user, group and mode were checked at compile time."""
    q = shlex.quote
    lines = []
    user, group = state.prepared["user"], state.prepared["group"]
    if user is not None or group is not None:
        owner = f"{user or ''}:{group}" if group is not None else user
        lines.append(f"chown -- {q(owner)} {path}")
    if mode is not None:
        lines.append(f"chmod -- {q(mode)} {path}")
    return lines


def salt_dir_mode(dir_mode, mode):
    """The mode Salt gives directories that makedirs creates: dir_mode, else the file's mode with an
    execute bit added to each non-zero digit (salt.modules.file.manage_file), else None (umask 022)."""
    if dir_mode is not None or mode is None:
        return dir_mode
    return "".join(str(int(d) | 1) if d != "0" else d for d in mode.zfill(3)[-3:])


def makedirs_lines(state, directory, dir_mode):
    """Shell lines creating the missing directories up to `directory` (quoted) as Salt's makedirs_ does:
    each new one gets `dir_mode` (default 0755) and the state's user/group; existing ones are left alone."""
    owner = owner_commands(state, '"$d"', None)
    return ["set --", f"d={directory}",
            'while [ ! -d "$d" ]; do set -- "$d" "$@"; d=$(dirname -- "$d"); done',
            'for d in "$@"; do',
            f'  mkdir -- "$d"; chmod -- {shlex.quote(dir_mode or "755")} "$d"' + "".join(f"; {c}" for c in owner),
            "done"]


def write_script(state):
    """Write stdin to a temp file beside the target, validate it with check_cmd, then rename atomically.

    The temp file is removed on any exit or signal, so an interrupted run leaves nothing behind.
    Exit status 3 means check_cmd rejected the content.
    """
    p = state.prepared
    q = shlex.quote
    path = q(p["path"])
    directory = q(os.path.dirname(p["path"]) or "/")
    ext = q(p["tmp_ext"])
    lines = ["set -e", "umask 077"]
    if state.args.get("makedirs"):
        lines += makedirs_lines(state, directory, salt_dir_mode(p["dir_mode"], p["mode"]))
    lines += [f"tmp=$(mktemp -- {directory}/.hafab-XXXXXXXX{ext})",
              "trap 'rm -f -- \"$tmp\"' EXIT",
              "trap 'exit 130' INT TERM HUP PIPE",
              "cat > \"$tmp\""]
    mode = p["mode"]
    if mode is None:
        lines.append(f"if [ -e {path} ]; then chmod --reference={path} -- \"$tmp\"; "
                     f"chown --reference={path} -- \"$tmp\"; else chmod 644 -- \"$tmp\"; fi")
    lines += owner_commands(state, '"$tmp"', mode)
    if p.get("check_argv"):
        lines.append(check_line(p["check_argv"]))
    lines.append(f"mv -f -- \"$tmp\" {path}")
    return "\n".join(lines) + "\n"


def check_line(argv):
    """The sh line that validates "$tmp" with check_cmd's words, exit status 3 (and its output) when it
    fails. No shell, as Salt's cmd.run_all(python_shell=False): `a && b`, $VAR, globs are plain words."""
    words = " ".join(shlex.quote(word) for word in argv)
    return f"if ! out=$({words} \"$tmp\" 2>&1); then printf '%s\\n' \"$out\"; exit 3; fi"


def append_script(state):
    """Append stdin to the file, after a newline if its last line has none (parents made if asked)."""
    q = shlex.quote
    path = q(state.prepared["path"])
    script = ["set -e"]
    if state.args.get("makedirs"):
        script.append(f"mkdir -p -- {q(os.path.dirname(state.prepared['path']) or '/')}")
    script += [f"if [ -s {path} ] && [ \"$(tail -c 1 -- {path})\" != \"\" ]; then echo >> {path}; fi",
               f"cat >> {path}"]
    return "\n".join(script) + "\n"


REFUSED_ROOT = 3  # exit status of absent_script when the path is / on the host


def lexical_path(path):
    """`path` with '.', '..' and repeated '/' resolved as text (POSIX normpath keeps a leading '//')."""
    return "/" + os.path.normpath(path).lstrip("/")


def absent_script(path):
    """rm -rf of `path`, unless on the host it resolves to / (through '..', a symlink such as
    /proc/self/root, or a bind mount of /: same device and inode as /)."""
    q = shlex.quote(path)
    return "\n".join([
        f"p={q}",
        'r=$(realpath -m -- "$p") || exit 1',
        'if [ "$r" = / ] || { [ -e "$p" ] && [ "$(stat -L -c %d:%i -- "$p")" = "$(stat -L -c %d:%i -- /)" ]; }; then',
        f"  printf 'refusing to remove %s: it resolves to /\\n' \"$p\" >&2; exit {REFUSED_ROOT}",
        "fi",
        'rm -rf -- "$p"']) + "\n"
