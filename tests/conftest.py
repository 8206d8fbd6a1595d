"""Shared fixtures. Importing robot_cl selects headless rendering (MUJOCO_GL) before MuJoCo loads."""

import pytest

import robot_cl  # noqa: F401  (selects MUJOCO_GL before any test imports MuJoCo)


@pytest.fixture(scope="session")
def demo_sets(tmp_path_factory):
    """Five demonstrations each of two skills (generated once per test session)."""
    from robot_cl import demos

    return demos.load_or_generate(["press_button", "open_drawer"], range(0, 5), tmp_path_factory.mktemp("demos"))


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module of tiny networks (a second intra-op thread only spin-waits on a busy machine)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


CHROMIUM = "/usr/bin/chromium"  # Debian's chromium, installed by `make test` (scripts/setup.sh --browser)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium driven by Playwright (no browser download: the system's chromium)."""
    import os

    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), f"{CHROMIUM} is missing: `make test` installs it (scripts/setup.sh --browser)"
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def open_page(browser, tmp_path):
    """Open a file:// page; returns what a reader would see: console errors, images, videos, a screenshot."""
    import numpy as np
    from PIL import Image

    def load(path):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"file://{path}")
        page.wait_for_load_state("load")
        page.wait_for_function("Array.from(document.querySelectorAll('video')).every(v => v.readyState >= 1 || v.error)", timeout=30_000)
        images = page.evaluate("Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0)")
        videos = page.evaluate("Array.from(document.querySelectorAll('video')).map(v => v.error ? -1 : v.duration)")
        shot = tmp_path / f"shot-{len(list(tmp_path.glob('shot-*')))}.png"
        page.screenshot(path=str(shot), full_page=True)
        pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
        text = page.inner_text("body")
        page.close()
        return {"errors": errors, "images": images, "videos": videos, "pixel_std": float(pixels.std()), "text": text}

    return load
