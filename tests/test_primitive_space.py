"""RL in primitive space: the primitive action env (decoding, rewards, time limits), affordances,
primitive switching, categorical choices and anchored positions, and curricula run through it.
"""

import json

import numpy as np
import pytest
import torch

from robot_cl.testing import (
    HIER,
    learner_config,
    make_policy,
    rl_run_args,
)

SAC_CFG = learner_config("sac", hidden=[32, 32], batch_size=16, buffer_size=1000)


def test_primitive_action_env_decodes_actions_and_sums_rewards():
    import robot_cl
    from robot_cl.primitives.vocabulary import MAX_PARAMS
    from robot_cl.rl.primitive_env import ACTION_PRIMITIVES, PrimitiveActionEnv, primitive_action_dim

    env = PrimitiveActionEnv(robot_cl.make("press_button"), max_calls=3)
    ACTION_DIM = primitive_action_dim()  # the default layout: a score and a parameter vector per primitive
    assert env.action_space.shape == (ACTION_DIM,) == (len(ACTION_PRIMITIVES) * (1 + MAX_PARAMS),)
    a = np.zeros(ACTION_DIM, np.float32)
    k = ACTION_PRIMITIVES.index("reach")
    a[k] = 1.0  # highest score: reach
    a[len(ACTION_PRIMITIVES) + k * MAX_PARAMS : len(ACTION_PRIMITIVES) + (k + 1) * MAX_PARAMS] = [-1.0, 1.0, 0.0, 0.5]
    prim = env.decode(a)
    lo, hi = env.low, env.high
    assert prim.name == "reach" and np.allclose(prim.params, [lo[0], hi[1], (lo[2] + hi[2]) / 2, np.pi / 2])
    j = ACTION_PRIMITIVES.index("lift")
    b = np.zeros(ACTION_DIM, np.float32)
    b[j], b[len(ACTION_PRIMITIVES) + j * MAX_PARAMS] = 1.0, -0.5
    assert env.decode(b).name == "lift" and np.isclose(env.decode(b).params[0], -0.1)  # 0.2 m displacement range
    for name, values in [("reach", [0.4, -0.1, 0.3, -1.0]), ("press", [0.5, 0.2, 0.05, 0.03]), ("pull", [0.1, -0.05, 0.0]), ("grasp", [])]:
        assert np.allclose(env.decode(env.encode(name, values)).params, values)  # encode inverts decode

    env.reset(seed=0)
    for call in range(3):
        before = len(env.runner.trace.rewards)
        _, reward, terminated, truncated, info = env.step(b)
        assert np.isclose(reward, sum(env.runner.trace.rewards[before:])) and info["steps"] == len(env.runner.trace.rewards) - before
        assert not terminated and truncated == (call == 2)  # max_calls primitive calls per episode


def test_rollout_of_a_primitive_space_agent_reports_its_calls_and_return():

    import robot_cl
    from robot_cl.evaluation import rollout
    from robot_cl.learners import LEARNERS
    from robot_cl.rl.primitive_env import ACTION_PRIMITIVES

    lcfg = {**SAC_CFG, "primitive_env": {**SAC_CFG["primitive_env"], "max_calls": 3}}
    policy = make_policy(LEARNERS["sac"].policy_config(HIER, lcfg), 1)
    assert policy.primitive_actions
    env = robot_cl.make("press_button", skill_config={"max_steps": 40})
    out = rollout(env, policy, 0, seed=0)
    assert len(out["calls"]) == out["decisions"] == 3 and set(out["calls"]) <= set(ACTION_PRIMITIVES)
    assert out["steps"] == 40  # held to the time limit after the third call
    assert 0.0 <= out["return"] <= 40.0


