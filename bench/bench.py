#!/usr/bin/env python
"""pathfast benchmark: training throughput of pathfast's pipeline against the standard fastai pipeline, a plain PyTorch
loop over medmnist's Dataset, and the model's own ceiling; then time to a good model on the real PneumoniaMNIST.

    python bench/bench.py                       # CPU defaults (~15 min on an idle 2-core machine)
    PYTHONPATH=. python bench/bench.py --gpu-full   # a GPU machine: the real 89,996-image PathMNIST-64 shape
    python bench/bench.py --models lite0 --skip-ttg --precision fp32 --out bench/results/NAME   # EfficientNet-Lite0's throughput only

Every contender trains the same model (same nn.Module class) at the same batch size, precision and number of timed
steps, after warm-up steps that are not timed. Each contender runs in its own process (so its peak memory is its own),
all started once; for each (augmentation, model) pair, `--repeats` rounds in which every contender in turn runs its
warm-up and one timed window, the order rotating, and a window during which other processes took CPU is measured again.
The median window is reported.
Results: bench/results/<device>.json and .md. See bench/README.md.
"""
import argparse, json, os, platform, re, shutil, statistics, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a copy of the repo with no pathfast installed

PATH_N_TRAIN, N_CLASSES, SIZE = 89_996, 9, 64  # PathMNIST-64: 89,996 train images, 64x64x3 uint8, 9 classes
CONTENDERS = {
    'pathfast': "pathfast's `get_dls` (one uint8 tensor, batches sliced from it, augmented per batch on the device) + `Learner` with pathfast's fused `AdamW` + `speed_cbs`",
    'fastai': 'the standard fastai pipeline: PNG files, `DataBlock(ImageBlock, CategoryBlock)`, `aug_transforms(flip_vert=True)`, default `num_workers`',
    'medmnist': "plain PyTorch: medmnist's `PathMNIST` Dataset + torchvision transforms + `DataLoader(num_workers=2)` + a hand-written Adam loop",
    'ceiling': "the same model stepping on one batch already on the device (no data pipeline), with pathfast's optimizer, memory format, precision and (CPU) allocator and tiny-map convolution settings",
}
LR = 1e-3
# The benchmark's models (`--models`): each is the same nn.Module in every contender, from random weights (weights do not
# change speed); as the markdown names them, and pathfast's backbone key for the backbones
MODELS = {'cnn': 'cnn', 'resnet': 'resnet', 'lite0': 'EfficientNet-Lite0'}
BACKBONES = {'resnet': 'resnet18', 'lite0': 'efficientnet_lite0'}
MODEL_NOTES = {
    'cnn': "`PathCNN(9)`",
    'resnet': "ResNet-18 as `vision_learner` builds it (fastai's `create_vision_model(resnet18, 9, pretrained=False)`; pathfast: `backbone_learner(dls, 'resnet18', pretrained=False)`, the same module)",
    'lite0': "EfficientNet-Lite0, random weights: pathfast's `backbone_model('efficientnet_lite0', 9, pretrained=False)` (efficientnet-lite-pytorch's body as `LiteBody` + fastai's head) in every contender (pathfast: `backbone_learner(dls, 'efficientnet_lite0', pretrained=False)`; fastai: `Learner(dls, model, splitter=...)` over it, what `vision_learner` would build)",
}
def model_name(m:str)->str: return MODELS.get(m, m)

# ---------------------------------------------------------------------------------------------------------- helpers
MARK = '@bench@ '  # starts a worker's lines to the orchestrator

def log(*a): print(*a, flush=True)
def wlog(msg): print(f"\n{MARK}{msg}", flush=True)

def _status_mib(key:str)->float|None:
    "A memory line of /proc/self/status (Linux), in MiB"
    try: return next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith(key + ':')) / 1024
    except (OSError, StopIteration): return None

def peak_rss_mib()->float:
    "This process's peak resident memory since the last `reset_peak_rss` (VmHWM), in MiB"
    import resource
    return _status_mib('VmHWM') or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def rss_mib()->float: return _status_mib('VmRSS') or float('nan')

def reset_peak_rss():
    "Linux: set the peak RSS back to the current RSS, so each measurement has its own peak"
    try: Path('/proc/self/clear_refs').write_text('5')
    except OSError: pass

def children_peak_mib()->float:
    "Largest peak RSS of any finished child process (DataLoader workers); shared pages count in both"
    import resource
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

def cpu_name()->str:
    from pathfast.core import hardware
    return hardware('cpu')['cpu']

def slug(s:str)->str: return re.sub(r'[^a-z0-9]+', '-', s.lower()).strip('-')

def device_slug(device:str)->str:
    import torch
    if device.startswith('cuda'):
        name = slug(torch.cuda.get_device_name(0))
        return f"cuda-{name if name.startswith('nvidia') else 'nvidia-' + name}"
    return f"cpu-{'-'.join(slug(cpu_name()).split('-')[:2])}-{os.cpu_count()}core"

def busy_percent(interval:float=1.0)->float:
    "System-wide CPU use over `interval` seconds (psutil; nan without it)"
    try: import psutil
    except ImportError: return float('nan')
    return psutil.cpu_percent(interval=interval)

def wait_idle(max_wait:float, threshold:float=20.)->dict:
    "Wait (up to `max_wait` s) until no one else is using the CPUs; returns what was seen"
    t0, pct = time.time(), busy_percent()
    while pct > threshold and time.time() - t0 < max_wait:
        log(f"   machine busy ({pct:.0f}% CPU, load {os.getloadavg()[0]:.2f}): waiting for it to go idle")
        time.sleep(15); pct = max(busy_percent(), busy_percent())
    return dict(cpu_busy_pct=pct, loadavg=[round(l, 2) for l in os.getloadavg()], waited_s=round(time.time() - t0, 1))

def cpu_busy_s()->float:
    "CPU seconds the whole machine has spent busy since boot (/proc/stat; nan elsewhere)"
    try: f = [int(v) for v in open('/proc/stat').readline().split()[1:]]
    except OSError: return float('nan')
    return (sum(f[:8]) - f[3] - f[4]) / os.sysconf('SC_CLK_TCK')  # all but idle and iowait

def tree_cpu_s(pid:int)->float:
    "CPU seconds used by process `pid`, its live children and its reaped ones (psutil; nan without it)"
    try: import psutil
    except ImportError: return float('nan')
    try:
        p = psutil.Process(pid)
        t = sum(p.cpu_times()[:4])
        for c in p.children(recursive=True):
            try: t += sum(c.cpu_times()[:2])
            except psutil.Error: pass
        return t
    except psutil.Error: return float('nan')

def sync(device):
    import torch
    if device.type == 'cuda': torch.cuda.synchronize(device)

def synthetic(n:int, seed:int=0):
    "Random uint8 images of PathMNIST-64's shape and int64 labels (speed does not depend on pixel values)"
    import torch
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 256, (n, SIZE, SIZE, 3), dtype=torch.uint8, generator=g),
            torch.randint(0, N_CLASSES, (n,), generator=g))

def make_model(model:str):
    "The exact nn.Module every contender trains: pathfast's PathCNN, fastai's ResNet-18 body + head (as `vision_learner` builds it), or EfficientNet-Lite0 body + fastai head"
    from pathfast.models import PathCNN, backbone_model
    if model == 'cnn': return PathCNN(N_CLASSES)
    if model == 'lite0': return backbone_model(BACKBONES[model], N_CLASSES, pretrained=False)[0]
    from fastai.vision.all import create_vision_model
    from torchvision.models import resnet18
    return create_vision_model(resnet18, N_CLASSES, pretrained=False)

