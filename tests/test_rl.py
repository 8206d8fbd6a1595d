"""Reinforcement learning: SAC's and PPO's pieces against hand computations, vectorised collection,
both RL learners in the runner (flat and in primitive space), and every strategy's hooks in their loops."""

import json
import math

import numpy as np
import pytest
import torch
from policy_fixtures import learner_config, sac_agent, sac_config

from robot_cl.rl.ppo import clipped_surrogate, gae
from robot_cl.rl.sac import CWMLP, SAC, ReplayBuffer
from robot_cl.strategies import STRATEGIES

SMALL = sac_config(hidden=(32, 32))
# learner=ppo's settings (configs/learner/ppo.yaml) with tiny networks and rollouts
PPO_CFG = learner_config("ppo", steps=60, asynchronous=False, rollout=10, epochs=2, batch_size=10, hidden=[32, 32], keep_rows=1000)
SAC_CFG = learner_config("sac", hidden=[32, 32], batch_size=16, buffer_size=1000)


def batch(sac: SAC, n: int = 16, seed: int = 0, task: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "obs": torch.randn(n, sac.obs_dim, generator=g),
        "act": torch.rand(n, sac.act_dim, generator=g) * 2 - 1,
        "rew": torch.randn(n, generator=g),
        "next_obs": torch.randn(n, sac.obs_dim, generator=g),
        "done": torch.zeros(n),
        "task": torch.full((n,), task, dtype=torch.long),
    }


def test_continual_worlds_network_layout():
    net = CWMLP(10, 4)
    kinds = [type(m).__name__ for m in net.body]
    assert kinds == ["MaskedLinear", "LayerNorm", "Tanh", *["MaskedLinear", "LeakyReLU"] * 3]
    assert [m.out_features for m in net.body if isinstance(m, torch.nn.Linear)] == [256] * 4


def test_multi_head_output_is_each_samples_own_head():
    torch.manual_seed(0)
    net = CWMLP(5, 3, (16, 16), n_heads=4)
    x, task = torch.randn(8, 5), torch.tensor([0, 1, 2, 3, 3, 2, 1, 0])
    out = net(x, task)
    full = torch.stack([head(net.body(x)) for head in net.heads], dim=1)
    for i in range(8):
        assert torch.equal(out[i], full[i, task[i]])


def test_squashed_log_prob_matches_the_change_of_variables():
    torch.manual_seed(0)
    sac = SAC(3, 2, 1, SMALL)
    x, t = sac.inputs(torch.randn(64, 3), torch.zeros(64, dtype=torch.long)), torch.zeros(64, dtype=torch.long)
    torch.manual_seed(1)
    a, logp = sac.actor(x, t)
    mean, log_std = sac.actor.net(x, t).split(2, dim=-1)
    dist = torch.distributions.TransformedDistribution(
        torch.distributions.Independent(torch.distributions.Normal(mean, log_std.clamp(-20, 2).exp()), 1),
        [torch.distributions.TanhTransform()],
    )
    assert torch.all(a.abs() < 1)
    assert torch.allclose(logp, dist.log_prob(a.clamp(-1 + 1e-6, 1 - 1e-6)), atol=1e-3)


def step(learner, b: dict[str, torch.Tensor]) -> None:
    learner.step({"transitions": b})  # SAC's one update path (the strategies' hooks, alpha, targets)


def test_target_critics_track_with_the_configured_polyak():
    torch.manual_seed(0)
    policy, learner = sac_agent(3, 2, 1, hidden=[32, 32], polyak=0.9)
    sac = policy.sac
    before = [p.clone() for p in sac.q1_target.parameters()]
    step(learner, batch(sac))
    for p, pt, old in zip(sac.q1.parameters(), sac.q1_target.parameters(), before):
        assert torch.allclose(pt, 0.9 * old + 0.1 * p, atol=1e-7)
    assert not all(torch.equal(pt, old) for pt, old in zip(sac.q1_target.parameters(), before))


