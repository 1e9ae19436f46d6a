# Sourced by scripts/demo and scripts/test: make .venv with Python >= 3.12 and install careloop (+ test tools).
find_python() {
  for cand in python3.13 python3.12 "$HOME/.pyenv/versions/3.13.0/bin/python3.13" "$HOME/.pyenv/versions/3.12.1/bin/python3.12" python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      command -v "$cand"; return 0
    fi
  done
  # pyenv shims exist for versions that are not selected: look for installed versions directly.
  for cand in /root/.pyenv/versions/3.1[2-9]*/bin/python3; do
    [ -x "$cand" ] && { echo "$cand"; return 0; }
  done
  echo "careloop needs Python >= 3.12 (python3.12 or python3.13)" >&2; return 1
}
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
  rm -rf .venv
  "$(find_python)" -m venv .venv
fi
stamp=.venv/.careloop-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  .venv/bin/python -m pip install -q -e ".[test]" 2>&1 | grep -v -E "^WARNING: Location|^$" || true
  .venv/bin/python -c "import careloop, django" && touch "$stamp"
fi
