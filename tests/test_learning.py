"""Policies, learner, reference strategies, demonstrations and evaluation: mechanisms with tiny budgets."""

import numpy as np
import pytest
import torch

import robot_cl
from robot_cl import demos
from robot_cl.errors import ConfigError
from robot_cl.evaluation import Evaluator, rollout
from robot_cl.layout import ACT_DIM, OBS_CENTER, OBS_DIM
from robot_cl.learners import BCLearner
from robot_cl.policies import HierarchicalPolicy, LearnedPrimitive, build_policy, count_params
from robot_cl.primitives import PrimitiveRunner, Reach
from robot_cl.strategies import Multitask, concat, make_plugins
from robot_cl.testing import BC, FLAT, HIER, make_policy


# -- demonstrations -----------------------------------------------------------------------------------
def test_demonstrations_are_recorded_at_both_levels(demo_sets):
    d = demo_sets["open_drawer"]
    assert d.episodes == 5 and d.attempted == 5 and list(d.seeds) == [0, 1, 2, 3, 4]
    assert d.obs.shape == (len(d.actions), OBS_DIM) and d.actions.shape[1] == ACT_DIM
    assert d.call_params.shape == (len(d.call_prim), demos.MAX_PARAMS)
    assert set(np.unique(d.step_call)) <= set(range(len(d.call_prim)))
    # every call's observation is the observation of its first step, for calls that took steps
    first_step = {c: int(np.flatnonzero(d.step_call == c)[0]) for c in np.unique(d.step_call)}
    for c, i in first_step.items():
        assert np.array_equal(d.call_obs[c], d.obs[i])
    assert np.all(np.bincount(d.step_call, minlength=len(d.call_prim)) == d.call_steps)
    names = [demos.PRIMITIVE_NAMES[p] for p in d.call_prim[d.call_episode == 0]]
    assert names[:5] == ["release", "reach", "reach", "grasp", "pull"]


def test_an_expert_calling_a_composite_primitive_gets_a_one_line_error():
    from robot_cl.errors import RobotCLError
    from robot_cl.primitives import Pick

    env = robot_cl.make("pick_place_cube_in_bowl")

    def expert(scene):
        yield Pick(*scene.pos("cube"), 0.0)

    env.unwrapped.skill.expert = expert
    with pytest.raises(RobotCLError, match=r"composite primitive 'pick'.*valid: grasp, lift, press") as err:
        demos.record_episode(env, 0)
    assert "\n" not in str(err.value)


def test_demonstration_cache_is_keyed_and_reused(tmp_path, monkeypatch):
    first = demos.load_or_generate(["press_button"], range(3, 5), tmp_path)
    (path,) = (tmp_path / "demos").glob("*.npz")
    assert path.name.startswith("press_button-s3-4-v1-")
    monkeypatch.setattr(demos, "generate", lambda *a, **k: pytest.fail("cached demonstrations were regenerated"))
    again = demos.load_or_generate(["press_button"], range(3, 5), tmp_path)
    assert np.array_equal(first["press_button"].obs, again["press_button"].obs)
    other = demos.cache_key("press_button", range(3, 5), {"frame_skip": 5}, None)
    assert other != path.name  # another sim config, another file


def test_corrupt_demonstration_cache_is_regenerated(tmp_path, capsys):
    demos.load_or_generate(["press_button"], range(0, 2), tmp_path)
    (path,) = (tmp_path / "demos").glob("*.npz")
    path.write_bytes(b"garbage")
    out = demos.load_or_generate(["press_button"], range(0, 2), tmp_path)
    assert out["press_button"].episodes == 2
    assert "unreadable" in capsys.readouterr().out


# -- policies -----------------------------------------------------------------------------------------
def test_modules_are_added_per_skill_and_counted():
    p = make_policy(HIER)
    p.add_task(0)
    n1 = count_params(p)
    p.add_task(1)
    assert len(p.behaviours) == 2 and count_params(p) > n1
    p.add_task(1)  # idempotent
    assert len(p.behaviours) == 2


