"""Where a CPU training step of ResNet-18 goes, and what pathfast's two step-level CPU levers change (a script, not a test).

    python bench/step_parts.py

ResNet-18 as `vision_learner` builds it (9 classes, random init), 64 px, batch 128, fp32, channels-last, pathfast's
allocator setting. Prints the median of `--repeats` timings of: each 3x3 convolution shape that runs on a map smaller than
its kernel (forward and backward through oneDNN, then through `dense_conv`); the optimizer step (fastai's `Adam` against
pathfast's fused `adamw`); and a whole training step with the stock convolutions and with `SmallConv2d`.
"""
import argparse, statistics, sys, time, warnings
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
warnings.filterwarnings('ignore')

def median_ms(fn, repeats:int, warmup:int=2)->float:
    for _ in range(warmup): fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return 1000 * statistics.median(ts)

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--repeats', type=int, default=7)
    a = p.parse_args()
    import torch, torch.nn.functional as F
    from torchvision.models import resnet18
    from fastai.vision.all import create_vision_model, Adam
    from pathfast.models import adamw
    from pathfast.train import tune_malloc, dense_conv, use_small_convs
    tune_malloc(); torch.manual_seed(0)
    cl = torch.channels_last
    print(f"torch threads {torch.get_num_threads()}; ResNet-18, 64 px, batch 128, fp32, channels-last; median of {a.repeats}")

    print("\n3x3 convolutions on maps smaller than the kernel (ms, forward / backward):")
    x = torch.randn(128, 512, 2, 2).contiguous(memory_format=cl).requires_grad_()  # layer4's maps at 64 px
    w = torch.randn(512, 512, 3, 3).contiguous(memory_format=cl).requires_grad_()
    for name, conv in (('oneDNN', lambda: F.conv2d(x, w, padding=1)), ('dense_conv', lambda: dense_conv(x, w, None, (1, 1), (1, 1)))):
        g = torch.ones_like(conv())
        f = median_ms(conv, a.repeats)
        b = median_ms(lambda: torch.autograd.grad(conv(), (x, w), g), a.repeats) - f
        print(f"  512->512 on 2x2, {name:>10}: {f:6.1f} / {b:6.1f}  (backward {b / f:.1f}x forward)")

    m = create_vision_model(resnet18, 9, pretrained=False).to(memory_format=cl)
    xb, yb = torch.randn(128, 3, 64, 64).contiguous(memory_format=cl), torch.randint(0, 9, (128,))
    def fwd_bwd():
        m.zero_grad(set_to_none=False)
        F.cross_entropy(m(xb), yb).backward()
    fwd_bwd()
    print("\nOptimizer step on ResNet-18's parameters (ms):")
    for name, opt in (("fastai Adam", Adam(list(m.parameters()), lr=1e-3)), ("pathfast adamw", adamw(list(m.parameters()), lr=1e-3))):
        print(f"  {name:>14}: {median_ms(opt.step, a.repeats):6.1f}")

    print("\nWhole training step, fused AdamW (ms; images/s):")
    opt = adamw(list(m.parameters()), lr=1e-3)
    def step(): fwd_bwd(); opt.step()
    for name in ('stock convolutions', 'SmallConv2d'):
        if name == 'SmallConv2d': use_small_convs(m)
        ms = median_ms(step, a.repeats)
        print(f"  {name:>18}: {ms:7.1f}; {128 / ms * 1000:6.1f}")

if __name__ == '__main__': main()
