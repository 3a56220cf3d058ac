"""Training and inference throughput of the deep networks on 64^3 crops, CPU and (when present) GPU.

For each device (the CPU, and CUDA when torch sees it) and each network (``small_cnn`` with
width 8, MONAI's ``densenet121``), on random 2-channel crops of 64 x 64 x 64 voxels:

* training samples/s: forward, binary cross-entropy, backward and AdamW step, as in
  :func:`voxelomics.deep.train.train_net` (mixed precision on CUDA);
* inference cases/s: forward in evaluation mode without gradients.

A few warm-up steps are not timed; CUDA is synchronised before every clock reading. The figures
are throughput of the network alone (the crops are in memory; reading and augmentation cost
extra, see ``deep_cohort.py``).

Run::

    PYTHONPATH=src python benchmarks/deep_gpu.py            # CPU (and GPU when present)
    PYTHONPATH=src python benchmarks/deep_gpu.py --steps 20 # longer, steadier figures
"""

from __future__ import annotations

import argparse
import os
import time


def _sync(device):
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def measure(arch: str, device, *, batch: int, steps: int, size: int = 64, warmup: int = 2) -> dict:
    """Training samples/s and inference cases/s of one network on one device."""
    import torch

    from voxelomics.deep.config import NetSettings
    from voxelomics.deep.nets import build_net

    torch.manual_seed(0)
    net = build_net(NetSettings(arch=arch, width=8), 2, 1).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    x = torch.rand(batch, 2, size, size, size, device=device)
    y = (torch.rand(batch, device=device) > 0.5).float()
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def train_step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
            out = net(x)
        loss = loss_fn(out[:, 0].float(), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    net.train()
    for _ in range(warmup):
        train_step()
    _sync(device)
    t = time.perf_counter()
    for _ in range(steps):
        train_step()
    _sync(device)
    train = batch * steps / (time.perf_counter() - t)
    net.eval()
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.float16, enabled=amp):
        for _ in range(warmup):
            net(x)
        _sync(device)
        t = time.perf_counter()
        for _ in range(steps):
            net(x)
        _sync(device)
    infer = batch * steps / (time.perf_counter() - t)
    n_params = sum(p.numel() for p in net.parameters())
    return {"arch": arch, "device": str(device), "batch": batch, "params": n_params,
            "train_samples_per_s": train, "inference_cases_per_s": infer}


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=3, help="timed steps per measurement")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--cpu-only", action="store_true")
    args = ap.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    devices = [torch.device("cpu")]
    if torch.cuda.is_available() and not args.cpu_only:
        devices.append(torch.device("cuda"))
    rows = []
    for device in devices:
        gpu = device.type == "cuda"
        for arch, batch in (("small_cnn", 32 if gpu else 8), ("densenet121", 16 if gpu else 2)):
            steps = args.steps * (10 if gpu else 1)
            rows.append(measure(arch, device, batch=batch, steps=steps, warmup=2 if gpu else 1))
            r = rows[-1]
            print(f"{r['device']:<5} {r['arch']:<12} params {r['params'] / 1e6:6.2f} M  batch {r['batch']:>3}  "
                  f"train {r['train_samples_per_s']:8.3g} samples/s  inference {r['inference_cases_per_s']:8.3g} cases/s",
                  flush=True)
    name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    print(f"64^3 crops, 2 channels; torch {torch.__version__}, CPU threads {torch.get_num_threads()} "
          f"of {os.cpu_count()} cores, load {'/'.join(f'{v:.1f}' for v in os.getloadavg())}, GPU: {name}")
    return rows


if __name__ == "__main__":
    main()
