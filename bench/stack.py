"""Stacked training throughput: model-samples/s of fae_book's `Stack` for stacks of M paper-size models (5x300 MLP
VAE, z = 40, batch 100) against a lean hand-written single-model float32 loop, with the machine's matmul peak, all
measured in one run.

    python bench/stack.py [--steps 60] [--repeats 3] [--sizes 1 5 15] [--out bench/stack_results.json]

Ratios, not seconds, are the result: the machines are shared and noisy, so the contenders are timed alternately,
`--repeats` times each, and the medians compared. "M separate runs" train one model after another, so their
model-samples/s is the stack-of-one figure; the stack beats them when its per-model-sample rate is higher.
`train_epoch_from_metrics` is a whole `train` epoch of one model (10 000 images, then validation on 1000), its
rate read from the `seconds` that `metrics.jsonl` records, as it would be read off any stored run.
`lean_stack{M}` is the same stack written bare (weights (M, in, out), `baddbmm`, fused Adam): it separates what the
machine allows a stack of M (lean_stack / lean) from what fae_book's `Stack` loses to its generality (stack / lean_stack).
bfloat16 training is measured only where `bfloat16_supported` says the hardware multiplies it; elsewhere only a
512^3 bfloat16 product is timed, to show what emulation costs.
"""
import argparse, json, platform, statistics, time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

import fae_book
from fae_book.data import load_dataset
from fae_book.training import Member, Stack, TrainConfig, bfloat16_supported, build_run


def sync(device):
    if device.type == "cuda": torch.cuda.synchronize()


def matmul_gflops(device, dtype, n=2048, seconds=1.0):
    "GFLOP/s of n x n x n products in `dtype`, repeated for about `seconds`."
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3): a @ b
    sync(device); reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(10): a @ b
        sync(device); reps += 10
    return 2 * n ** 3 * reps / (time.perf_counter() - t0) / 1e9


def lean_loop(x, steps, device, batch=100, z_dim=40):
    "The paper's VAE as a bare loop: nn.Linear layers (addmm), BCE with logits, closed-form KL, fused Adam; samples/s."
    def mlp(d_in, d_out):
        layers, d = [], d_in
        for _ in range(5): layers += [nn.Linear(d, 300), nn.ReLU()]; d = 300
        return nn.Sequential(*layers, nn.Linear(d, d_out)).to(device)
    torch.manual_seed(0)
    enc, dec = mlp(x.shape[1], 2 * z_dim), mlp(z_dim, x.shape[1])
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=1e-3, fused=True)
    perm = torch.randperm(len(x), device=device)
    sync(device); t0 = time.perf_counter()
    for i in range(steps):
        xb = x[perm[(i * batch) % (len(x) - batch):][:batch]]
        mu, log_var = enc(xb).chunk(2, dim=-1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * log_var)
        rec = -F.binary_cross_entropy_with_logits(dec(z), xb, reduction="none").sum(-1)
        kl = -0.5 * (1 + log_var - mu.pow(2) - log_var.exp()).sum(-1)
        loss = -(rec - kl).mean()
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
    sync(device)
    return steps * batch / (time.perf_counter() - t0)


def lean_stack_loop(x, steps, device, m, precision, batch=100, z_dim=40):
    """M paper VAEs as a bare stacked loop: weights (M, in, out) multiplied by `baddbmm`, fused Adam, bfloat16 autocast for the
    products when asked; model-samples/s. What a stack can reach on this machine without any library around it."""
    torch.manual_seed(0)
    def mlp_params(d_in, d_out):
        dims = [d_in] + [300] * 5 + [d_out]
        return ([(torch.randn(m, a, b, device=device) / a ** 0.5).requires_grad_() for a, b in zip(dims[:-1], dims[1:])],
                [torch.zeros(m, 1, b, device=device, requires_grad=True) for b in dims[1:]])
    def mlp(h, weights, biases):
        for i, (w, b) in enumerate(zip(weights, biases)):
            h = torch.baddbmm(b, h, w)
            if i < len(weights) - 1: h = torch.relu(h)
        return h.float()
    (we, be), (wd, bd) = mlp_params(x.shape[1], 2 * z_dim), mlp_params(z_dim, x.shape[1])
    opt = torch.optim.Adam([*we, *be, *wd, *bd], lr=1e-3, fused=True)
    perms = [torch.randperm(len(x), device=device) for _ in range(m)]
    sync(device); t0 = time.perf_counter()
    for i in range(steps):
        j = (i * batch) % (len(x) - batch)
        xb = torch.stack([x[p[j:j + batch]] for p in perms])
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bfloat16"):
            mu, log_var = mlp(xb, we, be).chunk(2, dim=-1)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * log_var)
            logits = mlp(z, wd, bd)
        rec = -F.binary_cross_entropy_with_logits(logits, xb, reduction="none").sum(-1)
        kl = -0.5 * (1 + log_var - mu.pow(2) - log_var.exp()).sum(-1)
        loss = -(rec - kl).mean(-1).sum()
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
    sync(device)
    return m * steps * batch / (time.perf_counter() - t0)


