"""Is fastai's `fine_tune` recipe the right way to fine-tune an ImageNet backbone on small grey X-rays? Judged on the
VALIDATION split only.

On PneumoniaMNIST (28 px, enlarged to 64 px) the ImageNet EfficientNet-Lite0 fine-tuned with fastai's recipe (one epoch
with the body frozen at `lr_backbone` 2e-3, then everything unfrozen at `slice(lr/2/lr_mult, lr/2)` with `lr_mult` 100,
inputs normalised with ImageNet's statistics) did worse than the same network from random weights, on a CPU and with 56
epochs on a GPU, validation included. Those settings were fastai's, never measured here. This script fine-tunes
EfficientNet-Lite0 with augmentation for a fixed number of epochs (every other default: the best epoch by validation
loss, no weight average for a depthwise network) with pathfast's recipe ('current': `--finetune full`, every layer from the
first step at one rate, one-cycle at `lr_finetune`, as a network from scratch trains) and with variants fixed before their
first run:

- `fastai`: fastai's `fine_tune` recipe (`--finetune fastai` with `lr_backbone` 2e-3, fastai's base rate), pathfast's
  default until this script measured it;
- `mult10`: fastai's, with `lr_mult` 10 (the first layers unfrozen at a tenth of the head's rate, not a hundredth);
- `lr1e-2`: fastai's, with `lr_backbone` 1e-2 (five times the rate in both phases);
- `freeze0`: fastai's, with `freeze_epochs` 0 (no frozen epoch);
- `litenorm`: fastai's, with inputs normalised as EfficientNet-Lite was trained (mean 0.5, sd 0.5 per channel: TensorFlow's
  (x - 127) / 128);
- `scratch`: the same network from random weights with its own recipe: a reference, not a candidate (at `lr_backbone`
  2e-3, the default when it was measured; `scratch_lr.py` later moved the default to 5e-3);
- `full-lr1e-3`, `full-lr2e-3`, `full-lr5e-3`: pathfast's full recipe at a peak rate (`lr_finetune`) of 1e-3, 2e-3 or
  5e-3 (2e-3, fastai's `lr_backbone`, was the full recipe's rate when it became the default; 5e-3 won the measurement
  below and is now `lr_finetune`, so `full-lr5e-3` is 'current'), and `full-lr1e-2`, measured after that choice to see
  whether the rate's optimum lies higher;
- `full-litenorm`: pathfast's full recipe with EfficientNet-Lite's own normalisation (as `litenorm`, which passed the rule
  under fastai's recipe), measured at the rate of 2e-3 (as `full-lr2e-3` with the normalisation changed).

for seeds 42, 43, 44, and prints the validation accuracy, loss and AUC of the weights pathfast would test. The test split
is not printed.

Decision rule, written before the first run (the custom CNN's, `regularisation.py`): a variant becomes the default only
if its 3-seed mean validation loss is lower than the baseline's (`--against`) by more than the larger of the two
settings' seed sd AND its mean validation accuracy is not lower by more than the larger accuracy sd. If several pass, the
one with the lowest mean loss. Otherwise nothing changes. `scratch` is compared the same way, to say whether any recipe
makes the ImageNet weights worth more than random ones on this data. The measurement that made the full fine-tune the
default (`bench/results/finetune-pneumoniamnist-28.md`; its table calls fastai's recipe 'current', as it then was, and
the full fine-tune 'uniform', which the script then made by replacing `fit_finetune`; 'full-lr2e-3' now gives the same digits):

    python bench/finetune.py --data-dir ../shared/data --epochs 8 --against fastai \
        --variants fastai,mult10,lr1e-2,freeze0,litenorm,full-lr2e-3,scratch

and the one that set `lr_finetune` (its 'current' then ran at 2e-3, now `full-lr2e-3`):

    python bench/finetune.py --data-dir ../shared/data --epochs 8 --against full-lr2e-3 \
        --variants full-lr2e-3,full-lr1e-3,full-lr5e-3,full-litenorm
"""
import time, warnings
warnings.filterwarnings('ignore')
import numpy as np, torch
from fastai.vision.all import Normalize
import pathfast.data as pd_
from pathfast.core import Config
from pathfast.train import RunSpec, train_run, peak_lr
from convergence import Grab
from regularisation import Rates, parser, start, record, finish

