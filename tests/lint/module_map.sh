# The README's module map and the tree must agree (STYLE.md point 30).
set -euo pipefail
cd "${DA_SOURCE_DIR:?}"
listed=$(grep -oE '^\| `(common|agent)/[a-z0-9_]+\.c`' README.md | tr -d '|` ' | sort)
present=$(ls common/*.c agent/*.c | sort)
if [ "$listed" != "$present" ]; then
  echo "README module map and tree differ:"
  diff <(echo "$listed") <(echo "$present") || true
  exit 1
fi
echo "ok - $(echo "$present" | wc -l) modules listed"
