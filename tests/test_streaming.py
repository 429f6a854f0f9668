"""Streaming coding equals whole-file coding; stdin/stdout pipes; block-wise file I/O."""
import io
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from nac.api import compress, decompress, load_model
from nac.codec.streaming import StreamingDecoder, StreamingEncoder, decode_whole
from tests.conftest import tone


def split(x: np.ndarray, rng: np.random.Generator, axis: int) -> list[np.ndarray]:
    cuts = np.sort(rng.integers(0, x.shape[axis], 6))
    return np.split(x, cuts, axis=axis)


@pytest.mark.parametrize("seed", [0, 1])
def test_streaming_encoder_and_decoder_equal_whole_signal(tiny_model_path, seed):
    model = load_model(tiny_model_path)
    rng = np.random.default_rng(seed)
    x = tone(16000, 7.7, channels=2)
    whole_codes = model.encode(torch.from_numpy(x), 6).permute(2, 0, 1).numpy()  # (frames, C, n_q)

    enc = StreamingEncoder(model, 6, block_frames=40)
    chunks = [c for block in split(x, rng, 1) for c in enc.push(block)] + enc.flush()
    codes = np.concatenate(chunks)
    assert codes.shape == whole_codes.shape
    assert (codes == whole_codes).mean() > 0.99  # rare float near-ties flip a code

    whole_audio = decode_whole(model, torch.from_numpy(codes).permute(1, 2, 0)).numpy()
    dec = StreamingDecoder(model, block_frames=40)
    blocks = [b for piece in split(codes, rng, 0) for b in dec.push(piece)] + dec.flush()
    audio = np.concatenate(blocks, 1)
    assert audio.shape == whole_audio.shape
    assert np.abs(audio - whole_audio).max() < 1e-4
    assert 0 < enc.latency_seconds == dec.latency_seconds < 2


def test_streaming_rejects_unsupported_bitrate(tiny_model_path):
    with pytest.raises(ValueError, match="supports"):
        StreamingEncoder(load_model(tiny_model_path), 5)


def test_pipes_give_the_same_bytes_as_files(tmp_path, tiny_model_path):
    x = tone(22050, 3.1, channels=2)
    sf.write(tmp_path / "in.wav", x.T, 22050)
    nac = [sys.executable, "-m", "nac"]
    subprocess.run(nac + ["encode", str(tmp_path / "in.wav"), str(tmp_path / "a.nac"), "--model", tiny_model_path],
                   check=True)
    piped = subprocess.run(nac + ["encode", "-", str(tmp_path / "b.nac"), "--model", tiny_model_path],
                           input=(tmp_path / "in.wav").read_bytes(), capture_output=True)
    assert piped.returncode == 0, piped.stderr
    assert (tmp_path / "a.nac").read_bytes() == (tmp_path / "b.nac").read_bytes()
    out = subprocess.run(nac + ["decode", str(tmp_path / "a.nac"), "-", "--model", tiny_model_path],
                         capture_output=True)
    assert out.returncode == 0, out.stderr
    streamed, sr = sf.read(io.BytesIO(out.stdout), dtype="int16")
    subprocess.run(nac + ["decode", str(tmp_path / "a.nac"), str(tmp_path / "c.wav"), "--model", tiny_model_path],
                   check=True)
    written, sr2 = sf.read(tmp_path / "c.wav", dtype="int16")
    assert sr == sr2 == 22050 and streamed.shape == written.shape == (x.shape[1], 2)
    assert np.abs(streamed.astype(int) - written.astype(int)).max() <= 1  # rounding vs libsndfile's


def test_in_memory_api_matches_streamed_decode(tiny_model_path):
    x = tone(48000, 2.2)[None]
    data = compress(x, 48000, 3, tiny_model_path)
    audio, sr = decompress(data, tiny_model_path)
    assert sr == 48000 and audio.shape == x.shape and audio.dtype == np.float32


def test_stream_edges_are_silence_codes(tiny_model_path):
    """Beyond each end of a stream the decoder sees codes of silence, not zero latents."""
    from nac.codec.streaming import EDGE_FRAMES, edge_codes

    model = load_model(tiny_model_path)
    for kbps in model.bitrates():
        n_q = model.n_q_for(kbps)
        silence = model.silence_codes(n_q)
        assert silence.shape == (n_q,)
        assert torch.equal(silence, model.encode(torch.zeros(16000), kbps)[0, :, 25])  # steady state
    assert model.silence_codes(model.n_q_for(model.bitrates()[0]) + 1) is None  # no such bitrate
    assert edge_codes(model, 2, 6).shape[0] == 2 and edge_codes(model, 2, 6).shape[-1] == EDGE_FRAMES
    codes = model.encode(torch.from_numpy(tone(16000, 0.5)), 6)  # (1, n_q, 25)
    padded = torch.cat([edge_codes(model, 1, codes.shape[1]), codes, edge_codes(model, 1, codes.shape[1])], -1)
    assert torch.equal(decode_whole(model, codes), model.decode(padded)[:, EDGE_FRAMES * 320:-EDGE_FRAMES * 320])
