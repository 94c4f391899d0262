"""Fixtures for the export tests: small random-weight networks and their checkpoints."""

import pytest

torch = pytest.importorskip("torch")

from export.model import build_model  # noqa: E402


def randomise_batchnorm(model, seed: int = 0):
    """Give every BatchNorm non-trivial statistics and affine terms (fresh ones are identity),
    so that BN folding and parity tests exercise them; return the model in eval mode."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            c = module.num_features
            module.running_mean.copy_(torch.rand(c, generator=generator) - 0.5)
            module.running_var.copy_(torch.rand(c, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(c, generator=generator) + 0.5)
            module.bias.data.copy_(torch.rand(c, generator=generator) * 0.4 - 0.2)
    return model.eval()


@pytest.fixture(scope="session")
def randomise():
    """:func:`randomise_batchnorm`, for tests."""
    return randomise_batchnorm


@pytest.fixture(autouse=True)
def _two_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def tiny_model():
    torch.manual_seed(0)
    return randomise_batchnorm(build_model("w8-tiny"))


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, tiny_model):
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pth"
    torch.save(tiny_model.state_dict(), path)
    return path
