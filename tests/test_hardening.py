"""Hardening: every bad input is one line before any work; a refused command changes nothing; training
that diverges stops with one line; a run folder has one user at a time; a run killed with ``kill -9``
leaves no worker process or temporary file and resumes to exactly the numbers and log of an
uninterrupted run."""

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from hydra.core.config_store import ConfigStore

from robot_cl import cli
from robot_cl.cache import atomic_write
from robot_cl.errors import DivergedError
from robot_cl.paths import SKILL_PATH_ENV
from robot_cl.skills import SKILLS
from robot_cl.strategies import STRATEGIES, Plugin, register_strategy

ROBOT_CL = [sys.executable, "-m", "robot_cl.cli"]
TINY = ["curriculum=mini", "curriculum.demos=4", "eval=quick", "eval.recovery.enabled=false", "learner.updates=60"]
TINY += ["learner.batch_size=32", "progress=false"]
WORKERS = ["workers=2"]  # the kill test's worker processes (results do not depend on the number of workers)
TINY += ["workers=1"]  # every other run: spawning a pool re-imports torch and MuJoCo per worker

SKILL_FILES = {
    "syntax": "def broken(:\n",
    "noskill": "X = 1\n",
    "duplicate": (
        "from robot_cl.skills import Skill, register_skill\n\n\n@register_skill\nclass P(Skill):\n"
        '    name = "press_button"\n\n    def success(self, s):\n        return True\n\n    def reward(self, s):\n        return 0.0\n\n'
        "    def expert(self, s):\n        yield from ()\n"
    ),
    "nosuccess": (
        "from robot_cl.skills import Skill, register_skill\n\n\n@register_skill\nclass Q(Skill):\n"
        '    name = "qq"\n\n    def expert(self, s):\n        yield from ()\n'
    ),
}
SKILL_FILES["misfit"] = (  # a skill naming a body the scene lacks
    "from robot_cl.skills import get_skill, register_skill\n\n\n@register_skill\nclass M(get_skill('press_button')):\n"
    '    name = "misfit"\n    elements = ("toaster",)\n'
)
SKILL_FILES["forceful"] = (  # a skill needing a scene query the PyBullet backend lacks
    "from robot_cl.skills import get_skill, register_skill\n\n\n@register_skill\nclass F(get_skill('press_button')):\n"
    '    name = "forceful"\n    queries = ("contact_force",)\n'
)
PENDULUM = "++curriculum.skills=[t]", "policy=flat"

