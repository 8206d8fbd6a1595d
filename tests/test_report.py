"""robot-cl-report: grouping over seeds, statistics, files, bad input, and the pages in a real browser."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from robot_cl import report
from robot_cl.cli import check_overrides
from robot_cl.results import compute_metrics
from robot_cl.video import write_video

REPORT = [sys.executable, "-m", "robot_cl.report"]


@pytest.fixture(scope="module")
def base_cfg(tmp_path_factory):
    return check_overrides(["curriculum=mini", f"cache_dir={tmp_path_factory.mktemp('c')}"])


def fake_run(root: Path, cfg: dict, seed: int, strategy: str, final: list[float], videos: bool = False, **cfg_changes) -> Path:
    """A finished run folder as train() leaves it, with a chosen final row (the diagonal is 1)."""
    cfg = json.loads(json.dumps(cfg))
    cfg.update(seed=seed, strategy={"plugins": {strategy: {}}}, run_name=f"mini-hierarchical-bc-{strategy}-s{seed}")
    for key, value in cfg_changes.items():
        section, name = key.split("__")
        cfg[section][name] = value
    run = root / (cfg["run_name"] + "".join(f"-{k}={v}" for k, v in cfg_changes.items()))
    run.mkdir(parents=True)
    matrix = [[1.0, 0.0], final]
    curves = [[0.0, 0.5, 1.0], [0.0, 0.5, final[1]]]
    m = compute_metrics(
        ["press_button", "open_drawer"], [0.0, 0.0], matrix, curves, [[0, 50, 100]] * 2, {}, {}, [100, 150], [0, 10], {"training": 60.0}
    )
    m["run"] = {"strategy": [strategy], "policy": "hierarchical", "seed": seed, "config_hash": "x"}
    m["videos"] = {}
    if videos:
        for skill, shade in (("press_button", 40), ("open_drawer", 160)):
            frames = [np.full((48, 64, 3), (shade + 4 * i) % 255, dtype=np.uint8) for i in range(20)]
            m["videos"][skill] = str(write_video(run / "videos" / f"{skill}.mp4", frames, fps=10))
    (run / "config.json").write_text(json.dumps(cfg))
    (run / "metrics.json").write_text(json.dumps(m))
    return run


@pytest.fixture
def sweep(tmp_path, base_cfg):
    """Three seeds of si (final rows 1/1, 1/0.5, 0.5/1) and of finetune (always forgets press_button)."""
    root = tmp_path / "sweep"
    for seed, final in enumerate([[1.0, 1.0], [1.0, 0.5], [0.5, 1.0]]):
        fake_run(root, base_cfg, seed, "si", final, videos=seed == 0)
        fake_run(root, base_cfg, seed, "finetune", [0.0, 1.0])
    return root


def test_runs_are_grouped_by_config_without_the_seed(sweep):
    s = report.aggregate([sweep])
    assert [g.label for g in s.groups] == ["mini-hierarchical-bc-finetune", "mini-hierarchical-bc-si"]
    si = s.groups[1]
    assert si.seeds == [0, 1, 2]
    e = si.estimates["avg_success"]
    assert e.mean == pytest.approx(np.mean([1.0, 0.75, 0.75])) and e.n == 3
    assert e.low <= e.mean <= e.high
    assert si.estimates["forgetting"].mean == pytest.approx(np.mean([0.0, 0.0, 0.25]))  # (1-1)+0 / 2, (1-0.5)/2 ...
    assert si.estimates["params_growth"].mean == pytest.approx(1.5)
    assert np.allclose(si.matrix["mean"], [[1.0, 0.0], [2.5 / 3, 2.5 / 3]])
    ft = s.groups[0]
    assert ft.estimates["avg_success"].mean == 0.5 and ft.estimates["avg_success"].low == ft.estimates["avg_success"].high == 0.5
    assert s.poi["mini-hierarchical-bc-si"]["mini-hierarchical-bc-finetune"].mean > 0.5
    for name in ("summary.json", "summary.csv", "summary.md", "report.html"):
        assert (sweep / name).stat().st_size > 0
    table = (sweep / "summary.md").read_text()
    assert "| mini-hierarchical-bc-si | 0,1,2 | 0.83 [" in table
    rows = (sweep / "summary.csv").read_text().splitlines()
    assert len(rows) == 3 and rows[0].startswith("configuration,seeds,n,avg_success_mean")
    saved = json.loads((sweep / "summary.json").read_text())
    assert saved["groups"][1]["metrics"]["avg_success"]["n"] == 3
    assert all((r / "report.html").exists() for r in sweep.glob("mini-*"))  # every finished run got its page


def test_unfinished_duplicate_and_corrupt_runs_are_listed_not_averaged(sweep, base_cfg, capsys):
    unfinished = sweep / "mini-hierarchical-bc-si-s3"
    (unfinished / "checkpoints").mkdir(parents=True)
    (unfinished / "checkpoints" / "stage_00.pt").write_bytes(b"x")
    (unfinished / "config.json").write_text(json.dumps({**base_cfg, "seed": 3, "strategy": {"plugins": {"si": {}}}}))
    dup = fake_run(sweep / "again", base_cfg, 0, "si", [1.0, 1.0])  # a second copy of seed 0
    corrupt = fake_run(sweep, base_cfg, 4, "si", [0.0, 0.0])
    (corrupt / "metrics.json").write_text('{"tasks": ["press_but')
    assert report.main([str(sweep)]) == 0
    err = capsys.readouterr().err
    assert f"skipped {unfinished}: unfinished (1 of 2 stages checkpointed" in err
    assert f"skipped {corrupt}: unreadable (metrics.json: JSONDecodeError" in err
    assert f"{dup.name}: duplicate (same configuration and seed as " in err  # one of the two copies, named
    saved = json.loads((sweep / "summary.json").read_text())
    si = next(g for g in saved["groups"] if g["label"] == "mini-hierarchical-bc-si")
    assert si["seeds"] == [0, 1, 2] and si["metrics"]["avg_success"]["mean"] == pytest.approx(2.5 / 3)
    assert sorted(Path(x["path"]).name for x in saved["skipped"]) == sorted([unfinished.name, corrupt.name, dup.name])


def test_a_swept_hyper_parameter_is_named_in_the_labels(tmp_path, base_cfg):
    for seed in (0, 1):
        fake_run(tmp_path, base_cfg, seed, "si", [1.0, 1.0], learner__lr=0.001)
        fake_run(tmp_path, base_cfg, seed, "si", [1.0, 0.0], learner__lr=0.01)
    s = report.aggregate([tmp_path])
    assert [g.label for g in s.groups] == ["mini-hierarchical-bc-si learner.lr=0.001", "mini-hierarchical-bc-si learner.lr=0.01"]


def run_report(*args):
    out = subprocess.run([*REPORT, *map(str, args)], capture_output=True, text=True, timeout=120)
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    return out.returncode, lines


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda root, cfg: root, "no runs under"),  # an empty folder
        (lambda root, cfg: (root / "notes").mkdir() or root, "no runs under"),  # no run below it
        (lambda root, cfg: root / "missing", "is not a folder"),
        (
            lambda root, cfg: ((fake_run(root, cfg, 0, "si", [1.0, 1.0]) / "metrics.json").write_text("[1, 2"), root)[1],
            "no finished runs to report",
        ),
    ],
)
def test_bad_input_is_one_line(tmp_path, base_cfg, make, expected):
    root = tmp_path / "r"
    root.mkdir()
    code, lines = run_report(make(root, base_cfg))
    assert code == 2 and len(lines) == 1 and lines[0].startswith("robot-cl-report: error: ") and expected in lines[0], lines
    assert not (root / "summary.json").exists()


def test_runs_of_different_curricula_are_never_pooled(tmp_path, base_cfg):
    fake_run(tmp_path, base_cfg, 0, "si", [1.0, 1.0])
    other = {**base_cfg, "curriculum": {**base_cfg["curriculum"], "name": "household"}}
    fake_run(tmp_path / "h", other, 0, "si", [1.0, 1.0])
    code, lines = run_report(tmp_path)
    assert code == 2 and len(lines) == 1
    assert "never pooled: household (1 runs), mini (1 runs); choose one with --curriculum NAME" in lines[0]
    assert report.main([str(tmp_path), "--curriculum", "mini"]) == 0
    assert json.loads((tmp_path / "summary.json").read_text())["curriculum"] == "mini"


def test_a_failed_report_leaves_the_earlier_summary_untouched(sweep):
    report.aggregate([sweep])
    before = {n: (sweep / n).read_bytes() for n in ("summary.json", "summary.csv", "summary.md", "report.html")}
    for m in sweep.glob("*/metrics.json"):
        m.write_text("{")
    code, lines = run_report(sweep)
    assert code == 2 and "no finished runs" in lines[0]
    assert {n: (sweep / n).read_bytes() for n in before} == before


def test_run_and_sweep_pages_load_in_a_headless_browser(sweep, open_page):
    report.aggregate([sweep])
    for page in (sweep / "mini-hierarchical-bc-si-s0" / "report.html", sweep / "report.html"):
        seen = open_page(page)
        assert seen["errors"] == [], page
        assert len(seen["images"]) >= 2 and all(w > 0 for w in seen["images"]), seen["images"]
        assert len(seen["videos"]) == 2 and all(d > 0 for d in seen["videos"]), seen["videos"]
        assert seen["pixel_std"] > 10  # not a blank page
        assert "press_button" in seen["text"] and "open_drawer" in seen["text"]
    assert "0.83 [" in open_page(sweep / "report.html")["text"]  # the seed mean with its interval
    # The run page is self-contained: it still works once moved away from its videos.
    moved = sweep.parent / "moved.html"
    (sweep / "mini-hierarchical-bc-si-s0" / "report.html").rename(moved)
    (sweep / "mini-hierarchical-bc-si-s0" / "videos" / "press_button.mp4").unlink()
    assert all(d > 0 for d in open_page(moved)["videos"])