def test_entropy_tuning_moves_each_tasks_alpha_toward_its_target():
    torch.manual_seed(0)
    policy, learner = sac_agent(3, 2, 2, hidden=[32, 32])
    sac = policy.sac
    with torch.no_grad():  # task 0's policy: nearly deterministic, far below the target entropy -2
        sac.actor.net.heads[0].bias[2:] = -10.0
    step(learner, batch(sac, task=0))
    assert sac.log_alpha[0] > 0 and sac.log_alpha[1] == 0  # alpha grows for task 0 only
    high, learner = sac_agent(3, 2, 1, hidden=[32, 32], target_entropy=-50.0)  # entropy far above this target
    step(learner, batch(high.sac))
    assert high.sac.log_alpha[0] < 0


@pytest.mark.parametrize("gradient", ["straight_through", "expectation"])
def test_categorical_heads_choose_one_entry_per_group_and_learn_from_the_critic(gradient):
    torch.manual_seed(0)
    groups = (3, 2)
    sac = SAC(3, 3 + 2 + 2, 1, sac_config(hidden=(32, 32), discrete=groups, discrete_gradient=gradient))
    t = torch.zeros(256, dtype=torch.long)
    x = sac.inputs(torch.randn(256, 3), t)
    a, logp, logp_d = sac.actor(x, t, split=True)
    scores = a[:, :5]
    assert set(scores.unique().tolist()) == {-1.0, 1.0}  # what the primitive env reads by argmax
    assert bool(((scores[:, :3] == 1).sum(1) == 1).all()) and bool(((scores[:, 3:] == 1).sum(1) == 1).all())
    assert torch.all(a[:, 5:].abs() < 1)  # the parameters stay squashed Gaussians
    logits = sac.actor.net(x, t)[:, :5]
    expected = sum((torch.softmax(g, -1) * torch.log_softmax(g, -1)).sum(-1) for g in logits.split(groups, -1))
    assert torch.allclose(logp_d, expected, atol=1e-6)  # minus the exact entropy of the choices
    total = sac.actor(x, t)[1]
    assert total.shape == logp.shape == (256,)
    det, _ = sac.actor(x, t, deterministic=True)
    assert torch.equal(det[:, :3].argmax(-1), logits[:, :3].argmax(-1))
    with torch.no_grad():  # sampling follows the probabilities
        sac.actor.net.heads[0].bias[:3] = torch.tensor([0.0, 0.0, 3.0])
        sac.actor.net.heads[0].weight[:3] = 0.0
    share = (sac.actor(x, t)[0][:, :3].argmax(-1) == 2).float().mean()
    assert abs(float(share) - math.exp(3) / (2 + math.exp(3))) < 0.08

    # Against a critic that pays for entry 0 of the first group (and is indifferent to the second),
    # entry 0's probability rises, through the sampled one-hot scores or the exact expectation.
    def q(x, a, t):
        return 5.0 * a[:, 0]

    _, _, logp_d = sac.policy_loss(x, t, q)
    assert torch.allclose(logp_d, sac.actor(x, t, split=True)[2], atol=1e-6)
    opt = torch.optim.SGD(sac.actor.parameters(), lr=0.1)
    probs = lambda: torch.softmax(sac.actor.net(x, t)[:, :5].split(groups, -1)[0], -1).mean(0)  # noqa: E731
    before = probs()
    for _ in range(10):
        opt.zero_grad()
        sac.policy_loss(x, t, q)[0].backward()
        opt.step()
    assert probs()[0] > before[0] + 0.3


def test_categorical_entropy_coefficient_moves_toward_its_own_target():
    torch.manual_seed(0)
    policy, learner = sac_agent(3, 4 + 2, 1, discrete=(4,), hidden=[32, 32])
    low = policy.sac
    assert low.target_entropy == -2 and math.isclose(low.target_entropy_d, 0.5 * math.log(4))
    with torch.no_grad():  # a near-certain choice: entropy ~0, under the target
        low.actor.net.heads[0].bias[:4] = torch.tensor([20.0, 0.0, 0.0, 0.0])
    step(learner, batch(low))
    assert low.log_alpha_d[0] > 0
    high, learner = sac_agent(3, 4 + 2, 1, discrete=(4,), hidden=[32, 32], discrete_target_entropy=0.0)
    step(learner, batch(high.sac))  # a fresh head is near uniform: entropy ~log 4, above the target 0
    assert high.sac.log_alpha_d[0] < 0
    flat, learner = sac_agent(3, 2, 1, hidden=[32, 32])  # without categorical heads the coefficient is never trained
    step(learner, batch(flat.sac))
    assert flat.sac.log_alpha_d[0] == 0


