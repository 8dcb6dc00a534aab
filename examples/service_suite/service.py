"""A tiny inventory service over HTTP/1.0, with a fixed latency per request.

It stands in for the running system a system-test suite talks to. Each request
waits ``latency`` seconds before answering, as a database or a remote call would.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any


class InventoryService:
    def __init__(self, latency: float = 0.05) -> None:
        self.latency = latency
        self.stock: dict[str, int] = {}
        self.orders: list[dict[str, Any]] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_line = (await reader.readline()).decode().split()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        body = json.loads(await reader.readexactly(length)) if length else None
        await asyncio.sleep(self.latency)
        status, answer = self._route(request_line[0], request_line[1], body)
        payload = json.dumps(answer).encode()
        writer.write(
            f"HTTP/1.0 {status} OK\r\nContent-Length: {len(payload)}\r\n\r\n".encode() + payload
        )
        await writer.drain()
        writer.close()

    def _route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        if parts[0] == "stock" and method == "PUT":
            self.stock[parts[1]] = int(body["count"])
            return 200, {"item": parts[1], "count": self.stock[parts[1]]}
        if parts[0] == "stock" and method == "GET":
            return 200, {"item": parts[1], "count": self.stock.get(parts[1], 0)}
        if parts[0] == "orders" and method == "POST":
            if self.stock.get(body["item"], 0) < body["count"]:
                return 409, {"error": "out of stock"}
            self.stock[body["item"]] -= body["count"]
            self.orders.append(body)
            return 201, {"order": len(self.orders)}
        if parts[0] == "reset" and method == "POST":
            self.stock.clear()
            self.orders.clear()
            return 200, {}
        return 404, {"error": path}


async def call(port: int, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One HTTP request to the service; returns (status, decoded JSON)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    payload = json.dumps(body).encode() if body is not None else b""
    writer.write(
        f"{method} {path} HTTP/1.0\r\nContent-Length: {len(payload)}\r\n\r\n".encode() + payload
    )
    await writer.drain()
    status_line = (await reader.readline()).decode().split()
    while (await reader.readline()) not in (b"\r\n", b"\n", b""):
        pass
    data = await reader.read()
    writer.close()
    return int(status_line[1]), json.loads(data)
