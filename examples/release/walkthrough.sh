#!/usr/bin/env bash
# The release walkthrough of docs/releases.md, timed step by step:
#   bash examples/release/walkthrough.sh [WORKDIR]   (from the repository root; default WORKDIR: a new temp folder)
# Trains two tiny ViGGO releases (v1: the demo's 4 epochs, v2: 1 epoch), exports both, evaluates the
# exported folders, and gates v2 on v1 in both directions. Prints each step's wall time and the load.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
FTEVAL="${FTEVAL:-$ROOT/.venv/bin/fteval}"
PY="${PY:-$ROOT/.venv/bin/python}"
WORK="${1:-$(mktemp -d)}"
mkdir -p "$WORK" && cd "$WORK" || exit 2
export FTEVAL_STORE="$WORK/.fteval/runs.db"
cat > v2.yaml <<YAML
# fteval run v2.yaml -t tiny   (the demo's spec, trained for 1 epoch instead of 4: a worse release)
extends: $ROOT/specs/viggo.yaml
targets:
  tiny:
    train: {epochs: 1}
YAML
step() {  # step NAME EXPECTED_EXIT COMMAND...: run, time, check the exit status
  local name="$1" want="$2"; shift 2
  local start end rc
  start=$(date +%s.%N)
  "$@" > "$WORK/$name.log" 2>&1; rc=$?
  end=$(date +%s.%N)
  printf '%-28s exit %s (want %s)  %6.1f s  load %s\n' "$name" "$rc" "$want" "$(echo "$end - $start" | bc)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
  [ "$rc" = "$want" ] || { echo "unexpected exit status; see $WORK/$name.log"; tail -5 "$WORK/$name.log"; exit 1; }
}
echo "# release walkthrough in $WORK ($(nproc) CPUs, OMP_NUM_THREADS=${OMP_NUM_THREADS:-unset})"
step train-v1 0 "$FTEVAL" run "$ROOT/specs/viggo.yaml" -t tiny --label v1
step export-v1 0 "$FTEVAL" export-model v1 rel/v1
step load-without-fteval 0 "$PY" -c "
import sys; sys.modules['fteval'] = None
from transformers import AutoModelForCausalLM, AutoTokenizer
AutoModelForCausalLM.from_pretrained('rel/v1'); AutoTokenizer.from_pretrained('rel/v1')"
step eval-rel-v1 0 "$FTEVAL" run "$ROOT/specs/viggo.yaml" -t tiny --model rel/v1 --label rel-v1
step same-outputs 0 "$FTEVAL" compare v1 rel-v1 --fail-if-worse exact_match
step tag-baseline 0 "$FTEVAL" tag rel-v1 baseline
step train-v2 0 "$FTEVAL" run v2.yaml -t tiny --label v2
step export-v2 0 "$FTEVAL" export-model v2 rel/v2
step gate-v2-on-v1 1 "$FTEVAL" run "$ROOT/specs/viggo.yaml" -t tiny --model rel/v2 --label rel-v2 \
  --baseline baseline --fail-if-worse exact_match=0.01 --md summary.md
step gate-v1-on-v2 0 "$FTEVAL" compare rel-v2 rel-v1 --fail-if-worse exact_match=0.01
echo "# verdicts:"; tail -1 "$WORK/gate-v2-on-v1.log"; tail -1 "$WORK/gate-v1-on-v2.log"
grep -m1 -A3 "^| metric" rel/v1/README.md
