"""The wheel: built from a copy of the source, installed into a temporary virtual environment, and checked from
there (a subprocess in a temporary folder, so this repository's src/ is not on the path): the configs and the
shipped models are inside the installed package, and systems, face systems and benchmark suites load by name.

The temporary environment does not reinstall torch & co.: a ``.pth`` line puts the project environment's
site-packages after its own. A path line in a ``.pth`` file does not run that folder's own ``.pth`` files, so the
editable install of avemo (``__editable__.avemo-*.pth``) stays out and only the wheel's copy can be imported.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.packaging

SPEECH_SYSTEMS = {"whisper-layers-fast-combo", "egemaps-logreg", "logmel-cnn"}
FACE_SYSTEMS = {"face-cnn", "face-cnn-long"}
SUITES = {"ravdess-speech", "ravdess-speech-fast", "fer2013", "ravdess-av", "cross-corpus"}
RECIPES = {"speech-multicorpus"}  # configs/shipping/: the recipes of shipped models
SHIPPED = ("speech-ravdess/system.json", "speech-multicorpus/system.json", "face-fer2013/system.json",
           "face-cnn-long/system.json", "av-ravdess-openface/system.json")

CHECK = textwrap.dedent("""
    import json, subprocess, sys
    from pathlib import Path

    import avemo
    from avemo.shipping.probe_train import recipe
    from avemo.systems.spec import configs_dir, load_spec, load_suite, read_config

    root = configs_dir()
    pretrained = Path(avemo.__file__).parent / "pretrained"
    spec = load_spec("whisper-layers-fast-combo")
    face = read_config("face-cnn-long", "face")
    suites = sorted(p.stem for p in (root / "benchmarks").glob("*.yaml"))
    print(json.dumps({
        "avemo": avemo.__file__,
        "configs_dir": str(root),
        "speech": sorted(p.stem for p in (root / "speech").glob("*.yaml")),
        "face": sorted(p.stem for p in (root / "face").glob("*.yaml")),
        "suites": suites,
        "suites_loaded": {name: isinstance(load_suite(name), dict) for name in suites},
        "recipes": sorted(p.stem for p in (root / "shipping").glob("*.yaml")),
        "recipe_corpora": len(recipe()["corpora"]),
        "spec": [spec.name, spec.kind, spec.label_set],
        "face_spec": face.get("name"),
        "pretrained": [str(p.relative_to(pretrained)) for p in sorted(pretrained.rglob("*")) if p.is_file()],
        "help": subprocess.run([str(Path(sys.executable).parent / "avemo"), "--help"], capture_output=True,
                               text=True, timeout=120).returncode,
    }))
""")


def run(cmd: list[str], cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "PIP_NO_INPUT": "1",
                                 "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """avemo's wheel, built (no network, no build isolation) from a copy of pyproject.toml, README.md and src/."""
    work = tmp_path_factory.mktemp("build")
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "src", source / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
         "-w", str(work / "dist"), str(source)], cwd=work)
    (found,) = (work / "dist").glob("avemo-*.whl")
    return found


def test_wheel_holds_the_configs_and_models_and_nothing_else(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert {f"avemo/configs/speech/{n}.yaml" for n in SPEECH_SYSTEMS} <= set(names)
    assert {f"avemo/configs/face/{n}.yaml" for n in FACE_SYSTEMS} <= set(names)
    assert {f"avemo/configs/benchmarks/{n}.yaml" for n in SUITES} <= set(names)
    assert {f"avemo/configs/shipping/{n}.yaml" for n in RECIPES} <= set(names)
    assert {f"avemo/pretrained/{n}" for n in SHIPPED} <= set(names)
    tops = {n.split("/")[0] for n in names}
    assert tops == {"avemo", wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info"}, tops
    assert not [n for n in names if n.endswith((".mp4", ".flac", ".ogg", ".pt", ".pkl"))]


def test_installed_wheel_finds_configs_and_models_by_name(wheel, tmp_path):
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    python = venv / "bin" / "python"
    own = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                   cwd=tmp_path).stdout.strip())
    project = Path(sysconfig.get_path("purelib"))  # the project environment: torch, numpy, yaml, ...
    (own / "avemo_test_deps.pth").write_text(f"{project}\n")
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q",
         str(wheel)], cwd=tmp_path)

    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    out = json.loads(run([str(python), "-c", CHECK], cwd=cwd).stdout.strip().splitlines()[-1])
    package = own / "avemo"
    assert Path(out["avemo"]).resolve().is_relative_to(venv.resolve()), out["avemo"]
    assert Path(out["configs_dir"]).resolve() == (package / "configs").resolve()
    assert SPEECH_SYSTEMS <= set(out["speech"]) and FACE_SYSTEMS <= set(out["face"])
    assert SUITES <= set(out["suites"]) and all(out["suites_loaded"].values())
    assert RECIPES <= set(out["recipes"]) and out["recipe_corpora"] == 8
    assert out["spec"][0] == "whisper-layers-fast-combo" and out["face_spec"] == "face-cnn-long"
    assert set(SHIPPED) <= set(out["pretrained"])
    assert out["help"] == 0
