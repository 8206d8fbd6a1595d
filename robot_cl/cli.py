"""``robot-cl``: the command-line entry point (a Hydra app over ``configs/``).

    robot-cl                                               # the default household curriculum
    robot-cl policy=flat strategy=multitask seed=3 hydra.run.dir=/tmp/run1
    robot-cl -m seed=0,1 strategy=finetune,multitask       # multirun with Hydra's basic launcher
    robot-cl mode=reference                                # single-skill reference runs (cached)

Before Hydra starts, the overrides are checked by composing the config once: an unknown skill,
policy, strategy or config group option, an unknown key or a value of the wrong type stops the run
with one line naming the bad value and the valid choices (exit code 2), before any work.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import hydra
from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from robot_cl.errors import ConfigError, RobotCLError, choices
from robot_cl.paths import CONFIGS_DIR
from robot_cl.resources import cpu_count, launcher_config, resolve_workers
from robot_cl.run import train
from robot_cl.validation import check_types, import_extensions, validate

GROUPS = ("curriculum", "policy", "learner", "strategy", "sim", "eval", "experiment")
# Keys already spelt out in the run name: a sweep over them needs no suffix on the run folder.
NAME_KEYS = ("curriculum", "policy", "learner", "strategy", "seed")
# Hydra launchers that come from optional extras: the one-line hint when one is not installed.
LAUNCHER_EXTRAS = {
    "joblib": ("hydra_plugins.hydra_joblib_launcher", "hydra-joblib-launcher"),
    "submitit_local": ("hydra_plugins.hydra_submitit_launcher", "robot_cl[slurm]"),
    "submitit_slurm": ("hydra_plugins.hydra_submitit_launcher", "robot_cl[slurm]"),
    "ray": ("hydra_plugins.hydra_ray_launcher", "hydra-ray-launcher"),  # not an extra: it pins cloudpickle 2.2.1, below joblib's >=3
}


def strategy_name(plugins) -> str:
    """Run-name part for a strategy composition: plugin names joined by '+'."""
    names = list(plugins.keys()) if plugins else []
    return "+".join(names) if names else "none"


def sweep_suffix(override_dirname: str) -> str:
    """Run-folder suffix of a sweep's job: the swept keys that the run name does not show."""
    return f"-{override_dirname.replace('/', '_')}" if override_dirname else ""


def run_dir_name(mode: str, run_name: str, from_run: str | None) -> str:
    """A run's folder name: its run name; ``mode=eval``/``adapt``: the finished run's folder name + ``-eval``/``-adapt``."""
    return f"{Path(str(from_run)).name}-{mode}" if mode in ("eval", "adapt") and from_run else run_name


