#!/usr/bin/env python3
"""Plots bench/results/latest.csv as bench/results/throughput.png: MB/s vs message size,
one panel per direction x kind, one line per implementation."""
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "results", "latest.csv")
dst = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "results", "throughput.png")

data = {}
with open(src) as f:
    for row in csv.DictReader(f):
        if row["section"] != "throughput":
            continue
        key = (row["dir"], row["kind"], row["impl"])
        data.setdefault(key, []).append((int(row["size"]), float(row["mb_per_s"])))

if not data:
    # A partial run (e.g. `scripts/bench.sh callgrind`) has no throughput rows: keep the old plot.
    print(f"no throughput rows in {src}: {dst} left as it was")
    sys.exit(0)

dirs = [("recv", "server receive (client-masked frames)"), ("send", "client send (frame + mask)")]
kinds = ["binary", "ascii", "utf8-multi"]
style = {
    "ours": dict(color="tab:red", marker="o", linewidth=2.5),
    "tungstenite": dict(color="tab:blue", marker="s"),
    "fastwebsockets": dict(color="tab:green", marker="^"),
    "wslay": dict(color="tab:purple", marker="v"),
    "memcpy": dict(color="gray", marker=".", linestyle="--"),
}
sizes = [16, 125, 1024, 16384, 65536, 1048576]
labels = ["16", "125", "1K", "16K", "64K", "1M"]

fig, axes = plt.subplots(2, 3, figsize=(15, 8.5), sharex=True)
for r, (d, dname) in enumerate(dirs):
    for c, k in enumerate(kinds):
        ax = axes[r][c]
        for impl, st in style.items():
            pts = sorted(data.get((d, k, impl), []))
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], label=impl, **st)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(sizes)
        ax.set_xticklabels(labels)
        ax.set_title(f"{dname}: {k}", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        if c == 0:
            ax.set_ylabel("MB/s (10^6 B/s)")
        if r == 1:
            ax.set_xlabel("message size (bytes)")
handles, names = axes[0][0].get_legend_handles_labels()
fig.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, 0.965), ncol=len(names), frameon=False)
fig.suptitle("websocket crate vs peers, in memory, 4 KiB reads (higher is better)", y=0.995, fontsize=12)
fig.tight_layout(rect=(0, 0, 1, 0.93))
fig.savefig(dst, dpi=110)
print(f"wrote {dst}")
