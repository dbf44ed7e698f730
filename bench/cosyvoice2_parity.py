"""Print the parity table of the PyTorch CosyVoice2 modules against the reference vectors (tiny weights).

Usage: .venv/bin/python bench/cosyvoice2_parity.py [NAME_PREFIX ...]

One row per reference vector: max absolute error against the reference, and the tolerance the tests
(``tests/cosyvoice2``) hold it to. The checks live in ``parrot_dev.cosyvoice2.parity``; add rows there.
"""

from __future__ import annotations

import sys
import time

from parrot_dev.cosyvoice2 import parity


def main(prefixes: list[str]) -> None:
    """Run the checks whose name starts with one of ``prefixes`` (all when empty) and print the table."""
    checks = [c for c in parity.ALL_CHECKS if not prefixes or c.name.startswith(tuple(prefixes))]
    width = max(len(c.name) for c in checks)
    print(f"| {'vector':<{width}} | max abs err | atol    | within |")
    print(f"| {'-' * width} | ----------: | ------: | ------ |")
    within = 0
    start = time.perf_counter()
    for check in checks:
        err = check.max_abs_error()
        ok = err <= check.atol
        within += ok
        print(f"| {check.name:<{width}} | {err:11.3e} | {check.atol:7.0e} | {'yes' if ok else 'NO':<6} |")
    print(f"\n{within}/{len(checks)} within tolerance ({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main(sys.argv[1:])
