"""Which weights to test, judged on the VALIDATION split only: the best epoch by validation loss (pathfast's default), the
last epoch, the best epoch of the schedule's second half, or an exponential moving average (EMA) of the weights.

Choosing an epoch on the validation split and scoring it on the same split flatters the choice (the winner's curse), so
each rule is judged by split halves: over many random stratified halves A/B of the validation split, the rule picks its
epoch on A and is scored on B. A rule without a choice (the last epoch, the last EMA weights) is scored on B the same way.
The runs' test metrics are computed by `train_run` as always, but this script neither prints nor stores them.

    python bench/selection.py --data-dir ../shared/data --out bench/results/selection-pneumoniamnist-28.md
    python bench/selection.py --model resnet18 --epochs 7 --decay 0.995,0.98    # ResNet-18 from scratch, as many epochs as the CPU cap gives it
    python bench/selection.py --model efficientnet_lite0 --pretrained --epochs 6 --decay 0.975,0.99    # fine-tuned from ImageNet (1 epoch frozen)
    python bench/selection.py --subset 500 --decay 0.995,0.98    # the custom CNN on 500 training images (2,000 steps = 134 epochs at bs 32)
"""
import argparse, copy, time, warnings
warnings.filterwarnings('ignore')
from pathlib import Path
import numpy as np, torch
import torch.nn.functional as F
from fastai.vision.all import Callback
from pathfast.core import Config
from pathfast.data import load_medmnist, subset
from pathfast.train import RunSpec, train_run, cpu_has_bf16

class Snapshots(Callback):
    "Every epoch's weights, and those of exponential moving averages of the weights, one per decay (updated after every step; integer buffers copied)"
    order = 100
    def __init__(self, decays:list): self.decays, self.epochs, self.emas = decays, [], {d: [] for d in decays}
    def before_fit(self):
        if not hasattr(self, 'ema'): self.ema = {d: {k: v.detach().float().clone() for k, v in self.learn.model.state_dict().items()} for d in self.decays}
        self.__class__.learner = self.learn
    def after_step(self):
        with torch.no_grad():
            for d, ema in self.ema.items():
                for k, v in self.learn.model.state_dict().items():
                    if v.dtype.is_floating_point: ema[k].mul_(d).add_(v.detach().float(), alpha=1 - d)
                    else: ema[k].copy_(v)
    def after_epoch(self):
        self.epochs.append({k: v.detach().cpu().clone() for k, v in self.learn.model.state_dict().items()})
        for d, ema in self.ema.items(): self.emas[d].append({k: v.cpu().clone() for k, v in ema.items()})

def val_logprobs(learn, states, size:int)->np.ndarray:
    "(n_states, N, C) log-probabilities of the validation split under each state dict, images resized to `size` as the run's were"
    model, out = copy.deepcopy(learn.model).float().eval(), []
    for sd in states:
        model.load_state_dict({k: v.to(next(model.parameters()).dtype) if v.dtype.is_floating_point else v for k, v in sd.items()})
        with torch.no_grad():
            lp = torch.cat([F.log_softmax(model(F.interpolate(xb, size=(size, size), mode='bilinear', align_corners=False)
                                                    if xb.shape[-1] != size else xb).float(), 1) for xb, _ in learn.dls.valid])
        out.append(lp.numpy())
    return np.stack(out)

def scores(lp, y, idx):
    "Per state: (accuracy, mean NLL) on the rows idx"
    l = lp[:, idx]; yy = y[idx]
    return (l.argmax(2) == yy).mean(1), -l[:, np.arange(len(idx)), yy].mean(1)

