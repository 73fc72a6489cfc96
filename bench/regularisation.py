"""Should pathfast regularise more than fastai's defaults (stronger augmentation, more weight decay), or train the custom CNN at
another peak learning rate, batch size, dropout, input size, width, one-cycle warm-up or optimizer, or erase patches, or mix
images (MixUp, CutMix)? Judged on the VALIDATION split only.

pathfast augments with fastai's `aug_transforms` (`pathfast.data.AUG`: rotate up to 10 degrees, zoom up to 1.1, lighting
0.2, warp 0.2, plus the modality's flips) and trains with fastai's weight decay (0.01, decoupled as in AdamW). This script
trains the custom CNN with augmentation (every other default: the 2,000-step budget, one-cycle, the weight average, the
best epoch by validation loss) as it is ('current') and with variants fixed before their first run (three stronger
augmentations; weight decay 0.05 and 0.1; the one-cycle peak learning rate `lr_cnn` at 1e-3 and 1e-2 around its
3e-3; batch size 64 and 256 around its 128, with the step budget scaled so that every run trains the same 56 epochs; the
dropout before its classifier at 0 and 0.5 around its 0.25; its 28 px images enlarged on the device to 64 px, as the
backbones see them; its filters per stage halved and doubled around its 16/32/64/128; fastai's one-cycle warm-up
fraction `pct_start` at 0.1 and 0.5 around its 0.25; PyTorch's SGD instead of AdamW, with Nesterov momentum 0.9, which the
one-cycle cycles as it does Adam's beta 1, and L2 weight decay 5e-4, the usual recipe for CNNs from scratch, at peaks 0.05
and 0.2; fastai's `RandomErasing` at its defaults (p 0.5, one rectangle of up to 30% of the image, filled with noise) after
the other augmentations, cutout's regularisation for CNNs; fastai's `MixUp` and `CutMix` callbacks at their defaults (alpha
0.4 and 1.0), which the issue names, at the step budget and at twice it, as mixing trains more slowly), for seeds 42, 43,
44, and prints the validation accuracy, loss and AUC of the weights pathfast would test. The test split is not printed.

Decision rule, written before the first run: a variant becomes the default only if its 3-seed mean validation loss is
lower than the current one's by more than the larger of the two settings' seed sd AND its mean validation accuracy is not
lower by more than the larger accuracy sd. If several pass, the one with the lowest mean loss. Otherwise nothing changes.

    python bench/regularisation.py --data-dir ../shared/data --variants current,geometry,lighting,both
    python bench/regularisation.py --data-dir ../shared/data --variants current,wd0.05,wd0.1
    python bench/regularisation.py --data-dir ../shared/data --variants current,lr1e-3,lr1e-2
    python bench/regularisation.py --data-dir ../shared/data --variants current,bs64,bs256
    python bench/regularisation.py --data-dir ../shared/data --variants current,drop0,drop0.5
    python bench/regularisation.py --data-dir ../shared/data --variants current,cnn64
    python bench/regularisation.py --data-dir ../shared/data --variants current,cnn64 --subset 500
    python bench/regularisation.py --data-dir ../shared/data --variants current,narrow,wide --device cuda
    python bench/regularisation.py --data-dir ../shared/data --variants current,pct0.1,pct0.5 --device cuda
    python bench/regularisation.py --data-dir ../shared/data --variants current,sgd0.05,sgd0.2
    python bench/regularisation.py --data-dir ../shared/data --variants current,erase
    python bench/regularisation.py --data-dir ../shared/data --variants current,mixup,cutmix,mixup4000,cutmix4000

`--device cuda` trains on a GPU (bf16 there), where a twice as wide CNN (about 4x the work) is not cut by the time cap;
compare variants only with a 'current' from the same device.
"""
import argparse, time, warnings
warnings.filterwarnings('ignore')
from pathlib import Path
import numpy as np, torch
from fastai.vision.all import Callback, CutMix, L, MixUp, OptimWrapper, RandomErasing
from medmnist.evaluator import getAUC
import pathfast.data as pd_
from pathfast.core import Config
from pathfast.data import load_medmnist, subset
import pathfast.models as pm
from pathfast.models import PathCNN
import pathfast.train as pt
from pathfast.train import RunSpec, train_run, cpu_has_bf16
from convergence import Grab, tested_valid, cross_entropy

