"""The `nac` command line: encode, decode, info, train, export.

Errors are one line on stderr with exit status 1 (2 for usage errors); `--debug` shows the
traceback. Outputs are written to a temp file and renamed, so a failed run never leaves a
half-written file or clobbers an existing one.
"""
from __future__ import annotations

import functools
import os
import signal
import sys
from pathlib import Path

import click

KBPS_CHOICES = ["1.5", "3", "6", "12"]  # the rates quantizer dropout trains and the README lists


AUDIO_OUTPUT_SUFFIXES = {".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac", ".aiff"}


class UserError(click.ClickException):
    exit_code = 1

    def show(self, file=None) -> None:
        click.echo(f"nac: error: {self.message}", err=True)


def friendly_errors(func):
    """Turn expected failures into one-line errors, unless --debug."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context()
        try:
            return func(*args, **kwargs)
        except click.ClickException:
            raise
        except BrokenPipeError:  # `nac info x.nac | head`: the reader left; nothing to report
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(141)
        except Exception as exc:
            if ctx.find_root().params.get("debug"):
                raise
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UserError(message) from None

    return wrapper


def check_paths(src: str, dst: str, force: bool) -> None:
    """Everything about the paths that can fail, checked before any model or audio is loaded
    (and before torch is imported): a refusal costs milliseconds, not seconds."""
    if src != "-" and not Path(src).exists():
        raise UserError(f"{src}: no such file")
    if dst == "-":
        return
    if src != "-" and Path(dst).exists() and os.path.samefile(src, dst):
        raise UserError(f"refusing to overwrite the input file {src}")
    if Path(dst).is_dir():
        raise UserError(f"{dst} is a folder")
    if Path(dst).exists() and not force:
        raise UserError(f"{dst} exists (use --force to overwrite)")
    parent = Path(dst).parent
    if not parent.is_dir():
        raise UserError(f"{dst}: the folder {parent} does not exist")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.version_option(package_name="nac")
def cli(debug: bool) -> None:
    """NAC neural audio codec: encode, decode and inspect .nac files."""


@cli.command()
@click.argument("src", type=click.Path(dir_okay=False))
@click.argument("dst", type=click.Path(dir_okay=False))
@click.option("--kbps", type=click.Choice(KBPS_CHOICES), default="6", show_default=True,
              help="Nominal bitrate per channel.")
@click.option("--model", default=None, help="Registry name or checkpoint path [default: nac-16k].")
@click.option("--entropy", type=click.Choice(["auto", "on", "off"]), default="auto", show_default=True,
              help="Choose codes for and range-code them with the model's code statistics (~20 % "
              "smaller at 6 kbps); off: nearest codes, bit-packed; auto: on whenever the model ships them.")
@click.option("--force", is_flag=True, help="Overwrite DST if it exists.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
@friendly_errors
def encode(src: str, dst: str, kbps: str, model: str | None, entropy: str, force: bool, quiet: bool) -> None:
    """Encode an audio file (wav/flac/ogg/opus/mp3/m4a, any rate) to a .nac file.

    SRC "-" reads stdin (`ffmpeg -i in.mkv -f wav - | nac encode - out.nac`). Seekable wav/flac
    input is read and coded 10 s at a time: memory stays flat however long the file."""
    check_paths(src, dst, force)
    if Path(dst).suffix.lower() in AUDIO_OUTPUT_SUFFIXES:
        raise UserError(f"{dst}: nac encode writes a .nac bitstream, not {Path(dst).suffix} audio "
                        f"(name it {Path(dst).with_suffix('.nac').name}; `nac decode` writes audio)")
    from .api import compress_blocks
    from .container.bitstream import file_kbps
    from .io.audio import atomic_output, read_blocks
    from .registry import DEFAULT_CODEC

    sr, channels, total, blocks = read_blocks(src)
    with atomic_output(dst) as tmp, open(tmp, "wb") as f:
        compress_blocks(blocks, sr, channels, total, f, float(kbps), model or DEFAULT_CODEC, entropy=entropy)
    if not quiet:
        size, seconds = Path(dst).stat().st_size, total / sr
        click.echo(f"wrote {dst}: {seconds:.2f} s, {channels} ch, {kbps} kbps nominal, "
                   f"file_kbps {file_kbps(size, seconds, channels):.2f}, {size} bytes", err=True)


@cli.command()
@click.argument("src", type=click.Path(dir_okay=False))
@click.argument("dst", type=click.Path(dir_okay=False))
@click.option("--model", default=None, help="Override the model named in the file.")
@click.option("--sample-rate", type=click.IntRange(8000, 192000), default=None,
              help="Output rate [default: the original file's rate].")
@click.option("--postfilter", is_flag=True,
              help="Decode with the spectral sharpening, then run `nac restore`'s plan (speech: the enhancer); "
              "dev NAC 6: PESQ +0.21, DNSMOS +0.05, ViSQOL -0.53.")
@click.option("--postfilter-model", default=None, help="Restoration model [default: by content].")
@click.option("--backend", type=click.Choice(["torch", "torch-bf16", "onnxruntime"]), default="torch",
              show_default=True, help="Where the networks run: torch-bf16 runs the decoder network in "
              "bfloat16 (fastest on CPUs with AVX512-BF16/AMX); onnxruntime needs --onnx-dir from `nac export --onnx`.")
@click.option("--onnx-dir", type=click.Path(file_okay=False), default=None, help="ONNX graphs for --backend onnxruntime.")
@click.option("--int8", is_flag=True, help="With --backend onnxruntime: the int8 graphs.")
@click.option("--force", is_flag=True, help="Overwrite DST if it exists.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
@friendly_errors
def decode(src: str, dst: str, model: str | None, sample_rate: int | None, postfilter: bool,
           postfilter_model: str | None, backend: str, onnx_dir: str | None, int8: bool, force: bool,
           quiet: bool) -> None:
    """Decode a .nac file to .wav or .flac (original rate, channels and length).

    DST "-" writes a 16-bit WAV stream to stdout (`nac decode in.nac - | aplay`). Without
    --postfilter, decoding runs block by block: memory stays flat however long the file."""
    check_paths(src, dst, force)
    import numpy as np

    from .api import decompress_blocks
    from .io.audio import write_blocks

    if backend == "onnxruntime" and not onnx_dir:
        raise click.UsageError("--backend onnxruntime needs --onnx-dir (made by `nac export MODEL --onnx DIR`)")
    onnx = onnx_dir if backend == "onnxruntime" else None
    if backend == "torch-bf16" and not quiet:
        from .backends.bf16 import cpu_has_bf16_units

        if not cpu_has_bf16_units():
            click.echo("note: this CPU has no bfloat16 units (AMX / AVX512-BF16): torch-bf16 decodes "
                       "slower than torch here", err=True)
    with open(src, "rb") as f:
        info, blocks = decompress_blocks(f, model, sample_rate, onnx, int8, bf16=backend == "torch-bf16",
                                         postfilter=postfilter)
        if postfilter:  # the restorer needs the whole signal (it measures its bandwidth first)
            from .restore.plan import restore_audio

            audio = np.concatenate(list(blocks), axis=1)
            blocks = [restore_audio(audio, info["sample_rate"], "auto", postfilter_model, info["sample_rate"],
                                    codec="nac")[0]]
        write_blocks(dst, blocks, info["sample_rate"], info["channels"], info["num_samples"])
    if not quiet and dst != "-":
        click.echo(f"wrote {dst}: {info['num_samples'] / info['sample_rate']:.2f} s, {info['channels']} ch, "
                   f"{info['sample_rate']} Hz, {Path(dst).stat().st_size} bytes", err=True)


@cli.command()
@click.argument("src", type=click.Path(dir_okay=False))
@click.argument("dst", type=click.Path(dir_okay=False))
@click.option("--content", type=click.Choice(["auto", "speech", "music"]), default="auto", show_default=True,
              help="Which restoration model to use; auto guesses from the audio.")
@click.option("--model", default=None, help="Restoration model name or checkpoint (overrides --content).")
@click.option("--codec-model", default=None, help="Codec for .nac inputs [default: the one named in the file].")
@click.option("--sample-rate", type=click.IntRange(8000, 192000), default=None,
              help="Output rate [default: the input's, or the model's where band extension needs more "
              "(8 kHz speech -> 16 kHz); --explain says which].")
@click.option("--strength", type=click.FloatRange(0.0, 1.0), default=1.0, show_default=True,
              help="How much of the model's change to apply (0 = pass the input through).")
@click.option("--always", is_flag=True, help="Restore even input that already fills the model's band.")
@click.option("--explain", is_flag=True, help="Print what was detected and what was done.")
@click.option("--force", is_flag=True, help="Overwrite DST if it exists.")
@friendly_errors
def restore(src, dst, content, model, codec_model, sample_rate, strength, always, explain, force) -> None:
    """Restore degraded audio (phone recordings, Opus, MP3, AAC, 8 kHz, or a .nac file) to .wav/.flac.

    Speech goes through the enhancer (noise, rooms, colouration, codec damage, the missing band),
    music through its post-filter where its band is incomplete; input classes dev measured worse
    pass through untouched. The output keeps the input's rate unless band extension needs more.
    WAV/FLAC speech is restored block by block: memory stays flat however long the file."""
    check_paths(src, dst, force)
    from .restore.blocks import restore_file

    plan = restore_file(src, dst, content, model, strength, always, sample_rate, codec_model)
    if explain:
        click.echo(plan.explain(), err=True)


@cli.command()
@click.argument("src", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@friendly_errors
def info(src: str, as_json: bool) -> None:
    """Show a .nac file's header, metadata, duration, real bitrate and chunk CRC status."""
    import json

    from .container.bitstream import inspect

    if not Path(src).is_file():
        raise UserError(f"{src}: no such file")
    with open(src, "rb") as f:
        result = {"file": src, **inspect(f, Path(src).stat().st_size)}
    m, crc = result["metadata"], result["integrity"]
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        rows = [(k, v) for k, v in result.items() if k != "metadata"]
        rows += [("meta." + k, v) for k, v in sorted(m.items())]
        width = max(len(k) for k, _ in rows)
        for key, value in rows:
            click.echo(f"{key:>{width}}: {value}")
    if crc != "ok":
        sys.exit(1)


