"""Deep features: real bundled cases end to end, joinable with radiomics; user checkpoints."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch

from testdata import DATA
from voxelomics.deep.config import load_deep_settings
from voxelomics.deep.features import TrainedOnCasesWarning, deep_features
from voxelomics.deep.nets import build_net, load_backbone_weights
from voxelomics.errors import ModelError, SettingsError


@pytest.fixture(scope="module")
def real_manifest(tmp_path_factory):
    """The bundled real cases: NIfTI CT and PET, NRRD MR-like, DICOM CT series + RTSTRUCT."""
    ct = DATA / "ibsi1" / "ct_phantom"
    rows = [
        dict(case_id="sts_001_ct", image=DATA / "cases/sts_001_ct_image.nii.gz",
             mask=DATA / "cases/sts_001_ct_mask.nii.gz", roi="", modality="CT", source="NIfTI"),
        dict(case_id="sts_001_pet", image=DATA / "cases/sts_001_pet_suv_image.nii.gz",
             mask=DATA / "cases/sts_001_pet_suv_mask.nii.gz", roi="", modality="PT", source="NIfTI"),
        dict(case_id="breast1", image=DATA / "cases/breast1_image.nrrd",
             mask=DATA / "cases/breast1_label.nrrd", roi="", modality="MR", source="NRRD"),
        dict(case_id="ibsi_ct_phantom_dicom", image=ct / "dicom/image",
             mask=ct / "dicom/mask/DCM_RS_00060.dcm", roi="GTV-1", modality="CT",
             source="DICOM + RTSTRUCT"),
    ]
    path = tmp_path_factory.mktemp("real") / "manifest.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A user's checkpoint: a small CNN backbone saved the way other projects save theirs."""
    torch.manual_seed(0)
    s = load_deep_settings(None, net__width=4)
    net = build_net(s.net, 2, 1)
    state = {f"module.{k}": v for k, v in net.backbone.state_dict().items()}  # DataParallel names
    path = tmp_path_factory.mktemp("ckpt") / "user.pth"
    torch.save({"state_dict": state, "epoch": 7}, path)
    return path, net


def test_real_cases_end_to_end_and_joinable_with_radiomics(real_manifest, checkpoint, tmp_path):
    from voxelomics.cohort import extract_cohort

    path, net = checkpoint
    s = load_deep_settings(None, net__width=4, crop__size=(24, 24, 24), crop__spacing_mm=2.0,
                           crop__beyond_image="pad")
    out = tmp_path / "deep_features.parquet"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ROI larger than the crop (the sarcoma)
        res = deep_features(real_manifest, out, weights=path, arch="small_cnn", settings=s,
                            progress=False)
    assert res.errors == [] and res.exit_code == 0
    table = pd.read_parquet(out)
    deep_cols = [c for c in table.columns if c.startswith("deep_small_cnn_")]
    assert list(table.columns) == ["case_id", "roi", *deep_cols] and len(deep_cols) == 32
    assert table["case_id"].tolist() == ["sts_001_ct", "sts_001_pet", "breast1", "ibsi_ct_phantom_dicom"]
    assert np.isfinite(table[deep_cols].to_numpy()).all()
    assert table[deep_cols].std().max() > 0  # the cases differ
    meta = pq.read_schema(out).metadata
    assert meta[b"voxelomics.kind"] == b"deep_features"
    assert b"weights_sha256" in meta[b"voxelomics.deep.network"]
    # the embeddings are those of the user's weights
    from voxelomics.deep.data import build_crops
    from voxelomics.io import read_manifest

    crops = build_crops(read_manifest(real_manifest), s.crop, cache_dir=tmp_path / ".crops", progress=False)
    net.eval()
    with torch.no_grad():
        expected = net.embed(torch.from_numpy(crops.arrays)).numpy()
    assert np.allclose(table[deep_cols].to_numpy(), expected, atol=1e-5)
    # the radiomic table of the same manifest joins on (case_id, roi), one row per case
    rad = extract_cohort(real_manifest, out=tmp_path / "rad", scheduler="in-process", progress=False,
                         settings={"families": ["morphology", "statistics"]})
    assert rad.n_failed == 0
    joined = rad.features.merge(table[["case_id", "roi", *deep_cols]], on=["case_id", "roi"],
                                how="inner", validate="one_to_one")
    assert len(joined) == 4 and joined["morphology_volume"].notna().all()


