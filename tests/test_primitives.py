"""Motion primitives, runner and programs, checked without any simulator.

A point-mass "tool" stands in for the robot: its position integrates the commanded Cartesian step
(optionally with a lag, i.e. imperfect tracking), its yaw integrates the yaw command, and its gripper
opening moves toward the commanded opening at a limited rate but cannot close below the width of an
object held between the fingers. Box limits on the position play the part of floors and walls.
"""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from robot_cl.errors import ConfigError
from robot_cl.primitives import (
    CLOSED,
    OPEN,
    PRIMITIVES,
    EEState,
    Grasp,
    Lift,
    Pick,
    Press,
    Primitive,
    PrimitiveResult,
    PrimitiveRunner,
    Pull,
    Push,
    Reach,
    Release,
    Rotate,
    make_primitive,
)
from robot_cl.primitives.core import toward
from robot_cl.programs import grasp_at, grip_yaw, pick

INF = math.inf


# -- fakes -----------------------------------------------------------------------------------------
class PointMassEnv:
    """Gymnasium-like point-mass tool. Observation: ``[x, y, z, yaw, opening]``; reward 1 per step.

    * ``lag`` < 1 makes the tool cover only part of each commanded step.
    * ``lower`` / ``upper`` clip the position (a floor is ``lower=(-INF, -INF, z0)``, a wall ``upper=(x0, INF, INF)``).
    * ``object_width`` > 0 puts an object between the fingers: the opening cannot go below it. With
      ``object_pos`` set, the object is only between the fingers when the tool is within ``capture``
      of it; once the closed fingers are stopped by it, it is held and moves with the tool until the
      gripper is commanded open.
    * ``success(env)`` feeds ``info["success"]``; the episode truncates after ``max_steps`` steps.
    """

    def __init__(
        self,
        pos=(0.0, 0.0, 0.2),
        yaw: float = 0.0,
        opening: float = 1.0,
        pos_step: float = 0.01,
        yaw_step: float = 0.05,
        lag: float = 1.0,
        grip_rate: float = 0.2,
        object_width: float = 0.0,
        object_pos=None,
        capture: float = 0.015,
        lower=(-INF, -INF, -INF),
        upper=(INF, INF, INF),
        success: Callable[[PointMassEnv], bool] | None = None,
        max_steps: int = 1000,
    ) -> None:
        self.pos = np.array(pos, dtype=float)
        self.yaw, self.opening = float(yaw), float(opening)
        self.pos_step, self.yaw_step, self.lag, self.grip_rate = pos_step, yaw_step, lag, grip_rate
        self.object_width, self.capture = object_width, capture
        self.object_pos = None if object_pos is None else np.array(object_pos, dtype=float)
        self.holding = False
        self.lower, self.upper = np.array(lower, dtype=float), np.array(upper, dtype=float)
        self.success = success or (lambda env: False)
        self.max_steps, self.t = max_steps, 0

    def obs(self) -> np.ndarray:
        return np.array([*self.pos, self.yaw, self.opening])

    def between_fingers(self) -> bool:
        if self.object_width <= 0:
            return False
        return self.object_pos is None or self.holding or np.linalg.norm(self.pos - self.object_pos) <= self.capture

    def step(self, action):
        a = np.clip(np.asarray(action, dtype=float), -1.0, 1.0)
        self.pos = np.clip(self.pos + self.lag * a[:3] * self.pos_step, self.lower, self.upper)
        self.yaw += self.lag * a[3] * self.yaw_step
        target = (1.0 - a[4]) / 2.0
        self.opening += float(np.clip(target - self.opening, -self.grip_rate, self.grip_rate))
        if self.between_fingers():
            blocked = self.opening <= self.object_width
            self.opening = max(self.opening, self.object_width)
            if self.object_pos is not None:
                self.holding = (self.holding or blocked) and a[4] > 0
                if self.holding:
                    self.object_pos = self.pos.copy()
        self.t += 1
        info = {"success": bool(self.success(self))}
        return self.obs(), 1.0, False, self.t >= self.max_steps, info


