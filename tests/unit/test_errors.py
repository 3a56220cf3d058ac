import pickle

import pytest

from voxelomics import errors


@pytest.mark.parametrize(
    "cls, builtin",
    [
        (errors.SettingsError, ValueError),
        (errors.InputError, OSError),
        (errors.GeometryError, ValueError),
        (errors.EmptyRoiError, ValueError),
        (errors.MaskError, ValueError),
        (errors.FeatureError, RuntimeError),
        (errors.FilterError, ValueError),
        (errors.ModelError, ValueError),
    ],
)
def test_errors_refine_builtins_and_survive_pickling(cls, builtin):
    exc = cls("what is wrong", case_id="p1", path="/data/p1.nii.gz", step="read_image")
    assert isinstance(exc, errors.VoxelomicsError) and isinstance(exc, builtin)
    assert str(exc) == "case 'p1', file /data/p1.nii.gz: what is wrong"
    again = pickle.loads(pickle.dumps(exc))
    assert type(again) is cls and again.step == "read_image" and str(again) == str(exc)


def test_with_context_fills_only_missing_fields():
    exc = errors.InputError("unreadable", path="/a")
    exc.with_context(case_id="c", path="/b", step="read_mask")
    assert (exc.case_id, exc.path, exc.step) == ("c", "/a", "read_mask")
    assert str(exc).startswith("case 'c', file /a:")
