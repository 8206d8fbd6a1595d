"""Run primitives, and programs of primitives, in a Gymnasium environment."""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field

import numpy as np

from robot_cl.primitives.core import EndEffector, Primitive, PrimitiveResult

# A program is a generator that yields primitives and receives each one's result.
Program = Generator[Primitive, PrimitiveResult, None]


@dataclass
class Trace:
    """Everything recorded while running primitives: the raw-action level and the primitive level."""

    obs: list[np.ndarray] = field(default_factory=list)  # observation before each step
    actions: list[np.ndarray] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    successes: list[bool] = field(default_factory=list)
    calls: list[PrimitiveResult] = field(default_factory=list)
    call_obs: list[np.ndarray] = field(default_factory=list)  # observation when each call started
    call_start: list[int] = field(default_factory=list)  # step index where each call started
    prims: list[Primitive] = field(default_factory=list)  # the primitives themselves (with their latched goals)
    step_call: list[int] = field(default_factory=list)  # index of the call in force at each step

    @property
    def success(self) -> bool:
        """Success at any step (Continual World's convention)."""
        return any(self.successes)


class PrimitiveRunner:
    """Steps ``env`` under primitive control until each primitive finishes or the episode ends.

    ``obs`` is the observation the environment returned last (from ``reset``). The gripper
    command in force is carried from one primitive to the next.
    """

    def __init__(
        self,
        env,
        ee: EndEffector,
        obs: np.ndarray,
        success_key: str = "success",
        on_step: Callable[[np.ndarray, np.ndarray, float, dict], None] | None = None,
    ) -> None:
        self.env, self.ee, self.obs = env, ee, obs
        self.success_key = success_key
        self.on_step = on_step
        self.grip = -1.0
        self.done = False
        self.trace = Trace()

    def run(self, prim: Primitive) -> PrimitiveResult:
        """Execute one primitive; returns its result (also appended to ``trace.calls``)."""
        s = self.ee.state(self.obs)
        prim.start(self.ee, s, self.grip)
        self.grip = prim.held_grip  # in force even if the primitive finishes without a step
        self.trace.call_obs.append(self.obs)
        self.trace.call_start.append(len(self.trace.actions))
        self.trace.prims.append(prim)
        call = len(self.trace.calls)
        total, succeeded = 0.0, False
        while not self.done and not prim.finished(s):
            cmd = prim.command(s)
            self.grip = cmd.grip
            action = self.ee.action(cmd)
            self.trace.obs.append(self.obs)
            self.trace.step_call.append(call)
            obs, reward, terminated, truncated, info = self.env.step(action)
            ok = bool(info.get(self.success_key, False))
            self.trace.actions.append(action)
            self.trace.rewards.append(float(reward))
            self.trace.successes.append(ok)
            if self.on_step is not None:
                self.on_step(obs, action, float(reward), info)
            total += float(reward)
            succeeded |= ok
            self.obs = obs
            self.done = bool(terminated or truncated)
            s = self.ee.state(obs)
        result = PrimitiveResult(prim.name, prim.params, bool(prim.achieved(s)), prim.steps, total, succeeded, self.done)
        self.trace.calls.append(result)
        return result

    def run_program(self, program: Program, stop_on_success: bool = False) -> Trace:
        """Run a program (generator of primitives) until it ends or the episode ends."""
        try:
            prim = next(program)
            while True:
                result = self.run(prim)
                if self.done or (stop_on_success and self.trace.success):
                    break
                prim = program.send(result)
        except StopIteration:
            pass
        finally:
            program.close()
        return self.trace
