"""The NAC codec: STFT encoder -> residual VQ -> ConvNeXt decoder with an iSTFT head.

Data path of one second of 16 kHz audio with the default config:
  16000 samples -> STFT (hop 160) -> 100 frames -> ConvNeXt -> /2 -> 50 frames
  -> 128-d latents -> n_q x 10-bit codes per frame (n_q = 3/6/12/24 for 1.5/3/6/12 kbps)
  -> ConvNeXt at 50 Hz -> x2 -> 100 frames -> magnitude + phase -> iSTFT -> 16000 samples.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Protocol, runtime_checkable

import torch
from torch import nn

from . import pitch as pitch_coding
from .band_gain import BandGains
from .views import POSTFILTER_SHARPEN, CodecViews  # noqa: F401 (POSTFILTER_SHARPEN: re-exported)
from .modules import ConvNeXtStack, ISTFTHead, STFTFeatures, sharpen_magnitude
from .online_phase import OnlinePhase
from .quantization import QuantizerOutput, ResidualQuantizer


@runtime_checkable
class Codec(Protocol):
    """What the CLI, the container and the evaluation need from any codec."""

    sample_rate: int
    frame_rate: float
    codebook_size: int

    def bitrates(self) -> list[float]: ...
    def encode(self, wav: torch.Tensor, kbps: float) -> torch.Tensor: ...
    def decode(self, codes: torch.Tensor) -> torch.Tensor: ...



@dataclass
class CodecConfig:
    sample_rate: int = 16000
    hop: int = 320  # samples per code frame: 50 Hz at 16 kHz
    stft_hop: int = 160  # analysis / synthesis hop; the frame rate is stft_hop * 2
    n_fft: int = 640
    encoder_dim: int = 192
    encoder_depth: tuple[int, int] = (2, 4)  # blocks at the STFT rate, then at the frame rate
    decoder_dim: int = 288
    decoder_depth: tuple[int, int] = (8, 2)  # blocks at the frame rate, then at the STFT rate
    latent_dim: int = 64
    n_q: int = 24
    codebook_size: int = 1024
    kbps_step: float = 1.5  # quantizer dropout keeps multiples of this many kbps
    # 0: the decoder's predicted phase is used as is. N > 0: the decoder is trained on STFT
    # magnitudes only and the phase comes from N fast Griffin-Lim iterations started from the
    # predicted phase. Without adversarial training a predicted phase stays incoherent between
    # overlapping frames (SI-SDR -31 dB and a 10 dB level loss at step 2500 on dev speech).
    griffin_lim_iters: int = 0
    ema_decay: float = 0.99
    # A code whose EMA usage falls below this (uses per training step) is replaced by a random
    # encoder output. It must sit under the average usage, batch frames / codebook_size
    # (16 x 50 / 1024 = 0.78 by default): at EnCodec's 2.0 every code counts as dead and the
    # whole codebook is re-drawn every ~100 steps; at 0.1 codes stranded by the encoder's drift
    # linger (level 0 used 9 % of its codes on dev speech at step 750).
    dead_code_threshold: float = 0.3
    # Pitch as a coded side channel: the last code level of every bitrate carries f0 + voicing
    # (`nac/pitch.py`), and the decoder gets the harmonic comb it implies. 6 kbps is then 11 VQ
    # levels + 1 pitch level, so the bitrate table stays exact.
    pitch: bool = False
    # Pitch-aware decoders with Griffin-Lim: start it from an f0-driven oscillator's phase in
    # voiced frames (true magnitudes: +0.4-0.5 PESQ over the predicted phase's start).
    oscillator_phase: bool = True
    # Decode-time post-filter, not trained with: the predicted magnitude raised to this power,
    # each frame's energy kept (`sharpen_magnitude`). 1.0 is off; `nac decode --postfilter`
    # uses POSTFILTER_SHARPEN.
    sharpen: float = 1.0
    # Future frames each ConvNeXt block sees: None = 3 (centred kernels, nac-16k: ~0.9 s of
    # streaming latency in all), 0 = causal blocks (streaming latency ~0.07 s: the STFT window,
    # the stride-2 pair, the decoder's input conv and the iSTFT overlap; `nac/codec/stateful.py`).
    lookahead: int | None = None
    # Griffin-Lim decoders: None makes the phase by whole-file Griffin-Lim (1.54 s of streaming
    # look-ahead); N makes it frame by frame with N STFT frames (10 ms each) of look-ahead and
    # `online_phase_iters` refinements per frame (RTISI-LA, `online_phase.py`; on the shipped
    # decoder's 6-kbps magnitudes 3 frames and 8 iterations score PESQ 2.17 against 2.20).
    online_phase_lookahead: int | None = None
    online_phase_iters: int = 8
    # Code frames (20 ms each) the encoder's output waits for: latent t is computed from the
    # audio up to frame t + encoder_delay, one fixed look-ahead at the output instead of one in
    # every block (causal students: `nac/train/causal.py`).
    encoder_delay: int = 0
    # Band-gain enhancement layer (`band_gain.py`): at the bitrates in `gain_plan`, (kbps, gain
    # levels) pairs, that many of the bitrate's 10-bit levels code the decoder's band-level
    # errors in `gain_bands` mel bands instead of latents; `gain_levels` codebooks in all.
    # Fitted on a trained codec, weights unchanged (`scripts/fit_band_gains.py`).
    gain_bands: int = 0
    gain_levels: int = 0
    gain_plan: tuple[tuple[float, int], ...] = ()
    gain_smoothing: tuple[float, ...] = ()  # taps of the decoded gains' time filter (`BandGains`)

    def __post_init__(self) -> None:
        self.encoder_depth = tuple(self.encoder_depth)
        self.decoder_depth = tuple(self.decoder_depth)
        self.gain_plan = tuple((float(k), int(g)) for k, g in self.gain_plan)
        self.gain_smoothing = tuple(float(t) for t in self.gain_smoothing)
        if any(g > self.gain_levels for _, g in self.gain_plan):
            raise ValueError("gain_plan uses more gain levels than gain_levels")
        if self.gain_levels and self.pitch:
            raise ValueError("a band-gain layer needs a model without the pitch level")
        if self.hop != 2 * self.stft_hop:
            raise ValueError("hop must be twice stft_hop (one 2x resampling stage)")

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop

    @property
    def bits_per_code(self) -> int:
        return int(math.ceil(math.log2(self.codebook_size)))

    def kbps_per_codebook(self) -> float:
        return self.bits_per_code * self.frame_rate / 1000

    def to_dict(self) -> dict:
        return asdict(self)

    def gain_levels_for(self, n_q: int) -> int:
        """How many of a bitrate's `n_q` levels are band gains (the last ones; 0 without a plan)."""
        return next((g for k, g in self.gain_plan if round(k / self.kbps_per_codebook()) == n_q), 0)


