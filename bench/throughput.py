"""Throughput benchmark: fae_book's training loop against a plain PyTorch loop, and importance sampling,
each also as a fraction of this machine's own float32 matmul throughput, all measured in one run.

    python bench/throughput.py [--batches 150] [--repeats 3] [--out bench/results.json]

Ratios, not seconds, are the result: the machines are shared and noisy, so the contenders are timed
alternately, `--repeats` times each, and the medians compared.
"""
import argparse, json, math, platform, statistics, time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

import fae_book
from fae_book.data import load_dataset
from fae_book.evaluation import importance_sampled_nll
from fae_book.models import build_vae
from fae_book.objectives import ELBOObjective
from fae_book.training import train_epoch


def matmul_gflops(m, k, n, seconds=1.0):
    "float32 GFLOP/s of (m x k) @ (k x n) products, repeated for about `seconds`."
    a, b = torch.randn(m, k), torch.randn(k, n)
    for _ in range(3): a @ b
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(10): a @ b
        reps += 10
    return 2 * m * k * n * reps / (time.perf_counter() - t0) / 1e9


def linear_weights(module):
    "Multiply-adds per row of the Linear layers in `module` (= weight entries)."
    return sum(m.weight.numel() for m in module.modules() if isinstance(m, nn.Linear))


def plain_mlp(d_in, d_out, depth=5, width=300):
    layers, d = [], d_in
    for _ in range(depth): layers += [nn.Linear(d, width), nn.ReLU()]; d = width
    return nn.Sequential(*layers, nn.Linear(d, d_out))


def plain_loop(x, batches, batch_size, z_dim=40):
    "The same 5x300 VAE and ELBO written as a bare PyTorch loop; returns samples/s."
    torch.manual_seed(0)
    enc, dec = plain_mlp(x.shape[1], 2 * z_dim), plain_mlp(z_dim, x.shape[1])
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=1e-3)
    perm = torch.randperm(len(x))
    t0 = time.perf_counter()
    for i in range(batches):
        xb = x[perm[i * batch_size:(i + 1) * batch_size]]
        mu, log_var = enc(xb).chunk(2, dim=-1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * log_var)
        rec = -F.binary_cross_entropy_with_logits(dec(z), xb, reduction="none").sum(-1)
        kl = -0.5 * (1 + log_var - mu.pow(2) - log_var.exp()).sum(-1)
        loss = -(rec - kl).mean()
        opt.zero_grad(); loss.backward(); opt.step()
    return batches * batch_size / (time.perf_counter() - t0)


def book_loop(x, batches, batch_size, z_dim=40):
    "fae_book's `train_epoch` with `build_vae` and the ELBO objective on the same batches; returns samples/s."
    torch.manual_seed(0)
    model, objective = build_vae(x.shape[1], z_dim), ELBOObjective()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    perm = torch.randperm(len(x))
    data = (x[perm[i * batch_size:(i + 1) * batch_size]] for i in range(batches))
    t0 = time.perf_counter()
    train_epoch(model, objective, opt, data, 1.0, torch.device("cpu"))
    return batches * batch_size / (time.perf_counter() - t0)


def is_throughput(x, n_images, k):
    "Importance samples per second of `importance_sampled_nll` on a 5x300 VAE."
    torch.manual_seed(0)
    model = build_vae(x.shape[1], 40)
    t0 = time.perf_counter()
    importance_sampled_nll(model, x[:n_images], k=k)
    return n_images * k / (time.perf_counter() - t0)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batches", type=int, default=150, help="training batches per timing (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=100, help="training batch size (default: %(default)s)")
    p.add_argument("--is-images", type=int, default=100, help="images for the IS timing (default: %(default)s)")
    p.add_argument("--k", type=int, default=500, help="importance samples per image (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=3, help="alternating repetitions (default: %(default)s)")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    a = p.parse_args()

    x = load_dataset("binarized_mnist").train
    model = build_vae(784, 40)
    w_enc, w_dec = linear_weights(model.encoder), linear_weights(model.decoder)
    train_flop = 6 * (w_enc + w_dec)          # forward 2, backward 4 flops per weight and sample
    is_flop = 2 * w_dec + 2 * w_enc / a.k      # decoder per sample; the encoder runs once per image

    runs = {"matmul_peak": [], "matmul_layer": [], "plain": [], "book": [], "is": []}
    book_loop(x, 10, a.batch_size); plain_loop(x, 10, a.batch_size)                    # warm-up
    for _ in range(a.repeats):
        runs["matmul_peak"].append(matmul_gflops(2048, 2048, 2048))
        runs["matmul_layer"].append(matmul_gflops(a.batch_size, 300, 300))
        runs["plain"].append(plain_loop(x, a.batches, a.batch_size))
        runs["book"].append(book_loop(x, a.batches, a.batch_size))
        runs["is"].append(is_throughput(x, a.is_images, a.k))
    med = {k: statistics.median(v) for k, v in runs.items()}
    res = dict(
        machine=dict(platform=platform.platform(), processor=platform.processor(), threads=torch.get_num_threads(),
                     torch=torch.__version__, fae_book=fae_book.__version__),
        settings=vars(a), flop_per_train_sample=train_flop, flop_per_importance_sample=is_flop,
        matmul_gflops_2048=med["matmul_peak"], matmul_gflops_layer_shape=med["matmul_layer"],
        plain_loop_samples_per_s=med["plain"], book_loop_samples_per_s=med["book"],
        book_over_plain=med["book"] / med["plain"],
        book_train_fraction_of_matmul_peak=med["book"] * train_flop / 1e9 / med["matmul_peak"],
        book_train_fraction_of_layer_matmul=med["book"] * train_flop / 1e9 / med["matmul_layer"],
        importance_samples_per_s=med["is"],
        is_fraction_of_matmul_peak=med["is"] * is_flop / 1e9 / med["matmul_peak"],
        raw=runs)
    print(f"machine: {res['machine']['processor'] or res['machine']['platform']}, {res['machine']['threads']} threads, torch {torch.__version__}")
    print(f"float32 matmul: {med['matmul_peak']:.1f} GFLOP/s at 2048^3, {med['matmul_layer']:.1f} GFLOP/s at the layer shape ({a.batch_size}x300x300)")
    print(f"training, plain PyTorch loop : {med['plain']:9.0f} samples/s")
    print(f"training, fae_book train_epoch: {med['book']:9.0f} samples/s = {res['book_over_plain']:.3f} x plain (target >= 0.90)")
    print(f"  = {res['book_train_fraction_of_matmul_peak']:.1%} of the 2048^3 matmul peak, "
          f"{res['book_train_fraction_of_layer_matmul']:.1%} of matmul at the layer shape (target >= 50%)")
    print(f"importance sampling: {med['is']:9.0f} samples/s = {res['is_fraction_of_matmul_peak']:.1%} of the matmul peak (target >= 50%)")
    if a.out:
        Path(a.out).write_text(json.dumps(res, indent=1))
        print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
