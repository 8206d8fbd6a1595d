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

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from robot_cl.errors import ConfigError, RobotCLError, choices
from robot_cl.paths import CONFIGS_DIR

GROUPS = ("curriculum", "policy", "learner", "strategy", "sim", "eval", "experiment")


def strategy_name(plugins) -> str:
    """Run-name part for a strategy composition: plugin names joined by '+'."""
    names = list(plugins.keys()) if plugins else []
    return "+".join(names) if names else "none"


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("strategy_name"):
        OmegaConf.register_new_resolver("strategy_name", strategy_name)


def group_options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIGS_DIR / group).glob("*.yaml"))


def _one_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def check_overrides(args: list[str]) -> dict:
    """Compose the config for these command-line overrides and validate it; returns the plain config.

    Sweeps (``-m seed=0,1``) are checked value by value for config groups and composed with
    their first value otherwise.
    """
    from robot_cl.run import validate

    plain = compose_overrides(args)
    validate(plain)
    return plain


def compose_overrides(args: list[str]) -> dict:
    """The plain config for these overrides (group options and keys checked), without :func:`validate`."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser

    overrides = [a for a in args if not a.startswith("-")]
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception as e:
        raise ConfigError(f"malformed override: {_one_line(e)}") from None
    first = []
    for o in parsed:
        key = o.key_or_group
        values = list(o.sweep_string_iterator()) if o.is_sweep_override() else [o.value()]
        group = key.lstrip("+~")
        if group in GROUPS:
            valid = group_options(group)
            for v in values:
                for option in v if isinstance(v, list) else [v]:
                    if str(option) not in valid:
                        raise ConfigError(f"unknown {group} {option!r}; valid: {choices(valid)}")
        if o.is_sweep_override():
            first.append(f"{o.get_key_element()}={values[0]}")
        else:
            first.append(o.input_line)
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
        raise ConfigError(f"invalid configuration: {msg}") from None
    finally:
        GlobalHydra.instance().clear()
    return plain


def _keys(parent: str) -> list[str]:
    """Keys of the default config under ``parent`` (dotted path), for error messages."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONFIGS_DIR), version_base="1.3"):
            node = OmegaConf.to_container(compose("config"), resolve=False)
    finally:
        GlobalHydra.instance().clear()
    for part in filter(None, parent.split(".")):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return list(node) if isinstance(node, dict) else []


@hydra.main(config_path=str(CONFIGS_DIR), config_name="config", version_base="1.3")
def _app(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    from robot_cl.run import train

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        train(OmegaConf.to_container(cfg, resolve=True), run_dir)
    except RobotCLError as e:
        print(f"robot-cl: error: {e}", file=sys.stderr)
        sys.exit(2)


def main() -> None:
    """Console-script entry point."""
    register_resolvers()
    args = sys.argv[1:]
    if not any(a in ("--help", "-h", "--hydra-help", "--info") or a.startswith("--cfg") for a in args):
        try:
            check_overrides(args)
        except RobotCLError as e:
            print(f"robot-cl: error: {e}", file=sys.stderr)
            sys.exit(2)
    _app()


if __name__ == "__main__":
    main()
