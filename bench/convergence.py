"""Choose the training defaults on the VALIDATION split: budget (optimizer steps), augmentation policy, label smoothing, TTA.

Each line trains one run of pathfast on the real PneumoniaMNIST (28 px, all 4,708 training images) and prints the
validation accuracy, loss and AUC of the weights pathfast would test (the best epoch by validation loss), with and without
test-time augmentation on the validation images. The test split is never read for the choice (train_run evaluates it,
but this script does not print it).

    python bench/convergence.py --data-dir ../shared/data --out bench/results/convergence-pneumoniamnist-28.md
    python bench/convergence.py --only small    # the 500-image budget check: the default budget against 5x it (custom CNN, no time cap)
    python bench/convergence.py --only small-cnnaug    # the same, with augmentation only
"""
import argparse, warnings
warnings.filterwarnings('ignore')
from pathlib import Path
import torch
from fastai.vision.all import Callback, ProgressCallback, MixUp, CutMix
from medmnist.evaluator import getAUC
from pathfast.core import Config
from pathfast.data import load_medmnist, subset, batch_tfms
from pathfast.train import RunSpec, train_run, cpu_has_bf16

class Grab(Callback):
    "Keep a reference to the learner, to score the validation split with the tested (best) weights afterwards"
    def before_fit(self): self.__class__.learner = self.learn

def cross_entropy(p, y)->float:
    "The plain cross-entropy of class probabilities `p` against class indices `y` (numpy)"
    return float(torch.nn.functional.nll_loss(torch.log(torch.from_numpy(p).clamp_min(1e-12)), torch.from_numpy(y)))

def tested_valid(learn):
    "The validation split's class probabilities and labels (numpy) from the weights the run tests, and their plain cross-entropy"
    learn.remove_cbs([c for c in learn.cbs if type(c).__name__ in ('History', 'PathfastProgress')])
    p, y = learn.get_preds(dl=learn.dls.valid)
    p, y = p.float().numpy(), y.numpy()
    return p, y, cross_entropy(p, y)

def valid_scores(learn, task, policy):
    "Accuracy and AUC on the validation split, plain and with fastai's TTA"
    res, extra = {}, [c for c in learn.cbs if type(c).__name__ in ('History', 'PathfastProgress') or isinstance(c, ProgressCallback)]
    learn.remove_cbs(extra)
    for how in ('plain', 'tta'):
        if how == 'plain': p, y = learn.get_preds(dl=learn.dls.valid)
        else: p, y = learn.tta(dl=learn.dls.valid, batch_tfms=batch_tfms(True, policy))
        p, y = p.float().numpy(), y.numpy()
        res[how] = (float((p.argmax(1) == y).mean()), float(getAUC(y, p, task)))
    return res

EXPS = {  # name: (model, augment, Config overrides)
    'steps500': ('cnn', True, dict(steps=500)), 'steps1000': ('cnn', True, dict(steps=1000)),
    'steps2000': ('cnn', True, dict(steps=2000)), 'steps4000': ('cnn', True, dict(steps=4000)),
    'noaug1000': ('cnn', False, dict(steps=1000)), 'noaug2000': ('cnn', False, dict(steps=2000)),
    'dihedral2000': ('cnn', True, dict(steps=2000, aug_policy='dihedral')),
    'ls2000': ('cnn', True, dict(steps=2000, label_smoothing=0.1)), 'ls-noaug2000': ('cnn', False, dict(steps=2000, label_smoothing=0.1)),
    'mixup2000': ('cnn', True, dict(steps=2000)), 'cutmix2000': ('cnn', True, dict(steps=2000)),
    'resnet-aug': ('resnet18', True, dict(steps=2000, budget_minutes=2)), 'resnet-noaug': ('resnet18', False, dict(steps=2000, budget_minutes=2)),
}

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data-dir', default='../shared/data'); ap.add_argument('--out', default=None)
    ap.add_argument('--only', default=None, help="comma-separated experiment names, or 'small' (or 'small-cnnaug': its runs with augmentation only)")
    ap.add_argument('--seed', type=int, default=42)
    ap.add_argument('--ema', type=float, default=Config.ema, help="the runs' weight average (0: off; the tables recorded before 2026-11-24 had none)")
    a = ap.parse_args()
    data = load_medmnist('pneumoniamnist', 28, a.data_dir)
    lines = [f"CPU bf16: {cpu_has_bf16()}, torch threads {torch.get_num_threads()}, seed {a.seed}, EMA {a.ema or 'off'}",
             '| experiment | model | aug | settings | epochs | best epoch | valid acc | valid loss | valid AUC | valid acc TTA | valid AUC TTA | train s |',
             '|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|']
    print('\n'.join(lines), flush=True)
    if a.only and a.only.startswith('small'):
        small = subset(data, 500, splits=('train',), seed=0)
        exps = {f'small-{k}-x{m}': (mod, aug, dict(steps=Config.steps * m)) for k, (mod, aug) in dict(cnnaug=('cnn', True), cnn=('cnn', False)).items() for m in (1, 5)
                if a.only in ('small', f'small-{k}')}
    else:
        small, exps = None, {k: v for k, v in EXPS.items() if not a.only or k in a.only.split(',')}
    for name, (model, aug, kw) in exps.items():
        d = small or data
        cfg = Config(dataset='pneumoniamnist', size=28, pretrained=False, device='cpu', seed=a.seed, **{'ema': a.ema, **kw})
        extra = [MixUp()] if name.startswith('mixup') else [CutMix()] if name.startswith('cutmix') else []
        r = train_run(d, RunSpec(model, False, aug), cfg, cbs=[Grab(), *extra])
        learn = Grab.learner
        learn.remove_cbs([c for c in learn.cbs if isinstance(c, (MixUp, CutMix))])
        s = valid_scores(learn, d.task, r.options['aug_policy']['name'])
        row = (f"| {name} | {model} | {'on' if aug else 'off'} | {', '.join(f'{k}={v}' for k, v in kw.items())} | {r.epochs} | {r.best_epoch} | "
               f"{s['plain'][0]:.4f} | {r.valid_metrics['loss']:.4f} | {s['plain'][1]:.4f} | {s['tta'][0]:.4f} | {s['tta'][1]:.4f} | {r.train_seconds:.0f} |")
        lines.append(row); print(row, flush=True)
        if a.out: Path(a.out).write_text('\n'.join(lines) + '\n')

if __name__ == '__main__': main()
