#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Side-by-side micro-benchmark runs on a shared machine: runs each Google
Benchmark binary in turn, ROUNDS times, 5 repetitions of --benchmark_min_time=0.05
each, and prints the least CPU time per benchmark per binary (the least is the
figure other processes disturb least).

    scripts/micro_ab.py ROUNDS FILTER BINARY...
    scripts/micro_ab.py 15 'batch|single' /tmp/base/cloudevents_bench build/bench/cloudevents/cloudevents_bench
"""
import json
import subprocess
import sys


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    rounds, filt, bins = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    best = {}
    for _ in range(rounds):
        for b in bins:
            out = subprocess.run([b, "--benchmark_filter=" + filt, "--benchmark_repetitions=5",
                                  "--benchmark_min_time=0.05", "--benchmark_format=json"],
                                 capture_output=True, text=True, check=True).stdout
            for bm in json.loads(out)["benchmarks"]:
                if bm.get("run_type") != "iteration":
                    continue
                k = (b, bm["run_name"])
                if k not in best or bm["cpu_time"] < best[k][0]:
                    best[k] = (bm["cpu_time"], bm.get("bytes_per_second", 0))
    for name in sorted({n for _, n in best}):
        cells = ["%s: %.1f ns %.2f GiB/s" % (b, best[(b, name)][0], best[(b, name)][1] / 2**30) for b in bins]
        print("%-30s %s" % (name, "  |  ".join(cells)))


if __name__ == "__main__":
    main()
