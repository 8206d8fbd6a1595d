"""Every check of a run's config that can be made before any work: one-line errors naming the bad value
and the valid choices (:class:`robot_cl.errors.ConfigError`)."""

from __future__ import annotations

import importlib

from robot_cl import from_run, tasks
from robot_cl.errors import ConfigError, choices
from robot_cl.learners import LEARNERS
from robot_cl.paths import add_skill_dirs, resolve
from robot_cl.policies import POLICIES
from robot_cl.sim import shift
from robot_cl.sim.backend import BACKENDS
from robot_cl.strategies import STRATEGIES, make_plugins


def _expect(cond: bool, message: str) -> None:
    if not cond:
        raise ConfigError(message)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def import_extensions(modules: list[str]) -> None:
    """Import user modules that register strategies, policies or learners (``imports=[...]``)."""
    for name in modules or []:
        try:
            importlib.import_module(name)
        except Exception as e:
            raise ConfigError(
                f"cannot import {name!r} listed in imports: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            ) from None


def _kind(v) -> str:
    if isinstance(v, bool):
        return "true or false"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, float):
        return "a number"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "a mapping"
    return "a string"


def _fits(value, default) -> bool:
    """Whether ``value`` has the type of ``default`` (ints fit floats; a list of numbers stays one)."""
    if default is None or (isinstance(default, str) and not isinstance(value, (list, dict))):
        return True  # nullable keys and strings take any scalar (a name such as 0.1 or 1 is fine)
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) == isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if isinstance(default, int):
        return isinstance(value, int)
    if isinstance(default, list):
        numbers = default and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in default)
        return isinstance(value, list) and (not numbers or all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value))
    if isinstance(default, dict):
        return isinstance(value, dict)
    return True


def check_types(cfg: dict, defaults: dict, where: str = "") -> None:
    """Every value has the type of its default (the config groups' YAML files and the strategies'
    typed nodes are the schema): one line naming the key, the value and the expected type."""
    for key, default in defaults.items():
        if key not in cfg or key == "hydra":
            continue
        value, name = cfg[key], f"{where}{key}"
        if name in ("sim.shift", "sim.shifts"):  # scales or [low, high] ranges per key: robot_cl.sim.shift.check says which
            continue
        if isinstance(default, dict) and isinstance(value, dict):
            check_types(value, default, name + ".")
        elif not _fits(value, default):
            kind = _kind(default) + (" of numbers" if isinstance(default, list) and default else "")
            raise ConfigError(f"{name} must be {kind} (default {default!r}), got {value!r}")


def validate(cfg: dict) -> None:
    """One-line errors for unknown names and values of the wrong type, before any work starts."""
    _validate_run(cfg)
    _validate_curriculum(cfg)
    _validate_learner(cfg)
    _validate_eval(cfg)
    _validate_task_free(cfg)


def _validate_run(cfg: dict) -> None:
    """Top-level keys: extension imports, skill folders, mode, seed, cores, resumption, device."""
    _expect(isinstance(cfg.get("imports", []), list), f"imports must be a list of module names, got {cfg.get('imports')!r}")
    import_extensions(cfg.get("imports", []))
    _expect(isinstance(cfg["skills_dirs"], list), f"skills_dirs must be a list of folders, got {cfg['skills_dirs']!r}")
    for d in cfg["skills_dirs"]:
        _expect(resolve(d).is_dir(), f"skills_dirs names {d!r}, which is not a folder")
    add_skill_dirs(cfg["skills_dirs"])
    modes = ("adapt", "eval", "reference", "train")
    _expect(cfg["mode"] in modes, f"unknown mode {cfg['mode']!r}; valid: {', '.join(modes)}")
    if cfg["mode"] in ("eval", "adapt"):
        from_run.source(cfg)  # a finished run to start from: one line otherwise
        _expect(
            cfg["mode"] == "eval" or bool(cfg["eval"]["shifts"]),
            "mode=adapt adapts to the shifts named in eval.shifts, and none is named; e.g. eval.shifts=[weak_servos]",
        )
    _expect(_is_int(cfg["seed"]), f"seed must be an integer, got {cfg['seed']!r}")
    _expect(
        cfg["workers"] == "auto" or (_is_int(cfg["workers"]) and cfg["workers"] > 0),
        f"workers must be auto or a positive integer, got {cfg['workers']!r}",
    )
    _expect(_is_int(cfg["threads"]) and cfg["threads"] > 0, f"threads must be a positive integer, got {cfg['threads']!r}")
    _expect(
        cfg["resume_from"] is None or _is_int(cfg["resume_from"]),
        f"resume_from must be a stage index, got {cfg['resume_from']!r}",
    )
    sim = cfg["sim"]
    _expect(sim["backend"] in BACKENDS, f"unknown sim.backend {sim['backend']!r}; valid: {choices(BACKENDS)}")
    _expect(sim["timestep"] > 0, f"sim.timestep must be a positive number of seconds, got {sim['timestep']!r}")
    _expect(_is_int(sim["frame_skip"]) and sim["frame_skip"] > 0, f"sim.frame_skip must be a positive integer, got {sim['frame_skip']!r}")
    _expect(sim["fixture_jitter"] >= 0, f"sim.fixture_jitter must be >= 0, got {sim['fixture_jitter']!r}")
    shift.check(sim["shift"])
    dev = str(cfg["device"])
    _expect(dev in ("auto", "cpu", "cuda") or dev.startswith("cuda:"), f"unknown device {dev!r}; valid: auto, cpu, cuda, cuda:N")


