#!/usr/bin/env python3
"""Make the repository's own demo samples (no third-party recordings):

- data/samples/speech.wav: espeak-ng reading a sentence, 16 kHz mono.
- data/samples/music.flac: a short piece written here as MIDI, rendered by fluidsynth with the
  FluidR3 General MIDI soundfont, 24 kHz mono.

Needs Debian's espeak-ng, fluidsynth and fluid-soundfont-gm (apt-get install them first).
"""
from __future__ import annotations

import struct
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

OUT = Path(__file__).resolve().parent.parent / "data" / "samples"
SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
TEXT = ("NAC is a neural audio codec. It squeezes speech and music into a few kilobits per second, "
        "and brings them back clean.")


def var_len(n: int) -> bytes:
    out = [n & 0x7F]
    while n > 0x7F:
        n >>= 7
        out.insert(0, (n & 0x7F) | 0x80)
    return bytes(out)


def write_midi(path: Path) -> None:
    """Piano chords with a melody on top: C - Am - F - G, 4 bars at 100 bpm."""
    tpq = 480
    events = []  # (tick, bytes)
    events.append((0, bytes([0xC0, 0])))  # piano
    chords = [[48, 52, 55], [45, 48, 52], [41, 45, 48], [43, 47, 50]]
    melody = [[72, 74, 76, 79], [76, 74, 72, 69], [69, 72, 74, 72], [71, 74, 79, 77]]
    for bar, (chord, tune) in enumerate(zip(chords, melody)):
        t0 = bar * 4 * tpq
        for note in chord:
            events += [(t0, bytes([0x90, note, 70])), (t0 + 4 * tpq - 10, bytes([0x80, note, 0]))]
        for i, note in enumerate(tune):
            events += [(t0 + i * tpq, bytes([0x90, note, 90])), (t0 + (i + 1) * tpq - 20, bytes([0x80, note, 0]))]
    events.sort(key=lambda e: e[0])
    track, last = bytearray(), 0
    track += var_len(0) + bytes([0xFF, 0x51, 3]) + (600000).to_bytes(3, "big")  # 100 bpm
    for tick, data in events:
        track += var_len(tick - last) + data
        last = tick
    track += var_len(tpq) + bytes([0xFF, 0x2F, 0])
    path.write_bytes(b"MThd" + struct.pack(">IHHH", 6, 0, 1, tpq) + b"MTrk" + struct.pack(">I", len(track)) + track)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), TEXT], check=True)
        x, sr = sf.read(raw, dtype="float32")
        x = soxr.resample(x, sr, 16000)
        sf.write(OUT / "speech.wav", 0.8 * x / np.abs(x).max(), 16000, subtype="PCM_16")

        mid, wav = Path(tmp) / "piece.mid", Path(tmp) / "piece.wav"
        write_midi(mid)
        subprocess.run(["fluidsynth", "-ni", "-g", "0.8", "-r", "24000", "-F", str(wav), SOUNDFONT, str(mid)],
                       check=True, capture_output=True)
        y, sr = sf.read(wav, dtype="float32")
        y = y.mean(1) if y.ndim == 2 else y
        y = y[: int(sr * 10.5)]
        sf.write(OUT / "music.flac", 0.8 * y / np.abs(y).max(), sr, subtype="PCM_16")
    for f in sorted(OUT.iterdir()):
        info = sf.info(f)
        print(f"{f.name}: {info.samplerate} Hz, {info.duration:.2f} s")


if __name__ == "__main__":
    main()