def test_replay_buffer_wraps_and_samples_what_was_added():
    buf = ReplayBuffer(5, 2, 1)
    for i in range(7):
        buf.add([i, i], [i / 10], float(i), [i + 1, i + 1], False, i % 2)
    assert buf.size == 5 and sorted(buf.rew.tolist()) == [2, 3, 4, 5, 6]
    b = buf.sample(100, np.random.default_rng(0))
    assert torch.all(b["obs"][:, 0] == b["rew"]) and torch.all(b["next_obs"][:, 0] == b["rew"] + 1)
    assert torch.all(b["task"] == b["rew"].long() % 2)


def test_ppo_clipped_objective_matches_a_hand_computation():
    logp_old = torch.zeros(4)
    logp_new = torch.log(torch.tensor([0.5, 1.1, 1.5, 0.7]))
    adv = torch.tensor([1.0, 1.0, 1.0, -1.0])
    # ratios 0.5, 1.1, 1.5 (clipped to 1.2 for A > 0), 0.7 (clipped to 0.8; min(-0.7, -0.8) = -0.8)
    expected = -(0.5 + 1.1 + 1.2 - 0.8) / 4
    assert math.isclose(float(clipped_surrogate(logp_new, logp_old, adv, 0.2)), expected, rel_tol=1e-6)


def test_gae_matches_a_hand_computation_and_stops_at_episode_ends():
    r = torch.tensor([[1.0], [0.0], [2.0]])
    v = torch.tensor([[0.5], [0.2], [0.1]])
    d = torch.tensor([[0.0], [1.0], [0.0]])
    adv, ret = gae(r, v, torch.tensor([0.3]), d, gamma=0.9, lam=0.8)
    a2 = 2.0 + 0.9 * 0.3 - 0.1
    a1 = 0.0 - 0.2  # episode ended at step 1: no bootstrap, no carry
    a0 = (1.0 + 0.9 * 0.2 - 0.5) + 0.9 * 0.8 * a1
    assert torch.allclose(adv[:, 0], torch.tensor([a0, a1, a2]))
    assert torch.allclose(ret, adv + v)


