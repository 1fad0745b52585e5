"""Executes a notebook with nbclient on the nemotron-lab kernel and writes the result.

usage: run_notebook.py IN.ipynb OUT.ipynb   (cwd of the kernel: the notebook's folder)
"""
import os
import sys

import nbformat
from nbclient import NotebookClient

src, dst = sys.argv[1], sys.argv[2]
nb = nbformat.read(src, as_version=4)
# A cell may take over a minute on a loaded 2-core CI machine (06 failed at 60 s there).
client = NotebookClient(nb, kernel_name="nemotron-lab", timeout=240, allow_errors=True,
                        resources={"metadata": {"path": os.path.dirname(os.path.abspath(src))}})
client.execute()
nbformat.write(nb, dst)