class Encoder(nn.Module):
    def __init__(self, cfg: CodecConfig):
        super().__init__()
        self.features = STFTFeatures(cfg.n_fft, cfg.stft_hop)
        d = cfg.encoder_dim
        self.proj_in = nn.Conv1d(self.features.channels, d, 1)
        self.fine = ConvNeXtStack(d, cfg.encoder_depth[0], lookahead=cfg.lookahead)
        self.down = nn.Conv1d(d, d, 2, stride=2)
        self.coarse = ConvNeXtStack(d, cfg.encoder_depth[1], lookahead=cfg.lookahead)
        self.norm = nn.LayerNorm(d)
        self.proj_out = nn.Linear(d, cfg.latent_dim)
        # frames (at the code rate) on each side that influence one latent frame
        window = math.ceil(cfg.n_fft / 2 / cfg.hop)
        self.delay, self.hop = cfg.encoder_delay, cfg.hop
        self.receptive_field = (window + math.ceil(self.fine.receptive_field / 2) + 1 + self.coarse.receptive_field
                                + self.delay)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        if self.delay:  # the stream's end, as a delayed stream's flush sees it: silence
            wav = nn.functional.pad(wav, (0, self.delay * self.hop))
        x = self.fine(self.proj_in(self.features(wav)))
        x = self.coarse(self.down(x))
        return self.proj_out(self.norm(x.transpose(1, 2))).transpose(1, 2)[..., self.delay:]


