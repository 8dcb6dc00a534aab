"""Sales reports: one product's figures are a test's own; the totals of the
whole shop are exact only while no other order is placed (``orders`` exclusive)."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.resource("orders", "stock")


@pytest.mark.parametrize("n", range(130, 154))
async def test_a_product_report_counts_its_orders(api: httpx.AsyncClient, n: int) -> None:
    for quantity in (1, 2):
        placed = await api.post("/orders", json={"sku": f"sku-{n:03}", "quantity": quantity})
        assert placed.status_code == 201
    report = (await api.get("/reports/sales", params={"sku": f"sku-{n:03}"})).json()
    assert (report["orders"], report["units"], report["revenue_cents"]) == (2, 3, 3 * (100 + n))


@pytest.mark.resource("orders", exclusive=True)
async def test_the_shop_total_grows_by_each_order(api: httpx.AsyncClient) -> None:
    before = (await api.get("/reports/sales")).json()
    await api.post("/orders", json={"sku": "sku-180", "quantity": 4})
    after = (await api.get("/reports/sales")).json()
    assert after["orders"] == before["orders"] + 1
    assert after["revenue_cents"] == before["revenue_cents"] + 4 * 280


async def test_the_service_is_healthy(api: httpx.AsyncClient) -> None:
    assert (await api.get("/health")).json() == {"ok": True}
