"""The main job end to end on a 2-skill curriculum with tiny budgets: outputs, determinism, resume, errors."""

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import robot_cl
from robot_cl.cli import check_overrides
from robot_cl.errors import ConfigError, SkillError
from robot_cl.run import train
from robot_cl.strategies import STRATEGIES

ROBOT_CL = [sys.executable, "-m", "robot_cl.cli"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """Demonstrations and references shared by the tests of this module."""
    return tmp_path_factory.mktemp("cache")


def tiny(cache: Path, *extra: str) -> list[str]:
    return [
        "curriculum=mini",
        "curriculum.demos=6",
        "eval=quick",
        "learner.updates=120",
        "learner.batch_size=64",
        f"cache_dir={cache}",
        "progress=false",
        "workers=1",
        *extra,
    ]


def comparable(metrics: dict) -> dict:
    """metrics.json without what legitimately differs between two runs of one config."""
    return {k: v for k, v in metrics.items() if k not in ("wall_clock_s", "videos", "run")}


def test_two_skill_run_writes_every_output(cache, tmp_path):
    videos = tmp_path / "videos"
    cfg = check_overrides(tiny(cache, "workers=2", "eval.references=true", "eval.video.enabled=true", f"eval.video.dir={videos}"))
    m = train(cfg, tmp_path / "run")
    run = tmp_path / "run"
    saved = json.loads((run / "metrics.json").read_text())
    assert saved["tasks"] == ["press_button", "open_drawer"]
    keys = ("success_matrix", "avg_success", "forgetting", "bwt", "fwt", "fwt_auc", "libero_fwt", "libero_nbt", "libero_auc", "recovery")
    for key in (*keys, "params", "memory_bytes", "wall_clock_s", "videos", "init_success", "learning_curves"):
        assert saved[key] is not None, key
    assert len(saved["success_matrix"]) == 2 and all(len(r) == 2 for r in saved["success_matrix"])
    assert set(saved["wall_clock_s"]) >= {"demos", "training", "evaluation", "rendering", "references", "recovery"}
    assert set(saved["recovery"]) == {"press_button", "open_drawer"}
    assert len(saved["params"]) == 2 and saved["params"][1] == saved["params"][0]  # the default policy does not grow
    assert saved["memory_bytes"][1] > 0  # PackNet's ownership masks are counted
    assert set(saved["videos"]) == {"press_button", "open_drawer"}
    for skill, path in saved["videos"].items():
        assert Path(path).exists() and Path(path).parent == videos and Path(path).stem == skill
    for name in ("matrix.csv", "matrix.png", "success_over_stages.png", "log.csv", "config.json"):
        assert (run / name).stat().st_size > 0, name
    assert (run / "matrix.csv").read_text().splitlines()[0] == "stage,press_button,open_drawer"
    log = (run / "log.csv").read_text()
    assert ",train,0,press_button," in log and ",eval,1,open_drawer,1,success," in log and "updates_per_s" in log
    assert {f.parent.name for f in (run / "tensorboard").rglob("events.out.tfevents.*")} == {"updates", "stages"}
    checkpoints = sorted((run / "checkpoints").glob("stage_*.pt"))
    assert [c.name for c in checkpoints] == ["stage_00.pt", "stage_01.pt"]
    for ckpt in checkpoints:
        state = torch.load(ckpt, weights_only=True)  # no arbitrary pickle
        assert {"policy", "learner", "plugins", "results"} <= set(state)
    assert m["avg_success"] == saved["avg_success"]


def test_same_seed_same_metrics(cache, tmp_path):
    a = train(check_overrides(tiny(cache)), tmp_path / "a")
    b = train(check_overrides(tiny(cache)), tmp_path / "b")
    assert comparable(a) == comparable(b)
    c = train(check_overrides(tiny(cache, "seed=1")), tmp_path / "c")
    assert comparable(a) != comparable(c)


def test_flat_policy_and_multitask_strategy_run(cache, tmp_path):
    m = train(check_overrides(tiny(cache, "policy=flat", "strategy=multitask", "policy.per_task_modules=true")), tmp_path / "run")
    assert m["memory_bytes"][1] > m["memory_bytes"][0] > 0  # multitask keeps every skill's data
    assert m["run"]["policy"] == "flat"


def test_resume_refuses_a_run_dir_made_with_another_config(cache, tmp_path):
    train(check_overrides(tiny(cache)), tmp_path / "run")
    with pytest.raises(ConfigError, match="different configuration"):
        train(check_overrides(tiny(cache, "learner.lr=0.01")), tmp_path / "run")
    with pytest.raises(ConfigError, match="already holds checkpoints"):
        train(check_overrides(tiny(cache, "resume=false")), tmp_path / "run")


@pytest.mark.parametrize(
    "override, expected",
    [
        ("curriculum.skills=[press_button,fly_kite]", r"unknown skill 'fly_kite'; valid: .*open_drawer"),
        ("policy=transformer", r"unknown policy 'transformer'; valid: flat, hierarchical"),
        ("strategy=magic", r"unknown strategy 'magic'; valid: .*finetune.*multitask"),
        ("seed=abc", r"seed must be an integer \(default 0\), got 'abc'"),
        ("learner.updates=-5", r"learner.updates must be a positive integer, got -5"),
        ("device=tpu", r"unknown device 'tpu'; valid: auto, cpu, cuda, cuda:N"),
        ("mode=play", r"unknown mode 'play'; valid: adapt, eval, reference, train"),
        ("learner.lrr=0.1", r"unknown config key 'learner.lrr'; valid keys under learner: .*\blr\b"),
        ("imports=[no_such_module]", r"cannot import 'no_such_module' listed in imports: ModuleNotFoundError"),
        (
            "curriculum.skill_config={press_button: {max_steps: 30}}",
            r"cannot override 'curriculum.skill_config': Key 'press_button' is not in struct; use \+\+curriculum.skill_config=",
        ),
        ("learner=sac", r"unknown config key 'learner.updates'; valid keys under learner: "),  # tiny() sets a BC key
    ],
)
def test_bad_input_is_one_line_before_any_work(override, expected, cache):
    with pytest.raises((ConfigError, SkillError), match=expected) as err:
        check_overrides(tiny(cache, override))
    assert "\n" not in str(err.value)


def test_cli_bad_input_exits_nonzero_with_one_line(tmp_path):
    run_dir = tmp_path / "never"
    t0 = time.time()
    out = subprocess.run([*ROBOT_CL, "strategy=magic", f"hydra.run.dir={run_dir}"], capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    valid = ", ".join(sorted(STRATEGIES))  # every registered strategy is an option
    assert lines == [f"robot-cl: error: unknown strategy 'magic'; valid: {valid}"]
    assert not run_dir.exists() and time.time() - t0 < 60


def test_corrupt_checkpoint_is_reported_and_kept(cache, tmp_path):
    run = tmp_path / "run"
    train(check_overrides(tiny(cache)), run)
    last = run / "checkpoints" / "stage_01.pt"
    last.write_bytes(b"not a checkpoint")
    (run / "metrics.json").unlink()  # as if the run had been killed before it wrote its metrics
    out = subprocess.run([*ROBOT_CL, *tiny(cache), f"hydra.run.dir={run}"], capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "stage_01.pt is unreadable" in lines[0] and "resume_from=0" in lines[0]
    assert last.read_bytes() == b"not a checkpoint" and (run / "checkpoints" / "stage_00.pt").exists()
    assert not (run / "metrics.json").exists()
    # The valid choice it names works: resume from the earlier stage.
    out = subprocess.run([*ROBOT_CL, *tiny(cache), "resume_from=0", f"hydra.run.dir={run}"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "after stage 0" in out.stdout


def test_multirun_over_seeds_and_strategies(cache, tmp_path):
    sweep = tmp_path / "sweep"
    args = [
        *tiny(cache, "learner.updates=40", "eval.recovery.enabled=false"),
        "seed=0,1",
        "strategy=finetune,multitask",
        f"hydra.sweep.dir={sweep}",
    ]
    # -m after some overrides (argparse alone would call the rest "unrecognized arguments")
    out = subprocess.run([*ROBOT_CL, *args[:2], "-m", *args[2:]], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    runs = sorted(p.parent.name for p in sweep.glob("*/metrics.json"))
    assert runs == [
        "mini-hierarchical-bc-finetune-s0",
        "mini-hierarchical-bc-finetune-s1",
        "mini-hierarchical-bc-multitask-s0",
        "mini-hierarchical-bc-multitask-s1",
    ]


def test_unseen_false_skips_only_cells_no_metric_uses(cache, tmp_path):
    three = "curriculum.skills=[press_button,open_drawer,close_drawer]"
    full = train(check_overrides(tiny(cache, three, "eval.recovery.enabled=false")), tmp_path / "full")
    part = train(check_overrides(tiny(cache, three, "eval.recovery.enabled=false", "eval.unseen=false")), tmp_path / "part")
    R, P = np.asarray(full["success_matrix"], dtype=float), np.array(part["success_matrix"], dtype=float)
    assert np.isnan(P[0, 2]) and np.isnan(P).sum() == 1  # after stage 0 only the first two skills are evaluated
    assert np.array_equal(np.nan_to_num(P, nan=-1), np.where(np.isnan(P), -1, R))  # every evaluated cell is the same
    for key in ("avg_success", "forgetting", "bwt", "fwt", "libero_fwt", "libero_nbt", "libero_auc"):
        assert part[key] == full[key], key
    assert ",nan" not in (tmp_path / "part" / "matrix.csv").read_text()


def test_evaluation_stops_an_episode_at_its_first_success():
    from robot_cl.evaluation import rollout
    from robot_cl.tasks import run_expert

    env = robot_cl.make("press_button")
    trace = run_expert(env, seed=5)
    first = trace.successes.index(True)

    class Replay:  # a "policy" replaying the expert's actions (then holding the last one)
        def __init__(self):
            self.t = 0

        def act(self, obs, task):
            self.t += 1
            return trace.actions[min(self.t - 1, len(trace.actions) - 1)]

    for stop in (False, True):
        out = rollout(env, Replay(), 0, seed=5, stop_on_success=stop)
        assert out["success"]
        assert out["steps"] == (first + 1 if stop else env.unwrapped.max_steps)