@cli.command()
@click.option("--config", type=click.Path(exists=True, dir_okay=False), default=None,
              help="JSON config with 'model' and 'train' sections.")
@click.option("--data", multiple=True, required=True, type=click.Path(exists=True),
              help="Folder of audio (any format/rate); repeat for several corpora.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run folder.")
@click.option("--dev", type=click.Path(exists=True), default=None, help="Dev folder for periodic evaluation.")
@click.option("--steps", type=int, default=None, help="Override the config's step count (the schedule's length).")
@click.option("--until", type=click.IntRange(min=1), default=None,
              help="Stop at this step and save; continue later with --resume (the schedule is unchanged).")
@click.option("--resume", is_flag=True, help="Continue from OUT/latest.pt (weights, optimiser, step).")
@click.option("--init", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Warm start from an exported model (e.g. nac/pretrained/nac-16k.pt): weights and step.")
@click.option("--device", default=None,
              help="cpu, cuda, cuda:N or auto (the config's default: the GPU when there is one).")
@click.option("--data-weights", default=None, metavar="W1,W2,...",
              help="Sampling weight per --data folder (overrides the config's data_weights).")
@friendly_errors
def train(config, data, out, dev, steps, until, resume, init, device, data_weights) -> None:
    """Train a codec. Works under `torchrun --nproc_per_node N -m nac train ...` (DDP: nccl on GPUs, gloo on CPUs).
    A config with "kind": "causal-distill" distils a causal, low-latency student from a shipped
    codec instead (`nac/train/causal.py`)."""
    from .train.causal import is_causal_config
    from .train.causal import run as run_causal
    from .train.trainer import run

    weights = None
    if data_weights:
        try:
            weights = [float(w) for w in data_weights.split(",")]
        except ValueError:
            raise click.BadParameter(f"{data_weights!r}: expected comma-separated numbers") from None
    if is_causal_config(config):
        if init or (device and device != "cpu"):
            raise click.UsageError("a causal-distill config starts from its teacher on the CPU: drop --init/--device")
        run_causal(config, list(data), out, dev=dev, steps=steps, resume=resume, until=until, data_weights=weights)
        return
    run(config, list(data), out, dev=dev, steps=steps, resume=resume, init=init, until=until, device=device,
        data_weights=weights)


@cli.command("train-restore")
@click.option("--config", type=click.Path(exists=True, dir_okay=False), default=None)
@click.option("--data", multiple=True, required=True, type=click.Path(exists=True))
@click.option("--noise", type=click.Path(exists=True), default=None, help="Noise folder for the phone simulation.")
@click.option("--out", required=True, type=click.Path(file_okay=False))
@click.option("--resume", is_flag=True)
@friendly_errors
def train_restore_cmd(config, data, noise, out, resume) -> None:
    """Train a post-filter (the music restorer) on real-codec degradations of DATA. The speech
    enhancer trains with `nac train-enhancer`."""
    from .train.restore import train_restore

    train_restore(config, list(data), out, noise=noise, resume=resume)


@cli.command("train-enhancer")
@click.option("--config", type=click.Path(exists=True, dir_okay=False), default=None)
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False),
              help="The data folder: train/speech, train/music, noise, dev/speech.")
