"""What does the data-parallel launcher cost? The same experiment as 1 process x T threads and as P processes x T/P threads.

Writes a synthetic MedMNIST-format set (28 px, 9 classes) and runs `pathfast-report` on it with the same settings:
as one process with `--threads` threads, as one process with threads/procs threads, and under `accelerate launch` as `--procs` processes with threads/procs
threads each (gloo on a CPU; on a GPU machine, --device cuda: one GPU per process, NCCL). Training images per second come from the runs' own timings (`train_seconds`, the fit alone); wall seconds
are the whole command (imports, process start, data loading, the report). Prints a markdown table with the load average,
since other processes may share the machine.
    python bench/distrib.py [--n 8192] [--epochs 3] [--bs 128] [--procs 2] [--threads 2] [--repeats 2] [--device cpu] [--out FILE]
"""
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path
from pathfast.data import write_synthetic
from pathfast.core import hardware
import torch

p = argparse.ArgumentParser()
p.add_argument('--n', type=int, default=8192); p.add_argument('--epochs', type=int, default=3); p.add_argument('--bs', type=int, default=128)
p.add_argument('--procs', type=int, default=2); p.add_argument('--threads', type=int, default=2); p.add_argument('--repeats', type=int, default=2)
p.add_argument('--device', default='cpu'); p.add_argument('--models', default='cnn'); p.add_argument('--out', default=None)
a = p.parse_args()
bin_ = Path(sys.executable).parent
tmp = Path(tempfile.mkdtemp())
npz = write_synthetic(tmp/'syn.npz', n=(a.n, 512, 1024), size=28)
args = ['--npz', str(npz), '--epochs', str(a.epochs), '--bs', str(a.bs), '--models', a.models, '--aug', 'off', '--no-pretrained',
        '--device', a.device, '--force']

def run(procs:int, threads:int, i:int)->dict:
    "One experiment with `procs` processes of `threads` threads; its training img/s, wall seconds and the load average before it"
    store = tmp/f'store-{procs}x{threads}-{i}'
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONWARNINGS='ignore', PATHFAST_CACHE=str(tmp/'cache'))
    launch = [str(bin_/'pathfast-report')] if procs == 1 else [
        str(bin_/'accelerate'), 'launch', '--multi_gpu', '--num_machines', '1', '--num_processes', str(procs), '--mixed_precision', 'no',
        '--dynamo_backend', 'no', '-m', 'pathfast']
    load = os.getloadavg()[0]
    t = time.perf_counter()
    subprocess.run([*launch, *args, '--results-dir', str(store), '--out', str(tmp/'r.html')], env=env, check=True, capture_output=True)
    wall = time.perf_counter() - t
    r = next(json.loads(f.read_text()) for f in (store/'runs').glob('*.json'))
    seen = r['epochs'] * (a.n // a.bs) * a.bs  # full batches only (the last partial batch is dropped)
    return dict(procs=procs, threads=threads, ips=seen / r['train_seconds'], wall=wall, load=load, acc=r['metrics']['accuracy'], precision=r['precision'])

shapes = [(1, a.threads), (a.procs, max(1, a.threads // a.procs)), (1, max(1, a.threads // a.procs))]  # the last: one process alone on a thread
rows = [run(procs, threads, i) for i in range(a.repeats) for procs, threads in shapes]
best = {sh: max((r for r in rows if (r['procs'], r['threads']) == sh), key=lambda r: r['ips']) for sh in shapes}
lines = [f"# Data-parallel launcher overhead: {a.procs} processes against 1 ({a.device})", '',
         f"{hardware(torch.device(a.device))}; torch {torch.__version__}; synthetic 28 px, {a.n:,} training images, "
         f"{a.epochs} epochs of the custom CNN at global batch {a.bs}, augmentation off; best of {a.repeats}.", '',
         '| processes x threads | precision | train img/s | wall s (whole command) | test accuracy | load avg (1 min) before |', '|---|---|---|---|---|---|']
lines += [f"| {r['procs']} x {r['threads']} | {r['precision']} | {r['ips']:.0f} | {r['wall']:.1f} | {r['acc']:.3f} | {r['load']:.2f} |" for r in rows]
lines += ['', f"{shapes[1][0]} x {shapes[1][1]} against 1 x {a.threads}: {best[shapes[1]]['ips'] / best[shapes[0]]['ips']:.2f}x the training img/s; "
          f"against 1 x {shapes[2][1]}: {best[shapes[1]]['ips'] / best[shapes[2]]['ips']:.2f}x (best runs)."]
print('\n'.join(lines))
if a.out: Path(a.out).write_text('\n'.join(lines) + '\n')
