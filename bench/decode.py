"""Decode-and-cache throughput of an image folder (issue 12): a folder of N 64x64 PNGs in class folders, loaded by
`pathfast.sources.load_folder` twice: the first run decodes every file into the cache, the second maps the cache.

    python bench/decode.py --n 10000 --out bench/results/decode-folder-64.md
    python bench/decode.py --n 10000 --mode grey-rgb      # the same pixels saved as RGB files: stored as grayscale after a check
    python bench/decode.py --n 10000 --mode rgb           # RGB files with colour in them

Prints (and with --out writes) images/s of both runs, the machine and its load. The folder and the cache live in a
temporary directory that is deleted afterwards.
"""
import argparse, os, platform, shutil, tempfile, time
from pathlib import Path
import numpy as np
from PIL import Image
from pathfast.sources import load_folder
from pathfast.train import cpu_has_bf16

MODES = {'gray': 'grayscale', 'grey-rgb': 'RGB files of grey pixels', 'rgb': 'RGB, in colour'}

def make_folder(root:Path, n:int, size:int=64, classes:int=6, seed:int=0, mode:str='gray'):
    "`n` PNGs in `classes` class folders, like Medical MNIST (noise, so PNG compression is realistic): grayscale, or the same pixels as RGB files, grey or tinted (`mode`)"
    rng = np.random.default_rng(seed)
    for c in range(classes): (root/f'class{c}').mkdir(parents=True, exist_ok=True)
    for i in range(n):
        a = (rng.normal(60 + 25 * (i % classes), 30, (size, size))).clip(0, 255).astype(np.uint8)
        if mode != 'gray': a = np.stack([a, a, a if mode == 'grey-rgb' else a // 2], -1)
        Image.fromarray(a).save(root/f'class{i % classes}'/f'{i:06d}.png')

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--n', type=int, default=10_000); p.add_argument('--size', type=int, default=64); p.add_argument('--out')
    p.add_argument('--mode', choices=list(MODES), default='gray')
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp())
    try:
        make_folder(tmp/'imgs', a.n, a.size, mode=a.mode)
        os.environ['PATHFAST_CACHE'] = str(tmp/'cache')
        t = time.perf_counter(); d = load_folder(tmp/'imgs', size=a.size); first = time.perf_counter() - t
        t = time.perf_counter(); d2 = load_folder(tmp/'imgs', size=a.size); second = time.perf_counter() - t
        assert d2.source['cache']['hit'] and not d.source['cache']['hit']
        n = sum(d.n_samples.values())
        cpu = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, bf16 {'yes' if cpu_has_bf16() else 'no'}, load average {os.getloadavg()[0]:.1f}"
        lines = [f"# Decode and cache: {n:,} PNGs of {a.size}x{a.size} ({MODES[a.mode]}) in 6 class folders, stored with {d.source['channels']} channel{'s' if d.source['channels'] > 1 else ''}", '',
                 f"Machine: {cpu}", '', '| run | seconds | images/s |', '|---|---|---|',
                 f"| first (decode into the cache) | {first:.2f} | {n / first:,.0f} |",
                 f"| second (cache hit: memory-mapped) | {second:.2f} | {n / second:,.0f} |", '',
                 f"The first run's decode alone took {d.source['cache']['decode_seconds']:.2f} s; the rest is listing files and the split."]
        print('\n'.join(lines))
        if a.out: Path(a.out).write_text('\n'.join(lines) + '\n')
    finally: shutil.rmtree(tmp, ignore_errors=True)

if __name__ == '__main__': main()