def autocast_dtype(precision:str):
    import torch
    return {'bf16': torch.bfloat16, 'fp16': torch.float16}.get(precision)

def plain_step(model, device, precision:str, opt=None):
    "One hand-written training step: `opt` (default torch's Adam), cross entropy, autocast at `precision` (GradScaler for fp16)"
    import torch
    from torch import nn
    opt = opt or torch.optim.Adam(model.parameters(), lr=LR)
    lf, dtype = nn.CrossEntropyLoss(), autocast_dtype(precision)
    scaler = torch.amp.GradScaler('cuda') if precision == 'fp16' else None
    model.train()
    def step(x, y):
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None): loss = lf(model(x), y)
        opt.zero_grad(set_to_none=True)
        if scaler: scaler.scale(loss).backward(); scaler.step(opt); scaler.update()
        else: loss.backward(); opt.step()
    return step

# ------------------------------------------------------------------------------------------- timing in windows
class Clock:
    "Marks the end of the warm-up and of each of `repeats` windows of `steps` training steps (device synced at each mark)"
    def __init__(self, device, warmup:int, steps:int, repeats:int):
        self.device, self.warmup, self.steps, self.repeats, self.n, self.marks = device, warmup, steps, repeats, 0, []
    def start(self): sync(self.device); self.t0 = time.perf_counter()
    def tick(self)->bool:
        "Count one finished step; True when every window is done"
        self.n += 1
        k = self.n - self.warmup
        if k >= 0 and k % self.steps == 0: sync(self.device); self.marks.append(time.perf_counter())
        return len(self.marks) == self.repeats + 1
    def result(self, bs:int)->dict:
        if len(self.marks) < self.repeats + 1:
            raise RuntimeError(f"only {self.n} steps ran: the loader ran out before {self.warmup + self.steps*self.repeats}")
        ips = [self.steps * bs / (b - a) for a, b in zip(self.marks, self.marks[1:])]
        return dict(img_s=statistics.median(ips), img_s_windows=[round(i, 2) for i in ips],
                    warmup_s=round(self.marks[0] - self.t0, 3))

def fastai_clock_cb(clock:Clock):
    from fastai.vision.all import Callback, CancelFitException
    class ClockCB(Callback):
        "Times training batches with `clock`; stops the fit when every window is done"
        order = 100
        def before_fit(self): clock.start()
        def after_batch(self):
            if self.training and clock.tick(): raise CancelFitException
    return ClockCB()

def loop_clock(batches, step, clock:Clock):
    clock.start()
    for x, y in batches:
        step(x, y)
        if clock.tick(): break

# ------------------------------------------------------------------------------------------- the four contenders
# `prepare_*` builds a contender's data pipeline for one augmentation setting; `build_*` the model and its loop on it,
# returned as a function that trains through one `Clock` (warm-up steps, then timed windows).
def prepare_pathfast(spec, augment:bool):
    from pathfast.data import MedData, get_dls
    x, y = synthetic(spec['n_train'])
    xv, yv = synthetic(spec['bs'], seed=1)
    data = MedData('pathmnist', SIZE, [str(i) for i in range(N_CLASSES)], {'train': (x, y), 'val': (xv, yv), 'test': (xv, yv)})
    return data, get_dls(data, spec['bs'], augment, spec['torch_device'])

def build_pathfast(spec, model:str, prep, compile:bool=False):
    from pathfast.models import cnn_learner, backbone_learner
    from pathfast.train import speed_cbs
    data, dls = prep
    learn = cnn_learner(dls) if model == 'cnn' else backbone_learner(dls, BACKBONES[model], pretrained=False)
    learn.add_cbs(speed_cbs(spec['torch_device'], spec['precision'], spec['channels_last']))
    if compile: learn.model.compile()
    return lambda clock: learn.fit_one_cycle(1, LR, cbs=fastai_clock_cb(clock))

def prepare_fastai(spec, augment:bool):
    from fastai.vision.all import (DataBlock, ImageBlock, CategoryBlock, get_image_files, parent_label, GrandparentSplitter,
                                   aug_transforms, Normalize, imagenet_stats)
    tfms = [*(aug_transforms(flip_vert=True) if augment else []), Normalize.from_stats(*imagenet_stats)]
    dblock = DataBlock(blocks=(ImageBlock, CategoryBlock), get_items=get_image_files, get_y=parent_label,
                       splitter=GrandparentSplitter(train_name='train', valid_name='valid'), batch_tfms=tfms)
    return dblock.dataloaders(spec['png_root'], bs=spec['bs'], device=spec['torch_device'])  # default num_workers

def build_fastai(spec, model:str, dls):
    from fastai.vision.all import Learner, vision_learner, accuracy
    from torchvision.models import resnet18
    from pathfast.models import PathCNN, backbone_model
    if model == 'cnn': learn = Learner(dls, PathCNN(dls.c), metrics=accuracy)
    elif model == 'resnet': learn = vision_learner(dls, resnet18, pretrained=False, metrics=accuracy)
    else:  # what vision_learner builds for a body it has no entry for: body + fastai head, split, not frozen (random weights)
        m, split = backbone_model(BACKBONES[model], dls.c, pretrained=False)
        learn = Learner(dls, m, splitter=split, metrics=accuracy)
    if spec['precision'] == 'bf16': learn.to_bf16()
    elif spec['precision'] == 'fp16': learn.to_fp16()
    return lambda clock: learn.fit_one_cycle(1, LR, cbs=fastai_clock_cb(clock))

def prepare_medmnist(spec, augment:bool):
    import medmnist
    from torchvision import transforms as T
    from fastai.vision.all import imagenet_stats
    class BenchPathMNIST(medmnist.PathMNIST):
        "medmnist's PathMNIST on the synthetic npz: only its check of the length against the official count is bypassed"
        def __len__(self): return self.imgs.shape[0]
    tfms = [T.RandomHorizontalFlip(), T.RandomVerticalFlip(), T.RandomRotation(10)] if augment else []
    tfm = T.Compose([*tfms, T.ToTensor(), T.Normalize(*imagenet_stats)])
    cls = medmnist.PathMNIST if spec['n_train'] == PATH_N_TRAIN else BenchPathMNIST
    return cls(split='train', root=spec['npz_root'], size=SIZE, as_rgb=True, transform=tfm)

def build_medmnist(spec, model:str, ds):
    from torch.utils.data import DataLoader
    dev = spec['torch_device']
    m = make_model(model).to(dev)
    step = plain_step(m, dev, spec['precision'])
    dl = DataLoader(ds, batch_size=spec['bs'], shuffle=True, num_workers=spec['medmnist_workers'], drop_last=True,
                    pin_memory=dev.type == 'cuda')
    def run(clock):
        batches = ((x.to(dev, non_blocking=True), y.squeeze(1).to(dev, non_blocking=True)) for x, y in dl)
        loop_clock(batches, step, clock)
    return run

def prepare_ceiling(spec, augment:bool): return None