# (overrides, fragments the one error line must contain); {tmp} is the test's temporary folder
BAD = [
    (["strategy=nope"], ["unknown strategy 'nope'", "valid: agem"]),
    (["strategy=[si,nope]"], ["unknown strategy 'nope'"]),
    (["policy=nope"], ["unknown policy 'nope'", "flat, hierarchical"]),
    (["curriculum=nope"], ["unknown curriculum 'nope'", "mini"]),
    (["learner=nope"], ["unknown learner 'nope'", "bc, ppo, sac"]),
    (["eval=nope"], ["unknown eval 'nope'", "quick"]),
    (["sim=nope"], ["unknown sim 'nope'", "household"]),
    (["experiment=nope"], ["unknown experiment 'nope'", "rl_household"]),
    (["hydra/launcher=nope"], ["unknown hydra/launcher 'nope'", "joblib"]),
    (["curriculum.skills=[nope]"], ["unknown skill 'nope'", "press_button"]),
    (["curriculum.skills=[]"], ["curriculum.skills must be a non-empty list"]),
    (["curriculum.skills=[press_button,press_button]"], ["lists a skill twice"]),
    (["curriculum.demos=0"], ["curriculum.demos must be a positive integer"]),
    (["curriculum.skill_config={nope:{}}"], ["curriculum.skill_config", "nope"]),
    (["seed=abc"], ["seed must be an integer", "'abc'"]),
    (["seed=["], ["malformed override"]),
    (["nokey=1"], ["unknown config key 'nokey'", "valid keys: cache_dir"]),
    (["workers=0"], ["workers must be auto or a positive integer, got 0"]),
    (["workers=-1"], ["workers must be auto or a positive integer"]),
    (["threads=0"], ["threads must be a positive integer"]),
    (["device=tpu"], ["unknown device 'tpu'", "auto, cpu, cuda"]),
    (["mode=nope"], ["unknown mode 'nope'", "reference, train"]),
    (["resume_from=abc"], ["resume_from must be a stage index"]),
    (["learner.lr=abc"], ["learner.lr must be a number", "'abc'"]),
    (["learner.lr=-1"], ["learner.lr must be a positive number"]),
    (["learner.updates=0"], ["learner.updates must be a positive integer"]),
    (["learner.updates=1.5"], ["learner.updates must be an integer", "1.5"]),
    (["learner.batch_size=0"], ["learner.batch_size must be a positive integer"]),
    (["learner=sac", "learner.n_envs=0"], ["learner.n_envs must be a positive integer"]),
    (["learner=sac", "learner.gamma=abc"], ["learner.gamma must be a number"]),
    (["eval.episodes=0"], ["eval.episodes must be a positive integer"]),
    (["eval.seed_start=1"], ["eval.seed_start must be above the demonstration seeds"]),
    (["eval.curve_points=0"], ["eval.curve_points must be >= 1"]),
    (["eval.recovery.max_updates=0"], ["eval.recovery.max_updates must be a positive integer"]),
    (["eval.unseen=maybe"], ["eval.unseen must be true or false"]),
    (["strategy.plugins.packnet.keep=abc"], ["strategy.plugins.packnet.keep=abc", "could not be converted to Float"]),
    (["strategy=si", "strategy.plugins.si.strength=abc"], ["strategy.plugins.si.strength=abc", "could not be converted to Float"]),
    (
        ["strategy.plugins.packnet.nope=1"],
        ["unknown config key 'strategy.plugins.packnet.nope'", "keep, retrain_lr, retrain_updates, seed"],
    ),
    (["strategy.plugins.packnet.keep=2"], ["packnet keep must be in (0, 1]"]),
    (["strategy=lamaml", "learner=sac"], ["strategy 'lamaml' trains on demonstrations", "valid learners for it: bc"]),
    (["sim.shift.mass=0"], ["sim.shift.mass must be a number > 0"]),
    (["sim.shift.nope=1"], ["unknown config key 'sim.shift.nope'", "friction, gain, mass, obs_noise, size"]),
    (["eval.shifts=[nope]"], ["eval.shifts names 'nope', which is not in sim.shifts", "valid: weak_servos, noisy_sensors"]),
    (["+sim.shifts.a={size:-1}"], ["sim.shifts.a.size must be a number > 0"]),
    (["+sim.shifts.a={nope:1}"], ["unknown sim.shifts.a key 'nope'", "valid: friction"]),
    (["mode=eval"], ["mode=eval needs from_run="]),
    (["mode=adapt", "from_run={tmp}/nonexistent"], ["is not a run folder (no config.json)"]),
    (["mode=eval", "from_run={tmp}/nonexistent"], ["is not a run folder (no config.json)"]),
    (["policy.task_id=maybe"], ["policy.task_id must be true or false"]),
    (["policy.task_id=false", "learner=sac"], ["policy.task_id=false routes behaviour-cloned policies", "valid learners: bc"]),
    (["stream.enabled=true"], ["stream.enabled=true", "set policy.task_id=false as well"]),
    (["+experiment=task_free", "strategy=multitask"], ["strategy 'multitask' needs announced task boundaries", "valid with"]),
    (["+experiment=task_free", "policy.learned_primitives=true"], ["policy.learned_primitives=true trains two"]),
    (["+experiment=task_free", "stream.blend=2"], ["stream.blend must be in [0, 1], got 2"]),
    (["+experiment=task_free", "stream.detector.threshold=1.5"], ["stream.detector.threshold must be in (0, 1)"]),
    (["+experiment=task_free", "stream.detector.warmup=0"], ["stream.detector.warmup must be a positive integer"]),
    (["stream.nope=1"], ["unknown config key 'stream.nope'"]),
    (["policy.trunk=abc"], ["policy.trunk must be a list of numbers", "'abc'"]),
    (["policy=flat", "policy.hidden=[a,b]"], ["policy.hidden must be a list of numbers"]),
    (["sim.timestep=-1"], ["sim.timestep must be a positive number"]),
    (["sim.timestep=abc"], ["sim.timestep must be a number"]),
    (["sim.frame_skip=0"], ["sim.frame_skip must be a positive integer"]),
    (["sim.backend=bullet"], ["unknown sim.backend 'bullet'", "mujoco, pybullet"]),
    (["sim=bullet"], ["unknown sim 'bullet'", "household, household_pybullet"]),
    (["curriculum.skills=[press_button@ode]"], ["unknown simulator backend 'ode' in task 'press_button@ode'", "valid: mujoco, pybullet"]),
    (["curriculum.skills=[press_buton@pybullet]"], ["unknown skill 'press_buton@pybullet'", "<skill>@<backend>"]),
    (["+sim.shifts.a={backend:ode}", "eval.shifts=[a]"], ["sim.shifts.a.backend: unknown simulator backend 'ode'", "mujoco, pybullet"]),
    (["imports=[no_such_module_xyz]"], ["cannot import 'no_such_module_xyz'"]),
    (["skills_dirs=[{tmp}/nonexistent]"], ["which is not a folder"]),
    (["skills_dirs={tmp}"], ["skills_dirs must be a list"]),
    (["skills_dirs=[{tmp}/skills/syntax]"], ["cannot load skill file", "bad.py", "SyntaxError"]),
    (["skills_dirs=[{tmp}/skills/noskill]"], ["bad.py defines no skill", "leading '_'"]),
    (["skills_dirs=[{tmp}/skills/duplicate]"], ["skill name 'press_button' is already defined"]),
    (["skills_dirs=[{tmp}/skills/nosuccess]"], ["skill 'qq' does not define success()"]),
    (["skills_dirs=[{tmp}/skills/misfit]", "curriculum.skills=[press_button,misfit]"], ["unknown scene element 'toaster'", "valid: "]),
    (
        ["skills_dirs=[{tmp}/skills/forceful]", "curriculum.skills=[press_button,forceful@pybullet]"],
        ["uses scene query 'contact_force', which the pybullet backend does not provide", "grasping"],
    ),
    (["--config-dir", "{tmp}/nonexistent"], ["config folder", "does not exist"]),
    (["hydra.run.dir=/proc/robot_cl/run"], ["cannot create the output folder /proc/robot_cl/run"]),
    (["hydra.run.dir={tmp}/afile/run"], ["cannot create the output folder", "afile/run"]),
    (["++curriculum.tasks={t:{env_id:Nope-v9}}", *PENDULUM], ["unknown Gymnasium env id 'Nope-v9'"]),
    (["++curriculum.tasks={t:{env_id:Pendulum-v1,expert:mod}}", *PENDULUM], ["expert 'mod' must name 'module:attribute'"]),
    (
        ["++curriculum.tasks={t:{env_id:Pendulum-v1,bogus:1}}", *PENDULUM],
        ["unknown curriculum.tasks.t key 'bogus'", "action_size, end_effector"],
    ),
    (["++curriculum.tasks={t:{env_id:Pendulum-v1}}", "++curriculum.skills=[t]"], ["has no primitive_expert", "policy=flat"]),
    (
        ["++curriculum.tasks={t:{env_id:Pendulum-v1,expert:'numpy:zeros_like'}}", *PENDULUM],
        ["the expert returned 3 action values", "takes 1"],
    ),
    (["++curriculum.tasks={t:{env_id:Pendulum-v1,obs_size:1}}", *PENDULUM], ["obs_size must be an integer >= the env's own size 3"]),
]


