"""The peak learning rate of a backbone trained from random weights (`lr_backbone`), judged on the VALIDATION split only.

A backbone from random weights (ResNet-18 in the default experiment, `--no-pretrained`; any `model:scratch` in `--models`)
trained with one-cycle peaking at `lr_backbone` 2e-3, fastai's value for `fine_tune`, unmeasured for training from scratch
before this script; this script moved the default to 5e-3 (EfficientNet-Lite0's measurement). (The custom CNN's rate was
measured in `regularisation.py`, a full fine-tune's in `finetune.py`.) This script trains one backbone from random weights
with augmentation for a fixed number of epochs (8: what the 2-minute cap gives ResNet-18 on the 2-core CPU; every other
default, the weight average and the best epoch by validation loss included) at peak rates fixed before the first run:
1e-3, 2e-3, 5e-3 ('current' today) and 1e-2 (in the results file, made before the change, 'current' is 2e-3), for seeds
42, 43, 44, and prints the validation accuracy, loss and AUC of the weights pathfast would test. The test split is not
printed.

Decision rule, written before the first run (the one of `regularisation.py` and `finetune.py`): a rate becomes the default
only if its 3-seed mean validation loss is lower than the current one's by more than the larger of the two settings' seed
sd AND its mean validation accuracy is not lower by more than the larger accuracy sd. If several pass, the one with the
lowest mean loss. Otherwise nothing changes.

    python bench/scratch_lr.py --data-dir ../shared/data --model resnet18 --out /tmp/scratch-lr-resnet18.md
    python bench/scratch_lr.py --data-dir ../shared/data --model efficientnet_lite0 --epochs 6 --out /tmp/scratch-lr-lite0.md   # what the cap gives Lite0 here
    python bench/scratch_lr.py --data-dir ../shared/data --subset 500 --epochs 0 --variants current,lr2e-3   # a small set, `--full`'s budget

`--out` writes the printed table; `bench/results/scratch-lr-pneumoniamnist-28.md` holds both tables with their set-up and
verdicts (an `--out` there would overwrite them).
"""
import time, warnings
warnings.filterwarnings('ignore')
import numpy as np
from pathfast.core import Config
from pathfast.cli import FULL_ON_CPU
from pathfast.data import subset
from pathfast.train import RunSpec, train_run, peak_lr
from convergence import Grab
from regularisation import Rates, parser, start, record, finish

VARIANTS = {'current': {}, 'lr1e-3': dict(lr_backbone=1e-3), 'lr2e-3': dict(lr_backbone=2e-3), 'lr1e-2': dict(lr_backbone=1e-2)}  # 'current': 5e-3

def main():
    ap = parser(VARIANTS)
    ap.add_argument('--model', default='resnet18'); ap.add_argument('--epochs', type=int, default=8, help="0: `--full`'s budget on a CPU (the step budget, capped in minutes)")
    ap.add_argument('--subset', type=int, default=None, help='train on a stratified subset of this many training images (all validation images)')
    a = ap.parse_args()
    data, lines = start(a, f"{a.model} from random weights with augmentation, " + (f"{a.epochs} epochs" if a.epochs else f"{Config.steps:,} steps capped at {FULL_ON_CPU:g} minutes")
                        + (f", a {a.subset}-image training subset" if a.subset else ''))
    if a.subset: data = subset(data, a.subset, splits=('train',))  # seed 0, as `convergence.py`'s small set
    plan = dict(epochs=a.epochs) if a.epochs else dict(epochs=None, budget_minutes=FULL_ON_CPU)  # `--full`'s budget on a CPU
    res = {}
    for name in a.variants.split(','):
        for seed in map(int, a.seeds.split(',')):
            cfg = Config(dataset='pneumoniamnist', size=28, pretrained=False, device=a.device, seed=seed, **plan, **VARIANTS[name])
            t = time.time()
            r = train_run(data, RunSpec(a.model, False, True), cfg, cbs=[Grab(), rates := Rates()])
            fits = [np.array(f) for f in rates.fits if f]
            assert (len(fits) == 1 or not a.epochs) and np.allclose(fits[-1].max(0), peak_lr(a.model, False, cfg), rtol=1e-3), f'the rate did not reach the run: {fits[-1].max(0)}'  # a budget's timing probe fits first, once per timing
            assert not r.pretrained and (not a.epochs or r.epochs == a.epochs)
            record(a, data, res, lines, name, seed, r, Grab.learner, t)
    finish(a, res, lines)

if __name__ == '__main__': main()
