"Shared helpers for the command-line tests: the real console script, the real PneumoniaMNIST file, one trained store."
import json, os, shutil, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent/'shared'/'data'
PNEU = SHARED/'pneumoniamnist.npz'
CLI = Path(sys.executable).parent/'pathfast-report'
# small and quick on 2 CPU cores, and the same everywhere it is used, so stores can be compared run by run
FAST = ['--dataset', 'pneumoniamnist', '--size', '28', '--epochs', '1', '--subset', '400', '--bs', '64',
        '--no-pretrained', '--device', 'cpu']

def offline_env(tmp: Path)->dict:
    "The environment for a CLI run: no reachable network, an empty torch hub cache, unbuffered output"
    return dict(os.environ, HTTP_PROXY='http://127.0.0.1:9', HTTPS_PROXY='http://127.0.0.1:9', http_proxy='http://127.0.0.1:9',
                https_proxy='http://127.0.0.1:9', TORCH_HOME=str(tmp/'torch-home'), PATHFAST_CACHE=str(tmp/'cache'), PYTHONUNBUFFERED='1', PYTHONWARNINGS='ignore')

def run_cli(*args, tmp: Path, timeout=600)->subprocess.CompletedProcess:
    "Run the installed `pathfast-report` console script in `tmp`"
    return subprocess.run([str(CLI), *map(str, args)], cwd=tmp, env=offline_env(tmp), capture_output=True, text=True, timeout=timeout)

def runs_of(store: Path)->dict:
    "Every run file of a results store, parsed"
    return {p.stem: json.loads(p.read_text()) for p in sorted((store/'runs').glob('*.json'))}

@pytest.fixture(scope='session')
def trained(tmp_path_factory):
    "One full 4-run experiment on the real PneumoniaMNIST, with spaces and non-ASCII characters in every path"
    tmp = tmp_path_factory.mktemp('e2e')
    data = tmp/'dätä dir'
    data.mkdir()
    shutil.copy(PNEU, data/PNEU.name)
    store, out = tmp/'résults store', tmp/'répört out'/'report.html'
    p = run_cli(*FAST, '--data-dir', data, '--results-dir', store, '--out', out, tmp=tmp)
    return dict(tmp=tmp, data=data, store=store, out=out, proc=p)
