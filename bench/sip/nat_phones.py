#!/usr/bin/env python3
"""Phones behind NAT for the keep-alive benchmark (docs/performance.md,
"Interconnections"): `count` phones b<first>.. (password secret<i>, as
bench/sip/run_interconnect.sh imports them), each on its own UDP socket of
127.0.0.1 (its router's public port) writing a private address
(192.168.<i/250>.<i%250+2>:5060) in its Via and Contact, as a phone behind
a home router does. Each registers with MD5 digest, then for `seconds`:
answers the registrar's OPTIONS (its qualify keep-alive) with 200 and sends
its own CRLF keep-alive (RFC 5626 section 4.4.1 over UDP) every `keepalive`
seconds. Prints, once done, the packets each way per second.
Usage: nat_phones.py <sip port> <first> <count> <seconds> [keepalive s] [window]"""
import hashlib, random, resource, select, socket, sys, time

port, first, count, seconds = (int(a) for a in sys.argv[1:5])
keepalive = float(sys.argv[5]) if len(sys.argv) > 5 else 25.0
window = int(sys.argv[6]) if len(sys.argv) > 6 else 200
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
need = count + 256
if soft < need:
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(need, soft), max(need, hard)))
server = ("127.0.0.1", port)
uri = "sip:127.0.0.1:%d" % port
md5 = lambda s: hashlib.md5(s.encode()).hexdigest()
ep = select.epoll()
phones = []  # index -> socket
by_fd = {}
for n in range(count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setblocking(False)
    phones.append(s)
    by_fd[s.fileno()] = n
    ep.register(s.fileno(), select.EPOLLIN)


def private(n):
    return "192.168.%d.%d" % (n // 250, n % 250 + 2)


def register(n, cseq, auth=""):
    i = first + n
    user = "b%d" % i
    msg = ("REGISTER %s SIP/2.0\r\nVia: SIP/2.0/UDP %s:5060;branch=z9hG4bK%d.%d.%d\r\n"
           "Max-Forwards: 70\r\nFrom: <sip:%s@127.0.0.1>;tag=%d\r\nTo: <sip:%s@127.0.0.1>\r\n"
           "Call-ID: nat-%d\r\nCSeq: %d REGISTER\r\nContact: <sip:%s@%s:5060>\r\n"
           "Expires: 3600\r\nUser-Agent: nat-phone\r\n%sContent-Length: 0\r\n\r\n") % (
        uri, private(n), i, cseq, random.getrandbits(32), user, i, user, i, cseq, user, private(n),
        ("Authorization: %s\r\n" % auth) if auth else "")
    phones[n].sendto(msg.encode(), server)


def header(text, name):
    for line in text.split("\r\n"):
        if line.lower().startswith(name.lower() + ":"):
            return line
    return ""


def param(text, key):
    at = text.find(key + '="')
    return text[at + len(key) + 2:text.find('"', at + len(key) + 2)]


# --- registration, `window` in flight
pending, nxt, registered, failed = {}, 0, 0, 0
deadline = time.time() + 300
while (nxt < count or pending) and time.time() < deadline:
    while nxt < count and len(pending) < window:
        register(nxt, 1)
        pending[nxt] = (1, time.time())
        nxt += 1
    events = ep.poll(0.5)
    if not events:
        for n, (cseq, at) in list(pending.items()):
            if time.time() - at > 2:
                register(n, cseq + 10)
                pending[n] = (cseq + 10, time.time())
        continue
    for fd, _ in events:
        n = by_fd[fd]
        try:
            data = phones[n].recv(65535).decode(errors="replace")
        except BlockingIOError:
            continue
        if not data.startswith("SIP/2.0 ") or n not in pending:
            continue
        status = int(data[8:11])
        if status < 200:
            continue
        cseq = pending[n][0]
        if status == 401:
            i = first + n
            nonce, realm = param(data, "nonce"), param(data, "realm")
            ha1 = md5("b%d:%s:secret%d" % (i, realm, i))
            resp = md5("%s:%s:00000001:c%d:auth:%s" % (ha1, nonce, i, md5("REGISTER:" + uri)))
            register(n, cseq + 1, ('Digest username="b%d", realm="%s", nonce="%s", uri="%s", response="%s", '
                                   'algorithm=MD5, cnonce="c%d", qop=auth, nc=00000001') % (i, realm, nonce, uri, resp, i))
            pending[n] = (cseq + 1, time.time())
        else:
            del pending[n]
            registered += status == 200
            failed += status != 200
print("registered %d, failed %d, unfinished %d" % (registered, failed, len(pending)), flush=True)

# --- keep-alives: answer OPTIONS, send CRLF every `keepalive` s (spread)
received = answered = sent_ka = 0
start = time.time()
next_ka = [start + keepalive * n / count for n in range(count)]
cursor = 0
while time.time() - start < seconds:
    now = time.time()
    # The phones whose keep-alive is due, in the order they were spread.
    while now >= next_ka[cursor]:
        phones[cursor].sendto(b"\r\n\r\n", server)
        sent_ka += 1
        next_ka[cursor] += keepalive
        cursor = (cursor + 1) % count
    for fd, _ in ep.poll(0.05):
        n = by_fd[fd]
        while True:
            try:
                data = phones[n].recv(65535).decode(errors="replace")
            except BlockingIOError:
                break
            received += 1
            if not data.startswith("OPTIONS "):
                continue
            reply = "\r\n".join(["SIP/2.0 200 OK", header(data, "Via"), header(data, "From"),
                                 header(data, "To") + ";tag=p%d" % n, header(data, "Call-ID"),
                                 header(data, "CSeq"), "Content-Length: 0", "", ""])
            phones[n].sendto(reply.encode(), server)
            answered += 1
elapsed = time.time() - start
print("%.0f s: OPTIONS answered %d (%.0f/s), CRLF keep-alives sent %d (%.0f/s), packets in %d out %d (%.0f/s total)"
      % (elapsed, answered, answered / elapsed, sent_ka, sent_ka / elapsed, received, answered + sent_ka,
         (received + answered + sent_ka) / elapsed), flush=True)
