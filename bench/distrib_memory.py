"""Does a data-parallel job hold the images once per node, or once per process?

Writes a synthetic npz whose images exceed `data.CACHE_MIN_BYTES` (so `load_npz` memory-maps them from the unpacked
cache), then, in each of `--procs` processes started by `accelerate launch`, loads it, builds the sharded loaders
`train.train_run` builds, and draws one epoch of training batches from its share, and one pass over its share of the
test split. Each process reports how its own memory (USS) grew from loading and drawing, the cache file's pages
resident in it (private or shared, from /proc/self/smaps), and its resident memory (RSS), the part no other process shares (USS) and its
proportional share (PSS); the main process prints a markdown table. Images held once per node show as a USS far below
the split's size, and the cache file's pages resident in each process as shared, not private.
    python bench/distrib_memory.py [--n 30000] [--size 64] [--procs 2] [--out FILE]
"""
import argparse, json, os, subprocess, sys, tempfile
from pathlib import Path

def worker(npz:Path, out:Path):
    import psutil, torch
    from pathfast import distrib
    from pathfast.data import load_npz, get_dls
    from pathfast.train import _share
    distrib.start('cpu')
    uss0 = psutil.Process().memory_full_info().uss
    data = load_npz(npz)
    dls = get_dls(data, distrib.local_bs(128), augment=False, device='cpu', seed=0)
    dls.loaders[:2] = [distrib.ShardDL(dl) for dl in dls.loaders[:2]]
    n = sum(len(xb) for xb, yb in dls.train) + sum(len(xb) for xb, yb in _share(dls[2]))
    m = psutil.Process().memory_full_info()
    cache = dict(rss=0, private=0, shared=0)  # this process's pages of the cache's image files
    for mp in psutil.Process().memory_maps(grouped=True):
        if mp.path.endswith('.u8'): cache['rss'] += mp.rss; cache['private'] += mp.private_clean + mp.private_dirty; cache['shared'] += mp.shared_clean + mp.shared_dirty
    row = dict(rank=distrib.rank(), images_drawn=n, rss=m.rss, uss=m.uss, pss=m.pss, uss_grew=m.uss - uss0, cache=cache, mapped=bool(data.maps),
               split_bytes={s: x.numel() for s, (x, y) in data.splits.items()})
    rows = [None] * distrib.world()
    torch.distributed.all_gather_object(rows, row)
    if distrib.is_main(): out.write_text(json.dumps(rows))

if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('--n', type=int, default=30000); p.add_argument('--size', type=int, default=64); p.add_argument('--procs', type=int, default=2)
    p.add_argument('--out', default=None); p.add_argument('--worker', nargs=2, default=None)
    a = p.parse_args()
    if a.worker: worker(*map(Path, a.worker)); sys.exit()
    from pathfast.data import write_synthetic
    tmp = Path(tempfile.mkdtemp())
    npz = write_synthetic(tmp/'big.npz', n=(a.n, 512, a.n // 4), size=a.size)
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore', PATHFAST_CACHE=str(tmp/'cache'))
    subprocess.run([str(Path(sys.executable).parent/'accelerate'), 'launch', '--multi_gpu', '--num_machines', '1', '--num_processes', str(a.procs),
                    '--mixed_precision', 'no', '--dynamo_backend', 'no', __file__, '--worker', str(npz), str(tmp/'mem.json')], env=env, check=True, capture_output=True)
    rows = json.loads((tmp/'mem.json').read_text())
    mb = lambda b: f"{b / 2**20:.0f}"
    sb = rows[0]['split_bytes']
    lines = [f"# Memory of a {a.procs}-process data-parallel job on one node", '',
             f"Synthetic {a.size} px colour set, uint8 images: train {mb(sb['train'])} MiB, val {mb(sb['val'])} MiB, test {mb(sb['test'])} MiB "
             f"({mb(sum(sb.values()))} MiB in all); memory-mapped from the unpacked cache: {rows[0]['mapped']}. Each process drew its share "
             f"of one training epoch and of the test split.", '',
             '| rank | images drawn | RSS MiB | USS MiB (its own) | PSS MiB (its share) | USS growth from loading and drawing MiB | cache pages resident MiB | of them private MiB | shared MiB |',
             '|---|---|---|---|---|---|---|---|---|']
    lines += [f"| {r['rank']} | {r['images_drawn']:,} | {mb(r['rss'])} | {mb(r['uss'])} | {mb(r['pss'])} | {mb(r['uss_grew'])} | {mb(r['cache']['rss'])} | "
              f"{mb(r['cache']['private'])} | {mb(r['cache']['shared'])} |" for r in rows]
    lines += ['', f"Sum of PSS: {mb(sum(r['pss'] for r in rows))} MiB; sum of RSS: {mb(sum(r['rss'] for r in rows))} MiB."]
    print('\n'.join(lines))
    if a.out: Path(a.out).write_text('\n'.join(lines) + '\n')
