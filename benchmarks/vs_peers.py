"""voxelomics against PyRadiomics 3.1 and pictologics 0.9 on the same CT cases, same settings.

``--setting ibsi-c`` (default) is IBSI configuration C (issue 5); ``--setting filtered`` adds
LoG σ 1, 2, 3 mm and the 8 first-level coif1 wavelet sub-bands with first-order and texture
features on every response map (issue 11; see ``FILTERED_RUNNERS``). Wall time and CPU
(process) time are printed for every extractor.

Every extractor runs in its own subprocess (one per extractor and case, so the peak resident
memory is per case), from file paths to features, warm: one warm-up call, then ``--repeat``
timed calls; the minimum is compared (the machine is shared; the minimum is the least
disturbed run), the median is printed too.

Settings (IBSI configuration C): 2 mm isotropic trilinear resampling, re-segmentation to
[-1000, 400] HU, fixed bin size 25 HU with bins from -1000 HU, 3D.

* voxelomics: ``extract_features(image, mask, "ibsi-c")`` (all IBSI families; default
  ``n_threads``: families in ``min(4, os.cpu_count())`` threads for ROIs of 20k voxels or more).
* PyRadiomics: ``RadiomicsFeatureExtractor(resampledPixelSpacing=[2, 2, 2],
  interpolator="sitkLinear", resegmentRange=[-1000, 400], binWidth=25)`` with all feature
  classes enabled, its defaults otherwise, timing ``execute(image, mask)``.
* pictologics: a ``RadiomicsPipeline`` configuration: resample (2 mm, linear, rounded
  intensities), resegment [-1000, 400], discretise FBS 25 from -1000, every family including
  local intensity and Moran's I / Geary's C (174 features, as in the issue's table); timing
  ``pipeline.run(image, mask)``.

The peers are never dependencies of voxelomics. Their environments are looked up in
``--peer-envs DIR`` (a sub-folder whose name contains ``pyrad`` / ``picto`` holding
``bin/python``) and created there when missing (default ``benchmarks/.envs``, git-ignored):

* PyRadiomics 3.1.0 needs Python 3.11 and builds from its PyPI source distribution, which
  lacks ``radiomics/src/cmatrices.h`` and ``cshape.h``: the two headers are generated from
  the function definitions of the ``.c`` files, then the package is installed with pip.
* pictologics 0.9.0 needs Python 3.12 and installs from PyPI.

Usage::

    python benchmarks/vs_peers.py --repeat 5 [--peer-envs /tmp] [--cases phantom lung1]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "cases"

CASES = {
    "ibsi_ct_phantom": (ROOT / "data/ibsi1/ct_phantom/nifti/image/phantom.nii.gz",
                        ROOT / "data/ibsi1/ct_phantom/nifti/mask/mask.nii.gz"),
    "lung1": (SHARED / "lung1_image.nrrd", SHARED / "lung1_label.nrrd"),
    "lung2": (SHARED / "lung2_image.nrrd", SHARED / "lung2_label.nrrd"),
    "sts_001_ct": (ROOT / "data/cases/sts_001_ct_image.nii.gz", ROOT / "data/cases/sts_001_ct_mask.nii.gz"),
}

# One runner per extractor: prints one JSON line {"times": [...], "cpu": [...], "n_features": N,
# "peak_rss_mib": M, "rss_after_imports_mib": R, "working_set_mib": M - R}.
#
# The working set is the peak resident memory minus the resident memory once every module the
# extraction uses is imported. Which modules that is, is learnt from a probe process (one
# extraction, then the modules it added to ``sys.modules``), since both tools import some
# lazily during their first call; the timing process imports them before anything is read.
_PROBE = """
import json, sys
image, mask = sys.argv[1], sys.argv[2]
{setup}
before = set(sys.modules)
run(image, mask)
print(json.dumps(sorted(m for m in set(sys.modules) - before if not m.startswith("__"))))
"""

_TIMING = """
import importlib, json, resource, sys, time
image, mask, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
modules = json.loads(sys.argv[4])
{setup}
for name in modules:  # everything the extraction imports lazily, so the baseline holds it
    try:
        importlib.import_module(name)
    except Exception:
        pass

