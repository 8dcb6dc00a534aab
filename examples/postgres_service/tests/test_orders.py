"""Placing orders: each test works on its own product, so order tests overlap
(up to ``asyncgroup_limits = orders=16``); they hold ``stock`` shared, so a
stock reset never runs under them."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.resource("orders", "stock")


def sku(n: int) -> str:
    return f"sku-{n:03}"


@pytest.mark.parametrize("n", range(0, 48))
async def test_an_order_takes_stock(api: httpx.AsyncClient, n: int) -> None:
    await api.put(f"/stock/{sku(n)}", json={"quantity": 5})
    placed = await api.post("/orders", json={"sku": sku(n), "quantity": 2})
    assert placed.status_code == 201
    assert (await api.get(f"/stock/{sku(n)}")).json()["quantity"] == 3
    order = (await api.get(f"/orders/{placed.json()['id']}")).json()
    assert (order["sku"], order["quantity"], order["total_cents"]) == (sku(n), 2, 2 * (100 + n))


@pytest.mark.parametrize("n", range(48, 72))
async def test_an_order_beyond_stock_is_refused(api: httpx.AsyncClient, n: int) -> None:
    await api.put(f"/stock/{sku(n)}", json={"quantity": 1})
    refused = await api.post("/orders", json={"sku": sku(n), "quantity": 2})
    assert (refused.status_code, refused.json()["error"]) == (409, "out of stock")
    assert (await api.get(f"/stock/{sku(n)}")).json()["quantity"] == 1


@pytest.mark.parametrize("n", range(72, 75))
async def test_a_gift_note_is_kept(api: httpx.AsyncClient, n: int) -> None:
    placed = await api.post("/orders", json={"sku": sku(n), "quantity": 1, "gift_note": "hi"})
    assert placed.status_code == 201
    assert (await api.get(f"/orders/{placed.json()['id']}")).json()["gift_note"] == "hi"


async def test_an_unknown_product_cannot_be_ordered(api: httpx.AsyncClient) -> None:
    answer = await api.post("/orders", json={"sku": "no-such-thing", "quantity": 1})
    assert answer.status_code == 404
