"""The operator's ``partnerguard clients create`` for several partners, in one interpreter.

Run as ``python -m tests.e2e.operator_cli DATA_DIR PARTNER_ID [NAME] ...`` with the launcher's
environment (its ports); prints a JSON list of the created clients, secrets included. It invokes
the real ``partnerguard`` command for each partner, as an operator's script would in a loop,
only without paying the command's seconds of start-up once per partner.
"""

from __future__ import annotations

import json
import sys

from typer.testing import CliRunner

from partnerguard.cli.main import app


def create_clients(data_dir: str, partners: list[tuple[str, str]]) -> list[dict[str, str]]:
    """A ``global_admin`` client for each (partner id, name)."""
    created = []
    for partner_id, name in partners:
        result = CliRunner().invoke(
            app,
            [
                "--data-dir",
                data_dir,
                "clients",
                "create",
                "--partner",
                partner_id,
                "--role",
                "global_admin",
                "--name",
                f"{name} administrator",
                "--json",
            ],
        )
        if result.exit_code != 0:
            raise SystemExit(f"clients create --partner {partner_id}: {result.output}")
        created.append(json.loads(result.stdout))
    return created


def main(argv: list[str]) -> None:
    data_dir, *rest = argv
    pairs = list(zip(rest[::2], rest[1::2], strict=True))
    sys.stdout.write(json.dumps(create_clients(data_dir, pairs)))


if __name__ == "__main__":
    main(sys.argv[1:])
