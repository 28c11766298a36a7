#!/usr/bin/env python3
"""epoll against io_uring, alternating A B A B: throughput (wrk) and server CPU per request.

Usage (from the workspace root, after cargo build --release): python3 servers/io_uring/bench/compare.py plaintext|pipelined ROUNDS SECONDS
"""
import subprocess, sys, time, os, re, json, urllib.request
LAB = os.environ.get("LAB", "target/release/lab")
TICK = os.sysconf("SC_CLK_TCK")

def start(model, extra):
    p = subprocess.Popen([LAB, "serve", "--model", model, "--addr", "127.0.0.1:0", "--loops", "1"] + extra,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    addr = line.strip().split("http://")[1]
    return p, addr

def cpu(pid):
    # utime + stime from /proc/PID/stat is in ticks (10 ms); the threads' schedstat run time is
    # in ns. Both are reported; the ratio uses schedstat.
    total = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        total += int(open(f"/proc/{pid}/task/{t}/schedstat").read().split()[0])
    return total / 1e9

def ticks(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK  # utime + stime (fields 14, 15)

def requests(addr):
    s = urllib.request.urlopen(f"http://{addr}/_status", timeout=5).read().decode()
    return sum(int(x) for x in re.findall(r'"requests":(\d+)', s))

def one(model, mode, dur):
    p, addr = start(model, [])
    try:
        time.sleep(0.3)
        # warm-up
        subprocess.run(["wrk", "-t1", "-c100", "-d1s", f"http://{addr}/"], capture_output=True, timeout=30)
        r0, c0, t0 = requests(addr), cpu(p.pid), ticks(p.pid)
        args = ["wrk", "-t1", "-c100", f"-d{dur}s", f"http://{addr}/"]
        if mode == "pipelined":
            args[1:1] = ["-s", os.path.join(os.path.dirname(os.path.abspath(__file__)), "pipeline.lua")]
        out = subprocess.run(args, capture_output=True, text=True, timeout=dur + 30).stdout
        c1, t1, r1 = cpu(p.pid), ticks(p.pid), requests(addr)
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        errs = re.search(r"Socket errors:.*|Non-2xx.*", out)
        reqs = r1 - r0 - 1
        return dict(model=model, mode=mode, rps=rps, cpu_s=round(c1 - c0, 3), stat_cpu_s=round(t1 - t0, 2), reqs=reqs,
                    per_cpu_s=reqs / max(c1 - c0, 1e-9), errors=errs.group(0) if errs else "")
    finally:
        p.terminate(); p.wait(timeout=10)

if __name__ == "__main__":
    mode = sys.argv[1]; rounds = int(sys.argv[2]); dur = int(sys.argv[3])
    results = []
    for i in range(rounds):
        for model in ["epoll", "io_uring"]:
            r = one(model, mode, dur)
            print(json.dumps(r), flush=True)
            results.append(r)
    for model in ["epoll", "io_uring"]:
        rs = [r for r in results if r["model"] == model]
        print(model, mode, "rps", [round(r["rps"]) for r in rs], "req/cpu-s", [round(r["per_cpu_s"]) for r in rs])
    e = [r for r in results if r["model"] == "epoll"]; u = [r for r in results if r["model"] == "io_uring"]
    import statistics
    rr = [b["rps"] / a["rps"] for a, b in zip(e, u)]; cr = [b["per_cpu_s"] / a["per_cpu_s"] for a, b in zip(e, u)]
    print("pairwise rps ratio", [round(x, 3) for x in rr], "median", round(statistics.median(rr), 3))
    print("pairwise req/cpu-s ratio", [round(x, 3) for x in cr], "median", round(statistics.median(cr), 3))
    print("totals: rps ratio", round(sum(r["reqs"] for r in u) / sum(r["reqs"] for r in e), 3),
          "req/cpu-s ratio", round((sum(r["reqs"] for r in u) / sum(r["cpu_s"] for r in u)) / (sum(r["reqs"] for r in e) / sum(r["cpu_s"] for r in e)), 3))
