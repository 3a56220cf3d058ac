from voxelomics.cli import app

app(prog_name="voxelomics")
