#!/usr/bin/env python3
"""Runs llama.cpp's own convert_hf_to_gguf.py on a nemotron-lab bench checkpoint.

Usage: python bench/llama_cpp_convert.py /path/to/llama.cpp/convert_hf_to_gguf.py CHECKPOINT_DIR \
           --outtype bf16|q8_0 --outfile OUT.gguf

The converter is used as it is, with two accommodations: it identifies a BPE pre-tokenizer by
the hash of a test string, and the bench checkpoints' small generated tokenizer is not on its
list, so an unknown one is treated as llama.cpp's "default" pre-tokenizer (the benchmark feeds
token ids, never text); and it takes any config with `num_experts_per_tok` for the MoE variant,
which transformers' NemotronHConfig fills in for every NemotronH, so for a checkpoint whose
layers include no MoE block the MoE fields are dropped from the loaded config (and the
layer pattern is taken from config.json as written); and the epsilon it writes as
layer_norm_epsilon is written as the RMS-norm epsilon too (NemotronH's norms are RMS norms), as
some converter versions write only the first while the loader reads the second. Nothing of llama.cpp is copied here; it is imported from the given path.
Works with both layouts of the converter: model classes in the script itself (older) or in
its conversion/ package (newer).
"""
import importlib.util
import json
import sys
from pathlib import Path

converter = Path(sys.argv[1]).resolve()
sys.argv = [str(converter)] + sys.argv[2:]
sys.path.insert(0, str(converter.parent))
sys.path.insert(1, str(converter.parent / "gguf-py"))

spec = importlib.util.spec_from_file_location("convert_hf_to_gguf", converter)
script = importlib.util.module_from_spec(spec)
spec.loader.exec_module(script)  # defines the classes and main(); runs nothing
try:
    from conversion import base as classes  # newer layout
except ImportError:
    classes = script
known_pre = classes.TextModel.get_vocab_base_pre


def pre_or_default(self, tokenizer):
    try:
        return known_pre(self, tokenizer)
    except NotImplementedError:
        return "default"


classes.TextModel.get_vocab_base_pre = pre_or_default

known_hparams = classes.ModelBase.load_hparams


def hparams_dense_unless_moe(dir_model, *args, **kwargs):
    h = known_hparams(dir_model, *args, **kwargs)
    raw = Path(dir_model) / "config.json"
    if h.get("model_type") == "nemotron_h" and raw.is_file():
        # transformers 5 turns the pattern string into layers_block_type, whose dense MLP entries
        # this converter's list form does not know; its string form does.
        pattern = json.loads(raw.read_text()).get("hybrid_override_pattern")
        if pattern:
            h["hybrid_override_pattern"] = pattern
    blocks = h.get("layers_block_type") or list(h.get("hybrid_override_pattern", ""))
    if h.get("model_type") == "nemotron_h" and not any(b in ("moe", "E") for b in blocks):
        for key in ("num_experts_per_tok", "n_routed_experts", "n_shared_experts", "num_local_experts", "num_experts",
                    "n_group", "topk_group", "moe_intermediate_size", "moe_shared_expert_intermediate_size"):
            h.pop(key, None)
    return h


classes.ModelBase.load_hparams = staticmethod(hparams_dense_unless_moe)

import gguf  # noqa: E402 (llama.cpp's gguf-py, on the path set above)

known_norm_eps = gguf.GGUFWriter.add_layer_norm_eps


def norm_eps_also_as_rms(self, value):
    known_norm_eps(self, value)
    if self.arch.startswith("nemotron_h") and not any(f"{self.arch}.attention.layer_norm_rms_epsilon" in kv for kv in self.kv_data):
        self.add_layer_norm_rms_eps(value)


gguf.GGUFWriter.add_layer_norm_eps = norm_eps_also_as_rms
script.main()
