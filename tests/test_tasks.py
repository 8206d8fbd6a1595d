"""External task sources: any Gymnasium env in a curriculum (config only), Meta-World, CW10/CW20."""

import json
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from robot_cl import tasks
from robot_cl.cli import check_overrides
from robot_cl.errors import ConfigError
from robot_cl.run import train
from robot_cl.tasks.external import DEFAULTS

warnings.filterwarnings("ignore", module="gymnasium")  # Meta-World's spaces trip gymnasium's passive checker warnings

CW10 = [
    "hammer",
    "push-wall",
    "faucet-close",
    "push-back",
    "stick-pull",
    "handle-press-side",
    "push",
    "shelf-place",
    "window-close",
    "peg-unplug-side",
]

# Two Meta-World tasks through Meta-World's own registered id, given only in config.
TWO_TASKS = [
    "curriculum=mini",
    "policy=flat",
    "curriculum.skills=[reach,button]",
    "+curriculum.task_defaults={env_id: Meta-World/MT1, max_steps: 80}",
    "+curriculum.tasks={"
    "reach: {kwargs: {env_name: reach-v3, seed: 0}, expert: 'metaworld.policies:SawyerReachV3Policy'}, "
    "button: {kwargs: {env_name: button-press-topdown-v3, seed: 0}, expert: 'metaworld.policies:SawyerButtonPressTopdownV3Policy'}}",
]


def tiny(tmp_path, *extra):
    return [
        *TWO_TASKS,
        "curriculum.demos=4",
        "eval=quick",
        "eval.recovery.enabled=false",
        "learner.updates=60",
        "learner.batch_size=64",
        f"cache_dir={tmp_path / 'cache'}",
        "progress=false",
        "workers=1",
        *extra,
    ]


def test_cw10_and_cw20_sequences_are_continual_worlds():
    cfg = check_overrides(["curriculum=cw10", "policy=flat"])
    cur = cfg["curriculum"]
    assert cur["skills"] == CW10
    specs = tasks.task_configs(cur)
    assert [specs[n]["kwargs"]["task"] for n in CW10] == [f"{n}-v3" for n in CW10]
    assert all(specs[n]["max_steps"] == 200 and specs[n]["env_id"] == "robot_cl/MetaWorld-v0" for n in CW10)
    cw20 = check_overrides(["curriculum=cw20", "policy=flat"])["curriculum"]
    assert cw20["skills"] == CW10 + [f"{n}-2" for n in CW10]
    specs20 = tasks.task_configs(cw20)
    assert [specs20[n]["kwargs"]["task"] for n in cw20["skills"]] == [f"{n}-v3" for n in CW10 + CW10]


def test_metaworld_env_is_seeded_per_episode_and_passes_check_env():
    env = gym.make("robot_cl/MetaWorld-v0", task="push-v3", max_steps=20)
    check_env(env.unwrapped, skip_render_check=True)
    a, _ = env.reset(seed=3)
    b, _ = env.reset(seed=4)
    c, _ = env.reset(seed=3)
    assert np.array_equal(a, c)
    assert not np.allclose(a[4:7], b[4:7])  # the puck moved between seeds
    steps = 0
    truncated = False
    while not truncated:
        _, _, _, truncated, info = env.step(env.action_space.sample())
        steps += 1
    assert steps == 20 and isinstance(info["success"], bool)


def test_two_metaworld_tasks_given_only_in_config_run_end_to_end(tmp_path):
    m = train(check_overrides(tiny(tmp_path)), tmp_path / "run")
    assert m["tasks"] == ["reach", "button"]
    assert np.asarray(m["success_matrix"]).shape == (2, 2)
    assert all(d["kept"] > 0 and d["attempted"] == 4 for d in m["demonstrations"].values())
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["avg_success"] == m["avg_success"]


def test_external_expert_demonstrations_are_recorded_in_unit_actions(tmp_path):
    from robot_cl import demos

    cfgs = tasks.task_configs(check_overrides(tiny(tmp_path))["curriculum"])
    d = demos.generate("reach", [0, 1], None, cfgs["reach"])
    assert d.obs.shape[1] == 39 and d.actions.shape[1] == 4
    assert np.all(np.abs(d.actions) <= 1.0) and len(d.call_prim) == 0 and np.all(d.step_call == -1)


NO_ID = r"task 'reach': unknown Gymnasium env id 'Meta-World/MT2'; close registered ids: .*Meta-World/MT1"
NO_ATTR = r"expert .*has no attribute 'SawyerReachV9Policy'; close matches: .*SawyerReachV3Policy"
BAD_KEY = (
    r"unknown curriculum.tasks.reach key 'colour'; valid: action_size, end_effector, env_id, expert, import, kwargs, "
    r"max_steps, obs_adapter, obs_size, primitive_expert, success_key, suite"
)