@dataclass
class FakeEE:
    """EndEffector adapter for :class:`PointMassEnv` (no clipping: the env sees the commands as given)."""

    pos_step: float = 0.01
    yaw_step: float = 0.05
    gain: float = 0.5
    pos_tolerance: float = 0.005
    yaw_tolerance: float = 0.05
    stall_steps: int = 8
    tip_offset: float = 0.0

    def state(self, obs: np.ndarray) -> EEState:
        return EEState(np.array(obs[:3], dtype=float), float(obs[3]), float(obs[4]))

    def action(self, cmd) -> np.ndarray:
        return np.array([*cmd.dpos, cmd.dyaw, cmd.grip], dtype=float)


# -- helpers ---------------------------------------------------------------------------------------
def make_runner(ee: FakeEE | None = None, **env_kwargs) -> tuple[PrimitiveRunner, PointMassEnv, FakeEE]:
    ee = ee or FakeEE()
    env_kwargs.setdefault("pos_step", ee.pos_step)
    env_kwargs.setdefault("yaw_step", ee.yaw_step)
    env = PointMassEnv(**env_kwargs)
    return PrimitiveRunner(env, ee, env.obs()), env, ee


def call_actions(runner: PrimitiveRunner, i: int) -> np.ndarray:
    """Raw actions of the ``i``-th call, shape (steps, 5)."""
    start = runner.trace.call_start[i]
    return np.array(runner.trace.actions[start : start + runner.trace.calls[i].steps]).reshape(-1, 5)


def state(pos=(0.0, 0.0, 0.0), yaw: float = 0.0, opening: float = 1.0) -> EEState:
    return EEState(np.array(pos, dtype=float), yaw, opening)


def collect(program, out: dict):
    """Wrap a sub-program so the runner can drive it; its return value lands in ``out["ok"]``."""
    out["ok"] = yield from program


# -- 1-3: reach, stall, budget -----------------------------------------------------------------------
@pytest.mark.parametrize("lag", [1.0, 0.7])
def test_reach_converges_to_position_and_yaw(lag):
    runner, env, ee = make_runner(lag=lag, pos=(0.0, 0.0, 0.2), yaw=0.1)
    prim = Reach(0.15, -0.1, 0.05, 0.8)
    res = runner.run(prim)
    assert res.achieved and res.name == "reach" and res.params == (0.15, -0.1, 0.05, 0.8)
    assert np.linalg.norm(env.pos - [0.15, -0.1, 0.05]) <= ee.pos_tolerance
    assert abs(env.yaw - 0.8) <= ee.yaw_tolerance
    assert 10 < res.steps < prim.max_steps // 3
    assert not prim.stalled() and not res.episode_over
    assert res.reward == pytest.approx(res.steps)  # 1 per step in the fake env
    actions = np.array(runner.trace.actions)
    assert np.abs(actions[:, :4]).max() <= 1.0 + 1e-9


def test_reach_across_the_yaw_wrap_takes_the_short_way():
    runner, env, ee = make_runner(yaw=math.pi - 0.1)
    res = runner.run(Reach(0.0, 0.0, 0.2, -math.pi + 0.1))  # 0.2 rad away, not 2 pi - 0.2
    assert res.achieved and res.steps < 15
    assert abs(env.yaw - (math.pi + 0.1)) <= ee.yaw_tolerance


def test_reach_ignores_yaw_when_the_arm_cannot_turn():
    ee = FakeEE(yaw_step=0.0)
    runner, env, _ = make_runner(ee, yaw_step=0.05, yaw=0.3)  # the env could turn; the adapter says it cannot
    res = runner.run(Reach(0.05, 0.0, 0.2, 2.0))
    assert res.achieved
    assert env.yaw == 0.3
    assert np.all(np.array(runner.trace.actions)[:, 3] == 0.0)
    # The same target with a yaw-capable arm needs many more steps (the yaw dominates).
    runner2, _, _ = make_runner(yaw=0.3)
    assert runner2.run(Reach(0.05, 0.0, 0.2, 2.0)).steps > res.steps + 10


def test_reach_behind_an_obstacle_stops_by_stall_detection():
    runner, env, ee = make_runner(lag=0.8, upper=(0.1, INF, INF))  # a wall at x = 0.1
    prim = Reach(0.3, 0.0, 0.2, 0.0)
    res = runner.run(prim)
    assert not res.achieved
    assert env.pos[0] == pytest.approx(0.1)
    assert prim.stalled()
    assert ee.stall_steps <= res.steps < prim.max_steps
    # It stopped within stall_steps (+1 for the step that hit the wall) of reaching the wall.
    first_at_wall = next(i for i, o in enumerate(runner.trace.obs + [env.obs()]) if o[0] >= 0.1 - 1e-12)
    assert res.steps <= first_at_wall + ee.stall_steps + 1


