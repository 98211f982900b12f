"""studykit._device.resolve_device: the one resolver behind every --device and device= argument."""

import pytest
import torch

from studykit._device import resolve_device


def test_spellings(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu") == resolve_device(None) == resolve_device(" CPU ")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device(None, default="auto") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)


@pytest.mark.parametrize("device, message", [
    ("gpu", "device 'gpu' is invalid: expected auto, cpu, cuda or cuda:N"),
    ("cuda:x", "is invalid"), ("auto:0", "is invalid"), (3, "device=3 is invalid"),
])
def test_invalid(device, message):
    with pytest.raises(ValueError, match=message):
        resolve_device(device)


def test_unavailable(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="device 'cuda' is not available: torch sees no CUDA device"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match=r"'cuda:1' is not available: torch sees 1 CUDA device\(s\), cuda:0 to cuda:0"):
        resolve_device("cuda:1")


def test_library_entry_points_take_auto():
    from studykit.solver import fit_path

    rng = torch.Generator().manual_seed(0)
    X = torch.randn(60, 4, generator=rng, dtype=torch.float64).numpy()
    y = (X[:, 0] > 0).astype(int)
    path = fit_path(X, y, n_alphas=3, eps=0.1, device="auto", table_device="auto")
    assert len(path) == 3