@click.option("--out", required=True, type=click.Path(file_okay=False))
@click.option("--resume", is_flag=True)
@friendly_errors
def train_enhancer_cmd(config, data, out, resume) -> None:
    """Train the speech enhancer (`nac restore`'s model) on random damage chains of DATA's speech."""
    from .train.enhance import train_enhancer

    train_enhancer(config, data, out, resume=resume)


@cli.command()
@click.argument("model")
@click.argument("dst", required=False, type=click.Path(dir_okay=False))
@click.option("--name", help="Model name stored in the file (with DST).")
@click.option("--onnx", "onnx_dir", type=click.Path(file_okay=False),
              help="Write encoder.onnx and decoder.onnx for MODEL (a registry name or checkpoint) here.")
@click.option("--int8", is_flag=True, help="With --onnx: also dynamically quantized int8 graphs.")
@friendly_errors
def export(model: str, dst: str | None, name: str | None, onnx_dir: str | None, int8: bool) -> None:
    """Strip a training checkpoint to fp16 inference weights (MODEL DST --name NAME; prints the
    sha256), and/or write ONNX graphs of a codec (--onnx DIR) with a parity check."""
    if not dst and not onnx_dir:
        raise click.UsageError("give DST (with --name) or --onnx DIR")
    if dst:
        from .checkpoint import export as do_export

        if not name:
            raise click.UsageError("--name is required with DST")
        if not Path(model).is_file():
            raise UserError(f"{model}: no such checkpoint file")
        click.echo(do_export(model, dst, name))
    if onnx_dir and _is_enhancer(model):
        _export_enhancer_onnx(model, onnx_dir, int8)
    elif onnx_dir:
        import numpy as np
        import torch

        from .api import decode_codes, encode_codes, load_model
        from .backends.onnx import OnnxCodec
        from .backends.onnx import export as onnx_export

        codec = load_model(model)
        paths = onnx_export(codec, onnx_dir, int8)
        t = np.arange(3 * codec.sample_rate) / codec.sample_rate
        probe = (0.3 * np.sin(2 * np.pi * 150 * t * (1 + 0.05 * np.sin(3 * t)))).astype(np.float32)[None]
        torch.set_num_threads(1)
        codes = list(encode_codes(codec, probe, 6))
        reference = np.concatenate(list(decode_codes(codec, codes)), 1)
        for quantized in ([False, True] if int8 else [False]):
            onnx_codec = OnnxCodec.wrap(codec, onnx_dir, quantized)
            same = np.mean(np.concatenate(list(encode_codes(onnx_codec, probe, 6))) == np.concatenate(codes))
            audio = np.concatenate(list(decode_codes(onnx_codec, codes)), 1)
            click.echo(f"{'int8' if quantized else 'fp32'}: codes equal {same:.1%}, decoded audio max abs "
                       f"difference {np.abs(audio - reference).max():.2e}")
        for part, path in paths.items():
            click.echo(f"{part}: {path}")


