from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from service import InventoryService


@pytest.fixture(scope="session")
async def service() -> AsyncIterator[InventoryService]:
    """The system under test, started once for the session."""
    server = InventoryService(latency=0.05)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def port(service: InventoryService) -> int:
    return service.port
