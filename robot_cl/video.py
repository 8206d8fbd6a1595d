"""Write evaluation videos (mp4 through imageio's ffmpeg plugin).

python -m robot_cl.video open_drawer --seed 0            # -> videos/experts/open_drawer.mp4
python -m robot_cl.video --all --out videos/experts      # every skill's expert
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import imageio.v2 as imageio
import numpy as np

from robot_cl.envs import make
from robot_cl.paths import VIDEOS_DIR
from robot_cl.skills import get_skill, list_skills
from robot_cl.tasks import run_expert


def write_video(path: str | Path, frames: list[np.ndarray], fps: int) -> Path:
    """Encode RGB frames (H, W, 3, uint8) as an H.264 mp4; returns the path."""
    if not frames:
        raise ValueError(f"no frames to write to {path}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".partial.mp4")
    # macro_block_size=1 keeps any frame size; imageio's default pixel format (yuv420p) plays everywhere.
    with imageio.get_writer(tmp, fps=fps, codec="libx264", quality=7, macro_block_size=1) as writer:
        for frame in frames:
            writer.append_data(frame)
    tmp.replace(path)  # never leave a half-written video under the final name
    return path


def record_expert(skill: str, path: str | Path, seed: int = 0, every: int = 2, **env_kwargs) -> dict:
    """Run a skill's scripted expert and save a video of it; returns success, steps and the path."""
    env = make(skill, render_mode="rgb_array", **env_kwargs)
    frames: list[np.ndarray] = []
    count = [0]

    def grab(*_):
        if count[0] % every == 0:
            frames.append(env.render())
        count[0] += 1

    env.reset(seed=seed)
    frames.append(env.render())
    trace = run_expert(env, seed, on_step=grab)
    fps = max(1, round(env.unwrapped.metadata["render_fps"] / every))
    env.close()
    return {"skill": skill, "success": trace.success, "steps": len(trace.actions), "path": str(write_video(path, frames, fps))}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Record videos of the skills' scripted experts.")
    p.add_argument("skills", nargs="*", help="skill names (see --all)")
    p.add_argument("--all", action="store_true", help="every registered skill")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(VIDEOS_DIR / "experts"), help="output folder")
    p.add_argument("--camera", default=None)
    p.add_argument("--width", type=int, default=None)
    p.add_argument("--height", type=int, default=None)
    args = p.parse_args(argv)
    skills = list_skills() if args.all else args.skills
    if not skills:
        p.error(f"name at least one skill or --all; valid: {', '.join(list_skills())}")
    for s in skills:
        get_skill(s)
    kwargs = {k: v for k, v in {"camera": args.camera, "width": args.width, "height": args.height}.items() if v is not None}
    for s in skills:
        r = record_expert(s, Path(args.out) / f"{s}.mp4", seed=args.seed, **kwargs)
        print(f"{s:<26} success={r['success']!s:<5} steps={r['steps']:<4} {r['path']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
