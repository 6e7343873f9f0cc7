#!/usr/bin/env python3
"""A minimal SMTP sink on loopback for the campaign benchmark: accepts every message,
counts them, and writes the count and the time of the first and last message to a file."""
import asyncio, sys, time

PORT = int(sys.argv[1])
OUT = sys.argv[2]
state = {"n": 0, "first": None, "last": None}

async def session(reader, writer):
    w = writer.write
    w(b"220 sink ESMTP\r\n")
    while True:
        line = await reader.readline()
        if not line:
            break
        cmd = line.strip().upper()
        if cmd.startswith(b"EHLO"):
            w(b"250-sink\r\n250 8BITMIME\r\n")
        elif cmd == b"DATA":
            w(b"354 go\r\n")
            await writer.drain()
            while True:
                l = await reader.readline()
                if not l or l in (b".\r\n", b".\n"):
                    break
            now = time.time()
            state["n"] += 1
            state["first"] = state["first"] or now
            state["last"] = now
            w(b"250 queued\r\n")
        elif cmd == b"QUIT":
            w(b"221 bye\r\n")
            await writer.drain()
            break
        else:
            w(b"250 OK\r\n")
        await writer.drain()
    writer.close()

async def report():
    while True:
        await asyncio.sleep(0.5)
        with open(OUT, "w") as f:
            f.write(f"{state['n']} {state['first'] or 0} {state['last'] or 0}\n")

async def main():
    server = await asyncio.start_server(session, "127.0.0.1", PORT)
    asyncio.create_task(report())
    async with server:
        await server.serve_forever()

asyncio.run(main())
