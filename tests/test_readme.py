"""The README's ```python blocks run as written, in order, in one namespace, against a store with data."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_readme_python_blocks_run(zvt_home: Path, tmp_path: Path) -> None:
    from tests.test_facade import fill_home

    fill_home()  # the simulator's markets and 1h bars in the temporary home the blocks' default store is
    blocks = python_blocks(README.read_text())
    assert len(blocks) >= 4
    script = "\n\n".join(f"# --- README block {n}\n{block}" for n, block in enumerate(blocks, 1))
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "ZVT_CRYPTO_HOME": str(zvt_home)})
    assert run.returncode == 0, run.stderr[-4000:]
    assert "WriteResult(schema='Bar', rows=10080" in run.stdout
    assert (tmp_path / "run.html").exists()
