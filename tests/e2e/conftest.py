"""The whole platform, started once per test session: ``partnerguard run`` on a fresh data folder
and free ports, its outside world faked in this process. Tests keep apart by partner, never by
restarting anything.

``platform`` (:class:`tests.e2e.platform.Platform`) is what tests use: ``platform.client(partner,
scopes)`` is an ``httpx.AsyncClient`` on the gateway with a token of that partner (every scope of
``global_admin`` when ``scopes`` is None), ``platform.token(...)`` the token alone,
``platform.anonymous()`` a client without one, and ``platform.outside`` the fakes (the vendor's
API, SMS, identity, credit bureau, mail, webhook receiver). A partner is made on first use; a
module naming its partners in ``PARTNER`` (or ``PARTNERS``) gets them made up front, together.

The fixtures are scoped to this package (which a session runs once): the platform stops right
after the last end-to-end test instead of idling, with its pollers and periodic jobs, through
the rest of the test suite.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest

from tests.e2e.outside import Outside
from tests.e2e.platform import Platform
from tests.support.launcher import (
    READY_WITHIN,
    Ports,
    kill_everything,
    launch,
    leftovers,
    stop_with_ctrl_c,
    wait_until_ready,
)

# Periodic work the flows wait for, made quick; the rest keeps the services' own defaults.
QUICK_JOBS = {
    # monitoring: evaluate new usage (budgets, detectors) within half a second
    "EVALUATION_INTERVAL_SECONDS": "0.5",
    # billing: send dunning notices promptly
    "NOTICE_INTERVAL_SECONDS": "0.5",
    # enforcement: carry out suspensions and reinstatements (also woken by new holds)
    "PROVIDER_INTERVAL_SECONDS": "0.5",
    # enforcement: the credit clock's reminders
    "CREDIT_CLOCK_INTERVAL_SECONDS": "1",
    # billing: flows drive dunning themselves, through the API's runs for chosen dates (the
    # only way to age an invoice day by day); the schedule runs once at start-up and must not
    # step in between.
    "DUNNING_INTERVAL_SECONDS": "86400",
}


@pytest.fixture(scope="package")
def outside() -> Iterator[Outside]:
    fakes = Outside()
    fakes.start()
    yield fakes
    fakes.stop()


@pytest.fixture(scope="package")
def platform(
    server_dir: Callable[[str], Path],
    tmp_path_factory: pytest.TempPathFactory,
    outside: Outside,
) -> Iterator[Platform]:
    data_dir = server_dir("e2e-platform")
    # Kept by pytest after the session (its last few runs), to read when something failed.
    log = tmp_path_factory.mktemp("e2e") / "platform.log"
    ports = Ports.free()
    run = launch(data_dir, ports, log, outside.environment() | QUICK_JOBS)
    try:
        wait_until_ready(run, ports, run.started + READY_WITHIN)
        yield Platform(run, ports, data_dir, outside)
        assert stop_with_ctrl_c(run) == 0, run.output()
        assert [p.info["cmdline"] for p in leftovers(run, data_dir)] == []
    finally:
        kill_everything(run, data_dir)


@pytest.fixture(scope="package", autouse=True)
async def flow_partners(platform: Platform, request: pytest.FixtureRequest) -> None:
    """Every partner the collected tests name (their module's ``PARTNER`` or ``PARTNERS``), made
    in one go: their clients come from the operator's CLI, whose seconds of start-up are then
    spent once rather than once per flow."""
    here = Path(__file__).parent
    names: set[str] = set()
    for item in request.session.items:
        module = getattr(item, "module", None)
        if here in item.path.parents and module is not None:
            names.update(getattr(module, "PARTNERS", ()))
            if isinstance(getattr(module, "PARTNER", None), str):
                names.add(module.PARTNER)
    await platform.prepare(*sorted(names))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A module of this package declaring ``RUNS_LAST = True`` (the faults, which crash what
    every flow shares) runs after the package's other tests, on the same platform."""
    here = Path(__file__).parent
    slots = [i for i, item in enumerate(items) if here in item.path.parents]
    ours = [items[i] for i in slots]
    last = [item for item in ours if getattr(getattr(item, "module", None), "RUNS_LAST", False)]
    first = [item for item in ours if item not in last]
    for slot, item in zip(slots, first + last, strict=True):
        items[slot] = item


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed flow shows what the services logged last."""
    report = yield
    running = getattr(item, "funcargs", {}).get("platform")
    if report.failed and isinstance(running, Platform):
        report.sections.append(("platform log (tail)", running.log_tail()))
    return report
