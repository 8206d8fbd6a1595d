"""The main job: learn a curriculum of skills one after another and measure it.

``train(cfg, run_dir)`` reads top to bottom, each step a method of :class:`Run`:

1. ``Run(cfg, run_dir)``: check the config (one-line errors before any work); ``locked()`` holds the
   run folder for this process; ``resume()`` finds a finished run to reuse or a checkpoint to continue
   from; ``claim()`` marks the accepted run (PID, stale temporaries removed);
2. ``demonstrations()``: every skill's, from the shared cache or generated (in parallel);
3. ``references()``: single-skill runs from scratch (cached) for forward transfer and recovery ratios;
4. ``start()``: the policy, the strategies and the learner, restored from the checkpoint if resuming,
   and the untrained policy's row (GEM's forward-transfer baseline);
5. ``run_stage(stage)`` for every stage: add the skill's module (with ``per_task_modules``), train on it (its learning curve on the
   way), evaluate every skill, checkpoint atomically (model, optimiser, strategy state, results so far);
6. ``finish()``: recovery, videos of the learned policy, metrics.json, matrix.csv, plots, report.html.

The same seed on the same machine gives the same numbers: every random draw derives from ``seed`` and
the stage index, so a resumed run continues exactly like an uninterrupted one.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from robot_cl import checkpoint, demos, protocol, resources, tasks
from robot_cl.config import config_hash
from robot_cl.errors import ConfigError, DivergedError
from robot_cl.evaluation import Evaluator, record, under_shifts
from robot_cl.from_run import adapt_finished, evaluate_finished
from robot_cl.learners import LEARNERS, make_learner
from robot_cl.logger import RunLogger
from robot_cl.paths import resolve
from robot_cl.policies import build_policy, count_params
from robot_cl.report import figures
from robot_cl.results import compute_metrics, finished_metrics, video_dir, write_outputs
from robot_cl.sim import shift
from robot_cl.stages import curve_schedule, eval_seeds, new_policy, resolve_device, stage_budget, stage_data, stage_seed
from robot_cl.strategies import make_plugins
from robot_cl.stream import Stream
from robot_cl.validation import validate


class Timer:
    """Wall-clock seconds per phase."""

    def __init__(self, initial: dict[str, float] | None = None) -> None:
        self.seconds: dict[str, float] = dict(initial or {})

    @contextmanager
    def __call__(self, phase: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[phase] = self.seconds.get(phase, 0.0) + time.perf_counter() - t0


@dataclass
class Stage:
    """The stage being trained: what its progress and evaluation callbacks need."""

    index: int
    skill: str
    curve: list[float]
    started: float = field(default_factory=time.perf_counter)
    bar: Any = None
    updates: int = 0  # finished updates of this stage


class Run:
    """One run of a curriculum in a run folder (see the module docstring for the order of its steps)."""

    def __init__(self, cfg: dict, run_dir: Path, say=print) -> None:
        self.cfg = cfg = {**cfg, "workers": resources.resolve_workers(cfg["workers"])}
        validate(cfg)
        self.device = resolve_device(str(cfg["device"]))
        torch.set_num_threads(max(1, cfg["threads"]))
        torch.use_deterministic_algorithms(True, warn_only=True)
        self.run_dir, self.say = Path(run_dir), say
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.pid_file = self.run_dir / ".robot-cl.pid"
        self.chash = config_hash(cfg)
        self.cur, self.ev = cfg["curriculum"], cfg["eval"]
        self.skills: list[str] = list(self.cur["skills"])
        self.T = len(self.skills)
        self.skill_cfgs = {k: v for k, v in tasks.task_configs(self.cur).items() if v is not None}  # overrides or external specs
        self.cache_dir = resolve(cfg["cache_dir"])
        self.budget = stage_budget(cfg)
        self.schedule = curve_schedule(self.budget, self.ev["curve_points"])
        self.state: dict[str, Any] | None = None
        self.all_demos: dict[str, demos.DemoSet] = {}
        self.refs: dict[str, dict] = {}
        self.cache_stats: dict[str, dict[str, str]] = {"demos": {}, "references": {}}  # hit / created / waited per entry

    # -- 1. resume -------------------------------------------------------------------------------
    @contextmanager
    def locked(self):
        """Hold the run folder for this process (``flock`` on the folder itself, so a refused command
        creates nothing): a second robot-cl on the same folder stops with one line naming this one's
        PID (written by :meth:`claim`). The OS releases the lock when the process dies."""
        fd = os.open(self.run_dir, os.O_RDONLY)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = self.pid_file.read_text().strip() if self.pid_file.exists() else "?"
                raise ConfigError(
                    f"{self.run_dir} is in use by another robot-cl (PID {pid}); wait for it or choose a new hydra.run.dir"
                ) from None
            yield
        finally:
            os.close(fd)

    def claim(self) -> None:
        """The run is accepted: name this process as the folder's user, and remove the temporaries of
        writers killed here before (none can be alive: this process holds the folder)."""
        self.pid_file.write_text(f"{os.getpid()}\n")
        for tmp in [*self.run_dir.glob(".*.tmp"), *self.ckpt_dir.glob(".*.tmp")]:
            tmp.unlink(missing_ok=True)

    def resume(self) -> dict[str, Any] | None:
        """The metrics of the finished run of this config if the folder holds one; else load the
        checkpoint to continue from (if any) and open the logs. Checked before any expensive work."""
        if checkpoint.available(self.ckpt_dir):
            if not self.cfg["resume"]:
                raise ConfigError(
                    f"{self.run_dir} already holds checkpoints of a run; resume=true continues it, or choose a new hydra.run.dir"
                )
            if self.cfg["resume_from"] is None and (done := finished_metrics(self.run_dir, self.chash)) is not None:
                self.say(
                    f"{self.run_dir} holds the finished run of this configuration (avg_success {done['avg_success']:.3f}); nothing to do"
                )
                return done
            self.state = checkpoint.load(self.ckpt_dir, self.cfg["resume_from"])
            if self.state["config_hash"] != self.chash:
                raise ConfigError(
                    f"{self.run_dir} holds a run with a different configuration; "
                    "resume it with the same overrides, or choose a new hydra.run.dir"
                )
        self.timer = Timer(self.state["wall_clock_s"] if self.state else None)
        first = (self.state["stage"] + 1, self.state["learner"].get("total_updates")) if self.state else (0, None)
        self.log = RunLogger(self.run_dir, first_stage=first[0], first_update=first[1])
        (self.run_dir / "config.json").write_text(json.dumps(self.cfg, indent=1, default=str))
        return None

    # -- 2. demonstrations -----------------------------------------------------------------------
    def demonstrations(self) -> None:
        """Every skill's demonstrations (an RL learner collects its own experience instead)."""
        if not LEARNERS[self.cfg["learner"]["name"]].needs_demos:
            return
        with self.timer("demos"):
            seeds = range(self.cur["demo_seed"], self.cur["demo_seed"] + self.cur["demos"])
            self.all_demos = demos.load_or_generate(
                self.skills,
                seeds,
                self.cache_dir,
                self.cfg["sim"],
                self.skill_cfgs,
                workers=self.cfg["workers"],
                stats=self.cache_stats["demos"],
            )
        self.say(f"demonstrations: {', '.join(f'{s} {d.episodes}/{d.attempted}' for s, d in self.all_demos.items())}")

    # -- 3. references ---------------------------------------------------------------------------
    def references(self, evaluator: Evaluator) -> None:
        if not (self.ev["references"] or self.cfg["mode"] == "reference"):
            return
        with self.timer("references"):
            self.refs = protocol.load_or_run_references(
                self.cfg,
                self.skills,
                self.all_demos,
                evaluator,
                self.device,
                self.cache_dir,
                log=self.say,
                stats=self.cache_stats["references"],
            )

    def report_references(self) -> dict[str, Any]:
        """``mode=reference``: print the reference runs and stop."""
        for s in self.skills:
            self.say(f"reference {s:<26} final success {self.refs[s]['final']:.2f}  curve {[round(c, 2) for c in self.refs[s]['curve']]}")
        self.log.close()
        return {"references": self.refs}

    # -- 4. the learner ---------------------------------------------------------------------------
    def start(self, evaluator: Evaluator) -> int:
        """Policy, strategies and learner (restored when resuming) and the results so far; returns the first stage to train."""
        cfg = self.cfg
        self.policy = new_policy(cfg, self.T, self.device, stage_seed(cfg["seed"], 0))
        self.plugins = make_plugins(cfg["strategy"]["plugins"])
        self.learner = make_learner(cfg["learner"], self.policy, self.plugins, self.device)
        self.results: dict[str, Any] = {
            "init": None,
            "matrix": [],
            "routing": [],
            "curves": [],
            "curve_updates": [],
            "params": [],
            "memory_bytes": [],
        }
        self.stream = None
        if self.state is not None:
            self.policy = build_policy(self.state["policy_spec"]).to(self.device)
            self.policy.load_state_dict(self.state["policy"])
            self.learner = make_learner(cfg["learner"], self.policy, self.plugins, self.device)
            self.learner.load_state_dict(self.state["learner"])
            for p, s in zip(self.plugins, self.state["plugins"]):
                p.load_state_dict(s)
            self.results = self.state["results"]
            self.open_stream()
            self.say(f"resuming {self.run_dir} after stage {self.state['stage']} ({self.skills[self.state['stage']]})")
            return self.state["stage"] + 1
        self.open_stream()
        if self.ev["init_row"]:
            with self.timer("evaluation"):
                self.results["init"] = evaluator.success_rates(
                    self.policy, self.skills, list(range(self.T)), eval_seeds(self.ev, self.ev["episodes"])
                )
        return 0

    def open_stream(self) -> None:
        """``stream.enabled``: the boundary-free stream over every skill's demonstrations (restored when resuming)."""
        if not self.cfg["stream"]["enabled"]:
            return
        datasets = [self.policy.dataset(self.all_demos[s], i) for i, s in enumerate(self.skills)]
        self.stream = Stream(self.cfg["stream"], self.learner, datasets, self.budget)
        if self.state is not None:
            self.stream.load_state_dict(self.state["stream"])
            for p in self.plugins:  # the checkpoint may fall inside a segment
                p.resume_task(self.learner, self.stream.detector.segment, self.stream.window or {})
        else:
            self.stream.begin()

    # -- 5. one stage ----------------------------------------------------------------------------
    def run_stage(self, index: int, evaluator: Evaluator) -> None:
        """Train stage ``index``'s skill, evaluate every skill, checkpoint."""
        skill = self.skills[index]
        torch.manual_seed(stage_seed(self.cfg["seed"], 100 + index))  # the new module's initialisation, same after a resume
        if self.stream is None:
            self.policy.add_task(index)
            data = stage_data(self.cfg, self.policy, skill, index, self.all_demos.get(skill))
            self.policy.observe_task(index, data)  # a task-agnostic policy's router learns what this skill looks like
        before = self.results["matrix"][-1][index] if self.results["matrix"] else (self.results["init"] or [0.0] * self.T)[index]
        self.stage = Stage(index, skill, [before], bar=_progress(self.cfg["progress"], self.budget, f"stage {index} {skill}"))
        self.evaluator = evaluator
        with self.timer("training"):
            seed = stage_seed(self.cfg["seed"], 1 + index)
            points = dict.fromkeys(self.schedule, self.on_curve_point)
            try:
                if self.stream is None:
                    self.learner.train_task(index, data, self.budget, seed, on_update=self.on_update, checkpoints=points)
                else:  # the stream's updates of this stage: the learner is told neither the skill nor the boundary
                    self.stream.train_stage(index, seed, on_update=self.on_update, checkpoints=points)
                    if index == self.T - 1:
                        self.stream.end()
                if bad := next((n for n, p in self.policy.named_parameters() if not torch.isfinite(p).all()), None):
                    raise DivergedError(f"parameter {bad} is not finite")
            except DivergedError as e:
                raise DivergedError(self.divergence(e)) from None
        if self.stage.bar is not None:
            self.stage.bar.close()
        row = self.evaluate_row(index, evaluator)
        self.stage.curve.append(row[index])
        r = self.results
        r["matrix"].append(row)
        r["curves"].append(self.stage.curve)
        r["curve_updates"].append([0, *self.schedule])
        r["params"].append(count_params(self.policy))
        router = 0 if self.policy.router is None else sum(b.numel() * b.element_size() for b in self.policy.router.buffers())
        window = 0 if self.stream is None else self.stream.memory_bytes()
        r["memory_bytes"].append(sum(p.memory_bytes() for p in self.plugins) + router + window)
        self.say(f"stage {index} {skill:<26} " + " ".join(f"{v:.2f}" for v in row if v == v))
        self.save_checkpoint(index)

    def divergence(self, e: DivergedError) -> str:
        """The one line for a stage that diverged: where, the value, what was kept, what to try."""
        st = self.stage
        kept = f"checkpoints/{checkpoint.stage_path(self.ckpt_dir, st.index - 1).name}" if st.index else "none (the first stage)"
        return (
            f"stage {st.index} ({st.skill}) diverged at update {st.updates + 1}: {e}; the last good checkpoint is {kept}; "
            f"try a smaller learner.lr (now {self.cfg['learner']['lr']})"
        )

    def on_update(self, u: int, info: dict[str, float]) -> None:
        """After every update of the stage: the progress bar, and every 100 updates the training log."""
        st = self.stage
        st.updates = u
        if st.bar is not None:
            st.bar.update(1)
        if u % 100 == 0 or u == self.budget:
            ups = u / max(time.perf_counter() - st.started, 1e-9)
            step = self.learner.total_updates
            for k, v in info.items():
                self.log.scalar("train", k, v, step, st.index, st.skill)
            self.log.scalar("train", "updates_per_s", ups, step, st.index, st.skill)
            if st.bar is not None:
                st.bar.set_postfix(loss=f"{info['loss']:.4f}", ups=f"{ups:.0f}")

    def on_curve_point(self, u: int) -> None:
        """A point of the skill's learning curve during its stage (the stage-end point is the full evaluation)."""
        if u == self.schedule[-1]:
            return
        st = self.stage
        with self.timer("evaluation"):
            st.curve.append(
                self.evaluator.success_rates(self.policy, [st.skill], [st.index], eval_seeds(self.ev, self.ev["curve_episodes"]))[0]
            )
        self.log.scalar("curve", "success", st.curve[-1], self.learner.total_updates, st.index, st.skill)

    def evaluate_row(self, index: int, evaluator: Evaluator) -> list[float]:
        """Success on every skill after stage ``index`` (``eval.unseen=false``: the ones trained so far and the next; NaN beyond)."""
        with self.timer("evaluation"):
            t0 = time.perf_counter()
            k = self.T if self.ev["unseen"] else min(index + 2, self.T)
            seeds = eval_seeds(self.ev, self.ev["episodes"])
            success, routing = evaluator.rates(self.policy, self.skills[:k], list(range(k)), seeds)
            row = success + [float("nan")] * (self.T - k)
            seconds = time.perf_counter() - t0
        if routing is not None:  # task-agnostic: how often each skill's decisions went to its own behaviour
            self.results.setdefault("routing", []).append(routing + [float("nan")] * (self.T - k))
        for j, s in enumerate(self.skills[:k]):
            self.log.scalar("eval", "success", row[j], index, index, s)
        self.log.scalar("eval", "episodes_per_s", k * len(seeds) / max(seconds, 1e-9), index, index)
        self.log.scalar("eval", "env_steps_per_s", evaluator.env_steps / max(evaluator.seconds, 1e-9), index, index)
        self.log.flush()
        return row

    def save_checkpoint(self, index: int) -> None:
        state = {
            "stage": index,
            "config_hash": self.chash,
            "policy_spec": _plain(self.policy.spec()),
            "policy": self.policy.state_dict(),
            "learner": self.learner.state_dict(),
            "plugins": [p.state_dict() for p in self.plugins],
            "results": self.results,
            "wall_clock_s": dict(self.timer.seconds),
            "stream": None if self.stream is None else self.stream.state_dict(),
        }
        checkpoint.save(self.ckpt_dir, index, state)

    # -- 6. after the curriculum -------------------------------------------------------------------
    def recovery(self, evaluator: Evaluator) -> dict[str, dict]:
        if not self.ev["recovery"]["enabled"]:
            return {}
        with self.timer("recovery"):
            r = self.results
            return protocol.measure_recovery(
                self.cfg, self.policy, self.skills, self.all_demos, r["matrix"], r["curves"], self.refs, evaluator, self.device
            )

    def shifted(self, evaluator: Evaluator) -> dict[str, dict]:
        """``eval.shifts``: every skill's success under each named dynamics shift, after the last stage."""
        if not self.ev["shifts"]:
            return {}
        with self.timer("shifts"):
            seeds = eval_seeds(self.ev, self.ev["shift_episodes"])
            named = shift.named(self.cfg["sim"], self.ev["shifts"])
            return under_shifts(evaluator, self.policy, self.skills, seeds, self.cfg["sim"], named)

    def videos(self) -> dict[str, str]:
        """One video per skill of the learned policy (``eval.video``)."""
        v = self.ev["video"]
        if not v["enabled"]:
            return {}
        out = {}
        with self.timer("rendering"):
            vdir = video_dir(v["dir"], self.run_dir)
            for task, skill in enumerate(self.skills):
                path = vdir / f"{skill}.mp4"
                rec = record(
                    self.policy,
                    skill,
                    task,
                    self.ev["seed_start"],
                    path,
                    self.cfg["sim"],
                    self.skill_cfgs.get(skill),
                    v["width"],
                    v["height"],
                    v["every"],
                )
                out[skill] = rec["path"]
        return out

    def finish(self, recovery: dict[str, dict], shifted: dict[str, dict] | None = None) -> dict[str, Any]:
        """Videos, metrics and every output file; prints the summary."""
        cfg, r = self.cfg, self.results
        videos = self.videos()
        m = compute_metrics(
            self.skills,
            r["init"],
            r["matrix"],
            r["curves"],
            r["curve_updates"],
            self.refs,
            recovery,
            r["params"],
            r["memory_bytes"],
            self.timer.seconds,
        )
        m["videos"] = videos
        if shifted:
            m["success_under_shift"] = shifted
        if r.get("routing"):
            m["routing_accuracy"] = r["routing"][-1]
            m["routing_matrix"] = r["routing"]
        if self.stream is not None:
            m["boundaries"] = self.stream.boundary_metrics(float(cfg["stream"]["tolerance"]))
        m["cache"] = self.cache_stats
        m["demonstrations"] = {s: {"kept": d.episodes, "attempted": d.attempted} for s, d in self.all_demos.items()}  # expert success rates
        m["run"] = {
            "run_dir": str(self.run_dir),
            "config_hash": self.chash,
            "device": str(self.device),
            "strategy": list(cfg["strategy"]["plugins"]),
            "policy": cfg["policy"]["name"],
            "learner": cfg["learner"]["name"],
            "seed": cfg["seed"],
            "updates_per_stage": self.budget,
            "eval_episodes": self.ev["episodes"],
        }
        title = f"{self.cur['name']} | {cfg['policy']['name']} | {'+'.join(cfg['strategy']['plugins']) or 'finetune'} | seed {cfg['seed']}"
        write_outputs(self.run_dir, m, title)
        self.log.close()
        self.say(figures.summary_table(self.skills, r["matrix"], m))
        for name, sh in (shifted or {}).items():
            self.say(f"under shift {name} {sh['shift']}: " + " ".join(f"{v:.2f}" for v in sh["success"]) + f"  (mean {sh['mean']:.2f})")
        if "routing_accuracy" in m:
            self.say("routing accuracy (no task id): " + " ".join(f"{v:.2f}" for v in m["routing_accuracy"]))
        if "boundaries" in m:
            b = m["boundaries"]
            self.say(
                f"boundaries: true {b['true']}, detected {b['detected']}, delays {b['delays']}, "
                f"false alarms {b['false_alarms']}, missed {b['missed']}"
            )
        self.say("wall-clock (s): " + ", ".join(f"{k} {v:.0f}" for k, v in m["wall_clock_s"].items()))
        files = "report.html, metrics.json, matrix.csv, matrix.png, success_over_stages.png, log.csv, tensorboard/, checkpoints/"
        self.say(f"outputs: {self.run_dir} ({files})")
        if videos:
            self.say(f"videos: {video_dir(self.ev['video']['dir'], self.run_dir)}")
        return m