def test_checkpoint_of_another_layout_is_a_clear_error(checkpoint, tmp_path):
    path, _ = checkpoint
    s = load_deep_settings(None, net__width=8)  # the file holds a width-4 network
    with pytest.raises(ModelError, match="does not fit architecture 'small_cnn'.*of another shape"):
        load_backbone_weights(build_net(s.net, 2, 1), path, arch="small_cnn")
    one = load_deep_settings(None, net__width=4)
    with pytest.raises(ModelError, match="takes 2 input channel.*this network 1.*crop.mask_channel"):
        load_backbone_weights(build_net(one.net, 1, 1), path, arch="small_cnn")
    torch.save({"something": torch.zeros(3)}, tmp_path / "x.pt")
    with pytest.raises(ModelError, match="0 of 24 backbone tensors found by name.*missing: features.0.0.weight"):
        load_backbone_weights(build_net(one.net, 2, 1), tmp_path / "x.pt", arch="small_cnn")


class _Payload:  # a pickled object: weights_only loading must refuse it
    def __reduce__(self):
        return (print, ("this would run on load",))


def test_checkpoint_with_code_is_refused(tmp_path):
    torch.save({"state_dict": _Payload()}, tmp_path / "evil.pt")
    s = load_deep_settings(None)
    with pytest.raises(ModelError, match="weights_only=True"):
        load_backbone_weights(build_net(s.net, 2, 1), tmp_path / "evil.pt", arch="small_cnn")


def test_medicalnet_layout_loads_into_the_medicalnet_architecture(tmp_path):
    """A MONAI/MedicalNet ResNet-10 state dict ("module." names, under "state_dict")."""
    from monai.networks.nets import resnet10

    ref = resnet10(spatial_dims=3, n_input_channels=1, feed_forward=False, conv1_t_stride=2,
                   shortcut_type="B", bias_downsample=False)
    torch.save({"state_dict": {f"module.{k}": v for k, v in ref.state_dict().items()}}, tmp_path / "m.pth")
    s = load_deep_settings(None, net__arch="medicalnet_resnet10", crop__mask_channel=False)
    net = build_net(s.net, 1, 1)
    report = load_backbone_weights(net, tmp_path / "m.pth", arch="medicalnet_resnet10")
    assert report["n_loaded"] == len(ref.state_dict())
    x = torch.randn(1, 1, 16, 16, 16)
    net.eval(), ref.eval()
    with torch.no_grad():
        assert torch.allclose(net.embed(x), ref(x), atol=1e-5)
    with pytest.raises(ModelError, match="does not fit architecture 'resnet18'"):
        load_backbone_weights(build_net(s.net.model_copy(update={"arch": "resnet18"}), 1, 1),
                              tmp_path / "m.pth", arch="resnet18")


def test_features_need_one_network(real_manifest, tmp_path):
    with pytest.raises(SettingsError, match="one of the two"):
        deep_features(real_manifest, tmp_path / "f.parquet")
    with pytest.raises(SettingsError, match="--arch"):
        deep_features(real_manifest, tmp_path / "f.parquet", weights=tmp_path / "w.pt")


