"""Trains the bundled NemotronH (the 9B's 56-layer pattern at small width) on the corpus from
prepare_data.py, with HF transformers' NemotronHForCausalLM on CPU.

Steps: train the byte-level BPE tokenizer, encode the corpus, check that the einsum chunk scan
(scan.py) gives HF's loss and gradients, then train under a wall-clock budget with bf16 autocast,
a fixed seed and a fixed data order, writing OUT/ckpt.pt (the latest weights), OUT/log.jsonl (train
and held-out loss) every --save-minutes. export.py turns the checkpoint into the shipped folder.
Usage: nice -n 19 python tools/train/train.py DATA_DIR OUT_DIR --minutes 70
"""
import argparse
import json
import math
import os
import random
import sys
import time

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

sys.path.insert(0, os.path.dirname(__file__))
import scan  # noqa: E402
from model_config import model_config, SPECIALS  # noqa: E402

from transformers import NemotronHConfig, NemotronHForCausalLM  # noqa: E402

CHAT_USER = {
    "en": "Tell me a fortune.", "de": "Erzähl mir einen Spruch.", "es": "Cuéntame una frase.",
    "it": "Dimmi una frase.", "fr": "Raconte-moi quelque chose.",
}
CHAT_THINK = {
    "en": "The user wants a fortune in English.", "de": "Der Nutzer möchte einen Spruch auf Deutsch.",
    "es": "El usuario quiere una frase en español.", "it": "L'utente vuole una frase in italiano.",
    "fr": "L'utilisateur veut un texte en français.",
}


def as_chat(lang, text, think):
    """A document as one chat turn, rendered as the Nano-v2 template renders it."""
    opener = f"<think>\n{CHAT_THINK[lang]}\n</think>\n" if think else "<think></think>"
    return (f"<SPECIAL_10>System\n\n<SPECIAL_11>User\n{CHAT_USER[lang]}\n<SPECIAL_11>Assistant\n"
            f"{opener}{text.strip()}\n<SPECIAL_12>\n\n")


def load_docs(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def train_tokenizer(docs, vocab_size, out):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), min_frequency=2)
    tok.train_from_iterator((d["text"] for d in docs), trainer=trainer)
    tok.save(out)
    return tok


def encode_stream(tok, docs, rng, chat_fraction):
    texts = []
    for d in docs:
        r = rng.random()
        if r < chat_fraction:
            texts.append(as_chat(d["lang"], d["text"], think=r < chat_fraction / 2))
        else:
            texts.append(d["text"] + "\n\n")
    ids = []
    for enc in tok.encode_batch(texts, add_special_tokens=False):
        ids.extend(enc.ids)
    return torch.tensor(ids, dtype=torch.long)


def batches(stream, seq, batch, bos, rng):
    """Fixed-order packed sequences: <s> + seq-1 tokens, shuffled windows, epoch after epoch."""
    n = (len(stream) - 1) // (seq - 1)
    while True:
        order = list(range(n))
        rng.shuffle(order)
        for i in range(0, n - batch + 1, batch):
            rows = [torch.cat([torch.tensor([bos]), stream[j * (seq - 1):(j + 1) * (seq - 1)]]) for j in order[i:i + batch]]
            yield torch.stack(rows)


def heldout_loss(model, stream, seq, bos, max_tokens):
    model.eval()
    tot, cnt = 0.0, 0
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        for s in range(0, min(len(stream), max_tokens) - seq, seq - 1):
            x = torch.cat([torch.tensor([bos]), stream[s:s + seq - 1]])[None]
            out = model(input_ids=x, labels=x)
            tot += out.loss.item() * (seq - 1)
            cnt += seq - 1
    model.train()
    return tot / max(cnt, 1)


