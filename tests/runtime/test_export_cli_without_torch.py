"""``swahr-infer export`` where torch is missing (an edge box with the runtime only): help still
works and the export says which extra to install, in one line.  Kept out of tests/export, whose
conftest skips every test when torch is not importable: these are the ones that must run
there."""

import subprocess
import sys

from swahr_infer.cli import main


def last_lines(text):
    return [line for line in text.splitlines() if line.strip()]


def test_help_and_missing_torch_without_torch(tmp_path):
    """`swahr-infer --help` and `export --help` work with torch unimportable; running the
    export then says which extra to install, in one line."""
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from swahr_infer.cli import main\n"
        "try:\n    main(['export', '--help'])\nexcept SystemExit as e:\n    assert e.code == 0\n"
        f"sys.exit(main(['export', {str(tmp_path / 'x.pth')!r}]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1, done.stderr
    assert "--with-scales" in done.stdout
    assert last_lines(done.stderr) == [
        'swahr-infer export: error: torch is required for swahr-infer export: '
        'pip install "swahr-infer[export]"']
    top = subprocess.run([sys.executable, "-c", "import sys; sys.modules['torch'] = None\n"
                          "from swahr_infer.cli import main; main(['--help'])"],
                         capture_output=True, text=True, timeout=120)
    assert top.returncode == 0 and "export" in top.stdout


def test_missing_torch_in_process(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)
    assert main(["export", str(tmp_path / "x.pth")]) == 1
    assert "swahr-infer[export]" in capsys.readouterr().err
