"""Sweeps through Hydra launchers end to end: parallel jobs, their run folders, resumption, the report."""

import json
import subprocess
import sys

import pytest

from robot_cl import report

ROBOT_CL = [sys.executable, "-m", "robot_cl.cli"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def tiny(cache) -> list[str]:
    return [
        "curriculum=mini",
        "curriculum.demos=4",
        "eval=quick",
        "eval.recovery.enabled=false",
        "learner.updates=60",
        "learner.batch_size=64",
        f"cache_dir={cache}",
        "progress=false",
    ]


def sweep(tmp_path, cache, *extra, timeout=600):
    out = subprocess.run(
        [*ROBOT_CL, "-m", *tiny(cache), "seed=0,1", f"hydra.sweep.dir={tmp_path}", *extra], capture_output=True, text=True, timeout=timeout
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def comparable(run_dir):
    m = json.loads((run_dir / "metrics.json").read_text())
    return {k: v for k, v in m.items() if k not in ("wall_clock_s", "videos", "run", "cache")}


def overlapped(runs) -> bool:
    """Jobs ran at the same time: each started (config.json) before the other finished (metrics.json)."""
    starts = [(r / "config.json").stat().st_mtime for r in runs]
    ends = [(r / "metrics.json").stat().st_mtime for r in runs]
    return max(starts) < min(ends)


def test_joblib_sweep_runs_jobs_in_parallel_with_the_same_results_as_the_basic_launcher(tmp_path, capsys):
    """Through benchmarks/sweep_speed.py: the same sweep with both launchers, its ratio and its cache lines."""
    from benchmarks.sweep_speed import main

    assert main(["--seeds", "2", "--keep", str(tmp_path), *tiny(tmp_path / "unused")[:-2]]) == 0
    out = capsys.readouterr().out
    assert "identical metrics from both launchers: True" in out and float(out.split("ratio basic / joblib: ")[1].split()[0]) > 0
    assert out.count("demos: 2 computed") == 2  # each sweep's two jobs share their demonstrations: computed once per skill
    par, seq = tmp_path / "joblib", tmp_path / "basic"
    names = ["mini-hierarchical-bc-packnet-s0", "mini-hierarchical-bc-packnet-s1"]
    assert sorted(p.parent.name for p in par.glob("*/metrics.json")) == names
    for n in names:
        cfg = json.loads((par / n / "config.json").read_text())
        assert cfg["workers"] == 1 and cfg["threads"] == 1  # 2 jobs on 2 cores: one core each
        assert comparable(par / n) == comparable(seq / n)
    multirun = (par / "multirun.yaml").read_text()
    assert "n_jobs: 2" in multirun and "JoblibLauncher" in multirun
    assert overlapped([par / n for n in names])
    s = report.aggregate([par])
    assert [g.label for g in s.groups] == ["mini-hierarchical-bc-packnet"] and s.groups[0].seeds == [0, 1]


def test_submitit_local_sweep_runs_the_same_path(tmp_path, cache):
    out = sweep(tmp_path, cache, "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10")
    runs = sorted(p.parent for p in tmp_path.glob("*/metrics.json"))
    assert [r.name for r in runs] == ["mini-hierarchical-bc-packnet-s0", "mini-hierarchical-bc-packnet-s1"], out.stdout[-2000:]
    assert len([d for d in (tmp_path / ".submitit").iterdir() if d.name.isdigit()]) == 2  # one submitit job per run
    assert all(json.loads((r / "config.json").read_text())["workers"] == 1 for r in runs)  # a core each
    assert overlapped(runs)


def test_an_interrupted_sweep_continues_where_it_stopped(tmp_path, cache):
    sweep(tmp_path, cache, "seed=0")
    first = (tmp_path / "mini-hierarchical-bc-packnet-s0" / "metrics.json").read_bytes()
    out = sweep(tmp_path, cache)  # seeds 0 and 1: seed 0 is reused, not run again
    assert "mini-hierarchical-bc-packnet-s0] " in out.stdout and "holds the finished run of this configuration" in out.stdout
    assert (tmp_path / "mini-hierarchical-bc-packnet-s0" / "metrics.json").read_bytes() == first
    assert (tmp_path / "mini-hierarchical-bc-packnet-s1" / "metrics.json").exists()


def test_a_swept_key_outside_the_run_name_gets_its_own_folder(tmp_path, cache):
    out = subprocess.run(
        [*ROBOT_CL, "-m", *tiny(cache), "learner.lr=0.001,0.003", f"hydra.sweep.dir={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert sorted(p.parent.name for p in tmp_path.glob("*/metrics.json")) == [
        "mini-hierarchical-bc-packnet-s0-learner.lr=0.001",
        "mini-hierarchical-bc-packnet-s0-learner.lr=0.003",
    ]
    labels = [g.label for g in report.aggregate([tmp_path]).groups]
    assert labels == ["mini-hierarchical-bc-packnet learner.lr=0.001", "mini-hierarchical-bc-packnet learner.lr=0.003"]


def test_a_launcher_that_is_not_installed_is_one_line(tmp_path):
    out = subprocess.run(
        [*ROBOT_CL, "-m", "seed=0,1", "hydra/launcher=ray", f"hydra.sweep.dir={tmp_path}"], capture_output=True, text=True, timeout=120
    )
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert out.returncode == 2 and lines == ["robot-cl: error: hydra/launcher=ray is not installed; pip install 'hydra-ray-launcher'"]
    out = subprocess.run([*ROBOT_CL, "-m", "seed=0,1", "hydra/launcher=magic"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "unknown hydra/launcher 'magic'; valid: basic, joblib, ray, submitit_local, submitit_slurm" in out.stderr
