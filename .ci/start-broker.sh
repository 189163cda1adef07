#!/usr/bin/env bash
# Start a noida-db Kafka broker in the background for CI jobs that need an external
# bootstrap.servers, and wait until it answers a metadata request.
#   usage: .ci/start-broker.sh [DATA_DIR] [PORT]     (defaults: a fresh temp dir, 19092)
# Prints "BOOTSTRAP_SERVERS=127.0.0.1:PORT" and "BROKER_PID=N" (eval-able); stop the broker
# with `kill $BROKER_PID` (SIGTERM: it saves its data). Runs the binary itself, not the
# noida-db console script, whose child would survive a kill of the wrapper.
set -euo pipefail
data_dir="${1:-$(mktemp -d -t streamnb-ci-broker-XXXXXX)}"
port="${2:-19092}"
python="${PYTHON:-python}"
binary="$("$python" -c 'from streamnb.broker.noida import noida_binary; print(noida_binary())')"
mkdir -p "$data_dir"
setsid "$binary" start --only kafka --host 127.0.0.1 --kafka-port "$port" \
  --data-dir "$data_dir" </dev/null >"$data_dir/streamnb-broker.log" 2>&1 &
pid=$!
if ! "$python" - "$port" "$pid" "$data_dir" <<'PY'
import json, os, sys, time
from streamnb.broker._clients import wait_for_metadata
port, pid, control = sys.argv[1], int(sys.argv[2]), sys.argv[3] + "/noida.control.json"
deadline = time.monotonic() + 15
def alive():
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
while True:  # our server has bound once it names itself in the control file
    try:
        if json.load(open(control)).get("pid") == pid:
            break
    except (OSError, ValueError):
        pass
    if not alive() or time.monotonic() > deadline:
        sys.exit("broker did not start")
    time.sleep(0.01)
try:
    wait_for_metadata(f"127.0.0.1:{port}", deadline, alive=alive)
except TimeoutError as exc:
    sys.exit(f"broker not ready: {exc}")
PY
then
  kill "$pid" 2>/dev/null || true
  grep -v GLIBC_ "$data_dir/streamnb-broker.log" | tail -n 15 >&2
  exit 1
fi
echo "BOOTSTRAP_SERVERS=127.0.0.1:$port"
echo "BROKER_PID=$pid"
