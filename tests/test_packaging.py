"""A non-editable install works: the built-in configs, skills and scene ship with the package."""

import ast
import json
import os
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

import robot_cl
from robot_cl.paths import REPO_ROOT

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


def test_every_package_is_listed_in_pyproject():
    listed = {p for p in PYPROJECT["tool"]["setuptools"]["packages"] if not p.startswith("robot_cl._data")}
    found = {".".join(p.parent.relative_to(REPO_ROOT).parts) for p in (REPO_ROOT / "robot_cl").rglob("__init__.py")}
    assert listed == found


@pytest.mark.slow
def test_a_wheel_installed_in_a_fresh_venv_runs_robot_cl(tmp_path):
    """Build a wheel, install it (not editable) into a new venv whose dependencies come from this one,
    and run ``robot-cl curriculum=mini eval=quick`` from a folder that is not the checkout."""
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(REPO_ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    bin_dir = env_dir / "bin"
    site = next((env_dir / "lib").glob("python3.*")) / "site-packages"
    deps = [p for p in sys.path if p.endswith("site-packages")]
    (site / "deps.pth").write_text("\n".join(deps) + "\n")  # the dependencies, without this checkout's editable install
    wheel = next(wheels.glob("robot_cl-*.whl"))
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    script = bin_dir / "robot-cl"
    # the console script as pip writes it (the __main__ guard matters: spawned worker processes re-import it)
    script.write_text(
        f"#!{bin_dir / 'python'}\nimport sys\nfrom robot_cl.cli import main\nif __name__ == '__main__':\n    sys.exit(main())\n"
    )
    script.chmod(0o755)

    work = tmp_path / "work"
    work.mkdir()
    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import robot_cl, robot_cl.paths as p; print(robot_cl.__file__, p.IN_CHECKOUT)"],
        capture_output=True,
        text=True,
        cwd=work,
    )
    location, in_checkout = where.stdout.split()
    assert Path(location).is_relative_to(site) and in_checkout == "False"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    args = ["curriculum=mini", "eval=quick", "curriculum.demos=3", "learner.updates=30", "progress=false", "hydra.run.dir=run"]
    out = subprocess.run([str(script), *args], capture_output=True, text=True, cwd=work, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    metrics = json.loads((work / "run" / "metrics.json").read_text())
    assert metrics["tasks"] == ["press_button", "open_drawer"] and (work / ".cache" / "demos").is_dir()  # outputs in the working folder


def test_the_installed_data_mirrors_the_checkout():
    """What the wheel maps into robot_cl/_data is exactly the checkout's configs, skills and sims."""
    mapping = PYPROJECT["tool"]["setuptools"]["package-dir"]
    assert {mapping[f"robot_cl._data.{d}"] for d in ("configs", "skills", "sims")} == {"configs", "skills", "sims"}
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]
    configs = {p.relative_to(REPO_ROOT / "configs") for p in (REPO_ROOT / "configs").rglob("*") if p.is_file()}
    covered = {c for c in configs if any(c.match(pat) for pat in patterns["robot_cl._data.configs"])}
    assert covered == configs
    assert all(ast.parse(p.read_text()) for p in (REPO_ROOT / "skills").glob("*.py"))
    assert Path(robot_cl.paths.CONFIGS_DIR) == REPO_ROOT / "configs"  # in a checkout, the top-level folders
