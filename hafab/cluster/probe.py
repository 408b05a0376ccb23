"""HTTP probes from this machine (the operator's) to the cluster: one GET per new connection.

Every request opens its own TCP connection (no keep-alive), so each one is balanced anew, with bounded
timeouts and a bounded body. A `Prober` only sends to addresses it has checked: for a lab, every address
inside cluster.subnet must be routed through the lab's bridge (hafab.cluster.reach.require_lab_routes), which is
done when the prober is made, so the safe path is the easy one.

    prober = Prober(inventory)                      # lab: routes checked here, InputError if not
    one = prober.get(vip, "/")                      # one request
    many = prober.many(vip, 200, rate=200)          # N requests, paced, bounded in time
    https = prober.get(vip, "/", port=443, tls=context)   # HTTPS: a new connection and a full handshake

Over HTTPS (`tls`: an ssl.SSLContext) every request makes a new TLS session (no session is offered for
resumption), the chain and the name (`server_name`, default the address) are checked by the context, and
the Response says the protocol version and whether the session was resumed.
"""

import base64
import http.client
import re
import socket
import ssl
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from hafab.lab import netguard
from hafab.cluster import reach
from hafab.engine.errors import InputError

MAX_BODY = 1024 * 1024     # bytes read from one response at most
MAX_REQUESTS = 100_000     # one many() call
MAX_WORKERS = 64
DEFAULT_TIMEOUT = 1.0      # seconds, for connect and for each read
USER_AGENT = "hafab-probe"

H1_RE = re.compile(r"<h1[^>]*>\s*([^<]+?)\s*</h1>", re.IGNORECASE)
SERVER_HEADERS = ("x-served-by", "x-server", "x-backend-server")


@dataclass
class Response:
    """One request's outcome. status is None when no HTTP answer came (error says why)."""

    address: str
    path: str
    status: int | None = None
    body: str = ""
    headers: dict = field(default_factory=dict)   # lower-case name -> value (last one wins)
    set_cookies: list = field(default_factory=list)
    latency: float = 0.0          # seconds from connect to the end of the body (or the error)
    started: float = 0.0          # time.monotonic() when the request began
    error: str = ""               # "refused", "timeout", "reset", ... when status is None
    local: tuple = ("", 0)        # this machine's (address, port) of the connection
    server: str | None = None     # the web server that answered, from a header or the page's <h1>
    tls_version: str = ""         # HTTPS: the protocol the handshake agreed ("TLSv1.3")
    tls_resumed: bool = False     # HTTPS: the session was resumed (never, as no session is offered)

    @property
    def answered(self):
        return self.status is not None

    def summary(self):
        if self.status is None:
            return self.error
        return f"{self.status}" + (f" from {self.server}" if self.server else "")


def served_by(body, headers):
    """Which web server answered: an X-Served-By-like header, else the first <h1> of the page."""
    for name in SERVER_HEADERS:
        if headers.get(name):
            return headers[name].strip()
    match = H1_RE.search(body or "")
    return match.group(1) if match else None


def basic_auth(user, password):
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class _HTTPSConnection(http.client.HTTPConnection):
    """HTTPS to an address, the certificate checked for `server_name` (an IP address or a DNS name)."""

    def __init__(self, address, port, timeout, context, server_name):
        super().__init__(address, port, timeout=timeout)
        self._context, self._server_name = context, server_name

    def connect(self):
        super().connect()
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self._server_name)


def request(address, path="/", port=80, headers=None, timeout=DEFAULT_TIMEOUT, method="GET", tls=None,
            server_name=None):
    """One request on a new connection (closed afterwards). Never raises for network errors.

    Low-level: sends without any route check. Use a Prober, which checks lab routes first.
    """
    started = time.monotonic()
    response = Response(address=address, path=path, started=started)
    if tls is None:
        conn = http.client.HTTPConnection(address, port, timeout=timeout)
    else:
        conn = _HTTPSConnection(address, port, timeout, tls, server_name or address)
    try:
        conn.connect()
        response.local = conn.sock.getsockname()[:2]
        if tls is not None:
            response.tls_version, response.tls_resumed = conn.sock.version() or "", conn.sock.session_reused
        sent = {"User-Agent": USER_AGENT, "Connection": "close"}
        sent.update(headers or {})
        conn.request(method, path, headers=sent)
        answer = conn.getresponse()
        body = answer.read(MAX_BODY)
        response.status = answer.status
        response.headers = {k.lower(): v for k, v in answer.getheaders()}
        response.set_cookies = answer.msg.get_all("Set-Cookie") or []
        response.body = body.decode("utf-8", "replace")
        response.server = served_by(response.body, response.headers)
    except ConnectionRefusedError:
        response.error = "refused"
    except ConnectionResetError:
        response.error = "reset"
    except (socket.timeout, TimeoutError):
        response.error = f"timeout after {timeout:g} s"
    except ssl.SSLCertVerificationError as exc:
        response.error = f"certificate not trusted: {exc.verify_message}"
    except ssl.SSLError as exc:
        response.error = f"TLS handshake failed: {exc.reason or exc}"
    except (http.client.HTTPException, OSError) as exc:
        response.error = f"{type(exc).__name__}: {exc}".rstrip(": ")
    finally:
        conn.close()
        response.latency = time.monotonic() - started
    return response