@pytest.fixture
def bad_input_tmp(tmp_path, monkeypatch):
    """Skill folders with broken files, a plain file, and an isolated skill path (restored afterwards)."""
    for name, text in SKILL_FILES.items():
        (tmp_path / "skills" / name).mkdir(parents=True)
        (tmp_path / "skills" / name / "bad.py").write_text(text)
    (tmp_path / "afile").write_text("")
    monkeypatch.setenv(SKILL_PATH_ENV, "")  # add_skill_dirs sets it for this process: restored afterwards
    monkeypatch.setattr(cli, "_app", lambda: pytest.fail("the command was accepted"))
    registered = dict(SKILLS)
    yield tmp_path
    SKILLS.clear()  # the skill files that load (misfit, forceful) register skills: later tests see only the built-in ones
    SKILLS.update(registered)


@pytest.mark.parametrize("overrides, fragments", BAD, ids=[" ".join(o)[:60] for o, _ in BAD])
def test_a_bad_input_is_one_line_before_any_work(overrides, fragments, bad_input_tmp, monkeypatch, capsys):
    tmp = bad_input_tmp
    args = [o.replace("{tmp}", str(tmp)) for o in overrides]
    run = tmp / "run"
    given_dir = any(a.startswith("hydra.run.dir=") for a in args)
    monkeypatch.setattr(sys, "argv", ["robot-cl", *args, f"cache_dir={tmp / 'cache'}", *([] if given_dir else [f"hydra.run.dir={run}"])])
    with pytest.raises(SystemExit) as e:
        cli.main()
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert e.value.code not in (0, None) and len(lines) == 1, err
    assert lines[0].startswith("robot-cl: error: ") and "Traceback" not in err
    for f in fragments:
        assert f in lines[0], lines[0]
    assert not run.exists() and not (tmp / "cache").exists()  # no work started


