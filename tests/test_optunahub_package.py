"""integrations/optunahub: the folder OptunaHub's registry expects (package/samplers/<name>/), loaded as it loads it."""

from __future__ import annotations

import runpy
from pathlib import Path

import yaml

PACKAGE = Path(__file__).parents[1] / "integrations" / "optunahub" / "samplers" / "autodehypo_de"


def front_matter(readme: Path) -> dict:
    text = readme.read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n", 2)[1])


def test_the_folder_has_what_the_registry_checks():
    assert {p.name for p in PACKAGE.iterdir()} >= {"__init__.py", "README.md", "LICENSE", "requirements.txt",
                                                     "example.py"}
    meta = front_matter(PACKAGE / "README.md")
    # optunahub-registry/header_confirm.py: these keys, none empty; a sampler carries the tag "sampler".
    for key in ("author", "title", "description", "tags", "optuna_versions", "license"):
        assert meta.get(key) not in ("", None), key
    assert "sampler" in meta["tags"] and meta["license"] == "MIT License"
    assert "<" not in (PACKAGE / "README.md").read_text()  # the registry strips HTML tags
    assert (PACKAGE / "requirements.txt").read_text().split() == ["autodehypo[optuna]"]


def test_optunahub_loads_and_runs_it(capsys):
    runpy.run_path(str(PACKAGE / "example.py"), run_name="__main__")
    assert "'optimizer'" in capsys.readouterr().out
