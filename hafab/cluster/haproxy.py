"""HAProxy as the cluster uses it: config path, the web servers' backend, the runtime API and its CSV.

The names here are the ones `files/haproxy/haproxy.cfg` declares; tests/unit/test_cluster_vocabulary.py
renders the template and fails when the two disagree.
"""

import csv
import io
import shlex

CONFIG = "/etc/haproxy/haproxy.cfg"
BACKEND = "webservers"                   # `backend webservers`: the web servers, one `server` line each
ADMIN_SOCKET = "/run/haproxy/admin.sock"  # `stats socket ... level admin`: the runtime API
SERVER_ROWS_EXCLUDED = ("FRONTEND", "BACKEND")
HTTP_PORT = 80                           # `bind *:80` of frontend http-in (cluster.http: off drops it with TLS)
HTTPS_PORT = 443                         # `bind *:443 ssl crt ...` when cluster.tls is not none
TLS_PEM = "/etc/haproxy/tls/cluster.pem"  # the certificate and key HAProxy serves (root, 0600)
HSTS = "strict-transport-security"       # the header HTTPS answers carry when cluster.http: redirect


def runtime_command(command, timeout=2):
    """Shell command sending one runtime-API `command` to HAProxy's admin socket, bounded in time."""
    return f"echo {shlex.quote(command)} | timeout {timeout} socat stdio UNIX-CONNECT:{ADMIN_SOCKET}"


def set_server_state(server, state):
    """Runtime-API command that sets `server` of the web backend to `state` (ready, drain, maint)."""
    return f"set server {BACKEND}/{server} state {state}"


def parse_stats_csv(text):
    """Rows of HAProxy's CSV stats (`;csv` or `show stat`) as dicts keyed by the header's names."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("# "):
        return []
    header = lines[0][2:].split(",")
    return [dict(zip(header, values)) for values in csv.reader(io.StringIO("\n".join(lines[1:])))]


def server_row(rows, server):
    """The row of `server` in the web backend, or None."""
    return next((row for row in rows if row.get("pxname") == BACKEND and row.get("svname") == server), None)


def server_rows(rows):
    """{server name: row} of every server (not frontend or backend summary rows)."""
    return {row.get("svname"): row for row in rows if row.get("svname") not in SERVER_ROWS_EXCLUDED}


def backend_servers(rows):
    """Names of the servers HAProxy runs in the web backend now (from `show stat` rows)."""
    return [row.get("svname") for row in rows
            if row.get("pxname") == BACKEND and row.get("svname") not in SERVER_ROWS_EXCLUDED]


def new_server_command(server):
    """Shell command whose exit status is 0 when HAProxy answers stats and its web backend has no
    server `server` yet (a web server this LB's next config adds); 1 otherwise (also with no HAProxy)."""
    stats = runtime_command("show stat", timeout=5)
    line = shlex.quote(f"^{BACKEND},{server},")
    return f'out=$({stats} 2>/dev/null) && [ -n "$out" ] && ! printf "%s\\n" "$out" | grep -q {line}'


def port_open_command(address, port=80, timeout=3):
    """Shell command whose exit status is 0 when `address:port` accepts a TCP connection."""
    target = shlex.quote(f"/dev/tcp/{address}/{int(port)}")
    return f"timeout {int(timeout)} bash -c {shlex.quote('exec 3<>' + target)}"