def _is_enhancer(model: str) -> bool:
    from .registry import REGISTRY

    card = REGISTRY.get(model)
    return card.kind == "enhancer" if card else Path(model).name.startswith("enhance")


def _export_enhancer_onnx(model: str, onnx_dir: str, int8: bool) -> None:
    """enhancer.onnx (+ int8), checked against torch on a probe signal through the stream."""
    import numpy as np
    import torch

    from .backends.onnx_enhancer import export as onnx_export
    from .backends.onnx_enhancer import onnx_enhancer
    from .restore.restorer import load_restorer
    from .restore.stream import enhance_file

    enhancer = load_restorer(model)
    paths = onnx_export(enhancer, onnx_dir, int8)
    t = np.arange(3 * enhancer.sample_rate) / enhancer.sample_rate
    rng = np.random.default_rng(0)
    probe = (0.3 * np.sin(2 * np.pi * 150 * t * (1 + 0.05 * np.sin(3 * t))) + 0.02 * rng.standard_normal(len(t)))
    probe = probe.astype(np.float32)[None]
    torch.set_num_threads(1)
    reference = enhance_file(enhancer, probe)
    for key, path in paths.items():
        audio = enhance_file(onnx_enhancer(enhancer, path), probe)
        click.echo(f"{key}: {path} (enhanced audio max abs difference from torch {np.abs(audio - reference).max():.2e})")


@cli.command("eval")
@click.argument("dirs", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--system", "systems", multiple=True,
              help="System to run on DATA_DIR: nac:KBPS, opus:KBPS, mp3:KBPS, aac:KBPS, identity. Repeatable.")
