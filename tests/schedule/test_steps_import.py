"""The scheduler does not import the trader: its ``paper`` step arrives through the ``zvt_crypto.steps`` group."""

from __future__ import annotations

import json
import subprocess
import sys


def test_importing_the_scheduler_leaves_the_trader_unloaded() -> None:
    code = (
        "import json, sys\n"
        "import zvt_crypto.schedule.steps, zvt_crypto.schedule.runner, zvt_crypto.schedule.daemon\n"
        "before = sorted(name for name in sys.modules if name.startswith('zvt_crypto.trader'))\n"
        "from zvt_crypto.schedule.steps import get_step\n"
        "paper = type(get_step('paper'))\n"
        "print(json.dumps([before, paper.__module__ + '.' + paper.__name__]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    before, paper = json.loads(result.stdout)
    assert before == []
    assert paper == "zvt_crypto.trader.paper_step.PaperStep"  # looked up lazily, from the entry-point group
