"""How long does `models.check_input` (a backbone takes the run's input size, checked before any training) take?

Times `check_input` for backbones that pass (built on PyTorch's meta device; RegNets, which cannot be built there, on the
CPU) and for refusals (DenseNet at 28 px, named a size that runs; Inception v3, which runs at no size). Best of
`--repeats`; prints a markdown table with the CPU and whether it has bf16 instructions.
    python bench/check_input.py [--repeats 3] [--out bench/results/check-input-cpu.md]
"""
import argparse, os, time, warnings
warnings.filterwarnings('ignore')
import torch
from pathfast.core import PathfastError, hardware
from pathfast.models import check_input
from pathfast.train import cpu_has_bf16

p = argparse.ArgumentParser()
p.add_argument('--repeats', type=int, default=3); p.add_argument('--out', default=None)
a = p.parse_args()
CASES = [('resnet18', 64), ('efficientnet_lite0', 64), ('convnext_large', 64), ('efficientnet_b7', 64), ('timm/convnext_tiny', 64),
         ('regnet_y_16gf', 64), ('regnet_y_128gf', 64), ('densenet121', 28), ('timm/vit_small_patch16_224', 64), ('inception_v3', 64)]
rows = []
for key, size in CASES:
    ts, said = [], 'passes'
    for _ in range(a.repeats):
        t = time.perf_counter()
        try: check_input(key, size)
        except PathfastError as e: said = str(e).split(' (')[0] + ': ' + str(e).rsplit('; ', 1)[-1]
        ts.append(time.perf_counter() - t)
    rows.append(f"| {key} | {size} | {min(ts):.2f} | {said} |")
    print(rows[-1], flush=True)
hw = hardware(torch.device('cpu'))
head = (f"# `models.check_input` on a CPU (`python bench/check_input.py`)\n\n{hw.get('cpu', 'CPU')} (torch threads {torch.get_num_threads()}), "
        f"bf16 instructions: {cpu_has_bf16()}; torch {torch.__version__}; load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}; "
        f"best of {a.repeats}\n\n| backbone | input px | seconds | outcome |\n|---|---:|---:|---|\n")
text = head + '\n'.join(rows) + '\n'
print(text)
if a.out: open(a.out, 'w').write(text)