class Prober:
    """Sends requests only to addresses it has checked (lab: routed through the lab bridge).

    `lab=True` (the default) means the lab's hosts are the target: every address inside
    cluster.subnet is checked with reach.require_lab_routes before anything is sent (InputError
    otherwise, which is exit 2 with nothing sent). `lab=False` is for real hosts (--ssh-config).
    """

    def __init__(self, inventory, lab=True, timeout=DEFAULT_TIMEOUT):
        self.inventory = inventory
        self.lab = lab
        self.timeout = timeout
        self._checked = set()
        self._lock = threading.Lock()
        self.allow([inventory.cluster["vip"]] + [h.address for h in inventory.hosts.values()])

    def allow(self, addresses):
        """Check the route of each address now (lab addresses only); InputError when one is off the lab."""
        todo = [a for a in addresses if a not in self._checked]
        if self.lab:
            lab_addresses = [a for a in todo if netguard.in_subnet(a, self.inventory)]
            if lab_addresses:
                reach.require_lab_routes(self.inventory, lab_addresses)
            outside = [a for a in todo if not netguard.in_subnet(a, self.inventory) and not _loopback(a)]
            if outside:
                raise InputError("probe", f"{outside[0]} is neither a lab address nor loopback: refusing to send")
        with self._lock:
            self._checked.update(todo)

    def get(self, address, path="/", port=80, headers=None, timeout=None, method="GET", tls=None,
            server_name=None):
        """One request on a new connection -> Response (HTTPS with `tls`, an ssl.SSLContext)."""
        if address not in self._checked:
            self.allow([address])
        return request(address, path, port=port, headers=headers, timeout=timeout or self.timeout, method=method,
                       tls=tls, server_name=server_name)

    def many(self, address, count, path="/", port=80, headers=None, rate=None, workers=1, timeout=None,
             deadline=None, on_response=None, tls=None):
        """`count` requests to address, each on a new connection; Responses in the order they were sent.

        rate: requests per second (None = back to back); workers: requests in flight at most (use more
        than one with a rate, so a slow answer does not delay the next ones); deadline: seconds for the
        whole run, after which no more requests are started (default: enough for the rate plus the
        timeouts). on_response(i, Response) is called as each one finishes.
        """
        if not 1 <= count <= MAX_REQUESTS:
            raise InputError("probe", f"request count {count} must be 1..{MAX_REQUESTS}")
        workers = max(1, min(int(workers), MAX_WORKERS))
        timeout = timeout or self.timeout
        if deadline is None:
            deadline = (count / rate if rate else 0) + timeout * (count / workers + 1) + 1
        if address not in self._checked:
            self.allow([address])
        start = time.monotonic()
        stop_at = start + deadline
        results = [None] * count

        def one(i):
            if rate:
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            if time.monotonic() >= stop_at:
                return
            results[i] = request(address, path, port=port, headers=headers, timeout=timeout, tls=tls)
            if on_response:
                on_response(i, results[i])

        if workers == 1:
            for i in range(count):
                one(i)
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(one, range(count)))
        return [r for r in results if r is not None]


def _loopback(address):
    return address.startswith("127.")


def neighbour_mac(address, device=None):
    """The MAC this machine's ARP table has for address (after a probe), or None. Sends nothing."""
    command = ["ip", "-4", "neigh", "show", address] + (["dev", device] if device else [])
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=5, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in out.stdout.splitlines():
        words = line.split()
        if "lladdr" in words:
            return words[words.index("lladdr") + 1].lower()
    return None