@pytest.mark.parametrize("cfg, modules", [(HIER, "behaviours"), (FLAT, "heads")])
def test_training_a_new_skill_leaves_the_old_skill_module_untouched(cfg, modules, demo_sets):
    p = make_policy(cfg)
    learner = BCLearner(p, BC, [], torch.device("cpu"))
    p.add_task(0)
    learner.train_task(0, p.dataset(demo_sets["press_button"], 0), 50, seed=0)
    p.add_task(1)
    old_module = {k: v.clone() for k, v in getattr(p, modules)[0].state_dict().items()}
    trunk = {k: v.clone() for k, v in p.trunk.state_dict().items()}
    learner.train_task(1, p.dataset(demo_sets["open_drawer"], 1), 50, seed=1)
    assert all(torch.equal(v, getattr(p, modules)[0].state_dict()[k]) for k, v in old_module.items())
    assert not all(torch.equal(v, p.trunk.state_dict()[k]) for k, v in trunk.items())  # shared trunk does change


def test_behaviour_cloning_imitates_primitive_choices(demo_sets):
    p = make_policy(HIER)
    p.add_task(0)
    data = p.dataset(demo_sets["open_drawer"], 0)
    learner = BCLearner(p, {**BC, "lr": 3e-3}, [], torch.device("cpu"))
    with torch.no_grad():
        before, _ = p.loss(data)
    learner.train_task(0, data, 300, seed=0)
    with torch.no_grad():
        after, _ = p.loss(data)
    assert float(after) < 0.2 * float(before)
    logits, _ = p.forward(data["calls"]["obs"], data["calls"]["task"])
    accuracy = (logits.argmax(1) == data["calls"]["prim"]).float().mean()
    assert accuracy > 0.9


def test_zero_step_calls_are_not_training_targets(demo_sets):
    d = demo_sets["open_drawer"]
    data = make_policy(HIER).dataset(d, 0)
    assert len(data["calls"]["prim"]) == int((d.call_steps > 0).sum()) < len(d.call_prim)


def test_unseen_skill_uses_the_newest_module():
    p = make_policy(HIER)
    p.add_task(0)
    obs = torch.as_tensor(np.tile(OBS_CENTER, (2, 1)))
    with torch.no_grad():
        a = p.behaviours[0](p.trunk(p.inputs(obs, torch.tensor([1, 1]))), p.inputs(obs, torch.tensor([1, 1])))
        b = p.forward(obs, torch.tensor([1, 1]))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_padded_action_entries_are_masked_out_of_the_loss():
    p = make_policy(FLAT)
    p.add_task(0)
    p.add_task(1)
    p.set_action_sizes([2, ACT_DIM])  # task 0's env reads 2 of the action entries
    gen = torch.Generator().manual_seed(0)
    obs = torch.as_tensor(np.tile(OBS_CENTER, (4, 1))) + 0.01 * torch.randn(4, OBS_DIM, generator=gen)
    action = torch.rand(4, ACT_DIM, generator=gen) * 2 - 1
    task = torch.tensor([0, 0, 1, 1])
    loss = p.loss({"steps": {"obs": obs, "action": action, "task": task}})[0]
    changed = action.clone()
    changed[:2, 2:] = 0.9  # task 0's padding: not a target
    assert torch.equal(loss, p.loss({"steps": {"obs": obs, "action": changed, "task": task}})[0])
    changed[2:, 2:] = 0.9  # task 1 owns every entry
    assert not torch.equal(loss, p.loss({"steps": {"obs": obs, "action": changed, "task": task}})[0])
    q = build_policy(p.spec())  # the sizes travel with the spec (checkpoints, evaluation workers)
    assert q.action_sizes == [2, ACT_DIM] and torch.equal(q.action_mask, p.action_mask)
    with pytest.raises(ConfigError, match="action_sizes"):
        p.set_action_sizes([0, 1])


def test_spec_rebuilds_an_identical_policy(demo_sets):
    p = make_policy(FLAT)
    p.add_task(0)
    p.add_task(1)
    q = build_policy(p.spec())
    q.load_state_dict(p.state_dict())
    obs = demo_sets["press_button"].obs[:7]
    for task in (0, 1):
        assert np.array_equal(p.act(obs[3], task), q.act(obs[3], task))


