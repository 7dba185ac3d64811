"""Every research notebook in ``notebooks/`` runs top to bottom in a fresh kernel, offline, and is committed clean.

Each notebook is executed by nbclient in a new ipykernel (the interpreter running the tests, so the checkout's
``zvt_crypto`` and its dependencies), with ``ZVT_CRYPTO_HOME`` pointing at a fresh temporary directory (never the
user's real store) and one OpenMP thread. A notebook gets ``NOTEBOOK_BUDGET_S`` seconds in all; a cell that raises
fails the test with the cell's number, its source and the error. Notebooks end with ``assert`` cells on their
results, so one that runs but computes nonsense fails too.

They are committed without outputs (``execution_count`` null, ``outputs`` empty): diffs stay readable, nothing stale
is shown as if it were a result, and ``jupyter lab notebooks/`` opens them with no plugin. Marked ``notebook`` (and
``slow``): ``make test`` runs them, ``make test-quick`` skips them.

Each executed notebook is also exported to HTML (as ``make notebooks`` does), and every plotly figure must be there
with plotly.js inline, so the copy shows its figures offline. With ``ZVT_CRYPTO_SCREENSHOTS`` set to a folder, the
HTML copies and, per notebook, a screenshot of its top and of its first figure (drawn by chromium, offline) are
written to ``$ZVT_CRYPTO_SCREENSHOTS/notebooks/``.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
NOTEBOOK_BUDGET_S = 120.0
#: a folder to keep the HTML copies and their screenshots in (as tests/ui does for the browser tests)
ENV_SCREENSHOTS = "ZVT_CRYPTO_SCREENSHOTS"
FIGURE_MIME = "application/vnd.plotly.v1+json"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _ids(paths: list[Path]) -> list[str]:
    return [path.stem for path in paths]


def _read(path: Path) -> Any:
    return nbformat.read(path, as_version=4)


def _kernel_env(home: Path) -> dict[str, str]:
    """The kernel's environment: the caller's, minus its ZVT_CRYPTO_* settings, with a fresh data home."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ZVT_CRYPTO_")}
    env["ZVT_CRYPTO_HOME"] = str(home)
    env["OMP_NUM_THREADS"] = "1"
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # ipykernel's debugger otherwise warns on stderr for frozen modules
    # plotly's default in a kernel is plotly_mimetype alone: JupyterLab draws it, an HTML export drops it. "notebook"
    # adds each figure as HTML, with plotly.js inlined once per notebook (offline; make notebooks does the same)
    env["PLOTLY_RENDERER"] = "plotly_mimetype+notebook"
    return env


def _failed_cell(notebook: Any) -> tuple[int, str, str] | None:
    """The (index, source, error text) of the cell whose output is an error, if one is."""
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                trace = _ANSI.sub("", "\n".join(output.get("traceback", [])))
                return index, cell.source, trace or f"{output.get('ename')}: {output.get('evalue')}"
    return None


def execute_notebook(path: Path, home: Path, workdir: Path, budget_s: float = NOTEBOOK_BUDGET_S) -> Any:
    """Run ``path`` in a fresh kernel with ``home`` as ZVT_CRYPTO_HOME and ``workdir`` as its working directory;
    returns the executed notebook or fails the test naming the cell that raised (or ran past the budget)."""
    notebook = _read(path)
    deadline = time.monotonic() + budget_s

    def remaining(_cell: Any) -> int:
        return max(1, int(deadline - time.monotonic()))

    client = nbclient.NotebookClient(
        notebook, timeout=int(budget_s), timeout_func=remaining, kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}}, allow_errors=False,
    )
    try:
        client.execute(env=_kernel_env(home), cwd=str(workdir))
    except nbclient.exceptions.CellTimeoutError as error:
        pytest.fail(f"{path.name} ran past its {budget_s:.0f} s budget: {error}", pytrace=False)
    except nbclient.exceptions.CellExecutionError as error:
        failed = _failed_cell(notebook)
        if failed is None:
            pytest.fail(f"{path.name}: {error}", pytrace=False)
        index, source, trace = failed
        pytest.fail(f"{path.name}: cell {index} failed\n--- source ---\n{source}\n--- error ---\n{trace}",
                    pytrace=False)
    return notebook


