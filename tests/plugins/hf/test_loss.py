"""Shared-prefix training gives the plain path's loss and gradients (full and LoRA)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")

from fteval_hf.loss import causal_lm_loss, collate, shared_prefix_length
from tiny_models import tiny_llama as make_tiny_llama

VOCAB, PAD, EOS = 97, 0, 2


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_llama(seed: int = 0) -> transformers.LlamaForCausalLM:
    """The shared tiny Llama of about 100k parameters."""
    return make_tiny_llama(VOCAB, pad=PAD, eos=EOS, seed=seed)


def lora(model: transformers.PreTrainedModel) -> peft.PeftModel:
    """The reference LoRA recipe without dropout (dropout noise would differ between paths)."""
    config = peft.LoraConfig(
        r=8,
        lora_alpha=16,
        lora_dropout=0.0,
        bias="none",
        task_type="CAUSAL_LM",
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
    )
    wrapped = peft.get_peft_model(model, config)
    for (
        name,
        param,
    ) in wrapped.named_parameters():  # LoRA B starts at zero: give it gradients to compare
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.05)
    return wrapped


def rand_ids(gen: torch.Generator, n: int) -> list[int]:
    """``n`` random non-special token ids."""
    return torch.randint(3, VOCAB, (n,), generator=gen).tolist()


def make_batch(kind: str, loss_on: str = "completion") -> dict[str, torch.Tensor]:
    """A batch of a given shape: shared prefix with ragged rows, no shared prefix, or one row."""
    gen = torch.Generator().manual_seed(7)
    head = rand_ids(gen, 40)
    if kind == "ragged":
        prompts = [head + rand_ids(gen, k) for k in (3, 11, 1, 25, 6)]
    elif kind == "disjoint":
        prompts = [[3 + i] + rand_ids(gen, k) for i, k in enumerate((30, 12, 44))]
    else:
        prompts = [head + rand_ids(gen, 9)]
    completions = [rand_ids(gen, k) + [EOS] for k in (7, 2, 13, 4, 9)[: len(prompts)]]
    return collate(prompts, completions, pad_token_id=PAD, loss_on=loss_on)


def loss_and_grads(model, batch, mode: str) -> tuple[float, dict[str, torch.Tensor], object]:
    """Loss value, gradients of trainable parameters and the LossResult."""
    model.zero_grad()
    result = causal_lm_loss(model, batch, mode)
    result.loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
    return result.loss.item(), grads, result


def test_collate_masks_prompt_and_padding():
    batch = collate([[5, 6, 7], [5]], [[8, EOS], [9, 10, EOS]], pad_token_id=PAD)
    assert batch["input_ids"].tolist() == [[5, 6, 7, 8, EOS], [5, 9, 10, EOS, PAD]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]]
    assert batch["labels"].tolist() == [[-100, -100, -100, 8, EOS], [-100, 9, 10, EOS, -100]]
    assert batch["prompt_lengths"].tolist() == [3, 1]
    full = collate([[5, 6]], [[7]], pad_token_id=PAD, loss_on="all", max_length=2)
    assert full["labels"].tolist() == [[5, 6]] and full["prompt_lengths"].tolist() == [2]


def test_plain_loss_matches_transformers_loss():
    model = tiny_llama()
    for loss_on in ("completion", "all"):
        batch = make_batch("ragged", loss_on)
        ours = causal_lm_loss(model, batch, "off").loss.item()
        theirs = model(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            labels=batch["labels"],
        ).loss.item()
        assert ours == pytest.approx(theirs, rel=1e-6)


def test_shared_prefix_length_stays_inside_the_prompt():
    batch = make_batch("ragged")
    assert shared_prefix_length(batch["input_ids"], batch["prompt_lengths"]) == 40
    assert shared_prefix_length(make_batch("disjoint")["input_ids"], torch.tensor([31, 13, 45])) == 0


@pytest.mark.parametrize("method", ["full", "lora"])
@pytest.mark.parametrize(
    "kind,loss_on",
    [
        ("ragged", "completion"),
        ("ragged", "all"),
        ("disjoint", "completion"),
        ("single", "completion"),
    ],
)
def test_shared_prefix_gives_plain_loss_and_gradients(method, kind, loss_on):
    model = tiny_llama()
    if method == "lora":
        model = lora(model)
    model.train()
    batch = make_batch(kind, loss_on)
    plain_loss, plain_grads, plain = loss_and_grads(model, batch, "off")
    shared_loss, shared_grads, shared = loss_and_grads(model, batch, "on")
    assert shared_loss == pytest.approx(plain_loss, rel=1e-6)
    assert plain_grads.keys() == shared_grads.keys() and plain_grads
    for name, grad in plain_grads.items():
        scale = grad.abs().max().item()
        assert scale > 0, name
        assert (shared_grads[name] - grad).abs().max().item() <= 1e-5 * scale, name
    rows = batch["input_ids"].shape[0]
    expected_prefix = {"ragged": 40, "disjoint": 0, "single": 49}[kind]
    assert shared.shared_prefix == expected_prefix and plain.shared_prefix == 0
    assert shared.prompt_tokens_saved == (rows - 1) * expected_prefix
    assert shared.computed_tokens == plain.plain_tokens - shared.prompt_tokens_saved
    assert shared.label_tokens == plain.label_tokens


def test_shared_part_stops_at_a_masked_column():
    model = tiny_llama()
    batch = make_batch("ragged")
    batch["attention_mask"][2, 10] = 0  # a hole inside the common prefix (as left padding makes)
    plain = causal_lm_loss(model, batch, "off")
    shared = causal_lm_loss(model, batch, "on")
    assert shared.shared_prefix == 10
    assert shared.loss.item() == pytest.approx(plain.loss.item(), rel=1e-6)


def test_auto_falls_back_when_prefix_short_or_model_unsupported():
    model = tiny_llama()
    batch = make_batch("ragged")
    assert causal_lm_loss(model, batch, "auto").shared_prefix == 40
    assert causal_lm_loss(model, batch, "auto", min_prefix=41).shared_prefix == 0
    assert causal_lm_loss(model, make_batch("single"), "auto").shared_prefix == 0  # one row: nothing to save
    model.activation_checkpointing_enable()
    assert causal_lm_loss(model, batch, "auto").shared_prefix == 0
    with pytest.raises(ValueError, match="shared_prefix: on"):
        causal_lm_loss(model, batch, "on")
    with pytest.raises(ValueError, match="auto, on or off"):
        causal_lm_loss(model, batch, "yes")


def train_curve(mode: str, method: str, steps: int = 12) -> list[float]:
    """Losses of a short AdamW run over fixed batches."""
    model = tiny_llama(seed=3)
    if method == "lora":
        model = lora(model)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=3e-3)
    batches = [make_batch("ragged"), make_batch("ragged", "all")]
    curve = []
    for step in range(steps):
        result = causal_lm_loss(model, batches[step % 2], mode)
        opt.zero_grad()
        result.loss.backward()
        opt.step()
        curve.append(result.loss.item())
    return curve


@pytest.mark.parametrize("method", ["full", "lora"])
def test_training_curves_match(method):
    plain, shared = train_curve("off", method), train_curve("on", method)
    assert plain[-1] < plain[0] - 0.1  # it learns
    assert shared == pytest.approx(plain, rel=1e-4)
