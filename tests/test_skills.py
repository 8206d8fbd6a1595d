"""Skills: registry and loading errors, reward helpers, and every scripted expert."""

import textwrap

import numpy as np
import pytest

import robot_cl
from robot_cl.errors import SkillError
from robot_cl.sim.env import HouseholdEnv
from robot_cl.skills import SKILLS, Skill, load_skill_file, near, register_skill, staged
from robot_cl.tasks import run_expert

EXPERT_SEEDS = range(100, 105)  # disjoint from the benchmark's seeds 0..49


@pytest.mark.parametrize("skill", robot_cl.list_skills())
def test_expert_succeeds_and_records_both_levels(skill):
    env = robot_cl.make(skill)
    for seed in EXPERT_SEEDS:
        trace = run_expert(env, seed)
        assert trace.success, f"{skill} expert failed on seed {seed}"
        # Raw-action level and primitive level describe the same episode.
        assert len(trace.actions) == len(trace.obs) == len(trace.rewards) == sum(c.steps for c in trace.calls)
        assert trace.call_start == sorted(trace.call_start) and len(trace.call_start) == len(trace.calls)
        assert all(c.name in robot_cl.primitives.PRIMITIVES for c in trace.calls)
        assert len(trace.actions) <= env.unwrapped.max_steps
        # Dense reward: in [0, 1], higher at the end than at the start, 1 when successful.
        r = np.array(trace.rewards)
        assert r.min() >= 0.0 and r.max() <= 1.0
        assert r[np.array(trace.successes)].min() == 1.0
        assert r.max() > r[0]


def test_skill_files_live_in_the_skills_folder_one_per_skill():
    from robot_cl.paths import SKILLS_DIR

    files = {p.stem for p in SKILLS_DIR.glob("*.py")}
    assert set(robot_cl.list_skills()) <= files


def test_staged_reward_counts_stages_in_order():
    assert staged(0.0, 0.0) == 0.0
    assert staged(0.5, 0.0) == 0.25
    assert staged(1.0, 0.5) == 0.75
    assert staged(0.5, 1.0) == 0.25  # a later stage does not count before the earlier one is done
    assert staged(1.0, 1.0, 1.0) == 1.0
    assert staged(1.2, -3.0) == 0.5  # progress is clipped to [0, 1]


def test_near_is_one_inside_tolerance_and_decays_outside():
    assert near(0.01, 0.02, 0.1) == 1.0
    assert near(0.12, 0.02, 0.1) == pytest.approx(1 - np.tanh(1.0))
    assert near(0.5, 0.02, 0.1) < near(0.2, 0.02, 0.1) < 1.0


def test_pick_place_reward_pays_for_carrying_the_cube_clear_of_the_rim():
    """Held at counter height next to the bowl (dragged) earns less than held at carry height there."""
    from types import SimpleNamespace

    skill = SKILLS["pick_place_cube_in_bowl"]()
    bowl = np.array([0.5, 0.1, 0.0])

    def reward(cube, held, tcp_offset=(0.0, 0.0, 0.0)):
        cube = np.asarray(cube, dtype=float)
        s = SimpleNamespace(pos={"cube": cube, "bowl": bowl}.__getitem__, tcp=cube + tcp_offset, grasping=lambda _: held)
        return skill.reward(s)

    at_rest_far = reward([0.45, -0.1, 0.02], held=True)
    carried_far = reward([0.45, -0.1, 0.12], held=True)
    dragged_near = reward([0.5, 0.02, 0.02], held=True)  # 8 cm from the centre: against the rim
    carried_near = reward([0.5, 0.02, 0.12], held=True)
    over_bowl = reward([0.5, 0.1, 0.12], held=True)
    assert reward([0.45, -0.1, 0.02], held=False, tcp_offset=(0, 0, 0.3)) < at_rest_far < carried_far
    assert dragged_near < carried_far < carried_near < over_bowl < reward([0.5, 0.1, 0.02], held=False) == 1.0


def _write(tmp_path, name, body):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    return path


def test_unknown_skill_error_lists_valid_names():
    with pytest.raises(SkillError) as err:
        robot_cl.get_skill("make_coffee")
    msg = str(err.value)
    assert "\n" not in msg and "make_coffee" in msg and "open_drawer" in msg and "turn_knob" in msg


def test_malformed_skill_file_gives_one_line_error_naming_the_file(tmp_path):
    path = _write(tmp_path, "broken_skill", "from robot_cl.skills import Skill\nclass Broken(Skill:\n    pass\n")
    with pytest.raises(SkillError) as err:
        load_skill_file(path)
    assert "broken_skill.py" in str(err.value) and "SyntaxError" in str(err.value) and "\n" not in str(err.value)


