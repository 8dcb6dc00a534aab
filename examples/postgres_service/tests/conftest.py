"""The shop's test fixtures: one PostgreSQL server per run, a database per worker.

- The controller (or the only process) starts a PostgreSQL server for the run
  (``pgcluster.py``; or uses ``SHOP_TEST_DSN`` if set) and migrates a template
  database, ``shop_template``, once.
- Each xdist worker clones it (``CREATE DATABASE shop_gw0 TEMPLATE shop_template``)
  and starts the service on it: workers never see each other's rows, as with
  Django's or pytest-postgresql's database per worker.
- Every test that uses ``api`` holds the per-worker key ``db`` (the hook below),
  and takes the areas it declares (``resource("orders")``, ``resource("stock",
  exclusive=True)``) from the service too, which answers 409 if two tests hold
  one against the rules.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest
import uvicorn
from pgcluster import Cluster
from shop import migrations
from shop.app import create_app

TEMPLATE = "shop_template"
AREAS = ("orders", "stock")


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return  # a worker: the controller has made the server and the template
    dsn = os.environ.get("SHOP_TEST_DSN")  # a server of your own, or none
    if not dsn:
        cluster = Cluster()
        config.add_cleanup(cluster.stop)
        dsn = cluster.start()
        os.environ["SHOP_TEST_DSN"] = dsn  # xdist's workers inherit it
    asyncio.run(_make_template(dsn))


async def _make_template(dsn: str) -> None:
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {TEMPLATE}")
    finally:
        await admin.close()
    connection = await asyncpg.connect(_database(dsn, TEMPLATE))
    try:
        await migrations.migrate(connection)
        await migrations.seed(connection)
    finally:
        await connection.close()


def _database(dsn: str, name: str) -> str:
    return dsn.rsplit("/", 1)[0] + "/" + name


def pytest_asyncgroup_resources(item: pytest.Item) -> Iterator[str]:
    if "api" in getattr(item, "fixturenames", ()):
        yield "db"


@pytest.fixture(scope="session")
async def database() -> AsyncIterator[str]:
    """This worker's own database, cloned from the migrated template."""
    dsn = os.environ["SHOP_TEST_DSN"]
    name = f"shop_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        yield _database(dsn, name)
        await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
    finally:
        await admin.close()


class _Server(uvicorn.Server):
    def capture_signals(self):  # type: ignore[no-untyped-def]
        """Leave Ctrl-C to pytest: the server lives inside the test run."""
        from contextlib import nullcontext

        return nullcontext()


@pytest.fixture(scope="session")
async def service(database: str) -> AsyncIterator[str]:
    """The shop on 127.0.0.1 (a free port), on this worker's database: its base URL."""
    app = create_app(database, testing=True)
    # uvicorn closes a keep-alive connection idle for 5 s by default; a test waiting
    # for its keys leaves the client's connections idle that long, and a request
    # sent as the server closes one fails. The client is ours: keep them open.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", timeout_keep_alive=600
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises why it stopped
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.fixture(scope="session")
async def http(service: str) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=service, limits=limits, timeout=30) as client:
        yield client


@pytest.fixture
async def api(
    http: httpx.AsyncClient, request: pytest.FixtureRequest
) -> AsyncIterator[httpx.AsyncClient]:
    """The client, with the areas this test declares held at the service for its
    whole duration; a hold that breaks the rules fails the test."""
    modes: dict[str, str] = {}  # marks stack: exclusive on any mark wins
    for mark in request.node.iter_markers("resource"):
        for area in (key for key in mark.args if key in AREAS):
            exclusive = mark.kwargs.get("exclusive") or modes.get(area) == "exclusive"
            modes[area] = "exclusive" if exclusive else "shared"
    holds: list[int] = []
    try:
        for area, mode in modes.items():
            body = {"area": area, "mode": mode, "test": request.node.nodeid}
            answer = await http.post("/_test/holds", json=body)
            if answer.status_code == 409:
                pytest.fail(f"overlap: {answer.json()['error']}")
            answer.raise_for_status()
            holds.append(answer.json()["hold"])
        yield http
    finally:  # whatever happened: a hold left behind would fail a later test
        for hold in holds:
            await http.delete(f"/_test/holds/{hold}")


@pytest.fixture
async def connection(database: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection to this worker's database, for what the API does not show."""
    connection = await asyncpg.connect(database)
    yield connection
    await connection.close()
