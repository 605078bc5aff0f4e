"""python -m servers <framework> [--host 127.0.0.1] [--port 0] [--loop asyncio|uvloop] ...

Runs one framework's server for the endpoint contract (servers/contract.py) until SIGINT
or SIGTERM. Prints one JSON ready line with the bound port once it accepts connections.
``--workers N`` runs N processes in the framework's own multi-process mode (servers/workers.py);
the ready line then names them, and exit status 5 says one died. ``--tls-cert FILE --tls-key FILE``
serves https and wss in the framework's own TLS setting (harness/tls.py makes a run's certificate);
the ready line then says ``"tls": true``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import ipaddress
import os
import signal
import socket
import ssl
import sys

import servers
from servers import contract

EXIT_USAGE, EXIT_UNAVAILABLE, EXIT_BIND = 2, 3, 4
STOP_TIMEOUT = 5.0
# A module imported before the server starts. Only the tests set it: tests/slowed_echo.py
# adds a known cost to one server's echo path, to prove the cost family and
# harness.regressions see a 1 % change and name the function that grew.
PRELOAD_ENV = "BENCH_SERVER_PRELOAD"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m servers", description=__doc__.splitlines()[0])
    parser.add_argument("framework", help=f"one of: {', '.join(servers.FRAMEWORKS)}")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one")
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--json", dest="json_codec", choices=("stdlib", "orjson"), default="stdlib")
    parser.add_argument("--compression", action="store_true", help="negotiate permessage-deflate")
    parser.add_argument("--cache-ttl", type=float, default=contract.DEFAULT_CACHE_TTL_S, help="cache TTL, seconds")
    parser.add_argument("--backend-ms", type=float, default=contract.DEFAULT_BACKEND_MS, help="backend delay, ms")
    parser.add_argument("--redis-port", type=int, default=None, help="redis-server on 127.0.0.1 for /cache/redis")
    parser.add_argument("--workers", type=int, default=1, help="server processes, in the framework's own mode")
    parser.add_argument("--tls-cert", metavar="FILE", help="serve TLS with this PEM certificate (with --tls-key)")
    parser.add_argument("--tls-key", metavar="FILE", help="the certificate's unencrypted PEM private key")
    return parser.parse_args(argv)


def server_options(args: argparse.Namespace) -> servers.ServerOptions:
    return servers.ServerOptions(
        args.json_codec, args.compression, args.cache_ttl, args.backend_ms, args.redis_port, args.tls_cert, args.tls_key
    )


def tls_refused(args: argparse.Namespace) -> str | None:
    """Why the TLS flags cannot be served (a usage error), or None. Checked before the bind, and
    by loading them as a server does, so that a wrong file is named here and not in the middle of
    a framework's start-up, where it would read as the framework failing."""
    if args.tls_cert is None and args.tls_key is None:
        return None
    if args.tls_cert is None or args.tls_key is None:
        given, missing = ("--tls-cert", "--tls-key") if args.tls_key is None else ("--tls-key", "--tls-cert")
        return f"{given} needs {missing} too: TLS takes both the certificate and its key"
    # OpenSSL's own message for a file that is not what it should be is "PEM lib", naming neither
    # file nor fault: each file is looked at first, to say which.
    expected = (
        ("--tls-cert", args.tls_cert, "-----BEGIN CERTIFICATE-----", "PEM certificate"),
        ("--tls-key", args.tls_key, "PRIVATE KEY-----", "PEM private key"),
    )
    for flag, path, marker, what in expected:
        try:
            with open(path, "rb") as file:
                text = file.read(1 << 20).decode("ascii", errors="replace")
        except OSError as exc:
            return f"{flag} {path}: {exc.strerror or exc}"
        if marker not in text:
            return f"{flag} {path}: no {what} in it"
        if flag == "--tls-key" and "ENCRYPTED" in text:
            return f"{flag} {path}: the key is encrypted; servers take an unencrypted key"
    try:
        servers.server_ssl_context(server_options(args))
    except (ssl.SSLError, OSError) as exc:
        cause = exc.reason if isinstance(exc, ssl.SSLError) and exc.reason else exc.strerror or str(exc)
        if cause == "KEY_VALUES_MISMATCH":
            cause = "the key does not belong to the certificate"
        return f"cannot load the TLS certificate {args.tls_cert} with the key {args.tls_key}: {cause}"
    return None


def fail(code: int, message: str) -> int:
    print(f"python -m servers: error: {message}", file=sys.stderr)
    return code


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def loop_factory(name: str):
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop


async def serve(args: argparse.Namespace, sock: socket.socket) -> None:
    module = servers.load(args.framework)
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop_requested.set)
    options = server_options(args)
    stop = await module.start(sock, options)
    print(contract.ready_line(args.framework, sock.getsockname()[1], os.getpid(), tls=options.tls), flush=True)
    await stop_requested.wait()
    await asyncio.wait_for(stop(), STOP_TIMEOUT)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.workers < 1:
        return fail(EXIT_USAGE, f"--workers must be at least 1, not {args.workers}")
    tls_error = tls_refused(args)
    if tls_error:
        return fail(EXIT_USAGE, tls_error)
    try:
        reason = servers.missing(args.framework)
    except servers.UnknownFramework as exc:
        return fail(EXIT_USAGE, str(exc))
    if reason is None and args.loop == "uvloop":
        try:
            loop_factory("uvloop")
        except ImportError:
            reason = "uvloop is not installed in this environment"
    if reason:
        return fail(EXIT_UNAVAILABLE, f"cannot run {args.framework}: {reason} ({sys.executable})")
    if args.workers > 1 and servers.workers_unsupported(args.framework):
        why = servers.get(args.framework).no_workers_reason
        return fail(EXIT_UNAVAILABLE, f"cannot run {args.framework} on {args.workers} workers: {why}")
    if not is_loopback(args.host):
        print(f"python -m servers: warning: binding {args.host}, which is not loopback", file=sys.stderr)
    try:
        # Several workers: SO_REUSEPORT, so that a mode whose workers bind sockets of their own on
        # the port can (servers.workers.reuse_port); a socket all of them share is the same with it.
        sock = socket.create_server((args.host, args.port), backlog=servers.LISTEN_BACKLOG, reuse_port=args.workers > 1)
    except OSError as exc:
        return fail(EXIT_BIND, f"cannot bind {args.host}:{args.port}: {exc.strerror or exc}")
    # create_server makes the socket with protocol 0, and asyncio sets TCP_NODELAY only on sockets
    # whose protocol reads IPPROTO_TCP, as those a server binds itself do. Made again from its
    # descriptor, the socket reads its real protocol, so each framework runs as it does when it
    # binds its own: without this, uvicorn's two writes per response waited ~40 ms on Nagle.
    sock = socket.socket(fileno=sock.detach())
    sock.setblocking(False)  # Tornado's accept loop expects it; asyncio sets it anyway
    if args.workers > 1:
        # Imported here only: with one worker this process imports nothing more, as the cost
        # family's instruction counts need (servers/workers.py). The supervisor imports the
        # framework and the preload, after the fork, so that the root stays small.
        from servers import workers

        return workers.run(
            args.framework, sock, server_options(args), args.workers, args.loop, os.environ.get(PRELOAD_ENV, "")
        )
    if os.environ.get(PRELOAD_ENV):
        importlib.import_module(os.environ[PRELOAD_ENV])
    servers.run_on_new_loop(serve(args, sock), loop_factory(args.loop))
    return 0


if __name__ == "__main__":
    sys.exit(main())