@pytest.mark.parametrize("hold_to_end", [True, False])
def test_primitive_action_env_holds_until_the_time_limit_after_the_last_call(hold_to_end):
    import robot_cl
    from robot_cl.rl.primitive_env import ACTION_PRIMITIVES, PrimitiveActionEnv

    env = PrimitiveActionEnv(robot_cl.make("press_button", skill_config={"max_steps": 60}), max_calls=2, hold_to_end=hold_to_end)
    noop = np.zeros(env.action_space.shape, np.float32)
    noop[ACTION_PRIMITIVES.index("release")] = 1.0  # the gripper is open already: a one-step call
    env.reset(seed=0)
    _, _, _, truncated, info = env.step(noop)
    assert not truncated and info["steps"] == 1
    _, reward, _, truncated, info = env.step(noop)
    assert truncated
    steps = len(env.runner.trace.rewards)
    assert steps == (60 if hold_to_end else 2) and info["steps"] == steps - 1  # the tail counts to the last call
    assert np.isclose(reward, sum(env.runner.trace.rewards[1:]))


def test_three_primitive_space_actions_solve_pick_and_place():
    """pick(cube) -> reach(over the bowl) -> release: the pick primitive makes a pick-and-place three calls."""
    import robot_cl
    from robot_cl.rl.primitive_env import PrimitiveActionEnv

    env = PrimitiveActionEnv(robot_cl.make("pick_place_cube_in_bowl"), max_calls=4)
    act = env.encode

    scene = env.env.unwrapped.scene
    for seed in (0, 1):
        env.reset(seed=seed)
        cube, bowl = scene.pos("cube"), scene.pos("bowl")
        _, r_pick, *_, info = env.step(act("pick", [*cube, 0.0]))
        assert info["primitive"] == "pick" and scene.grasping("cube") and scene.pos("cube")[2] > 0.08
        _, r_carry, *_, info = env.step(act("reach", [bowl[0], bowl[1], 0.14, 0.0]))
        assert not info["success"] and r_carry / info["steps"] > r_pick / 55  # carrying it over the bowl pays more per step
        _, _, _, _, info = env.step(act("release"))
        if not info["success"]:  # the cube may still be falling: move away while it lands
            _, _, _, _, info = env.step(act("lift", [0.1]))
        assert info["success"], seed
    # Missing the cube by a wide margin grasps nothing.
    env.reset(seed=0)
    env.step(act("pick", [*(scene.pos("cube") + [0.06, 0.0, 0.0]), 0.0]))
    assert not scene.grasping("cube")


def test_hierarchical_sac_runs_a_curriculum_in_primitive_space(tmp_path):
    from robot_cl.cli import check_overrides
    from robot_cl.run import train

    args = rl_run_args(
        tmp_path / "cache",
        "policy=hierarchical",
        "strategy=packnet",
        "strategy.plugins.packnet.retrain_updates=10",
        "learner.steps=24",
        "learner.start_steps=8",
        "learner.update_after=8",
        "learner.update_every=8",
        "learner.primitive_env.max_calls=4",
    )
    cfg = check_overrides(args)
    m = train(cfg, tmp_path / "run")
    assert m["run"]["policy"] == "hierarchical" and np.asarray(m["success_matrix"]).shape == (2, 2)
    spec = json.loads((tmp_path / "run" / "config.json").read_text())
    assert spec["learner"]["primitive_env"]["max_calls"] == 4


def test_shared_parameters_give_every_primitive_the_same_value_per_parameter_name():
    import robot_cl
    from robot_cl.primitives import PRIMITIVES
    from robot_cl.rl.primitive_env import ACTION_PRIMITIVES, PARAM_NAMES, PrimitiveActionEnv, primitive_action_dim

    env = PrimitiveActionEnv(robot_cl.make("pick_place_cube_in_bowl"), shared_params=True)
    assert env.action_space.shape == (len(ACTION_PRIMITIVES) + len(PARAM_NAMES),) == (primitive_action_dim({"shared_params": True}),)
    assert set(PARAM_NAMES) == {p for n in ACTION_PRIMITIVES for p in PRIMITIVES[n].param_names}
    a = env.encode("pick", [0.45, -0.1, 0.03, 0.5])
    assert np.allclose(env.decode(a).params, [0.45, -0.1, 0.03, 0.5])
    a[: len(ACTION_PRIMITIVES)] = 0.0
    a[ACTION_PRIMITIVES.index("reach")] = 1.0  # the same vector with reach selected: reach goes where pick would
    assert env.decode(a).name == "reach" and np.allclose(env.decode(a).params, [0.45, -0.1, 0.03, 0.5])
    a[ACTION_PRIMITIVES.index("reach")], a[ACTION_PRIMITIVES.index("press")] = 0.9, 1.0  # press shares x, y, z
    # but reads its own depth slot
    press = env.decode(a)
    assert press.name == "press" and np.allclose(press.params[:3], [0.45, -0.1, 0.03]) and np.isclose(press.params[3], env.max_depth / 2)
    per_primitive = PrimitiveActionEnv(robot_cl.make("pick_place_cube_in_bowl"))
    assert per_primitive.action_space.shape == (primitive_action_dim(),) and primitive_action_dim() > env.action_space.shape[0]


