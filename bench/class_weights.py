"""Should the loss weight the classes by their rarity? Judged on the VALIDATION split only.

PneumoniaMNIST's training split is 74% pneumonia. A loss that weights each class by n / (k * n_class) (scikit-learn's
'balanced') counts both classes alike. This script trains the custom CNN (default budget, settings and weight average)
with plain and with class-weighted cross-entropy, with and without augmentation, for seeds 42, 43, 44, and prints the
validation accuracy, balanced accuracy, loss and AUC of the weights pathfast would test. The test split is not printed.

Decision rule, written before the first run: class weighting becomes the default only if, for cnn-aug (the default
experiment's best run), its 3-seed mean validation balanced accuracy is higher by more than the larger of the two
settings' seed sd AND its mean validation accuracy is not lower by more than that sd. Otherwise it is not adopted.

    python bench/class_weights.py --data-dir ../shared/data --out bench/results/class-weights-pneumoniamnist-28.md
"""
import argparse, time, warnings
warnings.filterwarnings('ignore')
from pathlib import Path
import numpy as np, torch
from fastai.vision.all import Callback, CrossEntropyLossFlat
from sklearn.metrics import balanced_accuracy_score
from medmnist.evaluator import getAUC
from pathfast.core import Config
from pathfast.data import load_medmnist
from pathfast.train import RunSpec, train_run, cpu_has_bf16
from convergence import Grab, tested_valid

class Balanced(Callback):
    "Swap the learner's loss for cross-entropy weighted n / (k * n_class), from the training labels"
    order = -10
    def __init__(self, labels):
        counts = np.bincount(labels, minlength=labels.max() + 1)
        self.w = torch.tensor(len(labels) / (len(counts) * counts), dtype=torch.float32)
    def before_fit(self): self.learn.loss_func = CrossEntropyLossFlat(weight=self.w)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data-dir', default='../shared/data'); ap.add_argument('--out', default=None)
    ap.add_argument('--seeds', default='42,43,44'); ap.add_argument('--aug', default='on,off')
    a = ap.parse_args()
    data = load_medmnist('pneumoniamnist', 28, a.data_dir)
    ytr = np.asarray(data.splits['train'][1]).reshape(-1)
    lines = [f"CPU bf16: {cpu_has_bf16()}, torch threads {torch.get_num_threads()}, training labels {np.bincount(ytr).tolist()}",
             '| aug | loss | seed | epochs | best epoch | valid acc | valid balanced acc | valid loss (plain CE) | valid AUC | train s |',
             '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|']
    print('\n'.join(lines), flush=True)
    for aug in a.aug.split(','):
        for seed in map(int, a.seeds.split(',')):
            for how in ('plain', 'balanced'):
                cfg = Config(dataset='pneumoniamnist', size=28, pretrained=False, device='cpu', seed=seed)
                t = time.time()
                r = train_run(data, RunSpec('cnn', False, aug == 'on'), cfg, cbs=[Grab(), *([Balanced(ytr)] if how == 'balanced' else [])])
                p, y, ce = tested_valid(Grab.learner)
                row = (f"| {aug} | {how} | {seed} | {r.epochs} | {r.best_epoch} | {(p.argmax(1) == y).mean():.4f} | "
                       f"{balanced_accuracy_score(y, p.argmax(1)):.4f} | {ce:.4f} | {getAUC(y, p, data.task):.4f} | {time.time() - t:.0f} |")
                lines.append(row); print(row, flush=True)
                if a.out: Path(a.out).write_text('\n'.join(lines) + '\n')

if __name__ == '__main__': main()