def build_ceiling(spec, model:str, _):
    import itertools, torch
    from fastai.vision.all import imagenet_stats
    dev = spec['torch_device']
    x, y = synthetic(spec['bs'])
    mean, std = (torch.tensor(s).view(1, 3, 1, 1) for s in imagenet_stats)
    x, y = ((x.permute(0, 3, 1, 2).float() / 255 - mean) / std).to(dev), y.to(dev)
    m = make_model(model).to(dev)
    if spec['channels_last']: m, x = m.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    if dev.type == 'cpu':  # the process settings pathfast's speed_cbs makes on a CPU
        import pathfast.train
        pathfast.train.tune_malloc()
        pathfast.train.use_small_convs(m)
    from pathfast.models import adamw  # pathfast's optimizer
    step = plain_step(m, dev, spec['precision'], adamw([list(m.parameters())], lr=LR))
    return lambda clock: loop_clock(itertools.repeat((x, y)), step, clock)

RUNNERS = {'pathfast': (prepare_pathfast, build_pathfast), 'fastai': (prepare_fastai, build_fastai),
           'medmnist': (prepare_medmnist, build_medmnist), 'ceiling': (prepare_ceiling, build_ceiling),
           'pathfast+compile': (prepare_pathfast, lambda *a: build_pathfast(*a, compile=True))}

def serve(conn, spec:dict, log_path:str):
    """A contender's own process: builds its pipeline and model when asked for a new (augmentation, model) pair, and
    answers each request with one measurement (warm-up steps, then one timed window)"""
    import gc, multiprocessing, traceback, warnings
    sys.stdout = sys.stderr = open(log_path, 'w', buffering=1)  # fastai's progress bars go to the log
    warnings.filterwarnings('ignore')
    multiprocessing.set_start_method(None, force=True)  # DataLoader workers start as users' do (spawn set it to spawn)
    try:
        import torch, fastai.vision.all, medmnist, torchvision, pathfast.data, pathfast.models, pathfast.train  # before any memory is measured
        dev = spec['torch_device'] = torch.device(spec['device'])
        torch.manual_seed(0)
        prepare, build = RUNNERS[spec['contender']]
    except Exception: conn.send(('error', traceback.format_exc())); return
    conn.send(('ready', None))
    key, prep, run = None, None, None
    while (cmd := conn.recv()) is not None:
        try:
            if (cmd['augment'], cmd['model']) != key:
                run = None
                if key is None or key[0] != cmd['augment']: prep = None
                gc.collect(); reset_peak_rss(); base = rss_mib()
                if dev.type == 'cuda': torch.cuda.reset_peak_memory_stats(dev)
                t = time.perf_counter()
                if prep is None: prep = prepare(spec, cmd['augment'])
                run = build(spec, cmd['model'], prep)
                key, setup_s, setup_mib = (cmd['augment'], cmd['model']), time.perf_counter() - t, rss_mib() - base
            clock = Clock(dev, cmd['warmup'], cmd['steps'], 1)
            load = [round(l, 2) for l in os.getloadavg()]
            run(clock)
            r = clock.result(spec['bs'])
            conn.send(('ok', dict(img_s=r['img_s'], warmup_s=r['warmup_s'], setup_s=round(setup_s, 2), setup_rss_mib=round(setup_mib, 1),
                                  host_base_mib=round(base, 1), host_peak_mib=round(peak_rss_mib(), 1),
                                  workers_peak_mib=round(children_peak_mib(), 1) if spec['contender'] in ('fastai', 'medmnist') else None,
                                  gpu_peak_mib=round(torch.cuda.max_memory_allocated(dev) / 2**20, 1) if dev.type == 'cuda' else None,
                                  loadavg=load)))
        except Exception: conn.send(('error', traceback.format_exc()))

class Contender:
    "The orchestrator's handle on one contender's process"
    def __init__(self, name:str, spec:dict, tmp:Path):
        import multiprocessing as mp
        self.name, self.log, self.error = name, tmp/f"{name.replace('+', '_')}.log", None
        ctx = mp.get_context('spawn')  # a fresh interpreter: nothing shared with the orchestrator or the other contenders
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=serve, args=(child, dict(spec, contender=name), str(self.log)))
        self.proc.start()
    def _answer(self):
        try: status, res = self.conn.recv()
        except (EOFError, OSError): status, res = 'error', f"the process died (exit {self.proc.exitcode}); see its log"
        if status != 'error': return res
        self.error = res.strip().splitlines()[-1]
        log(f"   !! {self.name}: " + '\n      '.join(res.strip().splitlines()[-12:]))
    def wait_ready(self): self._answer()
    def measure(self, **cmd):
        "One measurement, with the share of the machine's CPUs that other processes used meanwhile (`foreign`)"
        if self.error: return None
        busy, mine, t = cpu_busy_s(), tree_cpu_s(self.proc.pid), time.perf_counter()
        self.conn.send(cmd)
        res = self._answer()
        if res is not None:
            wall = time.perf_counter() - t
            f = ((cpu_busy_s() - busy) - (tree_cpu_s(self.proc.pid) - mine)) / (wall * os.cpu_count())
            res['foreign'] = round(max(0., f), 3) if f == f else None  # None: not measurable here (no /proc/stat or psutil)
        return res
    def close(self):
        try: self.conn.send(None)
        except OSError: pass
        self.proc.join(30)
        if self.proc.is_alive(): self.proc.kill()

def throughput(a, contenders:list, models:list, augments:list, spec:dict, compile_models:list, tmp:Path, errors:list)->list:
    """Every contender in its own process, all started once; for each (augmentation, model) pair, `repeats` rounds in
    which each contender in turn (the order rotating every round) runs its warm-up steps and one timed window, so a slow
    spell of the machine hits every contender alike. The median window is reported."""
    procs = {c: Contender(c, spec, tmp) for c in contenders}
    for p in procs.values(): p.wait_ready()
    rows = []
    try:
        for augment in augments:
            for model in models:
                names = [c for c in contenders if not procs[c].error and (c != 'pathfast+compile' or model in compile_models)]
                state = wait_idle(a.idle_wait) if a.idle_wait else dict(loadavg=[round(l, 2) for l in os.getloadavg()])
                w, s = getattr(a, f'warmup_{model}'), getattr(a, f'steps_{model}')
                got = {c: [] for c in names}
                for r in range(a.repeats):
                    for c in names[r % len(names):] + names[:r % len(names)]:
                        for retry in range(4):  # measure again when other processes took a share of the CPUs meanwhile
                            res = procs[c].measure(model=model, augment=augment, warmup=w, steps=s)
                            if res is None or (res['foreign'] or 0) <= a.max_foreign or retry == 3: break
                            log(f"   ({c} {model}: other processes used {res['foreign']:.0%} of the CPUs during the window: again)")
                            if a.idle_wait: wait_idle(a.idle_wait)
                        if res: res['retries'] = retry; got[c].append(res)
                for c in names:
                    m = got[c]
                    if len(m) < a.repeats:
                        errors.append(f"{c} {model} augment={augment}: {procs[c].error or 'failed'}"); continue
                    ips = [x['img_s'] for x in m]
                    rows.append(dict(contender=c, model=model, augment=augment, img_s=statistics.median(ips),
                                     img_s_windows=[round(i, 2) for i in ips], sec_per_epoch=PATH_N_TRAIN / statistics.median(ips),
                                     warmup_s=[x['warmup_s'] for x in m], setup_s=m[0]['setup_s'], setup_rss_mib=m[0]['setup_rss_mib'],
                                     train_data_mib=round(spec['n_train'] * SIZE * SIZE * 3 / 2**20, 1),
                                     host_base_mib=m[0]['host_base_mib'], host_peak_mib=max(x['host_peak_mib'] for x in m),
                                     workers_peak_mib=m[-1]['workers_peak_mib'], gpu_peak_mib=m[-1]['gpu_peak_mib'],
                                     warmup=w, steps=s, repeats=a.repeats, loadavg=[x['loadavg'] for x in m], machine_before=state,
                                     foreign_cpu=[x['foreign'] for x in m], retries=sum(x['retries'] for x in m)))
                    log(f"   {c:>16} {model:>6} aug={'on ' if augment else 'off'} {rows[-1]['img_s']:8.1f} img/s  windows "
                        f"{[round(i) for i in ips]}  host peak {rows[-1]['host_peak_mib']:.0f} MiB")
    finally:
        for p in procs.values(): p.close()
    return rows