def test_affordance_bonus_pays_calls_aimed_where_the_skill_says_the_primitive_is_useful():
    import robot_cl
    from robot_cl.rl.primitive_env import PrimitiveActionEnv

    plain = PrimitiveActionEnv(robot_cl.make("pick_place_cube_in_bowl"), max_calls=4)
    bonus = PrimitiveActionEnv(robot_cl.make("pick_place_cube_in_bowl"), max_calls=4, affordance=2.0)
    scores = []
    for dx in (0.0, 0.05, 0.2):
        rewards = []
        for env in (plain, bonus):
            env.reset(seed=3)
            cube = env.env.unwrapped.scene.pos("cube")
            _, r, _, _, info = env.step(env.encode("pick", [cube[0] + dx, cube[1], cube[2], 0.0]))
            rewards.append(r)
        scores.append(info["affordance"])
        assert np.isclose(rewards[1] - rewards[0], 2.0 * info["affordance"])  # the task's reward is the same
    assert scores[0] == 1.0 and 0.0 < scores[2] < scores[1] < 1.0  # on the cube, then falling with distance
    bonus.reset(seed=3)
    bowl = bonus.env.unwrapped.scene.pos("bowl")
    assert bonus.affordance_score(bonus.decode(bonus.encode("press", [bowl[0], bowl[1], 0.1, 0.0]))) == 0.0  # not declared
    assert bonus.affordance_score(bonus.decode(bonus.encode("reach", [bowl[0], bowl[1], 0.2, 0.0]))) == 1.0  # over the bowl


@pytest.mark.parametrize("skill", sorted(__import__("robot_cl").list_skills()))
def test_every_skills_affordances_name_primitives_and_scene_points(skill):
    import robot_cl
    from robot_cl.rl.primitive_env import ACTION_PRIMITIVES
    from robot_cl.skills import near
    from robot_cl.tasks import run_expert

    env = robot_cl.make(skill)
    env.reset(seed=0)
    declared = env.unwrapped.skill.affordances
    assert set(declared) <= set(ACTION_PRIMITIVES)
    points = env.unwrapped.affordance_points()  # raises KeyError for a point the scene lacks
    assert {k: len(v) for k, v in points.items()} == {k: len(v) for k, v in declared.items()}
    # Where the skill's own expert calls a declared primitive, some call of it is aimed at a declared point.
    trace = run_expert(env, seed=0)
    for prim, pts in points.items():
        xy = [np.array(p.params[:2]) for p in trace.prims if p.name == prim]
        if xy:
            assert max(near(min(np.linalg.norm(c - q[:2]) for q in pts), 0.02, 0.05) for c in xy) >= 0.5, prim
    env.close()


def test_primitive_switch_explores_random_primitives_with_the_policys_parameters():
    from robot_cl.rl.primitive_env import N_PRIMS, switch_primitives

    rng = np.random.default_rng(0)
    a = np.tanh(rng.normal(size=(400, N_PRIMS + 5))).astype(np.float32)
    assert np.array_equal(switch_primitives(a, 0.0, rng), a)
    out = switch_primitives(a, 0.5, np.random.default_rng(1))
    assert np.array_equal(out, switch_primitives(a, 0.5, np.random.default_rng(1)))  # seeded
    switched = out[:, :N_PRIMS].max(1) == 1.0
    assert 0.4 < switched.mean() < 0.6 and np.array_equal(out[~switched], a[~switched])
    assert np.array_equal(out[:, N_PRIMS:], a[:, N_PRIMS:])  # parameters are the policy's own
    picked = out[switched, :N_PRIMS].argmax(1)
    assert len(set(picked.tolist())) == N_PRIMS  # every primitive gets drawn


