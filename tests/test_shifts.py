"""Dynamics shifts (``sim.shift``, ``eval.shifts``) and ``mode=eval``: each shift changes the model
parameter it names and only it, never accumulates, leaves unshifted runs bit-identical, and a
finished run can be evaluated under a shift from the command line."""

import json
import re
import shutil

import numpy as np
import pytest

from robot_cl import tasks
from robot_cl.cli import check_overrides
from robot_cl.errors import ConfigError
from robot_cl.run import train
from robot_cl.sim import shift

FIELDS = [
    "geom_friction",
    "body_mass",
    "body_inertia",
    "geom_size",
    "geom_pos",
    "geom_rbound",
    "site_pos",
    "actuator_gainprm",
    "actuator_biasprm",
]
CHANGES = {  # key -> the model fields it may change
    "friction": {"geom_friction"},
    "mass": {"body_mass", "body_inertia"},
    "size": {"geom_size", "geom_pos", "geom_rbound", "site_pos", "body_inertia"},
    "gain": {"actuator_gainprm", "actuator_biasprm"},
}


PRIMARY = {"friction": "geom_friction", "mass": "body_mass", "size": "geom_size", "gain": "actuator_gainprm"}


def model_after_reset(skill: str, sh: dict, seed: int = 0):
    env = tasks.make_env(skill, {"shift": sh}, None)
    obs, _ = env.reset(seed=seed)
    m = env.unwrapped.backend.model
    return env, obs, {f: getattr(m, f).copy() for f in FIELDS}


@pytest.mark.parametrize("key", list(CHANGES))
def test_each_shift_changes_the_parameters_it_names_and_only_them(key):
    _, _, base = model_after_reset("pick_place_cube_in_bowl", {})
    env, _, shifted = model_after_reset("pick_place_cube_in_bowl", {key: 2.0})
    changed = {f for f in FIELDS if not np.array_equal(base[f], shifted[f])}
    assert changed <= CHANGES[key] and PRIMARY[key] in changed, changed  # what it names, and nothing else
    m = env.unwrapped.backend.model
    if key == "friction":
        assert np.allclose(shifted["geom_friction"][:, 0], 2 * base["geom_friction"][:, 0])
        assert np.array_equal(shifted["geom_friction"][:, 1:], base["geom_friction"][:, 1:])  # torsional/rolling kept
    if key == "mass":
        cube = m.body("cube").id
        assert shifted["body_mass"][cube] == pytest.approx(2 * base["body_mass"][cube])
        assert shifted["body_mass"][m.body("panda_link1").id] == base["body_mass"][m.body("panda_link1").id]  # the robot is not
    if key == "size":
        g = m.geom("cube").id
        assert np.allclose(shifted["geom_size"][g], 2 * base["geom_size"][g])
        assert shifted["body_mass"][m.body("cube").id] == base["body_mass"][m.body("cube").id]  # same mass


def test_shifts_never_accumulate_and_neutral_restores_the_model_exactly():
    env = tasks.make_env("open_drawer", {"shift": {"mass": [1.0, 3.0]}}, None)
    _, _, base = model_after_reset("open_drawer", {})
    masses = []
    for seed in range(4):
        env.reset(seed=seed)
        masses.append(env.unwrapped.shift_values["mass"])
    assert len(set(masses)) == 4 and all(1.0 <= v <= 3.0 for v in masses)  # drawn per episode
    env.reset(seed=0)
    assert env.unwrapped.shift_values["mass"] == masses[0]  # same seed, same draw
    backend = env.unwrapped.backend
    backend.apply_shift(dict(shift.NEUTRAL))
    assert all(np.array_equal(getattr(backend.model, f), base[f]) for f in FIELDS)


def test_a_neutral_shift_leaves_episodes_bit_identical_and_obs_noise_touches_only_the_observation():
    def episode(sh):
        env = tasks.make_env("press_button", {"shift": sh}, None)
        obs = [env.reset(seed=3)[0]]
        for _ in range(5):
            obs.append(env.step(np.array([0.3, 0.0, -0.2, 0.0, 0.0]))[0])
        return np.array(obs), env.unwrapped.backend.data.qpos.copy()

    plain, q_plain = episode({})
    neutral, q_neutral = episode(dict(shift.NEUTRAL))
    noisy, q_noisy = episode({"obs_noise": 0.01})
    assert np.array_equal(plain, neutral) and np.array_equal(q_plain, q_neutral)
    assert not np.array_equal(plain, noisy) and np.abs(noisy - plain).max() < 0.1
    assert np.array_equal(q_plain, q_noisy)  # sensor noise: the robot does the same (open-loop actions here)


def test_check_refuses_unknown_keys_and_bad_values():
    with pytest.raises(ConfigError, match=re.escape("unknown sim.shift key 'nope'; valid: friction")):
        shift.check({"nope": 1})
    for bad in (0, -1, [2, 1], [1, 2, 3], "x"):
        with pytest.raises(ConfigError, match=re.escape("sim.shift.mass must be a number > 0")):
            shift.check({"mass": bad})
    assert shift.check({"obs_noise": 0})["obs_noise"] == 0


