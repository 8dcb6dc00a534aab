"""Stock levels. Setting one product's stock shares ``stock`` with other tests;
resetting the whole store holds it exclusively (and ``orders``, whose rows it
deletes): no test that holds either runs meanwhile on this worker's database."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.resource("stock")
@pytest.mark.parametrize("n", range(100, 124))
async def test_stock_can_be_set_and_read(api: httpx.AsyncClient, n: int) -> None:
    assert (await api.put(f"/stock/sku-{n:03}", json={"quantity": n})).status_code == 200
    assert (await api.get(f"/stock/sku-{n:03}")).json() == {"sku": f"sku-{n:03}", "quantity": n}


@pytest.mark.resource("stock")
async def test_unknown_product_has_no_stock(api: httpx.AsyncClient) -> None:
    assert (await api.get("/stock/no-such-thing")).status_code == 404


@pytest.mark.resource("stock", "orders", exclusive=True)
@pytest.mark.parametrize("round_", range(2))
async def test_reset_restores_stock_and_deletes_orders(api: httpx.AsyncClient, round_: int) -> None:
    await api.put("/stock/sku-199", json={"quantity": 7})
    await api.post("/orders", json={"sku": "sku-199", "quantity": 1})
    assert (await api.post("/stock/reset")).status_code == 200
    assert (await api.get("/stock/sku-199")).json()["quantity"] == 100
    assert (await api.get("/reports/sales")).json()["orders"] == 0
