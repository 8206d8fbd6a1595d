"""Why a skill is forgotten: compare a run's checkpoints before and after the stage that broke it.

For each run folder (a finished hierarchical run) and the earlier skill with the largest drop in
success (or ``--skill``), this loads the checkpoint of the stage that learnt it and of the stage
after which it was lost and reports

* which parameters moved: relative change ``|theta_after - theta_before| / |theta_before|`` of the
  shared trunk, the skill's own behaviour module and the rest;
* where the strategy's importance sits (SI's ``omega``, EWC's Fisher, ...): its share in the trunk and
  in each module, and the penalty weight per parameter in each group;
* primitive choice or parameters: on the skill's demonstrations, the primitive accuracy and the
  parameter error before and after, and closed-loop success of hybrids -- the later weights with the
  earlier trunk, and the earlier primitive choice with the later parameters (and vice versa);
* evaluation seeds or training seeds: success before and after on the run's evaluation seeds and on
  a second, disjoint seed range.

    python benchmarks/forgetting_analysis.py RUN_DIR [RUN_DIR ...] [--episodes 20] [--skill NAME [--stage K]]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from robot_cl import checkpoint, demos, tasks
from robot_cl.evaluation import rollout
from robot_cl.policies import HierarchicalPolicy, build_policy


def load_policy(run: Path, stage: int) -> tuple[HierarchicalPolicy, dict]:
    state = checkpoint.load(run / "checkpoints", stage)
    policy = build_policy(state["policy_spec"])
    policy.load_state_dict(state["policy"])
    return policy.eval(), state


def group(name: str, task: int) -> str:
    if name.startswith("trunk."):
        return "trunk"
    if name.startswith(f"behaviours.{task}."):
        return "own module"
    return "other modules" if name.startswith("behaviours.") else "other"


def moved(before: HierarchicalPolicy, after: HierarchicalPolicy, task: int) -> dict[str, float]:
    b = {n: p.detach() for n, p in before.named_parameters()}
    a = {n: p.detach() for n, p in after.named_parameters()}
    num, den = {}, {}
    for n, p in b.items():
        g = group(n, task)
        num[g] = num.get(g, 0.0) + float((a[n] - p).pow(2).sum())
        den[g] = den.get(g, 0.0) + float(p.pow(2).sum())
    return {g: (num[g] / den[g]) ** 0.5 if den[g] else 0.0 for g in num}


def importance_shares(state: dict, task: int) -> dict[str, dict[str, float]]:
    """Share of each plugin's importance (any per-parameter tensor dict) held by each parameter group."""
    out = {}
    for i, plugin in enumerate(state.get("plugins") or []):
        for key, value in (plugin or {}).items():
            if not isinstance(value, dict) or not value or key == "anchor":
                continue
            tensors = {n: v for n, v in value.items() if isinstance(v, torch.Tensor) and v.is_floating_point()}
            if not tensors:
                continue
            totals, counts = {}, {}
            for n, v in tensors.items():
                g = group(n, task)
                totals[g] = totals.get(g, 0.0) + float(v.abs().sum())
                counts[g] = counts.get(g, 0) + v.numel()
            whole = sum(totals.values()) or 1.0
            out[f"plugin{i}.{key}"] = {g: totals[g] / whole for g in totals} | {f"{g} per weight": totals[g] / counts[g] for g in totals}
    return out


def si_penalty(state: dict, after: HierarchicalPolicy, strength: float) -> dict[str, float]:
    """SI's penalty ``strength * sum omega (theta - anchor)^2`` on the later weights, per parameter group."""
    out: dict[str, float] = {}
    params = {n: p.detach() for n, p in after.named_parameters()}
    for plugin in state.get("plugins") or []:
        if not isinstance(plugin, dict) or "omega" not in plugin:
            continue
        for n, w in plugin["omega"].items():
            g = group(n, 0)
            out[g] = out.get(g, 0.0) + strength * float((w * (params[n] - plugin["anchor"][n]) ** 2).sum())
    return out


class Hybrid(HierarchicalPolicy):
    """Primitive logits from one policy, parameters from another (closed-loop diagnosis only)."""

    def __init__(self, choice: HierarchicalPolicy, params: HierarchicalPolicy) -> None:
        super().__init__(choice.cfg, choice.obs_dim, choice.act_dim, choice.n_tasks)
        self.load_state_dict(choice.state_dict(), strict=False)
        self.choice, self.param_source = choice, params

    def forward(self, obs, task):
        return self.choice(obs, task)[0], self.param_source(obs, task)[1]


