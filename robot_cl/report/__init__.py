"""Reports: a run's page, and statistics over the seeds of a sweep (``robot-cl-report PATH...``).

    robot-cl-report multirun/                      # summary.json, summary.csv, summary.md, report.html in multirun/
    robot-cl-report outputs/a outputs/b --out rep  # several folders
    robot-cl-report multirun/ --curriculum cw10    # one curriculum of a folder that holds several

``aggregate(paths)`` does the same from Python and returns the :class:`Summary`.
"""

from robot_cl.report.command import aggregate, main, write_outputs
from robot_cl.report.html import write_run_report
from robot_cl.report.runs import ReportError, Run, find_runs, read_run
from robot_cl.report.summary import Group, Summary, summarize

__all__ = [
    "Group",
    "ReportError",
    "Run",
    "Summary",
    "aggregate",
    "find_runs",
    "main",
    "read_run",
    "summarize",
    "write_outputs",
    "write_run_report",
]
