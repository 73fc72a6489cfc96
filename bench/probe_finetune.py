"""How long is an epoch of a fine-tune? pathfast's epoch-time probe (`train.epoch_seconds`) with the pretrained body frozen
and unfrozen, on the real PneumoniaMNIST (28 px, all 4,708 training images, bs 128, resized to 64 px on the device as the
default grid does). A fine-tune trains one epoch frozen and the rest unfrozen, so the budget must be planned from the
unfrozen time (`train_run` probes unfrozen).

    python bench/probe_finetune.py --data-dir ../shared/data [--model efficientnet_lite0]
"""
import argparse, warnings
warnings.filterwarnings('ignore')
import torch
from pathfast.core import Config, hardware
from pathfast.data import load_medmnist, get_dls
from pathfast.train import RunSpec, make_learner, epoch_seconds, speed_cbs, pick_precision, ResizeBatch

p = argparse.ArgumentParser()
p.add_argument('--data-dir', default='../shared/data'); p.add_argument('--model', default='efficientnet_lite0')
a = p.parse_args()
dev = torch.device('cpu')
dls = get_dls(load_medmnist('pneumoniamnist', 28, a.data_dir), 128, False, dev, 'upright', seed=42)
learn = make_learner(RunSpec(a.model, True, False), dls, Config(dataset='pneumoniamnist', size=28, device='cpu'))
precision = pick_precision(dev, 'auto', learn.model)
learn.add_cbs([ResizeBatch(64), *speed_cbs(dev, precision)])
frozen = epoch_seconds(learn)
learn.unfreeze()
unfrozen = epoch_seconds(learn)
print(f"{hardware(dev)}; {a.model}, {precision}, 64 px, bs 128")
print(f"one epoch, timed by the probe: frozen body {frozen:.1f} s, unfrozen {unfrozen:.1f} s ({unfrozen / frozen:.2f}x)")