def test_budget_stops_after_exactly_budget_steps():
    runner, env, _ = make_runner()
    prim = Reach(100.0, 0.0, 0.0, 0.0, budget=3)
    res = runner.run(prim)
    assert res.steps == 3 and len(runner.trace.actions) == 3
    assert not res.achieved and not prim.stalled()
    assert env.pos[0] == pytest.approx(0.03)


def test_default_budgets_and_budget_override():
    assert Reach(0, 0, 0, 0).max_steps == Reach.budget == 120
    assert Reach(0, 0, 0, 0, budget=7).max_steps == 7
    runner, _, _ = make_runner()
    assert runner.run(Reach(100.0, 0.0, 0.0, 0.0)).steps == Reach.budget


# -- 4: grasp / release ----------------------------------------------------------------------------
def test_grasp_achieved_when_an_object_blocks_the_fingers():
    runner, env, _ = make_runner(object_width=0.4)
    start = env.pos.copy()
    prim = Grasp()
    res = runner.run(prim)
    assert res.achieved and res.name == "grasp" and res.params == ()
    assert env.opening == pytest.approx(0.4)
    assert res.steps < prim.max_steps  # it settled, it did not wait out its budget
    assert np.allclose(env.pos, start)
    assert np.all(call_actions(runner, 0)[:, 4] == CLOSED)


def test_grasp_not_achieved_when_closing_on_nothing():
    runner, env, _ = make_runner(object_width=0.0)
    prim = Grasp()
    res = runner.run(prim)
    assert not res.achieved
    assert env.opening == pytest.approx(0.0)
    assert res.steps < prim.max_steps


def test_release_opens_and_reports_achieved():
    runner, env, _ = make_runner(opening=0.0)
    res = runner.run(Release())
    assert res.achieved and res.steps > 0
    assert env.opening >= 0.97
    assert np.all(call_actions(runner, 0)[:, 4] == OPEN)


def test_release_not_achieved_when_the_gripper_cannot_open():
    runner, _, _ = make_runner(opening=0.0, grip_rate=0.01)  # too slow to open within the budget
    prim = Release()
    res = runner.run(prim)
    assert not res.achieved and res.steps == prim.max_steps


# -- 5: grip state carried between primitives ------------------------------------------------------
def test_grip_command_carries_over_between_primitives():
    runner, _, _ = make_runner(object_width=0.3)
    program = [
        Reach(0.0, 0.0, 0.15, 0.0),  # 0: initial command is open
        Grasp(),  # 1
        Reach(0.05, 0.0, 0.15, 0.0),  # 2: keeps closed
        Lift(0.05),  # 3
        Pull(0.0, 0.05, 0.0),  # 4
        Release(),  # 5
        Reach(0.0, 0.0, 0.15, 0.0),  # 6: keeps open
        Lift(0.02),  # 7
        Push(0.05, 0.0),  # 8: always closed
        Release(),  # 9
        Press(0.0, 0.0, 0.1, 0.01),  # 10: always closed
        Reach(0.0, 0.0, 0.2, 0.0),  # 11: carries Press's closed command
    ]
    expected = [OPEN, CLOSED, CLOSED, CLOSED, CLOSED, OPEN, OPEN, OPEN, CLOSED, OPEN, CLOSED, CLOSED]
    for prim in program:
        runner.run(prim)
    for i, grip in enumerate(expected):
        acts = call_actions(runner, i)
        assert len(acts) > 0, runner.trace.calls[i]
        assert np.all(acts[:, 4] == grip), (i, runner.trace.calls[i].name)


@pytest.mark.parametrize("cls, params", [(Push, (0.05, 0.0)), (Press, (0.0, 0.0, 0.15, 0.02))])
def test_push_and_press_command_closed_even_after_release(cls, params):
    runner, _, _ = make_runner(opening=0.0)
    runner.run(Release())
    assert runner.grip == OPEN
    res = runner.run(cls(*params))
    assert res.steps > 0
    assert np.all(call_actions(runner, 1)[:, 4] == CLOSED)
    assert runner.grip == CLOSED