def rss_mib(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")

after_imports = rss_mib("VmRSS")
run(image, mask)  # warm-up
times, cpu = [], []
for _ in range(repeat):
    c0 = time.process_time()
    t0 = time.perf_counter()
    n = run(image, mask)
    times.append(time.perf_counter() - t0)
    cpu.append(time.process_time() - c0)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"times": times, "cpu": cpu, "n_features": n, "peak_rss_mib": peak,
                   "rss_after_imports_mib": after_imports, "working_set_mib": peak - after_imports}}))
"""

RUNNERS = {
    "voxelomics": """
import warnings
warnings.simplefilter("ignore")
from voxelomics._malloc import limit_arenas
limit_arenas()  # as the voxelomics command does (one malloc arena; see voxelomics._malloc)
from voxelomics import extract_features
def run(image, mask):
    return len(extract_features(image, mask, "ibsi-c"))
""",
    "pyradiomics": """
import logging
import radiomics
from radiomics import featureextractor
radiomics.setVerbosity(logging.ERROR)
ext = featureextractor.RadiomicsFeatureExtractor(
    resampledPixelSpacing=[2, 2, 2], interpolator="sitkLinear",
    resegmentRange=[-1000, 400], binWidth=25)
ext.enableAllFeatures()
def run(image, mask):
    out = ext.execute(image, mask)
    return sum(1 for k in out if not k.startswith("diagnostics"))
""",
    "pictologics": """
import warnings
warnings.simplefilter("ignore")
from pictologics import RadiomicsPipeline
pipe = RadiomicsPipeline()
pipe.add_config("ibsi_c", [
    {"step": "resample", "params": {"new_spacing": [2.0, 2.0, 2.0], "interpolation": "linear",
                                    "round_intensities": True}},
    {"step": "resegment", "params": {"range_min": -1000.0, "range_max": 400.0}},
    {"step": "discretise", "params": {"method": "FBS", "bin_width": 25.0, "min_val": -1000.0}},
    {"step": "extract_features", "params": {
        "families": ["intensity", "morphology", "texture", "histogram", "ivh"],
        "include_spatial_intensity": True, "include_local_intensity": True}},
])
def run(image, mask):
    out = pipe.run(image, mask, config_names=["ibsi_c"])
    return int(sum(len(s) for s in out.values()))
""",
}


#: The matched filtered setting (issue 11): configuration C, plus LoG sigma 1, 2, 3 mm and
#: the 8 first-level coif1 wavelet sub-bands, and on every response map the families both
#: compute: first order (statistics + histogram), GLCM, GLRLM, GLSZM, NGTDM, NGLDM (GLDM);
#: neither computes shape on a response map, and PyRadiomics has no GLDZM. Response maps are discretised with 32 bins by both (IBSI-2: a response map
#: gets its own discretisation; PyRadiomics: ``binCount`` per image type), the image with
#: FBS 25 HU as in the unfiltered setting.
FILTERED_RUNNERS = {
    "voxelomics": """
import warnings
warnings.simplefilter("ignore")
from voxelomics._malloc import limit_arenas
limit_arenas()  # as the voxelomics command does (one malloc arena; see voxelomics._malloc)
from voxelomics import extract_features
from voxelomics.settings import Settings
SETTINGS = Settings.from_dict({
    "preset": "ibsi-c",
    "filters": [{"type": "log", "sigma_mm": s} for s in (1.0, 2.0, 3.0)]
               + [{"type": "wavelet", "wavelet": "coif1", "subbands": "all"}],
    "response_maps": {"families": ["statistics", "histogram", "glcm", "glrlm", "glszm", "ngtdm",
                                   "ngldm"]},
})
def run(image, mask):
    return len(extract_features(image, mask, SETTINGS))
""",
    "pyradiomics": """
import logging
import radiomics
from radiomics import featureextractor
radiomics.setVerbosity(logging.ERROR)
ext = featureextractor.RadiomicsFeatureExtractor(
    resampledPixelSpacing=[2, 2, 2], interpolator="sitkLinear",
    resegmentRange=[-1000, 400], binWidth=25)
ext.enableAllFeatures()
ext.enableImageTypes(Original={}, LoG={"sigma": [1.0, 2.0, 3.0], "binCount": 32},
                     Wavelet={"binCount": 32})
