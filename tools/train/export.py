"""Writes the shipped checkpoint folder from train.py's output: config.json (the real Nano-v2
schema), model.safetensors (BF16, HF tensor names), tokenizer.json (BOS added by the
post-processor as on the 9B; <think>/</think> not special so they survive skip_special_tokens)
and tokenizer_config.json (written by the package's own tinyTokenizerConfig(): the same special
tokens and Nano-v2-style chat template the tiny checkpoints carry).
Usage: python tools/train/export.py TRAIN_OUT MODEL_DIR   (needs `npx tsc` to have built dist/)
"""
import json
import os
import subprocess
import sys

import torch
from safetensors.torch import save_file

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def write_tokenizer(src, out):
    with open(src) as f:
        tok = json.load(f)
    for t in tok["added_tokens"]:
        if t["content"] in ("<think>", "</think>"):
            t["special"] = False
    bos = {"id": "<s>", "type_id": 0}
    tok["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": bos}, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"SpecialToken": bos}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}},
    }
    with open(os.path.join(out, "tokenizer.json"), "w") as f:
        json.dump(tok, f, ensure_ascii=False, indent=1)
        f.write("\n")
    js = ("const {tinyTokenizerConfig}=require('./dist/src/tiny/tokenizer');"
          "process.stdout.write(JSON.stringify(tinyTokenizerConfig(),null,2)+'\\n')")
    cfg = subprocess.run(["node", "-e", js], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        f.write(cfg)


def main(train_out, out):
    os.makedirs(out, exist_ok=True)
    ck = torch.load(os.path.join(train_out, "ckpt.pt"), map_location="cpu")
    cfg = ck["config"]
    txt = json.dumps(cfg, indent=2, allow_nan=True)  # Infinity, as in the real config.json
    with open(os.path.join(out, "config.json"), "w") as f:
        f.write(txt + "\n")
    # HF 5 keeps the backbone as `model.*` in memory; checkpoints on disk name it `backbone.*`.
    tensors = {("backbone." + k[len("model."):] if k.startswith("model.") else k): v.to(torch.bfloat16).contiguous()
               for k, v in ck["model"].items()}
    save_file(tensors, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    os.chmod(os.path.join(out, "model.safetensors"), 0o644)  # safetensors writes it owner-only
    write_tokenizer(os.path.join(train_out, "tokenizer.json"), out)
    n = sum(v.numel() for v in tensors.values())
    print(f"wrote {out}: {len(tensors)} tensors, {n / 1e6:.2f} M parameters, step {ck['step']}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
