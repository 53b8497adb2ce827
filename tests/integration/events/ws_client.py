#!/usr/bin/env python3
"""A real RFC 6455 client (python3-websockets) for the event stream tests.

Prints one line per thing seen: `refused <status>`, `ready`, `event <name> <data>`,
`reply <op> <code>` (answers to --heartbeat and --renew-token), `closed <code> <reason>`,
`timeout`. With --slow-until FILE it reads nothing
until FILE exists (its socket buffers kept tiny), then drains what is left.
"""
import argparse, asyncio, json, os, socket, sys
import websockets

def out(*a):
    print(*a, flush=True)

async def main(a):
    headers = {"X-Auth-Token": a.header_token} if a.header_token else {}
    url = a.url + ("?token=" + a.query_token if a.query_token else "")
    sock = None
    if a.slow_until:
        host, port = a.url.split("//")[1].split("/")[0].split(":")
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        sock.connect((host, int(port)))
    try:
        ws = await websockets.connect(url, extra_headers=headers, sock=sock, max_queue=1,
                                      read_limit=1024, ping_interval=None, open_timeout=10)
    except websockets.exceptions.InvalidStatusCode as e:
        out("refused", e.status_code)
        return
    for name in a.subscribe:
        await ws.send(json.dumps({"op": "subscribe", "data": {"event_name": name}}))
        r = json.loads(await ws.recv())
        if r.get("op") != "subscribe" or r.get("code") != 0:
            out("bad-reply", json.dumps(r))
            return
    if a.heartbeat:
        await ws.send(json.dumps({"op": "heartbeat"}))
        r = json.loads(await ws.recv())
        out("reply", r.get("op"), r.get("code"))
    out("ready")
    if a.renew_token:
        # Renewed once the file exists, so the test controls when.
        for _ in range(600):
            if not a.renew_after or os.path.exists(a.renew_after):
                break
            await asyncio.sleep(0.1)
        await ws.send(json.dumps({"op": "token", "data": {"token": a.renew_token}}))
    if a.slow_until:
        # The test writes the file once the server cut this client; the bound
        # only keeps a broken test from hanging.
        for _ in range(6000):
            if os.path.exists(a.slow_until):
                break
            await asyncio.sleep(0.1)
    seen = 0
    try:
        while a.slow_until or seen < a.count:
            msg = await asyncio.wait_for(ws.recv(), timeout=a.timeout)
            e = json.loads(msg)
            if "op" in e:
                out("reply", e["op"], e.get("code"))
                continue
            out("event", e["name"], json.dumps(e["data"], separators=(",", ":")))
            seen += 1
    except asyncio.TimeoutError:
        out("timeout")
    except websockets.exceptions.ConnectionClosed as e:
        out("closed", e.code, e.reason)
    await ws.close()

p = argparse.ArgumentParser()
p.add_argument("--url", required=True)
p.add_argument("--header-token")
p.add_argument("--query-token")
p.add_argument("--subscribe", action="append", default=[])
p.add_argument("--count", type=int, default=0)
p.add_argument("--timeout", type=float, default=20)
p.add_argument("--slow-until")
p.add_argument("--heartbeat", action="store_true")
p.add_argument("--renew-token")
p.add_argument("--renew-after")
asyncio.run(main(p.parse_args()))
