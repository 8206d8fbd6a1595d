"""The household Gymnasium environments: API conformance, seeding, determinism, rendering."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import robot_cl
from robot_cl.errors import ConfigError, SkillError
from robot_cl.layout import ACT_DIM, OBS_DIM
from robot_cl.sim.env import HouseholdEnv
from robot_cl.sim.mujoco import scene as scene_module

SKILLS = robot_cl.list_skills()


def test_at_least_ten_skills_with_registered_env_ids():
    assert len(SKILLS) >= 10
    for name in SKILLS:
        assert robot_cl.env_id(name) in gym.registry


@pytest.mark.filterwarnings("ignore:.*infinity")  # unbounded observation space (positions, velocities) is intended
@pytest.mark.parametrize("skill", SKILLS)
def test_check_env_passes(skill):
    env = HouseholdEnv(skill)
    check_env(env, skip_render_check=True)
    env.close()


@pytest.mark.parametrize("skill", SKILLS)
def test_same_seed_same_actions_bit_identical_observations(skill):
    env = robot_cl.make(skill)
    actions = np.random.default_rng(7).uniform(-1, 1, size=(40, ACT_DIM)).astype(np.float32)

    def rollout(seed):
        obs, _ = env.reset(seed=seed)
        seq = [obs]
        for a in actions:
            seq.append(env.step(a)[0])
        return np.stack(seq)

    first, second = rollout(11), rollout(11)
    assert first.dtype == np.float32 and first.shape == (41, OBS_DIM)
    assert np.array_equal(first, second)  # bit-identical, resets included
    assert not np.array_equal(first[0], rollout(12)[0])  # another seed, another initial state
    env.close()


def test_fixtures_and_objects_are_randomised_by_several_centimetres():
    env = robot_cl.make("pick_place_cube_in_bowl").unwrapped
    drawers, cubes = [], []
    for seed in range(20):
        env.reset(seed=seed)
        drawers.append(env.scene.pos("drawer_unit")[:2])
        cubes.append(env.scene.pos("cube")[:2])
    drawers, cubes = np.array(drawers), np.array(cubes)
    jitter = env.cfg["fixture_jitter"]
    assert np.all(np.ptp(drawers, axis=0) > jitter)  # moved by several cm ...
    assert np.all(np.abs(drawers - np.array([0.80, -0.32])) <= jitter + 1e-9)  # ... within the configured range
    assert np.all(np.ptp(cubes, axis=0) > 0.05)


def test_unused_objects_wait_at_their_homes():
    env = robot_cl.make("press_button").unwrapped
    env.reset(seed=3)
    for name, spec in env.cfg["objects"].items():
        assert np.allclose(env.scene.pos(name)[:2], spec["home"], atol=1e-3)


def test_model_is_compiled_once_per_env(monkeypatch):
    calls = []
    real = scene_module.build_model
    monkeypatch.setattr(scene_module, "build_model", lambda cfg: calls.append(1) or real(cfg))
    env = HouseholdEnv("open_drawer")
    model = env.backend.model
    for seed in range(3):
        env.reset(seed=seed)
        env.step(env.action_space.sample())
    assert len(calls) == 1 and env.backend.model is model


def test_success_is_reported_in_info_and_reward_is_dense():
    env = robot_cl.make("open_drawer")
    _, info = env.reset(seed=0)
    assert info["success"] is False
    rewards = []
    for _ in range(5):
        _, r, terminated, truncated, info = env.step(np.zeros(ACT_DIM, dtype=np.float32))
        rewards.append(r)
        assert isinstance(info["success"], bool) and not terminated and not truncated
    assert all(0.0 <= r < 1.0 for r in rewards)


def test_episode_truncates_at_the_skill_step_limit():
    env = robot_cl.make("press_button", skill_config={"max_steps": 7})
    env.reset(seed=0)
    flags = [env.step(np.zeros(ACT_DIM, dtype=np.float32))[3] for _ in range(7)]
    assert flags == [False] * 6 + [True]


def test_actions_move_the_tool_in_cartesian_space():
    env = robot_cl.make("press_button")
    obs, _ = env.reset(seed=0)
    for axis in range(3):
        a = np.zeros(ACT_DIM, dtype=np.float32)
        a[axis] = -1.0 if axis == 2 else 1.0
        start = obs[:3].copy()
        for _ in range(10):
            obs, *_ = env.step(a)
        moved = obs[:3] - start
        assert abs(moved[axis]) > 0.05  # about 10 x 12 mm commanded
        assert np.abs(np.delete(moved, axis)).max() < 0.25 * abs(moved[axis])  # mostly along the commanded axis
    yaw0 = np.arctan2(obs[3], obs[4])
    for _ in range(10):
        obs, *_ = env.step(np.array([0, 0, 0, 1, 0], dtype=np.float32))
    assert np.arctan2(obs[3], obs[4]) - yaw0 > 0.4
    for _ in range(15):
        obs, *_ = env.step(np.array([0, 0, 0, 0, 1], dtype=np.float32))
    assert obs[5] < 0.05  # closed gripper
    for _ in range(15):
        obs, *_ = env.step(np.array([0, 0, 0, 0, -1], dtype=np.float32))
    assert obs[5] > 0.95  # open gripper


def test_arm_stays_within_joint_limits_under_random_actions():
    env = robot_cl.make("open_cabinet").unwrapped
    env.reset(seed=1)
    rng = np.random.default_rng(0)
    ctl = env.backend.controller
    for _ in range(150):
        env.step(rng.uniform(-1, 1, ACT_DIM))
        q = env.backend.data.qpos[ctl.qadr]
        assert np.all(q >= ctl.q_lo - 0.05) and np.all(q <= ctl.q_hi + 0.05)
        assert np.all(np.isfinite(env.backend.data.qpos))


@pytest.mark.parametrize("action", [np.zeros(3), np.array([0, 0, 0, np.nan, 0])])
def test_malformed_actions_are_rejected(action):
    env = robot_cl.make("press_button")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action must be 5 finite numbers"):
        env.step(action)


@pytest.mark.parametrize("skill", SKILLS)
def test_rendered_frame_is_not_blank(skill):
    env = robot_cl.make(skill, render_mode="rgb_array", width=160, height=120)
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (120, 160, 3) and frame.dtype == np.uint8
    assert frame.std() > 20  # real scene content, not a flat colour
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 200
    env.close()


def test_render_follows_the_robot():
    env = robot_cl.make("press_button", render_mode="rgb_array", width=160, height=120)
    env.reset(seed=0)
    before = env.render().astype(int)
    for _ in range(15):
        env.step(np.array([0, 0.8, -1, 0, 0], dtype=np.float32))
    assert np.abs(env.render().astype(int) - before).mean() > 1.0


def test_render_mode_none_returns_nothing():
    env = robot_cl.make("press_button")
    env.reset(seed=0)
    assert env.render() is None


def test_clear_errors_for_bad_names():
    with pytest.raises(SkillError, match=r"unknown skill 'open_fridge'; valid: .*open_drawer"):
        robot_cl.make("open_fridge")
    with pytest.raises(ConfigError, match=r"unknown camera 'ceiling'; valid: .*front"):
        HouseholdEnv("press_button", camera="ceiling")
    with pytest.raises(ConfigError, match=r"unknown render_mode 'human'"):
        HouseholdEnv("press_button", render_mode="human")
    with pytest.raises(ConfigError, match=r"unknown sim key 'frameskip'; valid: .*frame_skip"):
        HouseholdEnv("press_button", sim_config={"frameskip": 5})
    with pytest.raises(ConfigError, match=r"unknown skill press_button key 'steps'; valid: .*max_steps"):
        HouseholdEnv("press_button", skill_config={"steps": 5})


def test_sim_config_overrides_apply():
    env = HouseholdEnv("press_button", sim_config={"frame_skip": 5, "controller": {"pos_step": 0.006}})
    assert env.backend.frame_skip == 5 and env.backend.controller.pos_step == 0.006
    assert env.metadata["render_fps"] == 100
