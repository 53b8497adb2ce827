#!/usr/bin/env python3
"""BLF watchers and monitored phones for bench/presence/run_shipped.sh.

One process plays both ends of a busy lamp field so that the latency of a
state change is read on one clock:

* the monitored phones: lines u<first>..u<first+monitored-1> (extensions
  2000+i, password pw<i>) register from one socket and answer every INVITE
  with 180 Ringing, then 486 Busy Here `--ring-ms` later. The instant the
  INVITE reaches the phone is the state change (the line starts ringing);
* the watchers: `--subs` dialog subscriptions (RFC 4235) spread over the
  watcher lines u<watchers_first>.. (`--per-watcher` each, as phones with
  that many BLF keys), each on one monitored extension in turn. Every
  NOTIFY is answered 200 at once.

For each ringing (extension, INVITE) the latency is the time from the INVITE
to the NOTIFY saying "early" (ringing) at each watcher of that extension;
the figures are per NOTIFY and per change (the last of its watchers).
Digest auth (MD5) answers the server's 401/407 on REGISTER and SUBSCRIBE; a
503 (a server shedding load) is tried again after its Retry-After, as phones do.

Prints {"registered": ...} once the phones registered (then waits 3 s, for
a memory reading before the subscriptions), {"ready": ...} once every
subscription was answered, one JSON line of figures on each SIGUSR1 (and
starts counting again), and a last one on SIGTERM/SIGINT or `--duration`
seconds after "ready".
"""
import argparse
import asyncio
import hashlib
import json
import os
import re
import signal
import socket
import sys
import time


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


def header(msg, name):
    m = re.search(r"^" + name + r"\s*:\s*(.*?)\r?$", msg, re.M | re.I)
    return m.group(1) if m else ""


def digest(challenge, method, uri, user, password):
    realm = re.search(r'realm="([^"]*)"', challenge).group(1)
    nonce = re.search(r'nonce="([^"]*)"', challenge).group(1)
    qop = re.search(r'qop="?([^",]*)', challenge)
    ha1 = md5(f"{user}:{realm}:{password}")
    ha2 = md5(f"{method}:{uri}")
    if qop:
        cnonce, nc = os.urandom(4).hex(), "00000001"
        resp = md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
        return (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
                f'response="{resp}", algorithm=MD5, qop=auth, nc={nc}, cnonce="{cnonce}"')
    resp = md5(f"{ha1}:{nonce}:{ha2}")
    return (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
            f'response="{resp}", algorithm=MD5')


def response_to(msg, code, reason, extra=""):
    lines = [f"SIP/2.0 {code} {reason}"]
    for name in ("Via", "From", "To", "Call-ID", "CSeq"):
        for m in re.finditer(r"^(" + name + r")\s*:\s*(.*?)\r?$", msg, re.M | re.I):
            value = m.group(2)
            if name == "To" and code > 100 and ";tag=" not in value:
                value += ";tag=" + md5(header(msg, "Call-ID"))[:10]
            lines.append(f"{m.group(1)}: {value}")
    return "\r\n".join(lines) + "\r\n" + extra + "Content-Length: 0\r\n\r\n"


class Endpoint(asyncio.DatagramProtocol):
    """One UDP socket; requests from the server go to `on_request`,
    responses to the transaction waiting on their Call-ID + CSeq."""

    def __init__(self, on_request):
        self.on_request = on_request
        self.waiting = {}

    def connection_made(self, transport):
        self.transport = transport
        self.port = transport.get_extra_info("sockname")[1]

    def datagram_received(self, data, addr):
        now = time.monotonic()
        msg = data.decode(errors="replace")
        if msg.startswith("SIP/2.0"):
            key = (header(msg, "Call-ID"), header(msg, "CSeq"))
            fut = self.waiting.get(key)
            code = int(msg.split(" ", 2)[1])
            if fut and not fut.done() and code >= 200:
                fut.set_result(msg)
            return
        self.on_request(self, msg, addr, now)

    async def request(self, text, call_id, cseq, server, timeout=8.0):
        key = (call_id, cseq)
        for attempt in range(4):
            fut = asyncio.get_running_loop().create_future()
            self.waiting[key] = fut
            self.transport.sendto(text.encode(), server)
            try:
                return await asyncio.wait_for(fut, timeout / 4)
            except asyncio.TimeoutError:
                continue
            finally:
                self.waiting.pop(key, None)
        raise TimeoutError(f"no answer to {cseq} {call_id}")