def test_features_of_a_network_trained_on_the_cases_warn(cohort_dir, tiny_settings, tmp_path):
    from voxelomics.deep.workflow import train_model

    train_model(cohort_dir / "manifest.csv", tiny_settings.replace(train__epochs=1), tmp_path / "m",
                target="y", progress=False)
    with pytest.warns(TrainedOnCasesWarning, match="24 of the 24 cases were in the training set"):
        res = deep_features(cohort_dir / "manifest.csv", tmp_path / "f.parquet", model_dir=tmp_path / "m",
                            progress=False)
    assert res.n_trained_on == 24
    assert pq.read_schema(tmp_path / "f.parquet").metadata[b"voxelomics.deep.n_trained_on"] == b"24"


def test_deep_and_radiomic_features_in_a_voxelomics_model_fusion_run(cohort_dir, tiny_settings, tmp_path):
    """extract + deep features -> one table joined on (case_id, roi) -> voxelomics model cv."""
    import json

    from typer.testing import CliRunner

    from voxelomics.cli import app
    from voxelomics.cohort import extract_cohort
    from voxelomics.model.columns import extraction_features

    manifest = cohort_dir / "manifest.csv"
    torch.manual_seed(0)
    net = build_net(tiny_settings.net, 2, 1)
    torch.save(net.backbone.state_dict(), tmp_path / "backbone.pt")
    deep = deep_features(manifest, tmp_path / "deep.parquet", weights=tmp_path / "backbone.pt",
                         arch="small_cnn", settings=tiny_settings, progress=False).table
    rad = extract_cohort(manifest, out=tmp_path / "rad", scheduler="in-process", progress=False,
                         settings={"families": ["morphology", "statistics"]})
    table = tmp_path / "rad" / "features.parquet"
    radiomic = extraction_features(table, rad.features.columns)
    fused = rad.features[["case_id", "roi", *radiomic]].merge(deep, on=["case_id", "roi"],
                                                              validate="one_to_one")
    fused.to_parquet(tmp_path / "fused.parquet")
    res = CliRunner().invoke(app, [
        "model", "cv", str(tmp_path / "fused.parquet"), "--clinical", str(manifest), "--on", "case_id",
        "--target", "y", "--model", "enet_lr", "--folds", "3", "--repeats", "1", "--inner-folds", "2",
        "--out", str(tmp_path / "cv"), "--no-plots"])
    assert res.exit_code == 0, res.output
    metrics = json.loads((tmp_path / "cv" / "metrics.json").read_text())
    assert metrics["n_samples"] == 24
    assert metrics["n_features"] == len(radiomic) + sum(c.startswith("deep_") for c in deep.columns)


def test_shared_dicom_cases_give_deep_features(shared_data, checkpoint, tmp_path):
    """DICOM CT, MR and PET (SUV) series with RTSTRUCTs and an NRRD CT from ../shared/data."""
    path, _ = checkpoint
    sts = shared_data / "dicom" / "sts_001"
    rows = [
        dict(case_id="sts_ct", image=sts / "ct_crop/image", mask=sts / "ct_crop/rtstruct/RS.dcm"),
        dict(case_id="sts_mr", image=sts / "mr_t1_crop/image", mask=sts / "mr_t1_crop/rtstruct/RS.dcm"),
        dict(case_id="sts_pet", image=sts / "pet_raw/image", mask=sts / "pet_raw/rtstruct/1-1.dcm",
             roi="GTV_Mass"),
        dict(case_id="lung1", image=shared_data / "cases/lung1_image.nrrd",
             mask=shared_data / "cases/lung1_label.nrrd", modality="CT"),
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "m.csv", index=False)
    s = load_deep_settings(None, net__width=4, crop__size=(16, 16, 16), crop__spacing_mm=3.0,
                           crop__beyond_image="pad")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = deep_features(tmp_path / "m.csv", tmp_path / "f.parquet", weights=path, arch="small_cnn",
                            settings=s, progress=False)
    assert res.errors == []
    table = res.table.set_index("case_id")
    assert table.loc["sts_pet", "roi"] == "GTV_Mass" and table.loc["sts_ct", "roi"] == "GTV_Mass_CT"
    assert np.isfinite(table.filter(like="deep_").to_numpy()).all()
