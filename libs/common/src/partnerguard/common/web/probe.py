"""``python -m partnerguard.common.web.probe [PATH]``: exit 0 when this container's service
answers ``PATH`` (default ``/healthz``) with 200, else 1.

The image's healthcheck: the slim image has no curl, and the ``partnerguard`` command loads
every service's code, too heavy to start every few seconds.
"""

from __future__ import annotations

import os
import sys
import urllib.request

TIMEOUT_SECONDS = 3.0


def probe(path: str = "/healthz", port: str | None = None) -> bool:
    port = port or os.environ.get("PORT", "8000")
    url = f"http://127.0.0.1:{int(port)}/{path.lstrip('/')}"
    try:
        # The scheme and host are fixed above; only the port and path come from outside.
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
            return bool(answer.status == 200)
    except (OSError, ValueError):  # refused, timed out, or a 4xx/5xx (HTTPError)
        return False


def main(argv: list[str]) -> int:
    return 0 if probe(*argv[1:2]) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