def stack_loop(x, steps, device, m, precision, batch=100):
    "fae_book's `Stack.step` on M VAE members (seeds 0..M-1), each on its own batches; model-samples/s."
    members = [Member(*build_run(TrainConfig(seed=s, device=str(device)), x.shape[1], device)) for s in range(m)]
    stack = Stack(members, device, 1e-3, precision)
    w = torch.ones(m, device=device)
    perms = [torch.randperm(len(x), device=device) for _ in range(m)]
    sync(device); t0 = time.perf_counter()
    for i in range(steps):
        j = (i * batch) % (len(x) - batch)
        xb = torch.stack([x[p[j:j + batch]] for p in perms])
        stack.step(xb, {"posterior": torch.randn(m, batch, 40, device=device)}, w)
    sync(device)
    return m * steps * batch / (time.perf_counter() - t0)


def trainer_epoch(device, n_train=10_000, n_valid=1000):
    "`fae_book.training.train` for one epoch on `n_train` images; model-samples/s read back from its metrics.jsonl (validation included)."
    import tempfile
    from fae_book.training import read_metrics, train
    with tempfile.TemporaryDirectory() as d:
        train(TrainConfig(n_train=n_train, n_valid=n_valid, max_epochs=1, device=str(device)), d, progress=False)
        return n_train / read_metrics(d)[-1]["seconds"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=60, help="Adam steps per timing (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=3, help="alternating repetitions (default: %(default)s)")
    p.add_argument("--sizes", type=int, nargs="+", default=[1, 5, 15], help="stack sizes M (default: %(default)s)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default: %(default)s)")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    a = p.parse_args()
    device = torch.device("cuda" if a.device == "auto" and torch.cuda.is_available() else "cpu" if a.device == "auto" else a.device)
    x = load_dataset("binarized_mnist").train.to(device)
    precisions = ["float32"] + (["bfloat16"] if bfloat16_supported(device) else [])
    contenders = {"lean_float32": lambda s: lean_loop(x, s, device), "train_epoch_from_metrics": lambda s: trainer_epoch(device)}
    for prec in precisions:
        for m in a.sizes: contenders[f"stack{m}_{prec}"] = lambda s, m=m, prec=prec: stack_loop(x, s, device, m, prec)
        for m in a.sizes: contenders[f"lean_stack{m}_{prec}"] = lambda s, m=m, prec=prec: lean_stack_loop(x, s, device, m, prec)
    for f in contenders.values(): f(5)                                                   # warm-up
    runs = {k: [] for k in ["matmul_float32", "matmul_bfloat16"] + list(contenders)}
    for _ in range(a.repeats):
        runs["matmul_float32"].append(matmul_gflops(device, torch.float32))
        runs["matmul_bfloat16"].append(matmul_gflops(device, torch.bfloat16, n=2048 if "bfloat16" in precisions else 512))
        for k, f in contenders.items(): runs[k].append(f(a.steps))
    med = {k: statistics.median(v) for k, v in runs.items()}
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    res = dict(machine=dict(device=str(device), device_name=name, platform=platform.platform(), threads=torch.get_num_threads(),
                            cpu_capability=torch.backends.cpu.get_cpu_capability(), bfloat16_hardware=bfloat16_supported(device),
                            torch=torch.__version__, fae_book=fae_book.__version__),
               settings=vars(a), medians=med,
               ratios={k: med[k] / med["lean_float32"] for k in contenders if k != "lean_float32"},
               stack_over_lean_stack={f"stack{m}_{prec}": med[f"stack{m}_{prec}"] / med[f"lean_stack{m}_{prec}"]
                                      for prec in precisions for m in a.sizes}, raw=runs)
    print(f"device: {name} ({device}), {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"bfloat16 in hardware: {bfloat16_supported(device)}")
    for k in runs:
        if k.startswith("matmul"): print(f"{k:22s} {med[k]:10.1f} GFLOP/s" + (" (512^3: emulated)" if k.endswith("bfloat16") and "bfloat16" not in precisions else " (2048^3)"))
    print(f"{'lean_float32':22s} {med['lean_float32']:10.0f} samples/s")
    for k, r in res["ratios"].items(): print(f"{k:24s} {med[k]:10.0f} model-samples/s = {r:.2f} x lean")
    for k, r in res["stack_over_lean_stack"].items(): print(f"{k:24s} {r:10.2f} x the bare stack of the same size")
    if a.out:
        Path(a.out).write_text(json.dumps(res, indent=1))
        print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
