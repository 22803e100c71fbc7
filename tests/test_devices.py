"""--device: on a machine without a GPU, cuda is each framework's row with a reason,
exit code 3, never a crash; analytic and finite-diff stay on the CPU and say so."""

from __future__ import annotations

import json

import numpy as np
import pytest
from corpus import TUTORIAL, parse

from autograd_cli.backends import REGISTRY, backend_class
from autograd_cli.backends.base import DeviceUnavailable
from autograd_cli.execution import worker

REASONS = {
    "torch": "cuda: no CUDA device visible to torch",
    "tensorflow": "cuda: no GPU visible to TensorFlow",
    "jax": "cuda: no CUDA device visible to JAX",
}


def _has_gpu(name: str) -> bool:
    if name == "torch":
        import torch

        return bool(torch.cuda.is_available())
    if name == "jax":
        import jax

        return any(d.platform == "gpu" for d in jax.devices())
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


@pytest.mark.parametrize("name", REASONS)
def test_each_framework_names_the_missing_device(name: str) -> None:
    if _has_gpu(name):
        pytest.skip("this machine has a GPU")
    backend = backend_class(name)()
    inputs = {"x": np.array([0.5], dtype=np.float32)}
    with pytest.raises(DeviceUnavailable, match=f"^{REASONS[name]}$"):
        backend.evaluate(parse(TUTORIAL), inputs, ("x",), "float32", device="cuda")
    # the CPU, named explicitly, is what the default does
    cpu = backend.evaluate(parse(TUTORIAL), inputs, ("x",), "float32", device="cpu")
    assert cpu.derivatives["x"].tolist() == [10.5]


def test_the_worker_turns_a_missing_device_into_an_unavailable_row() -> None:
    if _has_gpu("torch"):
        pytest.skip("this machine has a GPU")
    outcome = worker.evaluate(REGISTRY["torch"], parse(TUTORIAL),
                              {"x": np.array([0.5], dtype=np.float32)}, ("x",), "float32", 1,
                              device="cuda")
    assert (outcome.status, outcome.reason) == ("unavailable", REASONS["torch"])
    # a backend with only the CPU is not even asked: it computes there
    outcome = worker.evaluate(REGISTRY["finite-diff"], parse(TUTORIAL),
                              {"x": np.array([0.5], dtype=np.float32)}, ("x",), "float32", 1,
                              device="cuda")
    assert outcome.status == "ok" and outcome.derivatives["x"].tolist() == [10.5]


def test_cuda_without_a_gpu_is_a_row_per_framework_and_exit_3(gradcheck) -> None:
    if _has_gpu("torch") or _has_gpu("jax"):
        pytest.skip("this machine has a GPU")
    done = gradcheck(TUTORIAL, "--at", "0.5", "--device", "cuda", "--backends",
                     "analytic,torch,jax,finite-diff", "--format", "json")
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    assert ("note: analytic, finite-diff run on the CPU (--device cuda applies to torch, "
            "tensorflow and jax)") in done.stderr
    data = json.loads(done.stdout)
    assert data["device"] == "cuda" and data["exit_code"] == 3
    rows = {r["backend"]: r for r in data["results"]}
    for name in ("torch", "jax"):
        assert (rows[name]["status"], rows[name]["reason"], rows[name]["device"]) == (
            "unavailable", REASONS[name], "cuda")
    for name in ("analytic", "finite-diff"):
        assert (rows[name]["status"], rows[name]["device"], rows[name]["derivative"]) == (
            "ok", "cpu", 10.5)
    assert data["verdict"] == "FAIL: could not run: torch, jax"


def test_an_unknown_device_is_a_usage_error(gradcheck) -> None:
    done = gradcheck(TUTORIAL, "--at", "0.5", "--device", "tpu")
    assert done.returncode == 2 and "'tpu' is not one of 'cpu', 'cuda'" in done.stderr
    assert done.stdout == ""


SUITE = """
name = "devices"
[defaults]
backends = "analytic,torch"
[[case]]
name = "gpu"
expression = "sin(x)"
at = 1.0
device = "cuda"
[[case]]
name = "cpu"
expression = "sin(x)"
at = 1.0
[[case]]
name = "gpu-sweep"
expression = "sin(x)"
range = [0, 1]
num = 3
device = "cuda"
"""


def test_suites_take_a_device_per_case_and_from_the_command_line(gradcheck, tmp_path) -> None:
    """A case's `device` reaches its backends; the pool's worker that could not reach
    cuda still serves the next case on the CPU; --device overrides every case."""
    if _has_gpu("torch"):
        pytest.skip("this machine has a GPU")
    path = tmp_path / "devices.toml"
    path.write_text(SUITE)
    done = gradcheck("suite", str(path), "--format", "json")
    assert done.returncode == 3, done.stderr
    cases = {c["name"]: c for c in json.loads(done.stdout)["cases"]}
    assert {n: (c["device"], c["outcome"]) for n, c in cases.items()} == {
        "gpu": ("cuda", "error"), "cpu": ("cpu", "passed"), "gpu-sweep": ("cuda", "error")}
    torch_rows = [r for r in cases["gpu-sweep"]["report"]["results"] if r["backend"] == "torch"]
    assert len(torch_rows) == 3
    assert all((r["status"], r["device"], r["reason"]) == ("unavailable", "cuda", REASONS["torch"])
               for r in torch_rows)
    cpu_rows = cases["cpu"]["report"]["results"]
    assert [(r["backend"], r["status"], r["device"]) for r in cpu_rows] == [
        ("analytic", "ok", "cpu"), ("torch", "ok", "cpu")]
    everywhere = gradcheck("suite", str(path), "--device", "cuda", "-k", "cpu", "--format",
                           "json")
    assert everywhere.returncode == 3
    (case,) = json.loads(everywhere.stdout)["cases"]
    assert case["device"] == "cuda" and case["outcome"] == "error"


def test_a_bad_device_in_a_suite_is_a_config_error(gradcheck, tmp_path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(SUITE.replace('device = "cuda"', 'device = "tpu"', 1))
    done = gradcheck("suite", str(path))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "device" in done.stderr and "tpu" in done.stderr