def test_release_that_finishes_at_once_still_sets_the_grip_open():
    # A slow gripper: a short Press (commanded closed) ends before the fingers have moved much.
    runner, env, _ = make_runner(grip_rate=0.01, pos=(0.0, 0.0, 0.12))
    runner.run(Press(0.0, 0.0, 0.12, 0.01))
    assert runner.grip == CLOSED and env.opening >= 0.97
    assert runner.run(Release()).steps == 0  # the gripper already reads open
    runner.run(Reach(0.05, 0.0, 0.12, 0.0))
    assert np.all(call_actions(runner, 2)[:, 4] == OPEN)


# -- 6: relative motions ---------------------------------------------------------------------------
def test_lift_raises_by_height_from_its_start():
    runner, env, ee = make_runner(lag=0.8, pos=(0.05, -0.02, 0.1), yaw=0.4)
    res = runner.run(Lift(0.07))
    assert res.achieved
    assert env.pos == pytest.approx([0.05, -0.02, 0.17], abs=ee.pos_tolerance)
    assert env.yaw == pytest.approx(0.4)


def test_push_moves_by_its_displacement_from_its_start():
    runner, env, ee = make_runner(pos=(0.0, 0.0, 0.2))
    runner.run(Reach(0.1, 0.05, 0.1, 0.0))
    start = env.pos.copy()
    res = runner.run(Push(0.06, -0.08))
    assert res.achieved
    assert np.linalg.norm(env.pos - (start + [0.06, -0.08, 0.0])) <= ee.pos_tolerance
    assert abs(env.pos[2] - start[2]) < 1e-3


def test_pull_moves_by_its_displacement_from_its_start():
    runner, env, ee = make_runner(pos=(0.0, 0.0, 0.2), lag=0.8)
    runner.run(Reach(-0.1, 0.05, 0.1, 0.0))
    start = env.pos.copy()
    res = runner.run(Pull(0.05, 0.03, 0.04))
    assert res.achieved and res.params == (0.05, 0.03, 0.04)
    assert np.linalg.norm(env.pos - (start + [0.05, 0.03, 0.04])) <= ee.pos_tolerance


@pytest.mark.parametrize("wall_fraction, achieved", [(0.85, True), (0.5, False)])
def test_push_achieved_when_most_of_the_displacement_was_covered(wall_fraction, achieved):
    runner, env, _ = make_runner(pos=(0.0, 0.0, 0.1), upper=(0.1 * wall_fraction, INF, INF))
    prim = Push(0.1, 0.0)
    res = runner.run(prim)
    assert env.pos[0] == pytest.approx(0.1 * wall_fraction)
    assert prim.stalled() and res.steps < prim.max_steps
    assert not prim.reached(runner.ee.state(env.obs()))
    assert res.achieved is achieved


def test_pull_not_achieved_when_moving_the_wrong_way():
    # Blocked straight away: nothing of the displacement is covered.
    runner, env, _ = make_runner(pos=(0.0, 0.0, 0.1), lower=(-INF, -INF, 0.1))
    res = runner.run(Pull(0.0, 0.0, -0.1))
    assert not res.achieved and env.pos[2] == pytest.approx(0.1)


@pytest.mark.parametrize("lag", [1.0, 0.7])
def test_rotate_turns_by_angle_and_holds_position(lag):
    runner, env, ee = make_runner(lag=lag, pos=(0.03, 0.04, 0.15), yaw=0.3)
    res = runner.run(Rotate(0.6))
    assert res.achieved
    assert abs(env.yaw - 0.9) <= ee.yaw_tolerance + 1e-9
    assert np.allclose(env.pos, [0.03, 0.04, 0.15])
    runner.run(Rotate(-1.0))
    assert abs(env.yaw - (0.9 - 1.0)) <= ee.yaw_tolerance + 0.05  # tolerances of both calls


# -- 7: press --------------------------------------------------------------------------------------
def test_press_targets_the_fingertips_depth_below_the_surface():
    ee = FakeEE(tip_offset=0.03)
    runner, env, _ = make_runner(ee, pos=(0.02, 0.01, 0.2))
    prim = Press(0.05, -0.02, 0.1, 0.04)
    res = runner.run(prim)
    assert prim.goal_pos == pytest.approx([0.05, -0.02, 0.1 + 0.03 - 0.04])
    assert res.achieved
    assert np.linalg.norm(env.pos - [0.05, -0.02, 0.09]) <= ee.pos_tolerance