@pytest.fixture(scope="module")
def html_copies() -> Path | None:
    """``$ZVT_CRYPTO_SCREENSHOTS/notebooks`` when set (read here: tests/conftest.py clears ZVT_CRYPTO_* per test)."""
    if not os.environ.get(ENV_SCREENSHOTS):
        return None
    folder = Path(os.environ[ENV_SCREENSHOTS]) / "notebooks"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_runs_top_to_bottom(path: Path, tmp_path: Path, html_copies: Path | None) -> None:
    home, workdir = tmp_path / "zvt_home", tmp_path / "work"
    workdir.mkdir()
    started = time.monotonic()
    executed = execute_notebook(path, home, workdir)
    elapsed = time.monotonic() - started
    assert elapsed < NOTEBOOK_BUDGET_S, f"{path.name} took {elapsed:.0f} s"
    ran = [cell for cell in executed.cells if cell.cell_type == "code" and cell.source.strip()]
    assert all(cell.execution_count is not None for cell in ran), f"{path.name}: a code cell did not run"
    html = export_html(executed)
    figures = sum(FIGURE_MIME in output.get("data", {}) for cell in ran for output in cell.get("outputs", []))
    assert html.count('<div class="plotly-graph-div"') == figures, f"{path.name}: a figure is missing from its HTML"
    assert figures == 0 or "plotly.js v" in html, f"{path.name}: the HTML copy has figures but no inline plotly.js"
    if html_copies is not None:
        (html_copies / f"{path.stem}.html").write_text(html, encoding="utf-8")
        drawn = screenshot_html(html_copies / f"{path.stem}.html")
        assert drawn == figures, f"{path.name}: chromium drew {drawn} of its {figures} figures offline"


def export_html(notebook: Any) -> str:
    """The executed notebook as one HTML page (nbconvert's lab template, as ``jupyter nbconvert --to html``)."""
    from nbconvert import HTMLExporter

    body, _resources = HTMLExporter().from_notebook_node(notebook)
    return str(body)


def screenshot_html(page_path: Path) -> int:
    """Open ``page_path`` in chromium with every non-file request refused (offline), write ``<stem>-top.png`` and
    ``<stem>-figure.png`` (its first figure) next to it; returns how many figures plotly drew."""
    from playwright.sync_api import sync_playwright

    from tests.ui.conftest import CHROMIUM_ARGS, chromium_path

    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                       else route.abort())
            page.goto(page_path.resolve().as_uri())
            page.screenshot(path=str(page_path.with_name(f"{page_path.stem}-top.png")))
            figures = page.locator(".plotly-graph-div")
            drawn = figures.filter(has=page.locator(".main-svg")).count()
            if figures.count():
                figures.first.screenshot(path=str(page_path.with_name(f"{page_path.stem}-figure.png")))
            return int(drawn)
        finally:
            browser.close()


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, f"no notebooks in {NOTEBOOK_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    """Clear them with ``jupyter nbconvert --clear-output --inplace notebooks/*.ipynb`` before committing."""
    notebook = _read(path)
    nbformat.validate(notebook)
    dirty = [index for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, (f"{path.name}: cells {dirty} carry outputs; clear them with "
                       f"`jupyter nbconvert --clear-output --inplace {path.relative_to(NOTEBOOK_DIR.parent)}`")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_asserts_on_its_results(path: Path) -> None:
    """A notebook that only runs proves little: it must check what it computed."""
    code = [cell.source for cell in _read(path).cells if cell.cell_type == "code"]
    assert any(re.search(r"^\s*assert\b", source, re.MULTILINE) for source in code), f"{path.name} asserts nothing"
    assert any(cell.cell_type == "markdown" for cell in _read(path).cells), f"{path.name} has no prose"


def test_a_failing_cell_is_reported_with_its_source(tmp_path: Path) -> None:
    """The runner names the cell that raised, shows its source and the error, and stops there."""
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# a broken notebook"),
        nbformat.v4.new_code_cell("import os\nhome = os.environ['ZVT_CRYPTO_HOME']"),
        nbformat.v4.new_code_cell("total = 1 + 1\nassert total == 3, f'total is {total}'"),
        nbformat.v4.new_code_cell("never = True"),
    ])
    path = tmp_path / "broken.ipynb"
    nbformat.write(notebook, path)
    (tmp_path / "work").mkdir()
    with pytest.raises(pytest.fail.Exception) as failure:
        execute_notebook(path, tmp_path / "home", tmp_path / "work", budget_s=60)
    message = str(failure.value)
    assert "broken.ipynb: cell 2 failed" in message
    assert "assert total == 3" in message
    assert "AssertionError: total is 2" in message


def test_the_kernel_gets_a_fresh_home_and_one_thread(tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import os\nprint(os.environ['ZVT_CRYPTO_HOME'], os.environ['OMP_NUM_THREADS'], os.getcwd())")])
    path = tmp_path / "env.ipynb"
    nbformat.write(notebook, path)
    (tmp_path / "work").mkdir()
    executed = execute_notebook(path, tmp_path / "home", tmp_path / "work", budget_s=60)
    printed = executed.cells[0].outputs[0]["text"].split()
    assert printed == [str(tmp_path / "home"), "1", str(tmp_path / "work")]
