"""fp32 against bf16 autocast, one training step at a time, per model and input size, on this CPU.

The numbers behind `pick_precision`'s CPU rule (nbs/03_train.ipynb): models with depthwise convolutions stay in fp32.
Channels-last, fused AdamW, batch 128, 2 warm-up then 3 timed steps, random data. About a minute on 2 cores.
    PYTHONPATH=. python bench/precision.py
"""
import time, torch
from pathfast.core import hardware
from pathfast.models import backbone_model, PathCNN
from pathfast.train import cpu_has_bf16

def img_s(name:str, size:int, dtype:str, bs:int=128, warmup:int=2, steps:int=3)->float:
    torch.manual_seed(0)
    m = (PathCNN(2) if name == 'cnn' else backbone_model(name, 2, pretrained=False)[0]).to(memory_format=torch.channels_last)
    x, y = torch.randn(bs, 3, size, size).contiguous(memory_format=torch.channels_last), torch.randint(0, 2, (bs,))
    opt = torch.optim.AdamW(m.parameters(), fused=True)
    for i in range(warmup + steps):
        if i == warmup: t = time.perf_counter()
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=dtype == 'bf16'): loss = torch.nn.functional.cross_entropy(m(x), y)
        opt.zero_grad(); loss.backward(); opt.step()
    return steps * bs / (time.perf_counter() - t)

if __name__ == '__main__':
    hw = hardware('cpu')
    print(f"{hw['cpu']} x{hw['cpu_cores']}, torch threads {hw['torch_threads']}, bf16 instructions: {cpu_has_bf16()}\n")
    print('| model | px | fp32 img/s | bf16 img/s | bf16 / fp32 |\n|---|---:|---:|---:|---:|')
    for name, size in (('cnn', 28), ('resnet18', 28), ('resnet18', 64), ('efficientnet_lite0', 28), ('efficientnet_lite0', 64)):
        a, b = img_s(name, size, 'fp32'), img_s(name, size, 'bf16')
        print(f'| {name} | {size} | {a:.0f} | {b:.0f} | {b / a:.2f} |', flush=True)
