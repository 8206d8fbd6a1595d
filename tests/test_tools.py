"""Benchmarks and video writing, exercised with tiny settings."""

import re

import imageio.v2 as imageio
import numpy as np

from robot_cl.video import record_expert, write_video


def test_write_video_round_trip(tmp_path):
    frames = [np.full((48, 64, 3), i * 20, dtype=np.uint8) for i in range(10)]
    path = write_video(tmp_path / "clip.mp4", frames, fps=10)
    assert path.exists() and not (tmp_path / "clip.partial.mp4").exists()
    back = list(imageio.get_reader(path).iter_data())
    assert len(back) == 10 and back[0].shape == (48, 64, 3)
    assert back[-1].mean() > back[0].mean() + 100


def test_record_expert_writes_a_playable_mp4(tmp_path):
    out = record_expert("press_button", tmp_path / "press.mp4", seed=0, width=96, height=72)
    assert out["success"]
    frames = list(imageio.get_reader(out["path"]).iter_data())
    assert len(frames) > 10 and frames[0].shape == (72, 96, 3)
    assert np.abs(frames[-1].astype(int) - frames[0].astype(int)).mean() > 0.5  # the arm moved


def test_sim_speed_benchmark_prints_ratio(capsys):
    from benchmarks.sim_speed import main

    assert main(["--skills", "press_button", "--repeats", "1", "--backend", "pybullet"]) == 0
    out = capsys.readouterr().out
    assert "of raw mj_step throughput" in out and "of raw stepSimulation throughput" in out
    ratio = float(re.search(r"steps/s on the same actions: ([0-9.]+)", out).group(1))
    assert ratio > 0  # the ratio itself is a benchmark figure, never a timed assertion


def test_expert_benchmark_table(capsys):
    from benchmarks.experts import main

    assert main(["--skills", "press_button", "open_drawer", "--seeds", "2", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "press_button" in out and "2/2" in out


def test_rl_speed_benchmark_prints_both_worker_layouts(capsys):
    from benchmarks.rl_speed import main

    assert main(["--workers", "2", "--envs-per-worker", "2", "--steps", "40", "--primitive-calls", "8", "--updates", "5"]) == 0
    out = capsys.readouterr().out
    for line in (
        "env steps/s  press_button, 2 envs (1 per worker)",
        "env steps/s  press_button, 4 envs (2 per worker)",
        "primitive calls/s  press_button, 4 envs (2 per worker)",
        "SAC updates/s",
    ):
        assert line in out, out
    scaling = [ln for ln in out.splitlines() if ln.startswith(("env steps/s", "primitive calls/s"))]
    assert len(scaling) == 4 and all(float(ln.rsplit("ratio ", 1)[1]) > 0 for ln in scaling)


def test_primitive_plans_benchmark_ranks_succeeding_above_carrying(capsys):
    from benchmarks.primitive_plans import main

    assert main(["--plan-seeds", "1", "--carry-heights", "0.14", "--tolerance-seeds", "1", "--return-seeds", "1"]) == 0
    out = capsys.readouterr().out
    assert "plan pick -> reach(bowl, z 0.14) -> release: success on 1 of 1 seeds" in out, out
    assert "pick exact, yaw 0: grasped and lifted on 1 of 1 seeds" in out, out

    def ret(hold: bool, plan: str) -> float:
        line = next(ln for ln in out.splitlines() if ln.startswith(f"hold_to_end={hold!s:5}  {plan} "))
        return float(line.split("returns ")[1].split()[0])

    assert ret(True, "pick, carry, release") > ret(True, "pick, keep carrying") > ret(True, "pick, hold")
    assert ret(False, "pick, carry, release") < ret(False, "pick, keep carrying")  # the defect hold_to_end removes


def test_strategy_table_sweeps_give_modular_its_own_modules():
    from benchmarks.strategies import sweeps

    assert sweeps(["si", "modular"], ["flat", "hierarchical"]) == [
        (["si"], ["flat", "hierarchical"], []),
        (["modular"], ["flat", "hierarchical"], ["policy.per_task_modules=true"]),
    ]
    assert sweeps(["modular"], ["hierarchical"]) == [(["modular"], ["hierarchical"], ["policy.per_task_modules=true"])]
