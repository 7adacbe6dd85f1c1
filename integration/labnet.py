#!/usr/bin/env python3
"""Traffic helpers for the namespace lab (integration/lib.sh runs them with
`ip netns exec`). Every mode is bounded in time; payloads are deterministic so
the far end can check them without a side channel.

  accept-log ADDR PORT SECONDS OUTFILE    accept connections, log "peer_ip" per line
  tcp-sink ADDR PORT SECONDS OUTFILE      accept one connection, read to EOF,
                                          write "bytes sha256 seconds"
  tcp-send ADDR PORT BYTES SECONDS        connect (retrying), send BYTES, print "bytes sha256"
  udp-sink ADDR PORT SECONDS OUTFILE COUNT
                                          receive until COUNT valid datagrams or timeout,
                                          write "valid N invalid N dup N" and per-size counts
  udp-send ADDR PORT COUNT INTERVAL_MS    send COUNT self-checking datagrams
  notify-sink SOCKET SECONDS OUTFILE      a $NOTIFY_SOCKET stand-in: append every
                                          sd_notify message (one line each) to OUTFILE
  tcp-stream ADDR PORT SECONDS KBPS OUTFILE
                                          connect (retrying), send paced at KBPS (0 = as fast
                                          as possible) until SECONDS have passed, wait for the
                                          peer's close, write "bytes sha256" to OUTFILE
  gap-sink ADDR PORT SECONDS OUTFILE GAP_MS
                                          tcp-sink that also records every pause >= GAP_MS:
                                          "bytes sha256 seconds max_gap_ms", then "gap START END"
                                          lines (wall-clock ms, comparable with bash's EPOCHREALTIME)
  slow-sink ADDR PORT SECONDS OUTFILE SLOW_SECONDS
                                          gap-sink (GAP_MS 1000) with a 4 KiB SO_RCVBUF that reads
                                          1 KiB every 50 ms for SLOW_SECONDS, then drains at full speed
  conn-burst ADDR PORT COUNT GARBAGE SECONDS OUTFILE
                                          open COUNT TCP connections at once, GARBAGE of them send
                                          512 random bytes, the rest nothing; wait up to SECONDS
                                          for the peer to close them; write "key value" lines
"""
import hashlib
import os
import random
import resource
import selectors
import socket
import struct
import sys
import time

CHUNK = 1 << 20
UDP_SIZES = (64, 512, 1200, 1472, 3000)  # 3000 is fragmented by the sender's kernel
UDP_HEADER = struct.Struct("!II")  # sequence number, total datagram size


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def family(addr):
    # IPv6 literals (integration/ipv6.sh) contain a colon; everything else is IPv4.
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def mark_ready(outfile):
    write_atomic(outfile + ".ready", "")


def accept_log(addr, port, seconds, outfile):
    deadline = time.monotonic() + float(seconds)
    srv = socket.create_server((addr, int(port)), family=family(addr), reuse_port=False)
    mark_ready(outfile)
    with open(outfile, "a") as log:
        while (left := deadline - time.monotonic()) > 0:
            srv.settimeout(left)
            try:
                conn, peer = srv.accept()
            except socket.timeout:
                break
            log.write(peer[0] + "\n")
            log.flush()
            conn.close()


def tcp_sink(addr, port, seconds, outfile):
    deadline = time.monotonic() + float(seconds)
    srv = socket.create_server((addr, int(port)), family=family(addr))
    srv.settimeout(float(seconds))
    mark_ready(outfile)
    conn, _ = srv.accept()
    start = time.monotonic()
    digest, total = hashlib.sha256(), 0
    buf = bytearray(CHUNK)
    while (left := deadline - time.monotonic()) > 0:
        conn.settimeout(left)
        n = conn.recv_into(buf)
        if n == 0:
            break
        digest.update(memoryview(buf)[:n])
        total += n
    write_atomic(outfile, "%d %s %.3f\n" % (total, digest.hexdigest(), time.monotonic() - start))


