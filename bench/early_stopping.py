"""What early stopping would have done to a finished experiment: replayed on its runs' recorded validation histories.

    python bench/early_stopping.py results/pneumoniamnist-28-default [--patience 3 5 10]

For each patience: the epochs early stopping would have trained of those the runs trained, and every run (each seed)
whose tested epoch it would have changed, with the monitored score at both epochs (`pathfast.train.replay_patience`:
the stop `EarlyStop` makes and the epoch `BestCheckpoint` then tests). Reads the store only; trains nothing. The numbers
behind 03_train's "Early stopping off" and bench/results/pneumoniamnist-28-default.md.
"""
import argparse, json, warnings
warnings.filterwarnings('ignore', message='`torch.jit.script` is deprecated')  # raised by a dependency at import
from pathlib import Path
from pathfast.train import replay_patience

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('store', type=Path)
    ap.add_argument('--patience', type=int, nargs='+', default=[3, 5, 10])
    a = ap.parse_args()
    mon = json.loads((a.store/'manifest.json').read_text())['config'].get('monitor') or 'valid_loss'
    runs = {p.stem: json.loads(p.read_text()) for p in sorted((a.store/'runs').glob('*.json'))}
    print(f"{a.store}: {len(runs)} runs, {sum(len(r['history']) for r in runs.values())} epochs, monitor {mon}")
    for pat in a.patience:
        kept, moved = 0, []
        for name, r in runs.items():
            h, tested = r['history'], r.get('best_epoch') or len(r['history'])
            rp = replay_patience(h, pat, mon)
            kept += rp[0] if rp else len(h)
            if rp and rp[1] != tested:
                moved.append(f"  {name}: epoch {rp[1]} instead of {tested} ({mon} {h[rp[1] - 1][mon]:.4f} against {h[tested - 1][mon]:.4f}, "
                             f"validation accuracy {h[rp[1] - 1]['accuracy']:.3f} against {h[tested - 1]['accuracy']:.3f})")
        print(f"patience {pat}: {kept} epochs trained; tested epoch changed in {len(moved)} of {len(runs)} runs")
        if moved: print('\n'.join(moved))

if __name__ == '__main__': main()
