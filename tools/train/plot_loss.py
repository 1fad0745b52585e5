"""Writes the loss curve (train and held-out, from train.py's log.jsonl) as an SVG and a
self-contained HTML page around it, so it needs no plotting library and stays a few kilobytes in git.
Usage: python tools/train/plot_loss.py TRAIN_OUT/log.jsonl OUT.html [TRAIN_STDOUT]
(with train.py's stdout, the train curve uses its every-20-steps lines instead of the checkpoint records)
"""
import json
import math
import re
import sys

W, H, PAD = 720, 400, 56


def main(log, out, stdout=None):
    recs = [json.loads(line) for line in open(log) if line.strip()]
    train = [(r["tokens"] / 1e6, r["train_loss"]) for r in recs if r.get("train_loss") is not None]
    if stdout:
        tokens_per_step = recs[-1]["tokens"] / max(recs[-1]["step"], 1)
        steps = [re.match(r"step (\d+) loss ([\d.]+)", line) for line in open(stdout)]
        train = [(int(m[1]) * tokens_per_step / 1e6, float(m[2])) for m in steps if m]
    held = [(r["tokens"] / 1e6, r["heldout_loss"]) for r in recs]
    pts = train + held
    x1 = max(p[0] for p in pts) or 1.0
    y0 = math.floor(min(p[1] for p in pts))
    y1 = math.ceil(max(p[1] for p in pts))

    def sx(x):
        return PAD + (W - 2 * PAD) * x / x1

    def sy(y):
        return H - PAD - (H - 2 * PAD) * (y - y0) / max(y1 - y0, 1e-9)

    def line(ps, color, label, dy):
        d = " ".join(f"{'M' if i == 0 else 'L'}{sx(x):.1f},{sy(y):.1f}" for i, (x, y) in enumerate(ps))
        dots = "" if len(ps) > 40 else "".join(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{color}"/>' for x, y in ps)
        return (f'<path d="{d}" fill="none" stroke="{color}" stroke-width="2"/>{dots}'
                f'<text x="{W - PAD - 150}" y="{PAD + dy}" fill="{color}">{label}</text>')

    grid = ""
    for k in range(y0, y1 + 1):
        grid += (f'<line x1="{PAD}" x2="{W - PAD}" y1="{sy(k):.1f}" y2="{sy(k):.1f}" stroke="#ddd"/>'
                 f'<text x="{PAD - 8}" y="{sy(k) + 4:.1f}" text-anchor="end">{k}</text>')
    for i in range(6):
        x = x1 * i / 5
        grid += f'<text x="{sx(x):.1f}" y="{H - PAD + 18}" text-anchor="middle">{x:.1f}</text>'
    last = recs[-1]
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">'
           f'{grid}<text x="{W / 2}" y="{H - 12}" text-anchor="middle">training tokens (millions)</text>'
           f'<text x="14" y="{H / 2}" transform="rotate(-90 14 {H / 2})" text-anchor="middle">cross-entropy (nats/token)</text>'
           + line(train, "#1f77b4", "train (running mean)", 0) + line(held, "#d62728", "held-out", 16) + "</svg>")
    with open(out.rsplit(".", 1)[0] + ".svg", "w") as f:  # the model card embeds the SVG
        f.write(svg + "\n")
    with open(out, "w") as f:
        f.write("<!doctype html><meta charset=utf-8><title>nano-fortunes loss curve</title>"
                f"<h3>nano-fortunes: loss during training (HF transformers, bf16 autocast, dt clamp as HF)</h3>{svg}"
                f"<p>Final: step {last['step']}, {last['tokens'] / 1e6:.2f} M tokens, {last['minutes']:.1f} min, "
                f"held-out loss {last['heldout_loss']:.3f} (perplexity {math.exp(last['heldout_loss']):.1f}).</p>\n")


if __name__ == "__main__":
    main(*sys.argv[1:4])
