"""SAC's and PPO's pieces against hand computations (network layout, squashed log-probabilities, target
critics, entropy tuning, categorical heads, the clipped objective, GAE), learning on a trivial task,
and vectorised collection.
"""

import math

import numpy as np
import pytest
import torch

from robot_cl.rl.ppo import clipped_surrogate, gae
from robot_cl.rl.sac import CWMLP, SAC, ReplayBuffer
from robot_cl.testing import (
    PointTask,
    sac_agent,
    sac_batch,
    sac_config,
)

SMALL = sac_config(hidden=(32, 32))


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
    step(learner, sac_batch(sac))
    for p, pt, old in zip(sac.q1.parameters(), sac.q1_target.parameters(), before):
        assert torch.allclose(pt, 0.9 * old + 0.1 * p, atol=1e-7)
    assert not all(torch.equal(pt, old) for pt, old in zip(sac.q1_target.parameters(), before))


def test_entropy_tuning_moves_each_tasks_alpha_toward_its_target():
    torch.manual_seed(0)
    policy, learner = sac_agent(3, 2, 2, hidden=[32, 32])
    sac = policy.sac
    with torch.no_grad():  # task 0's policy: nearly deterministic, far below the target entropy -2
        sac.actor.net.heads[0].bias[2:] = -10.0
    step(learner, sac_batch(sac, task=0))
    assert sac.log_alpha[0] > 0 and sac.log_alpha[1] == 0  # alpha grows for task 0 only
    high, learner = sac_agent(3, 2, 1, hidden=[32, 32], target_entropy=-50.0)  # entropy far above this target
    step(learner, sac_batch(high.sac))
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
    step(learner, sac_batch(low))
    assert low.log_alpha_d[0] > 0
    high, learner = sac_agent(3, 4 + 2, 1, discrete=(4,), hidden=[32, 32], discrete_target_entropy=0.0)
    step(learner, sac_batch(high.sac))  # a fresh head is near uniform: entropy ~log 4, above the target 0
    assert high.sac.log_alpha_d[0] < 0
    flat, learner = sac_agent(3, 2, 1, hidden=[32, 32])  # without categorical heads the coefficient is never trained
    step(learner, sac_batch(flat.sac))
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


def episode_return(policy, env: PointTask, episodes: int = 20) -> float:
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
    env, rng, buf = PointTask(0), np.random.default_rng(0), ReplayBuffer(10_000, 1, 1)
    before = episode_return(policy, PointTask(1))
    obs = env.reset()
    for t in range(1500):
        a = rng.uniform(-1, 1, 1).astype(np.float32) if t < 200 else policy.explore(obs[None], 0)[0]
        nxt, r, over = env.step(a)
        buf.add(obs, a, r, nxt, False, 0)  # time limit only: never a true termination
        obs = env.reset() if over else nxt
        if t >= 200:
            step(learner, buf.sample(64, rng))
    after = episode_return(policy, PointTask(1))
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
