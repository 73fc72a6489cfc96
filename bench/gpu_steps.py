"""Per-step time of the custom CNN on a GPU: a plain PyTorch loop (the ceiling: one slice of the tensor per step, bf16
autocast, channels-last, fused AdamW) against pathfast's fastai learner timed by its epoch-time probe, without and with
augmentation; real PneumoniaMNIST, 28 px, bs 128. Prints; writes nothing. Results: bench/results/gpu-h100-pneumoniamnist-28.md.

    DATA_DIR=../shared/data python bench/gpu_steps.py         # DEV=cpu N=3 for a quick check of the script without a GPU
"""
import os, time, torch, torch.nn.functional as F
from pathfast.core import Config
from pathfast.data import load_medmnist, get_dls
from pathfast.models import PathCNN
from pathfast.train import RunSpec, make_learner, speed_cbs, epoch_seconds
dev = torch.device(os.environ.get('DEV', 'cuda')); N = int(os.environ.get('N', 300)); data = load_medmnist('pneumoniamnist', 28, os.environ.get('DATA_DIR', '../shared/data'))
x, y = data.splits['train']
n = len(y) // 128 * 128  # the whole batches (4,608 images)
x, y = x.to(dev).permute(0, 3, 1, 2).contiguous(), y.to(dev)
m = PathCNN(2).to(dev).to(memory_format=torch.channels_last)
opt = torch.optim.AdamW(m.parameters(), 3e-3, fused=True)
mean = torch.tensor([.485, .456, .406], device=dev).view(1, 3, 1, 1); std = torch.tensor([.229, .224, .225], device=dev).view(1, 3, 1, 1)
def sync():
    if dev.type == 'cuda': torch.cuda.synchronize()
def step(i):
    b = x[(i * 128) % n:(i * 128) % n + 128].float().div(255).expand(-1, 3, -1, -1)
    b = ((b - mean) / std).contiguous(memory_format=torch.channels_last)
    with torch.autocast(dev.type, torch.bfloat16): loss = F.cross_entropy(m(b), y[(i * 128) % n:(i * 128) % n + 128])
    opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
for i in range(30): step(i)
sync(); t = time.perf_counter()
for i in range(N): step(i)
sync(); print(f"plain PyTorch loop: {(time.perf_counter() - t) / N * 1000:.2f} ms per step")
for aug in (False, True):
    dls = get_dls(data, 128, aug, dev, 'upright', seed=42)
    learn = make_learner(RunSpec('cnn', False, aug), dls, Config(dataset='pneumoniamnist', size=28))
    learn.add_cbs(speed_cbs(dev, 'bf16'))
    for k in range(3 if dev.type == 'cuda' else 1):
        e = epoch_seconds(learn, 3, 20, 2. if dev.type == 'cuda' else .1)
        print(f"pathfast learner, aug {aug}: {e / (len(dls.train) + len(dls.valid) / 3) * 1000:.2f} ms per step (probe, try {k})", flush=True)
