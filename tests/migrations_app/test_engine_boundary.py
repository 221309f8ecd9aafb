"""The engine is plain Python: importing it loads nothing of Django (the workflow layer sits on top)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_engine_imports_no_django():
    probe = (
        "import sys, migrations_app.engine as engine; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'django')); "
        "print(len(engine.__all__))"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    django_modules, exported = done.stdout.splitlines()
    assert django_modules == "[]"
    assert int(exported) > 10
