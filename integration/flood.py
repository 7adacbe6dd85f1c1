#!/usr/bin/env python3
"""Silent-connection flood for integration/flood.sh (run with `ip netns exec`).

  flood.py ADDR PORT COUNT RATE SOURCES... OUTFILE

Opens COUNT TCP connections to ADDR:PORT at about RATE per second, cycling
over the SOURCES addresses (bound before connecting), and never sends a
byte. Connections the peer closes are closed here too; the rest are held
until the end (fds bounded by COUNT). Bounded in time: COUNT / RATE seconds
plus 2. Writes "opened N connected N refused N closed_by_peer N held N".
"""
import errno
import resource
import select
import socket
import sys
import time


def main():
    addr, port, count, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    sources, out = sys.argv[5:-1], sys.argv[-1]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = count + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard) if hard != resource.RLIM_INFINITY else want,
                                                    hard))
    poller = select.epoll()
    socks = {}
    stats = {"opened": 0, "connected": 0, "refused": 0, "closed_by_peer": 0}
    start = time.monotonic()
    deadline = start + count / rate + 2

    def reap(timeout):
        for fd, ev in poller.poll(timeout):
            s = socks.get(fd)
            if s is None:
                continue
            if ev & (select.EPOLLHUP | select.EPOLLERR | select.EPOLLRDHUP | select.EPOLLIN):
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                stats["refused" if err else "closed_by_peer"] += 1
                poller.unregister(fd)
                s.close()
                del socks[fd]
            elif ev & select.EPOLLOUT:
                stats["connected"] += 1
                poller.modify(fd, select.EPOLLIN | select.EPOLLRDHUP)

    i = 0
    while i < count and time.monotonic() < deadline:
        due = int((time.monotonic() - start) * rate) + 1
        while i < min(due, count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((sources[i % len(sources)], 0))
            s.setblocking(False)
            e = s.connect_ex((addr, port))
            if e not in (0, errno.EINPROGRESS):
                stats["refused"] += 1
                s.close()
            else:
                socks[s.fileno()] = s
                poller.register(s.fileno(), select.EPOLLOUT | select.EPOLLIN | select.EPOLLRDHUP)
            stats["opened"] += 1
            i += 1
        reap(0.01)
    while time.monotonic() < deadline:
        reap(0.1)
    stats["held"] = len(socks)
    with open(out, "w") as f:
        f.write(" ".join(f"{k} {v}" for k, v in stats.items()) + "\n")
    for s in socks.values():
        s.close()


if __name__ == "__main__":
    main()
