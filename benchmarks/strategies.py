"""Run strategy x policy combinations on a curriculum and tabulate them like Continual World's Table 2.

    python benchmarks/strategies.py                                   # every strategy x flat, hierarchical
    python benchmarks/strategies.py --strategies finetune multitask --policies hierarchical --seeds 0 1
    python benchmarks/strategies.py --write docs/results.md           # also replace the table in a markdown file

Each combination is one ``robot-cl`` run (its own run directory under outputs/): a finished run of
the same configuration is read back instead of run again (``--rerun`` forces it), and an
interrupted one resumes. The table reports, per combination (mean +- std over seeds
when several): average success, forgetting, Continual World forward transfer (fwt_auc), GEM
backward transfer, LIBERO NBT and AUC, recovery (mean updates to get back to 90 % of each skill's
best, and the mean ratio to learning from scratch), final/first-stage parameters, stored memory
and wall-clock.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- strategies-table:begin -->", "<!-- strategies-table:end -->"


ALL_STRATEGIES = [
    "finetune",
    "multitask",
    "l2",
    "ewc",
    "online_ewc",
    "si",
    "mas",
    "lwf",
    "agem",
    "replay",
    "derpp",
    "packnet",
    "modular",
    "progress_compress",
]
# modular needs a module per skill: the flat policy gets one output head per skill (Continual World's multi-head setting).
NEEDS = {("flat", "modular"): ["policy.per_task_modules=true"]}


def finished(overrides: list[str]) -> dict | None:
    """The metrics of a finished run with exactly this configuration, if outputs/ holds one."""
    from robot_cl.cli import compose_overrides
    from robot_cl.run import config_hash

    cfg = compose_overrides(overrides)  # the run itself validates; here only its name and hash are needed
    path = ROOT / "outputs" / cfg["run_name"] / "metrics.json"
    if path.exists():
        m = json.loads(path.read_text())
        if m.get("run", {}).get("config_hash") == config_hash(cfg):
            return m
    return None


def run_one(policy: str, strategy: str, seed: int, extra: list[str], rerun: bool = False, run: bool = True) -> dict | None:
    """The metrics of one combination: a finished run's, or a new run's (None if ``run`` is false and none finished)."""
    needs = NEEDS.get((policy, strategy), [])
    overrides = [f"policy={policy}", f"strategy={strategy}", f"seed={seed}", "progress=false", *needs, *extra]
    if not rerun and (m := finished(overrides)) is not None:
        return m
    if not run:
        return None
    args = [sys.executable, "-m", "robot_cl.cli", *overrides]
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"run failed ({' '.join(args[3:])}):\n{out.stderr[-3000:]}")
    run_dir = next(line.split()[1] for line in out.stdout.splitlines() if line.startswith("outputs: "))
    return json.loads((Path(run_dir) / "metrics.json").read_text())


def fmt(values: list[float | None], digits: int = 2) -> str:
    vals = [v for v in values if v is not None]
    if not vals:
        return "n/a"
    if len(vals) == 1:
        return f"{vals[0]:.{digits}f}"
    return f"{np.mean(vals):.{digits}f} ± {np.std(vals):.{digits}f}"


def row(policy: str, strategy: str, runs: list[dict]) -> str:
    def recov(m, key):
        vals = [r[key] for r in m["recovery"].values() if r.get(key) is not None]
        return float(np.mean(vals)) if vals else None

    cells = [
        strategy,
        policy,
        fmt([m["avg_success"] for m in runs]),
        fmt([m["forgetting"] for m in runs]),
        fmt([m["fwt_auc"] for m in runs]),
        fmt([m["bwt"] for m in runs]),
        fmt([m["libero_nbt"] for m in runs]),
        fmt([m["libero_auc"] for m in runs]),
        fmt([recov(m, "updates") for m in runs], 0),
        fmt([recov(m, "ratio") for m in runs]),
        fmt([m["params"][-1] / m["params"][0] for m in runs]),
        fmt([m["memory_bytes"][-1] / 1e6 for m in runs], 1),
        fmt([sum(m["wall_clock_s"].values()) / 60 for m in runs], 1),
    ]
    return "| " + " | ".join(cells) + " |"


HEADER = (
    "| strategy | policy | avg success | forgetting | fwt_auc | bwt | LIBERO NBT | LIBERO AUC | recovery updates | recovery ratio "
    "| params final/first | memory MB | wall-clock min |\n|" + "---|" * 13
)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--strategies", nargs="+", default=ALL_STRATEGIES)
    p.add_argument("--policies", nargs="+", default=["flat", "hierarchical"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--rerun", action="store_true", help="run again even when outputs/ holds a finished run of the same config")
    p.add_argument("--write", default=None, help="markdown file whose table (between the marker comments) is replaced")
    p.add_argument("--finished-only", action="store_true", help="tabulate the finished runs in outputs/, run nothing (others: 'not run')")
    p.add_argument("overrides", nargs="*", help="extra robot-cl overrides, e.g. curriculum=household_all")
    args = p.parse_args(argv)

    lines = [HEADER]
    for strategy in args.strategies:
        for policy in args.policies:
            runs = [run_one(policy, strategy, s, args.overrides, args.rerun, not args.finished_only) for s in args.seeds]
            runs = [m for m in runs if m is not None]
            lines.append(row(policy, strategy, runs) if runs else f"| {strategy} | {policy} |" + " not run |" * 11)
            print(lines[-1], flush=True)
    table = "\n".join(lines)
    print(table)
    if args.write:
        path = ROOT / args.write
        text = path.read_text()
        if BEGIN not in text or END not in text:
            raise SystemExit(f"{path} has no {BEGIN} ... {END} markers")
        head, rest = text.split(BEGIN, 1)
        path.write_text(head + BEGIN + "\n" + table + "\n" + END + rest.split(END, 1)[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