@pytest.mark.parametrize("fraction, achieved", [(0.7, True), (0.2, False)])
def test_press_achieved_when_the_button_bottoms_out_deep_enough(fraction, achieved):
    ee = FakeEE(tip_offset=0.03)
    z, depth = 0.1, 0.04
    stop = z + ee.tip_offset - fraction * depth  # the tool centre cannot go lower than this
    runner, env, _ = make_runner(ee, pos=(0.0, 0.0, 0.2), lower=(-INF, -INF, stop))
    prim = Press(0.0, 0.0, z, depth)
    res = runner.run(prim)
    assert env.pos[2] == pytest.approx(stop)
    assert prim.stalled() and res.steps < prim.max_steps
    assert res.achieved is achieved


# -- 8: toward and speed ---------------------------------------------------------------------------
def test_toward_preserves_direction_and_caps_at_speed():
    ee = FakeEE(gain=0.5, pos_step=0.01)
    goal = np.array([0.3, -0.1, 0.05])
    for speed in (1.0, 0.5, 0.2):
        d, dyaw = toward(ee, state(), goal, None, speed)
        assert np.abs(d).max() == pytest.approx(speed)
        assert d / np.linalg.norm(d) == pytest.approx(goal / np.linalg.norm(goal))
        assert dyaw == 0.0
    # Close to the goal the command is proportional and not capped.
    d, _ = toward(ee, state(pos=(0.1, 0.1, 0.1)), [0.104, 0.098, 0.1], None, 1.0)
    assert d == pytest.approx([0.2, -0.1, 0.0])


def test_toward_yaw_command():
    ee = FakeEE(gain=0.5, yaw_step=0.05)
    _, dyaw = toward(ee, state(yaw=0.0), np.zeros(3), 0.02)
    assert dyaw == pytest.approx(0.2)
    _, dyaw = toward(ee, state(yaw=0.0), np.zeros(3), -2.0)
    assert dyaw == -1.0
    _, dyaw = toward(ee, state(yaw=math.pi - 0.1), np.zeros(3), -math.pi + 0.1)  # short way round: +0.2 rad
    assert dyaw == 1.0
    _, dyaw = toward(FakeEE(yaw_step=0.0), state(yaw=0.0), np.zeros(3), 1.0)
    assert dyaw == 0.0


def test_push_and_press_move_at_half_speed():
    assert Push.speed == 0.5 and Press.speed == 0.5 and Reach.speed == 1.0
    runner, _, _ = make_runner(pos=(0.0, 0.0, 0.3))
    runner.run(Push(0.2, 0.1))
    runner.run(Press(0.2, 0.1, 0.0, 0.01))
    runner.run(Reach(0.0, 0.0, 0.3, 0.0))
    push, press, reach = (call_actions(runner, i) for i in range(3))
    assert push[0, :3] == pytest.approx([0.5, 0.25, 0.0])
    assert press[0, 2] == pytest.approx(-0.5) and np.abs(press[0, :2]).max() < 0.01
    assert np.abs(push[:, :3]).max() <= 0.5 + 1e-9 and np.abs(press[:, :3]).max() <= 0.5 + 1e-9
    assert np.abs(reach[0, :3]).max() == pytest.approx(1.0)


