"""benchmarks/model_report.py: the bundled model scored on a tiny held-out synthetic set."""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `benchmarks` is a folder of scripts, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import model_report  # noqa: E402
from eval.conftest import needs_scorer  # noqa: E402
from swahr_infer.bundled import bundled_model  # noqa: E402


# needs_scorer: the eval tests' check for a scorer that imports (xtcocotools' numpy-1 wheels
# fail under numpy 2)
@needs_scorer
def test_report_rows_and_append(tmp_path, capsys):
    out = tmp_path / "report.json"
    model = str(bundled_model())
    assert model_report.main(["--model", model, "--images", "3", "--threads", "1",
                              "--other-input", "192", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["validation"] == {"generator": "export.synthetic_people.generate_dataset",
                                    "images": 3, "size": 256, "seed": model_report.VAL_SEED}
    rows = {r["config"]: r for r in report["rows"]}
    assert list(rows) == ["shipped, flip, scale 1", "shipped, no flip",
                          "shipped, flip, scales 2,1,0.5", "shipped, flip, scale 1, input 192"]
    assert rows["shipped, flip, scale 1, input 192"]["options"]["input_size"] == 192
    for row in rows.values():
        assert 0.0 < row["ap"] <= row["ap50"] <= 1.0 and row["failures"] == 0
        assert -1.0 <= row["ap_medium"] <= 1.0
    # the trained model finds the figures: AP50 well above chance even on 3 images
    assert rows["shipped, flip, scale 1"]["ap50"] > 0.4
    assert "AP50" in capsys.readouterr().out

    # --append scores only the extra model on the same set and keeps the earlier rows
    assert model_report.main(["--append", "--json", str(out), "--threads", "1",
                              "--extra", f"again={model}"]) == 0
    appended = json.loads(out.read_text())
    assert appended["validation"] == report["validation"]
    assert [r["config"] for r in appended["rows"]] == list(rows) + ["again"]
    assert appended["rows"][-1]["ap"] == rows["shipped, flip, scale 1"]["ap"]
    assert appended["commands_before"] == [report["command"]]

    # a model named as an existing row replaces it in place (a re-exported model, rescored)
    assert model_report.main(["--append", "--json", str(out), "--threads", "1",
                              "--extra", f"shipped, no flip={model}"]) == 0
    replaced = json.loads(out.read_text())
    assert [r["config"] for r in replaced["rows"]] == list(rows) + ["again"]
    assert replaced["rows"][1]["ap"] == rows["shipped, flip, scale 1"]["ap"]  # now with flip
    assert rows["shipped, no flip"]["ap"] != rows["shipped, flip, scale 1"]["ap"]
    assert len(replaced["commands_before"]) == 2


def test_append_refuses_options_it_would_ignore(tmp_path, capsys):
    out = tmp_path / "report.json"  # never read: the arguments are refused first
    for argv, said in ((["--model", "m.onnx", "--extra", "a=b.onnx"], "drop --model"),
                       (["--fp16", "c.pth", "--extra", "a=b.onnx"], "drop --fp16"),
                       (["--label", "x", "--extra", "a=b.onnx"], "drop --label"),
                       (["--other-input", "320", "--extra", "a=b.onnx"], "drop --other-input"),
                       ([], "needs --extra")):
        with pytest.raises(SystemExit) as exit_info:
            model_report.main(["--append", "--json", str(out)] + argv)
        assert exit_info.value.code == 2
        assert said in capsys.readouterr().err
    assert not out.exists()
