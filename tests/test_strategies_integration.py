"""Integration: on a 3-skill mini curriculum (tiny budget, fixed seed) fine-tuning forgets more than EWC, replay and PackNet."""

import contextlib
import io

import pytest

from robot_cl.cli import check_overrides
from robot_cl.run import train

BASE = [
    "curriculum=mini",
    "curriculum.skills=[press_button,open_drawer,close_drawer]",
    "curriculum.demos=8",
    "eval=quick",
    "eval.episodes=6",
    "learner.updates=300",
    "learner.batch_size=64",
    "progress=false",
    "workers=1",
    "eval.recovery.enabled=false",
    "policy.trunk=[64,64]",
    "policy.module_hidden=[64]",
    "policy.per_task_modules=true",  # a behaviour module per skill: what EWC's protection is measured on here
]


@pytest.fixture(scope="module")
def forgetting(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    out = {}
    for strategy, extra in [("finetune", []), ("ewc", []), ("replay", []), ("packnet", ["strategy.plugins.packnet.retrain_updates=100"])]:
        cfg = check_overrides([*BASE, f"cache_dir={cache}", f"strategy={strategy}", *extra])
        with contextlib.redirect_stdout(io.StringIO()):
            out[strategy] = train(cfg, tmp_path_factory.mktemp(strategy))
    return out


def test_finetune_forgets(forgetting):
    m = forgetting["finetune"]
    assert m["forgetting"] > 0.4
    assert m["success_matrix"][0][0] >= 0.8 and m["success_matrix"][-1][0] <= 0.2  # learned press_button, then lost it


@pytest.mark.parametrize("strategy", ["ewc", "replay", "packnet"])
def test_protecting_strategies_forget_less_than_finetune(forgetting, strategy):
    assert forgetting[strategy]["forgetting"] <= forgetting["finetune"]["forgetting"] - 0.15
    assert forgetting[strategy]["avg_success"] > forgetting["finetune"]["avg_success"]


def test_memory_and_model_growth_are_reported(forgetting):
    assert forgetting["finetune"]["memory_bytes"] == [0, 0, 0]
    assert forgetting["replay"]["memory_bytes"][-1] > forgetting["replay"]["memory_bytes"][0] > 0
    assert forgetting["ewc"]["memory_bytes"][-1] > forgetting["ewc"]["memory_bytes"][0] > 0  # one Fisher per skill
    assert forgetting["packnet"]["params"] == forgetting["finetune"]["params"]  # same network, masked