def register_resolvers() -> None:
    for name, fn in (("strategy_name", strategy_name), ("sweep_suffix", sweep_suffix), ("run_dir_name", run_dir_name)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


# Hydra's command-line flags that take a value (the value is not an override).
VALUE_FLAGS = ("--config-dir", "-cd", "--config-path", "-cp", "--config-name", "-cn", "--experimental-rerun", "--package", "-p")


def split_args(args: list[str]) -> tuple[dict[str, str], list[str]]:
    """Hydra's flags with values (``--config-dir DIR`` or ``--config-dir=DIR``) and the overrides."""
    flags, overrides, it = {}, [], iter(args)
    for a in it:
        name = a.split("=", 1)[0]
        if name in VALUE_FLAGS:
            flags[name] = a.split("=", 1)[1] if "=" in a else next(it, "")
        elif not a.startswith("-"):
            overrides.append(a)
    return flags, overrides


def user_config_dirs(args: list[str]) -> list[Path]:
    """Config folders a user adds to Hydra's search path: ``--config-dir`` and ``hydra.searchpath=[file://...]``."""
    flags, overrides = split_args(args)
    dirs = [flags.get("--config-dir") or flags.get("-cd")]
    for o in overrides:
        if o.lstrip("+").startswith("hydra.searchpath="):
            items = o.split("=", 1)[1].strip("[]").split(",")
            dirs += [i.strip().strip("'\"").removeprefix("file://") for i in items if i.strip().strip("'\"").startswith("file://")]
    return [Path(d).absolute() for d in dirs if d]


def group_options(group: str, extra_dirs: list[Path] = ()) -> list[str]:
    """A config group's options: its YAML files (built in and in the user's config folders) and the
    nodes registered in Hydra's ConfigStore (every registered strategy has one, built from its constructor)."""
    files = {p.stem for d in [CONFIGS_DIR, *extra_dirs] for p in (d / group).glob("*.yaml")}
    stored = {name.removesuffix(".yaml") for name in ConfigStore.instance().repo.get(group, {})}
    return sorted(files | stored)


def _one_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def check_overrides(args: list[str]) -> dict:
    """Compose the config for these command-line overrides and validate it; returns the plain config.

    Sweeps (``-m seed=0,1``) are checked value by value for config groups and composed with
    their first value otherwise.
    """
    plain = compose_overrides(args)
    flags, overrides = split_args(args)
    choices_only = [a for a in overrides if a.split("=", 1)[0].lstrip("+~") in GROUPS or a.startswith(("imports=", "hydra.", "hydra/"))]
    check_types(plain, compose_overrides([x for flag in flags.items() for x in flag] + choices_only))  # the defaults are the schema
    validate(plain)
    return plain


def compose_overrides(args: list[str]) -> dict:
    """The plain config for these overrides (group options and keys checked), without :func:`validate`."""
    _, overrides = split_args(args)
    extra_dirs = user_config_dirs(args)
    for d in extra_dirs:
        if not d.is_dir():
            raise ConfigError(f"config folder {d} does not exist (--config-dir or hydra.searchpath)")
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception as e:
        raise ConfigError(f"malformed override: {_one_line(e)}") from None
    for o in parsed:  # user modules first: the strategies, policies or learners they register are options too
        if o.key_or_group == "imports" and isinstance(o.value(), list):
            import_extensions([str(m) for m in o.value()])
    first = []
    for o in parsed:
        key = o.key_or_group
        values = list(o.sweep_string_iterator()) if o.is_sweep_override() else [o.value()]
        group = key.lstrip("+~")
        if group in GROUPS:
            valid = group_options(group, extra_dirs)
            for v in values:
                for option in v if isinstance(v, list) else [v]:
                    if str(option) not in valid:
                        raise ConfigError(f"unknown {group} {option!r}; valid: {choices(valid)}")
        if o.is_sweep_override():
            first.append(f"{o.get_key_element()}={values[0]}")
        elif not key.lstrip("+").startswith("hydra.searchpath"):
            first.append(o.input_line)
    if extra_dirs:  # --config-dir's folder is searched as Hydra will (compose() takes it as a search path)
        first.append("hydra.searchpath=[" + ",".join(f"'file://{d}'" for d in extra_dirs) + "]")
    register_resolvers()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONFIGS_DIR), version_base="1.3"):
            cfg = compose("config", overrides=first)
        plain = OmegaConf.to_container(cfg, resolve=True)
    except Exception as e:
        msg = _one_line(e)
        if "Could not override" in msg:
            key = msg.split("'")[1] if "'" in msg else "?"
            parent = key.rpartition(".")[0]
            cause = str(e.__cause__ or "")
            deeper = cause.split("full_key:")[1].split()[0] if "full_key:" in cause else key
            if deeper.startswith(key + "."):  # the key exists; its new value adds keys the default lacks
                raise ConfigError(
                    f"cannot override {key!r}: {_one_line(e.__cause__ or e)}; "
                    f"use ++{key}=... to replace its value, or +{key}.<new key>=... to add one key"
                ) from None
            raise ConfigError(
                f"unknown config key {key!r}; valid keys{' under ' + parent if parent else ''}: "
                f"{choices(_keys(parent))} (prefix + to add a new key, ~ to delete one)"
            ) from None
        if "Error merging override" in msg and e.__cause__ is not None:  # a typed node refused the value
            override = msg.split("Error merging override", 1)[1].strip()
            raise ConfigError(f"{override}: {_one_line(e.__cause__)}") from None
        raise ConfigError(f"invalid configuration: {msg}") from None
    finally:
        GlobalHydra.instance().clear()
    return plain


def _keys(parent: str) -> list[str]:
    """Keys of the default config under ``parent`` (dotted path), for error messages."""
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONFIGS_DIR), version_base="1.3"):
            node = OmegaConf.to_container(compose("config"), resolve=False)
    finally:
        GlobalHydra.instance().clear()
    for part in filter(None, parent.split(".")):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return list(node) if isinstance(node, dict) else []


def sweep_overrides(args: list[str]) -> list[str]:
    """Hydra overrides a multirun (``-m``) adds: the joblib launcher's number of parallel jobs (the
    sweep's size, at most one job per ``threads`` cores, unless given) and, for the run folders, which
    keys to leave out of the suffix (those not swept, and those the run name shows)."""
    parsed = OverridesParser.create().parse_overrides(split_args(args)[1])
    task = [o for o in parsed if not o.key_or_group.startswith("hydra")]
    swept = {o.key_or_group for o in task if o.is_sweep_override()}
    fixed = sorted({o.key_or_group for o in task} - swept)
    excluded = list(dict.fromkeys([*NAME_KEYS, *fixed]))
    extra = ["hydra.job.config.override_dirname.exclude_keys=[" + ",".join(repr(k) for k in excluded) + "]"]
    launcher = next((o.value() for o in parsed if o.key_or_group == "hydra/launcher"), "joblib")
    given_keys = {o.key_or_group for o in parsed}
    jobs = 1
    for o in task:
        if o.is_sweep_override():
            try:
                jobs *= len(list(o.sweep_string_iterator()))
            except Exception:  # a sweep that cannot be enumerated here (an interval): use every core
                jobs = cpu_count()
    threads = next((int(o.value()) for o in task if o.key_or_group == "threads" and str(o.value()).isdigit()), 1)
    if launcher == "joblib" and "hydra.launcher.n_jobs" not in given_keys:
        extra.append(f"hydra.launcher.n_jobs={max(1, min(jobs, cpu_count() // max(1, threads)))}")
    if launcher == "submitit_local" and "hydra.launcher.cpus_per_task" not in given_keys:
        extra.append(f"hydra.launcher.cpus_per_task={max(1, cpu_count() // jobs)}")  # it starts every job at once
    return extra