MODEL = 'efficientnet_lite0'
FASTAI = dict(finetune='fastai', lr_backbone=2e-3)  # fastai's own base rate, as measured (`lr_backbone`'s default has since become 5e-3)
VARIANTS = {  # name: `Config` fields, the inputs' normalisation ('norm'), or the starting weights ('scratch')
    'current': {}, 'fastai': FASTAI, 'mult10': dict(FASTAI, lr_mult=10), 'lr1e-2': dict(FASTAI, lr_backbone=1e-2),
    'freeze0': dict(FASTAI, freeze_epochs=0), 'litenorm': dict(FASTAI, norm=([0.5] * 3, [0.5] * 3)), 'scratch': dict(scratch=True, lr_backbone=2e-3),
    'full-lr1e-3': dict(lr_finetune=1e-3), 'full-lr2e-3': dict(lr_finetune=2e-3), 'full-lr5e-3': dict(lr_finetune=5e-3), 'full-lr1e-2': dict(lr_finetune=1e-2),
    'full-litenorm': dict(lr_finetune=2e-3, norm=([0.5] * 3, [0.5] * 3)),
}
NORM = dict(pd_.NORM)

def main():
    ap = parser(VARIANTS)
    ap.add_argument('--epochs', type=int, default=8); ap.add_argument('--against', default='current', help='the variant the others are compared with')
    a = ap.parse_args()
    data, lines = start(a, f"{MODEL} with augmentation, {a.epochs} epochs")
    res = {}
    for name in a.variants.split(','):
        change = dict(VARIANTS[name])
        mean, std = change.pop('norm', (NORM['mean'], NORM['std']))
        pd_.NORM.update(mean=mean, std=std)
        scratch = change.pop('scratch', False)
        for seed in map(int, a.seeds.split(',')):
            cfg = Config(dataset='pneumoniamnist', size=28, device=a.device, seed=seed, epochs=a.epochs, **change)
            t = time.time()
            r = train_run(data, RunSpec(MODEL, not scratch, True), cfg, cbs=[Grab(), rates := Rates()])
            learn = Grab.learner
            norm = [tf for tf in learn.dls.after_batch if isinstance(tf, Normalize)]
            assert len(norm) == 1 and torch.allclose(norm[0].mean.flatten().cpu(), torch.tensor(mean)) \
                and torch.allclose(norm[0].std.flatten().cpu(), torch.tensor(std)), 'the normalisation did not reach the run'
            fits = [np.array(f) for f in rates.fits if f]
            last = fits[-1].max(0)  # each group's peak rate in the fit that ends the run
            if scratch or cfg.finetune == 'full':
                assert len(fits) == 1 and np.allclose(last, peak_lr(MODEL, not scratch, cfg), rtol=1e-3), f'not one rate for every layer: {last}'
            else:
                n_frozen = sum(f.shape[0] for f in fits[:-1])
                assert n_frozen == cfg.freeze_epochs * r.budget['steps_per_epoch'], f'{n_frozen} steps frozen, not {cfg.freeze_epochs} epochs'
                assert np.allclose(last[[0, -1]], [cfg.lr_backbone / 2 / cfg.lr_mult, cfg.lr_backbone / 2], rtol=1e-3), f'the unfrozen rates did not reach the run: {last}'
            assert r.pretrained == (not scratch) and r.epochs == a.epochs
            record(a, data, res, lines, name, seed, r, learn, t)
    pd_.NORM.update(NORM)
    finish(a, res, lines, a.against)

if __name__ == '__main__': main()
