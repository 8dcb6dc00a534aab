"""The schema, as numbered migrations (what Alembic or Django would keep as files).

``migrate(connection, to=N)`` brings a database to version N, forward or back;
the version lives in ``schema_version``.
"""

from __future__ import annotations

import asyncpg

# (version, forward, backward)
MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        """
        CREATE TABLE products (
            sku text PRIMARY KEY,
            name text NOT NULL,
            price_cents integer NOT NULL CHECK (price_cents >= 0)
        );
        CREATE TABLE stock (
            sku text PRIMARY KEY REFERENCES products (sku),
            quantity integer NOT NULL CHECK (quantity >= 0)
        );
        """,
        "DROP TABLE stock; DROP TABLE products;",
    ),
    (
        2,
        """
        CREATE TABLE orders (
            id bigserial PRIMARY KEY,
            sku text NOT NULL REFERENCES products (sku),
            quantity integer NOT NULL CHECK (quantity > 0),
            total_cents integer NOT NULL,
            placed_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX orders_sku ON orders (sku);
        """,
        "DROP TABLE orders;",
    ),
    (
        3,
        "ALTER TABLE orders ADD COLUMN gift_note text;",
        "ALTER TABLE orders DROP COLUMN gift_note;",
    ),
]
HEAD = MIGRATIONS[-1][0]

# The catalogue every fresh database starts with (a fixture of the template).
CATALOGUE = [(f"sku-{n:03}", f"Product {n}", 100 + n) for n in range(200)]


async def version(connection: asyncpg.Connection) -> int:
    await connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
    found = await connection.fetchval("SELECT max(version) FROM schema_version")
    return int(found or 0)


async def migrate(connection: asyncpg.Connection, to: int = HEAD) -> int:
    """Apply or revert migrations until the database is at version ``to``."""
    async with connection.transaction():
        current = await version(connection)
        for number, forward, _ in MIGRATIONS:
            if current < number <= to:
                await connection.execute(forward)
        for number, _, backward in reversed(MIGRATIONS):
            if to < number <= current:
                await connection.execute(backward)
        await connection.execute("DELETE FROM schema_version")
        await connection.execute("INSERT INTO schema_version VALUES ($1)", to)
    return to


async def seed(connection: asyncpg.Connection) -> None:
    """The catalogue, each product with 100 in stock."""
    await connection.executemany("INSERT INTO products VALUES ($1, $2, $3)", CATALOGUE)
    await connection.executemany(
        "INSERT INTO stock VALUES ($1, 100)", [(sku,) for sku, _, _ in CATALOGUE]
    )
