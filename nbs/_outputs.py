"""Execute notebooks and commit only the outputs that teach.

    python nbs/_outputs.py 01_data 02_models ...    # names in nbs/, without .ipynb; no names: every notebook

Each notebook runs top to bottom in its own shell, as `nbdev_test` runs it (execnb; `#| slow` and `#| notest` cells
skipped). Then a cell keeps its outputs only when a reader of the docs sees the cell (not `#| hide`, not exported) and
each output is small and portable: text of at most 3,000 characters (progress bars removed, as a terminal leaves them),
an image of at most 60 KB and 150 KB of images per notebook, no stderr, no path of this machine. Every other output is cleared, so a notebook stays small and its diff shows what a reader sees.
Run `nbdev_clean` afterwards, as after any notebook edit.
"""
import os, re, sys, tempfile, time
from pathlib import Path
from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell

NBS = Path(__file__).resolve().parent
SKIP = {'slow', 'notest'}
MAX_TEXT, MAX_IMAGE, MAX_IMAGES = 3_000, 60_000, 150_000  # characters; base64 characters per image, and per notebook
LOCAL = [str(NBS.parent), str(Path.home()), tempfile.gettempdir() + '/']

def directives(cell):
    "The names of a cell's `#|` directives"
    return {l[3:].split()[0].strip(':') for l in cell.source.splitlines() if l.startswith('#| ') and len(l) > 3}

def shown(cell):
    "Is this code cell in the rendered docs? (not hidden, not exported: nbdev shows exported code without its output)"
    return not directives(cell) & {'hide', 'export', 'exporti', 'exports', 'default_exp'}

BAR = re.compile(r'\|[█-]+\| *\d')

def as_terminal(text):
    "A stream as a terminal leaves it: of each line, what the last carriage return wrote; progress bars dropped"
    lines = []
    for line in text.split('\n'):
        parts = [p for p in line.split('\r') if p.strip(' █')]
        if parts and not BAR.search(parts[-1]): lines.append(parts[-1].rstrip())
        elif not parts and '\r' not in line: lines.append('')
    return '\n'.join(lines).strip('\n') + '\n'

def text_of(out):
    if out.get('output_type') == 'stream': return ''.join(out.get('text', ''))
    data = out.get('data', {})
    return ''.join(data.get('text/plain', '')) + ''.join(data.get('text/html', ''))

def portable(out):
    "Small, not stderr, no local path"
    if out.get('output_type') == 'error' or out.get('name') == 'stderr': return False
    text = text_of(out)
    if len(text) > MAX_TEXT or any(p in text for p in LOCAL) or re.search(r'/tmp/\w', text): return False
    return all(len(v) <= MAX_IMAGE for k, v in out.get('data', {}).items() if k.startswith('image/'))

def keep(out):
    "Portable, and not empty once progress bars are gone"
    return portable(out) and bool(text_of(out).strip() or any(k.startswith('image/') for k in out.get('data', {})))

def run(name):
    fn = NBS/f'{name}.ipynb'
    nb = read_nb(fn)
    def no_eval(cell): return cell.cell_type != 'code' or bool(directives(cell) & SKIP)
    t0 = time.time()
    os.environ['IN_TEST'] = '1'
    shell = CaptureShell(fn, mpl_format='png')
    cwd = os.getcwd()
    try:
        os.chdir(NBS)
        shell.run_all(nb, exc_stop=True, preproc=no_eval)
    except Exception:
        sys.exit(f'{name}: a cell failed; nothing written\n{shell.prettytb(fname=fn)}')
    finally: os.chdir(cwd)
    kept, images = 0, 0
    for cell in nb.cells:
        if cell.cell_type != 'code': continue
        for o in cell.get('outputs', []):
            if o.get('output_type') == 'stream': o['text'] = as_terminal(''.join(o['text']))
        cell.outputs = [o for o in cell.get('outputs', []) if keep(o)] if shown(cell) else []
        size = sum(len(v) for o in cell.outputs for k, v in o.get('data', {}).items() if k.startswith('image/'))
        if images + size > MAX_IMAGES: cell.outputs = [o for o in cell.outputs if not any(k.startswith('image/') for k in o.get('data', {}))]
        else: images += size
        kept += bool(cell.outputs)
    write_nb(nb, fn)
    print(f'{name}: {kept} cells keep outputs ({time.time() - t0:.0f} s)')

if __name__ == '__main__':
    for name in sys.argv[1:] or sorted(p.stem for p in NBS.glob('[0-9]*.ipynb')): run(name)
