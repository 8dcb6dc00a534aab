"""System tests of the inventory service, as a client would use it.

Each test talks to the running service over HTTP and waits on its latency.
Stock items are separate resources; a test that resets the whole store holds
``inventory`` exclusively, so nothing else touches the store meanwhile.
"""

from __future__ import annotations

import pytest
from service import call

ITEMS = [f"item-{n}" for n in range(12)]


@pytest.mark.resource("inventory")
@pytest.mark.parametrize("item", ITEMS)
async def test_stock_can_be_set_and_read(port: int, item: str) -> None:
    status, _ = await call(port, "PUT", f"/stock/{item}-own", {"count": 5})
    assert status == 200
    status, body = await call(port, "GET", f"/stock/{item}-own")
    assert (status, body["count"]) == (200, 5)


@pytest.mark.resource("inventory", "orders")
@pytest.mark.parametrize("item", ITEMS)
async def test_an_order_takes_stock(port: int, item: str) -> None:
    await call(port, "PUT", f"/stock/{item}-order", {"count": 3})
    status, _ = await call(port, "POST", "/orders", {"item": f"{item}-order", "count": 2})
    assert status == 201
    _, body = await call(port, "GET", f"/stock/{item}-order")
    assert body["count"] == 1


@pytest.mark.resource("inventory", "orders")
@pytest.mark.parametrize("item", ITEMS)
async def test_an_order_beyond_stock_is_refused(port: int, item: str) -> None:
    await call(port, "PUT", f"/stock/{item}-short", {"count": 1})
    status, body = await call(port, "POST", "/orders", {"item": f"{item}-short", "count": 2})
    assert (status, body) == (409, {"error": "out of stock"})


@pytest.mark.resource("inventory", exclusive=True)
async def test_reset_empties_the_store(port: int) -> None:
    await call(port, "PUT", "/stock/reset-probe", {"count": 9})
    await call(port, "POST", "/reset", {})
    _, body = await call(port, "GET", "/stock/reset-probe")
    assert body["count"] == 0


@pytest.mark.parametrize("path", ["/nowhere", "/elsewhere", "/nothing/here"])
async def test_unknown_paths_are_404(port: int, path: str) -> None:
    status, _ = await call(port, "GET", path)
    assert status == 404
