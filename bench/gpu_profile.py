"""Where a pathfast epoch's time goes on a GPU: each run of `train_run` (the real callbacks: weight average, best
checkpoint, history, time limit, progress) with a fixed number of epochs, its wall time split into the training steps,
the validation and what comes between (per-epoch callbacks), each phase timed with a device synchronisation at its
edges; then the Python functions that took the most time in one run (cProfile). Each run also prints a fingerprint of
its history and test probabilities: under two versions of pathfast (`PYTHONPATH`), equal fingerprints mean the two
trained exactly alike. Prints; writes nothing.

    DATA_DIR=../shared/data python bench/gpu_profile.py               # real PneumoniaMNIST 28 px (36 steps per epoch)
    PYTHONPATH=OLD_CHECKOUT python bench/gpu_profile.py               # the same with another version of pathfast, to compare
    SYNTH=20000 python bench/gpu_profile.py                           # synthetic PathMNIST-like data, 64 px, 9 classes
    DEV=cpu EPOCHS=1 python bench/gpu_profile.py                      # a quick check of the script without a GPU

Environment: DEV (cuda), EPOCHS (4), MODELS (cnn), AUG (off,on), PROFILE (1: cProfile the last run), SYNTH (0: real data),
SYNCS (1: on a GPU, count the operations that make the CPU wait for the GPU, by where they are called, in the first run).
"""
import cProfile, collections, hashlib, io, json, os, pstats, tempfile, time, traceback, warnings
from pathlib import Path
import torch
from fastai.callback.core import Callback
from pathfast.core import Config
from pathfast.data import load_medmnist, load_npz, write_synthetic
from pathfast.train import RunSpec, train_run

dev = os.environ.get('DEV', 'cuda')
E, synth = int(os.environ.get('EPOCHS', 4)), int(os.environ.get('SYNTH', 0))
models, augs = os.environ.get('MODELS', 'cnn').split(','), [a == 'on' for a in os.environ.get('AUG', 'off,on').split(',')]

def sync():
    if dev.startswith('cuda'): torch.cuda.synchronize()

class Phases(Callback):
    "Seconds spent in training steps, in validation, and outside both (per-epoch callbacks, the loop), each epoch after the first"
    order = -100  # first at every event: the edges of the phases
    epochs = None
    def before_fit(self):
        if self.epochs is None: self.t = dict(train=0., valid=0., other=0.); self.e = 0; sync(); self.mark = time.perf_counter()
    def _lap(self, what):
        if self.epochs is not None: return  # the fit is over: `evaluate`'s predictions are not counted
        sync(); now = time.perf_counter()
        if self.e > 0: self.t[what] += now - self.mark  # the first epoch holds warm-up (cudnn autotuning, allocations)
        self.mark = now
    def before_train(self): self._lap('other')
    def after_train(self): self._lap('train')
    def before_validate(self): self._lap('other')
    def after_validate(self): self._lap('valid')
    def after_epoch(self): self.e += 1
    def after_fit(self): self._lap('other'); self.epochs = self.e if self.epochs is None else self.epochs

if synth:
    npz = write_synthetic(Path(tempfile.mkdtemp())/'pathmnist_64.npz', n=(synth, synth // 9, synth // 9), size=64, n_classes=9)
    data = load_npz(npz, flag='pathmnist', size=64)
else: data = load_medmnist('pneumoniamnist', 28, os.environ.get('DATA_DIR', '../shared/data'))
print(f"{dev}, {torch.cuda.get_device_name(0) if dev.startswith('cuda') else 'CPU'}; {data.flag} {data.size} px, "
      f"{len(data.splits['train'][1]):,} train images; {E} epochs per run; the first epoch of each run is left out", flush=True)
def sync_sites(run):
    "Run `run()` with PyTorch's sync debug mode on; the synchronising operations counted by their call site (innermost frames of pathfast, fastai, fastprogress, timm)"
    sites = collections.Counter()
    def show(message, category, filename, lineno, file=None, line=None):
        if 'synchroniz' not in str(message): return
        fr = [f for f in traceback.extract_stack()[:-1] if any(k in f.filename for k in ('pathfast', 'fastai', 'fastprogress', 'timm'))]
        sites[' <- '.join(f"{Path(f.filename).parent.name}/{Path(f.filename).name}:{f.lineno} {f.name}" for f in fr[::-1][:3])] += 1
    with warnings.catch_warnings():  # (puts the filters and showwarning back)
        warnings.simplefilter('always'); warnings.showwarning = show
        torch.cuda.set_sync_debug_mode('warn')
        try: res = run()
        finally: torch.cuda.set_sync_debug_mode(0)
    return res, sites

for m in models:
    for aug in augs:
        cfg = Config(dataset=data.flag, size=data.size, models=[m], epochs=E, device=dev, pretrained=False)
        ph, prof = Phases(), cProfile.Profile() if os.environ.get('PROFILE', '1') == '1' and (m, aug) == (models[-1], augs[-1]) else None
        if prof: prof.enable()
        go = lambda: train_run(data, RunSpec(m, False, aug), cfg, cbs=[ph])
        syncs = dev.startswith('cuda') and os.environ.get('SYNCS', '1') == '1' and (m, aug) == (models[0], augs[0])
        t = time.perf_counter(); r, sites = sync_sites(go) if syncs else (go(), None); wall = time.perf_counter() - t
        if prof: prof.disable()
        n, steps = ph.epochs - 1, r.budget['steps_per_epoch']
        tot = sum(ph.t.values())
        fp = hashlib.sha256(json.dumps([r.history, r.test_probs]).encode()).hexdigest()[:16]
        print(f"\n{r.run}: {wall:.1f} s for train_run (train_seconds {r.train_seconds:.1f}, {r.epochs} epochs); per epoch after the first: "
              f"{tot / n:.3f} s = training {ph.t['train'] / n:.3f} s ({ph.t['train'] / n / steps * 1000:.2f} ms per step, {steps} steps) + "
              f"validation {ph.t['valid'] / n:.3f} s + other {ph.t['other'] / n:.3f} s; fingerprint {fp}", flush=True)
        if sites is not None:  # (this run's timings include the debug mode's own cost)
            print(f"synchronising operations in {r.run}'s train_run (fit and test), by call site:", flush=True)
            for k, v in sites.most_common(25): print(f"  {v:6d}  {k}")
        if prof:
            s = io.StringIO(); pstats.Stats(prof, stream=s).sort_stats('tottime').print_stats(30)
            print(f"\ncProfile of {r.run}'s train_run, by own time (top 30):\n" + s.getvalue()[:9000], flush=True)
