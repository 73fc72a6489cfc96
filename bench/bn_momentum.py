"""EfficientNet-Lite0's batch-norm momentum, chosen on the validation split of the real PneumoniaMNIST.

The efficientnet-lite-pytorch port keeps TensorFlow's momentum (0.99, PyTorch's `momentum=0.01`); `LiteBody` sets
PyTorch's 0.1. This trains Lite0 (64 px, 8 epochs, fp32 on a CPU) with each momentum given, from ImageNet weights
with augmentation (as the resize measurement) and from random weights without it, and prints the validation accuracy
and loss per epoch. The test split is evaluated by `train_run` but neither printed nor read. About 3 min per run on 2 cores.
    PYTHONPATH=. python bench/bn_momentum.py [--momenta 0.01,0.1]
"""
import argparse, json
from pathlib import Path
from torch import nn
from fastai.vision.all import Callback
from pathfast.core import Config
from pathfast.data import load_npz, class_names
from pathfast.train import RunSpec, train_run

class Momentum(Callback):
    "Set every BatchNorm2d's momentum when the fit starts"
    def __init__(self, mom:float): self.mom = mom
    def before_fit(self):
        for m in self.model.modules():
            if isinstance(m, nn.BatchNorm2d): m.momentum = self.mom

p = argparse.ArgumentParser()
p.add_argument('--momenta', default='0.01,0.1')
p.add_argument('--npz', default=str(Path(__file__).parent.parent.parent/'shared/data/pneumoniamnist.npz'))
a = p.parse_args()
data = load_npz(a.npz, class_names('pneumoniamnist'), flag='pneumoniamnist', size=28)
for pretrained, augment in ((True, True), (False, False)):
    for mom in map(float, a.momenta.split(',')):
        cfg = Config(dataset='pneumoniamnist', size=28, models=['efficientnet_lite0' if pretrained else 'efficientnet_lite0:scratch'],
                     epochs=8, resize=64, device='cpu')
        r = train_run(data, RunSpec('efficientnet_lite0', pretrained, augment), cfg, cbs=[Momentum(mom)])
        print(json.dumps(dict(pretrained=pretrained, augment=augment, bn_momentum=mom, precision=r.precision,
                              valid_acc=[round(h['accuracy'], 3) for h in r.history],
                              valid_loss=[round(h['valid_loss'], 3) for h in r.history])), flush=True)