# -- 9: runner and trace ---------------------------------------------------------------------------
def test_run_program_feeds_results_back_and_records_the_trace():
    runner, env, _ = make_runner(object_width=0.3, lag=0.9)
    received = []

    def program():
        r = yield Reach(0.05, 0.0, 0.1, 0.2)
        received.append(r)
        r = yield Grasp()
        received.append(r)
        if r.achieved:
            r = yield Lift(0.05)
            received.append(r)

    trace = runner.run_program(program())
    assert trace is runner.trace
    assert [c.name for c in trace.calls] == ["reach", "grasp", "lift"]
    assert [c.params for c in trace.calls] == [(0.05, 0.0, 0.1, 0.2), (), (0.05,)]
    assert all(isinstance(r, PrimitiveResult) for r in received)
    assert [r.name for r in received] == ["reach", "grasp", "lift"]
    assert all(r is c for r, c in zip(received, trace.calls))
    assert all(c.achieved for c in trace.calls)

    steps = [c.steps for c in trace.calls]
    assert all(s > 0 for s in steps)
    assert sum(steps) == len(trace.actions) == len(trace.obs) == len(trace.rewards) == len(trace.successes)
    assert trace.call_start == [0, steps[0], steps[0] + steps[1]]
    assert len(trace.call_obs) == 3
    for i, start in enumerate(trace.call_start):
        assert np.array_equal(trace.call_obs[i], trace.obs[start])
    # Trace.obs holds the observation *before* each step: replaying the actions reproduces it.
    replay = PointMassEnv(lag=0.9, object_width=0.3)
    for o, a in zip(trace.obs, trace.actions):
        assert np.allclose(o, replay.obs())
        replay.step(a)
    assert np.allclose(replay.obs(), env.obs())
    assert sum(trace.rewards) == pytest.approx(sum(c.reward for c in trace.calls))


def test_run_program_stops_when_the_episode_truncates_mid_primitive():
    runner, _, _ = make_runner(max_steps=10)
    received, closed = [], []

    def program():
        try:
            received.append((yield Reach(1.0, 0.0, 0.2, 0.0)))
            received.append((yield Reach(0.0, 0.0, 0.2, 0.0)))
        finally:
            closed.append(True)

    trace = runner.run_program(program())
    assert len(trace.calls) == 1
    assert trace.calls[0].episode_over and not trace.calls[0].achieved
    assert trace.calls[0].steps == 10 == len(trace.actions)
    assert runner.done
    assert received == []  # the program was not resumed after the episode ended
    assert closed == [True]  # ... but it was closed
    # Once done, further primitives take no steps.
    res = runner.run(Reach(0.0, 0.0, 0.0, 0.0))
    assert res.steps == 0 and res.episode_over and len(trace.actions) == 10


@pytest.mark.parametrize("stop_on_success", [True, False])
def test_run_program_stop_on_success(stop_on_success):
    runner, _, _ = make_runner(pos=(0.0, 0.0, 0.2), success=lambda env: env.pos[0] > 0.1)
    received = []

    def program():
        for x in (0.05, 0.2, 0.0, 0.3):
            received.append((yield Reach(x, 0.0, 0.2, 0.0)))

    trace = runner.run_program(program(), stop_on_success=stop_on_success)
    succ = [c.success for c in trace.calls]
    if stop_on_success:
        assert succ == [False, True]
        assert [r.name for r in received] == ["reach"]  # the second result was not sent back
        # The successful primitive ran to its own end, past the first successful step.
        assert trace.calls[1].achieved
        assert trace.successes.index(True) < len(trace.successes) - 1
    else:
        assert succ == [False, True, True, True]  # Reach(0.0, ...) starts beyond x = 0.1
        assert len(received) == 4
    assert trace.success


def test_success_recorded_per_step_and_in_results():
    runner, _, _ = make_runner(pos=(0.0, 0.0, 0.2), success=lambda env: env.t == 3)
    res = runner.run(Reach(0.1, 0.0, 0.2, 0.0))
    assert res.success
    assert runner.trace.successes[:4] == [False, False, True, False]
    res = runner.run(Reach(0.0, 0.0, 0.2, 0.0))
    assert not res.success and runner.trace.success


def test_on_step_callback_sees_every_step():
    env = PointMassEnv()
    seen = []
    runner = PrimitiveRunner(env, FakeEE(), env.obs(), on_step=lambda o, a, r, i: seen.append((o, a, r, i)))
    runner.run(Lift(0.05))
    assert len(seen) == len(runner.trace.actions) > 0
    assert all(np.array_equal(a, b) for (_, a, _, _), b in zip(seen, runner.trace.actions))


def test_custom_success_key():
    env = PointMassEnv(success=lambda env: True)
    runner = PrimitiveRunner(env, FakeEE(), env.obs(), success_key="is_success")
    assert not runner.run(Lift(0.05)).success