def test_skill_without_expert_is_refused(tmp_path):
    path = _write(
        tmp_path,
        "no_expert",
        """
        from robot_cl.skills import Skill, register_skill

        @register_skill
        class NoExpert(Skill):
            name = "no_expert_skill"
            def success(self, s):
                return False
            def reward(self, s):
                return 0.0
        """,
    )
    with pytest.raises(SkillError, match=r"no_expert.py: skill 'no_expert_skill' does not define expert\(\)"):
        load_skill_file(path)
    assert "no_expert_skill" not in SKILLS


def test_duplicate_skill_name_from_another_file_is_refused(tmp_path):
    path = _write(
        tmp_path,
        "dup",
        """
        from robot_cl.skills import Skill, register_skill

        @register_skill
        class Dup(Skill):
            name = "open_drawer"
            def success(self, s): return False
            def reward(self, s): return 0.0
            def expert(self, s): yield from ()
        """,
    )
    with pytest.raises(SkillError, match=r"already defined in open_drawer\.py"):
        load_skill_file(path)


class Inert(Skill):
    """A skill that does nothing; tests subclass it to break one thing at a time."""

    def success(self, s):
        return False

    def reward(self, s):
        return 0.0

    def expert(self, s):
        yield from ()


def test_skill_naming_unknown_scene_parts_fails_before_any_episode():
    class Bad(Inert):
        name = "bad_elements"
        elements = ("fridge",)

    with pytest.raises(SkillError, match=r"unknown scene element 'fridge'; valid: .*drawer"):
        HouseholdEnv(Bad())
    Bad.elements, Bad.observe = ("drawer",), ("oven",)
    with pytest.raises(SkillError, match=r"unknown entity 'oven' in observe; valid: .*cabinet"):
        HouseholdEnv(Bad())
    Bad.observe, Bad.config = ("drawer",), {"init": {"teapot": {"x": [0, 1], "y": [0, 1]}}}
    with pytest.raises(SkillError, match=r"init key 'teapot' is neither a joint nor a free object"):
        HouseholdEnv(Bad())


def test_register_skill_rejects_bad_names():
    class Nameless(Inert):
        pass

    with pytest.raises(SkillError, match="needs a `name`"):
        register_skill(Nameless)


def test_initial_state_distribution_is_respected():
    env = robot_cl.make("stack_cube_on_block").unwrapped
    init = env.skill.cfg["init"]
    for seed in range(30):
        env.reset(seed=seed)
        for obj in ("cube", "block"):
            x, y, _ = env.scene.pos(obj)
            assert init[obj]["x"][0] <= x <= init[obj]["x"][1] and init[obj]["y"][0] <= y <= init[obj]["y"][1]
        gap = np.linalg.norm(env.scene.pos("cube")[:2] - env.scene.pos("block")[:2])
        assert gap >= env.scene.radius("cube") + env.scene.radius("block") - 1e-9


def test_open_and_close_pairs_share_entities_but_differ_in_goal():
    open_env, close_env = robot_cl.make("open_drawer"), robot_cl.make("close_drawer")
    o, _ = open_env.reset(seed=0)
    c, _ = close_env.reset(seed=0)
    assert open_env.unwrapped.skill.observe == close_env.unwrapped.skill.observe
    assert o[28] > 0.1 and c[28] == 0.0  # goal scalar: open to 12 cm vs closed


def test_press_button_reward_pays_for_coming_down_onto_the_button():
    """Hovering over the button pays less than touching its top, which pays less than pressing it."""
    import robot_cl

    env = robot_cl.make("press_button")
    env.reset(seed=0)
    u = env.unwrapped
    skill, scene = u.skill, u.scene
    top = scene.pos("button_top").copy()

    class At:  # the scene as the reward sees it, with the tool centre point moved
        cfg = scene.cfg

        def __init__(self, tcp, press=0.0):
            self.tcp, self._press = np.asarray(tcp, float), press

        def pos(self, name):
            return scene.pos(name)

        def joint(self, name):
            return -self._press

    tip = scene.cfg["primitives"]["tip_offset"]
    high = skill.reward(At(top + [0, 0, 0.2]))
    touching = skill.reward(At(top + [0, 0, tip]))
    pressing = skill.reward(At(top + [0, 0, tip - 0.006], press=0.006))
    aside = skill.reward(At(top + [0.1, 0, tip]))
    assert aside < high < touching < pressing < 1.0
    assert touching == 2 / 3 and pressing == 2.5 / 3