class Point:
    """A trivial task: move a point on a line to +0.5; reward -|x - 0.5| per step, 10-step episodes."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def reset(self) -> np.ndarray:
        self.x, self.t = float(self.rng.uniform(-1, 1)), 0
        return np.array([self.x], np.float32)

    def step(self, a: np.ndarray) -> tuple[np.ndarray, float, bool]:
        self.x = float(np.clip(self.x + 0.3 * a[0], -1, 1))
        self.t += 1
        return np.array([self.x], np.float32), -abs(self.x - 0.5), self.t >= 10


def episode_return(policy, env: Point, episodes: int = 20) -> float:
    total = 0.0
    for _ in range(episodes):
        obs, done = env.reset(), False
        while not done:
            obs, r, done = env.step(policy.act(obs, 0))  # the deterministic actor
            total += r
    return total / episodes


def test_sac_improves_return_on_a_trivial_task():
    torch.manual_seed(0)
    policy, learner = sac_agent(1, 1, 1, hidden=[64, 64])
    env, rng, buf = Point(0), np.random.default_rng(0), ReplayBuffer(10_000, 1, 1)
    before = episode_return(policy, Point(1))
    obs = env.reset()
    for t in range(1500):
        a = rng.uniform(-1, 1, 1).astype(np.float32) if t < 200 else policy.explore(obs[None], 0)[0]
        nxt, r, over = env.step(a)
        buf.add(obs, a, r, nxt, False, 0)  # time limit only: never a true termination
        obs = env.reset() if over else nxt
        if t >= 200:
            step(learner, buf.sample(64, rng))
    after = episode_return(policy, Point(1))
    assert after > before + 1.0 and after > -2.0  # the untrained policy scores about -10 per episode here, the optimum about -0.5


@pytest.mark.parametrize("n_envs, workers", [(2, None), (3, 2)])
def test_vectorised_collection_is_seed_reproducible_and_keeps_final_observations(n_envs, workers):
    """One worker process per env (AsyncVectorEnv) and several envs per worker (GroupedVectorEnv)
    collect exactly what the same envs collect in this process."""
    from robot_cl.rl.vec import GroupedVectorEnv, make_vec_env, step_success, true_next_obs

    def collect(asynchronous: bool) -> list[np.ndarray]:
        envs = make_vec_env("press_button", n_envs, task_config={"max_steps": 6}, asynchronous=asynchronous, workers=workers)
        assert isinstance(envs, GroupedVectorEnv) == (asynchronous and workers is not None)
        rng = np.random.default_rng(0)
        obs, _ = envs.reset(seed=7)
        out = [obs]
        for _ in range(8):  # crosses the 6-step time limit: all envs reset in the same step
            nxt, rew, term, trunc, info = envs.step(rng.uniform(-1, 1, envs.action_space.shape).astype(np.float32))
            out += [true_next_obs(nxt, term, trunc, info), nxt, rew, step_success(info, term | trunc)]
            if trunc.any():
                assert trunc.all() and not np.allclose(out[-4], nxt)  # the final observation, not the reset one
        envs.close()
        return out

    a, b = collect(True), collect(False)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))  # worker processes == in-process, same seeds
    assert a[0].shape[0] == n_envs and not np.allclose(a[0][0], a[0][1])  # sub-envs get different seeds (7, 8, ...)


def test_a_failing_environment_worker_is_one_clear_error():
    from functools import partial

    from robot_cl import tasks
    from robot_cl.rl.vec import vectorise

    with pytest.raises(RuntimeError, match=r"environment worker failed: worker 0: SkillError: unknown skill 'no_such_skill'"):
        vectorise(partial(tasks.make_env, "no_such_skill"), 2, workers=1)


def test_merge_infos_concatenates_groups_and_fills_keys_a_group_lacks():
    from robot_cl.rl.vec import merge_infos

    a = {"success": np.array([True, False]), "_success": np.array([True, True])}
    b = {"final_obs": np.array([None, np.ones(2)], dtype=object), "_final_obs": np.array([False, True])}
    b["final_info"] = {"success": np.array([0, 1])}
    out = merge_infos([a, b], [2, 2])
    assert out["success"].tolist() == [True, False, False, False] and out["_success"].tolist() == [True, True, False, False]
    assert out["final_obs"][:3].tolist() == [None, None, None] and np.array_equal(out["final_obs"][3], np.ones(2))
    assert out["final_info"]["success"].tolist() == [0, 0, 0, 1]
    # an array-valued key (gymnasium stacks it as (n, *shape)) that one group lacks
    out = merge_infos([{"pos": np.ones((2, 3)), "_pos": np.array([True, True])}, {}], [2, 1])
    assert out["pos"].shape == (3, 3) and out["pos"][2].tolist() == [0, 0, 0] and out["_pos"].tolist() == [True, True, False]


# -- learner=sac in the runner ----------------------------------------------------------------------
def household_sac_policy(n_tasks: int = 2):
    from robot_cl.layout import ACT_DIM, OBS_DIM

    return sac_agent(OBS_DIM, ACT_DIM, n_tasks, hidden=[32, 32])[0]


def test_sac_learner_calls_every_strategy_hook_in_the_rl_loop():
    from functools import partial

    from robot_cl import tasks
    from robot_cl.learners import RLTask, make_learner
    from robot_cl.rl.agent import GROUP
    from robot_cl.strategies import Plugin

    calls: list[str] = []

    class Recorder(Plugin):
        name = "recorder"

        def training_data(self, learner, task, data):
            calls.append("training_data")
            assert len(data[GROUP]["obs"]) == 0  # an RL task starts with no rows of its own
            return data

        def before_training_task(self, learner, task, data):
            calls.append("before_training_task")

        def penalty(self, learner, batch):
            calls.append("loss")
            assert set(batch[GROUP]) >= {"obs", "act", "rew", "next_obs", "done", "task"}
            return None

        def after_backward(self, learner, batch):
            calls.append("after_backward")
            assert all(p.grad is not None for n, p in learner.named_parameters() if ".q1." in n or ".actor." in n)

        def after_update(self, learner):
            calls.append("after_update")

        def after_training_task(self, learner, task, data):
            calls.append("after_training_task")
            self.seen = data

    policy = household_sac_policy()
    policy.add_task(0)
    cfg = {**SAC_CFG, "start_steps": 20, "update_after": 40, "update_every": 20}
    rec = Recorder()
    learner = make_learner(cfg, policy, [rec], torch.device("cpu"))
    env = RLTask("press_button", partial(tasks.make_env, "press_button", None, {"max_steps": 25}))
    learner.train_task(0, env, 100, seed=0)
    updates = (100 - 40) // 20 * 20 + 20  # 20 updates at steps 40, 60, 80 and 100
    assert calls[:2] == ["training_data", "before_training_task"] and calls[-1] == "after_training_task"
    assert calls[2:-1] == ["loss", "after_backward", "after_update"] * updates
    assert learner.total_updates == updates and learner.env_steps == 100
    own = rec.seen[GROUP]
    assert len(own["obs"]) == 100 and set(own["episode"].tolist()) == {0, 1, 2, 3}  # 25-step episodes
    assert not own["done"].any()  # time limits are not terminal states


def tiny_sac(tmp_path, *extra: str) -> list[str]:
    """A 2-skill SAC run with tiny networks and budgets (``extra`` sets policy, strategy and steps)."""
    base = ["curriculum=mini", "learner=sac", "learner.hidden=[32,32]", "eval=quick", "eval.recovery.enabled=false"]
    return [*base, "workers=1", "threads=1", "progress=false", f"cache_dir={tmp_path / 'cache'}", *extra]


@pytest.mark.parametrize(
    "override, expected",
    [
        ("learner.workers=0", r"learner.workers must be null \(one per env\) or a positive integer, got 0"),
        ("learner.n_envs=two", r"learner.n_envs must be a positive integer, got 'two'"),
    ],
)
def test_bad_collection_settings_are_one_line_errors(tmp_path, override, expected):
    from robot_cl.cli import check_overrides
    from robot_cl.errors import ConfigError

    with pytest.raises(ConfigError, match=expected) as err:
        check_overrides(tiny_sac(tmp_path, override))
    assert "\n" not in str(err.value)


def test_sac_runs_a_curriculum_through_robot_cl(tmp_path):
    from robot_cl.cli import check_overrides
    from robot_cl.run import train

    args = tiny_sac(tmp_path, "policy=flat", "strategy=ewc", "learner.steps=200", "learner.start_steps=50", "learner.update_after=50")
    m = train(check_overrides(args), tmp_path / "run")
    assert m["run"]["learner"] == "sac" and m["demonstrations"] == {}
    assert np.asarray(m["success_matrix"]).shape == (2, 2) and m["memory_bytes"][0] > 0  # EWC's Fisher and anchor
    assert not (tmp_path / "cache" / "demos").exists()  # no expert needed
    log = (tmp_path / "run" / "log.csv").read_text()
    assert ",train," in log and "q_loss" in log and "alpha" in log


def test_evaluation_worker_processes_rebuild_rl_agents():
    """Spawned evaluation workers know the RL agents' policies (registered by robot_cl.learners)."""
    from robot_cl.evaluation import Evaluator

    policy = household_sac_policy()
    policy.add_task(0)
    with Evaluator(2, skill_configs={"press_button": {"max_steps": 10}}) as ev:
        assert ev.pool is not None
        out = ev.episodes(policy, "press_button", 0, [100, 101])
    assert [r["steps"] for r in out] == [10, 10]


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
    from policy_fixtures import HIER, make_policy

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

    args = tiny_sac(
        tmp_path,
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


RL_STRATEGIES = sorted(STRATEGIES)  # the whole registry


LEARNER_CFG = {
    "sac": {**SAC_CFG, "hidden": [16, 16], "buffer_size": 500, "start_steps": 10, "update_after": 20, "update_every": 20},
    "ppo": {**PPO_CFG, "hidden": [16, 16], "rollout": 20, "epochs": 2, "batch_size": 20},  # 2 epochs x 1 minibatch per 20-step rollout
}


@pytest.mark.parametrize("learner_name", ["sac", "ppo"])
@pytest.mark.parametrize("strategy", RL_STRATEGIES)
def test_every_strategy_trains_both_rl_learners_over_two_tasks(strategy, learner_name):
    """Each strategy's hooks run in the RL loop over a task change; PackNet keeps task 0's weights bit-identical."""
    from functools import partial

    from policy_fixtures import FLAT

    from robot_cl import tasks
    from robot_cl.cli import compose_overrides
    from robot_cl.layout import ACT_DIM, OBS_CENTER, OBS_DIM, OBS_SCALE
    from robot_cl.learners import LEARNERS, RLTask, make_learner
    from robot_cl.policies import MaskedLinear, build_policy
    from robot_cl.strategies import make_plugins

    lcfg = LEARNER_CFG[learner_name]
    pcfg = LEARNERS[learner_name].policy_config({**FLAT, "per_task_modules": strategy == "modular"}, lcfg)
    spec = {"cfg": pcfg, "obs_dim": OBS_DIM, "act_dim": ACT_DIM, "n_tasks": 2}
    torch.manual_seed(0)
    policy = build_policy({**spec, "obs_center": OBS_CENTER.tolist(), "obs_scale": OBS_SCALE.tolist(), "tasks_added": 0})
    settings = compose_overrides([f"strategy={strategy}"])["strategy"]["plugins"]
    if strategy == "packnet":
        settings["packnet"]["retrain_updates"] = 20
    if strategy == "progress_compress":
        settings["progress_compress"].update(compress_updates=10, fisher_samples=8)
    plugins = make_plugins(settings)
    learner = make_learner(LEARNER_CFG[learner_name], policy, plugins, torch.device("cpu"))
    for task, skill in enumerate(["press_button", "open_drawer"]):
        policy.add_task(task)
        learner.train_task(task, RLTask(skill, partial(tasks.make_env, skill, None, {"max_steps": 20})), 60, seed=task)
        if task == 0:
            layers = [m for m in policy.masked_layers]
            kept = [(m.weight.detach().clone(), m.owner == 0) for m in layers]
    # SAC: 20 updates at steps 20, 40 and 60 of each task; PPO: 3 rollouts x 2 epochs x 1 minibatch per task
    assert learner.total_updates == (2 * 60 if learner_name == "sac" else 2 * 6)
    if strategy == "packnet":
        assert any(mask.any() for _, mask in kept)
        for m, (w0, mask) in zip(layers, kept):
            assert torch.equal(m.weight.detach()[mask], w0[mask]) and isinstance(m, MaskedLinear)


def test_progress_compress_distils_the_trained_agent_into_the_restored_knowledge_base():
    """RL Progress & Compress: the environment loop trains the active column; after the task the knowledge
    base's parameters (the policy as it began the task) are put back and distilled from it: the policy ends
    close to the trained agent in its outputs (actions, both critics), with target critics re-synchronised
    and the task's entropy coefficient as the agent tuned it."""
    import copy
    from functools import partial

    from robot_cl import tasks
    from robot_cl.learners import RLTask, make_learner
    from robot_cl.strategies import Plugin
    from robot_cl.strategies.modular import ProgressCompress
    from robot_cl.strategies.regularization import distillation

    class Spy(Plugin):  # placed before P&C, its after_training_task sees the trained agent
        name = "spy"

        def after_training_task(self, learner, task, data):
            self.trained, self.data = copy.deepcopy(learner.policy), data

    torch.manual_seed(0)
    policy = household_sac_policy()
    policy.add_task(0)
    start = copy.deepcopy(policy)
    spy, pc = Spy(), ProgressCompress(compress_updates=300, fisher_samples=8)
    learner = make_learner(LEARNER_CFG["sac"], policy, [spy, pc], torch.device("cpu"))
    learner.train_task(0, RLTask("press_button", partial(tasks.make_env, "press_button", None, {"max_steps": 20})), 60, seed=0)
    trained, data = spy.trained, spy.data

    def gap(model) -> float:
        with torch.no_grad():
            return float(distillation(model.outputs(data), trained.outputs(data), 2.0))

    assert set(trained.outputs(data)["transitions"]) == {"action", "q1", "q2"}
    assert gap(policy) < 0.05 * gap(start)  # distilled: the knowledge base now behaves like the trained agent
    assert not torch.equal(policy.sac.actor.net.body[0].weight, trained.sac.actor.net.body[0].weight)  # yet its own weights
    sac = policy.sac
    for online, target in ((sac.q1, sac.q1_target), (sac.q2, sac.q2_target)):
        assert all(torch.equal(a, b) for a, b in zip(online.state_dict().values(), target.state_dict().values()))
    assert torch.equal(sac.log_alpha, trained.sac.log_alpha) and not torch.equal(sac.log_alpha, start.sac.log_alpha)


def test_ppo_learner_calls_the_hooks_per_minibatch_and_hands_over_whole_rollouts():
    from functools import partial

    from policy_fixtures import FLAT, make_policy

    from robot_cl import tasks
    from robot_cl.learners import LEARNERS, RLTask, make_learner
    from robot_cl.rl.ppo import GROUP
    from robot_cl.strategies import Plugin

    calls: list[str] = []

    class Recorder(Plugin):
        name = "recorder"

        def before_training_task(self, learner, task, data):
            calls.append("before_training_task")

        def penalty(self, learner, batch):
            calls.append("loss")
            assert set(batch[GROUP]) == {"obs", "act", "logp", "adv", "ret", "task", "episode"}
            return None

        def after_backward(self, learner, batch):
            calls.append("after_backward")
            assert all(p.grad is not None for n, p in learner.named_parameters() if n.startswith(("actor.body", "critic.body")))

        def after_update(self, learner):
            calls.append("after_update")

        def after_training_task(self, learner, task, data):
            calls.append("after_training_task")
            self.seen = data

    policy = make_policy(LEARNERS["ppo"].policy_config(FLAT, PPO_CFG), 2)
    policy.add_task(0)
    rec = Recorder()
    learner = make_learner(PPO_CFG, policy, [rec], torch.device("cpu"))
    env = RLTask("press_button", partial(tasks.make_env, "press_button", None, {"max_steps": 15}))
    learner.train_task(0, env, 60, seed=0)
    # 60 steps over 2 envs = 3 rollouts of 10 steps x 2 envs; 2 epochs of 2 minibatches of 10 each
    assert calls == ["before_training_task", *["loss", "after_backward", "after_update"] * 12, "after_training_task"]
    assert learner.total_updates == 12 and learner.env_steps == 60
    own = rec.seen[GROUP]
    assert len(own["obs"]) == 60 and torch.isfinite(own["adv"]).all()
    # 15-step episodes in 2 envs over 30 steps each: 4 whole episodes with distinct ids
    assert sorted(torch.unique(own["episode"]).tolist()) == [0, 1, 2, 3] and (own["episode"] < 2).sum() == 30


def test_ppo_improves_return_through_its_learner():
    """PPO's learner on a 1-D reach task (gymnasium env): the deterministic return rises within a few thousand steps."""
    import gymnasium as gym
    from policy_fixtures import FLAT

    from robot_cl.learners import LEARNERS, RLTask, make_learner
    from robot_cl.policies import build_policy
    from robot_cl.rl.ppo import PPOPolicy

    class PointEnv(gym.Env):
        observation_space = gym.spaces.Box(-1, 1, (1,), np.float32)
        action_space = gym.spaces.Box(-1, 1, (1,), np.float32)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.point = Point(0)
            self.point.rng = self.np_random
            return self.point.reset(), {}

        def step(self, a):
            obs, r, over = self.point.step(a)
            return obs, r, False, over, {}

    cfg = {**PPO_CFG, "n_envs": 2, "rollout": 100, "epochs": 10, "batch_size": 50, "lr": 3e-3}
    pcfg = LEARNERS["ppo"].policy_config({**FLAT, "per_task_modules": False}, cfg)
    torch.manual_seed(0)
    policy = build_policy({"cfg": pcfg, "obs_dim": 1, "act_dim": 1, "n_tasks": 1, "tasks_added": 1})
    assert isinstance(policy, PPOPolicy)

    def ret() -> float:
        env, total = Point(1), 0.0
        for _ in range(20):
            obs, done = env.reset(), False
            while not done:
                obs, r, done = env.step(policy.act(obs, 0))
                total += r
        return total / 20

    before = ret()
    make_learner(cfg, policy, [], torch.device("cpu")).train_task(0, RLTask("point", PointEnv), 4000, seed=0)
    after = ret()
    assert after > before + 1.0 and after > -2.0, (before, after)


def test_sac_collects_from_several_envs_reproducibly():
    """learner.n_envs=2: twice the transitions per vector step, the same buffer from the same seed
    whatever the worker processes (learner.workers)."""
    from functools import partial

    from robot_cl import tasks
    from robot_cl.learners import RLTask, make_learner
    from robot_cl.rl.agent import GROUP
    from robot_cl.strategies import Plugin

    class Keep(Plugin):
        name = "keep"

        def after_training_task(self, learner, task, data):
            self.seen = data

    def run(workers: int | None) -> dict[str, torch.Tensor]:
        policy = household_sac_policy()
        policy.add_task(0)
        keep = Keep()
        cfg = {**LEARNER_CFG["sac"], "buffer_size": 1000, "n_envs": 2, "workers": workers}
        learner = make_learner(cfg, policy, [keep], torch.device("cpu"))
        learner.train_task(0, RLTask("press_button", partial(tasks.make_env, "press_button", None, {"max_steps": 10})), 60, seed=3)
        assert learner.env_steps == 60 and learner.total_updates == 60
        return keep.seen[GROUP]

    a, b, c = run(None), run(None), run(1)  # one process per env twice; then one process stepping both
    assert all(torch.equal(a[k], b[k]) and torch.equal(a[k], c[k]) for k in a)
    assert len(a["obs"]) == 60 and sorted(torch.unique(a["episode"]).tolist()) == list(range(6))  # 10-step episodes, 2 envs


def test_ppo_runs_a_curriculum_in_primitive_space(tmp_path):
    from robot_cl.cli import check_overrides
    from robot_cl.run import train

    args = [
        "curriculum=mini", "learner=ppo", "learner.hidden=[16,16]", "learner.steps=16", "learner.rollout=4",
        "learner.asynchronous=false", "learner.primitive_env.max_calls=3", "policy=hierarchical", "strategy=l2",
        "eval=quick", "eval.recovery.enabled=false", "workers=1", "threads=1", "progress=false", f"cache_dir={tmp_path / 'cache'}",
    ]  # fmt: skip
    m = train(check_overrides(args), tmp_path / "run")
    assert m["run"]["learner"] == "ppo" and m["run"]["policy"] == "hierarchical"
    assert np.asarray(m["success_matrix"]).shape == (2, 2) and m["memory_bytes"][0] > 0  # L2's anchor
    log = (tmp_path / "run" / "log.csv").read_text()
    assert "pg_loss" in log and "clipfrac" in log


def test_episode_stats_read_a_finished_episodes_last_success_from_final_info():
    """With SAME_STEP autoreset the step's info of an ended env is the reset's; its last step is in final_info."""
    from robot_cl.learners.rl import EpisodeStats

    stats = EpisodeStats(2)
    no, yes = np.array([False, False]), np.array([True, False])
    ids = stats.step(np.array([1.0, 2.0]), no, no, {"success": no})
    assert ids.tolist() == [0, 1] and stats.returns == []
    ids = stats.step(np.array([3.0, 4.0]), no, yes, {"success": no, "final_info": {"success": yes}})
    assert ids.tolist() == [0, 1] and stats.returns == [4.0] and stats.successes == [1.0]
    assert stats.ids.tolist() == [2, 1] and stats.summary() == {"episode_return": 4.0, "episode_success": 1.0}


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
