#!/usr/bin/env python3
"""Write a shipped model's sha256 into nac/registry.py.

    python scripts/register_model.py nac-16k            # hashes nac/pretrained/nac-16k.pt
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nac.checkpoint import sha256  # noqa: E402
from nac.registry import PRETRAINED_DIR, REGISTRY  # noqa: E402


def main(name: str) -> None:
    card = REGISTRY[name]
    digest = sha256(PRETRAINED_DIR / card.filename)
    path = ROOT / "nac" / "registry.py"
    text = path.read_text()
    pattern = re.compile(r'(ModelCard\("%s", "[\w-]+", "[^"]+",\s*")[0-9a-f]{64}(")' % re.escape(name))
    new, count = pattern.subn(lambda m: m.group(1) + digest + m.group(2), text)
    if count != 1:
        sys.exit(f"could not find the registry entry for {name}")
    path.write_text(new)
    print(f"{name}: sha256 {digest}")


if __name__ == "__main__":
    main(sys.argv[1])
