"""The module graph: no import cycle among robot_cl's modules, no robot_cl import hidden inside a function,
and every module importable on its own in a fresh interpreter."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import robot_cl

ROOT = Path(robot_cl.__file__).parent


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        if "_data" not in parts and parts[-1] != "__main__":  # a __main__ runs its command when imported
            out[".".join(parts)] = path
    return out


MODULES = modules()


def _resolve(name: str, level: int, current: str, is_package: bool) -> str:
    if level == 0:
        return name
    base = current.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def top_level_imports(name: str, path: Path) -> set[str]:
    """robot_cl modules this module imports when it is imported (not under ``if TYPE_CHECKING``)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()

    def visit(nodes):
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                mod = _resolve(node.module or "", node.level, name, path.name == "__init__.py")
                subs = {f"{mod}.{a.name}" for a in node.names} & MODULES.keys()  # `from package import submodule`
                found.update(subs)
                if len(subs) < len(node.names):  # names defined by the module itself
                    found.add(mod)
            elif isinstance(node, (ast.If, ast.Try, ast.With)):
                visit(node.body)
                visit(getattr(node, "orelse", []))
                for h in getattr(node, "handlers", []):
                    visit(h.body)

    visit(tree.body)
    return {m for m in found if m in MODULES and m != name}


def test_no_import_cycle_among_robot_cl_modules():
    graph = {name: top_level_imports(name, path) for name, path in MODULES.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := dfs(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for name in sorted(graph):
        if name not in state:
            cycle = dfs(name)
            assert cycle is None, "import cycle: " + " -> ".join(cycle)
    assert graph["robot_cl.run"] >= {"robot_cl.validation", "robot_cl.protocol", "robot_cl.stages"}  # the scan sees imports


def test_no_robot_cl_module_is_imported_inside_a_function():
    hidden = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for sub in ast.walk(node):
                    mods = (
                        [a.name for a in sub.names]
                        if isinstance(sub, ast.Import)
                        else [sub.module or ""]
                        if isinstance(sub, ast.ImportFrom)
                        else []
                    )
                    hidden += [
                        f"{name}:{sub.lineno} imports {m}"
                        for m in mods
                        if m.startswith("robot_cl") or (isinstance(sub, ast.ImportFrom) and sub.level)
                    ]
    assert hidden == []


# A parent that has imported the third-party libraries but no robot_cl module forks one child per module:
# each child imports that robot_cl module first, in a process where no other robot_cl module was loaded.
ALONE = """
import importlib, os, sys
import gymnasium, hydra, matplotlib, mujoco, numpy, omegaconf, scipy.stats, torch  # third-party only
assert not [m for m in sys.modules if m.startswith("robot_cl")]
for name in sys.argv[1:]:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            importlib.import_module(name)
            msg = ""
        except BaseException as e:  # SystemExit too: a module must not run anything when imported
            msg = f"{name}: {type(e).__name__}: {e}"
        os.write(w, msg.encode()[:4000])
        os._exit(0)
    os.close(w)
    msg = os.read(r, 4096).decode()
    os.waitpid(pid, 0)
    if msg:
        print(msg)
"""


def test_every_module_imports_alone():
    out = subprocess.run([sys.executable, "-c", ALONE, *sorted(MODULES)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("name", ["robot_cl", "robot_cl.tasks", "robot_cl.report"])
def test_light_entry_points_do_not_load_the_physics_or_torch_eagerly(name):
    """``import robot_cl`` (gymnasium registration) and the task layer stay free of MuJoCo's renderer and
    of Meta-World; the report tool loads no simulator."""
    code = f"import sys, {name}; print(sorted(m for m in ('metaworld', 'robot_cl.sim.mujoco') if m in sys.modules))"

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr[-500:]


def test_the_command_line_starts_without_the_report_libraries():
    """scipy.stats and matplotlib cost seconds of start-up: a command that stops at a bad override must not pay for them."""
    code = "import sys, robot_cl.cli; print(sorted(m for m in ('scipy.stats', 'matplotlib.pyplot') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr[-2000:]
