#!/usr/bin/env bash
# The release walkthrough of docs/releases.md, timed step by step:
#   bash examples/release/walkthrough.sh [WORKDIR]   (from the repository root; default WORKDIR: a new temp folder)
# A small task that trains in seconds ("Colours of: sea, coal" -> "blue, red"; 200 train rows, 40 eval
# rows) on a ~100k-parameter Llama made here (it stands in for a hub model: no download). Release v1
# trains 300 steps, v2 2 steps; both are exported, evaluated as folders, and gated on each other.
# Prints each step's wall time and the load average; stops at the first unexpected exit status.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BIN="${BIN:-$ROOT/.venv/bin}"
WORK="${1:-$(mktemp -d)}"
mkdir -p "$WORK" && cd "$WORK" || exit 2
export FTEVAL_STORE="$WORK/.fteval/runs.db" OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
step() {  # step NAME EXPECTED_EXIT COMMAND...
  local name="$1" want="$2"; shift 2
  local start end rc
  start=$(date +%s.%N)
  "$@" > "$WORK/$name.log" 2>&1; rc=$?
  end=$(date +%s.%N)
  printf '| %-22s | %s | %6.1f s | %s |\n' "$name" "$rc" "$(echo "$end - $start" | bc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
  [ "$rc" = "$want" ] || { echo "unexpected exit status (want $want); see $WORK/$name.log"; tail -5 "$WORK/$name.log"; exit 1; }
}
cat > spec.yaml <<'YAML'
# fteval run spec.yaml -t v1   (the release walkthrough's task; see docs/releases.md)
fteval: 1
name: colours
dataset:
  train: {path: train.csv}
  eval: {path: eval.csv}
prompt: {user: "{{ q }}", target: "{{ a }}"}
parser: text
metrics: [exact_match]
generation: {max_new_tokens: 8}
targets:
  v1: {trainer: hf, model: {id: ./base}, train: {max_steps: 300, warmup_steps: 5, lr: 1.0e-2, batch_size: 16, eval_every: null}}
  v2: {trainer: hf, model: {id: ./base}, train: {max_steps: 2, warmup_steps: 1, lr: 1.0e-2, batch_size: 16, eval_every: null}}
  release: {trainer: hf, evaluator_only: true, model: {id: ./base}}
YAML
echo "# release walkthrough in $WORK: $(getconf _NPROCESSORS_ONLN) CPUs, OMP_NUM_THREADS=$OMP_NUM_THREADS"
echo "| step | exit | wall | load (1, 5, 15 min) |"
echo "| --- | --- | --- | --- |"
step make-data-and-base 0 "$BIN/python" - <<'PY'
import csv, random, torch
from transformers import LlamaConfig, LlamaForCausalLM
from fteval_hf.scratch import train_tokenizer
colours = ["red", "green", "blue", "amber", "violet", "white", "black", "grey"]
things = ["sky", "grass", "sea", "sun", "snow", "coal", "cloud", "plum", "fire", "moss"]
colour = {t: colours[i % len(colours)] for i, t in enumerate(things)}
rng, rows = random.Random(0), {}
for name, n in (("train", 200), ("eval", 40)):
    rows[name] = []
    for _ in range(n):
        picks = rng.sample(things, rng.randint(1, 2))
        rows[name].append(("Colours of: " + ", ".join(picks), ", ".join(colour[p] for p in picks)))
    with open(f"{name}.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([("q", "a"), *rows[name]])
tok = train_tokenizer([f"{q}\n{a}" for q, a in rows["train"]], 300)
config = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                     num_attention_heads=4, max_position_embeddings=256, bos_token_id=tok.bos_token_id,
                     eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
torch.manual_seed(0)
LlamaForCausalLM(config).save_pretrained("base")
tok.save_pretrained("base")
PY
step train-v1 0 "$BIN/fteval" run spec.yaml -t v1 --label v1
step export-v1 0 "$BIN/fteval" export-model v1 rel/v1
step load-without-fteval 0 "$BIN/python" -c "
import sys; sys.modules['fteval'] = None
from transformers import AutoModelForCausalLM, AutoTokenizer
AutoModelForCausalLM.from_pretrained('rel/v1'); AutoTokenizer.from_pretrained('rel/v1')"
step eval-rel-v1 0 "$BIN/fteval" run spec.yaml -t release --model rel/v1 --label rel-v1
same_outputs() {  # the exported folder answers every eval row as the run it came from
  "$BIN/python" - "$BIN/fteval" <<'PY'
import json, subprocess, sys
outputs = [[e["output"] for e in json.loads(subprocess.run([sys.argv[1], "show", ref, "--json"], capture_output=True,
           text=True, check=True).stdout)["examples"]] for ref in ("v1", "rel-v1")]
assert outputs[0] == outputs[1], "the exported folder answers differently"
print(f"{len(outputs[0])} of {len(outputs[0])} outputs identical")
PY
}
step same-outputs 0 same_outputs
step tag-baseline 0 "$BIN/fteval" tag rel-v1 baseline
step train-v2 0 "$BIN/fteval" run spec.yaml -t v2 --label v2
step export-v2 0 "$BIN/fteval" export-model v2 rel/v2
step gate-v2-on-v1 1 "$BIN/fteval" run spec.yaml -t release --model rel/v2 --label rel-v2 \
  --baseline baseline --fail-if-worse exact_match=0.01 --md summary.md
step gate-v1-on-v2 0 "$BIN/fteval" compare rel-v2 rel-v1 --fail-if-worse exact_match=0.01
echo "# verdicts (last lines):"
tail -1 "$WORK/gate-v2-on-v1.log"
tail -1 "$WORK/gate-v1-on-v2.log"
echo "# exported v1 vs its run: $(tail -1 "$WORK/same-outputs.log")"
