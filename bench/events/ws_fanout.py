#!/usr/bin/python3
"""WebSocket fan-out load for events.websocketd (docs/performance.md, "Event stream").

Opens CLIENTS streams subscribed to EVENT (calls.# by default), every one a
raw RFC 6455 client: the handshake and the subscribe frame by hand, then
reads. PROBES of them split what they read into frames and measure each
`calls.channel.created` event's latency: the time its bytes were read minus
the time the call core stamped on the channel (`created_at_ms`; the other
events carry no time of their own). Only those frames are parsed as JSON, so
that a probe costs little more than a sink and the latency is the server's
and the machine's, not a client library's (with python3-websockets as the
probes, the probes' own process was what lagged, by seconds, at 100 calls/s).
The others are sinks: every byte read and thrown away. The sinks run in
SINK_PROCS (4) forked processes, so that the probes never wait behind 980
sockets' reads. Each process starts a session of its own, and with it a
scheduling group (the kernel's autogroup): clients on their own machines,
not 1,000 clients sharing one CPU share (in one session the sinks fell
behind at 50 calls/s and were cut at 100).

Prints `ready` once every stream is subscribed, then, when stdin closes (or
SIGTERM), one summary line per kind of client. With LATENCY_LOG=FILE, also
writes every probe's sample there, `arrival_ms latency_ms`, by arrival.
Usage: ws_fanout.py ws://127.0.0.1:9502/ TOKEN CLIENTS [PROBES] [EVENT]
"""
import asyncio, base64, json, os, signal, socket, struct, sys, time


def masked_text(payload: bytes) -> bytes:
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    n = len(payload)
    head = bytes([0x81, 0x80 | n]) if n < 126 else bytes([0x81, 0x80 | 126]) + struct.pack("!H", n)
    return head + mask + body


class Sinks:
    def __init__(self):
        self.bytes = 0
        self.closed = 0


async def sink(host, port, token, event, stats, ready, probe=None):
    reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nX-Auth-Token: {token}\r\n\r\n").encode())
    status = await reader.readuntil(b"\r\n\r\n")
    if b" 101 " not in status.split(b"\r\n")[0]:
        raise RuntimeError("upgrade refused: " + status.split(b"\r\n")[0].decode())
    writer.write(masked_text(json.dumps({"op": "subscribe", "data": {"event_name": event}}).encode()))
    await writer.drain()
    ready()

    async def heartbeat():
        # The server drops a client silent for two ping intervals (60 s); the
        # sink does not parse its pings, so it says something every 20 s.
        while True:
            await asyncio.sleep(20)
            writer.write(masked_text(b'{"op": "heartbeat"}'))

    beat = asyncio.create_task(heartbeat())
    try:
        await (read_frames(reader, probe) if probe else read_all(reader, stats))
    finally:
        beat.cancel()


async def read_all(reader, stats):
    while True:
        chunk = await reader.read(1 << 16)
        if not chunk:
            stats.closed += 1
            return
        stats.bytes += len(chunk)


class Probe:
    def __init__(self):
        self.latencies = []
        self.samples = []  # (arrival ms, latency ms), for LATENCY_LOG
        self.events = 0
        self.closed = 0


CREATED = b'{"name":"calls.channel.created"'


async def read_frames(reader, p):
    """Splits the stream into frames (server frames are unmasked): counts
    events, times the created ones, and ends at a close frame or EOF."""
    buf = bytearray()
    while True:
        chunk = await reader.read(1 << 16)
        if not chunk:
            p.closed += 1
            return
        now = time.time() * 1000.0
        buf += chunk
        at = 0
        while len(buf) - at >= 2:
            op, n = buf[at] & 0x0F, buf[at + 1] & 0x7F
            head = 2
            if n == 126:
                if len(buf) - at < 4:
                    break
                n, head = struct.unpack_from("!H", buf, at + 2)[0], 4
            elif n == 127:
                if len(buf) - at < 10:
                    break
                n, head = struct.unpack_from("!Q", buf, at + 2)[0], 10
            if len(buf) - at < head + n:
                break
            start = at + head
            at = start + n
            if op == 0x8:
                p.closed += 1
                return
            if op != 0x1 or buf[start:start + 7] != b'{"name"':
                continue
            p.events += 1
            if buf[start:start + len(CREATED)] == CREATED:
                created = json.loads(bytes(buf[start:at]))["data"].get("created_at_ms")
                if created:
                    p.latencies.append(now - created)
                    p.samples.append((now, now - created))
        del buf[:at]