TINY = [
    "curriculum=mini",
    "curriculum.demos=6",
    "eval=quick",
    "eval.shift_episodes=4",  # eval=quick's episodes: a shift's evaluation then uses the seeds mode=eval uses
    "eval.recovery.enabled=false",
    "learner.updates=150",
    "learner.batch_size=64",
    "progress=false",
    "workers=1",
]


def test_eval_shifts_and_mode_eval_on_a_finished_run(tmp_path):
    cache = f"cache_dir={tmp_path / 'cache'}"
    shifts = ["+sim.shifts.heavier={mass:[4.0,6.0]}", "eval.shifts=[slippery,heavier]"]  # a built-in one and one of ours
    m = train(check_overrides([*TINY, cache, *shifts]), tmp_path / "run", say=lambda *_: None)
    sh = m["success_under_shift"]
    assert list(sh) == ["slippery", "heavier"] and all(len(v["success"]) == 2 for v in sh.values())
    assert sh["slippery"]["shift"] == {"friction": 0.25} and sh["heavier"]["shift"] == {"mass": [4.0, 6.0]}
    # mode=eval without a shift reproduces the run's own last row: same weights, same seeds
    cfg = check_overrides([*TINY, cache, "mode=eval", f"from_run={tmp_path / 'run'}"])
    same = train(cfg, tmp_path / "eval", say=lambda *_: None)
    assert same["success"] == m["success_matrix"][-1] == same["trained_success"]
    # ... and under a shift it writes the table
    cfg = check_overrides([*TINY, cache, "mode=eval", f"from_run={tmp_path / 'run'}", "sim.shift.friction=0.25"])
    out = train(cfg, tmp_path / "eval2", say=lambda *_: None)
    written = json.loads((tmp_path / "eval2" / "evaluation.json").read_text())
    assert written["success"] == out["success"] == sh["slippery"]["success"]  # the same shift, the same seeds
    assert written["sim_shift"]["friction"] == 0.25 and written["from_run"] == str(tmp_path / "run")
    # an unfinished run is refused with one line naming what it has
    shutil.copytree(tmp_path / "run", tmp_path / "half")
    (tmp_path / "half" / "checkpoints" / "stage_01.pt").unlink()
    with pytest.raises(ConfigError, match=re.escape("the run is not finished (stages 0 of 2 checkpointed)")):
        check_overrides([*TINY, cache, "mode=eval", f"from_run={tmp_path / 'half'}"])


def test_mode_adapt_measures_adaptation_per_shift_and_skill_and_leaves_the_run_untouched(tmp_path):
    cache = f"cache_dir={tmp_path / 'cache'}"
    train(check_overrides([*TINY, cache]), tmp_path / "run", say=lambda *_: None)
    before = {p.name: p.read_bytes() for p in (tmp_path / "run" / "checkpoints").iterdir()}
    budget = ["eval.recovery.check_every=50", "eval.recovery.max_updates=100"]
    shifts = ["+sim.shifts.heavy2={mass:2.0}", "eval.shifts=[heavy2,to_pybullet]"]  # a dynamics shift and MuJoCo -> PyBullet
    args = [*TINY, cache, *budget, "mode=adapt", f"from_run={tmp_path / 'run'}", *shifts]
    out = train(check_overrides(args), tmp_path / "adapt", say=lambda *_: None)
    heavy = out["shifts"]["heavy2"]
    assert heavy["shift"] == {"mass": 2.0} and list(heavy["skills"]) == ["press_button", "open_drawer"]
    for r in heavy["skills"].values():
        assert r["target"] == pytest.approx(0.9 * r["trained"])
        if r["shifted"] >= r["target"] > 0:
            assert r["updates"] == 0  # nothing to adapt: no update taken
        if r["updates"] is not None and r["scratch_updates"]:
            assert r["ratio"] == r["updates"] / r["scratch_updates"]
        assert r["updates"] is None or r["updates"] in (0, 50, 100)  # counted in blocks of check_every
        assert r["forgetting"] is not None  # the other skill, measured after adapting
    sim2sim = out["shifts"]["to_pybullet"]  # MuJoCo -> PyBullet, measured like any shift, on PyBullet's own demonstrations
    assert sim2sim["shift"] == {"backend": "pybullet"} and list(sim2sim["skills"]) == ["press_button", "open_drawer"]
    assert len(list((tmp_path / "cache" / "demos").glob("*.npz"))) == 6  # per skill: unshifted, heavier, on PyBullet
    assert json.loads((tmp_path / "adapt" / "adaptation.json").read_text())["shifts"]["heavy2"]["shift"] == {"mass": 2.0}
    assert {p.name: p.read_bytes() for p in (tmp_path / "run" / "checkpoints").iterdir()} == before  # copies adapt
    with pytest.raises(ConfigError, match=re.escape("mode=adapt adapts to the shifts named in eval.shifts")):
        check_overrides([*TINY, cache, "mode=adapt", f"from_run={tmp_path / 'run'}"])
