"""Write the secrets ``docker-compose.yml`` requires into an env file (default ``.env``).

Every variable the compose file demands (``${NAME:?...}``) gets a fresh random value: URL-safe
hex for passwords (they sit inside database URLs), 32 base64 bytes for the gateway's
SECRETS_KEY. Values already in the file are kept, so running it again never locks a service
out of a database made with the old password. Standard library only: it runs on the host.
"""

from __future__ import annotations

import base64
import re
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = re.compile(r"\$\{([A-Z][A-Z0-9_]*):\?")


def required_variables(compose_text: str) -> list[str]:
    return sorted(set(REQUIRED.findall(compose_text)))


def new_value(name: str) -> str:
    if name == "SECRETS_KEY":
        return base64.b64encode(secrets.token_bytes(32)).decode()
    return secrets.token_hex(24)


def existing(env_file: Path) -> dict[str, str]:
    if not env_file.exists():
        return {}
    values = {}
    for line in env_file.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            values[name.strip()] = value.strip()
    return values


def write_env(env_file: Path, compose_file: Path) -> list[str]:
    """Add what is missing to ``env_file`` (created private); return the names added."""
    have = existing(env_file)
    missing = [n for n in required_variables(compose_file.read_text()) if n not in have]
    if missing:
        lines = [f"{name}={new_value(name)}" for name in missing]
        env_file.touch(mode=0o600, exist_ok=True)
        with env_file.open("a") as out:
            if env_file.stat().st_size and not env_file.read_text().endswith("\n"):
                out.write("\n")
            out.write("\n".join(lines) + "\n")
    return missing


def main(argv: list[str]) -> int:
    env_file = Path(argv[1]) if len(argv) > 1 else ROOT / ".env"
    added = write_env(env_file, ROOT / "docker-compose.yml")
    sys.stdout.write(
        f"{env_file}: {len(added)} secret(s) added\n" if added else f"{env_file}: complete\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