def run(image, mask):
    out = ext.execute(image, mask)
    return sum(1 for k in out if not k.startswith("diagnostics"))
""",
    "pictologics": """
import warnings
warnings.simplefilter("ignore")
from pictologics import RadiomicsPipeline
BASE = [
    {"step": "resample", "params": {"new_spacing": [2.0, 2.0, 2.0], "interpolation": "linear",
                                    "round_intensities": True}},
    {"step": "resegment", "params": {"range_min": -1000.0, "range_max": 400.0}},
]
MAP_FEATURES = {"step": "extract_features", "params": {
    "families": ["intensity", "histogram", "glcm", "glrlm", "glszm", "ngtdm", "ngldm"]}}
FBN32 = {"step": "discretise", "params": {"method": "FBN", "n_bins": 32}}
pipe = RadiomicsPipeline()
pipe.add_config("original", BASE + [
    {"step": "discretise", "params": {"method": "FBS", "bin_width": 25.0, "min_val": -1000.0}},
    {"step": "extract_features", "params": {
        "families": ["intensity", "morphology", "texture", "histogram", "ivh"],
        "include_spatial_intensity": True, "include_local_intensity": True}},
])
names = ["original"]
for sigma in (1.0, 2.0, 3.0):
    name = f"log_{sigma:g}"
    pipe.add_config(name, BASE + [
        {"step": "filter", "params": {"type": "log", "sigma_mm": sigma, "truncate": 4.0, "boundary": "mirror"}},
        FBN32, MAP_FEATURES])
    names.append(name)
for band in ("LLL", "HLL", "LHL", "HHL", "LLH", "HLH", "LHH", "HHH"):
    name = f"wavelet_{band}"
    pipe.add_config(name, BASE + [
        {"step": "filter", "params": {"type": "wavelet", "wavelet": "coif1", "level": 1,
                                      "decomposition": band, "boundary": "mirror"}},
        FBN32, MAP_FEATURES])
    names.append(name)
def run(image, mask):
    out = pipe.run(image, mask, config_names=names)
    return int(sum(len(s) for s in out.values()))