@pytest.mark.parametrize("switch, ratio", [(1.0, 1.0), (0.0, 2.0)])
def test_sac_learner_applies_primitive_switch_and_update_to_data_ratio(switch, ratio):
    from robot_cl.cli import check_overrides
    from robot_cl.learners import make_learner
    from robot_cl.rl.primitive_env import N_PRIMS, PARAM_NAMES
    from robot_cl.stages import new_policy, stage_data

    cfg = check_overrides(
        ["learner=sac", "policy=hierarchical", "curriculum=mini", "curriculum.skills=[press_button]", "learner.hidden=[32,32]"]
        + ["learner.asynchronous=false", "learner.primitive_env.shared_params=true", "learner.primitive_env.max_calls=2"]
        + [f"learner.primitive_switch={switch}", f"learner.updates_per_step={ratio}", "learner.start_steps=0"]
        + ["learner.update_after=4", "learner.update_every=2", "learner.batch_size=4"]
    )
    policy = new_policy(cfg, 1, torch.device("cpu"), 0)
    assert policy.act_dim == N_PRIMS + len(PARAM_NAMES)
    learner = make_learner(cfg["learner"], policy, [], torch.device("cpu"))
    learner.train_task(0, stage_data(cfg, policy, "press_button", 0, None), 8, seed=0)
    assert learner.total_updates == 3 * round(2 * ratio)  # at steps 4, 6 and 8
    scores = learner.buffer.contents(torch.device("cpu"))["act"][:, :N_PRIMS]
    assert len(scores) == 8 and bool((scores.max(1).values == 1.0).all()) == (switch == 1.0)  # tanh scores stay below 1


def test_an_unknown_discrete_gradient_is_a_one_line_error():
    from robot_cl.cli import check_overrides
    from robot_cl.errors import ConfigError
    from robot_cl.stages import new_policy

    cfg = check_overrides(["learner=sac", "policy=hierarchical", "curriculum=mini", "learner.discrete_gradient=gumbel"])
    with pytest.raises(ConfigError, match=r"unknown learner\.discrete_gradient 'gumbel'; valid: straight_through, expectation"):
        new_policy(cfg, 2, torch.device("cpu"), 0)


def test_hierarchical_sac_with_categorical_heads_stores_one_hot_choices():
    from robot_cl.cli import check_overrides
    from robot_cl.learners import make_learner
    from robot_cl.rl.primitive_env import ANCHORS, N_PRIMS
    from robot_cl.stages import new_policy, stage_data

    cfg = check_overrides(
        ["learner=sac", "policy=hierarchical", "curriculum=mini", "curriculum.skills=[press_button]", "learner.hidden=[32,32]"]
        + ["learner.asynchronous=false", "learner.primitive_env.shared_params=true", "learner.primitive_env.anchors=true"]
        + ["learner.categorical=true", "learner.primitive_env.max_calls=2", "learner.start_steps=0"]
        + ["learner.update_after=4", "learner.update_every=2", "learner.batch_size=4"]
    )
    policy = new_policy(cfg, 1, torch.device("cpu"), 0)
    assert policy.sac.actor.discrete == (N_PRIMS, len(ANCHORS))
    learner = make_learner(cfg["learner"], policy, [], torch.device("cpu"))
    learner.train_task(0, stage_data(cfg, policy, "press_button", 0, None), 8, seed=0)
    choices = learner.buffer.contents(torch.device("cpu"))["act"][:, : N_PRIMS + len(ANCHORS)]
    assert set(choices.unique().tolist()) == {-1.0, 1.0}
    assert bool(((choices[:, :N_PRIMS] == 1).sum(1) == 1).all()) and bool(((choices[:, N_PRIMS:] == 1).sum(1) == 1).all())
    assert policy.sac.log_alpha_d[0] != 0  # its coefficient is tuned with the others


