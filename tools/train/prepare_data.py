"""Builds the training corpus for the bundled trained model from Debian text packages.

Sources (all redistributable; see the model card for licences):
  fortunes (English, BSD), fortunes-de (German, GPL-2+), fortunes-es (Spanish, GPL-2+),
  fortunes-it (Italian, public domain), debian-reference-fr and debian-faq-fr (French, GPL-2+ /
  verbatim-and-modified-copies permission).
Install them with: apt-get install -y fortunes fortunes-de fortunes-es fortunes-it
  debian-reference-fr debian-faq-fr

Writes OUT/train.jsonl and OUT/heldout.jsonl (one {"lang", "text"} document a line) and
OUT/heldout.txt (the held-out plain-text documents joined by blank lines, what eval-ppl reads).
The split is by a hash of each document's text, so it does not depend on file order.
Usage: python tools/train/prepare_data.py OUT_DIR
"""
import gzip
import hashlib
import json
import os
import re
import sys
import unicodedata

FORTUNES = "/usr/share/games/fortunes"
# ASCII-art collections teach nothing about language and waste tokens.
SKIP = {"art", "ascii-art", "banner", "asciiart"}
FRENCH = [
    "/usr/share/debian-reference/debian-reference.fr.txt.gz",
    "/usr/share/doc/debian/FAQ/debian-faq.fr.txt.gz",
]
HELDOUT_PERCENT = 2


def read_text(path):
    raw = open(path, "rb").read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def fortune_files(folder):
    """Base data files of a fortune folder (the .u8 variant when there is one), sorted."""
    names = sorted(os.listdir(folder))
    out = []
    for n in names:
        p = os.path.join(folder, n)
        if not os.path.isfile(p) or n.endswith(".dat") or n.endswith(".u8"):
            continue
        base = n.split(".")[0]
        if base in SKIP:
            continue
        u8 = p + ".u8"
        out.append(u8 if os.path.exists(u8) else p)
    return out


OVERSTRIKE = re.compile(r".\x08")
# Italian fortunes write accents as apostrophes: "e'" -> "è", "perche'" -> "perché", "piu'" -> "più".
IT_ACUTE = re.compile(r"\b(perch|poich|bench|affinch|finch|nonch|giacch|sicch|purch|ch|n|s|f|tr)e'(?=[\s.,;:!?)\"»]|$)", re.I)
IT_GRAVE = {"a": "à", "e": "è", "i": "ì", "o": "ò", "u": "ù", "A": "À", "E": "È", "I": "Ì", "O": "Ò", "U": "Ù"}
IT_WORD_FINAL = re.compile(r"(?<=\w)([aeiouAEIOU])'(?=[\s.,;:!?)\"»]|$)")
IT_E = re.compile(r"(?<![\w'])([eE])'(?=\s)")


def normalise_italian(t):
    t = IT_ACUTE.sub(lambda m: m.group(1) + ("É" if m.group(0)[-2] == "E" else "é"), t)
    t = IT_E.sub(lambda m: IT_GRAVE[m.group(1)], t)
    # "po'" is correct Italian (the truncation of "poco"); keep it.
    t = IT_WORD_FINAL.sub(lambda m: m.group(0) if t[max(0, m.start() - 2):m.start() + 1].lower() == "po" else IT_GRAVE[m.group(1)], t)
    return t


def clean(t, lang):
    t = OVERSTRIKE.sub("", t).replace("\r", "")
    t = unicodedata.normalize("NFC", t)
    t = "\n".join(line.rstrip() for line in t.split("\n")).strip("\n")
    if lang == "it":
        t = normalise_italian(t)
    return t


def fortunes(lang, folder):
    for path in fortune_files(folder):
        for doc in re.split(r"\n%\n", read_text(path)):
            doc = clean(doc, lang)
            if len(doc.strip()) >= 8:
                yield doc


def french():
    for path in FRENCH:
        text = gzip.open(path, "rb").read().decode("utf-8")
        for para in re.split(r"\n\s*\n", text):
            para = " ".join(line.strip() for line in para.split("\n")).strip()
            letters = sum(c.isalpha() for c in para)
            # Prose only: skip tables, command lines, URLs and headings.
            if len(para) < 60 or letters < 0.7 * len(para) or "http" in para or "$ " in para:
                continue
            yield clean(para, "fr")


def documents():
    yield from (("en", d) for d in fortunes("en", FORTUNES))
    for lang in ("de", "es", "it"):
        yield from ((lang, d) for d in fortunes(lang, os.path.join(FORTUNES, lang)))
    yield from (("fr", d) for d in french())


def main(out):
    os.makedirs(out, exist_ok=True)
    seen = set()
    counts = {}
    with open(os.path.join(out, "train.jsonl"), "w") as tr, open(os.path.join(out, "heldout.jsonl"), "w") as ho:
        held = []
        for lang, text in documents():
            h = hashlib.sha1(text.encode()).hexdigest()
            if h in seen:
                continue
            seen.add(h)
            is_held = int(h[:8], 16) % 100 < HELDOUT_PERCENT
            (ho if is_held else tr).write(json.dumps({"lang": lang, "text": text}, ensure_ascii=False) + "\n")
            if is_held:
                held.append(text)
            c = counts.setdefault(lang, [0, 0, 0])
            c[1 if is_held else 0] += 1
            c[2] += len(text.encode())
    with open(os.path.join(out, "heldout.txt"), "w") as f:
        f.write("\n\n".join(held) + "\n")
    for lang, (n_tr, n_ho, nbytes) in counts.items():
        print(f"{lang}: {n_tr} train docs, {n_ho} held-out docs, {nbytes / 1e6:.2f} MB")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "build/train-data")
