"""The service the system-test scenario talks to: HTTP/1.0 on 127.0.0.1, stdlib asyncio only.

Copied into the generated suite and started by its session fixture as its own
process (``python service.py --latency 0.025``); it prints its port on the
first line. Each request is answered after ``latency`` seconds, as a database or
a remote call would. Items live in per-key stores; ``/<key>/hold/<mode>`` and
``/<key>/release/<mode>`` let a test take a key shared or exclusive, and a
request that breaks the rules (a second holder beside an exclusive one) gets 409:
the suite's own check that a runner kept its declared rules.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
from collections import defaultdict
from typing import Any


class Service:
    """Routes and state; ``handle`` serves one connection."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.items: defaultdict[str, dict[str, int]] = defaultdict(dict)
        self.shared: defaultdict[str, int] = defaultdict(int)
        self.exclusive: defaultdict[str, int] = defaultdict(int)
        self.sessions: set[int] = set()
        self.numbers = itertools.count(1)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        method, path, _ = (await reader.readline()).decode().split(" ", 2)
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode().partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        body = json.loads(await reader.readexactly(length)) if length else None
        await asyncio.sleep(self.latency)
        status, answer = self.route(method, path.strip("/").split("/"), body)
        payload = json.dumps(answer).encode()
        head = f"HTTP/1.0 {status} X\r\nContent-Length: {len(payload)}\r\n\r\n"
        writer.write(head.encode() + payload)
        await writer.drain()
        writer.close()

    def route(self, method: str, parts: list[str], body: Any) -> tuple[int, Any]:
        match method, parts:
            case "GET", ["health"]:
                return 200, {"ok": True}
            case "POST", ["sessions"]:
                session = next(self.numbers)
                self.sessions.add(session)
                return 201, {"session": session}
            case "DELETE", ["sessions", session]:
                self.sessions.discard(int(session))
                return 200, {}
            case "PUT", [key, "items", name]:
                self.items[key][name] = int(body["count"])
                return 200, {"count": self.items[key][name]}
            case "GET", [key, "items", name] if name in self.items[key]:
                return 200, {"count": self.items[key][name]}
            case "GET", [key, "items"]:
                return 200, {"items": len(self.items[key])}
            case "POST", [key, "reset"]:
                self.items[key].clear()
                return 200, {}
            case "POST", [key, "hold", mode]:
                return self.hold(key, mode)
            case "POST", [key, "release", mode]:
                (self.exclusive if mode == "exclusive" else self.shared)[key] -= 1
                return 200, {}
        return 404, {"error": "/".join(parts)}

    def hold(self, key: str, mode: str) -> tuple[int, Any]:
        if self.exclusive[key] or (mode == "exclusive" and self.shared[key]):
            held = f"{self.exclusive[key]} exclusive, {self.shared[key]} shared"
            return 409, {"error": f"{key} is held ({held}): {mode} refused"}
        (self.exclusive if mode == "exclusive" else self.shared)[key] += 1
        return 200, {}


async def serve(latency: float) -> None:
    service = Service(latency)
    server = await asyncio.start_server(service.handle, "127.0.0.1", 0, backlog=1024)
    print(f"listening on port {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.025)
    asyncio.run(serve(parser.parse_args().latency))


if __name__ == "__main__":
    main()