def init_from(model, folder):
    """Weights of a shipped folder (export.py names the backbone `backbone.*`; HF 5 keeps `model.*`)."""
    from safetensors.torch import load_file
    sd = {("model." + k[len("backbone."):] if k.startswith("backbone.") else k): v.float()
          for k, v in load_file(os.path.join(folder, "model.safetensors")).items()}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert not missing and not unexpected, f"{folder}: missing {missing[:5]}, unexpected {unexpected[:5]}"
    print(f"initialised from {folder}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("out")
    ap.add_argument("--minutes", type=float, default=70)
    ap.add_argument("--save-minutes", type=float, default=5)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--hidden", type=int, default=192)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--measure", action="store_true", help="time a few steps and exit")
    ap.add_argument("--chat-fraction", type=float, default=0.1)
    ap.add_argument("--init", help="continue from a shipped folder's model.safetensors (same config and tokenizer)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = random.Random(0)
    os.makedirs(args.out, exist_ok=True)

    train_docs = load_docs(os.path.join(args.data, "train.jsonl"))
    held_docs = load_docs(os.path.join(args.data, "heldout.jsonl"))
    tok_path = os.path.join(args.out, "tokenizer.json")
    tok = train_tokenizer(train_docs, args.vocab, tok_path)
    bos = tok.token_to_id("<s>")
    assert bos == 1 and tok.token_to_id("<SPECIAL_12>") == 12 and tok.token_to_id("<think>") == 16
    stream = encode_stream(tok, train_docs, rng, args.chat_fraction)
    with open(os.path.join(args.data, "heldout.txt")) as f:
        held = torch.tensor(tok.encode(f.read(), add_special_tokens=False).ids, dtype=torch.long)
    print(f"tokenizer: {tok.get_vocab_size()} ids; train {len(stream)} tokens, held-out {len(held)} tokens", flush=True)

    cfg = model_config(args.vocab, args.hidden)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    scan.check_equivalence(NemotronHForCausalLM, NemotronHConfig.from_dict(dict(cfg, torch_dtype="float32")))
    scan.install()

    model = NemotronHForCausalLM(NemotronHConfig.from_dict(dict(cfg, torch_dtype="float32")))
    if args.init:
        init_from(model, args.init)
    print(f"parameters: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M", flush=True)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    budget = args.minutes * 60
    warmup = 100
    data = batches(stream, args.seq, args.batch, bos, rng)
    log = open(os.path.join(args.out, "log.jsonl"), "a")
    start = time.time()
    last_save = start
    step, tokens, run_loss = 0, 0, None
    model.train()
    while True:
        elapsed = time.time() - start
        done = elapsed >= budget
        if done or time.time() - last_save >= args.save_minutes * 60 or (args.measure and step == 6):
            hl = heldout_loss(model, held, args.seq, bos, 8192 if not done else 65536)
            rec = {"step": step, "tokens": tokens, "minutes": elapsed / 60, "train_loss": run_loss, "heldout_loss": hl,
                   "tokens_per_s": tokens / max(elapsed, 1e-9)}
            print(json.dumps(rec), flush=True)
            log.write(json.dumps(rec) + "\n")
            log.flush()
            if args.measure:
                return
            tmp = os.path.join(args.out, "ckpt.pt.tmp")
            torch.save({"model": model.state_dict(), "step": step, "config": cfg}, tmp)
            os.replace(tmp, os.path.join(args.out, "ckpt.pt"))
            last_save = time.time()
            if done:
                break
        frac = elapsed / budget
        lr = args.lr * min(1.0, (step + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))
        for g in opt.param_groups:
            g["lr"] = lr
        x = next(data)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = model(input_ids=x, labels=x).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        tokens += x.numel()
        run_loss = loss.item() if run_loss is None else 0.98 * run_loss + 0.02 * loss.item()
        if step % 20 == 0:
            print(f"step {step} loss {run_loss:.3f} lr {lr:.2e} {tokens / (time.time() - start):.0f} tok/s", flush=True)


if __name__ == "__main__":
    main()
