"Memory follows the images used, not the file (issue 16 §1): peak RSS (Linux VmHWM, reset after the imports) of a subset load, in fresh processes."
import subprocess, sys, textwrap
from pathlib import Path
import pytest
from pathfast.data import write_synthetic

PROBE = textwrap.dedent('''
    import re, sys, torch
    from pathfast.data import load_npz, subset, get_dls
    def kib(key): return int(re.search(key + r':\\s+(\\d+)', open('/proc/self/status').read()).group(1))
    base = kib('VmRSS')
    open('/proc/self/clear_refs', 'w').write('5')  # the peak (VmHWM) restarts here: the imports' own peak does not count
    n = int(sys.argv[2])
    data = load_npz(sys.argv[1])
    if n: data = subset(data, n, splits=('train', 'val', 'test'))
    dls = get_dls(data, bs=32, augment=False, device='cpu')
    for s in data.splits.values(): s[0].float().mean()   # touch every image kept
    print(base, kib('VmHWM'))
''')

def peak(npz:Path, n:int, env:dict)->float:
    "MB of peak RSS above the imports, for loading `npz` and keeping `n` images of each split (0: all)"
    out = subprocess.run([sys.executable, '-c', PROBE, str(npz), str(n)], capture_output=True, text=True, env=env, check=True).stdout
    base, top = map(int, out.split()[-2:])
    return (top - base) / 1024

@pytest.fixture(scope='module')
def mid(tmp_path_factory):
    "A 440 MB (of images) synthetic set in MedMNIST's format: 12,000 RGB images of 64x64 in 3 splits (compressed on disk)"
    tmp = tmp_path_factory.mktemp('mem')
    return tmp, write_synthetic(tmp/'mid.npz', n=(25_000, 5_000, 5_000), size=64, n_classes=9, noise=3.)

def test_subset_memory_follows_the_subset(mid):
    tmp, npz = mid
    import os
    env = dict(os.environ, PATHFAST_CACHE=str(tmp/'cache'), PYTHONWARNINGS='ignore')
    images = 35_000 * 64 * 64 * 3 / 2**20          # 410 MB of images in the file
    small, half = peak(npz, 500, env), peak(npz, 12_000, env)
    print(f"peak RSS above imports: subset 500 {small:.0f} MB, subset 12,000 {half:.0f} MB, file images {images:.0f} MB")
    assert small < 0.25 * images, small             # the old loader held every split whole: > 410 MB
    kept = (12_000 + 5_000 + 5_000 - 1_500) * 64 * 64 * 3 / 2**20
    assert half - small > 0.5 * kept, (small, half)  # grows with what is kept
    assert (tmp/'cache').exists() and any((tmp/'cache').glob('npz-*/meta.json'))  # unpacked once, then mapped
