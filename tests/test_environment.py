"""What the driver records of its machine and software: cheap, and without importing torch."""

import json
import platform
import shutil
import subprocess
import sys
from importlib import metadata

import pytest

COLLECT = ("import json, sys; from autodehypo.environment import collect_environment; "
           "env = collect_environment(); print(json.dumps({'env': env, 'torch': 'torch' in sys.modules}))")


@pytest.fixture(scope="module")
def collected():
    out = subprocess.run([sys.executable, "-c", COLLECT], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_collecting_never_imports_torch(collected):
    assert collected["torch"] is False  # a forked trial must not inherit a torch runtime


def test_figures_are_this_machine_s(collected):
    env = collected["env"]
    assert env["python"] == platform.python_version() and env["os"] == platform.platform()
    assert env["packages"]["numpy"] == metadata.version("numpy")
    with open("/proc/cpuinfo") as fh:
        cpuinfo = fh.read()
    flags = set(next(line for line in cpuinfo.splitlines() if line.startswith("flags")).split(":")[1].split())
    assert env["cpu_flags"] == [f for f in ("avx512f", "avx512_bf16", "amx_bf16", "amx_tile") if f in flags]
    assert env["cpu"] in cpuinfo
    assert (env["gpus"] == []) == (shutil.which("nvidia-smi") is None)


def test_torch_cuda_version_matches_torch_itself(collected):
    try:
        metadata.version("torch")
    except metadata.PackageNotFoundError:
        assert collected["env"]["torch_cuda"] is None
        return
    out = subprocess.run([sys.executable, "-c", "import torch; print(torch.version.cuda or 'none')"],
                         capture_output=True, text=True, check=True)
    assert collected["env"]["torch_cuda"] == out.stdout.strip()