# ------------------------------------------------------------------------------------------- time to a good model
def worker_ttg_pathfast(spec)->dict:
    """pathfast's recipe (`train_run`: PathCNN, fit_one_cycle, pathfast dls, `speed_cbs`) until valid accuracy >= target,
    once per one-cycle length in `spec['epochs']` (a one-cycle schedule is fixed in advance, so each length is its own run)"""
    import torch, warnings
    warnings.filterwarnings('ignore')
    from fastai.vision.all import Callback, CancelFitException, Recorder
    from pathfast.core import Config
    from pathfast.data import load_medmnist
    from pathfast.train import RunSpec, train_run
    dev = torch.device(spec['device'])
    class Target(Callback):
        order = Recorder.order + 2  # after Recorder and pathfast's History have the epoch's numbers
        def __init__(self): self.t, self.on, self.curve = None, False, []
        def before_fit(self):
            if self.t is None: sync(dev); self.t = time.perf_counter()
        # train_run's evaluation (get_preds) fires fit and epoch events too, but never before_train
        def before_train(self): self.on = True
        def after_fit(self): self.on = False
        def after_epoch(self):
            if not self.on: return
            sync(dev)
            self.curve.append(dict(epoch=len(self.curve) + 1, seconds=round(time.perf_counter() - self.t, 3),
                                   valid_acc=float(self.recorder.values[-1][2])))
            if self.curve[-1]['valid_acc'] >= spec['target']: raise CancelFitException
    def once(epochs):
        t0 = time.perf_counter()
        cfg = Config(dataset='pneumoniamnist', size=28, models=['cnn'], epochs=epochs, device=spec['device'], seed=spec['seed'],
                     precision=spec.get('precision', 'auto'))
        data = load_medmnist('pneumoniamnist', 28, data_dir=spec['data_dir'], download=False)
        tgt = Target()
        res = train_run(data, RunSpec('cnn', False, spec['augment']), cfg, cbs=[tgt])
        return dict(one_cycle_epochs=epochs, curve=tgt.curve, setup_s=round(tgt.t - t0, 2), test_acc=res.metrics['accuracy'],
                    test_auc=res.metrics['auc'], precision=res.precision, **_reached(tgt.curve, spec['target']))
    runs = []
    for epochs in spec['epochs']:
        runs.append(once(epochs))
        r = runs[-1]
        wlog(f"pathfast fit_one_cycle({epochs}): " + (f"valid acc {r['best_valid_acc']:.4f} >= {spec['target']} after {r['seconds_to_target']:.1f} s"
            if r['reached'] else f"best valid acc {r['best_valid_acc']:.4f}, below {spec['target']}") + f", test acc {r['test_acc']:.4f}")
    best = next((r for r in runs if r['reached']), max(runs, key=lambda r: r['best_valid_acc']))
    return dict(recipe='pathfast', runs=runs, host_peak_mib=round(peak_rss_mib(), 1),
                **_repeat(best, lambda: once(best['one_cycle_epochs']), spec['repeats']))

def _repeat(first:dict, again, repeats:int)->dict:
    "`first` plus `repeats`-1 more runs of the same recipe: seconds to target (and the best's time) become the median"
    tries = [first] + [again() for _ in range(repeats - 1)]
    res = dict(first)
    for k in ('seconds_to_target', 'best_at_s'):
        vals = [t[k] for t in tries if t[k] is not None]
        res[k] = statistics.median(vals) if vals else None
        res[k + '_tries'] = [t[k] for t in tries]
    res['reached'] = all(t['reached'] for t in tries)
    return res

def worker_ttg_seeds(spec)->dict:
    "The seeds' recipe: same PathCNN, Adam at a fixed 1e-3, no schedule, medmnist Dataset + torchvision transforms + DataLoader"
    import torch, medmnist, warnings
    warnings.filterwarnings('ignore')
    from torch.utils.data import DataLoader
    from torchvision import transforms as T
    from pathfast.models import PathCNN
    dev = torch.device(spec['device'])
    t0 = time.perf_counter()
    tfm = T.Compose([T.ToTensor(), T.Normalize(mean=[.5], std=[.5])])  # medmnist's getting-started transforms
    ds = {s: medmnist.PneumoniaMNIST(split=s, root=spec['data_dir'], size=28, as_rgb=True, transform=tfm) for s in ('train', 'val', 'test')}
    dls = {s: DataLoader(d, batch_size=spec['bs'], shuffle=s == 'train', num_workers=spec['medmnist_workers'])
           for s, d in ds.items()}
    setup = time.perf_counter() - t0
    def once():
        torch.manual_seed(spec['seed'])
        model = PathCNN(2).to(dev)
        step = plain_step(model, dev, 'fp32')
        def acc(dl):
            model.eval(); right = 0
            with torch.no_grad():
                for x, y in dl: right += (model(x.to(dev)).argmax(1).cpu() == y.squeeze(1)).sum().item()
            model.train()
            return right / len(dl.dataset)
        sync(dev); t, curve = time.perf_counter(), []
        for e in range(spec['cap']):
            for x, y in dls['train']: step(x.to(dev, non_blocking=True), y.squeeze(1).to(dev, non_blocking=True))
            va = acc(dls['val'])  # validation counts too, as in pathfast's fit
            sync(dev); curve.append(dict(epoch=e + 1, seconds=round(time.perf_counter() - t, 3), valid_acc=va))
            if va >= spec['target']: break
        return dict(curve=curve, setup_s=round(setup, 2), test_acc=acc(dls['test']), precision='fp32', **_reached(curve, spec['target']))
    first = once()
    wlog("seeds: " + (f"valid acc {first['best_valid_acc']:.4f} >= {spec['target']} after {first['seconds_to_target']:.1f} s"
         if first['reached'] else f"best valid acc {first['best_valid_acc']:.4f}") + f", test acc {first['test_acc']:.4f}")
    return dict(recipe='seeds', host_peak_mib=round(peak_rss_mib(), 1), **_repeat(first, once, spec['repeats']))

def _reached(curve, target)->dict:
    hit = next((c for c in curve if c['valid_acc'] >= target), None)
    best = max(curve, key=lambda c: c['valid_acc'])
    return dict(reached=hit is not None, seconds_to_target=hit['seconds'] if hit else None,
                epochs_to_target=hit['epoch'] if hit else None, best_valid_acc=best['valid_acc'], best_at_s=best['seconds'])