# -- 10: programs ----------------------------------------------------------------------------------
class Locator:
    """``locate()`` that answers from a list of positions (the last one repeats) and counts its calls."""

    def __init__(self, *positions, yaw: float = 0.0) -> None:
        self.positions, self.yaw, self.calls = [np.array(p, dtype=float) for p in positions], yaw, 0

    def __call__(self):
        pos = self.positions[min(self.calls, len(self.positions) - 1)]
        self.calls += 1
        return pos, self.yaw


def test_grasp_at_retries_from_a_fresh_locate_after_a_failed_grasp():
    obj = (0.1, 0.05, 0.02)
    runner, env, _ = make_runner(pos=(0.0, 0.0, 0.2), object_width=0.3, object_pos=obj)
    locate = Locator((0.1, -0.05, 0.02), obj, yaw=0.3)  # first look is wrong
    out = {}
    trace = runner.run_program(collect(grasp_at(locate, approach=0.08), out))
    assert out["ok"] is True
    assert locate.calls == 2
    names = [c.name for c in trace.calls]
    assert names == ["release", "reach", "reach", "grasp", "release", "lift"] + ["release", "reach", "reach", "grasp"]
    assert [c.achieved for c in trace.calls if c.name == "grasp"] == [False, True]
    assert trace.calls[1].params == pytest.approx((0.1, -0.05, 0.1, 0.3))  # approach from above
    assert trace.calls[-2].params == pytest.approx((*obj, 0.3))
    assert env.holding


def test_grasp_at_gives_up_after_attempts():
    runner, _, _ = make_runner(pos=(0.0, 0.0, 0.2))  # nothing to grasp
    locate = Locator((0.1, 0.0, 0.05))
    out = {}
    trace = runner.run_program(collect(grasp_at(locate, attempts=2), out))
    assert out["ok"] is False
    assert locate.calls == 2
    assert [c.name for c in trace.calls].count("grasp") == 2
    assert trace.calls[-1].name == "lift"


def test_pick_lifts_after_a_successful_grasp():
    obj = (0.05, 0.05, 0.05)
    runner, env, ee = make_runner(pos=(0.0, 0.0, 0.2), object_width=0.3, object_pos=obj)
    out = {}
    trace = runner.run_program(collect(pick(Locator(obj), lift=0.1), out))
    assert out["ok"] is True
    assert [c.name for c in trace.calls][-2:] == ["grasp", "lift"]
    assert trace.calls[-1].params == (0.1,) and trace.calls[-1].achieved
    assert np.all(call_actions(runner, len(trace.calls) - 1)[:, 4] == CLOSED)
    assert env.object_pos == pytest.approx([0.05, 0.05, 0.15], abs=ee.pos_tolerance)
    assert env.opening == pytest.approx(0.3)


def test_pick_returns_false_without_the_final_lift_when_grasping_fails():
    runner, _, _ = make_runner(pos=(0.0, 0.0, 0.2))
    out = {}
    trace = runner.run_program(collect(pick(Locator((0.05, 0.0, 0.05)), lift=0.1, approach=0.08, attempts=1), out))
    assert out["ok"] is False
    assert [c.name for c in trace.calls] == ["release", "reach", "reach", "grasp", "release", "lift"]
    assert trace.calls[-1].params == (0.08,)  # the retreat, not Lift(0.1)


def test_pick_primitive_opens_comes_down_grasps_and_lifts_in_one_call():
    obj = (0.05, 0.05, 0.05)
    runner, env, ee = make_runner(pos=(0.0, 0.0, 0.2), opening=0.0, object_width=0.3, object_pos=obj)
    res = runner.run(Pick(*obj, 0.4))
    assert len(runner.trace.calls) == 1 and res.name == "pick" and res.achieved
    grips = call_actions(runner, 0)[:, 4]
    # Opens first (the gripper started closed), closes on the object, keeps it closed for the lift.
    assert grips[0] == OPEN and grips[-1] == CLOSED
    assert np.all(np.diff(grips) >= 0)  # one open -> closed switch, never back
    assert env.holding and env.opening == pytest.approx(0.3)
    assert env.object_pos == pytest.approx([0.05, 0.05, 0.05 + Pick.lift], abs=ee.pos_tolerance)
    assert env.yaw == pytest.approx(0.4, abs=ee.yaw_tolerance)
    # It came down from above: at no step below the object before closing, and once above the approach height.
    xyz = np.array(runner.trace.obs)[:, :3]
    assert xyz[:, 2].min() >= obj[2] - ee.pos_tolerance
    assert np.any(np.linalg.norm(xyz - [0.05, 0.05, 0.05 + Pick.approach], axis=1) <= ee.pos_tolerance)
    assert runner.grip == CLOSED  # the held object stays held for the next primitive
    assert make_primitive("pick", [0.1, 0.2, 0.3, 0.4, 9.9]).params == (0.1, 0.2, 0.3, 0.4)


