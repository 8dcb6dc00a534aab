"""The schema migrates back and forth under the running service.

``serial``: ALTER TABLE takes an exclusive lock on the table and changes what
every query on it sees, so nothing else runs meanwhile, on any worker. (Each
worker has its own database, so ``resource("db", exclusive=True)`` would do
too; ``serial`` is the simple choice for the rare test that changes a schema.)
"""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from shop.migrations import HEAD, migrate


async def columns(connection: asyncpg.Connection) -> set[str]:
    rows = await connection.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'orders'"
    )
    return {row["column_name"] for row in rows}


@pytest.mark.serial
async def test_the_gift_note_migration_goes_back_and_forth(
    api: httpx.AsyncClient, connection: asyncpg.Connection
) -> None:
    await migrate(connection, to=HEAD - 1)
    try:
        assert "gift_note" not in await columns(connection)
        placed = await api.post("/orders", json={"sku": "sku-190", "quantity": 1})
        assert placed.status_code == 201
        assert "gift_note" not in (await api.get(f"/orders/{placed.json()['id']}")).json()
    finally:
        await migrate(connection, to=HEAD)
    assert "gift_note" in await columns(connection)
    placed = await api.post("/orders", json={"sku": "sku-191", "quantity": 1, "gift_note": "x"})
    assert (await api.get(f"/orders/{placed.json()['id']}")).json()["gift_note"] == "x"