def worker_precision(spec)->dict:
    "pathfast's recipe for a fixed number of epochs in fp32 and in bf16: test accuracy and training time of each"
    import warnings
    warnings.filterwarnings('ignore')
    from pathfast.core import Config
    from pathfast.data import load_medmnist
    from pathfast.train import RunSpec, train_run
    data = load_medmnist('pneumoniamnist', 28, data_dir=spec['data_dir'], download=False)
    out = {}
    for p in ('fp32', 'bf16'):
        cfg = Config(dataset='pneumoniamnist', size=28, models=['cnn'], epochs=spec['epochs'], device=spec['device'], seed=spec['seed'], precision=p)
        r = train_run(data, RunSpec('cnn', False, spec['augment']), cfg)
        out[p] = dict(test_acc=r.metrics['accuracy'], test_auc=r.metrics['auc'], valid_acc=r.valid_metrics['accuracy'],
                      train_seconds=round(r.train_seconds, 2))
        wlog(f"{p}: test acc {out[p]['test_acc']:.4f}, {out[p]['train_seconds']:.1f} s")
    return out

def worker_small_convs(spec)->dict:
    """The ResNet-18 in pathfast's recipe (from scratch, same seed) with and without `SmallConvs` (CPU only): test accuracy
    and training time of each"""
    import warnings
    warnings.filterwarnings('ignore')
    import pathfast.train
    from pathfast.core import Config
    from pathfast.data import load_medmnist
    data = load_medmnist('pneumoniamnist', 28, data_dir=spec['data_dir'], download=False)
    use = pathfast.train.use_small_convs
    out = {}
    for on in (True, False):
        # `speed_cbs` always adds `SmallConvs` on a CPU; for the stock run its switch is made a no-op
        pathfast.train.use_small_convs = use if on else (lambda model, on=True: 0)
        # resize=None: at the data's own 28 px, as before backbones were enlarged to 64 px by default
        cfg = Config(dataset='pneumoniamnist', size=28, models=['resnet18:scratch'], epochs=spec['epochs'], device='cpu', seed=spec['seed'],
                     pretrained=False, resize=None, precision='fp32')  # fp32, as the page says, on a bf16 CPU too
        r = pathfast.train.train_run(data, pathfast.train.RunSpec('resnet18', False, spec['augment']), cfg)
        k = 'dense' if on else 'stock'
        out[k] = dict(test_acc=r.metrics['accuracy'], test_auc=r.metrics['auc'], valid_acc=r.valid_metrics['accuracy'],
                      train_seconds=round(r.train_seconds, 2), seconds_per_epoch=round(r.seconds_per_epoch, 2))
        wlog(f"small convs {k}: test acc {out[k]['test_acc']:.4f}, {out[k]['train_seconds']:.1f} s")
    pathfast.train.use_small_convs = use
    return out

WORKERS = {'ttg_pathfast': worker_ttg_pathfast, 'ttg_seeds': worker_ttg_seeds,
           'precision': worker_precision, 'small_convs': worker_small_convs}

# ------------------------------------------------------------------------------------------- orchestration
def write_inputs(root:Path, n_train:int, bs:int, need_png:bool, need_npz:bool):
    "The synthetic set on disk, once: a MedMNIST-format npz (for medmnist's Dataset) and PNG files (for the fastai DataBlock)"
    import numpy as np
    x, y = synthetic(n_train)
    xv, yv = synthetic(2 * bs, seed=1)
    if need_npz:
        t = time.perf_counter()
        lab = lambda v: v.numpy().astype(np.uint8)[:, None]
        with open(root/'pathmnist_64.npz', 'wb') as f:
            np.savez(f, train_images=x.numpy(), train_labels=lab(y), val_images=xv.numpy(), val_labels=lab(yv),
                     test_images=xv.numpy(), test_labels=lab(yv))
        log(f"   wrote {root/'pathmnist_64.npz'} in {time.perf_counter() - t:.1f} s")
    if need_png:
        t = time.perf_counter()
        _write_pngs(root/'png'/'train', x.numpy(), y.numpy())
        _write_pngs(root/'png'/'valid', xv.numpy(), yv.numpy())
        log(f"   wrote {n_train + len(yv)} PNG files under {root/'png'} in {time.perf_counter() - t:.1f} s")

_PNG = {}
def _png_chunk(args):
    from PIL import Image
    d, lo, hi = args
    x, y = _PNG['x'], _PNG['y']
    for i in range(lo, hi): Image.fromarray(x[i]).save(d/str(int(y[i]))/f'{i}.png')

def _write_pngs(d:Path, x, y):
    import multiprocessing as mp
    for c in range(N_CLASSES): (d/str(c)).mkdir(parents=True, exist_ok=True)
    _PNG.update(x=x, y=y)
    chunks = [(d, lo, min(lo + 2048, len(y))) for lo in range(0, len(y), 2048)]
    with mp.get_context('fork').Pool(os.cpu_count()) as pool: pool.map(_png_chunk, chunks)
    _PNG.clear()

def run_worker(kind:str, spec:dict, tmp:Path, a)->tuple:
    """Run one worker in a fresh Python process; returns (result, error line). Run again (twice at most) when other
    processes took more than `a.max_foreign` of the CPUs meanwhile"""
    import resource
    name = f"{kind}-{spec.get('recipe', '')}"
    sp, out, lg = tmp/f'{name}.spec.json', tmp/f'{name}.out.json', tmp/f'{name}.log'
    sp.write_text(json.dumps(spec))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get('PYTHONPATH')])),
               PYTHONWARNINGS='ignore')
    for retry in range(3):
        state = wait_idle(a.idle_wait) if a.idle_wait else dict(loadavg=[round(l, 2) for l in os.getloadavg()])
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        busy, t = cpu_busy_s(), time.perf_counter()
        with open(lg, 'w') as f:
            rc = subprocess.run([sys.executable, __file__, '--worker', kind, str(sp), str(out)], stdout=f, stderr=subprocess.STDOUT,
                                env=env, cwd=ROOT).returncode
        wall, ru2 = time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN)
        mine = ru2.ru_utime + ru2.ru_stime - ru.ru_utime - ru.ru_stime  # the worker and its reaped children
        f = ((cpu_busy_s() - busy) - mine) / (wall * os.cpu_count())
        state['foreign'] = round(max(0., f), 3) if f == f else None
        for l in lg.read_text().split('\n'):  # the worker's own lines, cut out of fastai's progress-bar output
            if MARK in l: log('   ' + l[l.index(MARK) + len(MARK):])
        if rc != 0 or not out.exists():
            tail = lg.read_text().strip().splitlines()[-15:]
            log(f"   !! {name} failed (exit {rc}):\n      " + '\n      '.join(tail))
            return None, f"{name} failed (exit {rc}): {tail[-1] if tail else ''}"
        log(f"   ({name}: {wall:.0f} s; other processes used {state['foreign'] or 0:.0%} of the CPUs meanwhile)")
        if (state['foreign'] or 0) <= a.max_foreign: break
        if retry < 2: log(f"   (running {name} again)")
    res = json.loads(out.read_text())
    res['machine'], res['retries'] = state, retry
    return res, None

