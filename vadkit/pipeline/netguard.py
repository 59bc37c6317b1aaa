"""A network guard for chapter kernels: connections to anything but loopback are refused in-process.

The rule: the set-up (``make`` targets) may use the package registries; executing a chapter on the smoke
profile never touches the network. :func:`vadkit.pipeline.notebooks.run_notebook` enforces it by setting
:data:`ENV` in the kernel's environment and starting the kernel with one ``exec_lines`` entry that calls
:func:`install` before the first cell. The kernel talks to papermill over loopback ZMQ (libzmq's own
sockets, and loopback anyway), so that keeps working.

What :func:`install` patches, each refusing with :class:`NetworkBlockedError` *before* any packet is sent:

* ``socket.socket.connect`` / ``connect_ex`` / ``sendto`` / ``sendmsg`` to an address that is not loopback
  (``127.0.0.0/8``, ``::1``, ``localhost``; ``AF_UNIX`` paths always pass);
* ``socket.getaddrinfo`` / ``gethostbyname`` / ``gethostbyname_ex`` of a host that is not loopback, so no
  DNS query leaves the machine either (``create_connection``, ``urllib``, ``requests`` and the Hugging Face
  hub all resolve through these);
* ``subprocess.Popen`` of a network tool (``apt-get``, ``apt``, ``pip``, ``curl``, ``wget``, ``git``, or
  ``python -m pip``), the way ``apt-get download`` used to be run by a chapter.

``NetworkBlockedError`` is a ``RuntimeError``, not an ``OSError``: libraries that treat an ``OSError`` as
"offline, try the next source" must not hide the attempt, the chapter must fail and say what it tried.
The guard is per process (a worker process the chapter starts is not covered, its parent's attempts are).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess

ENV = "VADKIT_NO_NETWORK"
NETWORK_TOOLS = frozenset({"apt-get", "apt", "aptitude", "pip", "pip3", "curl", "wget", "git"})


class NetworkBlockedError(RuntimeError):
    """A chapter kernel (or test) tried to reach the network while the guard is on."""


_installed = False
_orig: dict = {}


def _is_loopback_host(host) -> bool:
    if host is None:
        return True                       # getaddrinfo(None, port): the local wildcard / loopback
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    host = str(host).strip().strip("[]").split("%")[0]
    if host in ("", "localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False                      # a name other than localhost: resolving it is a DNS query


def _check_address(address, what: str) -> None:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return
    if isinstance(address, tuple) and address and not _is_loopback_host(address[0]):
        raise NetworkBlockedError(f"network access refused ({what} to {address[0]!r}): chapters run offline "
                                  f"({ENV}=1); only loopback is allowed")


def _check_host(host, what: str) -> None:
    if not _is_loopback_host(host):
        raise NetworkBlockedError(f"network access refused ({what} of {host!r}): chapters run offline "
                                  f"({ENV}=1); only loopback is allowed")


def _tool(args) -> str | None:
    argv = [args] if isinstance(args, (str, bytes, os.PathLike)) else list(args or ())
    if not argv:
        return None
    first = str(argv[0])
    words = first.split() if isinstance(args, str) else [first] + [str(a) for a in argv[1:3]]
    name = os.path.basename(words[0]) if words else ""
    if name in NETWORK_TOOLS:
        return name
    if name.startswith("python") and len(words) >= 3 and words[1] == "-m" and words[2] in ("pip", "pip3"):
        return "python -m pip"
    return None


def install() -> None:
    """Turn the guard on in this process (idempotent)."""
    global _installed
    if _installed:
        return
    sock = socket.socket
    _orig.update(connect=sock.connect, connect_ex=sock.connect_ex, sendto=sock.sendto,
                 sendmsg=getattr(sock, "sendmsg", None), getaddrinfo=socket.getaddrinfo,
                 gethostbyname=socket.gethostbyname, gethostbyname_ex=socket.gethostbyname_ex,
                 popen_init=subprocess.Popen.__init__)

    def connect(self, address):
        _check_address(address, "connect")
        return _orig["connect"](self, address)

    def connect_ex(self, address):
        _check_address(address, "connect")
        return _orig["connect_ex"](self, address)

    def sendto(self, data, *args):
        _check_address(args[-1] if args else None, "sendto")
        return _orig["sendto"](self, data, *args)

    def sendmsg(self, buffers, ancdata=(), flags=0, address=None):
        if address is not None:
            _check_address(address, "sendmsg")
        return _orig["sendmsg"](self, buffers, ancdata, flags, *(() if address is None else (address,)))

    def getaddrinfo(host, *args, **kwargs):
        _check_host(host, "name lookup")
        return _orig["getaddrinfo"](host, *args, **kwargs)

    def gethostbyname(host):
        _check_host(host, "name lookup")
        return _orig["gethostbyname"](host)

    def gethostbyname_ex(host):
        _check_host(host, "name lookup")
        return _orig["gethostbyname_ex"](host)

    def popen_init(self, args, *a, **kw):
        tool = _tool(args)
        if tool:
            raise NetworkBlockedError(f"network tool refused ({tool}: {args!r}): chapters run offline ({ENV}=1); "
                                      f"set-up steps (make footage, make setup) fetch what chapters need")
        return _orig["popen_init"](self, args, *a, **kw)

    sock.connect, sock.connect_ex, sock.sendto = connect, connect_ex, sendto
    if _orig["sendmsg"] is not None:
        sock.sendmsg = sendmsg
    socket.getaddrinfo, socket.gethostbyname, socket.gethostbyname_ex = getaddrinfo, gethostbyname, gethostbyname_ex
    subprocess.Popen.__init__ = popen_init
    _installed = True


def uninstall() -> None:
    """Turn the guard off again (tests)."""
    global _installed
    if not _installed:
        return
    sock = socket.socket
    sock.connect, sock.connect_ex, sock.sendto = _orig["connect"], _orig["connect_ex"], _orig["sendto"]
    if _orig["sendmsg"] is not None:
        sock.sendmsg = _orig["sendmsg"]
    socket.getaddrinfo = _orig["getaddrinfo"]
    socket.gethostbyname, socket.gethostbyname_ex = _orig["gethostbyname"], _orig["gethostbyname_ex"]
    subprocess.Popen.__init__ = _orig["popen_init"]
    _installed = False


def install_if_requested() -> bool:
    """:func:`install` when :data:`ENV` is ``"1"`` in the environment; returns whether the guard is on."""
    if os.environ.get(ENV) == "1":
        install()
    return _installed


#: The kernel argument :func:`vadkit.pipeline.notebooks.run_notebook` passes to guard a kernel.
KERNEL_ARGUMENT = ("--IPKernelApp.exec_lines="
                   "__import__('vadkit.pipeline.netguard').pipeline.netguard.install_if_requested()")
