"""Without Ray, batch inference says how to install it (Ray is hidden from the import system
here, so this runs whether or not it is installed)."""

import sys

import pytest

from swahr_infer.cli import main
from swahr_infer.errors import MissingDependencyError


@pytest.fixture
def no_ray(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    monkeypatch.setitem(sys.modules, "ray.data", None)


def test_library_names_the_extra(no_ray, tmp_path):
    from swahr_infer.batch import run_batch

    with pytest.raises(MissingDependencyError, match=r'pip install "swahr-infer\[ray\]"') as info:
        run_batch(tmp_path, tmp_path / "out.parquet")
    assert info.value.package == "ray" and info.value.extra == "ray"


def test_cli_ray_flag_prints_how_to_install(no_ray, tmp_path, capsys):
    code = main(["predict", str(tmp_path), "--ray", "--out", str(tmp_path / "r.parquet")])
    assert code == 1
    assert 'pip install "swahr-infer[ray]"' in capsys.readouterr().err
    assert not (tmp_path / "r.parquet").exists()


@pytest.mark.parametrize("extra, message", [
    ([], "--out results.parquet"),
    (["--out", "poses.csv"], ".parquet or .jsonl"),
])
def test_cli_ray_needs_a_results_file(tmp_path, capsys, extra, message):
    assert main(["predict", str(tmp_path), "--ray"] + extra) == 2
    assert message in capsys.readouterr().err
