"""The PyBullet backend (``sim=household_pybullet``): the same scene, observation layout and success
predicates as MuJoCo, the scripted experts succeed, episodes are deterministic, shifts change what they
name and only it, per-backend Gymnasium ids, ``skill@backend`` tasks, and one-line errors."""

import re

import gymnasium as gym
import numpy as np
import pybullet as pb
import pytest

import robot_cl
from robot_cl.errors import ConfigError, SkillError
from robot_cl.layout import ACT_DIM, GOAL, OBS_DIM, SLOT1, TCP
from robot_cl.sim import shift
from robot_cl.sim.backend import SceneQueries
from robot_cl.sim.env import HouseholdEnv
from robot_cl.skills import get_skill
from robot_cl.tasks import run_expert

PB = {"backend": "pybullet"}
DEFAULT_SIX = ["press_button", "open_drawer", "close_drawer", "turn_knob", "open_cabinet", "pick_place_cube_in_bowl"]


def both(skill: str, **kw):
    return HouseholdEnv(skill, **kw), HouseholdEnv(skill, sim_config=PB, **kw)


def test_the_pybullet_scene_answers_every_scene_query():
    env = HouseholdEnv("open_drawer", sim_config=PB)
    queries = [n for n in dir(SceneQueries) if not n.startswith("_")] + list(SceneQueries.__annotations__)
    missing = [q for q in queries if not hasattr(env.scene, q)]
    assert not missing
    assert env.scene.element_names() == HouseholdEnv("open_drawer").scene.element_names()  # the same scene description
    env.close()


@pytest.mark.parametrize("skill", ["open_drawer", "pick_place_cube_in_bowl", "push_mug_to_target"])
def test_same_seed_same_initial_state_and_observation_layout_on_both_engines(skill):
    mj, pyb = both(skill)
    for seed in (0, 5):
        a, b = mj.reset(seed=seed)[0], pyb.reset(seed=seed)[0]
        assert a.shape == b.shape == (OBS_DIM,)
        assert np.allclose(a, b, atol=2e-4), np.abs(a - b).max()  # tool, entities (pos, quat, state), goal
        for env, obs in ((mj, a), (pyb, b)):  # the slots mean the same on either engine
            assert np.allclose(obs[TCP], env.scene.tcp, atol=1e-6)
            name = env.skill.observe[0]
            where = env.cfg["entities"][name]["pos"].partition(":")[2]  # e.g. site:drawer_handle
            assert np.allclose(obs[SLOT1.start : SLOT1.start + 3], env.scene.pos(where), atol=1e-5)
            assert np.allclose(obs[GOAL], env.scene.goal, atol=1e-6)
    mj.close()
    pyb.close()


def test_a_scripted_trajectory_moves_the_tool_alike_on_both_engines():
    mj, pyb = both("press_button")
    actions = [np.array([0.6, 0.4, -0.5, 0.3, -1.0])] * 30 + [np.array([-0.3, 0.0, 0.4, -0.5, 1.0])] * 30
    paths = []
    for env in (mj, pyb):
        env.reset(seed=2)
        paths.append(np.array([env.step(a)[0][TCP] for a in actions]))
    moved = np.linalg.norm(paths[0][-1] - paths[0][0])
    assert moved > 0.1
    assert np.abs(paths[0] - paths[1]).max() < 0.05  # same action semantics: within a few centimetres over 60 steps
    assert pyb.scene.opening < 0.1 and mj.scene.opening < 0.1  # grip +1 closes on both


def test_the_success_predicates_agree_on_written_states():
    mj, pyb = both("open_drawer")
    for value, expected in ((0.0, False), (0.16, True)):
        for env in (mj, pyb):
            env.reset(seed=1)
            env.scene.set_joint("drawer_slide", value)
            env.scene.forward()
            assert env.skill.success(env.scene) is expected
    mj, pyb = both("pick_place_cube_in_bowl")
    verdicts = []
    for env in (mj, pyb):
        env.reset(seed=1)
        bowl = env.scene.pos("bowl")
        env.scene.place("cube", bowl[:2])
        env.scene.forward()
        for _ in range(25):  # the cube drops into the bowl and settles
            info = env.step(np.array([0.0, 0.0, 0.0, 0.0, -1.0]))[-1]
        verdicts.append(info["success"])
    assert verdicts == [True, True]


