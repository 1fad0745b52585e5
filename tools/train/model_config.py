"""The trained model's config.json: the real Nano-9B-v2 schema with small widths."""
import json
import os

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
NANO_CONFIG = os.path.join(ROOT, "test", "fixtures", "nemotron-nano-9b-v2.config.json")
PATTERN = "M-M-M-MM-M-M-M*-M-M-M*-M-M-M-M*-M-M-M-M*-M-MM-M-M-M-M-M-"
# Nano-v2's low ids: <unk> <s> </s> <SPECIAL_3..15>, then the think markers.
SPECIALS = ["<unk>", "<s>", "</s>"] + [f"<SPECIAL_{i}>" for i in range(3, 16)] + ["<think>", "</think>"]


def model_config(vocab, hidden):
    with open(NANO_CONFIG) as f:
        cfg = json.load(f)
    cfg.pop("_comment", None)
    mamba_head_dim = 32
    cfg.update(
        vocab_size=vocab, hidden_size=hidden, num_hidden_layers=len(PATTERN), hybrid_override_pattern=PATTERN,
        num_attention_heads=4, num_key_value_heads=2, head_dim=hidden // 4, max_position_embeddings=4096,
        intermediate_size=4 * hidden, mamba_num_heads=2 * hidden // mamba_head_dim, mamba_head_dim=mamba_head_dim,
        ssm_state_size=32, n_groups=2, chunk_size=64, torch_dtype="bfloat16",
    )
    return cfg