def judge(lp, lpes, y, halves):
    "Mean held-out (B) accuracy and loss of each rule over the halves, and the median epoch it picked; `lpes`: {EMA name: its log-probabilities}"
    E, res = lp.shape[0], {}
    rules = dict(best=lambda A: (lp, int(np.argmin(scores(lp, y, A)[1]))), last=lambda A: (lp, E - 1),
                 best_2nd_half=lambda A: (lp, E // 2 + int(np.argmin(scores(lp[E // 2:], y, A)[1]))))
    for name, lpe in lpes.items():
        rules[f'{name}_last'] = lambda A, lpe=lpe: (lpe, E - 1)
        rules[f'{name}_best'] = lambda A, lpe=lpe: (lpe, int(np.argmin(scores(lpe, y, A)[1])))
    for name, rule in rules.items():
        accs, losses, picks = [], [], []
        for A, B in halves:
            src, e = rule(A)
            a, l = scores(src[e:e+1], y, B)
            accs.append(a[0]); losses.append(l[0]); picks.append(e + 1)
        res[name] = (float(np.mean(accs)), float(np.mean(losses)), int(np.median(picks)))
    return res

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data-dir', default='../shared/data'); ap.add_argument('--out', default=None)
    ap.add_argument('--seeds', default='42,43,44'); ap.add_argument('--decay', default='0.995', help='EMA decays per step, comma-separated')
    ap.add_argument('--model', default='cnn'); ap.add_argument('--epochs', type=int, default=None, help='fixed epochs instead of the 2,000-step budget')
    ap.add_argument('--pretrained', action='store_true', help="fine-tune the backbone's ImageNet weights (fastai's recipe, 1 epoch frozen)")
    ap.add_argument('--subset', type=int, default=None, help="train on a stratified subset of this many training images (seed 0, as bench/convergence.py's 'small')")
    ap.add_argument('--halves', type=int, default=500)
    a = ap.parse_args()
    data = load_medmnist('pneumoniamnist', 28, a.data_dir)
    if a.subset: data = subset(data, a.subset, splits=('train',), seed=0)  # the validation split stays whole
    y = data.splits['val'][1].numpy()
    rng = np.random.default_rng(0)
    def half():
        A = np.concatenate([rng.permutation(np.where(y == c)[0])[:(y == c).sum() // 2] for c in np.unique(y)])
        return A, np.setdiff1d(np.arange(len(y)), A)
    halves = [half() for _ in range(a.halves)]
    decays = [float(d) for d in a.decay.split(',')]
    lines = [f"CPU bf16: {cpu_has_bf16()}, torch threads {torch.get_num_threads()}, {a.model}, {'fine-tuned' if a.pretrained else 'from scratch'}, EMA decay {a.decay}, {a.halves} stratified validation halves, {len(data.splits['train'][1])} training images",
             '| run | seed | epochs | rule | picked epoch (median) | held-out half: accuracy | held-out half: loss |', '|---|---|---:|---|---:|---:|---:|']
    print('\n'.join(lines), flush=True)
    for aug in (True, False):
        for seed in map(int, a.seeds.split(',')):
            cfg = Config(dataset='pneumoniamnist', size=28, pretrained=a.pretrained, device='cpu', seed=seed, budget_minutes=None, epochs=a.epochs, ema=0.)  # its own averages, not pathfast's
            snap = Snapshots(decays)
            t = time.time()
            r = train_run(data, RunSpec(a.model, a.pretrained, aug), cfg, cbs=[snap])  # its test metrics are not read
            learn = Snapshots.learner
            n = r.epochs  # fastai calls after_epoch once more when the run's callbacks are taken off: not an epoch
            lp = val_logprobs(learn, snap.epochs[:n], r.input_size)
            lpes = {('ema' if len(decays) == 1 else f'ema{d}'): val_logprobs(learn, snap.emas[d][:n], r.input_size) for d in decays}
            for rule, (acc, loss, e) in judge(lp, lpes, y, halves).items():
                row = f"| {a.model}-{'aug' if aug else 'noaug'} | {seed} | {r.epochs} | {rule} | {e} | {acc:.4f} | {loss:.4f} |"
                lines.append(row); print(row, flush=True)
            print(f"  ({time.time() - t:.0f} s; pathfast's own pick: epoch {r.best_epoch})", flush=True)
            if a.out: Path(a.out).write_text('\n'.join(lines) + '\n')

if __name__ == '__main__': main()