def presets(a):
    gpu = a.gpu_full
    d = dict(n_train=PATH_N_TRAIN if gpu else 4096, bs=128, repeats=3 if gpu else 5,
             warmup_cnn=10 if gpu else 4, steps_cnn=50 if gpu else 8, warmup_resnet=10 if gpu else 2, steps_resnet=30 if gpu else 4,
             compile='cnn,resnet' if gpu else '', idle_wait=0 if gpu else 600)
    for k, v in d.items():
        if getattr(a, k) is None: setattr(a, k, v)
    if a.warmup_lite0 is None: a.warmup_lite0 = a.warmup_resnet  # EfficientNet-Lite0: the ResNet's settings unless told
    if a.steps_lite0 is None: a.steps_lite0 = a.steps_resnet
    return a

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--gpu-full', action='store_true', help="GPU preset: all 89,996 images, 50/30 timed steps, torch.compile on both models")
    p.add_argument('--device', default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument('--n-train', type=int, help="synthetic training images (CPU default 4096: only steps/s matter, epochs are extrapolated)")
    p.add_argument('--bs', type=int, help="batch size for every contender (default 128, pathfast's)")
    p.add_argument('--repeats', type=int, help="rounds, each one timed window per contender; the median window is reported (CPU default 5, --gpu-full 3)")
    p.add_argument('--warmup-cnn', type=int); p.add_argument('--steps-cnn', type=int)
    p.add_argument('--warmup-resnet', type=int); p.add_argument('--steps-resnet', type=int)
    p.add_argument('--warmup-lite0', type=int, help="(default: --warmup-resnet's)"); p.add_argument('--steps-lite0', type=int, help="(default: --steps-resnet's)")
    p.add_argument('--models', default='cnn,resnet', help=f"comma-separated, of {', '.join(MODELS)} (lite0: EfficientNet-Lite0; default cnn,resnet)")
    p.add_argument('--augment', default='off,on', help="off, on or off,on")
    p.add_argument('--precision', default='auto', choices=('auto', 'fp32', 'bf16', 'fp16'),
                   help="every contender's precision (default auto: bf16 on a GPU or a CPU with native bf16, else fp32)")
    p.add_argument('--contenders', default=','.join(CONTENDERS))
    p.add_argument('--compile', help="models also timed with pathfast + torch.compile, e.g. cnn (CPU default none; --gpu-full: cnn,resnet)")
    p.add_argument('--no-channels-last', action='store_true', help="pathfast and the ceiling without channels-last")
    p.add_argument('--medmnist-workers', type=int, default=2, help="DataLoader workers of the plain PyTorch loops (as users write)")
    p.add_argument('--skip-ttg', action='store_true', help="skip the time-to-a-good-model runs")
    p.add_argument('--skip-throughput', action='store_true')
    p.add_argument('--data-dir', default=str(ROOT.parent/'shared'/'data'), help="where pneumoniamnist.npz is")
    p.add_argument('--target', type=float, default=0.95, help="valid accuracy that counts as a good model")
    p.add_argument('--ttg-epochs', default='1,2,3', help="one-cycle lengths pathfast tries in the time-to-target run; the shortest that reaches the target counts")
    p.add_argument('--ttg-repeats', type=int, default=3, help="runs of each recipe (same seed); seconds to target is their median")
    p.add_argument('--ttg-cap', type=int, default=10, help="most epochs the seeds' recipe gets")
    p.add_argument('--ttg-augment', action='store_true', help="pathfast's time-to-target run with augmentation (default off)")
    p.add_argument('--seed', type=int, default=42)
    p.add_argument('--small-convs-epochs', type=int, default=3, help="epochs of each ResNet run in the tiny-map convolutions on/off comparison (CPU)")
    p.add_argument('--max-foreign', type=float, default=0.1, help="redo a timed window (up to 3 times) when other processes used more than this share of the CPUs")
    p.add_argument('--idle-wait', type=float, help="seconds to wait for idle CPUs before each (augmentation, model) pair and each retry (CPU default 600, --gpu-full 0)")
    p.add_argument('--out', default=None, help="results path without extension (default bench/results/<device>)")
    p.add_argument('--render', metavar='JSON', help="only write the .md of an earlier results JSON again")
    p.add_argument('--worker', nargs=3, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.render:
        path = Path(a.render)
        path.with_suffix('.md').write_text(markdown(json.loads(path.read_text())))
        return log(f"wrote {path.with_suffix('.md')}")
    if a.worker:
        kind, sp, out = a.worker
        res = WORKERS[kind](json.loads(Path(sp).read_text()))
        Path(out).write_text(json.dumps(res))
        return
    import warnings
    warnings.filterwarnings('ignore', category=FutureWarning)
    os.environ.setdefault('PYTHONWARNINGS', 'ignore')  # for the contenders' processes
    import torch
    a = presets(a)
    device = a.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if device.startswith('cuda') and not torch.cuda.is_available(): sys.exit("bench: --device cuda but no CUDA GPU here")
    if a.gpu_full and not device.startswith('cuda'): log("bench: --gpu-full on a CPU: this will take hours; Ctrl-C and drop the flag")
    from pathfast.core import versions
    from pathfast.train import pick_precision, cpu_has_bf16
    precision = pick_precision(torch.device(device), a.precision)
    models, augments = a.models.split(','), [s == 'on' for s in a.augment.split(',')]
    if bad := [m for m in models if m not in MODELS]: sys.exit(f"bench: unknown model(s) {','.join(bad)} in --models: use {', '.join(MODELS)}")
    contenders = a.contenders.split(',')
    compile_models = [m for m in (a.compile or '').split(',') if m]
    if compile_models: contenders.insert(contenders.index('pathfast') + 1 if 'pathfast' in contenders else 0, 'pathfast+compile')
    need = max(getattr(a, f'warmup_{m}') + getattr(a, f'steps_{m}') for m in models) * a.bs  # one measurement stays inside one epoch
    if a.n_train < need:
        log(f"bench: --n-train {a.n_train} is fewer than the {need} images the timed steps need in one epoch: using {need}")
        a.n_train = need
    out = Path(a.out) if a.out else ROOT/'bench'/'results'/device_slug(device)
    meta = dict(device=device, device_name=torch.cuda.get_device_name(0) if device.startswith('cuda') else cpu_name(),
                cpu=cpu_name(), cpu_cores=os.cpu_count(), torch_threads=torch.get_num_threads(), cpu_has_bf16=cpu_has_bf16(),
                precision=precision, channels_last=not a.no_channels_last, bs=a.bs, n_train=a.n_train,
                n_train_note=None if a.n_train == PATH_N_TRAIN else f"synthetic train set of {a.n_train} images instead of PathMNIST's {PATH_N_TRAIN}: only steps/s matter; seconds per epoch are extrapolated to {PATH_N_TRAIN}",
                repeats=a.repeats, steps={m: getattr(a, f'steps_{m}') for m in MODELS}, warmup={m: getattr(a, f'warmup_{m}') for m in MODELS}, models=models,
                medmnist_workers=a.medmnist_workers, max_foreign=a.max_foreign, command=' '.join(['python bench/bench.py', *(argv if argv is not None else sys.argv[1:])]),
                started=time.strftime('%Y-%m-%dT%H:%M:%S'), loadavg_start=[round(l, 2) for l in os.getloadavg()],
                platform=platform.platform(), versions=versions())
    log(f"pathfast benchmark on {meta['device_name']} ({device}, {precision}, {os.cpu_count()} CPU cores, torch threads {meta['torch_threads']})")
    if meta['n_train_note']: log(f"note: {meta['n_train_note']}")
    results = dict(meta=meta, throughput=[], errors=[])
    t_all = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix='pathfast-bench-'))
    try:
        if not a.skip_throughput:
            log(f"\n== throughput: bs {a.bs}, {precision}; {a.repeats} rounds, each contender in turn: "
                + ' / '.join(f"{getattr(a, f'warmup_{m}')} ({m})" for m in models) + " warm-up steps, then "
                + ' / '.join(str(getattr(a, f'steps_{m}')) for m in models) + " timed steps")
            write_inputs(tmp, a.n_train, a.bs, 'fastai' in contenders, 'medmnist' in contenders)
            spec = dict(device=device, precision=precision, channels_last=not a.no_channels_last, bs=a.bs, n_train=a.n_train,
                        png_root=str(tmp/'png'), npz_root=str(tmp), medmnist_workers=a.medmnist_workers)
            results['throughput'] = throughput(a, contenders, models, augments, spec, compile_models, tmp, results['errors'])
            results['efficiency'] = efficiency(results['throughput'])
        if not a.skip_ttg: results['time_to_target'] = time_to_target(a, device, tmp, results['errors'])
        results['precision_compare'] = precision_compare(a, device, tmp, results['errors'])
        results['small_convs_compare'] = small_convs_compare(a, device, tmp, results['errors'])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    meta['total_s'] = round(time.perf_counter() - t_all, 1)
    meta['loadavg_end'] = [round(l, 2) for l in os.getloadavg()]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix('.json').write_text(json.dumps(results, indent=1) + '\n')
    md = markdown(results)
    out.with_suffix('.md').write_text(md)
    log('\n' + md)
    log(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')} ({meta['total_s']:.0f} s in all)")

def efficiency(rows)->list:
    "Per model and augmentation: pathfast's img/s divided by each other contender's"
    res = []
    for m in dict.fromkeys(r['model'] for r in rows):
        for aug in dict.fromkeys(r['augment'] for r in rows):
            by = {r['contender']: r['img_s'] for r in rows if r['model'] == m and r['augment'] == aug}
            if 'pathfast' not in by: continue
            res.append(dict(model=m, augment=aug, **{f'pathfast_over_{c}': round(by['pathfast'] / v, 3) for c, v in by.items() if c != 'pathfast'}))
    return res

def time_to_target(a, device, tmp, errors)->dict:
    log(f"\n== time to valid accuracy >= {a.target} on PneumoniaMNIST (28 px, real data from {a.data_dir})")
    if not (Path(a.data_dir)/'pneumoniamnist.npz').exists():
        errors.append(f"time to target skipped: no pneumoniamnist.npz in {a.data_dir} (pass --data-dir)")
        log(f"   skipped: {errors[-1]}"); return {}
    base = dict(device=device, data_dir=str(Path(a.data_dir).resolve()), target=a.target, seed=a.seed, bs=128,
                medmnist_workers=a.medmnist_workers, repeats=a.ttg_repeats, precision=a.precision)
    res = dict(target=a.target)
    for recipe, spec in (('pathfast', dict(base, recipe='pathfast', epochs=[int(e) for e in a.ttg_epochs.split(',')], augment=a.ttg_augment)),
                         ('seeds', dict(base, recipe='seeds', cap=a.ttg_cap))):
        r, err = run_worker(f'ttg_{recipe}', spec, tmp, a)
        if err: errors.append(err); continue
        res[recipe] = r
        log(f"   {recipe}: " + (f"reached {a.target} after {r['seconds_to_target']:.1f} s (epoch {r['epochs_to_target']})" if r['reached']
                               else f"never reached {a.target}; best {r['best_valid_acc']:.4f} at {r['best_at_s']:.1f} s") +
            f"; test acc {r['test_acc']:.4f}")
    if 'pathfast' in res and 'seeds' in res:
        p, s = res['pathfast'], res['seeds']
        tp = p['seconds_to_target'] if p['reached'] else None
        ts = s['seconds_to_target'] if s['reached'] else None
        res['speedup'] = round(ts / tp, 2) if tp and ts else None
        if tp and not ts: res['speedup_note'] = f"the seeds' recipe never reached {a.target} in {a.ttg_cap} epochs ({s['curve'][-1]['seconds']:.1f} s): speed-up > {s['curve'][-1]['seconds'] / tp:.2f}x"
    res['recipes'] = dict(pathfast=f"pathfast.train.train_run: PathCNN, fit_one_cycle(E, 3e-3) for E in {a.ttg_epochs} (the shortest E that reaches the target counts; each E is a separate run), bs 128, pathfast get_dls, augmentation {'on' if a.ttg_augment else 'off'}, speed_cbs (channels-last, {a.precision} precision); stops once valid acc >= target",
                          seeds=f"PathCNN, torch Adam at a fixed 1e-3, no schedule, bs 128, fp32, medmnist.PneumoniaMNIST(as_rgb=True) + ToTensor + Normalize(.5,.5), DataLoader(num_workers={a.medmnist_workers}); at most {a.ttg_cap} epochs")
    return res

def precision_compare(a, device, tmp, errors)->dict:
    from pathfast.train import cpu_has_bf16
    if device == 'cpu' and not cpu_has_bf16():
        why = ("skipped: this CPU has no native bf16 instructions (no AVX512-BF16 or AMX); PyTorch emulates bf16 here, about "
               "15x slower than fp32, so pathfast trains in fp32 on it and there is nothing to compare")
        log(f"\n== fp32 vs bf16 test accuracy: {why}")
        return dict(skipped=why)
    if a.skip_ttg or not (Path(a.data_dir)/'pneumoniamnist.npz').exists(): return dict(skipped='no PneumoniaMNIST run')
    epochs = max(int(e) for e in a.ttg_epochs.split(','))
    log(f"\n== fp32 vs bf16 test accuracy: pathfast recipe, PneumoniaMNIST, {epochs} epochs each")
    spec = dict(recipe='precision', device=device, data_dir=str(Path(a.data_dir).resolve()), epochs=epochs, seed=a.seed,
                augment=a.ttg_augment)
    r, err = run_worker('precision', spec, tmp, a)
    if err: errors.append(err); return dict(skipped=err)
    return r

def small_convs_compare(a, device, tmp, errors)->dict:
    if device != 'cpu': return dict(skipped='only on a CPU (`SmallConv2d` changes nothing on a GPU)')
    if a.skip_ttg or not (Path(a.data_dir)/'pneumoniamnist.npz').exists(): return dict(skipped='no PneumoniaMNIST run')
    log(f"\n== tiny-map convolutions on and off: ResNet-18 from scratch, pathfast recipe, PneumoniaMNIST, {a.small_convs_epochs} epochs each")
    spec = dict(device=device, data_dir=str(Path(a.data_dir).resolve()), epochs=a.small_convs_epochs, seed=a.seed, augment=False)
    r, err = run_worker('small_convs', spec, tmp, a)
    if err: errors.append(err); return dict(skipped=err)
    return r

def markdown(res)->str:
    m = res['meta']
    L = [f"# pathfast benchmark: {m['device_name']} ({m['device']})", '',
         f"{m['started']}; `{m['command']}`; {m['cpu']}, {m['cpu_cores']} cores, torch threads {m['torch_threads']}; precision "
         f"{m['precision']}, channels-last {m['channels_last']}; batch size {m['bs']}; load average at start {m['loadavg_start']}, "
         f"at end {m.get('loadavg_end')}; torch {m['versions']['torch']}, fastai {m['versions']['fastai']}.", '']
    if m['n_train_note']: L += [f"Note: {m['n_train_note']}.", '']
    if res['throughput']:
        ms = list(dict.fromkeys(r['model'] for r in res['throughput']))  # the models measured, in order
        label = {'cnn': 'CNN', 'resnet': 'ResNet-18', 'lite0': 'EfficientNet-Lite0'}
        L += [f"## Training throughput (synthetic PathMNIST-64 shape, {N_CLASSES} classes)", '',
              f"{m['repeats']} rounds; in each, every contender in turn (the order rotating) runs "
              + ' / '.join(f"{m['warmup'][k]} ({label.get(k, k)})" for k in ms) + " untimed warm-up steps, then a window of "
              + ' / '.join(str(m['steps'][k]) for k in ms) + f" timed steps; img/s is the median window, all windows listed. s/epoch = {PATH_N_TRAIN:,} / img/s (steady state; "
              "excludes validation and worker start-up). Host peak = the process's peak RSS; workers = the largest DataLoader worker's "
              "(shared pages count in both).", '',
              '| model | aug | contender | img/s | windows | s/epoch | pathfast × | host peak MiB | workers MiB | GPU peak MiB |',
              '|---|---|---|---:|---|---:|---:|---:|---:|---:|']
        for r in res['throughput']:
            pf = next((q['img_s'] for q in res['throughput'] if q['contender'] == 'pathfast' and q['model'] == r['model'] and q['augment'] == r['augment']), None)
            ratio = f"{pf / r['img_s']:.2f}" if pf and r['contender'] != 'pathfast' else ''
            f = lambda v: '' if v is None else f"{v:.0f}"
            L.append(f"| {model_name(r['model'])} | {'on' if r['augment'] else 'off'} | {r['contender']} | {r['img_s']:.1f} | "
                     f"{', '.join(f'{w:.0f}' for w in r['img_s_windows'])} | {r['sec_per_epoch']:.0f} | {ratio} | {f(r['host_peak_mib'])} | "
                     f"{f(r['workers_peak_mib'])} | {f(r['gpu_peak_mib'])} |")
        if 'lite0' in ms:  # only then, so that a cnn,resnet page renders as it did before lite0
            L += ['', 'Models: ' + '; '.join(f"**{model_name(k)}**: {MODEL_NOTES[k]}" for k in ms if k in MODEL_NOTES) + '.']
        L += ['', 'Contenders: ' + '; '.join(f"**{k}**: {v}" for k, v in CONTENDERS.items()) + '; **pathfast+compile**: pathfast with '
              '`learn.model.compile()` (compilation happens in the first warm-up, which is not timed: `warmup_s` in the JSON; a first '
              'run compiles for about a minute on a 2-core CPU, later ones hit torch\'s on-disk cache).', '']
        n = sum(r.get('retries', 0) for r in res['throughput'])
        L += [f"Windows measured again because other processes took more than {m.get('max_foreign', 0.1):.0%} of the CPUs meanwhile: {n} "
              "(the share they took during each kept window is `foreign_cpu` in the JSON).", '']
        pf = [r for r in res['throughput'] if r['contender'] == 'pathfast']
        if pf:
            r = max(pf, key=lambda r: r['setup_rss_mib'])
            L += [f"Data held once: building pathfast's data (the synthetic uint8 tensors, {r['train_data_mib']:.0f} MiB of training images, "
                  f"and `get_dls` over them) raised the process's RSS by {r['setup_rss_mib']:.0f} MiB; after importing torch and fastai "
                  f"it held {r['host_base_mib']:.0f} MiB.", '']
        if res.get('efficiency'):
            cols = list(dict.fromkeys(k for e in res['efficiency'] for k in e if k.startswith('pathfast_over_')))
            L += ['Pipeline efficiency (pathfast img/s ÷ contender img/s):', '',
                  '| model | aug | ' + ' | '.join(k.replace('pathfast_over_', '÷ ') for k in cols) + ' |', '|---|---|' + '---:|' * len(cols)]
            L += [f"| {model_name(e['model'])} | {'on' if e['augment'] else 'off'} | " + ' | '.join('' if k not in e else f"{e[k]:.2f}" for k in cols) + ' |'
                  for e in res['efficiency']]
            L.append('')
    t = res.get('time_to_target')
    if t:
        L += [f"## Time to a good model: PneumoniaMNIST (real, 28 px), valid accuracy >= {t['target']}", '',
              '| recipe | reached | seconds to target (median; each run) | epochs | best valid acc | test acc | setup s |', '|---|---|---:|---:|---:|---:|---:|']
        for k in ('pathfast', 'seeds'):
            if k not in t: continue
            r = t[k]
            secs = '' if r['seconds_to_target'] is None else f"{r['seconds_to_target']:.1f}"
            if len(r.get('seconds_to_target_tries', [])) > 1: secs += ' (' + ', '.join('-' if v is None else f'{v:.1f}' for v in r['seconds_to_target_tries']) + ')'
            L.append(f"| {k} | {'yes' if r['reached'] else 'no'} | {secs} | {r['epochs_to_target'] or ''} | {r['best_valid_acc']:.4f} | "
                     f"{r['test_acc']:.4f} | {r['setup_s']:.1f} |")
        for r in t.get('pathfast', {}).get('runs', []):
            L.append(f"| pathfast, fit_one_cycle({r['one_cycle_epochs']}) | {'yes' if r['reached'] else 'no'} | "
                     f"{'' if r['seconds_to_target'] is None else format(r['seconds_to_target'], '.1f')} | {r['epochs_to_target'] or ''} | "
                     f"{r['best_valid_acc']:.4f} | {r['test_acc']:.4f} | {r['setup_s']:.1f} |")
        if t.get('speedup'): L += ['', f"pathfast (shortest one-cycle schedule that reaches the target) gets there {t['speedup']:.2f}x as fast as the seeds' recipe."]
        if t.get('speedup_note'): L += ['', t['speedup_note'] + '.']
        L += ['', *(f"- {k}: {v}" for k, v in t.get('recipes', {}).items()), '']
    pc = res.get('precision_compare') or {}
    L += ['## fp32 vs bf16', '']
    if 'skipped' in pc: L += [pc['skipped'][0].upper() + pc['skipped'][1:] + '.', '']
    else:
        L += ['| precision | test acc | test AUC | valid acc | train s |', '|---|---:|---:|---:|---:|']
        L += [f"| {k} | {v['test_acc']:.4f} | {v['test_auc']:.4f} | {v['valid_acc']:.4f} | {v['train_seconds']:.1f} |" for k, v in pc.items() if k in ('fp32', 'bf16')]
        L.append('')
    sc = res.get('small_convs_compare') or {}
    if sc and 'skipped' not in sc:
        L += ['## Tiny-map convolutions (`SmallConv2d`) on and off: same accuracy?', '',
              'ResNet-18 from scratch in pathfast\'s recipe on the real PneumoniaMNIST (28 px: `layer3` sees 2x2 maps, `layer4` 1x1), '
              'same seed, fp32; **dense** is pathfast as it ships, **stock** the same run with every convolution left to oneDNN. '
              'Both compute the same function and differ only in float rounding order, which training can amplify over a run; the '
              'accuracy gap shows how much that matters.', '',
              '| convolutions | test acc | test AUC | valid acc | train s | s/epoch |', '|---|---:|---:|---:|---:|---:|']
        L += [f"| {k} | {v['test_acc']:.4f} | {v['test_auc']:.4f} | {v['valid_acc']:.4f} | {v['train_seconds']:.1f} | {v['seconds_per_epoch']:.1f} |"
              for k, v in sc.items() if k in ('dense', 'stock')]
        if {'dense', 'stock'} <= set(sc):
            d, s = sc['dense'], sc['stock']
            L += ['', f"Test accuracy differs by {abs(d['test_acc'] - s['test_acc'])*100:.2f} points; training was "
                      f"{s['train_seconds'] / d['train_seconds']:.2f}x as fast with the dense route."]
        L.append('')
    if res['errors']: L += ['## Errors', '', *(f"- {e}" for e in res['errors']), '']
    return '\n'.join(L)

if __name__ == '__main__': main()