def tcp_send(addr, port, nbytes, seconds):
    deadline = time.monotonic() + float(seconds)
    while True:
        try:
            conn = socket.create_connection((addr, int(port)), timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    conn.settimeout(max(1.0, deadline - time.monotonic()))
    rng = random.Random(4242)
    digest, left = hashlib.sha256(), int(nbytes)
    while left > 0:
        chunk = rng.randbytes(min(CHUNK, left))
        digest.update(chunk)
        conn.sendall(chunk)
        left -= len(chunk)
    conn.shutdown(socket.SHUT_WR)
    conn.settimeout(5)
    try:  # wait for the peer's close so all bytes were read before we report
        conn.recv(1)
    except OSError:
        pass
    print("%d %s" % (int(nbytes), digest.hexdigest()))


def udp_payload(seq):
    size = UDP_SIZES[seq % len(UDP_SIZES)]
    body = random.Random(seq).randbytes(size - UDP_HEADER.size)
    return UDP_HEADER.pack(seq, size) + body


def udp_sink(addr, port, seconds, outfile, count):
    deadline = time.monotonic() + float(seconds)
    sock = socket.socket(family(addr), socket.SOCK_DGRAM)
    # Forced past net.core.rmem_max (we run as root): a sink descheduled on a
    # busy machine must not turn into datagram loss blamed on the tunnel.
    try:
        sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), 16 << 20)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind((addr, int(port)))
    mark_ready(outfile)
    seen, invalid, dup = set(), 0, 0
    per_size = {s: 0 for s in UDP_SIZES}
    while len(seen) < int(count) and (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except socket.timeout:
            break
        if len(data) < UDP_HEADER.size:
            invalid += 1
            continue
        seq, size = UDP_HEADER.unpack_from(data)
        if size != len(data) or data != udp_payload(seq):
            invalid += 1
        elif seq in seen:
            dup += 1
        else:
            seen.add(seq)
            per_size[size] += 1
    sizes = " ".join("size%d %d" % kv for kv in per_size.items())
    write_atomic(outfile, "valid %d invalid %d dup %d %s\n" % (len(seen), invalid, dup, sizes))


def udp_send(addr, port, count, interval_ms):
    sock = socket.socket(family(addr), socket.SOCK_DGRAM)
    gap = float(interval_ms) / 1000.0
    for seq in range(int(count)):
        sock.sendto(udp_payload(seq), (addr, int(port)))
        time.sleep(gap)


def notify_sink(path, seconds, outfile):
    deadline = time.monotonic() + float(seconds)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    with open(outfile, "a") as out:
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                data = sock.recv(4096)
            except socket.timeout:
                break
            out.write(data.decode(errors="replace").replace("\n", " ").strip() + "\n")
            out.flush()


def wall_ms():
    return int(time.time() * 1000)


def tcp_stream(addr, port, seconds, kbps, outfile):
    deadline = time.monotonic() + float(seconds)
    while True:
        try:
            conn = socket.create_connection((addr, int(port)), timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    # Generous: a send may block for the whole length of a fault.
    conn.settimeout(120)
    rate = float(kbps) * 1000 / 8  # bytes per second, 0 = unpaced
    rng = random.Random(4343)
    digest, total, start = hashlib.sha256(), 0, time.monotonic()
    while (now := time.monotonic()) < deadline:
        if rate > 0 and total > (now - start) * rate:
            time.sleep(min(0.01, deadline - now))
            continue
        chunk = rng.randbytes(16384)
        digest.update(chunk)
        conn.sendall(chunk)
        total += len(chunk)
    conn.shutdown(socket.SHUT_WR)
    conn.settimeout(120)
    try:
        conn.recv(1)
    except OSError:
        pass
    write_atomic(outfile, "%d %s\n" % (total, digest.hexdigest()))


def gap_sink_impl(addr, port, seconds, outfile, gap_ms, rcvbuf=0, slow_seconds=0.0):
    deadline = time.monotonic() + float(seconds)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if rcvbuf:  # before listen: the accepted socket inherits it (and its window scale)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    srv.bind((addr, int(port)))
    srv.listen(1)
    srv.settimeout(float(seconds))
    mark_ready(outfile)
    conn, _ = srv.accept()
    start = time.monotonic()
    digest, total, gaps, max_gap = hashlib.sha256(), 0, [], 0
    buf = bytearray(CHUNK)
    last = wall_ms()
    while (left := deadline - time.monotonic()) > 0:
        slow = time.monotonic() - start < slow_seconds
        conn.settimeout(left)
        n = conn.recv_into(buf, 1024 if slow else CHUNK)
        now = wall_ms()
        if n == 0:
            break
        if now - last >= int(gap_ms):
            gaps.append((last, now))
        max_gap, last = max(max_gap, now - last), now
        digest.update(memoryview(buf)[:n])
        total += n
        if slow:
            time.sleep(0.05)
    lines = ["%d %s %.3f %d" % (total, digest.hexdigest(), time.monotonic() - start, max_gap)]
    lines += ["gap %d %d" % g for g in gaps]
    write_atomic(outfile, "\n".join(lines) + "\n")


def gap_sink(addr, port, seconds, outfile, gap_ms):
    gap_sink_impl(addr, port, seconds, outfile, gap_ms)


def slow_sink(addr, port, seconds, outfile, slow_seconds):
    gap_sink_impl(addr, port, seconds, outfile, 1000, rcvbuf=4096, slow_seconds=float(slow_seconds))


def conn_burst(addr, port, count, garbage, seconds, outfile):
    count, garbage = int(count), int(garbage)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sel = selectors.DefaultSelector()
    start = time.monotonic()
    socks = []
    for i in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex((addr, int(port)))
        socks.append(s)
        sel.register(s, selectors.EVENT_WRITE, i)
    connected, refused, pending = set(), 0, set(range(count))
    deadline = start + 10
    while pending and (left := deadline - time.monotonic()) > 0:
        for key, _ in sel.select(left):
            i = key.data
            sel.unregister(key.fileobj)
            pending.discard(i)
            if socks[i].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                connected.add(i)
                if i < garbage:
                    try:
                        socks[i].send(random.Random(i).randbytes(512))
                    except OSError:
                        pass
                sel.register(socks[i], selectors.EVENT_READ, i)
            else:
                refused += 1
    connect_ms = int((time.monotonic() - start) * 1000)
    closed, close_ms = 0, []
    deadline = start + float(seconds)
    while closed < len(connected) and (left := deadline - time.monotonic()) > 0:
        for key, _ in sel.select(left):
            try:
                data = key.fileobj.recv(4096)
            except OSError:
                data = b""
            if not data:  # EOF or reset: the intermediary gave up on it
                sel.unregister(key.fileobj)
                closed += 1
                close_ms.append(int((time.monotonic() - start) * 1000))
    close_ms.sort()
    rows = {
        "attempted": count, "connected": len(connected), "refused": refused,
        "unanswered": len(pending), "connect_ms": connect_ms, "closed_by_peer": closed,
        "still_open": len(connected) - closed,
        "median_close_ms": close_ms[len(close_ms) // 2] if close_ms else -1,
        "max_close_ms": close_ms[-1] if close_ms else -1,
    }
    for s in socks:
        s.close()
    write_atomic(outfile, "".join("%s %d\n" % kv for kv in rows.items()))


MODES = {
    "notify-sink": (notify_sink, 3),
    "accept-log": (accept_log, 4),
    "tcp-sink": (tcp_sink, 4),
    "tcp-send": (tcp_send, 4),
    "udp-sink": (udp_sink, 5),
    "udp-send": (udp_send, 4),
    "tcp-stream": (tcp_stream, 5),
    "gap-sink": (gap_sink, 5),
    "slow-sink": (slow_sink, 5),
    "conn-burst": (conn_burst, 6),
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in MODES or len(sys.argv) - 2 != MODES[sys.argv[1]][1]:
        sys.exit(__doc__)
    MODES[sys.argv[1]][0](*sys.argv[2:])
