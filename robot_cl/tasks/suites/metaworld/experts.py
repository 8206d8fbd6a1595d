"""Primitive-program experts for Continual World's ten Meta-World v3 tasks (the Sawyer arm).

Each expert is a function ``expert(observe) -> Program``: ``observe()`` returns the environment's
current 39-value observation (hand ``[0:3]``, gripper opening ``[3]``, first object ``[4:7]``,
second object ``[11:14]``, goal ``[36:39]``), re-read before every decision, and the program yields
the same motion primitives the household skills use (:mod:`robot_cl.primitives`), driven through
:class:`robot_cl.tasks.suites.metaworld.env.SawyerEndEffector`. So the hierarchical policy learns, on Meta-World,
which primitive to call and with what parameters, exactly as on the household skills.

The grasp offsets and approach heights are facts about Meta-World's object geometry (where a
handle or peg is relative to the body position it reports), read off the task models and
Meta-World's scripted policies; the programs themselves are written as primitive sequences here.

A task names its expert in the curriculum (``configs/curriculum/cw10.yaml``)::

    hammer: {kwargs: {task: hammer-v3}}          # with task_defaults.suite: metaworld (robot_cl.tasks.suites.metaworld)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from robot_cl.primitives import Grasp, Lift, Program, Pull, Push, Reach, Release

Observe = Callable[[], np.ndarray]


def _hand(o: np.ndarray) -> np.ndarray:
    return np.asarray(o[0:3], dtype=float)


def _obj(o: np.ndarray) -> np.ndarray:
    return np.asarray(o[4:7], dtype=float)


def _obj2(o: np.ndarray) -> np.ndarray:
    return np.asarray(o[11:14], dtype=float)


def _goal(o: np.ndarray) -> np.ndarray:
    return np.asarray(o[36:39], dtype=float)


def _reach(p, dz: float = 0.0) -> Reach:
    return Reach(float(p[0]), float(p[1]), float(p[2]) + dz, 0.0)


def _grasp_from_above(point: np.ndarray, approach: float) -> Program:
    """Open, come down on ``point`` from ``approach`` above, close."""
    yield Release()
    yield _reach(point, approach)
    yield _reach(point)
    yield Grasp()


def hammer(observe: Observe) -> Program:
    """Grasp the hammer by its handle, raise it to the nail's height and swing its head into the nail."""
    handle = _obj(observe()) + np.array([-0.04, 0.0, -0.01])
    yield from _grasp_from_above(handle, 0.1)
    nail = _obj2(observe())
    strike = nail + np.array([-0.19, 0.0, 0.05])  # hand pose that puts the hammer head on the nail's line
    hand = _hand(observe())
    yield Reach(strike[0], hand[1], strike[2], 0.0)
    yield Reach(strike[0], nail[1] + 0.1, strike[2], 0.0)


def push_wall(observe: Observe) -> Program:
    """Pick the puck up, carry it over the wall and set it down on the goal."""
    yield from _pick_and_place(observe, carry=0.25)


def push_back(observe: Observe) -> Program:
    """Grasp the puck and slide it back to the goal."""
    yield from _grasp_and_slide(observe, height=0.025)  # this puck is taller: the fingers stop 2.5 cm above its origin


def push(observe: Observe) -> Program:
    """Grasp the puck and slide it to the goal."""
    yield from _grasp_and_slide(observe)


def _grasp_and_slide(observe: Observe, height: float = 0.0) -> Program:
    puck = _obj(observe()) + np.array([-0.005, 0.0, height])
    yield from _grasp_from_above(puck, 0.1)
    goal, hand = _goal(observe()), _hand(observe())
    yield Reach(goal[0], goal[1], hand[2] + 0.01, 0.0)


def _pick_and_place(observe: Observe, carry: float) -> Program:
    puck = _obj(observe()) + np.array([-0.005, 0.0, 0.0])
    yield from _grasp_from_above(puck, 0.1)
    goal = _goal(observe())
    yield Lift(carry)
    yield Reach(goal[0], goal[1], goal[2] + carry, 0.0)
    yield _reach(goal)


def faucet_close(observe: Observe) -> Program:
    """Close the gripper, come down beside the faucet handle and sweep it round."""
    handle = _obj(observe()) + np.array([0.04, 0.0, 0.03])
    yield Grasp()
    yield _reach(handle, 0.1)
    yield _reach(handle)
    yield Push(-0.1, 0.05)
    o = observe()
    sweep = _goal(o) - _obj(o)  # the rest of the way along the handle's arc, approximately
    yield Push(sweep[0] + 0.02, sweep[1])


def stick_pull(observe: Observe) -> Program:
    """Grasp the stick, hook it into the thermos handle and pull the thermos to the goal."""
    stick = _obj(observe()) + np.array([-0.015, 0.0, 0.03])
    yield from _grasp_from_above(stick, 0.1)
    o = observe()
    hand = _hand(o)
    # Line the stick (not the hand: the grasp is rarely centred) up with the handle.
    thermos = _obj2(o) + np.array([-0.015, hand[1] - _obj(o)[1], 0.03])
    yield Reach(hand[0], thermos[1], hand[2], 0.0)
    yield Reach(hand[0], thermos[1], thermos[2], 0.0)
    yield _reach(thermos)
    o = observe()
    pull_to = _goal(o) + np.array([-0.05, 0.0, 0.0])  # the hand stops this far short of the thermos's goal
    yield Pull(pull_to[0] - _hand(o)[0], pull_to[1] - _hand(o)[1], 0.0)


def handle_press_side(observe: Observe) -> Program:
    """Come down onto the handle from above and press it all the way down."""
    handle = _obj(observe())
    yield Grasp()
    yield _reach(handle, 0.05)
    yield Pull(0.0, 0.0, -0.15)


def shelf_place(observe: Observe) -> Program:
    """Pick the block up, raise it to the shelf's height and set it on the goal spot."""
    block = _obj(observe()) + np.array([-0.005, 0.0, 0.015])
    yield from _grasp_from_above(block, 0.1)
    goal = _goal(observe())
    hand = _hand(observe())
    yield Reach(goal[0], hand[1], goal[2] + 0.02, 0.0)
    yield Reach(goal[0], goal[1], goal[2] + 0.02, 0.0)
    yield Release()


def window_close(observe: Observe) -> Program:
    """Come down beside the window handle and push it shut."""
    handle = _obj(observe()) + np.array([0.03, -0.03, -0.08])
    yield Grasp()
    yield _reach(handle, 0.1)
    yield _reach(handle)
    o = observe()
    yield Push(_goal(o)[0] - _obj(o)[0] - 0.03, 0.0)


def peg_unplug_side(observe: Observe) -> Program:
    """Grasp the peg and pull it out sideways."""
    peg = _obj(observe()) + np.array([-0.02, 0.0, 0.035])
    yield from _grasp_from_above(peg, 0.1)
    yield Pull(0.15, 0.0, 0.0)


EXPERTS: dict[str, Callable[[Observe], Program]] = {
    "hammer-v3": hammer,
    "push-wall-v3": push_wall,
    "faucet-close-v3": faucet_close,
    "push-back-v3": push_back,
    "stick-pull-v3": stick_pull,
    "handle-press-side-v3": handle_press_side,
    "push-v3": push,
    "shelf-place-v3": shelf_place,
    "window-close-v3": window_close,
    "peg-unplug-side-v3": peg_unplug_side,
}
