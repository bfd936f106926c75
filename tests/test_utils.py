import torch

import tlbook


def test_device_falls_back_to_cpu_and_honours_the_override(monkeypatch):
    monkeypatch.delenv("TLBOOK_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else None
    assert tlbook.device().type in {expected, "mps", "cpu"}
    monkeypatch.setenv("TLBOOK_DEVICE", "cpu")
    assert tlbook.device() == torch.device("cpu")
    assert tlbook.device("cpu") == torch.device("cpu")


def test_seed_everything_makes_torch_reproducible():
    tlbook.seed_everything(7)
    a = torch.rand(3)
    g = tlbook.seed_everything(7)
    assert torch.equal(a, torch.rand(3))
    assert torch.equal(torch.rand(3, generator=g), torch.rand(3, generator=torch.Generator().manual_seed(7)))
