"""Manifest CSV: columns, relative paths, errors naming the file and the row."""

from __future__ import annotations

import pytest

from voxelomics.errors import InputError
from voxelomics.io import Case, read_manifest, write_manifest


def _csv(tmp_path, text):
    path = tmp_path / "cohort" / "manifest.csv"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def test_read_resolves_paths_and_keeps_extra(tmp_path):
    path = _csv(tmp_path, "case_id,image,mask,label,roi,modality,outcome\n"
                          "a,img/a.nii.gz,msk/a.nii.gz,2,,CT,1\n"
                          "b,/abs/b,/abs/b_rs.dcm,,GTV-1,,0\n")
    a, b = read_manifest(path)
    assert a == Case("a", path.parent / "img/a.nii.gz", path.parent / "msk/a.nii.gz", 2, None, "CT",
                     {"outcome": 1})
    assert b.image.as_posix() == "/abs/b" and b.roi == "GTV-1" and b.label is None and b.modality is None


def test_round_trip(tmp_path):
    cases = [Case("a", tmp_path / "x/a.nii.gz", tmp_path / "x/m.nii.gz", 1, None, "MR", {"site": "A"})]
    path = write_manifest(cases, tmp_path / "manifest.csv")
    assert "x/a.nii.gz" in path.read_text()  # written relative to the manifest folder
    assert read_manifest(path) == cases


@pytest.mark.parametrize(("text", "message"), [
    ("case_id,image\na,b\n", r"lacks required column\(s\) \['mask'\]"),
    ("case_id,image,mask\n", "no data rows"),
    ("case_id,image,mask,label\na,i,m,1\na,i,m,1.0\n", r"line 3: duplicate \(case_id, roi, label\) = \('a', None, 1\)"),
    ("case_id,image,mask,label\na,i,m,x\n", "line 2 .*label 'x' is not an integer"),
    ("case_id,image,mask\na,,m\n", "line 2: column 'image' is empty"),
])
def test_errors_name_file_and_row(tmp_path, text, message):
    with pytest.raises(InputError, match=r"manifest.csv: .*" + message):
        read_manifest(_csv(tmp_path, text))


def test_missing_manifest(tmp_path):
    with pytest.raises(InputError, match="nope.csv: manifest file does not exist"):
        read_manifest(tmp_path / "nope.csv")


def test_extra_columns_are_typed_per_column(tmp_path):
    path = _csv(tmp_path, "case_id,image,mask,outcome,age,site,zip,score,note\n"
                          "a,i,m,0,63.5,A,0712,1,x\n"
                          "b,i,m,1,70,B,1000,,\n"
                          "c,i,m,, 1e2 ,C,0,-2,3\n")
    a, b, c = (case.extra for case in read_manifest(path))
    assert a == {"outcome": 0, "age": 63.5, "site": "A", "zip": "0712", "score": 1, "note": "x"}
    assert b == {"outcome": 1, "age": 70.0, "site": "B", "zip": "1000", "score": None, "note": None}
    assert c == {"outcome": None, "age": 100.0, "site": "C", "zip": "0", "score": -2, "note": "3"}
    assert type(a["outcome"]) is int and type(b["age"]) is float  # one type per column
    assert type(c["note"]) is str  # '3' stays text: the column also holds 'x'


def test_identifier_columns_stay_text(tmp_path):
    path = _csv(tmp_path, "case_id,image,mask,patient_id,series_uid,study_uid\n"
                          "a,i,m,12345,1.23,1.2.840.1\n")
    (a,) = read_manifest(path)
    assert a.extra == {"patient_id": "12345", "series_uid": "1.23", "study_uid": "1.2.840.1"}


def test_typed_extras_round_trip(tmp_path):
    cases = [Case("a", tmp_path / "a.nii", tmp_path / "m.nii", None, None, None,
                  {"outcome": 1, "age": 61.5, "site": "A"}),
             Case("b", tmp_path / "b.nii", tmp_path / "m.nii", None, None, None,
                  {"outcome": None, "age": 70.25, "site": "B"})]
    back = read_manifest(write_manifest(cases, tmp_path / "manifest.csv"))
    assert back == cases
    assert [type(c.extra["outcome"]) for c in back] == [int, type(None)]  # not 1.0


def test_unknown_modality_refuses_the_manifest(tmp_path):
    from voxelomics.errors import InputError
    from voxelomics.io.manifest import read_manifest

    path = tmp_path / "m.csv"
    path.write_text("case_id,image,mask,modality\na,x.nii,y.nii,pt\nb,x.nii,y.nii,PET\n")
    with pytest.raises(InputError, match=r"line 3 \(case 'b'\): unknown modality 'PET'.*did you mean 'PT'"):
        read_manifest(path)
    path.write_text("case_id,image,mask,modality\na,x.nii,y.nii,pt\n")
    assert read_manifest(path)[0].modality == "PT"
