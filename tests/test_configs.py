"""Every config option composes and validates, and every key of every config is read by some code."""

import ast
from pathlib import Path

import pytest

import robot_cl
from robot_cl.cli import GROUPS, check_overrides, compose_overrides, group_options

OPTIONS = [(g, o) for g in GROUPS for o in group_options(g)]
FREE_FORM = ("curriculum.tasks.", "curriculum.skill_config.", "curriculum.task_defaults.", "sim.entities.", "sim.objects.")


@pytest.mark.parametrize("group, option", OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_option_of_every_group_composes_and_validates(group, option):
    override = f"+{group}={option}" if group == "experiment" else f"{group}={option}"
    extra = ["policy.per_task_modules=true"] if option == "modular" else []
    cfg = check_overrides([override, *extra, "policy=flat"] if group == "curriculum" and option.startswith("cw") else [override, *extra])
    assert cfg["run_name"]


def leaf_keys(node, prefix=""):
    if isinstance(node, dict):
        for k, v in node.items():
            if isinstance(v, dict) and v:
                yield from leaf_keys(v, f"{prefix}{k}.")
            else:
                yield f"{prefix}{k}"


def names_in_code() -> set[str]:
    """Every string constant, attribute, keyword and parameter name in robot_cl's code (how a key is read)."""
    out: set[str] = set()
    for path in Path(robot_cl.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                out.add(node.value)
            elif isinstance(node, ast.Attribute):
                out.add(node.attr)
            elif (isinstance(node, ast.keyword) and node.arg) or isinstance(node, ast.arg):
                out.add(node.arg)
    return out


def test_every_config_key_is_read_somewhere():
    seen = names_in_code()
    keys: set[str] = set()
    for group, option in OPTIONS:
        override = f"+{group}={option}" if group == "experiment" else f"{group}={option}"
        keys.update(k for k in leaf_keys(compose_overrides([override])) if not k.startswith(FREE_FORM))
    unread = sorted(k for k in keys if k.rsplit(".", 1)[-1] not in seen)
    assert unread == [], f"config keys no code reads: {unread}"
    assert len(keys) > 100  # the scan saw the composed configs


def test_the_check_catches_a_key_nothing_reads():
    cfg = compose_overrides(["+eval.video.never_read_anywhere=1"])
    assert "never_read_anywhere" not in names_in_code() and "eval.video.never_read_anywhere" in set(leaf_keys(cfg))
