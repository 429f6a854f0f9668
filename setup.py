from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="nac",
    version="0.1.0",
    description="NAC: neural audio codec and restoration toolkit",
    long_description=Path("README.md").read_text() if Path("README.md").exists() else "",
    long_description_content_type="text/markdown",
    packages=find_packages(include=["nac", "nac.*"]),
    package_data={"nac": ["pretrained/*.pt", "pretrained/*.json", "ui/*.html"]},
    python_requires=">=3.10",
    install_requires=[
        "torch==2.13.0", "einops", "vector-quantize-pytorch", "numpy", "soundfile", "click",
        "construct", "av", "soxr", "tqdm", "scipy", "pyworld-prebuilt", "constriction",
    ],
    extras_require={
        "eval": ["pesq", "pystoi", "matplotlib", "visqol-python", "ai-edge-litert",
                 "speechmos", "librosa", "onnxruntime", "requests", "pyroomacoustics"],
        # the enhancer's training (rooms for the damage chains, PESQ for its dev set)
        "train": ["pyroomacoustics", "pesq"],
        "ui": ["fastapi", "uvicorn", "python-multipart", "matplotlib"],
        "onnx": ["onnx", "onnxscript", "onnxruntime"],
        "test": ["pytest", "hypothesis", "pesq", "pystoi", "matplotlib", "visqol-python", "ai-edge-litert", "pyroomacoustics",
                 "fastapi", "uvicorn", "python-multipart", "httpx", "selenium", "onnx", "onnxscript", "onnxruntime"],
    },
    entry_points={"console_scripts": ["nac = nac.cli:main"]},
)
