"""Both RL learners in the runner: every strategy's hooks in the SAC and PPO loops, collection settings,
evaluation workers, and curricula through ``robot-cl``.
"""

import numpy as np
import pytest
import torch

from robot_cl.strategies import STRATEGIES
from robot_cl.testing import FLAT, PointTask, household_sac_policy, learner_config, make_policy, rl_run_args

# learner=ppo's settings (configs/learner/ppo.yaml) with tiny networks and rollouts
PPO_CFG = learner_config("ppo", steps=60, asynchronous=False, rollout=10, epochs=2, batch_size=10, hidden=[32, 32], keep_rows=1000)


SAC_CFG = learner_config("sac", hidden=[32, 32], batch_size=16, buffer_size=1000)


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


@pytest.mark.parametrize(
    "override, expected",
    [
        ("learner.workers=0", r"learner.workers must be null \(one per env\) or a positive integer, got 0"),
        ("learner.n_envs=two", r"learner.n_envs must be an integer \(default 1\), got 'two'"),
    ],
)
def test_bad_collection_settings_are_one_line_errors(tmp_path, override, expected):
    from robot_cl.cli import check_overrides
    from robot_cl.errors import ConfigError

    with pytest.raises(ConfigError, match=expected) as err:
        check_overrides(rl_run_args(tmp_path / "cache", override))
    assert "\n" not in str(err.value)


def test_sac_runs_a_curriculum_through_robot_cl(tmp_path):
    from robot_cl.cli import check_overrides
    from robot_cl.run import train

    args = rl_run_args(
        tmp_path / "cache", "policy=flat", "strategy=ewc", "learner.steps=200", "learner.start_steps=50", "learner.update_after=50"
    )
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


RL_STRATEGIES = sorted(n for n, c in STRATEGIES.items() if not c.needs_demos)  # the registry (lamaml: BC only, refused)


LEARNER_CFG = {
    "sac": {**SAC_CFG, "hidden": [16, 16], "buffer_size": 500, "start_steps": 10, "update_after": 20, "update_every": 20},
    "ppo": {**PPO_CFG, "hidden": [16, 16], "rollout": 20, "epochs": 2, "batch_size": 20},  # 2 epochs x 1 minibatch per 20-step rollout
}


@pytest.mark.parametrize("learner_name", ["sac", "ppo"])
@pytest.mark.parametrize("strategy", RL_STRATEGIES)
def test_every_strategy_trains_both_rl_learners_over_two_tasks(strategy, learner_name):
    """Each strategy's hooks run in the RL loop over a task change; PackNet keeps task 0's weights bit-identical."""
    from functools import partial

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

    from robot_cl.learners import LEARNERS, RLTask, make_learner
    from robot_cl.policies import build_policy
    from robot_cl.rl.ppo import PPOPolicy

    class PointEnv(gym.Env):
        observation_space = gym.spaces.Box(-1, 1, (1,), np.float32)
        action_space = gym.spaces.Box(-1, 1, (1,), np.float32)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.point = PointTask(0)
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
        env, total = PointTask(1), 0.0
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