""",
}


# ------------------------------------------------------------------------ environments
def _python(version: str) -> str:
    """Path of a python<version> interpreter (pyenv's versions first: its shims only answer
    for the versions enabled in the current folder; then PATH)."""
    for cand in sorted(Path.home().glob(f".pyenv/versions/{version}*/bin/python{version}")):
        return str(cand)
    found = shutil.which(f"python{version}")
    if found:
        return found
    sys.exit(f"python{version} not found (needed for a peer environment); install it with pyenv")


def _find_env(envs: Path, key: str) -> Path | None:
    if not envs.is_dir():
        return None
    for sub in sorted(envs.iterdir()):
        if key in sub.name.lower() and (sub / "bin" / "python").exists():
            return sub / "bin" / "python"
    return None


def _run(cmd: list[str], **kw) -> None:
    print("$", " ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True, **kw)


_C_DEF = re.compile(r"^(?!static\b)([A-Za-z_][\w \*]*?\b[\*\s]*\w+\s*\([^;{]*?\))\s*\{", re.M | re.S)


def _header_from_c(c_file: Path) -> str:
    """Prototypes of the non-static functions defined in a C file (one per definition)."""
    text = c_file.read_text()
    protos = [" ".join(m.group(1).split()) + ";" for m in _C_DEF.finditer(text)]
    guard = c_file.stem.upper() + "_H"
    return f"#ifndef {guard}\n#define {guard}\n\n#include <stddef.h>\n" + "\n".join(protos) + f"\n\n#endif /* {guard} */\n"


def build_pyradiomics(envs: Path) -> Path:
    """Create ``envs/pyradiomics`` (Python 3.11) with PyRadiomics 3.1.0 built from its sdist.

    The sdist's metadata step imports ``versioneer`` from its own folder, which PEP 517
    builds do not put on the path; a ``versioneer`` from PyPI then reports version 3.0.1a1
    and pip refuses the download. So pip only fetches and unpacks it (``--no-clean``, the
    version check failing after the unpacking), and the unpacked folder is installed with
    its own ``versioneer`` on ``PYTHONPATH`` (it reports 3.1.0).
    """
    import os

    env = envs / "pyradiomics"
    _run([_python("3.11"), "-m", "venv", str(env)])
    py = str(env / "bin" / "python")
    pip = [py, "-m", "pip", "install", "-q"]
    _run(pip + ["--upgrade", "pip", "setuptools", "wheel"])
    _run(pip + ["numpy<2", "SimpleITK", "PyWavelets", "pykwalify", "six"])
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "pip-tmp"
        work.mkdir()
        subprocess.run([py, "-m", "pip", "download", "-q", "--no-clean", "--no-deps", "--no-binary", "pyradiomics",
                        "--no-build-isolation", "-d", tmp, "pyradiomics==3.1.0"],
                       env={**os.environ, "TMPDIR": str(work)}, check=False)
        unpacked = [p.parent for p in work.glob("pip-download-*/pyradiomics_*/setup.py")]
        if not unpacked:
            sys.exit("could not fetch the PyRadiomics 3.1.0 source distribution")
        src = Path(tmp) / "pyradiomics-3.1.0"
        shutil.copytree(unpacked[0], src)
        for name in ("cmatrices", "cshape"):
            header = src / "radiomics" / "src" / f"{name}.h"
            if not header.exists():  # missing from the sdist: regenerate the prototypes
                header.write_text(_header_from_c(src / "radiomics" / "src" / f"{name}.c"))
        _run(pip + ["--no-build-isolation", str(src)], env={**os.environ, "PYTHONPATH": str(src)}, cwd=tmp)
    return env / "bin" / "python"


def build_pictologics(envs: Path) -> Path:
    """Create ``envs/pictologics`` (Python 3.12) with pictologics 0.9.0 from PyPI."""
    env = envs / "pictologics"
    _run([_python("3.12"), "-m", "venv", str(env)])
    _run([str(env / "bin" / "python"), "-m", "pip", "install", "-q", "pictologics==0.9.0"])
    return env / "bin" / "python"


# ------------------------------------------------------------------------------ timing
def time_one(python: str, runner: str, image: Path, mask: Path, repeat: int, env: dict | None = None,
             setting: str = "ibsi-c") -> dict:
    runners = FILTERED_RUNNERS if setting == "filtered" else RUNNERS
    if runner not in runners:
        return {"error": f"no {setting} runner for {runner}"}
    setup = runners[runner]
    probe = subprocess.run([python, "-c", _PROBE.format(setup=setup), str(image), str(mask)],
                           capture_output=True, text=True, cwd=ROOT, env=env)
    if probe.returncode != 0:
        tail = probe.stderr.strip().splitlines()[-3:]
        return {"error": " | ".join(tail)}
    modules = probe.stdout.strip().splitlines()[-1]
    proc = subprocess.run([python, "-c", _TIMING.format(setup=setup), str(image), str(mask), str(repeat),
                           modules], capture_output=True, text=True, cwd=ROOT, env=env)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-3:]
        return {"error": " | ".join(tail)}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--peer-envs", type=Path, default=ROOT / "benchmarks" / ".envs",
                        help="folder holding (or receiving) the peer environments")
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--peers", nargs="*", default=["pyradiomics", "pictologics"],
                        choices=["pyradiomics", "pictologics"], help="peers to run (default: both)")
    parser.add_argument("--no-build", action="store_true", help="skip peers whose environment is missing")
    parser.add_argument("--setting", choices=["ibsi-c", "filtered"], default="ibsi-c",
                        help="ibsi-c: IBSI configuration C; filtered: C + LoG 1, 2, 3 mm + 8 coif1 sub-bands")
    parser.add_argument("--json", type=Path, help="also write every measurement to this JSON file")
    args = parser.parse_args()

    pythons = {"voxelomics": sys.executable}
    for key, name, build in (("pyrad", "pyradiomics", build_pyradiomics), ("picto", "pictologics", build_pictologics)):
        if name not in args.peers:
            continue
        py = _find_env(args.peer_envs, key)
        if py is None and not args.no_build:
            args.peer_envs.mkdir(parents=True, exist_ok=True)
            py = build(args.peer_envs)
        if py is not None:
            pythons[name] = str(py)

    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    nan = math.nan
    print(f"setting {args.setting}; min of {args.repeat} (median in []); CPU = user + sys of the measured "
          "process; working set = peak RSS - RSS once the extraction's modules are imported")
    head = (f"{'case':<16} {'ours_s':>8} {'pyrad_s':>8} {'picto_s':>8} {'pyrad/ours':>10} {'picto/ours':>10}"
            f" {'cpu/ours':>8} {'rss_ours':>8} {'rss_pyrad':>9} {'rss_picto':>9}"
            f" {'ws_ours':>7} {'ws_pyrad':>8} {'ws_picto':>8}")
    print(head)
    ratios, cpu_ratios, verdicts, record = [], [], [], {}
    for case in args.cases:
        image, mask = CASES[case]
        if not image.exists():
            print(f"{case:<16} missing {image}")
            continue
        res = {}
        for name, py in pythons.items():
            res[name] = time_one(py, name, image, mask, args.repeat, env if name == "voxelomics" else None,
                                 setting=args.setting)
        record[case] = res
        t = {k: (min(v["times"]) if "times" in v else nan) for k, v in res.items()}
        cpu = {k: (min(v["cpu"]) if "cpu" in v else nan) for k, v in res.items()}
        med = {k: (sorted(v["times"])[len(v["times"]) // 2] if "times" in v else nan) for k, v in res.items()}
        rss = {k: v.get("peak_rss_mib", nan) for k, v in res.items()}
        ws = {k: v.get("working_set_mib", nan) for k, v in res.items()}
        r_pyrad = t.get("pyradiomics", nan) / t["voxelomics"]
        r_picto = t.get("pictologics", nan) / t["voxelomics"]
        r_cpu = cpu.get("pyradiomics", nan) / cpu["voxelomics"]
        ratios.append(r_pyrad)
        cpu_ratios.append(r_cpu)
        verdicts.append((case, r_picto, rss["voxelomics"], rss.get("pyradiomics", nan), ws["voxelomics"],
                         ws.get("pyradiomics", nan)))
        print(f"{case:<16} {t['voxelomics']:8.3f} {t.get('pyradiomics', nan):8.3f} "
              f"{t.get('pictologics', nan):8.3f} {r_pyrad:10.2f} {r_picto:10.2f} {r_cpu:8.2f} "
              f"{rss['voxelomics']:8.0f} {rss.get('pyradiomics', nan):9.0f} {rss.get('pictologics', nan):9.0f}"
              f" {ws['voxelomics']:7.0f} {ws.get('pyradiomics', nan):8.0f} {ws.get('pictologics', nan):8.0f}"
              f"  [{med['voxelomics']:.3f} {med.get('pyradiomics', nan):.3f} {med.get('pictologics', nan):.3f}]")
        for name, v in res.items():
            if "error" in v:
                print(f"    {name} failed: {v['error']}")
        nf = {k: v.get("n_features") for k, v in res.items()}
        print(f"    n_features: {nf}")
        print("    cpu s (process time, min): " + ", ".join(f"{k} {v:.3f}" for k, v in cpu.items()))
    good_cpu = [r for r in cpu_ratios if r == r]
    if good_cpu:
        gm_cpu = math.exp(sum(math.log(r) for r in good_cpu) / len(good_cpu))
        print(f"geometric mean pyrad/ours in CPU time = {gm_cpu:.2f} (less load-dependent than wall time, not immune: "
              "memory-bound code slows down under load; ours may use 2+ threads)")
    good = [r for r in ratios if r == r]
    if good:
        gm = math.exp(sum(math.log(r) for r in good) / len(good))
        print(f"geometric mean pyrad/ours = {gm:.2f} (target >= 5; every case >= 3: "
              f"{'yes' if min(good) >= 3 else 'no'})")
    for case, rc, mo, mp, wo, wp in verdicts:
        print(f"  {case}: faster than pictologics: {'yes' if rc > 1 else 'no' if rc == rc else 'n/a'}; "
              f"peak RSS <= PyRadiomics: {'yes' if mo <= mp else 'no' if mp == mp else 'n/a'}; "
              f"working set <= PyRadiomics: {'yes' if wo <= wp else 'no' if wp == wp else 'n/a'}")
    if args.json:
        args.json.write_text(json.dumps({"setting": args.setting, "repeat": args.repeat, "cases": record}, indent=1))


if __name__ == "__main__":
    main()
