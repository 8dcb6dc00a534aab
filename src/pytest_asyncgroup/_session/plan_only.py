"""``--asyncgroup-plan``: print where each group would run, then stop, like ``--collect-only``.

The plan is made in this one process from its own collection, with the same
function and inputs the xdist scheduler uses (``_plan.plan_run``: declarations,
per-worker keys, durations from the previous run, and the number of workers
``-n``/``--tx`` would start), so it is the plan the run would follow. Workers
are not started.
"""

from __future__ import annotations

from typing import Any

import pytest

from .._core.apart import SERIAL
from .._core.plan import RunPlan, keyed_groups, outsized_groups, plan_run
from .._core.runstats import count
from .._core.settings import Settings
from .declarations import declaration_of, declarations_error, declare_all
from .history import load_durations, load_process_wide


class PlanOnly:
    def __init__(self, settings: Settings, workers: list[str]) -> None:
        self.settings = settings
        self.workers = workers  # "gw0", "gw1"... or "main" in one process

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        if session.testsfailed and not session.config.option.continue_on_collection_errors:
            return False  # pytest's own loop reports the collection errors
        problems = declare_all(session.items)
        if problems:
            raise declarations_error(problems)
        history = load_durations(session.config)
        nodeids = [item.nodeid for item in session.items]
        known = {i: history[nodeid] for i, nodeid in enumerate(nodeids) if nodeid in history}
        plan = plan_run(
            [declaration_of(item) for item in session.items],
            known,
            self.settings.per_worker,
            len(self.workers),
        )
        reporter: Any = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            for line in plan_lines(plan, nodeids, self.workers, has_history=bool(known)):
                reporter.write_line(line)
            for line in alone_lines(self.settings, session.items):
                reporter.write_line(line)
        return True


def alone_lines(settings: Settings, items: list[pytest.Item]) -> list[str]:
    """Which tests will run alone in their worker, by reason (``_core/apart.py``),
    as the worker loop will claim them; ``serial`` tests are listed above."""
    from .engine import ClaimOf  # the engine's import only for this line's needs

    claim_of = ClaimOf(settings, load_process_wide(items[0].config) if items else None)
    reasons: dict[str, int] = {}
    for item in items:
        claim = claim_of(item)
        if claim.alone and claim.reason != SERIAL:
            reasons[claim.reason] = reasons.get(claim.reason, 0) + 1
    if not reasons:
        return []
    ordered = sorted(reasons.items(), key=lambda entry: (-entry[1], entry[0]))
    lines = [f"alone in their worker, by reason: {count(sum(reasons.values()), 'test')}"]
    lines.extend(f"  {tests}: {reason}" for reason, tests in ordered[:5])
    if len(ordered) > 5:
        lines.append(f"  {sum(t for _, t in ordered[5:])}: {len(ordered) - 5} other reasons")
    return lines


def plan_lines(
    plan: RunPlan, nodeids: list[str], workers: list[str], *, has_history: bool
) -> list[str]:
    """The plan as text: per worker, its groups with keys, then its keyless tests."""
    unit = "s" if has_history else " (tests; no durations from a previous run)"
    keyed = keyed_groups(plan.placements)
    lines = [
        f"asyncgroup plan: {count(len(workers), 'worker')}, "
        f"{count(keyed, 'group')} sharing keys, {count(len(nodeids), 'test')}"
    ]
    for worker, name in enumerate(workers):
        mine = [p for p in plan.placements if p.worker == worker]
        total = sum(p.estimate for p in mine)
        tests = sum(len(p.group.tests) for p in mine)
        lines.append(f"{name}: {count(tests, 'test')}, est. {total:.1f}{unit}")
        for placement in sorted(mine, key=lambda p: -p.estimate):
            if placement.group.keys:
                lines.append(
                    f"  keys {', '.join(placement.group.keys)}: "
                    f"{count(len(placement.group.tests), 'test')}, "
                    f"est. {placement.estimate:.1f}{unit}"
                )
        keyless = [p for p in mine if not p.group.keys]
        if keyless:
            lines.append(
                f"  no keys: {count(len(keyless), 'test')}, "
                f"est. {sum(p.estimate for p in keyless):.1f}{unit}"
            )
    for group in outsized_groups(plan.placements, len(workers)):
        lines.append(
            f"keys {', '.join(group.keys)} hold {group.share:.0%} of the estimated work, more"
            f" than a worker's share ({1 / group.workers:.0%}): one worker runs them all;"
            " see asyncgroup_per_worker, or split the key"
        )
    if plan.serial:
        lines.append(f"serial, after all others, each alone: {count(len(plan.serial), 'test')}")
        lines.extend(f"  {nodeids[i]}" for i in plan.serial)
    return lines