CURRENT = dict(pd_.AUG)
VARIANTS = {  # name: what changes in `AUG`, the weight decay ('wd'), the `Config` (`CONFIG`), `PathCNN`'s dropout ('p'),
             # its filters per stage ('widths') or its input ('px'), or the one-cycle's warm-up fraction ('pct_start')
    'current': {},
    'geometry': dict(max_rotate=15., max_zoom=1.25, max_warp=0.3),
    'lighting': dict(max_lighting=0.4),
    'both': dict(max_rotate=15., max_zoom=1.25, max_warp=0.3, max_lighting=0.4),
    'wd0.05': dict(wd=0.05), 'wd0.1': dict(wd=0.1),
    'lr1e-3': dict(lr_cnn=1e-3), 'lr1e-2': dict(lr_cnn=1e-2),
    'bs64': dict(bs=64, steps=4050), 'bs256': dict(bs=256, steps=1000),  # 4,708 images: 56 epochs each, as at bs 128
    'drop0': dict(p=0.), 'drop0.5': dict(p=0.5),
    'cnn64': dict(px=64),
    'narrow': dict(widths=(8, 16, 32, 64)), 'wide': dict(widths=(32, 64, 128, 256)),
    'pct0.1': dict(pct_start=0.1), 'pct0.5': dict(pct_start=0.5),  # fastai's default 0.25
    'sgd0.05': dict(opt='sgd', lr_cnn=0.05), 'sgd0.2': dict(opt='sgd', lr_cnn=0.2),
    'erase': dict(erase=True),
    'mixup': dict(mix=MixUp), 'cutmix': dict(mix=CutMix),  # fastai's defaults: alpha 0.4 and 1.0
    'mixup4000': dict(mix=MixUp, steps=4000), 'cutmix4000': dict(mix=CutMix, steps=4000),  # the same at twice the step budget
}
SGD = dict(momentum=0.9, nesterov=True, weight_decay=5e-4)  # the 'sgd' variants' optimizer, fixed before their first run
CONFIG = ('lr_cnn', 'bs', 'steps')
CNN_DEFAULTS, INPUT_SIZE, FIT, ADAMW, BATCH_TFMS = PathCNN.__init__.__defaults__, pt.input_size, pt._fit, pm.adamw, pd_.batch_tfms

def erasing_tfms(augment:bool=True, policy:str='dihedral')->list:
    "`pathfast.data.batch_tfms` with fastai's `RandomErasing` (its defaults; it runs after `Normalize`, on training batches) when `augment`"
    return BATCH_TFMS(augment, policy) + ([RandomErasing()] if augment else [])

def sgd(params, lr:float=1e-3, **hypers)->OptimWrapper:
    "PyTorch's SGD with `SGD`'s settings, in place of `pathfast.models.adamw` (the custom CNN's `Learner` looks it up when built)"
    return OptimWrapper(L(params), opt=torch.optim.SGD, lr=lr, **SGD)

class Rates(Callback):
    "Every parameter group's learning rate at every training step, per fit (the timing probe's, the training's, fits after it that train no step)"
    def __init__(self): self.fits = []
    def before_fit(self): self.fits.append([])
    def after_batch(self):
        if self.training: self.fits[-1].append([h['lr'] for h in self.opt.hypers])

def fit_with(**oc):
    "`pathfast.train._fit` with these `fit_one_cycle` arguments added (the custom CNN's training calls it)"
    def _fit(learn, epochs, lr, schedule, cbs, monitor='valid_loss', **kw): return FIT(learn, epochs, lr, schedule, cbs, monitor, **kw, **oc)
    return _fit

class WeightDecay(Callback):
    "Set the optimizer's weight decay once `fit` has set fastai's (`Learner.fit` applies `learn.wd` before `before_fit`)"
    def __init__(self, wd): self.wd = wd
    def before_fit(self): self.learn.opt.set_hypers(wd=self.wd)