def test_anchored_positions_follow_the_observed_objects():
    """With ``anchors`` one action means "pick at the cube" wherever the cube lies, and the anchored
    three-call plan solves pick-and-place."""
    import robot_cl
    from robot_cl.rl.primitive_env import ANCHORS, N_PRIMS, PARAM_NAMES, PrimitiveActionEnv, primitive_action_dim

    env = PrimitiveActionEnv(robot_cl.make("pick_place_cube_in_bowl"), max_calls=4, shared_params=True, anchors=True)
    assert (
        env.action_space.shape
        == (N_PRIMS + len(ANCHORS) + len(PARAM_NAMES),)
        == (primitive_action_dim({"shared_params": True, "anchors": True}),)
    )
    scene = env.env.unwrapped.scene
    env.reset(seed=0)
    at_cube = env.encode("pick", [*scene.pos("cube"), 0.0], anchor="slot1")  # slot1 observes the cube
    seen = []
    for seed in (0, 1):
        env.reset(seed=seed)
        cube, bowl = scene.pos("cube"), scene.pos("bowl")
        assert np.allclose(env.decode(at_cube).params[:3], cube, atol=1e-5)  # the same action, the cube's new place
        seen.append(cube)
        env.step(at_cube)
        assert scene.grasping("cube")
        env.step(env.encode("reach", [bowl[0], bowl[1], 0.14, 0.0], anchor="slot2"))
        _, _, _, _, info = env.step(env.encode("release"))
        if not info["success"]:
            _, _, _, _, info = env.step(env.encode("lift", [0.1]))
        assert info["success"], seed
    assert np.linalg.norm(seen[0] - seen[1]) > 0.02
    wide = PrimitiveActionEnv(robot_cl.make("pick_place_cube_in_bowl"), shared_params=True, anchors=True, anchor_range=0.6)
    wide.reset(seed=0)
    far = wide.encode("pick", [*wide.env.unwrapped.scene.pos("cube"), 0.0], anchor="slot1")
    far[N_PRIMS + len(ANCHORS) + PARAM_NAMES.index("x")] = 1.0  # the cube's x + 0.6 m: beyond the box
    assert wide.env.unwrapped.scene.pos("cube")[0] + 0.6 > wide.high[0]
    assert np.isclose(wide.decode(far).params[0], wide.high[0])  # offsets are clipped into the workspace box


def test_anchors_on_a_task_without_entity_slots_is_a_one_line_error():
    from robot_cl import tasks
    from robot_cl.errors import ConfigError
    from robot_cl.rl.primitive_env import PrimitiveActionEnv
    from robot_cl.tasks.external import DEFAULTS

    external = tasks.make_external("pendulum", {**DEFAULTS, "env_id": "Pendulum-v1"})  # an external task: no known layout
    with pytest.raises(ConfigError, match="anchors needs a task whose observation layout is known"):
        PrimitiveActionEnv(external, anchors=True)


def test_rl_household_experiment_preset_composes_the_passing_primitive_space():
    from robot_cl.cli import check_overrides
    from robot_cl.errors import ConfigError

    cfg = check_overrides(["+experiment=rl_household", "strategy=ewc", "seed=2"])
    assert (cfg["curriculum"]["name"], cfg["policy"]["name"], cfg["learner"]["name"]) == ("household_rl", "hierarchical", "sac")
    assert cfg["learner"]["categorical"] is True and cfg["learner"]["steps"] == 20000  # the rest: learner=sac's defaults
    assert {k: cfg["learner"]["primitive_env"][k] for k in ("shared_params", "anchors", "anchor_range")} == {
        "shared_params": True,
        "anchors": True,
        "anchor_range": 0.05,
    }
    assert cfg["run_name"] == "rl_household-ewc-s2"
    assert check_overrides(["+experiment=rl_household", "learner.categorical=false"])["learner"]["categorical"] is False
    with pytest.raises(ConfigError, match="unknown experiment 'rl_hosuehold'; valid: rl_household"):
        check_overrides(["+experiment=rl_hosuehold"])
