"""The README's streaming example runs as written, with the shipped model and sample."""
import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def readme_streaming_example() -> str:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    return next(b for b in blocks if "StatefulEncoder" in b)


def test_readme_streaming_example_runs_and_decodes_the_whole_clip(monkeypatch):
    if not (ROOT / "nac" / "pretrained" / "nac-16k.pt").exists():
        pytest.skip("shipped weights not in this checkout")
    monkeypatch.chdir(ROOT)
    scope: dict = {}
    exec(compile(readme_streaming_example(), "README.md", "exec"), scope)
    audio, decoded = scope["audio"], scope["decoded"]
    assert decoded.shape == (1, len(audio))
    assert np.isfinite(decoded).all()
    # it is speech coded at 6 kbps, not silence or noise: the envelope follows the input's
    frames = lambda x: np.sqrt(np.mean(x[: len(x) // 320 * 320].reshape(-1, 320) ** 2, 1))  # noqa: E731
    assert np.corrcoef(frames(audio), frames(decoded[0]))[0, 1] > 0.8


def test_readme_enhancer_stream_example_runs_and_equals_the_file_path(monkeypatch):
    from nac.restore.restorer import load_restorer
    from nac.restore.stream import enhance_file

    text = (ROOT / "README.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "EnhancerStream" in b)
    monkeypatch.chdir(ROOT)
    scope: dict = {}
    exec(compile(block, "README.md", "exec"), scope)
    audio, enhanced = scope["audio"], scope["enhanced"]
    assert enhanced.shape == (1, len(audio))
    whole = enhance_file(load_restorer("enhance-speech-16k"), audio[None])
    np.testing.assert_allclose(enhanced, whole, atol=1e-5)
