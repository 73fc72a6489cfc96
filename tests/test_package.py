"The exported package itself: what nbdev's export can get wrong without any notebook test noticing"
import ast, collections
from pathlib import Path
import pathfast

def top_level_names(path:Path)->collections.Counter:
    "How often each function, class or plain assignment at the top of a module binds its name"
    c = collections.Counter()
    for n in ast.parse(path.read_text()).body:
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): c[n.name] += 1
        elif isinstance(n, ast.Assign): c.update(t.id for t in n.targets if isinstance(t, ast.Name))
    return c

def test_no_module_defines_a_name_twice():
    # nbdev writes a notebook's exported cells into one module in order, so a later helper with an earlier one's name replaces it
    # in the module, while the notebook's own tests, run before the second definition, still see the first (experiment's _short,
    # the layer summary, was replaced by a 40-character repr helper of the same name and the reports' model tables read 'ConvLayer(...')
    twice = {f.name: [k for k, v in top_level_names(f).items() if v > 1 and k != '__all__']
             for f in sorted(Path(pathfast.__file__).parent.glob('*.py'))}
    assert not {f: ks for f, ks in twice.items() if ks}, twice

def test_the_check_sees_a_second_definition(tmp_path):
    (tmp_path/'m.py').write_text("def f(): return 1\nX = 2\ndef f(): return 3\nclass C: pass\n")
    assert [k for k, v in top_level_names(tmp_path/'m.py').items() if v > 1] == ['f']

def undefined_names(path:Path)->list:
    "pyflakes' undefined names in a Python file: what a script that no test runs (the benchmarks) can carry unnoticed until it runs"
    from pyflakes.checker import Checker
    from pyflakes.messages import UndefinedName, UndefinedLocal, UndefinedExport
    c = Checker(ast.parse(path.read_text()), filename=str(path))
    return [f"{path.name}:{m.lineno}: {m.message % m.message_args}" for m in c.messages if isinstance(m, (UndefinedName, UndefinedLocal, UndefinedExport))]

def test_no_undefined_names():
    # bench/regularisation.py once stopped with a NameError after its first 90-second run: an edit left `learp` where `p` belonged.
    # The package is left out: the notebooks' tests run its code, and its quoted annotations ('torch.device') name modules it
    # imports only when a function runs, which pyflakes reports as undefined
    root = Path(__file__).parents[1]
    found = [u for d in ('bench', 'tests') for f in sorted((root/d).glob('*.py')) for u in undefined_names(f)]
    assert not found, found

def test_the_check_sees_an_undefined_name(tmp_path):
    (tmp_path/'b.py').write_text("def main():\n    learp, y = 1, 2\n    return p + y\n")
    assert undefined_names(tmp_path/'b.py') == ["b.py:3: undefined name 'p'"]
