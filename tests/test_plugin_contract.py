"""The typed plugin contract (since version 11): config types from type arguments, the optional hooks, plugin commands."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from fteval_testutil import EXTERNAL_PLUGIN, SPECS, fteval_cli
from pydantic import Field

from fteval import registry
from fteval.errors import PluginError
from fteval.plugin import (
    CONTRACT_VERSION,
    EmptyConfig,
    Estimate,
    GenerationSettings,
    Generator,
    LoadedModel,
    ModelHandle,
    Parsed,
    Parser,
    PlanInput,
    PluginConfig,
    TokenPrices,
    TrainContext,
    Trainer,
)

WORK = PlanInput(
    train_rows=(3, 4),
    eval_rows=2,
    eval_prompt_tokens=10,
    eval_target_tokens=2,
    shared_prompt_tokens=0,
    trains=True,
    seed=0,
)


class WordsConfig(PluginConfig):
    """Options of the test parser."""

    lower: bool = Field(True, description="Lower-case the words.")


class WordsParser(Parser[WordsConfig]):
    """Splits into words; its Config comes from the type argument."""

    def parse(self, text: str) -> Parsed:
        words = text.split()
        return Parsed(ok=True, value=[w.lower() if self.config.lower else w for w in words])


class OldStyleParser(Parser):
    """A contract-10 plugin: a bare base class and no Config."""

    def parse(self, text: str) -> Parsed:
        return Parsed(ok=True, value=text)


class NoJobs(Trainer[EmptyConfig]):
    """A trainer that implements only what is required."""

    default_generator = "lookup"
    model_format = "lookup-table"

    def fit(self, ctx: TrainContext) -> ModelHandle:
        return ModelHandle("nojobs", "x")

    def base_model(self, ctx: TrainContext) -> ModelHandle:
        return ModelHandle("nojobs", "x")


class NoPrices(Generator):
    """A generator that implements only what is required."""

    model_formats = ("lookup-table",)

    def load(self, handle: ModelHandle, target_config: PluginConfig, settings: GenerationSettings) -> LoadedModel:
        raise NotImplementedError


class Priced(NoPrices):
    """A generator billed per token that implements only ``token_prices``."""

    def token_prices(self, target_config: PluginConfig, model: str | None = None) -> TokenPrices | None:
        return TokenPrices(model or "m", input_per_1k=1.0, output_per_1k=2.0)


def test_contract_version_is_12() -> None:
    assert CONTRACT_VERSION == 12  # 12: streamed generation (tests/test_streaming.py)


def test_config_comes_from_the_type_argument() -> None:
    assert WordsParser.Config is WordsConfig
    parser = WordsParser()
    assert isinstance(parser.config, WordsConfig) and parser.parse("A b").value == ["a", "b"]
    assert WordsParser(WordsConfig(lower=False)).parse("A b").value == ["A", "b"]


def test_a_bare_base_class_still_works() -> None:
    assert OldStyleParser.Config is EmptyConfig and isinstance(OldStyleParser().config, EmptyConfig)
    assert OldStyleParser().parse("x") == Parsed(ok=True, value="x")


def test_a_config_that_contradicts_the_type_argument_is_refused() -> None:
    with pytest.raises(TypeError, match=r"Config is EmptyConfig, not the WordsConfig its base Parser\[WordsConfig\]"):

        class Confused(Parser[WordsConfig]):
            Config = EmptyConfig

            def parse(self, text: str) -> Parsed:
                return Parsed.fail("never")


def test_a_subclass_config_is_accepted() -> None:
    class MoreConfig(WordsConfig):
        """One more option."""

        strip: bool = Field(False, description="Strip punctuation.")

    class More(WordsParser):
        Config = MoreConfig

    assert isinstance(More().config, MoreConfig)


def test_optional_hooks_default_to_nothing() -> None:
    trainer = NoJobs()
    with pytest.raises(PluginError, match="NoJobs cannot cancel jobs"):
        trainer.cancel("job-1")
    assert trainer.token_counter() is None
    assert trainer.estimate(WORK) == Estimate()
    assert NoPrices().estimate(EmptyConfig(), WORK) == Estimate()


def test_a_generator_with_prices_gets_an_eval_cost_by_default() -> None:
    got = Priced().estimate(EmptyConfig(), WORK)
    assert got.prices == TokenPrices("m", 1.0, 2.0)
    assert got.eval_cost_usd == pytest.approx((10 * 1.0 + 2 * 2.0) / 1000)


def test_registry_load_returns_the_kind_asked_for() -> None:
    parser = registry.load("parser", "viggo")
    assert issubclass(parser, Parser) and parser.Config.__name__ == "ViggoParserConfig"
    assert issubclass(registry.load("trainer", "hf"), Trainer)


def test_the_hf_and_openai_plugins_estimate_through_the_hooks() -> None:
    from fteval_hf.estimate import TINY_TOKENS_PER_S
    from fteval_hf.trainer import HFTrainer
    from fteval_openai.generator import OpenAIGenerator
    from fteval_openai.trainer import OpenAITrainer

    hf = HFTrainer(
        HFTrainer.Config.model_validate({"model": {"init": "scratch", "preset": "tiny"}, "train": {"epochs": 2}})
    )
    got = hf.estimate(WORK)
    assert got.epochs == 2.0 and got.train_tokens == 14 and got.train_time_s == pytest.approx(14 / TINY_TOKENS_PER_S)
    assert hf.estimate(PlanInput((3, 4), 2, 10, 2, 0, trains=False, seed=0)) == Estimate()

    config = OpenAITrainer.Config.model_validate({"model": {"name": "gpt-4o-mini-2024-07-18"}, "train": {"epochs": 3}})
    trained = OpenAITrainer(config).estimate(WORK)
    assert trained.epochs == 3.0 and trained.train_tokens == 21 and trained.train_cost_usd is not None
    evaluated = OpenAIGenerator().estimate(config, WORK)
    assert evaluated.prices is not None and evaluated.prices.known
    assert evaluated.eval_cost_usd == pytest.approx(evaluated.prices.cost(10, 2))
    counter = OpenAITrainer(config).token_counter()
    assert counter is not None and counter.name.startswith("tiktoken") and counter.text("hello world") == 2


def test_a_third_party_trainer_estimates_in_the_plan(tmp_path: Path) -> None:
    spec = tmp_path / "delayed.yaml"
    spec.write_text(
        (EXTERNAL_PLUGIN / "delayed.yaml")
        .read_text()
        .replace("../../../specs/", f"{SPECS}/")
        .replace("model: {delay_s: 0.0}", "model: {delay_s: 0.5, train_delay_s: 7}")
    )
    rows = sum(1 for _ in (SPECS / "data/yesno/test.csv").open()) - 1
    out = fteval_cli("plan", str(spec), store=tmp_path / "r.db", extra_path=EXTERNAL_PLUGIN)
    assert out.returncode == 0, out.stderr
    assert f"answering {rows} eval rows takes ~{rows * 0.5:g} s (0.5 s each)" in out.stdout
    assert "training time: 7 s\n" in out.stdout  # an exact estimate, not a throughput bound


def test_a_token_counter_that_raises_is_a_warning_in_the_plan(tmp_path: Path) -> None:
    spec = tmp_path / "delayed.yaml"
    spec.write_text(
        (EXTERNAL_PLUGIN / "delayed.yaml")
        .read_text()
        .replace("../../../specs/", f"{SPECS}/")
        .replace("model: {delay_s: 0.0}", "model: {delay_s: 0.0, broken_counter: true}")
    )
    out = fteval_cli("plan", str(spec), store=tmp_path / "r.db", extra_path=EXTERNAL_PLUGIN)
    assert out.returncode == 0, out.stderr
    assert "token counter failed: RuntimeError: tokenizer file missing" in out.stdout + out.stderr
    assert "chars/4 estimate" in out.stdout


def test_the_command_list_imports_nothing_heavy() -> None:
    code = (
        "import sys\nfrom fteval.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print([m for m in ('torch', 'transformers', 'openai', 'fastapi', 'uvicorn', 'tiktoken') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "serve" in out.stdout and out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


def test_plugin_commands_are_listed_and_run(tmp_path: Path) -> None:
    listed = fteval_cli("--help", store=tmp_path / "r.db", extra_path=EXTERNAL_PLUGIN)
    assert listed.returncode == 0 and "delayed-info" in listed.stdout and "serve" in listed.stdout
    ran = fteval_cli("delayed-info", "--delay-s", "0.5", "8", store=tmp_path / "r.db", extra_path=EXTERNAL_PLUGIN)
    assert ran.returncode == 0 and ran.stdout.strip() == "8 rows at 0.5 s each: 4 s"
    plugins = fteval_cli("plugins", store=tmp_path / "r.db", extra_path=EXTERNAL_PLUGIN)
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in plugins.stdout.splitlines()]
    assert [
        "command",
        "delayed-info",
        "fteval-delay-plugin",
        "0.1.0",
        "fteval_delay_plugin.commands:delayed_info",
    ] in rows
    assert any(r[:3] == ["command", "serve", "fteval"] and r[4] == "fteval_openai.commands:serve" for r in rows)
    without = fteval_cli("delayed-info", "8", store=tmp_path / "r.db")
    assert without.returncode == 2 and "No such command 'delayed-info'" in without.stderr


def test_a_broken_plugin_command_says_why_and_cannot_shadow_a_built_in(tmp_path: Path) -> None:
    (tmp_path / "cmds_pkg.py").write_text("NOT_A_COMMAND = 1\n")
    (tmp_path / "cmds_pkg_raises.py").write_text("raise RuntimeError('plugin bug at import')\n")
    dist = tmp_path / "cmds_pkg-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: cmds-pkg\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text(
        "[fteval.commands]\n"
        "gone = cmds_pkg_missing_module:cmd\n"
        "notcmd = cmds_pkg:NOT_A_COMMAND\n"
        "raises = cmds_pkg_raises:cmd\n"
        "validate = cmds_pkg:NOT_A_COMMAND\n"
    )
    store = tmp_path / "r.db"
    listed = fteval_cli("--help", store=store, extra_path=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"\n  gone +\(unavailable: run it to see why\)", listed.stdout), listed.stdout
    assert re.search(r"\n  notcmd +\(unavailable", listed.stdout)
    gone = fteval_cli("gone", store=store, extra_path=tmp_path)
    assert gone.returncode != 0 and "Traceback" not in gone.stderr
    assert "`fteval gone` is unavailable: cmds_pkg_missing_module:cmd failed to import" in gone.stderr
    notcmd = fteval_cli("notcmd", store=store, extra_path=tmp_path)
    assert notcmd.returncode != 0 and "cmds_pkg:NOT_A_COMMAND is not a click command" in notcmd.stderr
    raises = fteval_cli("raises", store=store, extra_path=tmp_path)
    assert raises.returncode != 0 and "RuntimeError: plugin bug at import" in raises.stderr
    builtin = fteval_cli("validate", str(SPECS / "viggo.yaml"), store=store, extra_path=tmp_path)
    assert builtin.returncode == 0, builtin.stderr


def test_serve_comes_from_the_openai_plugin() -> None:
    from fteval.commands import command_names, load_command

    assert "serve" in command_names()
    serve = load_command("serve")
    assert serve is not None and serve.callback is not None
    assert serve.callback.__module__ == "fteval_openai.commands"


def test_every_package_ships_py_typed() -> None:
    import tomllib

    root = Path(__file__).resolve().parents[1]
    data = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["*"]
    assert "py.typed" in data  # packaged into the wheel next to each package's __init__.py
    packages = [root / "fteval", *(p for p in (root / "plugins").iterdir() if (p / "__init__.py").is_file())]
    assert len(packages) >= 6 and all((p / "py.typed").is_file() for p in packages)
