#!/usr/bin/env bash
# The loop's train hook: LoRA SFT with LLaMA-Factory on the round's data, then the adapter
# merged into the model, so the eval hook (and the next round) load one plain model folder.
#   bash train.sh TRAIN_YAML MERGE_YAML
set -euo pipefail
llamafactory-cli train "$1"
llamafactory-cli export "$2"
