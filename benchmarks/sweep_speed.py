"""The same N-run sweep with Hydra's basic launcher (jobs one after another) and with the joblib launcher
(jobs in parallel, one per core), on this machine in one invocation: the wall-clock ratio and the cache.

    python benchmarks/sweep_speed.py                          # 4 seeds of a 2-skill curriculum
    python benchmarks/sweep_speed.py --seeds 6 curriculum=household learner.updates=500

Each sweep starts from an empty cache of its own, so both compute the same demonstrations and
reference runs (shared by their jobs: computed once, then hits, or waited for when two parallel jobs
need the same entry). The basic launcher's runs use every core where a run can (``workers=auto``:
demonstrations and evaluation episodes in worker processes); the joblib launcher runs one job per core
(``workers`` 1 each). Target: ratio >= 1.7 on 2 cores. Both sweeps must give identical metrics.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from robot_cl.resources import cpu_count

DEFAULT = [
    "curriculum=mini",
    "curriculum.demos=20",
    "learner.updates=600",
    "eval.episodes=10",
    "eval.recovery.enabled=false",
    "eval.video.enabled=false",
]


def run_sweep(launcher: str, seeds: int, overrides: list[str], root: Path) -> tuple[float, list[dict]]:
    sweep_dir, cache = root / launcher, root / f"cache-{launcher}"
    cmd = [sys.executable, "-m", "robot_cl.cli", "-m", f"seed={','.join(map(str, range(seeds)))}", "progress=false"]
    cmd += [*overrides, f"hydra/launcher={launcher}", f"hydra.sweep.dir={sweep_dir}", f"cache_dir={cache}"]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"the {launcher} sweep failed:\n{out.stderr[-3000:]}")
    runs = [json.loads(p.read_text()) for p in sorted(sweep_dir.glob("*/metrics.json"))]
    if len(runs) != seeds:
        raise SystemExit(f"the {launcher} sweep finished {len(runs)} of {seeds} runs")
    return seconds, runs


def cache_line(runs: list[dict]) -> str:
    parts = []
    for kind in ("demos", "references"):
        c = Counter(how for m in runs for how in (m.get("cache") or {}).get(kind, {}).values())
        parts.append(f"{kind}: {c['created']} computed, {c['hit']} hits, {c['waited']} waited for")
    return "; ".join(parts)


def comparable(m: dict) -> dict:
    return {k: v for k, v in m.items() if k not in ("wall_clock_s", "videos", "run", "cache")}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=4, help="runs in the sweep (seeds 0..N-1)")
    p.add_argument("--keep", type=Path, default=None, help="run the sweeps in this folder and keep them (default: a temporary one)")
    p.add_argument("overrides", nargs="*", help=f"robot-cl overrides of every run (default: {' '.join(DEFAULT)})")
    args = p.parse_args(argv)
    overrides = args.overrides or DEFAULT
    print(f"sweep of {args.seeds} runs ({' '.join(overrides)}) on {cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="sweep_speed-") as tmp:
        results = {}
        for launcher in ("basic", "joblib"):
            seconds, runs = run_sweep(launcher, args.seeds, overrides, args.keep or Path(tmp))
            results[launcher] = (seconds, runs)
            print(f"{launcher:<7} launcher: {seconds:7.1f} s wall-clock  ({cache_line(runs)})", flush=True)
    (basic, b_runs), (joblib, j_runs) = results["basic"], results["joblib"]
    same = [comparable(a) for a in b_runs] == [comparable(b) for b in j_runs]
    print(f"identical metrics from both launchers: {same}")
    print(f"ratio basic / joblib: {basic / joblib:.2f} (target >= 1.7 on 2 cores)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
