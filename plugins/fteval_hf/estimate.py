"""The hf trainer's ``fteval plan`` estimate: epochs, tokens and a lower bound on training time and cost.

Imports no torch: planning reads the config and the token counts only.
"""

from __future__ import annotations

from fteval.plugin import Estimate, PlanInput
from fteval_hf.config import HFConfig, ScratchModel
from fteval_hf.prefix_cache import MIN_SHARED_PREFIX

__all__ = ["TINY_TOKENS_PER_S", "estimate"]

#: Training throughput of the tiny scratch preset on CPU, measured by benchmarks/train_throughput.py
#: (README, "Benchmarks"): the only local figure fteval has, so time estimates scale from it.
TINY_TOKENS_PER_S = 5252


def _computed_tokens(config: HFConfig, estimate: Estimate, rows: int, tokens: int, epochs: float, shared: int) -> int:
    """Of ``tokens`` trained, those the trainer computes: the shared prompt prefix once per batch when
    ``shared_prefix`` is used (said in a note)."""
    mode, batch = config.train.shared_prefix, max(1, config.train.batch_size)
    if mode == "off" or (mode == "auto" and shared < MIN_SHARED_PREFIX):
        return tokens
    saved = round((rows - -(-rows // batch)) * shared * epochs)  # every row of a batch but its first
    estimate.notes.append(
        f"shared prefix: ~{shared:,} prompt tokens every row starts with are computed once per batch of {batch}"
        f" (~{saved / max(tokens, 1):.0%} of the tokens; the time below counts the computed ones)"
    )
    return max(tokens - saved, 0)


def estimate(config: HFConfig, work: PlanInput) -> Estimate:
    """Epochs, tokens trained, a lower bound on the time at the measured tiny-preset rate, and its cost."""
    out = Estimate()
    per_row, train = work.train_rows, config.train
    rows = len(per_row)
    if not work.trains or not rows:
        return out
    if train.max_steps:
        epochs = train.max_steps * train.batch_size * train.grad_accum / rows
    else:
        epochs = float(train.num_epochs)
    out.epochs = epochs
    max_len = train.max_seq_len
    long = sum(n > max_len for n in per_row)
    if long:
        out.warnings.append(f"{long} train row(s) over max_seq_len {max_len} (estimated): cut at the end")
    out.train_tokens = round(sum(min(n, max_len) for n in per_row) * epochs)
    computed = _computed_tokens(config, out, rows, out.train_tokens, epochs, work.shared_prompt_tokens)
    out.train_time_s, out.train_time_is_bound = computed / TINY_TOKENS_PER_S, True
    tiny = isinstance(config.model, ScratchModel) and config.model.preset == "tiny"
    out.notes.append(
        f"training time: a lower bound at {TINY_TOKENS_PER_S:,} tokens/s, measured for the tiny preset on 2 idle CPU"
        " cores (README 'Benchmarks'); start-up (imports, tokenizer training, evaluation, saving) and per-step"
        " overhead are not included and dominate small data sets (a 200-row run took 121 s against a 3 s bound)"
        + ("" if tiny else "; this model is larger, expect it to take longer")
    )
    hourly = max(config.cost.cpu_hour_usd, config.cost.gpu_hour_usd)
    if hourly:
        out.train_cost_usd = out.train_time_s / 3600 * hourly
    return out
