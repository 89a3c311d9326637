"""``--model`` names an API model the same way it names an hf model: through ``model.id``."""

from __future__ import annotations

from fteval_testutil import SPECS

from fteval.spec.loader import load_spec


def test_model_override_replaces_the_api_model_name() -> None:
    overrides = {"targets": {"served-zero": {"model": {"id": "gpt-4o-mini"}}}}
    loaded = load_spec(SPECS / "viggo-openai.yaml", overrides, overrides_from="--model")
    assert loaded.targets["served-zero"].config.model.name == "gpt-4o-mini"
    assert loaded.targets["served-ft"].config.model.name == "gpt-3.5-turbo"
    assert load_spec(SPECS / "viggo-openai.yaml").targets["served-zero"].config.model.name == "gpt-3.5-turbo"