def test_pick_primitive_not_achieved_on_nothing_and_stops_within_its_budget():
    runner, env, _ = make_runner(pos=(0.0, 0.0, 0.2))
    prim = Pick(0.05, 0.0, 0.05, 0.0)
    res = runner.run(prim)
    assert not res.achieved and env.opening == pytest.approx(0.0)
    assert res.steps < prim.max_steps == sum(PRIMITIVES[n].budget for n in ("release", "reach", "reach", "grasp", "lift"))
    assert env.pos == pytest.approx([0.05, 0.0, 0.05 + Pick.lift], abs=0.005)


@pytest.mark.parametrize("period", [math.pi, math.pi / 2, 2 * math.pi])
def test_grip_yaw_range_and_equivalence(period):
    for yaw in np.linspace(-3 * math.pi, 3 * math.pi, 97).tolist() + [period / 2, -period / 2, 0.0, 5 * period / 2]:
        g = grip_yaw(yaw, period)
        assert -period / 2 - 1e-12 <= g < period / 2
        k = (yaw - g) / period
        assert k == pytest.approx(round(k), abs=1e-9)
    assert grip_yaw(period / 2, period) == pytest.approx(-period / 2)
    assert grip_yaw(0.3, period) == pytest.approx(0.3)
    assert grip_yaw(0.3 + 3 * period, period) == pytest.approx(0.3)


# -- 11: registry ----------------------------------------------------------------------------------
def test_make_primitive_by_name():
    assert set(PRIMITIVES) == {"reach", "grasp", "release", "lift", "push", "pull", "rotate", "press", "pick"}
    prim = make_primitive("reach", [0.1, 0.2, 0.3, 0.4, 9.0, 9.0])
    assert type(prim) is Reach and prim.params == (0.1, 0.2, 0.3, 0.4)
    assert type(make_primitive("grasp", np.array([1.0, 2.0]))) is Grasp
    prim = make_primitive("push", np.array([0.01, -0.02, 0.5]))
    assert type(prim) is Push and prim.params == (0.01, -0.02)
    for name, cls in PRIMITIVES.items():
        assert isinstance(make_primitive(name, np.zeros(6)), cls) and cls.name == name
        assert issubclass(cls, Primitive)


def test_make_primitive_unknown_name():
    with pytest.raises(ConfigError) as exc:
        make_primitive("teleport", [0.0])
    msg = str(exc.value)
    assert "teleport" in msg
    for name in PRIMITIVES:
        assert name in msg


@pytest.mark.parametrize("cls, n", [(Reach, 3), (Reach, 5), (Lift, 0), (Push, 3), (Grasp, 1), (Press, 2)])
def test_wrong_number_of_params(cls, n):
    with pytest.raises(ValueError, match=cls.name):
        cls(*([0.0] * n))


def test_make_primitive_with_too_few_params():
    with pytest.raises(ValueError):
        make_primitive("pull", [0.1, 0.2])


# -- 12: import isolation --------------------------------------------------------------------------
def test_primitives_and_programs_do_not_import_mujoco():
    code = (
        "import sys, robot_cl.primitives, robot_cl.programs; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'mujoco'); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zero_budget_is_respected():
    runner, _, _ = make_runner(pos=(0.0, 0.0, 0.2))
    res = runner.run(Reach(0.3, 0.0, 0.2, 0.0, budget=0))
    assert res.steps == 0 and not res.achieved


def test_composite_primitives_are_in_the_rl_action_space_but_not_in_demonstrations():
    from robot_cl.primitives.vocabulary import PRIMITIVE_NAMES
    from robot_cl.rl.primitive_env import ACTION_PRIMITIVES

    assert "pick" in ACTION_PRIMITIVES and "pick" not in PRIMITIVE_NAMES
    assert set(ACTION_PRIMITIVES) == set(PRIMITIVES) == set(PRIMITIVE_NAMES) | {"pick"}
