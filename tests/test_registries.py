"""One registry shape: every registry looks names up with a one-line error listing the valid ones, takes
new entries through ``register``, and every entry of every registry works."""

import numpy as np
import pytest
import torch

import robot_cl
from robot_cl.cli import compose_overrides
from robot_cl.errors import RobotCLError
from robot_cl.learners import LEARNERS, make_learner
from robot_cl.policies import POLICIES, build_policy
from robot_cl.primitives import PRIMITIVES, make_primitive
from robot_cl.registry import Registry
from robot_cl.sim import BACKENDS
from robot_cl.sim.env import default_config
from robot_cl.skills import SKILLS, load_skills
from robot_cl.stages import new_policy
from robot_cl.strategies import STRATEGIES, make_plugins
from robot_cl.tasks import TASK_SUITES
from robot_cl.testing import learner_config

load_skills()
REGISTRIES = {
    "skill": SKILLS,
    "primitive": PRIMITIVES,
    "strategy": STRATEGIES,
    "policy": POLICIES,
    "learner": LEARNERS,
    "task suite": TASK_SUITES,
    "simulator backend": BACKENDS,
}


@pytest.mark.parametrize("kind", sorted(REGISTRIES))
def test_an_unknown_name_is_one_line_listing_the_valid_ones(kind):
    registry = REGISTRIES[kind]
    assert isinstance(registry, Registry) and registry.kind == kind and len(registry) > 0
    with pytest.raises(RobotCLError) as err:
        registry["no_such_entry"]
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"unknown {kind} 'no_such_entry'; valid: ")
    assert msg.endswith(", ".join(sorted(registry)))


def test_register_is_a_decorator_that_names_entries_by_their_name():
    reg = Registry("widget")

    @reg.register
    class Gear:
        name = "gear"

    reg.register(Gear, name="cog")  # one object under a second name
    assert reg["gear"] is Gear and reg["cog"] is Gear and reg.names() == ["cog", "gear"]
    with pytest.raises(RobotCLError, match="needs a `name`"):
        reg.register(object())


@pytest.mark.parametrize("name", sorted(load_skills()))
def test_every_skill_makes_an_env_that_resets_and_steps(name):
    env = robot_cl.make(name)
    obs, info = env.reset(seed=0)
    obs, reward, _terminated, _truncated, info = env.step(np.zeros(5, dtype=np.float32))
    assert obs.shape == (29,) and 0.0 <= reward <= 1.0 and isinstance(info["success"], bool)


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_every_primitive_builds_from_a_parameter_vector(name):
    prim = make_primitive(name, np.zeros(8))
    assert type(prim) is PRIMITIVES[name] and len(prim.params) == len(PRIMITIVES[name].param_names)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_composes_from_its_constructor_and_builds(name):
    cfg = compose_overrides([f"strategy={name}"])["strategy"]["plugins"]
    (plugin,) = make_plugins(cfg)
    assert type(plugin) is STRATEGIES[name] and plugin.params == cfg[name]
    assert plugin.state_dict() is not None and plugin.memory_bytes() == 0  # nothing stored before a task


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_every_policy_builds_from_its_configs_and_acts(name):
    learner = {"flat": "bc", "hierarchical": "bc"}.get(name, name.split("_")[0])
    policy_name = name.split("_")[-1]
    cfg = compose_overrides([f"policy={policy_name}", f"learner={learner}"])
    policy = new_policy(cfg, 2, torch.device("cpu"), seed=0)
    assert type(policy) is POLICIES[name] and policy.cfg["name"] == name
    rebuilt = build_policy(policy.spec())
    rebuilt.load_state_dict(policy.state_dict())
    obs = torch.zeros(3, 29)
    out = policy(obs, torch.zeros(3, dtype=torch.long))
    again = rebuilt(obs, torch.zeros(3, dtype=torch.long))
    for a, b in zip(out if isinstance(out, tuple) else (out,), again if isinstance(again, tuple) else (again,)):
        assert torch.equal(a, b)


@pytest.mark.parametrize("name", sorted(LEARNERS))
def test_every_learner_builds_from_its_config_and_round_trips_its_state(name):
    lcfg = learner_config(name)
    policy = new_policy(compose_overrides([f"learner={name}"]), 2, torch.device("cpu"), seed=0)
    learner = make_learner(lcfg, policy, [], torch.device("cpu"))
    assert type(learner) is LEARNERS[name] and learner.budget_key in lcfg
    state = learner.state_dict()
    again = make_learner(lcfg, policy, [], torch.device("cpu"))
    again.load_state_dict(state)
    assert again.total_updates == learner.total_updates


@pytest.mark.parametrize("name", sorted(TASK_SUITES))
def test_every_task_suite_fills_in_a_task(name):
    from robot_cl import tasks

    cur = {"skills": ["t"], "task_defaults": {"suite": name}, "tasks": {"t": {"kwargs": {"task": "push-v3"}}}}
    spec = tasks.task_configs(cur)["t"]
    assert tasks.is_external(spec) and spec["suite"] == name and spec["primitive_expert"]


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_every_backend_runs_the_kitchen(name):
    from robot_cl.sim.env import HouseholdEnv

    env = HouseholdEnv("press_button", sim_config={"backend": name}, width=64, height=48)
    env.reset(seed=0)
    env.step(np.zeros(5, dtype=np.float32))
    assert env.backend.name == name and set(env.backend.cameras()) >= {default_config()["render"]["camera"]}
    assert env.render_frame().shape == (48, 64, 3)
