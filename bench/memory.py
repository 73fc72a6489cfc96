"""Peak memory of the data path on PathMNIST-sized data (issue 16 §1): 89,996 / 10,004 / 7,180 RGB images at 64, 128
and 224 px in MedMNIST's npz format, loaded as `pathfast-report` loads them with the cpu preset (a stratified subset of
2,000 training and validation images) and with --full (every image), then 20 training steps of the PathCNN at bs 128.

    python bench/memory.py --sizes 64 128 224 --out bench/results/memory-pathmnist-sized.md

The files are written by streaming (constant images per class, so they compress well and are quick to write; memory
does not depend on the pixel values) into a temporary folder with the unpacked cache beside them; both are deleted at
the end. Each measurement runs in a fresh process: peak RSS is Linux's VmHWM, reset after the imports, so it counts
what loading and training add. RSS counts the pages of the memory-mapped cache that batches touched (file pages the
kernel can drop under pressure) as well as anonymous memory; both are shown.
"""
import argparse, os, shutil, subprocess, sys, tempfile, textwrap, zipfile
from pathlib import Path
import numpy as np

N = dict(train=89_996, val=10_004, test=7_180)  # PathMNIST's splits

def write_npz(path:Path, size:int, n_classes:int=9, chunk:int=2048):
    "A MedMNIST-format npz written member by member, chunk by chunk (never the whole array in memory)"
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for s, n in N.items():
            y = rng.integers(0, n_classes, n).astype(np.uint8)
            with zf.open(f'{s}_labels.npy', 'w') as f: np.lib.format.write_array(f, y[:, None])
            with zf.open(f'{s}_images.npy', 'w', force_zip64=True) as f:
                np.lib.format.write_array_header_1_0(f, dict(descr='|u1', fortran_order=False, shape=(n, size, size, 3)))
                for i in range(0, n, chunk):
                    f.write(np.broadcast_to((30 + 20 * y[i:i + chunk])[:, None, None, None], (len(y[i:i + chunk]), size, size, 3)).astype(np.uint8).tobytes())

PROBE = textwrap.dedent('''
    import re, sys, time, torch
    from pathfast.data import load_npz, subset, get_dls
    from pathfast.models import PathCNN
    def st(): s = open('/proc/self/status').read(); return {k: int(re.search(k + r':\\s+(\\d+)', s).group(1)) / 2**20 for k in ('VmHWM', 'VmRSS', 'RssAnon', 'RssFile')}
    base = st()['VmRSS']
    open('/proc/self/clear_refs', 'w').write('5')
    t = time.perf_counter()
    data = load_npz(sys.argv[1])
    if sys.argv[2] == 'cpu': data = subset(data, 2000, seed=42)
    dls = get_dls(data, bs=128, augment=True, device='cpu')
    for xb, yb in dls.train: break  # one batch, as training starts
    data_peak = st()['VmHWM'] - base
    model, t_load = PathCNN(9), time.perf_counter() - t
    opt = torch.optim.AdamW(model.parameters())
    for i, (xb, yb) in enumerate(dls.train):
        xb, yb = xb.as_subclass(torch.Tensor), yb.as_subclass(torch.Tensor)
        loss = torch.nn.functional.cross_entropy(model(xb), yb); loss.backward(); opt.step(); opt.zero_grad()
        if i == 19: break
    m = st()
    print(f"{data_peak:.2f} {m['VmHWM'] - base:.2f} {m['RssAnon']:.2f} {m['RssFile']:.2f} {t_load:.1f}")
''')

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--sizes', type=int, nargs='+', default=[64, 128, 224]); p.add_argument('--out'); p.add_argument('--tmp')
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(dir=a.tmp))
    rows = []
    try:
        for size in a.sizes:
            npz = tmp/f'pathmnist-sized-{size}.npz'
            write_npz(npz, size)
            images = sum(N.values()) * size * size * 3 / 2**30
            for preset in ('cpu', 'full'):
                env = dict(os.environ, PATHFAST_CACHE=str(tmp/'cache'), PYTHONWARNINGS='ignore', OMP_NUM_THREADS='2')
                out = subprocess.run([sys.executable, '-c', PROBE, str(npz), preset], capture_output=True, text=True, env=env)
                if out.returncode: print(out.stderr[-2000:]); raise SystemExit(1)
                dpeak, peak, anon, file, secs = map(float, out.stdout.split()[-5:])
                rows.append(f"| {size} px | {images:.1f} GiB | {preset} | {dpeak:.2f} GiB | {peak:.2f} GiB | {anon:.2f} GiB | {file:.2f} GiB | {secs:.0f} s |")
                print(rows[-1], flush=True)
            npz.unlink(); shutil.rmtree(tmp/'cache', ignore_errors=True)
        cpu = f"{os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM, load average {os.getloadavg()[0]:.1f}"
        lines = ['# Peak memory of the data path, PathMNIST-sized synthetic data', '', f'Machine: {cpu}', '',
                 'Load (first run: unpacking into the cache included), the preset\'s subset, loaders, 20 PathCNN training steps at bs 128.', '',
                 '| size | images in file | preset | peak RSS above imports: data path (load, subset, loaders, one batch) | peak RSS above imports: + 20 fp32 training steps | anonymous at end (imports included) | mapped file pages at end | load time |',
                 '|---|---|---|---|---|---|---|---|', *rows]
        print('\n'.join(lines))
        if a.out: Path(a.out).write_text('\n'.join(lines) + '\n')
    finally: shutil.rmtree(tmp, ignore_errors=True)

if __name__ == '__main__': main()