@click.option("--model", default=None, help="Codec for nac:KBPS systems [default: nac-16k].")
@click.option("--report", type=click.Path(dir_okay=False), default="eval/report.md", show_default=True,
              help="Markdown report path; the CSV and PNGs go beside it.")
@click.option("--metrics", "metric_names", default=None,
              help="Comma-separated subset of pesq,stoi,visqol,mel,lsd,si_sdr,snr (default) and dnsmos,harmonic (opt-in).")
@click.option("--limit", type=int, default=None, help="Use only the first N files (sorted).")
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True, help="Parallel workers.")
@click.option("--no-cache", is_flag=True, help="Recompute everything.")
@friendly_errors
def eval_cmd(dirs, systems, model, report, metric_names, limit, jobs, no_cache) -> None:
    """Score audio: `nac eval REF_DIR DEG_DIR` or `nac eval DATA_DIR --system nac:6 --system opus:6`."""
    from .eval.evaluate import (
        HIGHER_IS_BETTER,
        Job,
        default_cache_dir,
        metrics_for,
        pair_files,
        run_eval,
        write_report,
    )
    from .eval.systems import parse_system
    from .io.audio import list_audio

    wanted = tuple(m.strip() for m in metric_names.split(",")) if metric_names else None
    unknown = set(wanted or ()) - set(HIGHER_IS_BETTER)
    if unknown:
        raise click.UsageError(f"unknown metrics: {', '.join(sorted(unknown))}")
    from .eval.metrics import require

    for name in sorted(metrics_for(set(wanted) if wanted else None)):
        require(name)  # a score that cannot be computed is an error, not a blank column
    cache = None if no_cache else default_cache_dir()
    notes = []
    if systems:
        if len(dirs) != 1:
            raise click.UsageError("with --system give exactly one DATA_DIR")
        for spec in systems:
            parse_system(spec, model)  # fail early on a bad spec
        root = Path(dirs[0])
        files = list_audio(root)[:limit]
        if not files:
            raise UserError(f"{root}: no audio files found")
        job_list = [Job(str(f.relative_to(root)) if root.is_dir() else f.name, str(f), None, s, model, wanted, cache)
                    for s in systems for f in files]
        title = f"NAC evaluation of {root}"
    else:
        if len(dirs) != 2:
            raise click.UsageError("give REF_DIR DEG_DIR, or one DATA_DIR with --system")
        pairs, missing, extra = pair_files(*dirs)
        for name, what in [(missing, "reference files have no degraded match"), (extra, "degraded files have no reference")]:
            if name:
                msg = f"{len(name)} {what}: {', '.join(name[:5])}{' ...' if len(name) > 5 else ''}"
                click.echo(f"nac: warning: {msg}", err=True)
                notes.append(msg)
        if not pairs:
            raise UserError(f"no files in {dirs[1]} match any in {dirs[0]} (by relative path)")
        pairs = pairs[:limit]
        label = Path(dirs[1]).name
        job_list = [Job(rel, r, d, label, None, wanted, cache) for rel, r, d in pairs]
        title = f"NAC evaluation of {dirs[1]} against {dirs[0]}"
    rows = run_eval(job_list, jobs)
    summary = write_report(rows, Path(report), title, notes)
    for e in summary:
        vals = "  ".join(f"{k}={v[0]:.3f}" for k, v in e.items() if isinstance(v, tuple))
        click.echo(f"{e['content']:>7} {e['system']:>14} n={e['files']:<4} {vals}")
    click.echo(f"report: {report}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (localhost only by default).")
@click.option("--port", type=click.IntRange(1, 65535), default=7860, show_default=True)
@friendly_errors
def ui(host: str, port: int) -> None:
    """Open a local web page: NAC vs Opus, restoration, .nac inspection (pip install -e .[ui])."""
    try:
        from .ui.server import serve
    except ImportError as exc:
        raise UserError(f"the UI needs its extras: pip install -e '.[ui]' ({exc.name} is missing)") from None
    click.echo(f"NAC UI on http://{host}:{port}  (Ctrl+C to stop)", err=True)
    serve(host, port)


class Terminated(SystemExit):
    """SIGTERM or SIGHUP: unwinds like Ctrl-C, so every `atomic_output` removes its temporary file."""


def _terminate(signum, frame) -> None:
    name = signal.Signals(signum).name
    click.echo(f"nac: stopped by {name}; no partial output was left", err=True)
    raise Terminated(128 + signum)


def main() -> None:
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _terminate)
    cli(prog_name="nac")


if __name__ == "__main__":
    main()