class Probe:
    def __init__(self, a):
        self.a = a
        host, port = a.server.split(":")
        self.server = (host, int(port))
        self.rang = {}        # extension -> monotonic time of the INVITE being rung
        self.samples = []     # per NOTIFY: seconds from the INVITE
        self.per_change = {}  # (extension, INVITE time) -> latest NOTIFY latency
        self.notifies = 0
        self.invites = 0
        self.accepted = 0
        self.refused = 0
        self.retried = 0  # 503s (overload) answered by trying again
        self.seq = 0

    # The monitored phones.
    def on_phone_request(self, ep, msg, addr, now):
        method = msg.split(" ", 1)[0]
        if method == "INVITE":
            self.invites += 1
            user = re.match(r"INVITE sip:u(\d+)@", msg)
            if user:
                self.rang[2000 + int(user.group(1))] = now
            contact = f"Contact: <sip:{header(msg, 'To').split('sip:')[1].split('@')[0]}@127.0.0.1:{ep.port}>\r\n"
            ep.transport.sendto(response_to(msg, 180, "Ringing", contact).encode(), addr)
            loop = asyncio.get_running_loop()
            loop.call_later(self.a.ring_ms / 1000, lambda: ep.transport.sendto(
                response_to(msg, 486, "Busy Here").encode(), addr))
        elif method in ("BYE", "CANCEL", "OPTIONS", "NOTIFY"):
            ep.transport.sendto(response_to(msg, 200, "OK").encode(), addr)

    # The watchers.
    def on_watcher_request(self, ep, msg, addr, now):
        method = msg.split(" ", 1)[0]
        ep.transport.sendto(response_to(msg, 200, "OK").encode(), addr)
        if method != "NOTIFY":
            return
        self.notifies += 1
        body = msg.split("\r\n\r\n", 1)[1] if "\r\n\r\n" in msg else ""
        if "<state>early</state>" not in body and ">early<" not in body:
            return
        m = re.search(r'entity="sip:(\d+)@', body)
        if not m:
            return
        ext = int(m.group(1))
        t = self.rang.get(ext)
        if t is None or now - t > 5:
            return
        lat = now - t
        self.samples.append(lat)
        key = (ext, t)
        self.per_change[key] = max(self.per_change.get(key, 0.0), lat)

    def next_id(self):
        self.seq += 1
        return f"{self.seq}-{os.getpid()}@probe"

    async def authed(self, ep, method, uri, user, password, lines):
        """The final code of `method` with digest auth; a 503 is tried again
        after its Retry-After (5 s at most), 5 times, as a phone does."""
        for _ in range(5):
            code, retry = await self.authed_once(ep, method, uri, user, password, lines)
            if code != 503:
                return code
            self.retried += 1
            await asyncio.sleep(min(5, retry))
        return code

    async def authed_once(self, ep, method, uri, user, password, lines):
        call_id, tag = self.next_id(), os.urandom(4).hex()
        base = [f"{method} {uri} SIP/2.0", f"Via: SIP/2.0/UDP 127.0.0.1:{ep.port};branch=z9hG4bK{os.urandom(6).hex()}",
                f"From: <sip:{user}@127.0.0.1>;tag={tag}", f"Call-ID: {call_id}", "Max-Forwards: 70"] + lines
        text = "\r\n".join(base + [f"CSeq: 1 {method}", "Content-Length: 0", "", ""])
        r = await ep.request(text, call_id, f"1 {method}", self.server)
        code = int(r.split(" ", 2)[1])
        if code in (401, 407):
            name = "WWW-Authenticate" if code == 401 else "Proxy-Authenticate"
            auth = "Authorization" if code == 401 else "Proxy-Authorization"
            base[1] = f"Via: SIP/2.0/UDP 127.0.0.1:{ep.port};branch=z9hG4bK{os.urandom(6).hex()}"
            text = "\r\n".join(base + [f"{auth}: {digest(header(r, name), method, uri, user, password)}",
                                       f"CSeq: 2 {method}", "Content-Length: 0", "", ""])
            r = await ep.request(text, call_id, f"2 {method}", self.server)
            code = int(r.split(" ", 2)[1])
        retry = header(r, "Retry-After").split(";")[0].strip()
        return code, int(retry) if retry.isdigit() else 1

    async def register(self, ep, i):
        user = f"u{i}"
        uri = f"sip:{self.a.server}"
        return await self.authed(ep, "REGISTER", uri, user, f"pw{i}", [
            f"To: <sip:{user}@127.0.0.1>", f"Contact: <sip:{user}@127.0.0.1:{ep.port}>", "Expires: 3600"])

    async def subscribe(self, ep, watcher, ext):
        uri = f"sip:{ext}@{self.a.server}"
        code = await self.authed(ep, "SUBSCRIBE", uri, f"u{watcher}", f"pw{watcher}", [
            f"To: <sip:{ext}@127.0.0.1>", f"Contact: <sip:u{watcher}@127.0.0.1:{ep.port}>",
            "Event: dialog", "Accept: application/dialog-info+xml", "Expires: 3600"])
        if 200 <= code < 300:
            self.accepted += 1
        else:
            self.refused += 1

    async def run(self):
        loop = asyncio.get_running_loop()
        _, phone = await loop.create_datagram_endpoint(
            lambda: Endpoint(self.on_phone_request), local_addr=("127.0.0.1", self.a.phone_port))
        for i in range(self.a.first, self.a.first + self.a.monitored, 50):
            codes = await asyncio.gather(*(self.register(phone, j)
                                           for j in range(i, min(i + 50, self.a.first + self.a.monitored))))
            if any(c != 200 for c in codes):
                print(f"registration refused: {codes}", file=sys.stderr)
        print(json.dumps({"registered": self.a.monitored}), flush=True)
        await asyncio.sleep(3)
        watchers = []
        for w in range((self.a.subs + self.a.per_watcher - 1) // self.a.per_watcher):
            _, ep = await loop.create_datagram_endpoint(
                lambda: Endpoint(self.on_watcher_request), local_addr=("127.0.0.1", 0))
            watchers.append(ep)
        jobs = []
        for k in range(self.a.subs):
            w = k // self.a.per_watcher
            ext = 2000 + self.a.first + (k % self.a.monitored)
            jobs.append((watchers[w], self.a.watchers_first + w, ext))
        for i in range(0, len(jobs), 100):
            await asyncio.gather(*(self.subscribe(*j) for j in jobs[i:i + 100]))
        print(json.dumps({"ready": True, "accepted": self.accepted, "refused": self.refused,
                          "retried_503": self.retried}), flush=True)
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGUSR1, self.report)
        self.reset()
        try:
            await asyncio.wait_for(stop.wait(), self.a.duration)
        except asyncio.TimeoutError:
            pass
        self.report()

    def reset(self):
        self.samples, self.per_change = [], {}
        self.notifies = self.invites = 0

    def report(self):
        def pct(xs, p):
            xs = sorted(xs)
            return round(xs[min(len(xs) - 1, int(p * len(xs)))] * 1000, 2) if xs else None

        changes = list(self.per_change.values())
        print(json.dumps({
            "subscriptions": self.accepted, "refused": self.refused, "invites": self.invites,
            "notifies": self.notifies, "early_notifies": len(self.samples), "changes": len(changes),
            "notify_ms": {"p50": pct(self.samples, 0.5), "p99": pct(self.samples, 0.99),
                          "max": pct(self.samples, 1.0)},
            "change_last_watcher_ms": {"p50": pct(changes, 0.5), "p99": pct(changes, 0.99),
                                       "max": pct(changes, 1.0)}}), flush=True)
        self.reset()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--server", required=True, help="host:port of the server")
    p.add_argument("--first", type=int, default=200, help="first monitored line u<first> (extension 2000+first)")
    p.add_argument("--monitored", type=int, default=1000)
    p.add_argument("--subs", type=int, default=10000)
    p.add_argument("--watchers-first", type=int, default=1300, help="first watcher line")
    p.add_argument("--per-watcher", type=int, default=100, help="subscriptions per watcher line")
    p.add_argument("--phone-port", type=int, default=5096)
    p.add_argument("--ring-ms", type=int, default=300)
    p.add_argument("--duration", type=float, default=3600)
    asyncio.run(Probe(p.parse_args()).run())


if __name__ == "__main__":
    main()