@pytest.mark.parametrize(
    "override, message",
    [
        ("+curriculum.tasks.reach.env_id=Meta-World/MT2", NO_ID),
        ("curriculum.tasks.reach.expert=metaworld.policies:SawyerReachV9Policy", NO_ATTR),
        ("curriculum.tasks.reach.expert=no_such_module:Policy", r"expert 'no_such_module:Policy': cannot import module 'no_such_module'"),
        ("+curriculum.tasks.reach.success_key=solved", r"task 'reach': info has no success key 'solved'; keys: .*success"),
        ("+curriculum.tasks.reach.colour=red", BAD_KEY),
        ("curriculum.skills=[reach,hammer]", r"unknown skill 'hammer'; valid: .*button.*reach"),
        (
            "+curriculum.tasks.reach.primitive_expert=robot_cl.tasks.suites.metaworld.experts:reach",
            r"primitive_expert .*has no attribute 'reach'",
        ),
        # Meta-World's own env has no primitive adapter: a primitive expert needs one named
        (
            "+curriculum.tasks.reach.primitive_expert=robot_cl.tasks.suites.metaworld.experts:push",
            r"task 'reach': .* has no `end_effector`",
        ),
    ],
)
def test_bad_external_tasks_fail_with_one_line_errors(tmp_path, override, message):
    with pytest.raises(ConfigError, match=message) as e:
        check_overrides(tiny(tmp_path, override))
    assert "\n" not in str(e.value)
    assert not (tmp_path / "cache").exists()  # nothing expensive started


def test_hierarchical_policy_needs_a_primitive_expert(tmp_path):
    with pytest.raises(ConfigError, match=r"task 'reach' .*has no primitive_expert.*valid: policy=flat, or set curriculum.tasks.reach"):
        check_overrides([*tiny(tmp_path), "policy=hierarchical"])


def test_sawyer_end_effector_reads_the_hand_and_drives_it():
    from robot_cl.primitives import Command, PrimitiveRunner, Reach

    env = tasks.make_external("push", tasks.task_configs(check_overrides(["curriculum=cw10", "policy=flat"])["curriculum"])["push"])
    ee = env.unwrapped.end_effector
    obs, _ = env.reset(seed=0)
    s = ee.state(obs)
    assert np.allclose(s.pos, obs[0:3]) and s.opening == pytest.approx(obs[3]) and ee.yaw_step == 0
    a = ee.action(Command(np.array([2.0, -0.5, 0.0]), 0.3, 1.0))
    assert a.shape == (4,) and np.allclose(a, [1.0, -0.5, 0.0, 1.0])  # clipped motion, no yaw channel, grip last
    goal = s.pos + np.array([0.05, 0.08, -0.06])
    result = PrimitiveRunner(env, ee, obs).run(Reach(*goal, 0.0))
    assert result.achieved and result.steps < 60
    assert np.linalg.norm(ee.state(env.raw_obs).pos - goal) <= ee.pos_tolerance


@pytest.mark.parametrize("name", CW10)
def test_cw10_primitive_experts_succeed_on_evaluation_seeds(name):
    """The primitive programs behind the hierarchical policy's demonstrations (python benchmarks/experts.py
    --curriculum cw10 measures them on 50 seeds); fixed seeds, so the outcome is deterministic."""
    from robot_cl.tasks import run_expert

    spec = tasks.task_configs(check_overrides(["curriculum=cw10", "policy=flat"])["curriculum"])[name]
    env = tasks.make_external(name, spec)
    traces = [run_expert(env, seed) for seed in (1_000_000, 1_000_001)]
    assert all(t.success for t in traces)
    assert all(len(t.actions) <= 200 and len(t.calls) >= 3 for t in traces)  # a program of several primitives, in time


def test_hierarchical_policy_learns_metaworld_tasks_from_primitive_demonstrations(tmp_path):
    from robot_cl import demos

    args = [
        "curriculum=cw10",
        "curriculum.skills=[handle-press-side,window-close]",
        "policy=hierarchical",
        "curriculum.demos=6",
        "eval=quick",
        "eval.recovery.enabled=false",
        "learner.updates=300",
        f"cache_dir={tmp_path / 'cache'}",
        "progress=false",
        "workers=1",
    ]
    cfg = check_overrides(args)
    m = train(cfg, tmp_path / "run")
    assert m["tasks"] == ["handle-press-side", "window-close"] and m["run"]["policy"] == "hierarchical"
    assert np.asarray(m["success_matrix"])[1, 1] > 0  # the last task is learned from 6 demonstrations
    cfgs = tasks.task_configs(cfg["curriculum"])
    d = demos.load_or_generate(["window-close"], range(0, 6), tmp_path / "cache", None, cfgs)["window-close"]
    assert len(d.call_prim) >= 3 * d.episodes and d.actions.shape[1] == 4  # both levels were recorded
    names = [demos.PRIMITIVE_NAMES[i] for i in d.call_prim[d.call_episode == 0]]
    assert names[-1] == "push" and "reach" in names


def test_adapter_rescales_actions_and_adapts_observations():
    spec = {**DEFAULTS, "env_id": "Pendulum-v1", "obs_adapter": "numpy:negative", "max_steps": 5}
    env = tasks.make_external("pendulum", spec)
    obs, _ = env.reset(seed=0)
    assert np.allclose(obs, -env.raw_obs)  # the adapter saw the env's observation
    assert env.action_space.low.min() == -1.0 and env.action_space.high.max() == 1.0
    assert np.allclose(env.to_env_action(np.array([1.0])), [2.0])  # Pendulum's torque bound
    assert np.allclose(env.from_env_action(env.to_env_action(np.array([0.3]))), [0.3])
    with pytest.raises(ConfigError, match="no success key 'success'"):
        env.step(np.zeros(1, dtype=np.float32))  # Pendulum reports no success