def with_trunk(policy: HierarchicalPolicy, donor: HierarchicalPolicy) -> HierarchicalPolicy:
    mixed = build_policy(policy.spec())
    mixed.load_state_dict(policy.state_dict())
    mixed.trunk.load_state_dict(donor.trunk.state_dict())
    return mixed.eval()


def offline(policy: HierarchicalPolicy, data: dict) -> tuple[float, float]:
    """Primitive accuracy and mean parameter error (normalised units) on demonstration calls."""
    with torch.no_grad():
        logits, params = policy(data["obs"], data["task"])
        acc = float((logits.argmax(1) == data["prim"]).float().mean())
        rows = torch.arange(len(data["prim"]))
        err = ((params[rows, data["prim"]] - data["params"] / policy.scales[data["prim"]]) ** 2) * policy.mask[data["prim"]]
    return acc, float(err.sum(1).mean())


def success(policy, skill: str, task: int, seeds: list[int], sim_cfg: dict, skill_cfg: dict | None) -> float:
    env = tasks.make_env(skill, sim_cfg, skill_cfg)
    return float(np.mean([rollout(env, policy, task, s, stop_on_success=True)["success"] for s in seeds]))


def analyse(run: Path, episodes: int, skill: str | None, stage: int | None = None) -> dict:
    cfg = json.loads((run / "config.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    skills, m = metrics["tasks"], np.asarray(metrics["success_matrix"], dtype=float)
    if skill is None:  # the earlier skill with the largest one-stage drop
        drops = [(m[j - 1, i] - m[j, i], i, j) for i in range(len(skills)) for j in range(i + 1, len(skills))]
        _, task, stage = max(drops)
    elif stage is not None:
        task = skills.index(skill)
    else:
        task = skills.index(skill)
        later = m[task + 1 :, task]
        lost = np.nonzero(later < 0.5 * m[task, task])[0]  # the first stage after which it is mostly gone
        stage = task + 1 + int(lost[0] if len(lost) else np.argmax(m[task, task] - later))
    before, state = load_policy(run, stage - 1)  # the importance that protected the skill while it was lost
    after, _ = load_policy(run, stage)
    cur = cfg["curriculum"]
    demo_set = demos.load_or_generate(
        [skills[task]], range(cur["demo_seed"], cur["demo_seed"] + cur["demos"]), Path(cfg["cache_dir"]), cfg["sim"]
    )[skills[task]]
    data = before.dataset(demo_set, task)["calls"]
    later = after.dataset(
        demos.load_or_generate(
            [skills[stage]], range(cur["demo_seed"], cur["demo_seed"] + cur["demos"]), Path(cfg["cache_dir"]), cfg["sim"]
        )[skills[stage]],
        stage,
    )
    si = cfg["strategy"]["plugins"].get("si")
    ev = cfg["eval"]
    seeds = list(range(ev["seed_start"], ev["seed_start"] + episodes))
    other = list(range(ev["seed_start"] + 500_000, ev["seed_start"] + 500_000 + episodes))
    sim_cfg, skill_cfg = cfg["sim"], cur.get("skill_config", {}).get(skills[task])
    hybrids = {
        "before": before,
        "after": after,
        "after, trunk from before": with_trunk(after, before),
        "choice before, params after": Hybrid(before, after),
        "choice after, params before": Hybrid(after, before),
    }
    return {
        "run": run.name,
        "skill": skills[task],
        "lost after stage": f"{stage} ({skills[stage]})",
        "moved": moved(before, after, task),
        "importance": importance_shares(state, task),
        "offline (accuracy, param error)": {"before": offline(before, data), "after": offline(after, data)},
        "si penalty after (by group) vs the later skill's BC loss": (
            {**si_penalty(state, after, si["strength"]), "bc loss": float(after.loss(later)[0].detach())} if si else None
        ),
        "success": {k: success(p, skills[task], task, seeds, sim_cfg, skill_cfg) for k, p in hybrids.items()},
        "success, other eval seeds": {k: success(hybrids[k], skills[task], task, other, sim_cfg, skill_cfg) for k in ("before", "after")},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--skill", default=None)
    ap.add_argument("--stage", type=int, default=None, help="with --skill: compare the checkpoints before and after this stage")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    torch.set_num_threads(1)
    results = [analyse(r, args.episodes, args.skill, args.stage) for r in args.runs]
    for r in results:
        print(json.dumps(r, indent=1, default=lambda x: round(x, 4) if isinstance(x, float) else str(x)))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