def _validate_curriculum(cfg: dict) -> None:
    """The skills (or external tasks) and their demonstrations, and the policy that can learn them."""
    cur = cfg["curriculum"]
    skills = cur["skills"]
    _expect(isinstance(skills, list) and len(skills) > 0, f"curriculum.skills must be a non-empty list, got {skills!r}")
    _expect(len(set(map(str, skills))) == len(skills), f"curriculum.skills lists a skill twice: {skills}")
    for key in ("demos", "demo_seed"):
        _expect(
            _is_int(cur[key]) and cur[key] >= (1 if key == "demos" else 0),
            f"curriculum.{key} must be a positive integer, got {cur[key]!r}",
        )
    for s in cur.get("skill_config") or {}:
        _expect(s in skills, f"curriculum.skill_config names {s!r}, which is not in curriculum.skills: {', '.join(skills)}")
    _expect(cfg["policy"].get("name") in POLICIES, f"unknown policy {cfg['policy'].get('name')!r}; valid: {choices(POLICIES)}")
    tasks.validate_curriculum(cur, cfg["policy"]["name"])  # unknown skills, external tasks' env ids, experts, success keys
    tasks.check_scene_fit(cur, cfg["sim"])  # each skill on its engine's scene: names, entities, extra scene queries


def _validate_learner(cfg: dict) -> None:
    """The learner, its budgets, and the strategies' names."""
    _expect(cfg["learner"].get("name") in LEARNERS, f"unknown learner {cfg['learner'].get('name')!r}; valid: {choices(LEARNERS)}")
    plugins = cfg["strategy"].get("plugins") or {}
    _expect(isinstance(plugins, dict), f"strategy.plugins must be a mapping of strategy names to settings, got {plugins!r}")
    for name in plugins:
        _expect(name in STRATEGIES, f"unknown strategy {name!r}; valid: {choices(STRATEGIES)}")
    make_plugins(plugins)  # the constructors check their hyper-parameters' ranges (cheap: nothing is allocated yet)
    learner = cfg["learner"]
    learner_cls = LEARNERS[learner["name"]]
    for name in plugins:
        _expect(
            not STRATEGIES[name].needs_demos or learner_cls.needs_demos,
            f"strategy {name!r} trains on demonstrations, learner {learner['name']!r} does not; valid learners for it: "
            f"{choices([n for n, c in LEARNERS.items() if c.needs_demos])}",
        )
    if hasattr(learner_cls, "policy_config"):
        learner_cls.policy_config(cfg["policy"], learner)  # a learner may refuse a policy (one-line error)
    for key in (learner_cls.budget_key, "batch_size"):
        _expect(_is_int(learner[key]) and learner[key] > 0, f"learner.{key} must be a positive integer, got {learner[key]!r}")
    _expect(
        isinstance(learner["lr"], (int, float)) and learner["lr"] > 0,
        f"learner.lr must be a positive number, got {learner['lr']!r}",
    )
    if "n_envs" in learner:  # RL learners: collection settings
        n = learner["n_envs"]
        _expect(_is_int(n) and n > 0, f"learner.n_envs must be a positive integer, got {n!r}")
        w = learner.get("workers")
        _expect(w is None or (_is_int(w) and w > 0), f"learner.workers must be null (one per env) or a positive integer, got {w!r}")


