"""The example plugin code of docs/write-a-plugin.md type-checks under ``mypy --strict`` and runs."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fteval.plugin import Parsed, PlanInput

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "write-a-plugin.md"
#: Python blocks that open with the file they belong to, e.g. ``# my_package/parsers.py``.
BLOCK = re.compile(r"```python\n# (my_package/\w+\.py)\n(.*?)```", re.S)


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("doc_plugin")
    (root / "my_package").mkdir()
    (root / "my_package" / "__init__.py").write_text('"""The example plugin of docs/write-a-plugin.md."""\n')
    blocks = BLOCK.findall(DOC.read_text(encoding="utf-8"))
    assert [name for name, _ in blocks] == ["my_package/parsers.py", "my_package/trainer.py"]
    for name, code in blocks:
        (root / name).write_text(code, encoding="utf-8")
    return root


def test_the_example_passes_mypy_strict(package: Path) -> None:
    config = package / "mypy.ini"
    # mypy_path: this checkout's fteval (mypy cannot see an editable install), read as an installed copy
    # is (its own modules are not reported on)
    config.write_text(
        f"[mypy]\nstrict = True\nplugins = pydantic.mypy\nmypy_path = {ROOT}\n\n[mypy-fteval.*]\nfollow_imports = silent\n"
    )
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(config), "my_package"],
        capture_output=True,
        text=True,
        cwd=package,
        timeout=600,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_example_runs(package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(package))
    parsers = importlib.import_module("my_package.parsers")
    trainer = importlib.import_module("my_package.trainer")
    parser = parsers.FirstWordParser()
    assert parsers.FirstWordParser.Config is parsers.FirstWordConfig
    assert parser.parse("Yes, indeed") == Parsed(ok=True, value="yes,")
    assert parsers.FirstWordParser(parsers.FirstWordConfig(lower=False)).parse("Yes") == Parsed(ok=True, value="Yes")
    assert not parser.parse("  ").ok
    slow = trainer.SlowApiTrainer(trainer.SlowApiConfig(train={"seconds": 90}))
    work = PlanInput((5, 6), 1, 3, 1, 0, trains=True, seed=0)
    assert slow.estimate(work).train_time_s == 90 and slow.estimate(work).notes == ["2 rows sent"]
