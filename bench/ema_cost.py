"""What the weight average (`train.EMAWeights`: timm's `ModelEmaV3`) costs: one update per optimizer step, and the swap of
the averaged weights in and the raw ones out once per epoch, for the custom CNN and ResNet-18 (2 classes), on the CPU.

    python bench/ema_cost.py
"""
import time, warnings
warnings.filterwarnings('ignore')
import torch
from timm.utils import ModelEmaV3
from torchvision.models import resnet18
from pathfast.core import hardware
from pathfast.models import PathCNN

print(hardware(torch.device('cpu')))
for name, m in [('PathCNN', PathCNN(2)), ('resnet18', resnet18(num_classes=2))]:
    ema = ModelEmaV3(m, decay=0.98)
    for _ in range(3): ema.update(m)  # warm-up
    t = time.perf_counter()
    for _ in range(50): ema.update(m)
    update = (time.perf_counter() - t) / 50
    t = time.perf_counter()
    for _ in range(10):  # as EMAWeights does before each validation and before the next training epoch
        raw = {k: v.detach().clone() for k, v in m.state_dict().items()}
        m.load_state_dict(ema.module.state_dict()); m.load_state_dict(raw)
    swap = (time.perf_counter() - t) / 10
    print(f"{name}: update {update * 1e3:.2f} ms per optimizer step, swap in and out {swap * 1e3:.1f} ms per epoch")
