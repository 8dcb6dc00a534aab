"""The shop's web API: a Starlette application over an asyncpg connection pool.

Endpoints::

    GET  /health
    GET  /stock/{sku}            PUT /stock/{sku} {"quantity": n}
    POST /stock/reset            every product back to 100 in stock, orders deleted
    POST /orders {"sku", "quantity", "gift_note"?}      GET /orders/{id}
    GET  /reports/sales[?sku=]   orders, units and revenue (one product or all)

An order takes its stock in a transaction that holds the stock row while the
payment provider is called (``payment_latency`` seconds): that is where a test
of this service spends its time, and why the pool's size bounds how many
orders can be in flight.

With ``testing=True`` the service also answers ``/_test/holds``: a test takes
an area (``stock``, ``orders``) shared or exclusive for its whole duration and
gets 409 if that breaks the rules (an exclusive holder beside any other): the
service's own check that the test runner kept the suite's declarations.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

POOL_SIZE = 20


def create_app(
    dsn: str, *, pool_size: int = POOL_SIZE, payment_latency: float = 0.05, testing: bool = False
) -> Starlette:
    state: dict[str, Any] = {}
    holds = Holds()

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # statement_cache_size=0: a migration changes tables under running
        # connections, and a cached plan would then fail inside a transaction.
        state["pool"] = await asyncpg.create_pool(
            dsn, min_size=2, max_size=pool_size, statement_cache_size=0
        )
        try:
            yield
        finally:
            await state["pool"].close()

    def pool() -> asyncpg.Pool:
        return state["pool"]

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"ok": await pool().fetchval("SELECT 1") == 1})

    async def get_stock(request: Request) -> JSONResponse:
        sku = request.path_params["sku"]
        quantity = await pool().fetchval("SELECT quantity FROM stock WHERE sku = $1", sku)
        if quantity is None:
            return JSONResponse({"error": f"no product {sku}"}, 404)
        return JSONResponse({"sku": sku, "quantity": quantity})

    async def put_stock(request: Request) -> JSONResponse:
        sku, body = request.path_params["sku"], await request.json()
        done = await pool().execute(
            "UPDATE stock SET quantity = $2 WHERE sku = $1", sku, int(body["quantity"])
        )
        if done == "UPDATE 0":
            return JSONResponse({"error": f"no product {sku}"}, 404)
        return JSONResponse({"sku": sku, "quantity": int(body["quantity"])})

    async def reset_stock(_: Request) -> JSONResponse:
        async with pool().acquire() as connection, connection.transaction():
            await connection.execute("TRUNCATE orders")
            await connection.execute("UPDATE stock SET quantity = 100")
        return JSONResponse({"reset": True})

    async def place_order(request: Request) -> JSONResponse:
        body = await request.json()
        sku, quantity = body["sku"], int(body["quantity"])
        async with pool().acquire() as connection, connection.transaction():
            row = await connection.fetchrow(
                "SELECT s.quantity, p.price_cents FROM stock s JOIN products p USING (sku)"
                " WHERE sku = $1 FOR UPDATE OF s",
                sku,
            )
            if row is None:
                return JSONResponse({"error": f"no product {sku}"}, 404)
            if row["quantity"] < quantity:
                return JSONResponse({"error": "out of stock", "left": row["quantity"]}, 409)
            await asyncio.sleep(payment_latency)  # the payment provider answers
            await connection.execute(
                "UPDATE stock SET quantity = quantity - $2 WHERE sku = $1", sku, quantity
            )
            columns, values = ["sku", "quantity", "total_cents"], [sku, quantity]
            values.append(quantity * row["price_cents"])
            if "gift_note" in body:
                columns.append("gift_note")
                values.append(body["gift_note"])
            placeholders = ", ".join(f"${n}" for n in range(1, len(values) + 1))
            order_id = await connection.fetchval(
                f"INSERT INTO orders ({', '.join(columns)}) VALUES ({placeholders}) RETURNING id",
                *values,
            )
        return JSONResponse({"id": order_id, "total_cents": values[2]}, 201)

    async def get_order(request: Request) -> JSONResponse:
        row = await pool().fetchrow(
            "SELECT * FROM orders WHERE id = $1", int(request.path_params["id"])
        )
        if row is None:
            return JSONResponse({"error": "no such order"}, 404)
        order = dict(row)
        order["placed_at"] = order["placed_at"].isoformat()
        return JSONResponse(order)

    async def sales(request: Request) -> JSONResponse:
        sku = request.query_params.get("sku")
        row = await pool().fetchrow(
            "SELECT count(*) AS orders, coalesce(sum(quantity), 0) AS units,"
            " coalesce(sum(total_cents), 0) AS revenue_cents FROM orders"
            " WHERE $1::text IS NULL OR sku = $1",
            sku,
        )
        return JSONResponse({"sku": sku, **dict(row)})

    routes = [
        Route("/health", health),
        Route("/stock/reset", reset_stock, methods=["POST"]),
        Route("/stock/{sku}", get_stock),
        Route("/stock/{sku}", put_stock, methods=["PUT"]),
        Route("/orders", place_order, methods=["POST"]),
        Route("/orders/{id:int}", get_order),
        Route("/reports/sales", sales),
    ]
    if testing:
        routes += holds.routes()
    return Starlette(routes=routes, lifespan=lifespan)


class Holds:
    """Areas held by tests, shared or exclusive; a hold against the rules is a 409."""

    def __init__(self) -> None:
        self.held: dict[int, tuple[str, str, str]] = {}  # id -> (area, mode, test)
        self.conflicts: list[str] = []
        self._ids = itertools.count(1)

    def take(self, area: str, mode: str, test: str) -> tuple[int | None, str]:
        others = [(m, t) for a, m, t in self.held.values() if a == area]
        if others and (mode == "exclusive" or any(m == "exclusive" for m, _ in others)):
            holders = ", ".join(f"{t} ({m})" for m, t in others)
            conflict = f"{test} took {area} {mode} while held by {holders}"
            self.conflicts.append(conflict)
            return None, conflict
        hold = next(self._ids)
        self.held[hold] = (area, mode, test)
        return hold, ""

    def routes(self) -> list[Route]:
        async def take(request: Request) -> JSONResponse:
            body = await request.json()
            hold, conflict = self.take(body["area"], body["mode"], body["test"])
            if hold is None:
                return JSONResponse({"error": conflict}, 409)
            return JSONResponse({"hold": hold}, 201)

        async def release(request: Request) -> JSONResponse:
            self.held.pop(int(request.path_params["hold"]), None)
            return JSONResponse({})

        async def conflicts(_: Request) -> JSONResponse:
            return JSONResponse({"conflicts": self.conflicts})

        return [
            Route("/_test/holds", take, methods=["POST"]),
            Route("/_test/holds/{hold:int}", release, methods=["DELETE"]),
            Route("/_test/conflicts", conflicts),
        ]
