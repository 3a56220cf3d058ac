"""``import voxelomics``, the CLI and ``voxelomics extract`` never import torch or MONAI."""

from __future__ import annotations

import subprocess
import sys

from testdata import IBSI1

CODE = r"""
import sys
import voxelomics
from typer.testing import CliRunner
from voxelomics.cli import app

assert "torch" not in sys.modules and "monai" not in sys.modules, "import voxelomics loaded torch"
runner = CliRunner()
res = runner.invoke(app, ["--help"])
assert res.exit_code == 0 and "deep" in res.output, res.output
res = runner.invoke(app, ["deep", "--help"])
assert res.exit_code == 0 and "features" in res.output, res.output
dig = {dig!r}
manifest = {out!r} + "/manifest.csv"
open(manifest, "w").write("case_id,image,mask\nd,%s/image/phantom.nii.gz,%s/mask/mask.nii.gz\n" % (dig, dig))
open({out!r} + "/s.yaml", "w").write("preset: ibsi-digital\nfamilies: [morphology, statistics]\n")
res = runner.invoke(app, ["extract", manifest, "--out", {out!r} + "/out", "--settings", {out!r} + "/s.yaml",
                          "--scheduler", "in-process", "--no-progress"])
assert res.exit_code == 0, res.output
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "monai"))
print("LOADED", loaded[:5])
"""


def test_import_cli_and_extract_do_not_load_torch(tmp_path):
    code = CODE.format(dig=str(IBSI1 / "digital_phantom"), out=str(tmp_path))
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "LOADED []" in run.stdout