@pytest.mark.parametrize("skill", DEFAULT_SIX)
def test_the_scripted_expert_succeeds_on_pybullet(skill):
    env = HouseholdEnv(skill, sim_config=PB)
    assert sum(run_expert(env, seed).success for seed in range(3)) == 3
    env.close()


def test_pybullet_episodes_are_deterministic_for_a_seed():
    env = HouseholdEnv("pick_place_cube_in_bowl", sim_config=PB)
    actions = np.random.default_rng(3).uniform(-1, 1, size=(30, ACT_DIM))

    def rollout(seed):
        obs = [env.reset(seed=seed)[0]]
        obs += [env.step(a)[0] for a in actions]
        return np.stack(obs)

    first = rollout(4)
    rollout(9)  # another episode in between: nothing carries over
    assert np.array_equal(first, rollout(4))
    other = HouseholdEnv("pick_place_cube_in_bowl", sim_config=PB)  # a fresh client gives the same episode
    env = other
    assert np.array_equal(first, rollout(4))
    other.close()


def snapshot(env) -> dict[str, np.ndarray]:
    """The PyBullet parameters shifts may touch: friction, mass and inertia of every link, object sizes, servo gain."""
    be, sc = env.backend, env.scene
    links = [(p.uid, p.link) for p in sc.world.parts.values()] + [(sc.robot, i) for i in sc.robot_links.values()]
    info = [pb.getDynamicsInfo(u, li, physicsClientId=be.c) for u, li in links]
    sizes = [pb.getCollisionShapeData(sc.world.parts[n].uid, -1, physicsClientId=be.c)[0][3] for n in sc.world.free]
    return {
        "friction": np.array([i[1] for i in info]),
        "mass": np.array([i[0] for i in info]),
        "inertia": np.array([i[2] for i in info]),
        "size": np.array(sizes),
        "gain": np.array([be.servo_gain]),
    }


CHANGES = {"friction": {"friction"}, "mass": {"mass", "inertia"}, "size": {"size", "inertia"}, "gain": {"gain"}}


@pytest.mark.parametrize("key", list(CHANGES))
def test_each_shift_changes_on_pybullet_what_it_names_and_only_it(key):
    base_env = HouseholdEnv("pick_place_cube_in_bowl", sim_config=PB)
    base_env.reset(seed=0)
    base = snapshot(base_env)
    env = HouseholdEnv("pick_place_cube_in_bowl", sim_config={**PB, "shift": {key: 2.0}})
    env.reset(seed=0)
    shifted = snapshot(env)
    changed = {f for f in base if not np.allclose(base[f], shifted[f])}
    assert changed == CHANGES[key] or (key == "size" and changed == {"size"}), changed
    if key == "friction":  # PyBullet multiplies two surfaces' coefficients: each gets sqrt(2), a contact 2x
        assert np.allclose(shifted["friction"], base["friction"] * np.sqrt(2.0))
    if key == "size":
        assert np.allclose(shifted["size"], 2 * base["size"])
        cube = env.scene.world.parts["cube"]
        assert pb.getDynamicsInfo(cube.uid, -1, physicsClientId=env.backend.c)[0] == pytest.approx(cube.mass)  # same mass
    env.backend.apply_shift(dict(shift.NEUTRAL))  # back to neutral: exactly the unshifted parameters
    assert all(np.allclose(base[f], snapshot(env)[f]) for f in base)


