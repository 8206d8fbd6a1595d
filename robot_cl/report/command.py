"""``robot-cl-report``: aggregate run folders into summary files and a report page."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from robot_cl.cache import atomic_write
from robot_cl.errors import RobotCLError
from robot_cl.report import summary as S
from robot_cl.report.html import sweep_page, write_run_report
from robot_cl.report.runs import ReportError, find_runs


def aggregate(paths: list[str | Path], out: str | Path | None = None, curriculum: str | None = None, run_pages: bool = True) -> S.Summary:
    """Summarise the runs under ``paths`` and write ``summary.json``, ``summary.csv``, ``summary.md`` and
    ``report.html`` into ``out`` (default: the one folder given). Finished runs without a page get
    one (``run_pages``). Nothing is written unless the whole summary could be computed."""
    if out is None:
        if len(paths) != 1:
            raise ReportError(f"{len(paths)} folders given: name the output folder with --out DIR")
        out = paths[0]
    runs = find_runs(list(paths))
    summary = S.summarize(runs, curriculum)
    write_outputs(summary, Path(out))
    if run_pages:
        for g in summary.groups:
            for r in g.runs:
                if not (r.path / "report.html").exists():
                    write_run_report(r.path)
    return summary


def write_outputs(summary: S.Summary, out: Path) -> None:
    """The four files, each rendered first and then written atomically (an earlier good set is
    replaced only by a complete new one)."""
    files = {
        "summary.json": json.dumps(S.to_json(summary), indent=1, default=str),
        "summary.csv": S.to_csv(summary),
        "summary.md": S.markdown(summary),
        "report.html": sweep_page(summary, out.resolve()),
    }
    for name, text in files.items():
        data = text.encode()
        atomic_write(out / name, lambda f, data=data: f.write(data))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="robot-cl-report", description="Statistics over the seeds of robot-cl runs, and a report page.")
    p.add_argument("paths", nargs="+", help="run folders, a sweep's folder (e.g. multirun/), or folders holding several")
    p.add_argument("--out", default=None, help="where summary.{json,csv,md} and report.html go (default: the one folder given)")
    p.add_argument(
        "--curriculum", default=None, help="report only the runs of this curriculum (runs of different curricula are never pooled)"
    )
    args = p.parse_args(argv)
    try:
        summary = aggregate(args.paths, args.out, args.curriculum)
    except RobotCLError as e:
        print(f"robot-cl-report: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # an output folder that cannot be written
        print(f"robot-cl-report: error: cannot write the report: {e.strerror or e}: {e.filename or ''}", file=sys.stderr)
        return 2
    for r in summary.skipped:
        print(f"skipped {r.path}: {r.status} ({r.reason})", file=sys.stderr)
    print(S.markdown(summary))
    out = Path(args.out or args.paths[0])
    print(f"wrote {out / 'summary.json'}, summary.csv, summary.md, report.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
