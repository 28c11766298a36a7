#!/usr/bin/env python3
"""PSS per idle keep-alive connection: N clients each send one GET, read the answer, stay open."""
import socket, subprocess, sys, time, resource, os
LAB = os.environ.get("LAB", "target/release/lab")
N = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
model = sys.argv[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (N + 1000, N + 1000))
def pss(pid):
    for l in open(f"/proc/{pid}/smaps_rollup"):
        if l.startswith("Pss:"):
            return int(l.split()[1])
p = subprocess.Popen(["prlimit", f"--nofile={N+1000}", LAB, "serve", "--model", model, "--loops", "2", "--addr", "127.0.0.1:0"],
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
addr = p.stdout.readline().strip().split("http://")[1]
host, port = addr.split(":"); port = int(port)
time.sleep(0.3)
# warm-up: a few thousand requests on short connections
for i in range(2000):
    s = socket.create_connection((host, port)); s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"); s.recv(4096); s.close()
time.sleep(0.5)
before = pss(p.pid)
socks = []
for i in range(N):
    s = socket.create_connection((host, port))
    s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    socks.append(s)
for s in socks:
    s.settimeout(10); assert b"200 OK" in s.recv(4096)
time.sleep(0.5)
after = pss(p.pid)
print(f"{model}: PSS {before} kB -> {after} kB with {N} idle connections: {(after-before)*1024/N:.0f} bytes per idle connection")
for s in socks: s.close()
p.terminate(); p.wait(timeout=20)
