"""How well does the epoch-time probe (`train.epoch_seconds`) predict an epoch? Runs of the cpu preset's kind (1-minute cap)
on the real PneumoniaMNIST (28 px), one after another in ONE process, as `pathfast-report` runs its grid: for each, the
probe's per-step times, its estimate of an epoch, and the epochs' real mean time (training and validation, from the run's
own clock). The first run of a process is where the estimate was seen to be off (the report showed cnn-noaug planned at
61 epochs that trained for 42 s of its 60).

    python bench/probe_accuracy.py --data-dir ../shared/data [--runs cnn:noaug,cnn:aug,cnn:noaug] [--minutes 1] [--subset 2000]
    python bench/probe_accuracy.py --steps 34    # only the first 2 + 34 steps of a fresh process, each one's time
"""
import argparse, time, warnings
warnings.filterwarnings('ignore')
import torch
from pathfast import train
from pathfast.core import Config, hardware
from pathfast.data import load_medmnist, subset
from pathfast.train import RunSpec, train_run

class Timed(train._Probe):
    "The probe, keeping every step's time"
    def before_fit(self): super().before_fit(); self.times, self.last = [], time.perf_counter()
    def after_batch(self):
        now = time.perf_counter(); self.times.append(now - self.last); self.last = now
        Timed.seen = self
        super().after_batch()

class EpochClock(train.Callback):
    "Every real epoch's seconds (whole, and its training part) and its training steps' times; the probe's cancelled epoch never reaches `after_epoch`"
    order = -20
    def __init__(self): self.times, self.train, self.steps = [], [], []
    def before_epoch(self): self.t = self.last = time.perf_counter(); self.cur = []
    def after_batch(self):
        if self.training: now = time.perf_counter(); self.cur.append(now - self.last); self.last = now
    def before_validate(self): self.tv = time.perf_counter()
    def after_epoch(self):
        now = time.perf_counter(); self.times.append(now - self.t); self.train.append(self.tv - self.t); self.steps.append(self.cur)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data-dir', default='../shared/data'); ap.add_argument('--runs', default='cnn:noaug,cnn:aug,cnn:noaug')
    ap.add_argument('--minutes', type=float, default=1.)
    ap.add_argument('--steps', type=int, default=None, help="print the times of the first 2 + STEPS training steps of the custom CNN in this fresh process, nothing else")
    ap.add_argument('--subset', type=int, default=None, help='a stratified subset of at most this many train and val images, as the cpu preset takes (2000)')
    a = ap.parse_args()
    train._Probe = Timed
    data = load_medmnist('pneumoniamnist', 28, a.data_dir)
    if a.subset: data = subset(data, a.subset, seed=42)
    print(hardware(torch.device('cpu')))
    if a.steps:
        from pathfast.data import get_dls
        from pathfast.train import make_learner, speed_cbs, pick_precision
        dev = torch.device('cpu')
        learn = make_learner(RunSpec('cnn', False, False), get_dls(data, 128, False, dev, 'upright', seed=42), Config(dataset='pneumoniamnist', size=28, device='cpu'))
        learn.add_cbs(speed_cbs(dev, pick_precision(dev, 'auto', learn.model)))
        train.epoch_seconds(learn, 2, a.steps, 0.)
        return print('step ms:', ' '.join(f'{t * 1000:.0f}' for t in Timed.seen.times))
    print('| # | run | probe steps (ms: warm-up, then timed) | estimate s/epoch | epochs planned | real s/epoch (mean, min-max) | of which validation | real step ms (median) | trained s of the cap |')
    print('|---:|---|---|---:|---:|---:|---:|---:|---:|')
    for i, r in enumerate(a.runs.split(','), 1):
        model, aug = r.split(':')
        cfg = Config(dataset='pneumoniamnist', size=28, pretrained=False, device='cpu', budget_minutes=a.minutes)
        clock = EpochClock()
        res = train_run(data, RunSpec(model, False, aug == 'aug'), cfg, cbs=[clock])
        n = res.epochs  # evaluate's get_preds runs after_epoch once more: not an epoch
        ts, tr, p = clock.times[:n], clock.train[:n], Timed.seen
        med = sorted(t for e in clock.steps[:n] for t in e)[sum(map(len, clock.steps[:n])) // 2]
        steps = ' '.join(f'{t * 1000:.0f}' for t in p.times[:p.warm]) + ' | ' + ' '.join(f'{t * 1000:.0f}' for t in p.times[p.warm:])
        per = f"{sum(ts) / len(ts):.3f} ({min(ts):.2f}-{max(ts):.2f})"
        print(f"| {i} | {model}-{aug} | {steps} | {res.budget['epoch_seconds']:.3f} | {res.budget['epochs']} | {per} | {(sum(ts) - sum(tr)) / n:.3f} | {med * 1000:.0f} | "
              f"{res.train_seconds:.0f} of {a.minutes * 60:.0f} |", flush=True)

if __name__ == '__main__': main()