def pct(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def sink_proc(host, port, token, event, n, out):
    """A forked process's sinks: `ready` on `out` once all are subscribed,
    then `bytes closed` when SIGTERM comes."""
    stats, subscribed = Sinks(), 0
    done = asyncio.Event()

    def ready():
        nonlocal subscribed
        subscribed += 1
        if subscribed == n:
            os.write(out, b"ready\n")

    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, done.set)
    tasks = []
    for i in range(n):
        tasks.append(asyncio.create_task(sink(host, port, token, event, stats, ready)))
        if i % 50 == 49:
            await asyncio.sleep(0.05)  # do not flood the listener's backlog
    await done.wait()
    os.write(out, f"{stats.bytes} {stats.closed}\n".encode())
    for t in tasks:
        t.cancel()


async def main():
    url, token, clients = sys.argv[1], sys.argv[2], int(sys.argv[3])
    probes = int(sys.argv[4]) if len(sys.argv) > 4 else 20
    event = sys.argv[5] if len(sys.argv) > 5 else "calls.#"
    host, port = url.split("//")[1].split("/")[0].split(":")
    nprocs = int(os.environ.get("SINK_PROCS", "4"))
    probe_stats = [Probe() for _ in range(probes)]
    loop = asyncio.get_running_loop()
    # The sinks' processes, forked before any connection of this one.
    children, shares = [], [(clients - probes) // nprocs + (1 if i < (clients - probes) % nprocs else 0)
                            for i in range(nprocs)]
    for n in shares:
        if n == 0:
            continue
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            os.setsid()  # a scheduling group per sink process too (see the probes' below)
            asyncio.set_event_loop(None)
            asyncio.run(sink_proc(host, int(port), token, event, n, w))
            os._exit(0)
        os.close(w)
        children.append((pid, os.fdopen(r, "rb", buffering=0)))
    # The probes in a session of their own (the kernel's autogroups share the
    # CPU between sessions): a dashboard on its own machine, not one that
    # waits for the CPU behind 980 sinks reading every byte.
    try:
        os.setsid()
    except OSError:
        pass
    subscribed = 0

    def ready():
        nonlocal subscribed
        subscribed += 1

    tasks = [asyncio.create_task(sink(host, int(port), token, event, None, ready, p)) for p in probe_stats]
    for _, f in children:
        line = await loop.run_in_executor(None, f.readline)
        if line.strip() != b"ready":
            print("a sink process failed", flush=True)
            sys.exit(1)
    while subscribed < probes:
        await asyncio.sleep(0.05)
    print("ready", flush=True)
    done = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, done.set)
    loop.add_reader(sys.stdin.fileno(), lambda: (sys.stdin.buffer.read1(4096) or done.set()))
    await done.wait()
    await asyncio.sleep(1)  # the last events of the run
    read, closed = 0, 0
    for pid, f in children:
        os.kill(pid, signal.SIGTERM)
        b, c = (await loop.run_in_executor(None, f.readline)).split()
        read, closed = read + int(b), closed + int(c)
        os.waitpid(pid, 0)
    lat = [v for p in probe_stats for v in p.latencies]
    if os.environ.get("LATENCY_LOG"):
        with open(os.environ["LATENCY_LOG"], "w") as f:
            for at, v in sorted(s for p in probe_stats for s in p.samples):
                f.write(f"{at:.1f} {v:.1f}\n")
    events = [p.events for p in probe_stats]
    print(f"probes {probes}: events each min {min(events)} max {max(events)}, "
          f"created-event latency n={len(lat)} p50 {pct(lat, 0.5):.1f} ms p99 {pct(lat, 0.99):.1f} ms "
          f"max {max(lat) if lat else float('nan'):.1f} ms, closed {sum(p.closed for p in probe_stats)}", flush=True)
    print(f"sinks {clients - probes} in {len(children)} processes: {read} bytes read, closed by the server {closed}",
          flush=True)
    for t in tasks:
        t.cancel()


asyncio.run(main())
