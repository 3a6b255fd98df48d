import json

import pytest
import yaml

from probewise.cli import main


def _csv(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("text,label\n" + "".join(f"{'great' if i % 2 else 'poor'} item {i},{i % 2}\n" for i in range(40)))
    return p


def test_config_files_drive_and_repeat_runs(tmp_path, capsys):
    csv = _csv(tmp_path)
    cfg = tmp_path / "extract.toml"
    cfg.write_text(f'data = "{csv}"\nout = "{tmp_path / "store"}"\nlayers = "0,2"\nno_progress = true\n'
                   'device = "cpu"\n')
    assert main(["extract", "--config", str(cfg)]) == 0
    resolved = yaml.safe_load((tmp_path / "store" / "run.yaml").read_text())
    assert resolved["layers"] == "0,2" and resolved["data"] == str(csv)
    # flags win over the file
    assert main(["extract", "--config", str(cfg), "--layers", "0", "--out", str(tmp_path / "s2")]) == 0
    assert json.loads((tmp_path / "s2" / "manifest.json").read_text())["layers"] == ["0"]
    sweep_cfg = tmp_path / "sweep.yaml"
    sweep_cfg.write_text(yaml.safe_dump({"stores": [str(tmp_path / "store")], "probe": "logistic,ridge",
                                         "C_grid": [0.1, 1.0], "n_boot": 50, "out": str(tmp_path / "res")}))
    assert main(["sweep", "--config", str(sweep_cfg)]) == 0
    first = json.loads((tmp_path / "res.json").read_text())
    assert first["config"]["C_grid"] == [0.1, 1.0] and first["config"]["n_boot"] == 50
    # the written config repeats the run: same numbers
    (tmp_path / "res.json").rename(tmp_path / "first.json")
    assert main(["sweep", "--config", str(tmp_path / "res.yaml")]) == 0
    again = json.loads((tmp_path / "res.json").read_text())
    assert again["selected"] == first["selected"] and again["grid"] == first["grid"]
    capsys.readouterr()


@pytest.mark.parametrize("content, message", [
    ("lyers: 0,2\n", "unknown option"),
    ("- a\n- b\n", "must hold a mapping"),
    ("a: [unclosed\n", "could not parse"),
])
def test_bad_config(tmp_path, capsys, content, message):
    p = tmp_path / "bad.yaml"
    p.write_text(content)
    assert main(["extract", "--config", str(p), "--out", str(tmp_path / "s")]) == 2
    assert message in capsys.readouterr().err