def test_the_bad_input_table_covers_at_least_40_cases():
    assert len(BAD) >= 40


# -- a run folder: refused commands, one user at a time ------------------------------------------------
def run_cli(*args, timeout=600, **kw):
    return subprocess.run([*ROBOT_CL, *args], capture_output=True, text=True, timeout=timeout, **kw)


def files_of(folder):
    """Every file of a run folder with its size, modification time and contents' hash."""
    import hashlib

    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns, hashlib.sha1(p.read_bytes()).hexdigest())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished tiny run (the uninterrupted reference) and its cache."""
    root = tmp_path_factory.mktemp("finished")
    args = [*TINY, f"cache_dir={root / 'cache'}", f"hydra.run.dir={root / 'run'}"]
    out = run_cli(*args)
    assert out.returncode == 0, out.stderr[-3000:]
    return root, args


REFUSED = [
    (["learner.updates=61"], "holds a run with a different configuration"),
    (["resume=false"], "already holds checkpoints of a run"),
    (["resume_from=7"], "no checkpoint for stage 7"),
]


@pytest.mark.parametrize("extra, fragment", REFUSED, ids=[e[0] for e, _ in REFUSED])
def test_a_refused_command_changes_nothing_in_the_run_folder(finished, extra, fragment):
    root, args = finished
    before = files_of(root / "run")
    out = run_cli(*args, *extra)
    lines = out.stderr.strip().splitlines()
    assert out.returncode != 0 and len(lines) == 1 and fragment in lines[0], out.stderr[-2000:]
    assert files_of(root / "run") == before


@pytest.mark.skipif(torch.cuda.is_available(), reason="device=cuda is valid here")
def test_device_cuda_without_a_gpu_is_one_line_and_changes_nothing(finished):
    root, args = finished
    before = files_of(root / "run")
    out = run_cli(*args, "device=cuda")
    lines = out.stderr.strip().splitlines()
    assert out.returncode != 0 and len(lines) == 1 and "cuda" in lines[0], out.stderr[-2000:]
    assert files_of(root / "run") == before


def test_a_second_process_on_a_run_folder_stops_naming_the_first(finished, tmp_path):
    root, _ = finished
    args = [*TINY, "learner.updates=400", f"cache_dir={root / 'cache'}", f"hydra.run.dir={tmp_path / 'run'}"]
    first = subprocess.Popen([*ROBOT_CL, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    pid_file = tmp_path / "run" / ".robot-cl.pid"
    deadline = time.time() + 120
    while not pid_file.exists() and time.time() < deadline and first.poll() is None:
        time.sleep(0.2)
    second = run_cli(*args)
    assert first.wait(timeout=600) == 0, first.stderr.read()[-2000:]
    lines = second.stderr.strip().splitlines()
    assert second.returncode != 0 and len(lines) == 1, second.stderr[-2000:]
    assert f"in use by another robot-cl (PID {first.pid})" in lines[0]
    rows = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert len(rows) == len(set(rows)) and rows[0].startswith("time,")  # one writer: no row twice
    assert [len(list(d.iterdir())) for d in (tmp_path / "run" / "tensorboard").iterdir()] == [1, 1]  # one event file per writer


# -- kill -9 and resume ----------------------------------------------------------------------------------
def comparable(run):
    m = json.loads((run / "metrics.json").read_text())
    return {k: v for k, v in m.items() if k not in ("wall_clock_s", "videos", "run", "cache")}


def log_rows(run):
    """log.csv without its time column (and without the throughput rows, which measure the machine)."""
    rows = [r.split(",", 1)[1] for r in (run / "log.csv").read_text().splitlines()]
    return [r for r in rows if "_per_s" not in r]


def tensorboard_scalars(run):
    """TensorBoard's view of a run's scalars (it honours the purge events a resumed run writes)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = {}
    for writer in sorted((run / "tensorboard").iterdir()):
        acc = EventAccumulator(str(writer))
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            if "_per_s" not in tag:
                out[writer.name, tag] = [(e.step, round(e.value, 5)) for e in acc.Scalars(tag)]
    return out