def train(cfg: dict, run_dir: Path, say=print, on_start=None) -> dict[str, Any]:
    """Run the curriculum described by ``cfg`` (a plain dict, as composed by Hydra) in ``run_dir``.

    A run dir that already holds the finished run of this config returns its metrics without redoing
    anything (so an interrupted sweep continues where it stopped); ``say`` prints progress;
    ``on_start()`` is called once the run is accepted (its folder locked, its checkpoints checked).
    """
    if cfg["mode"] in ("eval", "adapt"):  # from a finished run, under this config's sim and eval (robot_cl.from_run)
        validate({**cfg, "workers": 1})
        fn = evaluate_finished if cfg["mode"] == "eval" else adapt_finished
        return fn({**cfg, "workers": resources.resolve_workers(cfg["workers"])}, Path(run_dir), say)
    run = Run(cfg, run_dir, say)
    with run.locked():
        if (done := run.resume()) is not None:
            return done
        run.claim()
        if on_start is not None:
            on_start()
        run.demonstrations()
        with Evaluator(run.cfg["workers"], run.cfg["sim"], run.skill_cfgs, run.cfg.get("imports")) as evaluator:
            run.references(evaluator)
            if run.cfg["mode"] == "reference":
                return run.report_references()
            for stage in range(run.start(evaluator), run.T):
                run.run_stage(stage, evaluator)
            recovery = run.recovery(evaluator)
            shifted = run.shifted(evaluator)
        return run.finish(recovery, shifted)


def _progress(enabled: bool, total: int, desc: str):
    if not enabled:
        return None
    from tqdm import tqdm  # optional at run time: progress bars only

    return tqdm(total=total, desc=desc, leave=False, mininterval=1.0, dynamic_ncols=True, disable=None)  # None: off when not a terminal


def _plain(obj):
    """Plain Python containers only (for weights_only checkpoints)."""
    return json.loads(json.dumps(obj, default=str))


__all__ = ["Run", "train"]
