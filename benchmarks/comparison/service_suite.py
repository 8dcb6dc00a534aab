"""The system-test suite: clients of a local HTTP service, in each dialect (pure).

The service itself is ``service.py`` beside this file, copied into the suite.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from comparison.dialects import COOPERATIVE_KEY_LOCK, Dialect, Files, ini, mark_list, marks

SERVICE_SOURCE = Path(__file__).with_name("service.py")


@dataclass(frozen=True)
class ServiceSuite:
    """A system test: clients of a local HTTP service started by a session fixture.

    The service (``service.py``, stdlib asyncio, run as its own process on
    127.0.0.1) answers each request after ``latency`` seconds and refuses, with
    409, a client that takes a key against the rules (a second holder beside an
    exclusive one): so every runner's result also says whether it kept the
    rules. Each test logs in (fixture setup), takes its key, makes its calls,
    gives the key back and logs out (fixture teardown).
    """

    keys: tuple[str, ...] = ("orders", "inventory", "users", "payments", "catalog", "search")
    shared_per_key: int = 24
    exclusive_per_key: int = 3
    free_tests: int = 40
    latency: float = 0.025

    @property
    def tests(self) -> int:
        return len(self.keys) * (self.shared_per_key + self.exclusive_per_key) + self.free_tests

    def describe(self) -> str:
        return (
            f"{self.tests} system tests against a local asyncio HTTP service"
            f" ({self.latency * 1000:g} ms per request): {len(self.keys)} keys x"
            f" ({self.shared_per_key} shared + {self.exclusive_per_key} exclusive tests)"
            f" + {self.free_tests} with no key; about 6 requests per test"
        )


SERVICE_CONFTEST = """
import subprocess
import sys
from pathlib import Path

import pytest

from client import Client


@pytest.fixture(scope="session")
def service():
    \"\"\"The system under test: its own process on 127.0.0.1, one per pytest process.\"\"\"
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("service.py")), "--latency", "{latency}"],
        stdout=subprocess.PIPE,
        text=True,
    )
    port = int(process.stdout.readline().split()[-1])
    yield port
    process.terminate()
    process.wait()


@pytest.fixture
async def client(service):
    client = Client(service)
    await client.log_in()
    yield client
    await client.log_out()
"""

CLIENT = '''
"""An HTTP/1.0 client of the service, over asyncio streams (no third-party library)."""

import asyncio
import contextlib
import json


class Client:
    def __init__(self, port):
        self.port = port
        self.session = None

    async def call(self, method, path, body=None):
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        payload = json.dumps(body).encode() if body is not None else b""
        head = f"{method} {path} HTTP/1.0\\r\\nContent-Length: {len(payload)}\\r\\n\\r\\n"
        writer.write(head.encode() + payload)
        await writer.drain()
        status = int((await reader.readline()).split()[1])
        while (await reader.readline()) not in (b"\\r\\n", b"\\n", b""):
            pass
        data = await reader.read()
        writer.close()
        await writer.wait_closed()
        return status, json.loads(data)

    async def log_in(self):
        status, body = await self.call("POST", "/sessions")
        assert status == 201
        self.session = body["session"]

    async def log_out(self):
        status, _ = await self.call("DELETE", f"/sessions/{self.session}")
        assert status == 200

    @contextlib.asynccontextmanager
    async def holding(self, key, exclusive=False):
        """Take ``key`` at the service: 409 if another test holds it against the rules."""
        mode = "exclusive" if exclusive else "shared"
        status, body = await self.call("POST", f"/{key}/hold/{mode}")
        assert status == 200, body
        try:
            yield
        finally:
            await self.call("POST", f"/{key}/release/{mode}")
'''

SERVICE_MODULE = """
import pytest

KEY = {key!r}


@pytest.mark.parametrize("i", {shared_a})
async def test_an_item_can_be_stored_and_read(client, i):
    async with client.holding(KEY):
        status, _ = await client.call("PUT", f"/{{KEY}}/items/a{{i}}", {{"count": i}})
        assert status == 200
        status, body = await client.call("GET", f"/{{KEY}}/items/a{{i}}")
        assert (status, body["count"]) == (200, i)


@pytest.mark.parametrize("i", {exclusive})
async def test_reset_empties_the_store(client, i):
    async with client.holding(KEY, exclusive=True):
        await client.call("PUT", f"/{{KEY}}/items/probe{{i}}", {{"count": 1}})
        status, _ = await client.call("POST", f"/{{KEY}}/reset")
        assert status == 200
        _, body = await client.call("GET", f"/{{KEY}}/items")
        assert body["items"] == 0


@pytest.mark.parametrize("i", {shared_b})
async def test_an_item_can_be_updated(client, i):
    async with client.holding(KEY):
        await client.call("PUT", f"/{{KEY}}/items/b{{i}}", {{"count": 1}})
        status, body = await client.call("PUT", f"/{{KEY}}/items/b{{i}}", {{"count": 2}})
        assert (status, body["count"]) == (200, 2)
"""

HEALTH_MODULE = """
import pytest


@pytest.mark.parametrize("i", {health})
async def test_the_service_is_healthy(client, i):
    status, body = await client.call("GET", "/health")
    assert (status, body) == (200, {{"ok": True}})


@pytest.mark.parametrize("i", {missing})
async def test_unknown_paths_are_404(client, i):
    status, _ = await client.call("GET", f"/nowhere/{{i}}")
    assert status == 404
"""


def _marked_range(count: int, expressions: list[str]) -> str:
    if not expressions:
        return f"range({count})"
    return f"[pytest.param(i, marks={mark_list(expressions)}) for i in range({count})]"


def service_files(suite: ServiceSuite, dialect: Dialect) -> Files:
    needs_lock = dialect == "cooperative"
    conftest = SERVICE_CONFTEST.replace("{latency}", str(suite.latency))
    if needs_lock:
        conftest += COOPERATIVE_KEY_LOCK.replace(
            "import asyncio\n\nimport pytest\n", "import asyncio\n"
        )
    files = {
        "pytest.ini": ini(dialect, needs_lock),
        "conftest.py": conftest,
        "client.py": CLIENT,
        "service.py": SERVICE_SOURCE.read_text(),
    }
    half = suite.shared_per_key // 2
    for key in suite.keys:
        module = f"test_{key}"
        files[f"{module}.py"] = SERVICE_MODULE.format(
            key=key,
            shared_a=_marked_range(half, marks(dialect, key, False, module)),
            exclusive=_marked_range(suite.exclusive_per_key, marks(dialect, key, True, module)),
            shared_b=_marked_range(suite.shared_per_key - half, marks(dialect, key, False, module)),
        )
    free = marks(dialect, None, False, "test_health")
    files["test_health.py"] = HEALTH_MODULE.format(
        health=_marked_range(suite.free_tests // 2, free),
        missing=_marked_range(suite.free_tests - suite.free_tests // 2, free),
    )
    return files
