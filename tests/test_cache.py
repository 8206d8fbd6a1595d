"""Cache entries shared by parallel jobs: computed once, never half-read, never mistaken for finished."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from robot_cl import cache

# A process that asks for cache entries; creating one takes `delay` seconds and logs who created it.
WORKER = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path
    from robot_cl import cache
    root, delay, keys = Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3].split(",")
    def create(missing):
        for k in missing:
            with open(root / "calls.log", "a") as f:
                f.write(f"{os.getpid()} {k}\\n")
            tmp = cache.temp_path(root / k)
            tmp.write_text("half")  # a partial write under the temporary name
            time.sleep(delay)
            cache.atomic_write(root / k, lambda f, k=k: f.write(json.dumps({"key": k, "pid": os.getpid()}).encode()))
    (root / f"started.{os.getpid()}").touch()
    how = cache.create_all({k: root / k for k in keys}, create)
    print(json.dumps(how))
    """
)


def start(root, delay, keys):
    return subprocess.Popen([sys.executable, "-c", WORKER, str(root), str(delay), ",".join(keys)], stdout=subprocess.PIPE, text=True)


def test_two_processes_racing_for_one_entry_compute_it_once(tmp_path):
    a, b = start(tmp_path, 1.0, ["entry"]), start(tmp_path, 1.0, ["entry"])
    outs = [json.loads(p.communicate(timeout=60)[0]) for p in (a, b)]
    assert sorted(o["entry"] for o in outs) == ["created", "waited"]
    assert len((tmp_path / "calls.log").read_text().splitlines()) == 1  # computed exactly once
    assert json.loads((tmp_path / "entry").read_text())["key"] == "entry"  # the whole file, never "half"
    assert not list(tmp_path.glob(".entry.*.tmp"))


def test_two_processes_split_several_missing_entries_between_them(tmp_path):
    keys = ["a", "b", "c", "d"]
    p, q = start(tmp_path, 1.5, keys), start(tmp_path, 1.5, keys)  # each entry takes longer than a start-up
    outs = [json.loads(x.communicate(timeout=60)[0]) for x in (p, q)]
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert sorted(c.split()[1] for c in calls) == keys  # every entry once
    assert len({c.split()[0] for c in calls}) == 2  # both processes computed some of them
    for k in keys:
        assert sorted(o[k] for o in outs) == ["created", "waited"]


def test_a_killed_writer_leaves_nothing_a_later_job_takes_for_finished(tmp_path):
    a = start(tmp_path, 60.0, ["entry"])
    deadline = time.time() + 30
    while not list(tmp_path.glob(".entry.*.tmp")) and time.time() < deadline:
        time.sleep(0.05)
    assert list(tmp_path.glob(".entry.*.tmp")), "the writer never started"
    os.kill(a.pid, signal.SIGKILL)  # killed mid-write, holding the lock
    a.wait()
    assert not (tmp_path / "entry").exists()
    b = start(tmp_path, 0.1, ["entry"])  # the OS released the lock: the next job computes the entry
    assert json.loads(b.communicate(timeout=60)[0]) == {"entry": "created"}
    assert json.loads((tmp_path / "entry").read_text())["pid"] == b.pid
    assert not list(tmp_path.glob(".entry.*.tmp"))  # the dead writer's temporary was removed


def test_atomic_write_leaves_no_temporary_when_writing_fails(tmp_path):
    def fail(f):
        f.write(b"part")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        cache.atomic_write(tmp_path / "x.json", fail)
    assert list(tmp_path.iterdir()) == []


def test_two_processes_racing_for_the_same_demonstrations(tmp_path):
    code = textwrap.dedent(
        """
        import json, sys
        from pathlib import Path
        from robot_cl import demos
        stats = {}
        d = demos.load_or_generate(["press_button"], range(0, 2), Path(sys.argv[1]), stats=stats)
        print(json.dumps({"how": stats["press_button"], "obs": float(d["press_button"].obs.sum())}))
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [json.loads(p.communicate(timeout=300)[0]) for p in procs]
    assert sorted(o["how"] for o in outs) == ["created", "waited"]
    assert np.isclose(outs[0]["obs"], outs[1]["obs"])  # both read the same, complete file
    assert len(list((tmp_path / "demos").glob("*.npz"))) == 1 and not list((tmp_path / "demos").glob("*.tmp"))
