#!/usr/bin/env python3
"""Runs llama.cpp's own convert_hf_to_gguf.py on a nemotron-lab bench checkpoint.

Usage: python bench/llama_cpp_convert.py /path/to/llama.cpp/convert_hf_to_gguf.py CHECKPOINT_DIR \
           --outtype bf16|q8_0 --outfile OUT.gguf

The converter is used as it is, with one accommodation: it identifies a BPE pre-tokenizer by
the hash of a test string, and the bench checkpoints' small generated tokenizer is not on its
list, so an unknown one is treated as llama.cpp's "default" pre-tokenizer (the benchmark feeds
token ids, never text). Nothing of llama.cpp is copied here; it is imported from the given path.
Works with both layouts of the converter: model classes in the script itself (older) or in
its conversion/ package (newer).
"""
import importlib.util
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
script.main()
