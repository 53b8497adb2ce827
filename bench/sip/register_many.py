#!/usr/bin/env python3
"""Registers distinct AORs u<first>..u<first+count-1> (password pw<i>, as
sip_bench_server creates them) over UDP with MD5 digest, at most `window`
registrations in flight; prints how many got 200. For RSS per registration
(SIPp 3.6.1 cannot take per-row credentials).
Usage: register_many.py <port> <first> <count> [window]"""
import hashlib, random, select, socket, sys, time

port, first, count = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
window = int(sys.argv[4]) if len(sys.argv) > 4 else 100
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", 0))
lport = sock.getsockname()[1]
server = ("127.0.0.1", port)
uri = "sip:127.0.0.1:%d" % port
md5 = lambda s: hashlib.md5(s.encode()).hexdigest()


def register(i, cseq, auth=""):
    user = "u%d" % i
    msg = ("REGISTER %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%d.%d.%d;rport\r\n"
           "Max-Forwards: 70\r\nFrom: <sip:%s@127.0.0.1>;tag=%d\r\nTo: <sip:%s@127.0.0.1>\r\n"
           "Call-ID: many-%d-%d\r\nCSeq: %d REGISTER\r\nContact: <sip:%s@127.0.0.1:%d>\r\n"
           "Expires: 3600\r\n%sContent-Length: 0\r\n\r\n") % (
        uri, lport, i, cseq, random.getrandbits(32), user, i, user, i, cseq, cseq, user, lport,
        ("Authorization: %s\r\n" % auth) if auth else "")
    sock.sendto(msg.encode(), server)


def param(text, key):
    at = text.find(key + '="')
    return text[at + len(key) + 2:text.find('"', at + len(key) + 2)]


pending = {}  # i -> (cseq, sent at)
next_i, done, failed = first, 0, 0
deadline = time.time() + 120
while (next_i < first + count or pending) and time.time() < deadline:
    while next_i < first + count and len(pending) < window:
        register(next_i, 1)
        pending[next_i] = (1, time.time())
        next_i += 1
    r, _, _ = select.select([sock], [], [], 0.5)
    if not r:
        for i, (cseq, at) in list(pending.items()):
            if time.time() - at > 2:  # lost: start this one again
                register(i, cseq + 10)
                pending[i] = (cseq + 10, time.time())
        continue
    data = sock.recv(65535).decode(errors="replace")
    status = int(data[8:11])
    call = data[data.find("Call-ID: many-") + 14:].split("\r\n")[0]
    i = int(call.split("-")[0])
    if i not in pending or status < 200:
        continue
    cseq = pending[i][0]
    if status == 401:
        nonce, realm = param(data, "nonce"), param(data, "realm")
        ha1 = md5("u%d:%s:pw%d" % (i, realm, i))
        ha2 = md5("REGISTER:" + uri)
        resp = md5("%s:%s:00000001:c%d:auth:%s" % (ha1, nonce, i, ha2))
        auth = ('Digest username="u%d", realm="%s", nonce="%s", uri="%s", response="%s", '
                'algorithm=MD5, cnonce="c%d", qop=auth, nc=00000001') % (i, realm, nonce, uri, resp, i)
        register(i, cseq + 1, auth)
        pending[i] = (cseq + 1, time.time())
    else:
        del pending[i]
        if status == 200:
            done += 1
        else:
            failed += 1
print("registered %d, failed %d, unfinished %d" % (done, failed, len(pending)))