class Decoder(nn.Module):
    def __init__(self, cfg: CodecConfig):
        super().__init__()
        d = cfg.decoder_dim
        self.cfg = cfg
        self.proj_in = nn.Conv1d(cfg.latent_dim, d, 3, padding=1)
        self.pitch = PitchConditioning(cfg) if cfg.pitch else None
        self.coarse = ConvNeXtStack(d, cfg.decoder_depth[0], lookahead=cfg.lookahead)
        self.up = nn.ConvTranspose1d(d, d, 2, stride=2)
        self.fine = ConvNeXtStack(d, cfg.decoder_depth[1], lookahead=cfg.lookahead)
        self.norm = nn.LayerNorm(d)
        self.head = ISTFTHead(d, cfg.n_fft, cfg.stft_hop)
        window = math.ceil(cfg.n_fft / 2 / cfg.hop)
        # each Griffin-Lim iteration reaches n_fft / stft_hop - 1 STFT frames further
        griffin_lim = math.ceil(cfg.griffin_lim_iters * (cfg.n_fft // cfg.stft_hop - 1) * cfg.stft_hop / cfg.hop)
        self.griffin_lim_iters = cfg.griffin_lim_iters
        # code frames of latents one STFT frame of the predicted spectrum depends on
        self.spectrum_receptive_field = 1 + self.coarse.receptive_field + math.ceil(self.fine.receptive_field / 2)
        self.receptive_field = (self.spectrum_receptive_field + window + griffin_lim
                                + (1 if cfg.pitch else 0))  # f0 interpolation

    def features(self, z: torch.Tensor, f0: torch.Tensor | None = None) -> torch.Tensor:
        x = self.proj_in(z)
        if self.pitch is not None:
            x = x + self.pitch.coarse(f0)
        x = self.up(self.coarse(x))
        if self.pitch is not None:
            x = x + self.pitch.fine(f0)
        x = self.fine(x)
        return self.norm(x.transpose(1, 2)).transpose(1, 2)

    def spectrum(self, z: torch.Tensor, f0: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(magnitude (B, bins, 2N), unit phasor) from latents (B, D, N) and, for a pitch-aware
        decoder, f0 in Hz per code frame (B, N)."""
        x = self.features(z, f0)
        mag, phase = self.head.spectrum(x)
        if self.pitch is not None:
            mag = mag * self.pitch.comb(x, f0)
        return mag, phase

    def forward(self, z: torch.Tensor, f0: torch.Tensor | None = None,
                phase0: torch.Tensor | None = None) -> torch.Tensor:
        """Waveform (B, N * hop). A pitch-aware decoder with Griffin-Lim starts it, in voiced
        frames, from the phase of an oscillator driven by f0 (`phase0` (B,): the oscillator's
        phase at the first frame, for windows cut out of a longer stream)."""
        return self.synthesize(*self.spectrum(z, f0), f0, phase0)

    def synthesize(self, mag: torch.Tensor, phase: torch.Tensor, f0: torch.Tensor | None = None,
                   phase0: torch.Tensor | None = None, cfg: "CodecConfig | None" = None) -> torch.Tensor:
        """Magnitude and phase guess (B, bins, 2N) -> waveform: Griffin-Lim or the online phase
        (if configured: `cfg`, a codec's view of this decoder, else its own), iSTFT."""
        cfg = cfg or self.cfg
        if self.griffin_lim_iters:
            if self.pitch is not None and self.cfg.oscillator_phase:
                phase = self._oscillator_start(f0, phase, phase0)
            if cfg.online_phase_lookahead is not None and not mag.requires_grad and mag.device.type == "cpu":
                phase = self.online_phase(mag, phase, cfg)
            else:
                phase = self.head.griffin_lim(mag, phase, self.griffin_lim_iters)
        return self.head.istft(mag * phase)

    @staticmethod
    def online_phase(mag: torch.Tensor, phase: torch.Tensor, cfg: "CodecConfig") -> torch.Tensor:
        """The phase a stream would make (`OnlinePhase`), for the whole signal at once."""
        online = OnlinePhase(cfg.n_fft, cfg.stft_hop, cfg.online_phase_lookahead, cfg.online_phase_iters)
        unit = online.unit_phase(mag.transpose(1, 2).float().numpy(), phase.transpose(1, 2).numpy())
        return torch.from_numpy(unit).transpose(1, 2).to(phase.dtype)

    def _oscillator_start(self, f0: torch.Tensor, phase: torch.Tensor, phase0: torch.Tensor | None) -> torch.Tensor:
        if phase0 is None:
            phase0 = torch.zeros(f0.shape[0], dtype=torch.float64, device=f0.device)
        excitation = pitch_coding.oscillator(f0, phase0, self.cfg.hop, self.cfg.sample_rate)
        spec = self.head.stft(excitation)
        voiced = (pitch_coding.upsample(f0) > 0)[:, None, :] & (spec.abs() > 1e-6)
        return torch.where(voiced, spec / (spec.abs() + 1e-12), phase)

    def magnitude(self, z: torch.Tensor, f0: torch.Tensor | None = None) -> torch.Tensor:
        """Predicted STFT magnitude (B, bins, 2N): what is trained when Griffin-Lim makes the phase."""
        return self.spectrum(z, f0)[0]


class PitchConditioning(nn.Module):
    """What a pitch-aware decoder does with the decoded f0 (`nac/pitch.py`).

    - `coarse`: voicing and log-f0 features added to the 50 Hz stack's input;
    - `fine`: the harmonic comb on the STFT grid (+ the same features) added at 100 Hz;
    - `comb`: a per-bin, per-frame comb depth g applied to the predicted magnitude,
      |X| <- |X| * (comb + eps)^g in voiced frames, so the decoder predicts an envelope and how
      strongly the harmonics stand out of it instead of drawing every harmonic itself.
    Every layer starts at zero: warm-started from a model without pitch, it first decodes exactly
    like that model.
    """

    comb_floor = 0.05  # -26 dB between harmonics at g = 1

    def __init__(self, cfg: CodecConfig):
        super().__init__()
        self.n_fft, self.sample_rate = cfg.n_fft, cfg.sample_rate
        n_feat = pitch_coding.features(torch.zeros(1, 1)).shape[1]
        bins = cfg.n_fft // 2 + 1
        self.coarse_proj = nn.Conv1d(n_feat, cfg.decoder_dim, 1)
        self.fine_proj = nn.Conv1d(n_feat + bins, cfg.decoder_dim, 1)
        self.gain = nn.Linear(cfg.decoder_dim, bins)
        for layer in (self.coarse_proj, self.fine_proj, self.gain):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def coarse(self, f0: torch.Tensor) -> torch.Tensor:
        return self.coarse_proj(pitch_coding.features(f0))

    def _fine_inputs(self, f0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f0_up = pitch_coding.upsample(f0)
        return f0_up, pitch_coding.harmonic_template(f0_up, self.n_fft, self.sample_rate)

    def fine(self, f0: torch.Tensor) -> torch.Tensor:
        f0_up, template = self._fine_inputs(f0)
        return self.fine_proj(torch.cat([template, pitch_coding.features(f0_up)], 1))

    def comb(self, x: torch.Tensor, f0: torch.Tensor) -> torch.Tensor:
        """Multiplicative comb (B, bins, 2N) for the magnitude predicted from features `x`."""
        f0_up, template = self._fine_inputs(f0)
        g = self.gain(x.transpose(1, 2)).transpose(1, 2)
        voiced = (f0_up > 0).float()[:, None]
        return torch.exp((g * voiced * torch.log(template + self.comb_floor)).clamp(-12.0, 4.0))


class NacCodec(CodecViews, nn.Module):
    """Neural codec at `cfg.sample_rate`, mono. Implements `Codec`."""

    def __init__(self, cfg: CodecConfig | None = None, inference: bool = False):
        """`inference=True`: codebooks without the quantizer's training machinery (loading for
        coding; `nac.api.load_model`)."""
        super().__init__()
        self.cfg = cfg = cfg or CodecConfig()
        self.encoder = Encoder(cfg)
        step = max(1, round(cfg.kbps_step / cfg.kbps_per_codebook()))
        self.pitch_levels = 1 if cfg.pitch else 0
        self.quantizer = ResidualQuantizer(cfg.latent_dim, cfg.n_q - self.pitch_levels, cfg.codebook_size, step,
                                           cfg.ema_decay, cfg.dead_code_threshold, dropout_offset=self.pitch_levels,
                                           inference=inference)
        self.decoder = Decoder(cfg)
        self.codebooks_per_step = step
        self.gains = BandGains.for_codec(cfg) if cfg.gain_levels else None

    # --- Codec interface -------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        return self.cfg.sample_rate

    @property
    def frame_rate(self) -> float:
        return self.cfg.frame_rate

    @property
    def codebook_size(self) -> int:
        return self.cfg.codebook_size

    @property
    def hop(self) -> int:
        return self.cfg.hop

    def bitrates(self) -> list[float]:
        per = self.cfg.kbps_per_codebook()
        return [round(n * per, 3) for n in range(self.codebooks_per_step, self.cfg.n_q + 1, self.codebooks_per_step)]

    def n_q_for(self, kbps: float) -> int:
        n_q = kbps / self.cfg.kbps_per_codebook()
        # only codebook counts that quantizer dropout trained for (multiples of the step)
        if (abs(n_q - round(n_q)) > 1e-6 or not 1 <= round(n_q) <= self.cfg.n_q
                or round(n_q) % self.codebooks_per_step):
            raise ValueError(f"unsupported bitrate {kbps:g} kbps; this model supports "
                             + ", ".join(f"{b:g}" for b in self.bitrates()))
        return int(round(n_q))

    @property
    def context_frames(self) -> int:
        """Frames of look-around needed so that chunked coding equals whole-signal coding."""
        if self.gains is None:
            return max(self.encoder.receptive_field, self.decoder.receptive_field)
        reach = math.ceil(self.gains.reach_frames / self.gains.subframes)  # the gains' time filter
        return max(self.encoder_context_frames, self.decoder.receptive_field + reach)

    @property
    def encoder_context_frames(self) -> int:
        """Look-around that chunked *encoding* needs: the encoder's receptive field (17 frames,
        340 ms, against the decoder's 77). A pitch-aware model also tracks f0 on each window;
        its tracker's reach is not derived from layers, so it keeps the full context. A band-gain
        encoder measures the decoder's spectrum (not its Griffin-Lim) on its codes: 17 + 28 frames."""
        if self.gains is not None:
            return self.encoder.receptive_field + self.decoder.spectrum_receptive_field + 1  # + the STFT window
        return self.context_frames if self.pitch_levels else self.encoder.receptive_field

    @torch.no_grad()
    def encode(self, wav: torch.Tensor, kbps: float, rate_cost: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T) or (T,) float audio at `sample_rate` -> (B, n_q, ceil(T / hop)) int64 codes.

        A pitch-aware model's last level holds pitch codes (`nac/pitch.py`). `rate_cost`: see
        `ResidualQuantizer.encode` (codes chosen for an entropy coder)."""
        n_q = self.n_q_for(kbps)
        gain_levels = self.cfg.gain_levels_for(n_q)
        wav = self._pad(wav if wav.dim() == 2 else wav[None])
        codes = self.quantizer.encode(self._latents(wav), n_q - self.pitch_levels - gain_levels, rate_cost)
        if self.pitch_levels:
            codes = torch.cat([codes, pitch_coding.encode(wav, self.sample_rate, self.hop)[:, None]], 1)
        if gain_levels:  # what the decoder will make of these codes, against the input
            mag = self._spectrum(self.quantizer.decode(codes), None)[0]
            codes = torch.cat([codes, self.gains.code(self.decoder.head.stft(wav).abs(), mag, gain_levels)], 1)
        return codes

    @torch.no_grad()
    def decode(self, codes: torch.Tensor, phase0: torch.Tensor | None = None) -> torch.Tensor:
        """(B, n_q, N) codes -> (B, N * hop) audio. `phase0`: see `oscillator_phase_before`."""
        codes = codes.long()
        codes, gain_codes = codes.split([codes.shape[1] - self.cfg.gain_levels_for(codes.shape[1]),
                                         self.cfg.gain_levels_for(codes.shape[1])], 1)
        f0 = pitch_coding.dequantize(codes[:, -1]) if self.pitch_levels else None
        z = self.quantizer.decode(codes[:, : codes.shape[1] - self.pitch_levels])
        mag, phase = self._spectrum(z, f0)
        if gain_codes.shape[1]:
            mag = self.gains.correct(mag, gain_codes)
        if self.cfg.sharpen != 1.0:
            mag = sharpen_magnitude(mag, self.cfg.sharpen)
        return self.decoder.synthesize(mag, phase, f0, phase0, cfg=self.cfg)

    @torch.no_grad()
    def silence_codes(self, n_q: int) -> torch.Tensor | None:
        """(n_q,) codes of one frame of steady digital silence at the bitrate with n_q levels (None
        if no bitrate has n_q levels): what a stream decoder puts beyond the ends of a stream."""
        kbps = next((k for k in self.bitrates() if self.n_q_for(k) == n_q), None)
        if kbps is None:
            return None
        frames = 2 * self.encoder_context_frames + 1
        return self.encode(torch.zeros(1, frames * self.hop), kbps)[0, :, frames // 2]

    # The two networks, as hooks another backend can replace (`nac/onnx.py`).
    def _latents(self, wav: torch.Tensor) -> torch.Tensor:
        return self.encoder(wav)

    def _spectrum(self, z: torch.Tensor, f0: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.decoder.spectrum(z, f0)

    def oscillator_phase_before(self, codes: torch.Tensor) -> torch.Tensor | None:
        """(B,) oscillator phase gained over `codes` (B, n_q, N): what a window starting right
        after them passes as `decode(..., phase0=...)`. None for models without pitch."""
        if not self.pitch_levels:
            return None
        f0 = pitch_coding.dequantize(codes[:, -1].long())
        return torch.remainder(pitch_coding.phase_advance(f0, self.hop, self.sample_rate).sum(-1), 2 * math.pi)

    # --- training --------------------------------------------------------------------------
    def forward(self, wav: torch.Tensor, pitch_codes: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, QuantizerOutput]:
        """Autoencode with quantizer dropout (training) or all levels (eval).

        Returns the waveform, or with `griffin_lim_iters` the predicted STFT magnitude (the
        training target is then `decoder.head.stft(wav)`; Griffin-Lim is not differentiated).
        A pitch-aware model takes the pitch codes (B, N), or tracks them itself.
        """
        length = wav.shape[-1]
        wav = self._pad(wav)
        f0 = None
        if self.pitch_levels:
            if pitch_codes is None:
                pitch_codes = pitch_coding.encode(wav, self.sample_rate, self.hop)
            f0 = pitch_coding.dequantize(pitch_codes)
        q = self.quantizer(self.encoder(wav))
        if self.cfg.griffin_lim_iters:
            return self.decoder.magnitude(q.quantized, f0), q
        return self.decoder(q.quantized, f0)[..., :length], q

    def _pad(self, wav: torch.Tensor) -> torch.Tensor:
        extra = (-wav.shape[-1]) % self.hop
        return torch.nn.functional.pad(wav, (0, extra)) if extra else wav


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