def test_learned_low_level_primitive_drives_the_arm(demo_sets):
    """A low-level network trained on the controllers' traces of two skills reaches new targets by itself."""
    cfg = {**HIER, "learned_primitives": True, "low_level_hidden": [64, 64]}
    p = make_policy(cfg, n_tasks=1)
    p.add_task(0)
    data = concat([p.dataset(demo_sets["press_button"], 0), p.dataset(demo_sets["open_drawer"], 0)])
    assert "steps" in data
    BCLearner(p, {**BC, "lr": 3e-3}, [], torch.device("cpu")).train_task(0, data, 800, seed=0)
    env = robot_cl.make("press_button")
    for seed in (50, 51, 52):
        obs, _ = env.reset(seed=seed)
        runner = PrimitiveRunner(env, env.unwrapped.end_effector, obs)
        target = env.unwrapped.scene.pos("button_top") + [0, 0, 0.06]
        result = runner.run(LearnedPrimitive(Reach(*target, 0.0), p, demos.PRIMITIVE_NAMES.index("reach"), 0))
        assert result.achieved and np.linalg.norm(env.unwrapped.scene.tcp - target) < 0.008
        assert result.steps < Reach.budget // 2


# -- strategies ---------------------------------------------------------------------------------------
def test_multitask_trains_on_the_union_and_counts_its_memory(demo_sets):
    p = make_policy(HIER)
    plugin = Multitask()
    learner = BCLearner(p, BC, [plugin], torch.device("cpu"))
    d0, d1 = p.dataset(demo_sets["press_button"], 0), p.dataset(demo_sets["open_drawer"], 1)
    union0 = plugin.training_data(learner, 0, d0)
    union1 = plugin.training_data(learner, 1, d1)
    assert len(union0["calls"]["task"]) == len(d0["calls"]["task"])
    assert len(union1["calls"]["task"]) == len(d0["calls"]["task"]) + len(d1["calls"]["task"])
    assert set(union1["calls"]["task"].tolist()) == {0, 1}
    assert plugin.memory_bytes() == sum(t.numel() * t.element_size() for d in (d0, d1) for t in d["calls"].values())


def test_unknown_strategy_is_named():
    with pytest.raises(robot_cl.errors.ConfigError, match=r"unknown strategy 'ewc2'; valid: agem, derpp, ewc, finetune, .*si"):
        make_plugins({"ewc2": {}})


# -- evaluation ---------------------------------------------------------------------------------------
def test_evaluation_in_workers_matches_in_process(demo_sets):
    p = make_policy(HIER)
    p.add_task(0)
    BCLearner(p, {**BC, "lr": 3e-3}, [], torch.device("cpu")).train_task(0, p.dataset(demo_sets["press_button"], 0), 300, seed=0)
    seeds = list(range(1000, 1006))
    local = Evaluator(1).episodes(p, "press_button", 0, seeds)
    with Evaluator(2) as pool:
        remote = pool.episodes(p, "press_button", 0, seeds)
    assert local == remote
    assert sum(e["success"] for e in local) >= 4  # the cloned policy presses the button


def test_flat_rollout_counts_steps_to_the_time_limit():
    p = make_policy(FLAT, n_tasks=1)
    p.add_task(0)
    env = robot_cl.make("press_button", skill_config={"max_steps": 30})
    out = rollout(env, p, 0, seed=3)
    assert out["steps"] == 30 and out["decisions"] == 30 and isinstance(out["success"], bool)


def test_hierarchical_rollout_ends_even_when_the_policy_repeats_a_no_op():
    class Stubborn(HierarchicalPolicy):
        def decide(self, obs, task):
            return Reach(*obs[:3], float(np.arctan2(obs[3], obs[4])))  # already there: 0 steps every time

    p = Stubborn(HIER, OBS_DIM, ACT_DIM, 1)
    p.add_task(0)
    env = robot_cl.make("press_button", skill_config={"max_steps": 12})
    out = rollout(env, p, 0, seed=0)
    assert out["steps"] == 12 and not out["success"]
