"""Every strategy x policy on a curriculum over several seeds, as a parallel sweep, tabulated with intervals.

    python benchmarks/strategies.py --seeds 0 1 2                              # household, 14 strategies x 2 policies
    python benchmarks/strategies.py --strategies si packnet --policies hierarchical --seeds 0 1 2 3 4
    python benchmarks/strategies.py --seeds 0 1 2 --write docs/results.md      # also replace the table in a markdown file
    python benchmarks/strategies.py --seeds 0 1 2 --finished-only              # tabulate what the sweep folder holds
    python benchmarks/strategies.py --seeds 0 1 2 curriculum=cw10 eval=cw --sweep-dir multirun/cw10

The runs are ``robot-cl -m`` sweeps through the default (joblib) launcher into ``--sweep-dir``: a
finished run is reused and an interrupted one resumes, so an interrupted table continues where it
stopped. The flat ``modular`` needs a module per skill and is swept with ``policy.per_task_modules=true``.
The table is ``robot-cl-report``'s: per combination the mean and 95 % stratified bootstrap interval
over the seeds of average success, forgetting, forward transfer, GEM BWT, LIBERO NBT/AUC, recovery,
parameter growth, memory and wall-clock, and the probability that the best combination beats it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from robot_cl.report import aggregate
from robot_cl.report.summary import markdown

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
NEEDS = {"modular": ["policy.per_task_modules=true"]}  # strategies that need settings of their own (a module per skill)


def sweeps(strategies: list[str], policies: list[str]) -> list[tuple[list[str], list[str], list[str]]]:
    """(strategies, policies, extra overrides) of each sweep: one grid, plus one sweep per strategy that needs settings of its own."""
    out = []
    plain = [s for s in strategies if s not in NEEDS]
    if plain:
        out.append((plain, policies, []))
    out.extend(([s], policies, NEEDS[s]) for s in strategies if s in NEEDS)
    return out


def run(strategies: list[str], policies: list[str], seeds: list[int], sweep_dir: Path, overrides: list[str]) -> None:
    for strat, pols, extra in sweeps(strategies, policies):
        cmd = [sys.executable, "-m", "robot_cl.cli", "-m", f"seed={','.join(map(str, seeds))}", f"strategy={','.join(strat)}"]
        cmd += [f"policy={','.join(pols)}", "progress=false", f"hydra.sweep.dir={sweep_dir}", *extra, *overrides]
        print("$", " ".join(cmd[2:]), flush=True)
        if subprocess.run(cmd, cwd=ROOT).returncode != 0:
            raise SystemExit(f"sweep failed: {' '.join(cmd[3:])}")


def write_table(path: Path, table: str) -> None:
    text = path.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{path} has no {BEGIN} ... {END} markers")
    head, rest = text.split(BEGIN, 1)
    path.write_text(head + BEGIN + "\n" + table.rstrip() + "\n" + END + rest.split(END, 1)[1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--strategies", nargs="+", default=ALL_STRATEGIES)
    p.add_argument("--policies", nargs="+", default=["flat", "hierarchical"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--sweep-dir", default="multirun/strategies", help="where the sweep's runs go (relative to the repository)")
    p.add_argument("--write", default=None, help="markdown file whose table (between the marker comments) is replaced")
    p.add_argument("--finished-only", action="store_true", help="run nothing: tabulate the finished runs in --sweep-dir")
    p.add_argument("overrides", nargs="*", help="extra robot-cl overrides, e.g. curriculum=household_all")
    args = p.parse_args(argv)
    sweep_dir = ROOT / args.sweep_dir
    if not args.finished_only:
        run(args.strategies, args.policies, args.seeds, sweep_dir, args.overrides)
    table = markdown(aggregate([sweep_dir]))
    print(table)
    if args.write:
        write_table(ROOT / args.write, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
