#!/usr/bin/env bash
# Every bench once in its --quick mode (tiny sizes, one run): a bench that no longer runs
# fails CI. The figures of a quick run mean nothing; docs/performance.md has the real ones.
# Run from the checkout after scripts/install.sh: bash bench/quick.sh
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
failed=()
for bench in boot_overhead cancel_parallel cloudboot completion fanout fleet inventory kvm_probe \
    list_speed original_forms vhost_query; do
    [[ -f bench/$bench.py ]] || { failed+=("$bench (missing)"); continue; }
    echo "== bench/$bench.py --quick"
    start=$SECONDS
    if ! timeout 300 "$PY" "bench/$bench.py" --quick; then
        failed+=("$bench")
    fi
    echo "== bench/$bench.py --quick: $((SECONDS - start)) s"
done
if ((${#failed[@]})); then
    echo "bench/quick.sh: failed: ${failed[*]}" >&2
    exit 1
fi
echo "bench/quick.sh: every bench ran"