def purge_steps(run):
    """Steps from which each TensorBoard writer of a resumed run told TensorBoard to drop older events."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    steps = {}
    for f in sorted((run / "tensorboard").rglob("events.out.tfevents.*")):
        for e in EventFileLoader(str(f)).Load():
            if e.HasField("session_log") and e.session_log.status == e.session_log.START:
                steps.setdefault(f.parent.name, []).append(e.step)
    return steps


# A real kill in the middle of writing a checkpoint: half of the second stage's file is on disk, then SIGKILL.
KILLED_IN_CHECKPOINT = """
import os, signal, sys, torch
real_save = torch.save
def save(obj, f, *args, **kw):
    real_save(obj, f, *args, **kw)
    if isinstance(obj, dict) and obj.get("stage") == 1:
        f.flush()
        f.truncate(f.tell() // 2)
        os.kill(os.getpid(), signal.SIGKILL)
torch.save = save
from robot_cl.cli import main
main()
"""


def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def kill_when(args, ready, timeout=300, command=ROBOT_CL):
    """Start a run, wait until ``ready()`` and kill it with SIGKILL; returns the worker PIDs it had."""
    proc = subprocess.Popen([*command, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    while not ready(proc.pid) and time.time() < deadline:
        assert proc.poll() is None, "the run ended before it could be killed"
        time.sleep(0.05)
    workers = children(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return workers


def gone(pids, within=90):
    deadline = time.time() + within
    while time.time() < deadline:
        alive = [p for p in pids if os.path.exists(f"/proc/{p}") and "zombie" not in Path(f"/proc/{p}/status").read_text()]
        if not alive:
            return True
        time.sleep(0.5)
    return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="worker clean-up after SIGKILL uses Linux's PR_SET_PDEATHSIG")
def test_kill_9_during_demonstrations_and_mid_stage_then_resume_gives_the_uninterrupted_run(finished, tmp_path):
    reference = finished[0] / "run"
    for when in ("demonstrations", "stage", "checkpoint"):
        run, cache = tmp_path / when, tmp_path / f"cache-{when}"
        args = [*TINY[:-1], *WORKERS, f"cache_dir={cache}", f"hydra.run.dir={run}"]
        first_checkpoint = run / "checkpoints" / "stage_00.pt"
        if when == "demonstrations":  # demonstrations are generated by two worker processes
            workers = kill_when(args, lambda pid: len(children(pid)) >= 2)
        elif when == "stage":  # after the first stage's checkpoint, during the second stage
            workers = kill_when(args, lambda pid: first_checkpoint.exists())  # noqa: B023 (called before the loop moves on)
        else:  # the process kills itself half-way through writing the second stage's checkpoint
            proc = subprocess.run([sys.executable, "-c", KILLED_IN_CHECKPOINT, *args], capture_output=True, timeout=600)
            assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
            assert list((run / "checkpoints").glob(".stage_01.pt.*.tmp")) and not (run / "checkpoints" / "stage_01.pt").exists()
            workers = []
        saved = first_checkpoint.read_bytes() if when != "demonstrations" else None
        assert (workers or when == "checkpoint") and gone(workers), f"worker processes outlived the killed run ({when})"
        out = run_cli(*args)
        assert out.returncode == 0, out.stderr[-3000:]
        if when != "demonstrations":
            assert "resuming" in out.stdout and first_checkpoint.read_bytes() == saved  # the finished stage is kept, not redone
            assert set(purge_steps(run)) == {"updates", "stages"}  # TensorBoard drops the redone stage's old events
        assert comparable(run) == comparable(reference), when
        assert log_rows(run) == log_rows(reference), when  # a header, no duplicated rows of a redone stage
        assert tensorboard_scalars(run) == tensorboard_scalars(reference), when
        assert not list(run.rglob("*.tmp")) and not list(cache.rglob("*.tmp"))


# -- divergence ------------------------------------------------------------------------------------------
def test_a_learning_rate_that_blows_up_stops_the_stage_with_one_line(finished, tmp_path):
    root, _ = finished
    out = run_cli(*TINY, "learner.lr=1e6", f"cache_dir={root / 'cache'}", f"hydra.run.dir={tmp_path / 'run'}")
    lines = out.stderr.strip().splitlines()
    assert out.returncode != 0 and len(lines) == 1, out.stderr[-2000:]
    assert "stage 0 (press_button) diverged at update" in lines[0] and "the loss is nan" in lines[0]
    assert "learner.lr (now 1000000.0)" in lines[0]
    assert not (tmp_path / "run" / "checkpoints" / "stage_00.pt").exists() and not (tmp_path / "run" / "metrics.json").exists()


@pytest.fixture
def nan_in_second_stage():
    @register_strategy
    class NaNInSecondStage(Plugin):
        """Adds a non-finite penalty from the third update of the second stage."""

        name = "nan_in_second_stage"

        def before_training_task(self, learner, task, data):
            self.task, self.updates = task, 0

        def penalty(self, learner, batch):
            self.updates += 1
            return torch.tensor(float("inf")) if self.task == 1 and self.updates >= 3 else None

    yield
    STRATEGIES.pop("nan_in_second_stage")
    ConfigStore.instance().repo["strategy"].pop("nan_in_second_stage.yaml", None)


def test_divergence_in_a_later_stage_keeps_the_last_good_checkpoint(finished, tmp_path, nan_in_second_stage):
    from robot_cl.checkpoint import load
    from robot_cl.run import train

    root, _ = finished
    cfg = cli.check_overrides([*TINY, "strategy=nan_in_second_stage", f"cache_dir={root / 'cache'}"])
    with pytest.raises(DivergedError) as e:
        train(cfg, tmp_path / "run", say=lambda msg: None)
    msg = str(e.value)
    assert msg.startswith("stage 1 (open_drawer) diverged at update 3: the loss is inf")
    assert "the last good checkpoint is checkpoints/stage_00.pt" in msg and "\n" not in msg
    assert load(tmp_path / "run" / "checkpoints")["stage"] == 0  # kept, and still the last one


def test_a_full_disk_leaves_no_temporary_file(tmp_path):
    def write(f):
        f.write(b"part of it")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError):
        atomic_write(tmp_path / "metrics.json", write)
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_during_a_run_is_one_line(tmp_path):
    """A user module makes the disk "full" when the demonstrations are written."""
    (tmp_path / "full_disk.py").write_text(
        "import errno\nfrom robot_cl import run\n\n\n"
        "def full(self):\n    raise OSError(errno.ENOSPC, 'No space left on device', str(self.cache_dir / 'demos'))\n\n\n"
        "run.Run.demonstrations = full\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = run_cli(*TINY, "imports=[full_disk]", f"cache_dir={tmp_path / 'cache'}", f"hydra.run.dir={tmp_path / 'run'}", env=env)
    lines = out.stderr.strip().splitlines()
    assert out.returncode != 0 and len(lines) == 1, out.stderr[-2000:]
    assert lines[0].startswith("robot-cl: error: No space left on device") and "Traceback" not in out.stderr


# -- user config folders -------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["--config-dir", "hydra.searchpath"])
def test_a_user_config_folder_adds_a_curriculum(tmp_path, how):
    (tmp_path / "configs" / "curriculum").mkdir(parents=True)
    (tmp_path / "configs" / "curriculum" / "mine.yaml").write_text("name: mine\nskills: [press_button]\ndemos: 3\ndemo_seed: 0\n")
    where = ["--config-dir", str(tmp_path / "configs")] if how == "--config-dir" else [f"hydra.searchpath=[file://{tmp_path / 'configs'}]"]
    cfg = cli.check_overrides([*where, "curriculum=mine"])
    assert cfg["curriculum"]["skills"] == ["press_button"] and cfg["curriculum"]["demos"] == 3
    out = run_cli(*where, "curriculum=mine", "--cfg", "job")
    assert out.returncode == 0 and "name: mine" in out.stdout, out.stderr[-2000:]
