"""One of several processes of a service sharing its port: ``partnerguard run`` with
``<SERVICE>_PROCESSES`` above 1.

Each process binds its own listening socket with ``SO_REUSEPORT``, so the kernel spreads new
connections across them and each is a direct child of the launcher: restarted alone when it
dies, and sent SIGTERM with the launcher. (uvicorn's ``--workers`` forks its processes from a
parent holding the socket, whose children outlive a killed parent and keep the port; its
``--fd`` wraps an inherited socket as a Unix one, so asyncio never sets ``TCP_NODELAY`` on the
connections and every small answer waits on the client's delayed ACK.)

    python -m partnerguard.cli.replica APP --host H --port P --timeout-graceful-shutdown S
"""

from __future__ import annotations

import argparse
import socket
from collections.abc import Sequence

import uvicorn


def shared_socket(host: str, port: int) -> socket.socket:
    """A TCP socket on ``host:port`` that other processes may bind too."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m partnerguard.cli.replica")
    parser.add_argument("app", help="the application factory, module:function")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--timeout-graceful-shutdown", type=int, required=True)
    args = parser.parse_args(argv)
    config = uvicorn.Config(
        args.app,
        factory=True,
        host=args.host,
        port=args.port,
        access_log=False,
        timeout_graceful_shutdown=args.timeout_graceful_shutdown,
    )
    uvicorn.Server(config).run(sockets=[shared_socket(args.host, args.port)])


if __name__ == "__main__":
    main()