def summary(res:dict, base:str='current')->list:
    "Markdown lines: each variant's mean ± sd over seeds, then the decision rule's verdict against `base`"
    lines = ['', '| variant | valid acc | valid loss | valid AUC |', '|---|---:|---:|---:|']
    for name, v in res.items():
        m, s = np.mean(v, 0), np.std(v, 0, ddof=1) if len(v) > 1 else np.zeros(3)
        lines.append(f"| {name} | {m[0]:.4f} ± {s[0]:.4f} | {m[1]:.4f} ± {s[1]:.4f} | {m[2]:.4f} ± {s[2]:.4f} |")
    if base in res:
        c = np.array(res[base])
        for name, v in res.items():
            if name == base: continue
            v = np.array(v)
            sd_loss = max(c[:, 1].std(ddof=1), v[:, 1].std(ddof=1)); sd_acc = max(c[:, 0].std(ddof=1), v[:, 0].std(ddof=1))
            ok = c[:, 1].mean() - v[:, 1].mean() > sd_loss and c[:, 0].mean() - v[:, 0].mean() <= sd_acc
            lines.append(f"- {name}: loss lower by {c[:, 1].mean() - v[:, 1].mean():+.4f} (needs > {sd_loss:.4f}), "
                         f"accuracy lower by {c[:, 0].mean() - v[:, 0].mean():+.4f} (may be <= {sd_acc:.4f}): {'passes' if ok else 'fails'}")
    return lines

def parser(variants)->argparse.ArgumentParser:
    "The arguments every variant script takes: the data, the output file, the seeds, the variants, the device"
    ap = argparse.ArgumentParser()
    ap.add_argument('--data-dir', default='../shared/data'); ap.add_argument('--out', default=None)
    ap.add_argument('--seeds', default='42,43,44'); ap.add_argument('--variants', default=','.join(variants))
    ap.add_argument('--device', default='cpu', help='cpu or cuda')
    ap.add_argument('--subset', type=int, default=0, help='train on a stratified subset of this many training images (seed 0; the whole validation split)')
    return ap

def start(a, what:str)->tuple:
    "The real PneumoniaMNIST at 28 px, and the results table's first lines (the machine, then `what`), printed"
    data = load_medmnist('pneumoniamnist', 28, a.data_dir)
    if a.subset: data = subset(data, a.subset, splits=('train',), seed=0); what += f", a stratified subset of {a.subset} training images (seed 0)"
    where = torch.cuda.get_device_name(a.device) if a.device.startswith('cuda') else f"CPU bf16: {cpu_has_bf16()}, torch threads {torch.get_num_threads()}"
    lines = [f"{where}, {what}", '| variant | seed | epochs | best epoch | valid acc | valid loss | valid AUC | train s |',
             '|---|---:|---:|---:|---:|---:|---:|---:|']
    print('\n'.join(lines), flush=True)
    return data, lines

def add_row(a, res:dict, lines:list, name:str, scores:tuple, *cells):
    "Add one variant's (accuracy, loss, AUC) to `res` and its table row (`cells` around the scores) to `lines`, print it, write `--out`"
    res.setdefault(name, []).append(scores)
    row = '| ' + ' | '.join(map(str, [name, *cells[:-1], *(f'{v:.4f}' for v in scores), cells[-1]])) + ' |'
    lines.append(row); print(row, flush=True)
    if a.out: Path(a.out).write_text('\n'.join(lines) + '\n')

def scores(p, y, task:str)->tuple:
    "Accuracy, plain cross-entropy and AUC of class probabilities `p` against class indices `y` (numpy)"
    return float((p.argmax(1) == y).mean()), cross_entropy(p, y), float(getAUC(y, p, task))

def record(a, data, res:dict, lines:list, name:str, seed:int, r, learn, t:float)->tuple:
    "Score the validation split with the weights the run tests, add the row (`add_row`); its probabilities and labels"
    p, y, _ = tested_valid(learn)
    add_row(a, res, lines, name, scores(p, y, data.task), seed, r.epochs, r.best_epoch, f'{time.time() - t:.0f}')
    return p, y

def finish(a, res:dict, lines:list, base:str='current'):
    "The summary and the decision rule's verdicts, printed and written to `--out`"
    lines += summary(res, base)
    print('\n'.join(lines[-(len(res) * 2 + 2):]), flush=True)
    if a.out: Path(a.out).write_text('\n'.join(lines) + '\n')

