"""Why a weight average (EMA) leaves EfficientNet-Lite0 from scratch at the majority class: its averaged BatchNorm
statistics, or the averaged weights themselves? VALIDATION split only.

Trains one run as `train_run` does with the average forced on (pathfast turns it off for networks with depthwise
convolutions), and after every epoch scores on the validation split:
  raw      the raw weights (what the run would be validated with without the average)
  ema      the averaged weights with the averaged BatchNorm buffers (what `EMAWeights` validates)
  ema+bn   the averaged weights with BatchNorm statistics recomputed for them on training batches
           (`torch.optim.swa_utils.update_bn`, as SWA does)

    python bench/ema_bn.py --data-dir ../shared/data                       # EfficientNet-Lite0 from scratch, no augmentation
    python bench/ema_bn.py --aug                                            # with augmentation
    python bench/ema_bn.py --model cnn --precision auto                     # the custom CNN (no depthwise convolutions), for comparison
Results: bench/results/ema-bn-pneumoniamnist-28.md
"""
import argparse, copy, math, time, warnings
warnings.filterwarnings('ignore')
import torch, torch.nn.functional as F
from torch.optim.swa_utils import update_bn
from fastai.vision.all import Callback
import pathfast.train as T
from pathfast.core import Config, hardware
from pathfast.data import load_medmnist
from pathfast.train import RunSpec, train_run, EMAWeights

def _sized(x, size): return F.interpolate(x, size=(size, size), mode='bilinear', align_corners=False) if x.shape[-1] != size else x

def accuracy(model, dl, size):
    model.eval(); right = n = 0
    with torch.no_grad():
        for xb, yb in dl:
            right += (model(_sized(xb, size)).argmax(1) == yb).sum().item(); n += len(yb)
    return right / n

class Diag(Callback):
    "After each epoch (the average is in the model then): validation accuracy of the raw weights, the average, and the average with recomputed BatchNorm statistics"
    order = 90
    def __init__(self, size:int, n_batches:int): self.size, self.n_batches, self.rows = size, n_batches, []
    def after_epoch(self):
        ema_cb = next((c for c in self.learn.cbs if isinstance(c, EMAWeights)), None)
        if ema_cb is None or ema_cb.raw is None: return  # not a training epoch (fastai calls after_epoch in get_preds too)
        net = copy.deepcopy(self.learn.model).float()
        avg, raw = net.state_dict(), ema_cb.raw
        bad = sum(int((~torch.isfinite(v)).sum()) for v in avg.values() if v.dtype.is_floating_point)
        ratio = max(float((avg[k] / raw[k]).log().abs().max()) for k in avg if k.endswith('running_var'))
        row = dict(epoch=self.epoch + 1, ema=accuracy(net, self.dls.valid, self.size))
        t = time.perf_counter()
        update_bn((_sized(xb, self.size) for i, (xb, _) in zip(range(self.n_batches), self.dls.train)), net)
        row['ema+bn'], row['bn_s'] = accuracy(net, self.dls.valid, self.size), time.perf_counter() - t
        net.load_state_dict(ema_cb.raw)
        row['raw'] = accuracy(net, self.dls.valid, self.size)
        self.rows.append(row)
        print(f"epoch {row['epoch']}: raw {row['raw']:.4f}  ema {row['ema']:.4f}  ema+bn {row['ema+bn']:.4f}  (BN recomputed in {row['bn_s']:.1f} s); averaged state: {bad} non-finite values, running variances up to {math.exp(ratio):.3g}x off the raw ones", flush=True)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data-dir', default='../shared/data'); ap.add_argument('--model', default='efficientnet_lite0')
    ap.add_argument('--aug', action='store_true'); ap.add_argument('--seed', type=int, default=42)
    ap.add_argument('--epochs', type=int, default=6, help='what the 2-minute cap gives Lite0 on a 2-core CPU')
    ap.add_argument('--precision', default='fp32', help="what `auto` picks for depthwise networks on a CPU (bf16 only where the network has none)")
    ap.add_argument('--bn-batches', type=int, default=20, help='training batches that recompute the BatchNorm statistics')
    a = ap.parse_args()
    T._depthwise = lambda model: False  # force the average on, as before pathfast excluded depthwise networks; `auto` precision asks
    # the same question (fp32 for depthwise networks on a CPU), so the precision is a flag here, fp32 by default as the real runs
    data = load_medmnist('pneumoniamnist', 28, a.data_dir)
    cfg = Config(dataset='pneumoniamnist', size=28, epochs=a.epochs, seed=a.seed, pretrained=False, precision=a.precision)
    spec = RunSpec(a.model, False, a.aug)
    size = T.input_size(spec, data.size, cfg.resize)
    print(hardware(torch.device('cpu')), f'\n{spec.name}, {a.epochs} epochs, input {size} px, {a.precision}, seed {a.seed}')
    d = Diag(size, a.bn_batches)
    r = train_run(data, spec, cfg, cbs=[d])
    print('weight average (the rule):', r.options['ema'], '; best epoch by validation loss:', r.best_epoch)

if __name__ == '__main__': main()
