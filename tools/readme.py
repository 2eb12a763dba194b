"""Render README.md from nbs/index.ipynb (Quarto cannot run here), check it, or print a quick-start command."""
import argparse, json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INDEX, README = ROOT/'nbs'/'index.ipynb', ROOT/'README.md'
HEADER = '<!-- Generated from nbs/index.ipynb by tools/readme.py: edit the notebook, not this file. -->\n\n'


def _src(cell):
    s = cell['source']
    return ''.join(s) if isinstance(s, list) else s


def _text_outputs(cell):
    out = []
    for o in cell.get('outputs', []):
        if o.get('output_type') == 'stream': out.append(''.join(o['text']))
        elif 'text/markdown' in o.get('data', {}): out.append(''.join(o['data']['text/markdown']))
        elif 'text/plain' in o.get('data', {}): out.append('```\n' + ''.join(o['data']['text/plain']).rstrip() + '\n```')
    return out


def render(nb_path=INDEX):
    "Markdown of the notebook at `nb_path`: markdown cells as they are, visible code cells fenced."
    nb = json.loads(Path(nb_path).read_text(encoding='utf-8'))
    parts = []
    for cell in nb['cells']:
        src = _src(cell)
        lines = src.splitlines()
        directives = [l for l in lines if l.startswith('#|')]
        if any(re.match(r'#\|\s*(hide|exporti?|include:\s*false)', d) for d in directives): continue
        body = '\n'.join(l for l in lines if not l.startswith('#|')).strip()
        if cell['cell_type'] == 'markdown': parts.append(body)
        elif cell['cell_type'] == 'code':
            if not any(re.match(r'#\|\s*echo:\s*false', d) for d in directives) and body: parts.append(f'```python\n{body}\n```')
            parts.extend(_text_outputs(cell))
    return HEADER + '\n\n'.join(p for p in parts if p) + '\n'


def command(name, text=None):
    "The shell command in the first fenced block after the `<!-- {name}-command -->` marker."
    text = text if text is not None else README.read_text(encoding='utf-8')
    m = re.search(rf'<!--\s*{name}-command\s*-->.*?```[a-z]*\n(.*?)\n```', text, re.S)
    if not m: sys.exit(f'README.md has no <!-- {name}-command --> marker followed by a fenced block')
    return m.group(1).strip()


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--check', action='store_true', help='fail if README.md differs from the rendering of nbs/index.ipynb')
    p.add_argument('--command', choices=['main', 'test'], help='print the quick-start command of that name')
    a = p.parse_args()
    if a.command: print(command(a.command))
    elif a.check:
        if README.read_text(encoding='utf-8') != render():
            sys.exit('README.md is out of date with nbs/index.ipynb: run `python tools/readme.py`')
        print('README.md matches nbs/index.ipynb')
    else:
        README.write_text(render(), encoding='utf-8')
        print(f'wrote {README.relative_to(ROOT)}')