def check_launcher(args: list[str]) -> None:
    """A launcher whose plugin is not installed: one line naming what to install."""
    import importlib.util

    for a in args:
        if a.startswith("hydra/launcher="):
            name = a.split("=", 1)[1]
            if name == "basic":
                continue
            if name not in LAUNCHER_EXTRAS:
                raise ConfigError(f"unknown hydra/launcher {name!r}; valid: {choices(['basic', *LAUNCHER_EXTRAS])}")
            module, extra = LAUNCHER_EXTRAS[name]
            if importlib.util.find_spec(module) is None:
                raise ConfigError(f"hydra/launcher={name} is not installed; pip install '{extra}'")


def check_output_dir(args: list[str]) -> None:
    """The run (or sweep) folder can be created: one line naming the folder otherwise, before Hydra
    starts (an interpolated folder is checked up to its first ``${``)."""
    multirun = "-m" in args or "--multirun" in args
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    given = next((o.split("=", 1)[1] for o in split_args(args)[1] if o.lstrip("+").startswith(key + "=")), None)
    folder = Path((given or ("multirun" if multirun else "outputs")).split("${")[0] or ".").absolute()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise PermissionError(13, "Permission denied")
    except OSError as e:
        raise ConfigError(f"cannot create the output folder {folder} ({e.strerror}); choose another {key}") from None


def write_hydra_files(run_dir: Path, cfg: DictConfig) -> None:
    """``.hydra/`` of an accepted run (Hydra's own copy is turned off, ``hydra.output_subdir: null``, so
    that a refused command on an existing folder leaves it as it was)."""
    out = run_dir / ".hydra"
    out.mkdir(exist_ok=True)
    hc = HydraConfig.get()
    OmegaConf.save(cfg, out / "config.yaml")
    OmegaConf.save(OmegaConf.create({"hydra": OmegaConf.to_container(hc, resolve=False)}), out / "hydra.yaml")
    OmegaConf.save(OmegaConf.create(list(hc.overrides.task)), out / "overrides.yaml")


@hydra.main(config_path=str(CONFIGS_DIR), config_name="config", version_base="1.3")
def _app(cfg: DictConfig) -> None:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    plain = OmegaConf.to_container(cfg, resolve=True)
    launcher = launcher_config()
    plain["workers"] = resolve_workers(plain["workers"], launcher)  # this job's share of the cores
    say = print if launcher is None else (lambda msg: print("\n".join(f"[{run_dir.name}] {ln}" for ln in msg.splitlines()), flush=True))
    try:
        train(plain, run_dir, say=say, on_start=lambda: write_hydra_files(run_dir, cfg))
    except RobotCLError as e:
        print(f"robot-cl: error: {e}", file=sys.stderr)
        sys.exit(2)
    except OSError as e:  # a full disk, a folder that became unwritable: what failed, where
        where = f" ({e.filename})" if e.filename else ""
        print(f"robot-cl: error: {e.strerror or e}{where}; the run's checkpoints so far are kept", file=sys.stderr)
        sys.exit(1)


def main() -> None:
    """Console-script entry point."""
    register_resolvers()
    # Hydra's argparse takes its flags only before the overrides: `robot-cl seed=1 -m strategy=a,b`
    # would fail with "unrecognized arguments", so -m/--multirun moves to the front.
    flags = [a for a in sys.argv[1:] if a in ("-m", "--multirun")]
    sys.argv = [sys.argv[0], *flags, *(a for a in sys.argv[1:] if a not in flags)]
    args = sys.argv[1:]
    if not any(a in ("--help", "-h", "--hydra-help", "--info") or a.startswith("--cfg") for a in args):
        try:
            check_launcher(args)
            check_overrides(args)
            check_output_dir(args)
            if "-m" in args or "--multirun" in args:
                sys.argv += sweep_overrides(args)
        except RobotCLError as e:
            print(f"robot-cl: error: {e}", file=sys.stderr)
            sys.exit(2)
    _app()


if __name__ == "__main__":
    main()