def test_gymnasium_ids_per_backend_and_skill_at_backend_names():
    robot_cl.register_envs()
    assert gym.make("robot_cl/OpenDrawer-pybullet-v0").unwrapped.backend.name == "pybullet"
    assert gym.make("robot_cl/OpenDrawer-v0").unwrapped.backend.name == "mujoco"
    env = robot_cl.make("open_drawer@pybullet", sim_config={"fixture_jitter": 0.0})
    assert env.unwrapped.backend.name == "pybullet" and env.unwrapped.cfg["fixture_jitter"] == 0.0
    frame = env.unwrapped.render_frame()
    assert frame.shape == (240, 320, 3) and frame.std() > 10  # TinyRenderer draws the kitchen


def test_named_sim_to_sim_shift_sets_the_backend():
    sim = {"backend": "mujoco", "shift": {"mass": 1.0}, "shifts": {"to_pybullet": {"backend": "pybullet"}}}
    assert shift.named(sim, ["to_pybullet"]) == {"to_pybullet": {"backend": "pybullet"}}
    out = shift.shifted_sim(sim, {"backend": "pybullet", "gain": 0.5})
    assert out["backend"] == "pybullet" and out["shift"] == {"mass": 1.0, "gain": 0.5} and sim["backend"] == "mujoco"


def test_a_scene_geom_pybullet_cannot_convert_is_one_line(tmp_path):
    from robot_cl.paths import data_path

    text = data_path("sims/household/scene.xml").read_text()
    odd = '<geom name="egg" type="ellipsoid" size="0.02 0.03 0.04"/>\n      <geom name="button_housing"'
    (tmp_path / "scene.xml").write_text(text.replace('<geom name="button_housing"', odd, 1))
    line = "scene geom 'egg' of body 'button_base' has type ellipsoid; the PyBullet backend converts: box"
    with pytest.raises(ConfigError, match=re.escape(line)):
        HouseholdEnv("press_button", sim_config={**PB, "scene": str(tmp_path / "scene.xml")})


def test_bad_backends_and_missing_scene_queries_are_one_line():
    with pytest.raises(ConfigError, match=re.escape("unknown simulator backend 'bullet'; valid: mujoco, pybullet")):
        HouseholdEnv("open_drawer", sim_config={"backend": "bullet"})
    with pytest.raises(ConfigError, match=re.escape("unknown simulator backend 'ode' in task 'open_drawer@ode'")):
        robot_cl.make("open_drawer@ode")
    with pytest.raises(ConfigError, match=re.escape("sim.shifts.x.backend: unknown simulator backend 'ode'")):
        shift.named({"shifts": {"x": {"backend": "ode"}}}, ["x"])

    needs_force = type("NeedsForce", (get_skill("press_button"),), {"queries": ("contact_force",)})  # an extra scene query
    with pytest.raises(
        SkillError, match=r"uses scene query 'contact_force', which the pybullet backend does not provide; valid: .*grasping"
    ):
        HouseholdEnv(needs_force(), sim_config=PB)


def test_a_curriculum_can_continue_a_skill_on_the_other_engine(tmp_path):
    from robot_cl.cli import check_overrides
    from robot_cl.run import train

    overrides = ["curriculum.skills=[press_button,press_button@pybullet]", "curriculum.demos=4", "eval=quick"]
    overrides += ["eval.recovery.enabled=false", "learner.updates=40", "learner.batch_size=32", "progress=false", "workers=1"]
    cfg = check_overrides([*overrides, f"cache_dir={tmp_path / 'cache'}"])
    metrics = train(cfg, tmp_path / "run", say=lambda *_: None)
    assert metrics["tasks"] == ["press_button", "press_button@pybullet"]
    demos = sorted((tmp_path / "cache" / "demos").glob("*.npz"))
    assert [p.name.split("-")[0] for p in demos] == ["press_button", "press_button@pybullet"]
    a, b = (np.load(p, allow_pickle=False) for p in demos)
    key = next(k for k in a.files if a[k].dtype.kind == "f" and a[k].ndim == 2)
    assert a[key].shape[1] == b[key].shape[1] and not np.array_equal(a[key], b[key])  # each engine's own demonstrations
    assert len(metrics["success_matrix"]) == 2 and len(metrics["success_matrix"][1]) == 2