def main():
    a = parser(VARIANTS).parse_args()
    data, lines = start(a, f"current AUG {CURRENT}")
    res = {}
    for name in a.variants.split(','):
        change = dict(VARIANTS[name]); wd = change.pop('wd', None); kw = {k: change.pop(k) for k in CONFIG if k in change}
        n_in, widths, dropout = CNN_DEFAULTS
        PathCNN.__init__.__defaults__ = (n_in, change.pop('widths', widths), change.pop('p', dropout))
        pct = change.pop('pct_start', None)
        pt._fit = fit_with(pct_start=pct) if pct else FIT
        px = change.pop('px', None)  # `train_run` asks `input_size` what the network sees: the CNN gets the data's size
        pt.input_size = (lambda spec, size, resize: px) if px else INPUT_SIZE
        opt = change.pop('opt', None); pm.adamw = sgd if opt == 'sgd' else ADAMW
        erase = change.pop('erase', False); pd_.batch_tfms = erasing_tfms if erase else BATCH_TFMS
        mix = change.pop('mix', None)
        pd_.AUG.clear(); pd_.AUG.update(CURRENT, **change)
        for seed in map(int, a.seeds.split(',')):
            cfg = Config(dataset='pneumoniamnist', size=28, pretrained=False, device=a.device, seed=seed, **kw)
            t = time.time()
            mixer = [mix()] if mix else []
            r = train_run(data, RunSpec('cnn', False, True), cfg, cbs=[Grab(), rates := Rates(), *([WeightDecay(wd)] if wd else []), *mixer])
            # it mixed: integer targets stacked (not blended), a mixing weight drawn for the last training batch
            assert all(m.stack_y and hasattr(m, 'lam') and m in Grab.learner.cbs for m in mixer), 'the mixing did not reach the run'
            erasing = [f for f in Grab.learner.dls.train.after_batch.fs if isinstance(f, RandomErasing)]
            assert len(erasing) == erase and not any(isinstance(f, RandomErasing) for f in Grab.learner.dls.valid.after_batch.fs), 'the erasing did not reach the run'
            torch_opt = type(Grab.learner.opt.opt)
            assert torch_opt is (torch.optim.SGD if opt else torch.optim.AdamW), f'the optimizer did not reach the run: {torch_opt}'
            if opt: assert all(g['weight_decay'] == SGD['weight_decay'] and g['nesterov'] for g in Grab.learner.opt.opt.param_groups), 'the SGD settings did not reach the run'
            if wd: assert all(h['wd'] == wd for h in Grab.learner.opt.hypers), 'the weight decay did not reach the optimizer'
            if 'lr_cnn' in kw: assert r.lrs == {'one_cycle': kw['lr_cnn']}, f'the learning rate did not reach the run: {r.lrs}'
            if 'bs' in kw: assert Grab.learner.dls.train.bs == kw['bs'], 'the batch size did not reach the run'
            drop = [m.p for m in Grab.learner.model.modules() if isinstance(m, torch.nn.Dropout)]
            assert drop == [PathCNN.__init__.__defaults__[-1]], f'the dropout did not reach the model: {drop}'
            convs = [m.out_channels for m in Grab.learner.model.modules() if isinstance(m, torch.nn.Conv2d)][1::2]
            assert tuple(convs) == PathCNN.__init__.__defaults__[1], f'the widths did not reach the model: {convs}'
            peak = np.argmax(np.array(max(rates.fits, key=len))[:, -1]) / (r.budget['epochs'] * r.budget['steps_per_epoch'])  # of the planned steps
            assert abs(peak - (pct or 0.25)) < 0.01, f'the warm-up fraction did not reach the run: the rate peaked after {peak:.3f} of the steps'
            seen = [c.size for c in Grab.learner.cbs if type(c).__name__ == 'ResizeBatch']
            assert seen == ([px] if px else []), f'the input size did not reach the run: {seen}'
            record(a, data, res, lines, name, seed, r, Grab.learner, t)
    finish(a, res, lines)

if __name__ == '__main__': main()
