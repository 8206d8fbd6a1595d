"""Robot model, Cartesian controller and scene queries."""

import math

import mujoco
import numpy as np
import pytest

import robot_cl
from robot_cl.primitives import Grasp, Reach, Release
from robot_cl.sim.cartesian import down_rotation, rotation_error, yaw_of
from robot_cl.sim.mujoco.panda import ARM_JOINTS, GAZ_INERTIA, parse_urdf, urdf_path


def test_panda_is_built_from_the_urdf_kinematics():
    _, joints = parse_urdf(urdf_path())
    env = robot_cl.make("press_button").unwrapped
    m = env.backend.model
    for j in joints:
        if j.name in ARM_JOINTS:
            assert np.allclose(m.joint(j.name).range, j.limits)  # Franka's published joint limits
            assert np.allclose(m.body(j.child).pos, j.xyz)  # link offsets from the URDF
    assert m.body("panda_link1").mass[0] == pytest.approx(GAZ_INERTIA["panda_link1"][0])
    # Arm actuated by joint servos, not moved kinematically: no mocap bodies, no weld constraints.
    assert m.nmocap == 0 and not np.any(m.eq_type == mujoco.mjtEq.mjEQ_WELD)
    assert {m.actuator(i).name for i in range(m.nu)} >= {f"act_{j}" for j in ARM_JOINTS} | {"act_gripper"}


def test_rotation_error_matches_the_cross_product_definition():
    rng = np.random.default_rng(0)
    for _ in range(20):
        q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        q[:, 0] *= np.sign(np.linalg.det(q))
        yaw = rng.uniform(-3, 3)
        des = down_rotation(yaw)
        expected = 0.5 * sum(np.cross(q[:, i], des[:, i]) for i in range(3))
        assert np.allclose(rotation_error(q.reshape(9), yaw), expected)
    assert np.allclose(rotation_error(down_rotation(0.7).reshape(9), 0.7), 0.0)
    assert yaw_of(down_rotation(0.7).reshape(9)) == pytest.approx(0.7)


def test_gripper_stays_pointing_down_while_moving():
    env = robot_cl.make("press_button").unwrapped
    env.reset(seed=0)
    rng = np.random.default_rng(1)
    for _ in range(60):
        env.step(rng.uniform(-1, 1, 5))
        z_axis = env.backend.data.site_xmat[env.scene.tcp_site].reshape(3, 3)[:, 2]
        assert z_axis[2] < -0.97  # within about 14 degrees of vertical


def test_blocked_hand_pushes_with_bounded_force():
    """Pressing down into the counter: the controller does not wind up (delta semantics)."""
    env = robot_cl.make("press_button").unwrapped
    env.reset(seed=0)
    for _ in range(80):
        env.step(np.array([0, 0, -1, 0, 1.0]))
    f = np.zeros(6)
    total = 0.0
    counter = env.backend.model.geom("counter").id
    for i in range(env.backend.data.ncon):
        c = env.backend.data.contact[i]
        if counter in (c.geom1, c.geom2) and "panda" in env.backend.model.geom(c.geom1).name + env.backend.model.geom(c.geom2).name:
            mujoco.mj_contactForce(env.backend.model, env.backend.data, i, f)
            total += f[0]
    assert 0 < total < 400  # in contact, with a force a Panda can exert (not an exploding constraint)
    assert env.scene.tcp[2] > -0.01  # not driven through the counter


def test_grasp_detection_and_held_object_follows_the_hand():
    env = robot_cl.make("pick_place_cube_in_bowl")
    base = env.unwrapped
    obs, _ = env.reset(seed=0)
    from robot_cl.primitives import Lift, PrimitiveRunner

    runner = PrimitiveRunner(env, base.end_effector, obs)
    s = base.scene
    cube = s.pos("cube")
    runner.run(Reach(*(cube + [0, 0, 0.08]), 0.0))
    runner.run(Reach(*cube, 0.0))
    assert not s.grasping("cube")
    assert runner.run(Grasp()).achieved
    assert s.grasping("cube") and s.touching("cube", "panda_leftfinger") and s.robot_touching("cube")
    runner.run(Lift(0.1))
    assert s.pos("cube")[2] > 0.1 and s.grasping("cube")
    assert runner.run(Release()).achieved
    for _ in range(25):
        env.step(np.zeros(5))
    assert not s.grasping("cube") and s.pos("cube")[2] < 0.03  # dropped back to the counter


def test_contact_queries_refresh_after_each_step():
    env = robot_cl.make("press_button").unwrapped
    env.reset(seed=0)
    assert not env.scene.robot_touching("button")
    top = env.scene.pos("button_top")
    for _ in range(60):
        tcp = env.scene.tcp
        d = np.clip((top + [0, 0, 0.003] - tcp) / 0.012, -1, 1)
        env.step(np.array([*d, 0, 1.0]))
        if env.scene.robot_touching("button"):
            break
    assert env.scene.robot_touching("button")


def test_entity_slots_in_observation():
    env = robot_cl.make("pick_place_cube_in_bowl")
    obs, _ = env.reset(seed=4)
    s = env.unwrapped.scene
    assert np.allclose(obs[9:12], s.pos("cube"), atol=1e-6)
    assert np.allclose(obs[17:20], s.pos("bowl"), atol=1e-6)
    assert np.allclose(obs[12:16], s.quat("cube"), atol=1e-6)
    assert np.allclose(obs[25:28], s.pos("bowl"), atol=1e-6)  # goal = bowl position
    env2 = robot_cl.make("open_drawer")
    obs2, _ = env2.reset(seed=4)
    assert obs2[16] == pytest.approx(env2.unwrapped.scene.joint("drawer_slide"), abs=1e-6)
    assert np.all(obs2[17:25] == 0.0)  # one entity observed: the second slot is empty
    assert obs2[3] ** 2 + obs2[4] ** 2 == pytest.approx(1.0, abs=1e-5)
    assert math.isfinite(float(obs2[5])) and 0.0 <= obs2[5] <= 1.0


def test_skills_see_joint_velocities_and_what_the_robot_touches():
    """The open-drawer expert pulls the handle: the slide moves (velocity) while the robot holds the drawer."""
    from robot_cl.tasks import run_expert

    env = robot_cl.make("open_drawer")
    scene, seen = env.unwrapped.scene, []
    trace = run_expert(env, seed=0, on_step=lambda *a: seen.append((scene.joint_velocity("drawer_slide"), scene.robot_contacts())))
    assert trace.success
    speeds = [abs(v) for v, _ in seen]
    assert max(speeds) > 0.01 and speeds[0] < 1e-6  # at rest at the start, moving while pulled
    touched = {b for _, bodies in seen for b in bodies}
    assert "drawer" in touched and all(not b.startswith("panda") for b in touched)  # scene bodies, not the robot's own
    assert seen[0][1] == []  # nothing touched before the first motion
