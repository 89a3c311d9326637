"""The README.md model card of an exported model, in the Hugging Face format (YAML front matter + Markdown)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from fteval import __version__
from fteval.plugin import ExportedModel
from fteval.storage.records import AggregateRecord, ExampleRecord, JobRecord, RunRecord

__all__ = ["model_card"]


def _dump_yaml(data: Any) -> str:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()


def _source_name(source: Any) -> str:
    """A split's origin without the machine's folders: the file's last two path parts, or the hub dataset."""
    if not isinstance(source, dict):
        return "-"
    if source.get("path"):
        return "/".join(Path(str(source["path"])).parts[-2:])
    hub = source.get("hf")
    if isinstance(hub, dict) and hub.get("path"):
        return str(hub["path"]) + (f" ({hub['name']})" if hub.get("name") else "")
    if source.get("fraction") is not None:
        return f"{source['fraction']:g} of the train split"
    return "-"


def _front_matter(run: RunRecord, aggregates: list[AggregateRecord], exported: ExportedModel) -> dict[str, Any]:
    eval_source = (run.spec.get("dataset") or {}).get("eval")
    metrics = [
        {
            "type": a.metric,
            "name": a.metric,
            "value": round(a.value, 6),
            "args": {"ci95": [round(a.ci_low, 6), round(a.ci_high, 6)], "n": a.n, "ci_method": a.method},
        }
        for a in aggregates
    ]
    result = {
        "task": {"type": "text-generation", "name": run.spec_name},
        "dataset": {
            "name": _source_name(eval_source),
            "type": _source_name(eval_source),
            "split": "eval",
            "args": {"rows": run.n_examples},
        },
        "metrics": metrics,
    }
    front: dict[str, Any] = {"library_name": exported.library, "tags": ["fteval", run.spec_name]}
    if exported.base_model and not Path(exported.base_model).is_absolute():
        front["base_model"] = exported.base_model
    front["model-index"] = [{"name": f"{run.spec_name}-{run.target}", "results": [result]}]
    return front


def _fence(text: str, lang: str = "") -> str:
    """``text`` in a code fence longer than any backtick run inside it."""
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}{lang}\n{text}\n{ticks}"


def _usage(exported: ExportedModel, folder: str) -> str:
    if exported.kind == "adapter":
        code = (
            "from peft import AutoPeftModelForCausalLM\nfrom transformers import AutoTokenizer\n\n"
            f'model = AutoPeftModelForCausalLM.from_pretrained("{folder}")\n'
            f'tokenizer = AutoTokenizer.from_pretrained("{folder}")'
        )
    else:
        code = (
            "from transformers import AutoModelForCausalLM, AutoTokenizer\n\n"
            f'model = AutoModelForCausalLM.from_pretrained("{folder}")\n'
            f'tokenizer = AutoTokenizer.from_pretrained("{folder}")'
        )
    fmt = exported.prompt_format
    local = folder if folder.startswith(("/", "./", "../")) else f"./{folder}"
    spec = (
        "targets:\n  release:\n    trainer: hf\n    evaluator_only: true\n"
        f"    model: {{id: {local}}}\n    train: {{prompt_format: {fmt}}}"
    )
    return (
        f"{_fence(code, 'python')}\n\nTo evaluate it with fteval, add a target like this one to the spec (a model"
        f" path resolves relative to the spec file):\n\n{_fence(spec, 'yaml')}"
    )


def model_card(
    run: RunRecord,
    aggregates: list[AggregateRecord],
    job: JobRecord | None,
    example: ExampleRecord | None,
    exported: ExportedModel,
    folder: str,
) -> str:
    """The model card text: ``model-index`` results with 95% CIs, base model, training, prompt layout, provenance.

    Args:
        run: the evaluated run the model card reports.
        aggregates: its metrics.
        job: the training job that made the model (None for none).
        example: one evaluated example, shown as the model sees it.
        exported: what the trainer wrote.
        folder: the folder as the user named it, for the usage snippets.
    """
    spec = run.spec
    prompt = spec.get("prompt") or {}
    dataset = spec.get("dataset") or {}
    lines = ["---", _dump_yaml(_front_matter(run, aggregates, exported)).rstrip(), "---", ""]
    lines += [f"# {run.spec_name} / {run.target}", ""]
    lines += [
        f"Fine-tuned and evaluated with fteval {__version__} from the spec `{run.spec_name}`"
        f" (content hash `sha256:{run.spec_hash}`), run `{run.id}`.",
        "",
        f"## Results (eval split: {_source_name(dataset.get('eval'))}, {run.n_examples} rows)",
        "",
        "| metric | value | 95% CI | n | CI method |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {a.metric} | {a.value:.4f} | [{a.ci_low:.4f}, {a.ci_high:.4f}] | {a.n} | {a.method} |" for a in aggregates
    ]
    base = exported.base_model or ("a model trained from scratch (random init)" if job else "-")
    lines += ["", "## Model", "", f"- kind: {exported.kind} ({exported.library})", f"- base model: {base}"]
    lines += [f"- files: {', '.join(exported.files)}", f"- identity of this folder: `{exported.identity}`"]
    lines += ["", "## Training", ""]
    lines += [f"- train split: {_source_name(dataset.get('train'))}"]
    if dataset.get("valid"):
        lines += [f"- valid split: {_source_name(dataset.get('valid'))}"]
    if job is not None:
        settings = {k: job.config.get(k) for k in ("trainer", "model", "train") if job.config.get(k)}
        stats = {k: job.stats[k] for k in sorted(job.stats)}
        lines += [
            f"- training job `{job.id}` ({job.status})",
            "",
            "Settings:",
            "",
            _fence(_dump_yaml(settings).rstrip(), "yaml"),
        ]
        lines += ["", "Job statistics:", "", _fence(json.dumps(stats, indent=1), "json")]
    lines += ["", "## Prompt layout", "", f"Prompt format `{exported.prompt_format}`. Templates of the spec:", ""]
    templates = {k: prompt[k] for k in ("system", "user", "target") if prompt.get(k)}
    lines += [_fence(_dump_yaml(templates).rstrip(), "yaml")]
    if example is not None:
        lines += ["", "One eval row as the model sees it (special tokens included), then its gold answer:", ""]
        lines += [_fence(exported.example_input), "", _fence(example.gold)]
    lines += ["", f"Generation settings of the run: `{json.dumps(run.generation, sort_keys=True)}`"]
    lines += ["", "## Use", "", _usage(exported, folder), ""]
    return "\n".join(lines)