def _validate_eval(cfg: dict) -> None:
    """Evaluation episodes and seeds (above the demonstrations'), and the recovery protocol."""
    cur = cfg["curriculum"]
    ev = cfg["eval"]
    for key in ("episodes", "curve_episodes", "seed_start"):
        _expect(_is_int(ev[key]) and ev[key] > 0, f"eval.{key} must be a positive integer, got {ev[key]!r}")
    _expect(_is_int(ev["curve_points"]) and ev["curve_points"] >= 1, f"eval.curve_points must be >= 1, got {ev['curve_points']!r}")
    _expect(ev["seed_start"] >= cur["demo_seed"] + cur["demos"], "eval.seed_start must be above the demonstration seeds")
    _expect(isinstance(ev["unseen"], bool), f"eval.unseen must be true or false, got {ev['unseen']!r}")
    _expect(isinstance(ev["shifts"], list), f"eval.shifts must be a list of names from sim.shifts, got {ev['shifts']!r}")
    library = cfg["sim"].get("shifts") or {}
    _expect(isinstance(library, dict), f"sim.shifts must map names to shifts (sim.shift keys), got {library!r}")
    for name, spec in library.items():
        shift.check_named(name, spec)
    shift.named(cfg["sim"], ev["shifts"])
    n = ev["shift_episodes"]
    _expect(_is_int(n) and n > 0, f"eval.shift_episodes must be a positive integer, got {n!r}")
    rec = ev["recovery"]
    for key in ("check_every", "max_updates", "episodes"):
        _expect(_is_int(rec[key]) and rec[key] > 0, f"eval.recovery.{key} must be a positive integer, got {rec[key]!r}")


def _validate_task_free(cfg: dict) -> None:
    """``policy.task_id=false`` (no task id when acting) and ``stream.enabled`` (no task boundaries)."""
    demos_learners = choices([n for n, c in LEARNERS.items() if c.needs_demos])
    task_id = cfg["policy"].get("task_id", True)
    _expect(isinstance(task_id, bool), f"policy.task_id must be true or false, got {task_id!r}")
    if not task_id:
        _expect(
            LEARNERS[cfg["learner"]["name"]].needs_demos,
            f"policy.task_id=false routes behaviour-cloned policies; learner {cfg['learner']['name']!r} acts on the task id; "
            f"valid learners: {demos_learners}",
        )
    st = cfg["stream"]
    _expect(isinstance(st["enabled"], bool), f"stream.enabled must be true or false, got {st['enabled']!r}")
    if not st["enabled"]:
        return
    _expect(
        LEARNERS[cfg["learner"]["name"]].needs_demos,
        f"stream.enabled=true streams demonstrations; learner {cfg['learner']['name']!r} collects its own; "
        f"valid learners: {demos_learners}",
    )
    _expect(not task_id, "stream.enabled=true: the learner never learns which skill is which, so set policy.task_id=false as well")
    _expect(
        not cfg["policy"].get("learned_primitives", False),
        "stream.enabled=true streams one data group; policy.learned_primitives=true trains two, use learned_primitives=false",
    )
    for name in cfg["strategy"].get("plugins") or {}:
        _expect(
            not STRATEGIES[name].needs_boundaries,
            f"strategy {name!r} needs announced task boundaries and cannot learn from a stream; valid with stream.enabled=true: "
            f"{choices([n for n, c in STRATEGIES.items() if not c.needs_boundaries])}",
        )
    det = st["detector"]
    for key, v, ok, rule in (
        ("blend", st["blend"], 0 <= st["blend"] <= 1, "in [0, 1]"),
        ("window", st["window"], _is_int(st["window"]) and st["window"] > 0, "a positive integer"),
        ("tolerance", st["tolerance"], 0 < st["tolerance"] <= 0.5, "in (0, 0.5]"),
        ("detector.warmup", det["warmup"], _is_int(det["warmup"]) and det["warmup"] > 0, "a positive integer"),
        ("detector.smoothing", det["smoothing"], _is_int(det["smoothing"]) and det["smoothing"] > 0, "a positive integer"),
        ("detector.threshold", det["threshold"], 0 < det["threshold"] < 1, "in (0, 1)"),
        ("detector.quantile", det["quantile"], 0 < det["quantile"] <= 1, "in (0, 1]"),
        ("detector.margin", det["margin"], det["margin"] > 0, "> 0"),
    ):
        _expect(ok, f"stream.{key} must be {rule}, got {v!r}")
